"""The tsunami forecast application (PyCOMPSs style): alert in, warning products out.

Run it on the task runtime (our ``runcompss``) or directly::

    python -m workflows.runtime workflows.tsunami.forecast --event EVENT.json --output DIR \\
        [--bathymetry FILE] [--scenarios N] [--duration SECONDS]
    python -m workflows.tsunami.forecast --event EVENT.json --output DIR ...

Steps: parse the alert (:mod:`workflows.earthquake.alerts`); load the bathymetry or, without
``--bathymetry``, generate the idealised basin (below); pick coastal forecast points; sample
the scenario ensemble (:mod:`workflows.tsunami.ensemble`); run one task per scenario (GPU
constrained where GPUs are declared; the Tsunami-HySEA binary when ``--hysea`` or
``TSUNAMI_HYSEA_BINARY`` names one); fold each result into the forecast as it arrives
(commutative ``accumulate`` task, which rewrites the preliminary products); write the final
products (:mod:`workflows.tsunami.products`) and print where they are.

Idealised basin (no ``--bathymetry``; :func:`workflows.tsunami.grids.idealised_basin`),
placed around the epicentre: 3.0 x 2.5 degrees centred on it, cells of 1 arc-minute; a
3000 m abyssal plain around the epicentre; 0.5 degrees (about 44 km) to the east, a
coastline running north-south (meandering by +-0.06 degrees), fronted by a 5 km beach, a
15 km wide shelf 100 m deep and a 30 km continental slope; land rising at 1 % east of it.
Defaults (12
scenarios, 1800 s) keep the whole run well under a minute on 2 cores once numba's cache is
warm (first run: plus about 20-40 s of compilation).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from pathlib import Path
from typing import Any

__all__ = ["main", "prepare_inputs", "run_ensemble", "run_forecast"]

log = logging.getLogger(__name__)

DEFAULT_SCENARIOS = 12
DEFAULT_DURATION_S = 1800.0
BASIN_RESOLUTION_DEG = 1.0 / 60.0


def _say(message: str) -> None:
    # Progress lines for the operator (this is the application's own console output).
    sys.stdout.write(f"[tsunami] {message}\n")
    sys.stdout.flush()


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="workflows.tsunami.forecast",
        description="Ensemble tsunami forecast from an earthquake alert: warning levels per "
        "coastal segment, exceedance probabilities, map, tables (units: m, s, degrees).",
    )
    p.add_argument("--event", required=True, help="alert file: USGS GeoJSON, EMSC JSON, "
                   "QuakeML XML or UCIS4EQ JSON")  # fmt: skip
    p.add_argument("--output", required=True, help="directory for the products")
    p.add_argument("--bathymetry", default=None, help="NetCDF/GMT/ESRI ASCII grid (m, "
                   "positive up), or a stage-in directory holding one (an empty one: "
                   "generated); default: the idealised basin around the epicentre")  # fmt: skip
    p.add_argument("--pois", default=None, help="forecast points file (lon lat per line); "
                   "default: points along the coastline, 20 m deep")  # fmt: skip
    p.add_argument("--scenarios", type=int, default=DEFAULT_SCENARIOS)
    p.add_argument("--duration", type=float, default=DEFAULT_DURATION_S, help="seconds")
    p.add_argument("--seed", type=int, default=0, help="seed of the scenario sampling")
    p.add_argument(
        "--gpu",
        choices=("auto", "yes", "no"),
        default="auto",
        help="GPU-constrained tasks: auto = when GPUs are declared and usable",
    )
    p.add_argument("--hysea", default=os.environ.get("TSUNAMI_HYSEA_BINARY") or None,
                   help="Tsunami-HySEA binary to run the scenarios with (default "
                   "$TSUNAMI_HYSEA_BINARY; unset = the built-in solver)")  # fmt: skip
    return p


def _declared_gpus() -> list[str]:
    for var in ("TOSCA_RUNTIME_GPUS", "COMPSS_BINDED_GPUS", "CUDA_VISIBLE_DEVICES"):
        value = os.environ.get(var, "").strip()
        if value and value not in ("-1", "NoDevFiles"):
            return [v for v in value.split(",") if v.strip()]
    return []


def _use_gpu(choice: str) -> bool:
    if choice == "no":
        return False
    from .solver import gpu_available

    usable = bool(_declared_gpus()) and gpu_available()
    if choice == "yes" and not usable:
        _say("GPU requested but none is declared/usable: running on CPU")
    return usable


def _warm_up() -> None:
    """Compile (or load from numba's cache) the serial CPU kernels once, in this process,
    before the workers start: they then load the cache instead of compiling in parallel."""
    import numpy as np

    from .solver import simulate

    z = np.full((3, 4), -100.0)
    simulate(z, [0.0, 0.01, 0.02, 0.03], [0.0, 0.01, 0.02], 1.0, threads=1, max_steps=1)


def run_forecast(args: argparse.Namespace) -> dict:
    """The application body (also callable without the launcher); returns the summary."""
    from ..earthquake.alerts import load_alert
    from .ensemble import build_scenarios

    started = time.perf_counter()
    if args.scenarios < 1 or args.duration <= 0:
        raise ValueError("--scenarios must be >= 1 and --duration > 0")
    event = load_alert(args.event)
    _say(f"alert {event.event_id} ({event.source_format}): M{event.magnitude:.1f} at "
         f"{event.lat:.3f}N {event.lon:.3f}E, {event.depth_km:.0f} km, {event.place}")  # fmt: skip
    out = Path(args.output).resolve()
    bathy, bathy_path, pois = prepare_inputs(event, out, args.bathymetry, args.pois)
    scenarios = build_scenarios(event, args.scenarios, seed=args.seed)
    return run_ensemble(event, scenarios, bathy, bathy_path, pois, out, args.duration,
                        gpu=args.gpu, hysea=args.hysea, started=started)  # fmt: skip


def staged_grid(folder: Path) -> str | None:
    """The grid file a stage-in put into ``folder`` (its one file besides the checksums), or
    None when it staged nothing (the ``generated`` bathymetry: the idealised basin)."""
    files = sorted(
        p for p in folder.iterdir()
        if p.is_file() and p.name != "SHA256SUMS" and not p.name.startswith(".")
    )  # fmt: skip
    if len(files) > 1:
        names = ", ".join(p.name for p in files)
        raise ValueError(f"--bathymetry {folder}: several grid files ({names}); name one")
    return str(files[0]) if files else None


def prepare_inputs(
    event: Any, out: Path, bathymetry: str | None = None, pois_file: str | None = None
) -> tuple[Any, str, tuple[Any, Any, list[str]]]:
    """(bathymetry, its NetCDF path under ``out/inputs``, forecast points): the grid read from
    ``bathymetry`` or, without it, the idealised basin around the epicentre; the points from
    ``pois_file`` or along the coastline."""
    import numpy as np

    from .grids import idealised_basin, read_bathymetry, read_pois, write_bathymetry
    from .products import coastal_points

    inputs = out / "inputs"
    inputs.mkdir(parents=True, exist_ok=True)
    if bathymetry and Path(bathymetry).is_dir():
        bathymetry = staged_grid(Path(bathymetry))
    if bathymetry:
        bathy = read_bathymetry(bathymetry)
        _say(f"bathymetry {bathymetry}: {bathy.shape[1]} x {bathy.shape[0]} cells")
    else:
        bathy = idealised_basin(
            lon_min=event.lon - 1.5, lon_max=event.lon + 1.5, lat_min=event.lat - 1.25,
            lat_max=event.lat + 1.25, resolution_deg=BASIN_RESOLUTION_DEG,
            coast_lon=event.lon + 0.5,
        )  # fmt: skip
        _say(f"idealised basin around the epicentre: {bathy.shape[1]} x {bathy.shape[0]} cells")
    bathy_path = str(write_bathymetry(bathy, inputs / "bathymetry.nc"))
    if pois_file:
        plon, plat = read_pois(pois_file)
        segs = [f"S{k // 5 + 1:02d}" for k in range(len(plon))]
    else:
        plon, plat, segs = coastal_points(bathy)
    if len(plon) == 0:
        raise ValueError("no forecast points: the grid has no coastline (pass --pois)")
    return bathy, bathy_path, (np.asarray(plon), np.asarray(plat), list(segs))


def run_ensemble(
    event: Any,
    scenarios: list[Any],
    bathy: Any,
    bathy_path: str,
    pois: tuple[Any, Any, list[str]],
    out: Path,
    duration: float,
    *,
    gpu: str = "auto",
    hysea: str | None = None,
    started: float | None = None,
) -> dict:
    """One task per scenario (GPU-constrained where GPUs are declared and ``gpu`` allows,
    Tsunami-HySEA with ``hysea``), each folded into the forecast as it arrives (preliminary
    products rewritten), then the final products; returns the summary."""
    from workflows.runtime.compat import compss_wait_on

    from .ensemble import ForecastAccumulator
    from .products import THRESHOLDS_M, write_products
    from .tasks import accumulate, collect_hysea, simulate_scenario_cpu, simulate_scenario_gpu

    started = time.perf_counter() if started is None else started
    plon = pois[0]
    _say(f"{len(scenarios)} scenarios, {len(plon)} forecast points in "
         f"{len(set(pois[2]))} coastal segments, {duration:.0f} s each")  # fmt: skip
    if hysea:
        _say(f"running scenarios with Tsunami-HySEA: {hysea}")
        from .hysea import hysea_task, prepare_scenario

        run_binary = hysea_task(hysea, os.environ.get("TSUNAMI_HYSEA_MPIRUN", ""))
        futures = []
        for s in scenarios:
            run = prepare_scenario(s, bathy_path, pois, duration,
                                   out / "hysea" / f"s{s.index:03d}")  # fmt: skip
            futures.append(collect_hysea(run, pois, run_binary(run.parameter_file)))
    else:
        use_gpu = _use_gpu(gpu)
        if not use_gpu:
            _warm_up()
        kind = simulate_scenario_gpu if use_gpu else simulate_scenario_cpu
        _say(f"submitting {len(scenarios)} {'GPU' if use_gpu else 'CPU'} scenario tasks")
        futures = [kind(s, bathy_path, pois, duration) for s in scenarios]
    acc = ForecastAccumulator(len(scenarios), len(plon), THRESHOLDS_M)
    for fut in futures:
        accumulate(acc, fut, str(out), bathy_path, event, pois)
    acc = compss_wait_on(acc)
    if not acc.done:
        raise RuntimeError("every scenario failed: no forecast")
    elapsed = time.perf_counter() - started
    summary = write_products(
        acc, out, bathy, event, pois, final=True,
        extra={"elapsed_s": round(elapsed, 2), "duration_s": duration,
               "scenarios": [s.as_dict() for s in scenarios], "bathymetry": bathy_path},
    )  # fmt: skip
    return summary


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        summary = run_forecast(args)
    except (ValueError, OSError, RuntimeError) as exc:
        sys.stderr.write(f"[tsunami] error: {exc}\n")
        return 2
    counts = ", ".join(f"{v} {k}" for k, v in summary["segments_by_level"].items())
    _say(f"forecast final: {summary['scenarios_done']}/{summary['scenarios_total']} scenarios, "
         f"highest level {summary['highest_level'].upper()} ({counts} segments), "
         f"{summary['elapsed_s']:.1f} s")  # fmt: skip
    _say(f"products in {Path(args.output).resolve()}: " + ", ".join(summary["products"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
