"""The numba.cuda kernels: under the CUDA simulator on a tiny grid (no GPU needed), and on a
real device when one is visible (marked ``gpu``; skipped, not passed, without one).

Documented CPU/GPU tolerance: 1e-9 m on depth, 1e-7 m^2/s on momentum.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[3]

SCRIPT = r"""
import json, sys, numpy as np
from workflows.tsunami.okada import Fault, seafloor_deformation
from workflows.tsunami.solver import SolverConfig, simulate, gpu_available
cfg = SolverConfig(order=int(sys.argv[1]))
lon = np.linspace(15.0, 15.5, 14); lat = np.linspace(38.0, 38.4, 12)
lo, la = np.meshgrid(lon, lat)
z = -2000.0 + 2300.0 * np.clip((lo - 15.3) / 0.2, 0, 1)  # deep sea to a coast
uz = seafloor_deformation([Fault(15.15, 38.2, 10, 20, 10, 0, 30, 90, 3)], lon, lat)
kw = dict(deformation=uz, config=cfg)
a = simulate(z, lon, lat, 1e9, max_steps=12, backend="cpu", threads=1, **kw)
b = simulate(z, lon, lat, 1e9, max_steps=12, backend="gpu", **kw)
# Stopping at snapshot and point-sample times (steps queued past them must change nothing).
dur = 20 * a.time / 12
kw.update(save_interval=dur / 3, pois=([15.2], [38.2]), poi_interval=dur / 5)
c = simulate(z, lon, lat, dur, backend="cpu", threads=1, **kw)
d = simulate(z, lon, lat, dur, backend="gpu", **kw)
print(json.dumps({"available": gpu_available(), "steps": [a.steps, b.steps],
  "dh": float(np.abs(a.h - b.h).max()), "dq": float(np.abs(a.hu - b.hu).max()),
  "dmax": float(np.abs(a.max_height - b.max_height).max()), "moved": float(np.abs(uz).max()),
  "split_steps": [c.steps, d.steps], "split_times": [c.time, d.time],
  "snapshots": [len(c.snapshots), len(d.snapshots)],
  "dsnap": max(float(np.nanmax(np.abs(x - y))) for x, y in zip(c.snapshots, d.snapshots)),
  "dpoi": float(np.abs(np.array(c.poi_eta) - np.array(d.poi_eta)).max())}))
"""


@pytest.mark.slow
@pytest.mark.parametrize("order", [1, 2])
def test_cuda_kernels_match_cpu_under_the_simulator(order):
    env = dict(os.environ, NUMBA_ENABLE_CUDASIM="1", PYTHONPATH=str(ROOT))
    proc = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(order)], env=env, capture_output=True, text=True,
        timeout=300, cwd=ROOT,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["available"] is True
    assert out["steps"] == [12, 12]
    assert out["moved"] > 0.1
    assert out["dh"] < 1e-9
    assert out["dq"] < 1e-7
    assert out["dmax"] < 1e-9
    assert out["split_steps"][0] == out["split_steps"][1] > 12
    assert abs(out["split_times"][0] - out["split_times"][1]) < 1e-9
    assert out["snapshots"][0] == out["snapshots"][1] == 4
    assert out["dsnap"] < 1e-9
    assert out["dpoi"] < 1e-9


@pytest.mark.gpu
@pytest.mark.parametrize("order", [1, 2])
def test_gpu_matches_cpu_on_a_real_device(order):
    """On a real CUDA device (not the simulator): a few hundred steps of a tsunami on the
    idealised basin agree with the CPU within the documented tolerance."""
    from workflows.tsunami.solver import gpu_available

    if os.environ.get("NUMBA_ENABLE_CUDASIM") == "1" or not gpu_available():
        pytest.skip("no CUDA device visible to numba")
    from workflows.tsunami.grids import idealised_basin
    from workflows.tsunami.okada import Fault, seafloor_deformation
    from workflows.tsunami.solver import SolverConfig, simulate

    basin = idealised_basin(resolution_deg=1 / 80)
    uz = seafloor_deformation(
        [Fault(15.9, 37.8, 10.0, 60.0, 30.0, 20.0, 30.0, 90.0, 3.0)], basin.lon, basin.lat
    )
    runs = [
        simulate(
            basin.z,
            basin.lon,
            basin.lat,
            1e9,
            deformation=uz,
            max_steps=300,
            save_interval=250.0,
            backend=backend,
            threads=1,
            config=SolverConfig(order=order),
        )  # fmt: skip
        for backend in ("cpu", "gpu")
    ]
    cpu, gpu = runs
    assert gpu.backend == "gpu"
    assert abs(cpu.time - gpu.time) < 1e-6 * cpu.time
    assert np.abs(uz).max() > 0.5
    assert np.abs(cpu.h - gpu.h).max() < 1e-9
    assert np.abs(cpu.hu - gpu.hu).max() < 1e-7
    assert np.abs(cpu.max_height - gpu.max_height).max() < 1e-9
    times = (cpu.snapshot_times, gpu.snapshot_times, cpu.time, gpu.time)
    assert len(cpu.snapshots) == len(gpu.snapshots) >= 4, times
    for a, b in zip(cpu.snapshots, gpu.snapshots, strict=True):
        assert np.nanmax(np.abs(a - b)) < 1e-9
