"""The forecast application, on the task runtime, with the bundled alert."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
EVENT = ROOT / "examples" / "events" / "messina_m7.json"


def test_forecast_app_on_the_runtime_writes_progressive_then_final_products(tmp_path):
    out = tmp_path / "products"
    env = {k: v for k, v in os.environ.items() if k not in ("TOSCA_RUNTIME_GPUS",)}
    proc = subprocess.run(
        [sys.executable, "-m", "workflows.runtime", "workflows.tsunami.forecast", "--event",
         str(EVENT), "--output", str(out), "--scenarios", "3", "--duration", "600"],
        capture_output=True, text=True, timeout=300, cwd=ROOT, env=env,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("[tsunami]")]
    preliminary = [k for k, ln in enumerate(lines) if "preliminary forecast" in ln]
    final = [k for k, ln in enumerate(lines) if "forecast final" in ln]
    assert len(preliminary) == 3 and len(final) == 1
    assert "preliminary forecast 1/3" in lines[preliminary[0]]
    assert max(preliminary) < final[0]  # refined after the first forecast
    assert lines[-1].startswith("[tsunami] products in ")
    summary = json.loads((out / "summary.json").read_text())
    assert summary["status"] == "final" and summary["scenarios_done"] == 3
    assert summary["backends"] == {"cpu": 3}
    for name in summary["products"]:
        assert (out / name).stat().st_size > 0, name
    assert summary["event"]["event_id"] == "us7000messina"
    assert summary["segments"] and all(s["level"] in ("information", "advisory", "watch")
                                       for s in summary["segments"])  # fmt: skip


def test_forecast_reports_bad_alert_without_traceback(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text('{"type": "Feature", "properties": {}}')
    proc = subprocess.run(
        [sys.executable, "-m", "workflows.tsunami.forecast", "--event", str(bad), "--output",
         str(tmp_path / "o")], capture_output=True, text=True, timeout=120, cwd=ROOT,
    )  # fmt: skip
    assert proc.returncode == 2
    assert "error" in proc.stderr and "Traceback" not in proc.stderr


def test_gpu_constrained_tasks_only_where_gpus_are_declared_and_usable(monkeypatch):
    from workflows.tsunami import forecast, solver

    for var in ("TOSCA_RUNTIME_GPUS", "COMPSS_BINDED_GPUS", "CUDA_VISIBLE_DEVICES"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setattr(solver, "gpu_available", lambda: True)
    assert forecast._use_gpu("auto") is False  # usable, but no GPU declared to the runtime
    monkeypatch.setenv("TOSCA_RUNTIME_GPUS", "0,1")
    assert forecast._declared_gpus() == ["0", "1"]
    assert forecast._use_gpu("auto") is True
    assert forecast._use_gpu("no") is False
    monkeypatch.setattr(solver, "gpu_available", lambda: False)
    assert forecast._use_gpu("yes") is False  # declared but numba.cuda sees none: CPU tasks
    monkeypatch.setenv("TOSCA_RUNTIME_GPUS", "")
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "-1")
    assert forecast._declared_gpus() == []


def test_a_stage_in_folder_names_its_grid_or_the_generated_basin(tmp_path):
    import pytest

    from workflows.tsunami.forecast import staged_grid

    folder = tmp_path / "bathymetry"
    folder.mkdir()
    (folder / "SHA256SUMS").write_text("")
    assert staged_grid(folder) is None  # "generated": nothing staged
    (folder / "messina.nc").write_bytes(b"x")
    (folder / ".messina.nc.part").write_bytes(b"x")  # a transfer's temporary file
    assert staged_grid(folder) == str(folder / "messina.nc")
    (folder / "other.asc").write_text("x")
    with pytest.raises(ValueError, match="several grid files"):
        staged_grid(folder)
