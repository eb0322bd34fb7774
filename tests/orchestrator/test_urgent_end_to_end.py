"""Urgent workflows end to end through the service: a deployed template whose PyCOMPSsJob runs
on the real local Slurm (in-process trigger -> job id; an emergency execution preempting a
node full of batch jobs) and on a ``scheduler: local`` site (task-runtime events and job
output forwarded into the execution's logs).

One deployment (one Ansible run for the two Environment nodes) serves the whole module.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from orchestrator.jobs import JobStatus
from orchestrator.service import Service
from orchestrator.slurm import JobSpec, SlurmCLI
from tests.support.slurm_jobs import wait_for

TEMPLATE = """\
tosca_definitions_version: tosca_simple_yaml_1_3
description: Urgent end-to-end test topology.
imports:
  - eflows4hpc
topology_template:
  node_templates:
    hpc:
      type: eflows4hpc.nodes.Environment
      properties:
        scheduler: slurm
        login_host: localhost
        work_dir: {site_dir}/hpc
    laptop:
      type: eflows4hpc.nodes.Environment
      properties:
        scheduler: local
        login_host: localhost
        work_dir: {site_dir}/laptop
    job:
      type: eflows4hpc.nodes.PyCOMPSsJob
      properties:
        application:
          command: {sleeper}
        submission_params:
          num_nodes: 1
      requirements:
        - environment: hpc
    local_job:
      type: eflows4hpc.nodes.PyCOMPSsJob
      properties:
        application:
          command: {tasks_app}
          arguments: ["--scenarios", "3"]
      requirements:
        - environment: laptop
  policies:
    - urgent_job:
        type: eflows4hpc.policies.Urgency
        targets: [job]
        properties:
          level: urgent
  workflows:
    exec_job:
      inputs:
        seconds: {{type: string, required: false, default: "0"}}
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
    exec_local:
      steps:
        local_submit:
          target: local_job
          activities:
            - call_operation: Runnable.submit
          on_success: [local_run]
        local_run:
          target: local_job
          activities:
            - call_operation: Runnable.run
"""

SLEEPER = """\
import os, time
time.sleep(float(os.environ.get("seconds", "0")))
print("slept", os.environ.get("seconds"))
"""

# A PyCOMPSs program (unchanged PyCOMPSs imports) for the bundled task runtime.
TASKS_APP = """\
import argparse, time
from pycompss.api.task import task
from pycompss.api.api import compss_wait_on


@task(returns=1)
def simulate(i):
    time.sleep(0.2)
    return i * i


parser = argparse.ArgumentParser()
parser.add_argument("--scenarios", type=int, default=2)
n = parser.parse_args().scenarios
results = [simulate(i) for i in range(n)]
for i, value in enumerate(compss_wait_on(results)):
    print(f"scenario {i} done: {value}", flush=True)
