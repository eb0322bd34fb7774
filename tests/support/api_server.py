"""A REST API served for real (uvicorn on a loopback port) over a deployment whose jobs are
fakes the test controls (``release`` completes them): shared by the API and remote-CLI tests."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import uvicorn

from orchestrator.api.app import RateLimit, create_app
from orchestrator.api.oidc import OidcVerifier
from orchestrator.events.processor import AlertProcessor
from orchestrator.events.rules import RuleSet
from orchestrator.executors.base import OperationRequest
from orchestrator.executors.fake import FakeExecutor
from orchestrator.service import Service

TEMPLATE = """\
tosca_definitions_version: tosca_simple_yaml_1_3
metadata:
  template_name: quake
  hpcwaas-workflows: exec_job, private_job
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
      description: the urgent forecast
      inputs:
        magnitude: {type: float}
        members: {type: integer, default: 4}
        label: {type: string, required: false}
        api_token: {type: string, default: do-not-show-me}
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
    private_job:
      metadata:
        hpcwaas-authorized-users: alice
      steps:
        submit:
          target: job
          activities:
            - call_operation: Runnable.submit
    hidden_job:
      steps:
        submit:
          target: job
          activities:
            - call_operation: Runnable.submit
"""

WF = "quake@d@exec_job"


@dataclass
class Api:
    url: str
    service: Service
    release: threading.Event
    tokens: dict[str, str]
    submitted: list[dict[str, object]]

    def client(self, who: str) -> httpx.Client:
        return httpx.Client(
            base_url=self.url, headers={"Authorization": f"Bearer {self.tokens[who]}"},
            timeout=30)  # fmt: skip


def free_port() -> int:
    """A loopback TCP port free at the time of the call."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def running_api(
    tmp_path: Path,
    oidc: OidcVerifier | None = None,
    rules: RuleSet | None = None,
    template: str = TEMPLATE,
    run_outputs: dict[str, str] | None = None,
) -> Iterator[Api]:
    """The API over a deployment of ``template`` (fake jobs: ``release`` completes them,
    their run step then outputs ``run_outputs``)."""
    release = threading.Event()
    submitted: list[dict[str, object]] = []

    def submit(request: OperationRequest) -> dict[str, str]:
        submitted.append(dict(request.inputs))
        return {"TOSCA_JOB_ID": str(100 + len(submitted))}

    def run(request: OperationRequest) -> dict[str, str]:
        if release.is_set():
            return {"TOSCA_JOB_STATUS": "COMPLETED", **(run_outputs or {})}
        return {"TOSCA_JOB_STATUS": "RUNNING"}

    fake = FakeExecutor(
        {"native://orchestrator.executors.fake:submit": submit,
         "native://orchestrator.executors.fake:run": run}
    )  # fmt: skip
    template_file = tmp_path / "quake.yaml"
    template_file.write_text(template)
    service = Service(tmp_path / "ws", executors=lambda model: {"native": fake})
    assert service.deploy(template_file, deployment_id="d").ok
    tokens = {
        "alice": service.create_token("alice")[1],
        "bob": service.create_token("bob")[1],
        "admin": service.create_token("ops", "admin")[1],
        "agency": service.create_token("ingv-push", "alerts")[1],
    }
    port = free_port()
    events = AlertProcessor(service, rules) if rules is not None else None
    app = create_app(service, rate_limit=RateLimit(5.0, 8), oidc=oidc, events=events)
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1",
                       port=port, log_level="warning")
    )  # fmt: skip
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    try:
        yield Api(f"http://127.0.0.1:{port}", service, release, tokens, submitted)
    finally:
        release.set()
        server.should_exit = True
        thread.join(timeout=20)
        service.close()
