"""The README's main job, run as a user runs it: `make demo` (here scripts/demo.sh)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.integration
@pytest.mark.slow
def test_demo_deploys_and_runs_the_urgent_forecast(tmp_path: Path) -> None:
    workspace = tmp_path / "ws"
    env = {**os.environ, "DEMO_WORKSPACE": str(workspace)}
    started = time.monotonic()
    proc = subprocess.run(
        ["bash", "scripts/demo.sh"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    elapsed = time.monotonic() - started
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "Traceback" not in proc.stdout + proc.stderr
    # Progress is shown step by step, and the end says where the products are.
    assert "forecast_run" in proc.stdout
    match = re.search(r"^Products \(.*\): (\S+)$", proc.stdout, re.MULTILINE)
    assert match, proc.stdout[-2000:]
    products = Path(match.group(1))
    assert products.is_relative_to(workspace)
    summary = json.loads((products / "summary.json").read_text())
    assert summary["status"] == "final"
    assert summary["scenarios_done"] == summary["scenarios_total"] > 0
    assert summary["highest_level"] in ("information", "advisory", "watch")
    for name in ("max_height.png", "forecast.nc", "coastal_segments.geojson"):
        assert (products / name).stat().st_size > 0, name
    # The budget is 2 minutes on 2 cores; the test allows for a busy CI machine.
    assert elapsed < 240, f"demo took {elapsed:.0f} s"