"""


@pytest.fixture(scope="module")
def deployed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    root = tmp_path_factory.mktemp("urgent-e2e")
    (root / "sleeper.py").write_text(SLEEPER)
    (root / "tasks_app.py").write_text(TASKS_APP)
    template = root / "urgent.yaml"
    template.write_text(
        TEMPLATE.format(
            site_dir=root / "sites",
            sleeper=root / "sleeper.py",
            tasks_app=root / "tasks_app.py",
        )
    )
    service = Service(root / "ws")
    outcome = service.deploy(template, deployment_id="e2e")
    assert outcome.ok, outcome.result
    try:
        yield service
    finally:
        service.close()


@pytest.mark.integration
@pytest.mark.slurm
def test_in_process_trigger_returns_the_recorded_job_id(deployed: Service, slurm_jobs) -> None:  # type: ignore[no-untyped-def]
    t0 = time.monotonic()
    run = deployed.start_workflow("exec_job", {"seconds": "1"}, deployment_id="e2e")
    job_id = run.wait_job(timeout=30)
    took = time.monotonic() - t0
    assert job_id is not None and job_id.isdigit()
    slurm_jobs.add(job_id)
    assert took < 5.0, f"trigger -> job id took {took:.2f} s"
    # The id is in the state store already: a resume would never submit again.
    steps = {s["id"]: s for s in deployed.execution(run.execution_id)["steps"]}
    assert steps["submit"]["job_id"] == job_id
    assert SlurmCLI().details([job_id])[job_id].partition == "urgent"  # the Urgency policy
    outcome = run.wait(timeout=120)
    assert outcome.status == "succeeded", outcome.result
    assert outcome.execution_id == run.execution_id
    assert run.jobs == {"submit": job_id}


def test_start_workflow_rejects_bad_input_before_running(deployed: Service) -> None:
    from orchestrator.errors import ToscaError

    with pytest.raises(ToscaError):
        deployed.start_workflow("no_such_workflow", {}, deployment_id="e2e")
    with pytest.raises(ToscaError, match="urgency"):
        deployed.start_workflow("exec_job", {}, deployment_id="e2e", urgency="whenever")


@pytest.mark.integration
@pytest.mark.slurm
def test_emergency_execution_preempts_batch_jobs_and_records_it(
    deployed: Service,
    slurm_jobs,  # type: ignore[no-untyped-def]
    tmp_path: Path,
) -> None:
    cli = SlurmCLI()
    cpus = cli.cluster_info().cpus
    # Each batch job sleeps 15 s on its first run (those the emergency job does not need
    # finish on their own), briefly once requeued.
    body = 'if [ "${SLURM_RESTART_COUNT:-0}" -gt 0 ]; then sleep 1; else sleep 15; fi'
    batch = [slurm_jobs.add(cli.submit(JobSpec(name=f"fill{i}", script=body,
             workdir=str(tmp_path), partition="batch"))) for i in range(cpus)]  # fmt: skip
    assert set(wait_for(cli, batch, {JobStatus.RUNNING}, timeout=30).values()) == {
        JobStatus.RUNNING
    }

    t0 = time.monotonic()
    run = deployed.start_workflow(
        "exec_job", {"seconds": "3"}, deployment_id="e2e", urgency="emergency"
    )
    job_id = run.wait_job(timeout=30)
    assert job_id is not None
    slurm_jobs.add(job_id)
    st = wait_for(cli, [job_id], {JobStatus.RUNNING, JobStatus.COMPLETED}, timeout=15)
    to_running = time.monotonic() - t0
    assert st[job_id] in (JobStatus.RUNNING, JobStatus.COMPLETED)
    assert to_running < 10.0, f"emergency job took {to_running:.1f} s to start"
    assert cli.details([job_id])[job_id].partition == "urgent"
    requeued = [j for j, s in cli.status(batch).items() if s is JobStatus.REQUEUED]
    assert requeued, "no batch job was requeued for the emergency job"

    outcome = run.wait(timeout=120)
    assert outcome.status == "succeeded", outcome.result
    execution = deployed.execution(run.execution_id)
    assert execution["urgency"] == "emergency"
    # What was preempted reached the execution's state: node attribute and a log line.
    job_node = next(n for n in deployed.status("e2e")["nodes"] if n["name"] == "job")
    preempted = job_node["attributes"]["TOSCA_PREEMPTED_JOBS"]
    assert set(requeued) <= set(preempted) <= set(batch)
    lines = [r.content for r in deployed.logs(run.execution_id)]
    assert any("preempted (requeued) jobs" in ln and requeued[0] in ln for ln in lines), lines

    # Nothing lost: every batch job completes after its requeue. Slurm restarts a requeued
    # job once its old credential has expired (~6 s with the test cluster's cred_expire=5);
    # restarting it earlier by hand races that expiry and can fail the job.
    final = wait_for(cli, batch, {JobStatus.COMPLETED}, timeout=60)
    assert set(final.values()) == {JobStatus.COMPLETED}, final
    assert all(cli.details([j])[j].restarts >= 1 for j in requeued)


def test_workflows_run_shows_job_output_and_task_events_live(deployed: Service) -> None:
    import sys

    proc = subprocess.run(
        [sys.executable, "-m", "orchestrator.cli.main", "workflows", "run", "exec_local",
         "-d", "e2e", "--workspace", str(deployed.workspace)],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    shown = proc.stdout.splitlines()
    # Printed as they came, before the run step's own "ok" line.
    ok_at = next(i for i, ln in enumerate(shown) if "local_run ok" in ln)
    scenario = [
        i for i, ln in enumerate(shown) if "local_run job local-" in ln and "| scenario" in ln
    ]
    events = [i for i, ln in enumerate(shown) if "local_run task simulate#" in ln]
    assert len(scenario) == 3 and scenario[-1] < ok_at, proc.stdout
    assert len([i for i in events if "finished on" in shown[i]]) == 3, proc.stdout
    # ...and recorded in the execution's logs (one record per line).
    execution = deployed.resolve_execution(None, "e2e")
    lines = [r.content for r in deployed.logs(execution.id) if r.step_id == "local_run"]
    assert sum(1 for ln in lines if "| scenario" in ln) == 3
    assert sum(1 for ln in lines if ln.startswith("task simulate#") and "finished" in ln) == 3


def _jobs_named(site: str, name: str, root: Path) -> list[str]:
    if site == "laptop":
        return [d.name for d in (root / "jobs").glob("local-*") if (d / "name").read_text() == name]
    import json

    listed = json.loads(subprocess.run(["squeue", "--json"], capture_output=True, text=True,
                                       timeout=30, check=True).stdout)["jobs"]  # fmt: skip
    return [str(j["job_id"]) for j in listed if j["name"] == name]


@pytest.mark.integration
@pytest.mark.slurm
@pytest.mark.parametrize(
    ("workflow", "step", "node", "site"),
    [("exec_local", "local_submit", "local_job", "laptop"), ("exec_job", "submit", "job", "hpc")],
)
def test_resume_after_submit_before_the_job_id_was_recorded_submits_once(
    deployed: Service,
    slurm_jobs,  # type: ignore[no-untyped-def]
    workflow: str,
    step: str,
    node: str,
    site: str,
) -> None:
    from orchestrator.executors.native import NativeContext, pycompss

    model = deployed.load(deployed.store.get_deployment("e2e").template)
    plan = deployed.plan(model, workflow)
    execution, _created = deployed._record_execution(model, plan, "e2e", {})
    # The interrupted attempt: recorded as running, its job submitted, then the process died
    # before the job id reached the state store.
    number = deployed.store.start_attempt(execution.id, step)
    site_props = dict(model.nodes[site].properties)
    ctx = NativeContext(
        step_id=step, node=node, interface="Runnable", operation="submit",
        context={"node_properties": dict(model.nodes[node].properties),
                 "requirements": {"environment": {"node": site, "properties": site_props}},
                 "execution_id": execution.id, "workspace": str(deployed.workspace),
                 "idempotency_token": f"{execution.id}:{step}:{number}"},
        workdir=deployed.workspace / "executions" / execution.id,
    )  # fmt: skip
    first = pycompss.submit(ctx, {})["TOSCA_JOB_ID"]
    if site == "hpc":
        slurm_jobs.add(first)
    assert deployed.store.steps(execution.id)[0].job_id is None

    outcome = deployed.resume_execution(execution.id)
    assert outcome.status == "succeeded", outcome.result
    steps = {s["id"]: s for s in deployed.execution(execution.id)["steps"]}
    assert steps[step]["job_id"] == first  # the same job, found again
    name = pycompss.job_name(node, execution.id, ctx.context["idempotency_token"])
    assert _jobs_named(site, name, Path(str(site_props.get("work_dir")))) == [first]
    logs = [r.content for r in deployed.logs(execution.id)]
    assert any("not submitting again" in ln for ln in logs), logs
