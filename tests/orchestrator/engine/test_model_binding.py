"""ModelBinding: late evaluation against run state, hosts, job timeouts, cancel steps."""

from __future__ import annotations

from orchestrator.engine import RunState
from orchestrator.engine.model_binding import ModelBinding
from orchestrator.plan.model import Step
from orchestrator.tosca import load

TEMPLATE = """\
tosca_definitions_version: tosca_simple_yaml_1_3
imports: [eflows4hpc]
topology_template:
  inputs:
    site_password: {type: string, default: "s3cret-password"}
    scenarios: {type: integer, default: 1}
  node_templates:
    remote_site:
      type: eflows4hpc.nodes.Environment
      properties:
        scheduler: slurm
        login_host: hpc.example.org
        user: alice
        ssh_port: 2222
        ssh_key: "file:/keys/id_ed25519"
    local_site:
      type: eflows4hpc.nodes.Environment
    job:
      type: eflows4hpc.nodes.PyCOMPSsJob
      properties:
        application:
          command: app.py
          arguments:
            - {get_attribute: [remote_site, work_dir]}
            - {get_input: scenarios}
      requirements:
        - environment: remote_site
  outputs:
    work:
      value: {get_attribute: [remote_site, work_dir]}
    job:
      value: {get_attribute: [job, job_id]}
  policies:
    - urgent:
        type: eflows4hpc.policies.Urgency
        targets: [job]
        properties: {level: urgent, max_wall_time: 30 m}
"""


def _binding(tmp_path) -> ModelBinding:
    path = tmp_path / "t.yaml"
    path.write_text(TEMPLATE)
    return ModelBinding(load(path), workspace=tmp_path / "ws")


def test_hosts_follow_the_environment(tmp_path):
    b = _binding(tmp_path)
    remote = b.host(Step("remote_site.Standard.configure", "call_operation", node="remote_site"))
    assert (remote.connection, remote.address, remote.port, remote.user) == (
        "ssh",
        "hpc.example.org",
        2222,
        "alice",
    )
    assert remote.private_key_file == "/keys/id_ed25519"
    assert remote.known_hosts_file == str(tmp_path / "ws" / "ssh" / "known_hosts")
    assert b.host(Step("job.Runnable.submit", "call_operation", node="job")).address == (
        "hpc.example.org"
    )
    assert b.host(Step("x", "call_operation", node="local_site")).connection == "local"


def test_inputs_see_run_state_and_workflow_inputs(tmp_path):
    b = _binding(tmp_path)
    from orchestrator.tosca.functions import parse

    step = Step(
        "job.Runnable.submit",
        "call_operation",
        node="job",
        inputs=parse(
            {
                "dir": {"get_attribute": ["remote_site", "work_dir"]},
                "n": {"get_input": "scenarios"},
                "prev": {"get_operation_output": ["SELF", "Runnable", "submit", "TOSCA_JOB_ID"]},
            }
        ),
    )
    state = RunState(
        attributes={"remote_site": {"work_dir": "/scratch/w"}},
        operation_outputs={("job", "Runnable", "submit"): {"TOSCA_JOB_ID": "77"}},
        workflow_inputs={"scenarios": 4},
    )
    assert b.evaluate_inputs(step, state) == {"dir": "/scratch/w", "n": 4, "prev": "77"}
    context = b.request_context(step, state)
    assert context["urgency"] == "urgent"  # the Urgency policy targets job
    assert (
        ModelBinding(b.model, urgency="emergency").request_context(step, state)["urgency"]
        == "emergency"
    )
    assert context["requirements"]["environment"]["node"] == "remote_site"
    assert context["requirements"]["environment"]["properties"]["login_host"] == ("hpc.example.org")
    # Outputs that cannot be evaluated yet are left out, the others are returned.
    assert b.outputs(state) == {"work": "/scratch/w"}


def test_job_timeout_from_urgency_and_cancel_step_and_secret_inputs(tmp_path):
    b = _binding(tmp_path)
    run = Step("job.Runnable.run", "call_operation", node="job", interface="Runnable")
    assert b.job_timeout(run) == 1800.0
    assert b.urgency() == "urgent"
    cancel = b.cancel_step("job")
    assert cancel is not None and cancel.implementation is not None
    assert cancel.implementation.primary.endswith("pycompss:cancel")
    assert b.cancel_step("local_site") is None
    assert b.redactor.text("pw s3cret-password") == "pw ***"
