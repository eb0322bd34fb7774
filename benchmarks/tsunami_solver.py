"""Tsunami solver throughput, measured side by side in one run, for each scheme order
(``--orders 2,1``: the second-order default and the first-order scheme).

(a) cell updates per second of the numba CPU solver against the plain NumPy implementation
    of the same scheme (``workflows.tsunami.reference``) on the same grid and state, and the
    memory bandwidth the solver's traffic represents (``BYTES_PER_CELL_UPDATE`` x cell
    updates/s) against a STREAM-like triad (numba, parallel) measured in the same run;
(b) faster-than-real-time factor on the real Messina GEBCO grid (240 x 240, 15 arc-second),
    a 2-hour simulation of an M7 source (needs ``../shared/data/bathymetry/
    messina_gebco2022_15s.nc``; without it the benchmark says so and measures the idealised
    basin instead; ``--minutes`` shortens it);
(c) the GPU path (numba.cuda) when a CUDA device is visible: on the same grid, and on a large
    grid (the idealised basin at ``--gpu-resolution``, 3 arc-seconds by default: 3600 x 3000,
    10.8 M cells, the size of a fine Tsunami-HySEA run), where launch overheads no longer
    dominate. ``--gpu-only`` skips (a) and (b).

Targets: the numba kernel at least 10x the NumPy implementation of the same scheme, and the
Messina 2 h run at least 500x faster than real time on 2 cores, at both orders.

Medians of ``--repeat`` runs. Progress on stderr; the last stdout line is one JSON object
(figures for each order under ``"order_1"`` / ``"order_2"``).
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
from workflows.tsunami.solver import SolverConfig, gpu_available, simulate  # noqa: E402

DATA = ROOT / ".." / "shared" / "data" / "bathymetry" / "messina_gebco2022_15s.nc"
# Memory traffic of one cell update (float64), defined from the fused CPU kernel: per step it
# streams every per-cell array it uses once. Reads: h, hu, hv, b, sigma (sponge), maxh,
# arrival, eta0 (initial surface); writes: h, hu, hv (to the other buffers), maxh, arrival
# (both written on every step). Neighbour rows and face fluxes are re-read from row buffers
# that stay in cache, so they are not counted. 13 x 8 bytes.
BYTES_PER_CELL_UPDATE = 8 * (8 + 5)


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
        print(f"note: {DATA.resolve()} not found: the Messina figures (b) need the real "
              "GEBCO grid of ../shared/data (see ../shared/data/README.md); figures are for "
              "the idealised basin instead", file=sys.stderr)  # fmt: skip
        b = idealised_basin(resolution_deg=1 / 80)
        name = "idealised_basin"
    uz = seafloor_deformation([Fault(15.55, 38.15, 10.0, 40.0, 20.0, 20.0, 40.0, 90.0, 2.0)],
                              b.lon, b.lat)  # fmt: skip
    return b, uz, name


def rate(backend: str, b, uz, steps: int, repeat: int, threads=None, config=None) -> float:
    out = []
    for _ in range(repeat):
        r = simulate(b.z, b.lon, b.lat, 1e9, deformation=uz, max_steps=steps, backend=backend,
                     threads=threads, config=config)  # fmt: skip
        out.append(r.cell_updates_per_second)
    return statistics.median(out)


def gpu_figures(
    b, uz, name: str, resolution_deg: float, repeat: int, minutes: float, config: SolverConfig
) -> dict:
    """(c): GPU cell updates/s on the benchmark grid and on a large idealised basin, and the
    faster-than-real-time factor of (b) on the GPU."""
    from numba import cuda

    name_ = cuda.get_current_device().name
    result = {"gpu_name": name_.decode() if isinstance(name_, bytes) else str(name_)}
    simulate(b.z, b.lon, b.lat, 1e9, deformation=uz, max_steps=2, backend="gpu",
             config=config)  # compile  # fmt: skip
    g = rate("gpu", b, uz, 300, repeat, config=config)
    result["gpu_cell_updates_per_s"] = round(g)
    log(f"gpu on {name} {b.shape}: {g / 1e6:.1f} M cell updates/s")
    if minutes > 0:
        duration = 60.0 * minutes
        t = time.perf_counter()
        simulate(b.z, b.lon, b.lat, duration, deformation=uz, backend="gpu", config=config)
        wall = time.perf_counter() - t
        result["gpu_faster_than_real_time"] = round(duration / wall, 1)
        log(f"gpu: {duration:.0f} s simulated in {wall:.2f} s: {duration / wall:.0f}x real time")
    big = idealised_basin(resolution_deg=resolution_deg)
    big_uz = seafloor_deformation([Fault(15.9, 37.8, 10.0, 60.0, 30.0, 20.0, 30.0, 90.0, 3.0)],
                                  big.lon, big.lat)  # fmt: skip
    g_big = rate("gpu", big, big_uz, 200, repeat, config=config)
    result.update({
        "gpu_large_grid_cells": int(big.z.size),
        "gpu_large_grid_cell_updates_per_s": round(g_big),
        "gpu_large_grid_traffic_gb_per_s": round(g_big * BYTES_PER_CELL_UPDATE / 1e9, 1),
    })  # fmt: skip
    log(f"gpu on idealised basin {big.z.shape} ({big.z.size / 1e6:.1f} M cells): "
        f"{g_big / 1e9:.2f} G cell updates/s")  # fmt: skip
    return result


def cpu_figures(b, uz, name: str, args: argparse.Namespace, config: SolverConfig) -> dict:
    """(a) and (b) for one scheme order."""
    import numba

    tag = f"order {config.order}"
    simulate(b.z, b.lon, b.lat, 1e9, deformation=uz, max_steps=2, config=config)  # compile
    simulate(b.z, b.lon, b.lat, 1e9, deformation=uz, max_steps=2, threads=1, config=config)
    numpy_rate = rate("numpy", b, uz, 20, args.repeat, config=config)
    log(f"{tag}: numpy reference: {numpy_rate / 1e6:.2f} M cell updates/s")
    # Explicit thread counts: the solver's own default (``threads=None``) falls back to one
    # thread when the load average says another process holds a core, which would make this
    # figure depend on whatever ran just before.
    nthreads = numba.get_num_threads()
    numba_rate = rate("cpu", b, uz, 500, args.repeat, threads=nthreads, config=config)
    log(f"{tag}: numba parallel:  {numba_rate / 1e6:.2f} M cell updates/s")
    serial_rate = rate("cpu", b, uz, 500, args.repeat, threads=1, config=config)
    log(f"{tag}: numba 1 thread:  {serial_rate / 1e6:.2f} M cell updates/s")
    best = max(numba_rate, serial_rate)
    result: dict = {
        "numpy_cell_updates_per_s": round(numpy_rate),
        "numba_parallel_cell_updates_per_s": round(numba_rate),
        "numba_serial_cell_updates_per_s": round(serial_rate),
        "ratio_numba_vs_numpy": round(best / numpy_rate, 2),
    }
    if config.order == 1:
        # The traffic model below is the first-order kernel's (one pass per step); the
        # second-order kernel makes two stage passes with a different footprint.
        result["solver_traffic_gb_per_s"] = round(best * BYTES_PER_CELL_UPDATE / 1e9, 2)
        result["bytes_per_cell_update"] = BYTES_PER_CELL_UPDATE
    if args.minutes > 0:
        duration = 60.0 * args.minutes
        walls, steps = [], 0
        for _ in range(args.repeat):
            t = time.perf_counter()
            r = simulate(b.z, b.lon, b.lat, duration, deformation=uz, config=config,
                         threads=nthreads if numba_rate >= serial_rate else 1)  # fmt: skip
            walls.append(time.perf_counter() - t)
            steps = r.steps
        wall = statistics.median(walls)
        result.update({
            "simulated_s": duration, "wall_s": round(wall, 2), "steps": steps,
            "faster_than_real_time": round(duration / wall, 1),
        })  # fmt: skip
        log(f"{tag}: {duration:.0f} s simulated in {wall:.2f} s (median): "
            f"{duration / wall:.0f}x real time")  # fmt: skip
    return result


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--minutes", type=float, default=120.0, help="simulated minutes for (b)")
    ap.add_argument("--orders", default="2,1", help="scheme orders to measure, e.g. 2 or 2,1")
    ap.add_argument("--gpu-resolution", type=float, default=1 / 1200,
                    help="cell size (degrees) of the large GPU grid")  # fmt: skip
    ap.add_argument("--gpu-only", action="store_true", help="only the GPU figures (c)")
    args = ap.parse_args()
    import numba

    try:
        orders = [int(o) for o in args.orders.split(",")]
        configs = [SolverConfig(order=o) for o in orders]
    except ValueError as exc:
        sys.exit(f"--orders: {exc}")
    b, uz, name = grid_and_source()
    out: dict = {"grid": name, "cells": int(b.z.size)}
    if args.gpu_only:
        if not gpu_available():
            sys.exit("no CUDA device visible to numba")
        for config in configs:
            out[f"order_{config.order}"] = gpu_figures(
                b, uz, name, args.gpu_resolution, args.repeat, args.minutes, config
            )
        print(json.dumps(out))
        return
    log(f"grid {name} {b.shape}, numba threads {numba.get_num_threads()}, "
        f"cpus {os.cpu_count()}, load average {os.getloadavg()[0]:.2f}")  # fmt: skip
    bw = triad_gbs()
    log(f"triad {bw:.1f} GB/s")
    out["triad_gb_per_s"] = round(bw, 2)
    for config in configs:
        figures = cpu_figures(b, uz, name, args, config)
        if "solver_traffic_gb_per_s" in figures:
            figures["fraction_of_triad"] = round(figures["solver_traffic_gb_per_s"] / bw, 3)
        if gpu_available():
            figures.update(
                gpu_figures(b, uz, name, args.gpu_resolution, args.repeat, args.minutes, config)
            )
        out[f"order_{config.order}"] = figures
    summary = ", ".join(
        f"order {c.order}: numba/numpy {out[f'order_{c.order}']['ratio_numba_vs_numpy']}x"
        + (
            f", {out[f'order_{c.order}']['faster_than_real_time']}x real time"
            if "faster_than_real_time" in out[f"order_{c.order}"]
            else ""
        )
        for c in configs
    )
    log(f"{name}: {summary}")
    out["load_average_1min"] = round(os.getloadavg()[0], 2)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
