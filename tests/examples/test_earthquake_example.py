"""examples/earthquake as a user runs it: `tosca deploy` starts the seismic services, `tosca
workflows run exec_job` runs the service chain and the ensemble and registers the products;
the services killed and the deployment deployed again keep their registry; `tosca undeploy`
stops them."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]
pytestmark = [pytest.mark.integration, pytest.mark.slow]


def tosca(*args: str, timeout: float = 300, env: dict[str, str] | None = None):
    argv = [sys.executable, "-m", "orchestrator.cli.main", *args]
    return subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=timeout,
                          check=False, env=env)  # fmt: skip


def service_node(ws: Path) -> dict:
    status = json.loads(tosca("status", "--workspace", str(ws), "-o", "json").stdout)
    (node,) = [n for n in status[0]["nodes"] if n["name"] == "seismic_services"]
    return node["attributes"]


def test_deploy_run_restart_run_undeploy(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    deployed = tosca("deploy", "examples/earthquake", "--workspace", str(ws))
    assert deployed.returncode == 0, deployed.stdout + deployed.stderr
    first = service_node(ws)
    assert httpx.get(first["url"] + "/health", timeout=5).status_code == 200
    small = ["-i", "scenarios=2", "-i", "duration=300", "--workspace", str(ws)]
    run1 = tosca("workflows", "run", "exec_job", *small)
    assert run1.returncode == 0, run1.stdout[-3000:] + run1.stderr[-3000:]
    logs = tosca("logs", "--workspace", str(ws)).stdout
    assert "[earthquake] domain messina-strait" in logs and "products registered" in logs
    products = ws / "sites" / "local_site" / "results" / "earthquake"
    assert (products / "forecast.nc").stat().st_size > 0
    assert json.loads((products / "earthquake.json").read_text())["domain"] == "messina-strait"

    os.kill(int(first["pid"]), signal.SIGKILL)  # the services die between two runs
    faults = tmp_path / "faults.json"  # the restarted services read injected failures here
    env = {**os.environ, "UCIS4EQ_FAULTS": str(faults)}
    again = tosca("deploy", "examples/earthquake", "--workspace", str(ws), env=env)
    assert again.returncode == 0, again.stdout + again.stderr
    second = service_node(ws)
    assert second["pid"] != first["pid"]
    run2 = tosca("workflows", "run", "exec_job", "-i",
                 "event_file=examples/events/ionian_m65_quakeml.xml", *small)  # fmt: skip
    assert run2.returncode == 0, run2.stdout[-3000:] + run2.stderr[-3000:]
    events = httpx.get(second["url"] + "/events", timeout=5).json()["events"]
    assert [e["event"]["agency"] for e in events] == ["us", "INGV"]  # the registry survived
    results = httpx.get(second["url"] + "/results", timeout=5).json()["results"]
    assert {r["event_id"] for r in results} == {e["id"] for e in events}

    # A failing service: the run fails, and `tosca logs` says which service and why.
    faults.write_text(json.dumps({"source": {"mode": "500"}}))
    failed = tosca("workflows", "run", "exec_job", *small)
    assert failed.returncode != 0
    logs = tosca("logs", "--workspace", str(ws)).stdout
    assert "a service failed: source definition (POST /events/{id}/source)" in logs
    assert "answered 500" in logs

    gone = tosca("undeploy", "--workspace", str(ws))
    assert gone.returncode == 0, gone.stdout + gone.stderr
    with pytest.raises(httpx.HTTPError):
        httpx.get(second["url"] + "/health", timeout=2)
