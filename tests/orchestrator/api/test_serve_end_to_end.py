"""``tosca serve`` as an operator runs it, over a deployment whose job goes to the real local
Slurm: a token from ``tosca tokens create``, a trigger over HTTP whose inputs are hostile
strings (they reach the job's environment as literal text), the server killed while the job
runs and started again (the execution resumes and ends SUCCEEDED, its job submitted once)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.api_server import free_port

TEMPLATE = """\
tosca_definitions_version: tosca_simple_yaml_1_3
metadata:
  template_name: quake
  hpcwaas-workflows: exec_job
imports:
  - eflows4hpc
topology_template:
  node_templates:
    hpc:
      type: eflows4hpc.nodes.Environment
      properties:
        scheduler: slurm
        login_host: localhost
        work_dir: {site_dir}
    job:
      type: eflows4hpc.nodes.PyCOMPSsJob
      properties:
        application:
          command: {echo}
      requirements:
        - environment: hpc
  workflows:
    exec_job:
      inputs:
        seconds: {{type: string, required: false, default: "0"}}
        label: {{type: string, required: false, default: ""}}
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

ECHO = """\
import os, time
time.sleep(float(os.environ.get("seconds", "0")))
print("label=" + repr(os.environ.get("label")), flush=True)
"""

HOSTILE = "'; touch /tmp/pwned-$USER #$(id) `id` && ../../etc/passwd | $HOME \\\" > x"


def _tosca(*args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "orchestrator.cli.main", *args],
                          capture_output=True, text=True, timeout=timeout, check=False)  # fmt: skip


class Server:
    def __init__(self, workspace: Path, log: Path) -> None:
        self.workspace, self.log, self.port = workspace, log, free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(  # noqa: S603
                [sys.executable, "-m", "orchestrator.cli.main", "serve", "--port",
                 str(self.port), "--workspace", str(self.workspace)],
                stdout=out, stderr=subprocess.STDOUT,
            )  # fmt: skip
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{self.url}/health", timeout=2).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            assert self.proc.poll() is None, self.log.read_text()
            assert time.monotonic() < deadline, "tosca serve did not answer"
            time.sleep(0.1)

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=20)


@pytest.fixture()
def served(tmp_path: Path) -> Iterator[tuple[Server, str]]:
    (tmp_path / "echo.py").write_text(ECHO)
    template = tmp_path / "quake.yaml"
    template.write_text(TEMPLATE.format(site_dir=tmp_path / "site", echo=tmp_path / "echo.py"))
    ws = tmp_path / "ws"
    deployed = _tosca("deploy", str(template), "-n", "quake", "--workspace", str(ws))
    assert deployed.returncode == 0, deployed.stdout + deployed.stderr
    created = _tosca("tokens", "create", "--user", "alice", "--workspace", str(ws))
    assert created.returncode == 0, created.stderr
    token = created.stdout.strip()
    assert token.startswith("tosca_") and "not shown again" in created.stderr
    server = Server(ws, tmp_path / "serve.log")
    server.start()
    try:
        yield server, token
    finally:
        server.kill()


@pytest.mark.integration
@pytest.mark.slurm
def test_trigger_over_http_survives_a_server_kill_and_inputs_stay_literal(
    served: tuple[Server, str],
    slurm_jobs,  # type: ignore[no-untyped-def]
) -> None:
    server, token = served
    auth = {"Authorization": f"Bearer {token}"}
    answer = httpx.post(f"{server.url}/workflows/quake@quake@exec_job", params={"wait_job": 30},
                        json={"inputs": {"seconds": "6", "label": HOSTILE}}, headers=auth,
                        timeout=60)  # fmt: skip
    assert answer.status_code == 201, answer.text
    job_id = answer.json()["job_id"]
    assert job_id and job_id.isdigit()
    slurm_jobs.add(job_id)
    location = server.url + answer.headers["location"]

    server.kill()  # mid-execution: the job runs on, nobody monitors it
    server.start()
    deadline = time.monotonic() + 120
    while (body := httpx.get(location, headers=auth, timeout=10).json())["status"] not in (
        "SUCCEEDED", "FAILED", "CANCELLED"):  # fmt: skip
        assert time.monotonic() < deadline, body
        time.sleep(0.3)
    assert body["status"] == "SUCCEEDED", (body, server.log.read_text())
    assert [s["job_id"] for s in body["steps"] if s["id"] == "submit"] == [job_id]
    assert "resuming execution" in server.log.read_text()
    logs = httpx.get(f"{location}/logs", params={"levels": 15}, headers=auth, timeout=10).json()
    shown = "\n".join(line["content"] for line in logs["logs"])
    assert "label=" + repr(HOSTILE) in shown, shown  # the job saw the exact text
    assert not Path(f"/tmp/pwned-{os.environ.get('USER', 'root')}").exists()
