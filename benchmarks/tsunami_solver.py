"""Tsunami solver throughput, measured side by side in one run.

(a) cell updates per second of the numba CPU solver against the plain NumPy implementation
    of the same scheme (``workflows.tsunami.reference``) on the same grid and state, and the
    memory bandwidth the solver's traffic represents (``BYTES_PER_CELL_UPDATE`` x cell
    updates/s) against a STREAM-like triad (numba, parallel) measured in the same run;
(b) faster-than-real-time factor on the real Messina GEBCO grid (240 x 240, 15 arc-second),
    a 2-hour simulation of an M7 source (skipped without ``../shared/data``; ``--minutes``
    shortens it);
(c) the GPU path (numba.cuda) when a CUDA device is visible: on the same grid, and on a large
    grid (the idealised basin at ``--gpu-resolution``, 3 arc-seconds by default: 3600 x 3000,
    10.8 M cells, the size of a fine Tsunami-HySEA run), where launch overheads no longer
    dominate. ``--gpu-only`` skips (a) and (b).

Medians of ``--repeat`` runs. Progress on stderr; the last stdout line is one JSON object.
Run: ``.venv/bin/python benchmarks/tsunami_solver.py [--repeat 3] [--minutes 120]``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from workflows.tsunami.grids import idealised_basin, read_bathymetry  # noqa: E402
from workflows.tsunami.okada import Fault, seafloor_deformation  # noqa: E402
from workflows.tsunami.solver import gpu_available, simulate  # noqa: E402

DATA = ROOT / ".." / "shared" / "data" / "bathymetry" / "messina_gebco2022_15s.nc"
# Memory traffic of one cell update (float64), defined from the fused CPU kernel: per step it
# streams every per-cell array it uses once. Reads: h, hu, hv, b, sigma (sponge), maxh,
# arrival, eta0 (initial surface); writes: h, hu, hv (to the other buffers), maxh, arrival
# (both written on every step). Neighbour rows and face fluxes are re-read from row buffers
# that stay in cache, so they are not counted. 13 x 8 bytes.
BYTES_PER_CELL_UPDATE = 8 * (8 + 5)
# The strict minimum for any implementation of the scheme: read the state and the bed, write
# the new state (7 x 8 bytes); reported too, as the lower (harder) figure.
BYTES_STATE_ONLY = 8 * (4 + 3)


def log(msg: str) -> None:
    sys.stderr.write(f"[bench] {msg}\n")
    sys.stderr.flush()


def triad_gbs(n: int = 20_000_000, repeat: int = 5) -> float:
    import numba

    @numba.njit(parallel=True, cache=True)
    def triad(a, b, c, s):
        for i in numba.prange(a.shape[0]):
            a[i] = b[i] + s * c[i]

    a, b, c = np.zeros(n), np.ones(n), np.ones(n)
    triad(a, b, c, 3.0)
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        triad(a, b, c, 3.0)
        times.append(time.perf_counter() - t)
    return 3 * 8 * n / statistics.median(times) / 1e9


def grid_and_source():
    if DATA.is_file():
        b = read_bathymetry(DATA)
        name = "messina_gebco2022_15s"
    else:
        print(f"note: {DATA} not found (the real Messina grid of ../shared/data): "
              "figures are for the idealised basin instead")  # fmt: skip
        b = idealised_basin(resolution_deg=1 / 80)
        name = "idealised_basin"
    uz = seafloor_deformation([Fault(15.55, 38.15, 10.0, 40.0, 20.0, 20.0, 40.0, 90.0, 2.0)],
                              b.lon, b.lat)  # fmt: skip
    return b, uz, name


def rate(backend: str, b, uz, steps: int, repeat: int, threads=None) -> float:
    out = []
    for _ in range(repeat):
        r = simulate(b.z, b.lon, b.lat, 1e9, deformation=uz, max_steps=steps, backend=backend,
                     threads=threads)  # fmt: skip
        out.append(r.cell_updates_per_second)
    return statistics.median(out)


def gpu_figures(b, uz, name: str, resolution_deg: float, repeat: int, minutes: float) -> dict:
    """(c): GPU cell updates/s on the benchmark grid and on a large idealised basin, and the
    faster-than-real-time factor of (b) on the GPU."""
    from numba import cuda

    name_ = cuda.get_current_device().name
    result = {"gpu_name": name_.decode() if isinstance(name_, bytes) else str(name_)}
    simulate(b.z, b.lon, b.lat, 1e9, deformation=uz, max_steps=2, backend="gpu")  # compile
    g = rate("gpu", b, uz, 300, repeat)
    result["gpu_cell_updates_per_s"] = round(g)
    log(f"gpu on {name} {b.shape}: {g / 1e6:.1f} M cell updates/s")
    if minutes > 0:
        duration = 60.0 * minutes
        t = time.perf_counter()
        simulate(b.z, b.lon, b.lat, duration, deformation=uz, backend="gpu")
        wall = time.perf_counter() - t
        result["gpu_faster_than_real_time"] = round(duration / wall, 1)
        log(f"gpu: {duration:.0f} s simulated in {wall:.2f} s: {duration / wall:.0f}x real time")
    big = idealised_basin(resolution_deg=resolution_deg)
    big_uz = seafloor_deformation([Fault(15.9, 37.8, 10.0, 60.0, 30.0, 20.0, 30.0, 90.0, 3.0)],
                                  big.lon, big.lat)  # fmt: skip
    g_big = rate("gpu", big, big_uz, 200, repeat)
    result.update({
        "gpu_large_grid_cells": int(big.z.size),
        "gpu_large_grid_cell_updates_per_s": round(g_big),
        "gpu_large_grid_traffic_gb_per_s": round(g_big * BYTES_PER_CELL_UPDATE / 1e9, 1),
    })  # fmt: skip
    log(f"gpu on idealised basin {big.z.shape} ({big.z.size / 1e6:.1f} M cells): "
        f"{g_big / 1e9:.2f} G cell updates/s")  # fmt: skip
    return result


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--minutes", type=float, default=120.0, help="simulated minutes for (b)")
    ap.add_argument("--gpu-resolution", type=float, default=1 / 1200,
                    help="cell size (degrees) of the large GPU grid")  # fmt: skip
    ap.add_argument("--gpu-only", action="store_true", help="only the GPU figures (c)")
    args = ap.parse_args()
    import numba

    b, uz, name = grid_and_source()
    if args.gpu_only:
        if not gpu_available():
            sys.exit("no CUDA device visible to numba")
        out = {"grid": name, "cells": int(b.z.size)}
        out.update(gpu_figures(b, uz, name, args.gpu_resolution, args.repeat, args.minutes))
        print(json.dumps(out))
        return
    log(f"grid {name} {b.shape}, numba threads {numba.get_num_threads()}, "
        f"cpus {os.cpu_count()}, load average {os.getloadavg()[0]:.2f}")  # fmt: skip
    simulate(b.z, b.lon, b.lat, 1e9, deformation=uz, max_steps=2)  # compile / load cache
    simulate(b.z, b.lon, b.lat, 1e9, deformation=uz, max_steps=2, threads=1)
    numpy_rate = rate("numpy", b, uz, 20, args.repeat)
    log(f"numpy reference: {numpy_rate / 1e6:.2f} M cell updates/s")
    # Explicit thread counts: the solver's own default (``threads=None``) falls back to one
    # thread when the load average says another process holds a core, which would make this
    # figure depend on whatever ran just before.
    nthreads = numba.get_num_threads()
    numba_rate = rate("cpu", b, uz, 500, args.repeat, threads=nthreads)
    log(f"numba parallel:  {numba_rate / 1e6:.2f} M cell updates/s")
    serial_rate = rate("cpu", b, uz, 500, args.repeat, threads=1)
    log(f"numba 1 thread:  {serial_rate / 1e6:.2f} M cell updates/s")
    bw = triad_gbs()
    best = max(numba_rate, serial_rate)
    solver_gbs = best * BYTES_PER_CELL_UPDATE / 1e9
    log(f"triad {bw:.1f} GB/s; solver traffic {solver_gbs:.2f} GB/s "
        f"({solver_gbs / bw:.0%} of triad)")  # fmt: skip
    result = {
        "grid": name,
        "cells": int(b.z.size),
        "numpy_cell_updates_per_s": round(numpy_rate),
        "numba_parallel_cell_updates_per_s": round(numba_rate),
        "numba_serial_cell_updates_per_s": round(serial_rate),
        "ratio_numba_vs_numpy": round(best / numpy_rate, 2),
        "triad_gb_per_s": round(bw, 2),
        "solver_traffic_gb_per_s": round(solver_gbs, 2),
        "bytes_per_cell_update": BYTES_PER_CELL_UPDATE,
        "fraction_of_triad": round(solver_gbs / bw, 3),
        "fraction_of_triad_state_only": round(best * BYTES_STATE_ONLY / 1e9 / bw, 3),
    }
    if args.minutes > 0:
        duration = 60.0 * args.minutes
        t = time.perf_counter()
        r = simulate(b.z, b.lon, b.lat, duration, deformation=uz,
                     threads=nthreads if numba_rate >= serial_rate else 1)  # fmt: skip
        wall = time.perf_counter() - t
        result.update({
            "simulated_s": duration, "wall_s": round(wall, 2), "steps": r.steps,
            "faster_than_real_time": round(duration / wall, 1),
        })  # fmt: skip
        log(f"{duration:.0f} s simulated in {wall:.1f} s: {duration / wall:.0f}x real time")
    if gpu_available():
        result.update(gpu_figures(b, uz, name, args.gpu_resolution, args.repeat, args.minutes))
    result["load_average_1min"] = round(os.getloadavg()[0], 2)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
