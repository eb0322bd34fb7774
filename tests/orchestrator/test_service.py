"""The service facade in-process, with fake executors: deploy, workflows, secrets, errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from orchestrator.errors import StateError, UsageError
from orchestrator.executors.base import OperationRequest
from orchestrator.executors.fake import FakeExecutor
from orchestrator.service import Service, deployment_name

TEMPLATE = """\
tosca_definitions_version: tosca_simple_yaml_1_3
node_types:
  test.nodes.Thing:
    derived_from: tosca.nodes.Root
    interfaces:
      Standard:
        type: tosca.interfaces.node.lifecycle.Standard
        create:
          implementation: native://orchestrator.executors.fake:create
          inputs:
            token: {get_secret: "env:SERVICE_TEST_TOKEN"}
            password: {get_input: api_password}
        configure:
          implementation: native://orchestrator.executors.fake:configure
          inputs:
            made: {get_attribute: [SELF, made]}
topology_template:
  inputs:
    api_password: {type: string}
  node_templates:
    thing:
      type: test.nodes.Thing
  outputs:
    made:
      value: {get_attribute: [thing, made]}
"""

SECRET = "tok-0123456789-secret"
PASSWORD = "pw-9876543210-secret"


def create(request: OperationRequest) -> dict:
    # An implementation that leaks its secrets into its output must not leak them to state.
    assert request.inputs["token"] == SECRET and request.inputs["password"] == PASSWORD
    return {"made": "yes", "echo": f"token={request.inputs['token']}"}


def configure(request: OperationRequest) -> dict:
    if request.inputs["made"] != "yes":
        raise RuntimeError(f"bad input, password {PASSWORD}")
    return {}


@pytest.fixture
def template(tmp_path) -> Path:
    path = tmp_path / "thing.yaml"
    path.write_text(TEMPLATE)
    return path


@pytest.fixture
def service(tmp_path, monkeypatch):
    monkeypatch.setenv("SERVICE_TEST_TOKEN", SECRET)
    fake = FakeExecutor(
        {
            "native://orchestrator.executors.fake:create": create,
            "native://orchestrator.executors.fake:configure": configure,
        }
    )
    svc = Service(tmp_path / "ws", executors=lambda model: {"native": fake, "ansible": fake})
    svc.fake = fake  # type: ignore[attr-defined]
    yield svc
    svc.close()


def test_deploy_evaluates_inputs_late_and_never_stores_secrets(service, template, tmp_path):
    outcome = service.deploy(template, {"api_password": PASSWORD})
    assert outcome.ok, outcome.result and outcome.result.error
    assert outcome.deployment_id == "thing"
    assert service.outputs() == {"made": "yes"}
    assert service.fake.ran == ["thing.Standard.create", "thing.Standard.configure"]
    status = service.status()
    assert status["inputs"] == {"api_password": "***"}
    assert status["nodes"][0]["attributes"]["echo"] == "token=***"
    service.close()
    blob = b"".join(p.read_bytes() for p in (tmp_path / "ws").glob("state.db*"))
    assert SECRET.encode() not in blob and PASSWORD.encode() not in blob


def test_failure_message_is_redacted(service, template, tmp_path):
    service.fake.handlers["native://orchestrator.executors.fake:create"] = lambda r: {"made": "no"}
    outcome = service.deploy(template, {"api_password": PASSWORD})
    assert outcome.status == "failed"
    [failed] = outcome.result.failed
    assert failed.error == "bad input, password ***"
    assert service.status()["status"] == "failed"


def test_resume_needs_secret_inputs_again(service, template):
    def broken(request):
        raise RuntimeError("site down")

    service.fake.handlers["native://orchestrator.executors.fake:configure"] = broken
    assert service.deploy(template, {"api_password": PASSWORD}).status == "failed"
    with pytest.raises(UsageError, match="api_password"):
        service.deploy(template, resume=True)
    service.fake.handlers["native://orchestrator.executors.fake:configure"] = configure
    outcome = service.deploy(template, {"api_password": PASSWORD}, resume=True)
    assert outcome.ok
    # create succeeded the first time (with the wrong output) and is not re-run.
    assert service.fake.ran.count("thing.Standard.create") == 1


def test_unfinished_execution_blocks_a_new_deploy(service, template):
    service.deploy(template, {"api_password": PASSWORD})
    dep = service.list_deployments()[0]
    service.store.create_execution(dep.id, "install", [])
    with pytest.raises(UsageError, match="--resume"):
        service.deploy(template, {"api_password": PASSWORD})


def test_deployment_lookup_errors(service, template, tmp_path):
    with pytest.raises(StateError, match="no deployment"):
        service.status()
    service.deploy(template, {"api_password": PASSWORD})
    service.deploy(template, {"api_password": PASSWORD}, deployment_id="other")
    with pytest.raises(UsageError, match="several deployments"):
        service.outputs()
    assert service.outputs("other") == {"made": "yes"}
    with pytest.raises(StateError, match="no deployment 'nope'"):
        service.status("nope")


def test_deployment_names(tmp_path):
    (tmp_path / "tsunami").mkdir()
    (tmp_path / "tsunami" / "topology.yaml").write_text("")
    assert deployment_name(tmp_path / "tsunami" / "topology.yaml") == "tsunami"
    assert deployment_name(tmp_path / "tsunami") == "tsunami"
    assert deployment_name(tmp_path / "My Template.yaml") == "My-Template"
