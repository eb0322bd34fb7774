"""The earthquake workflow on the task runtime against the real services process: the same
forecast as the tsunami application for the same alert plus the registry entry, on the
Messina and Ionian alerts; and every injected service failure (500, malformed JSON, a call
slower than its time-out) is one clear line and a prompt exit, never a hang."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.support.seismic_services import Services, running_services

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[3]
EVENTS = ROOT / "examples" / "events"
SMALL = ["--scenarios", "2", "--duration", "300"]


def run_app(module: str, *args: str, timeout: float = 240) -> subprocess.CompletedProcess[str]:
    argv = [sys.executable, "-m", "workflows.runtime", module, *args]
    return subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=timeout,
                          check=False)  # fmt: skip


def workflow(svc: Services, out: Path, event: str, *extra: str):
    return run_app("workflows.earthquake.workflow", "--event", str(EVENTS / event),
                   "--services", svc.url, "--output", str(out), *SMALL, *extra)  # fmt: skip


# The Ionian alert (38.10N 16.90E, off Calabria) lies in both the messina-strait and the
# ionian-sea boxes: the smaller domain is chosen.
@pytest.mark.parametrize(
    "event, domain",
    [("messina_m7.json", "messina-strait"), ("ionian_m65_quakeml.xml", "messina-strait")],
)
def test_same_forecast_as_the_tsunami_app_plus_the_registry(
    tmp_path: Path, event: str, domain: str
) -> None:
    with running_services(tmp_path) as svc:
        done = workflow(svc, tmp_path / "eq", event)
        assert done.returncode == 0, done.stdout + done.stderr
        assert f"domain {domain}" in done.stdout and "products registered" in done.stdout
        direct = run_app("workflows.tsunami.forecast", "--event", str(EVENTS / event),
                         "--output", str(tmp_path / "ts"), *SMALL)  # fmt: skip
        assert direct.returncode == 0, direct.stderr
        for name in ("forecast_points.csv", "coastal_segments.csv"):
            assert (tmp_path / "eq" / name).read_bytes() == (tmp_path / "ts" / name).read_bytes()
        results = svc.get("/results")["results"]
        names = {r["name"] for r in results}
        assert {"forecast.nc", "max_height.png", "forecast_points.csv", "summary.json"} <= names
        import hashlib

        for r in results:
            assert hashlib.sha256(Path(r["path"]).read_bytes()).hexdigest() == r["sha256"]


@pytest.mark.parametrize("step, mode, where", [
    ("register", "malformed", "event registration (POST /events)"),
    ("source", "500", "source definition (POST /events/{id}/source)"),
    ("resources", "500", "resource planning (POST /events/{id}/resources)"),
    ("region", "slow", "region selection (GET /events/{id}/region)"),
])  # fmt: skip
def test_a_failed_or_slow_service_is_one_clear_line(
    tmp_path: Path, step: str, mode: str, where: str
) -> None:
    with running_services(tmp_path) as svc:
        svc.fault(step, mode, delay=30.0)
        started = time.monotonic()
        done = workflow(svc, tmp_path / "eq", "messina_m7.json", "--call-timeout", "1.5")
        elapsed = time.monotonic() - started
        assert done.returncode == 3, done.stdout + done.stderr
        line = [x for x in done.stderr.splitlines() if x.startswith("[earthquake] error")]
        assert len(line) == 1 and where in line[0], done.stderr
        expect = {"malformed": "invalid JSON", "500": "answered 500", "slow": "time"}[mode]
        assert expect in line[0].lower() or expect in line[0], line[0]
        assert elapsed < 25  # the slow call was cut at its time-out, not waited for
        assert not (tmp_path / "eq" / "forecast.nc").exists()


def test_a_failed_registry_leaves_the_products_and_says_so(tmp_path: Path) -> None:
    with running_services(tmp_path) as svc:
        svc.fault("results", "500")
        done = workflow(svc, tmp_path / "eq", "messina_m7.json")
        assert done.returncode == 0, done.stderr
        assert "WARNING: the products are in" in done.stdout and "answered 500" in done.stdout
        assert (tmp_path / "eq" / "forecast.nc").exists()
        assert svc.get("/results")["results"] == []
