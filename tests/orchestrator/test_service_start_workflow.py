"""``Service.start_workflow``: the in-process trigger returns at once, ``wait_job`` as soon as a
submit's job id is recorded (the job still running), ``wait`` the outcome; with fakes."""

from __future__ import annotations

import threading
from pathlib import Path

from orchestrator.executors.base import OperationRequest
from orchestrator.executors.fake import FakeExecutor
from orchestrator.service import Service

TEMPLATE = """\
tosca_definitions_version: tosca_simple_yaml_1_3
node_types:
  test.nodes.Job:
    derived_from: tosca.nodes.Root
    interfaces:
      Runnable:
        type: tosca.interfaces.node.lifecycle.Runnable
        submit: native://orchestrator.executors.fake:submit
        run: native://orchestrator.executors.fake:run
topology_template:
  node_templates:
    job:
      type: test.nodes.Job
  workflows:
    exec_job:
      steps:
        submit:
          target: job
          activities:
            - call_operation: Runnable.submit
          on_success: [run]
        run:
          target: job
          activities:
            - call_operation: Runnable.run
"""


def test_wait_job_returns_the_recorded_id_while_the_job_runs(tmp_path: Path) -> None:
    release = threading.Event()

    def run(request: OperationRequest) -> dict[str, str]:
        return {"TOSCA_JOB_STATUS": "COMPLETED" if release.is_set() else "RUNNING"}

    fake = FakeExecutor(
        {"native://orchestrator.executors.fake:submit": lambda r: {"TOSCA_JOB_ID": "77"},
         "native://orchestrator.executors.fake:run": run}
    )  # fmt: skip
    template = tmp_path / "job.yaml"
    template.write_text(TEMPLATE)
    service = Service(tmp_path / "ws", executors=lambda model: {"native": fake})
    try:
        assert service.deploy(template, deployment_id="d").ok
        events: list[str] = []
        handle = service.start_workflow("exec_job", deployment_id="d",
                                        on_event=lambda e: events.append(e.status))  # fmt: skip
        assert service.execution(handle.execution_id)["workflow"] == "exec_job"
        assert handle.wait_job(timeout=10) == "77"
        assert not handle.done  # the job still runs: the caller did not wait for it
        steps = {s["id"]: s for s in service.execution(handle.execution_id)["steps"]}
        assert steps["submit"]["job_id"] == "77" and steps["run"]["status"] in (
            "pending",
            "running",
        )
        release.set()
        outcome = handle.wait(timeout=20)
        assert outcome.status == "succeeded" and handle.jobs == {"submit": "77"}
        assert "job_submitted" in events  # the caller's own callback saw the events too
    finally:
        service.close()


def test_wait_job_is_none_when_the_run_ends_without_a_job(tmp_path: Path) -> None:
    def submit(request: OperationRequest) -> dict[str, str]:
        raise RuntimeError("sbatch: invalid partition")

    fake = FakeExecutor({"native://orchestrator.executors.fake:submit": submit})
    template = tmp_path / "job.yaml"
    template.write_text(TEMPLATE)
    service = Service(tmp_path / "ws", executors=lambda model: {"native": fake})
    try:
        assert service.deploy(template, deployment_id="d").ok
        handle = service.start_workflow("exec_job", deployment_id="d")
        assert handle.wait_job(timeout=10) is None
        assert handle.wait(timeout=10).status == "failed"
    finally:
        service.close()
