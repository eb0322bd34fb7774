"""Command line for single scenarios: ``python -m workflows.tsunami {okada,simulate} ...``.

Both sub-commands are thin wrappers over :func:`workflows.tsunami.okada.seafloor_deformation`
and :func:`workflows.tsunami.solver.simulate`, the functions the workflow tasks call.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

__all__ = ["main"]

FAULT_HELP = (
    "one rectangular fault, Tsunami-HySEA convention: LON,LAT,DEPTH_KM,LENGTH_KM,WIDTH_KM,"
    "STRIKE,DIP,RAKE,SLIP_M = centroid longitude and latitude (degrees), centroid depth (km, "
    "positive down), length along strike and width along dip (km), strike, dip, rake "
    "(degrees; rake 90 = thrust) and slip (m). Repeat for several faults (summed)."
)


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m workflows.tsunami",
        description="Single tsunami scenarios: Okada sea-floor deformation and shallow-water "
        "simulation. Units: metres, seconds, degrees; depths positive down in km for faults, "
        "bathymetry elevations positive up in metres.",
    )
    sub = p.add_subparsers(dest="command", required=True)

    ok = sub.add_parser(
        "okada",
        help="sea-floor deformation of one or more faults on a grid",
        description="Compute the vertical sea-floor displacement (m, positive up) of Okada "
        "(1985) rectangular faults on the grid of a bathymetry file and write it as NetCDF "
        "(lon, lat, z), the deformation format Tsunami-HySEA reads.",
    )
    ok.add_argument("--fault", action="append", required=True, metavar="SPEC", help=FAULT_HELP)
    ok.add_argument(
        "--grid",
        required=True,
        metavar="BATHYMETRY",
        help="grid to evaluate on: NetCDF/GMT (.nc, .grd) or ESRI ASCII (.asc)",
    )
    ok.add_argument("--output", required=True, metavar="DEFORMATION.nc")

    sim = sub.add_parser(
        "simulate",
        help="run the nonlinear shallow-water model for one scenario",
        description="Simulate one tsunami scenario on a lon/lat bathymetry grid and write a "
        "Tsunami-HySEA-style NetCDF (eta snapshots, max_height in m, arrival_times in s, "
        "deformed_bathy in m).",
    )
    sim.add_argument(
        "--bathymetry",
        required=True,
        metavar="FILE",
        help="NetCDF/GMT or ESRI ASCII grid, elevation in m, positive up",
    )
    src = sim.add_mutually_exclusive_group(required=True)
    src.add_argument("--fault", action="append", metavar="SPEC", help=FAULT_HELP)
    src.add_argument(
        "--deformation",
        metavar="FILE",
        help="vertical sea-floor displacement grid (m), same grid as bathymetry",
    )
    sim.add_argument(
        "--duration", type=float, required=True, metavar="SECONDS", help="simulated time in seconds"
    )
    sim.add_argument(
        "--pois",
        metavar="FILE",
        help="points of interest (lon lat per line; HySEA .dat with a count line)",
    )
    sim.add_argument(
        "--output",
        metavar="OUT.nc",
        default="tsunami.nc",
        help="grid output (default tsunami.nc); point series go to OUT_ts.nc",
    )
    sim.add_argument(
        "--save-interval",
        type=float,
        default=None,
        metavar="SECONDS",
        help="seconds between eta snapshots (default: duration / 12)",
    )
    sim.add_argument(
        "--backend",
        choices=("auto", "cpu", "gpu", "numpy"),
        default="auto",
        help="auto = GPU (numba.cuda) when one is visible, else CPU (numba)",
    )
    sim.add_argument(
        "--subsample",
        type=int,
        default=1,
        metavar="N",
        help="use every N-th cell of the bathymetry (quick looks)",
    )
    sim.add_argument("--cfl", type=float, default=0.5)
    sim.add_argument("--manning", type=float, default=0.03, help="Manning n (s m^-1/3)")
    sim.add_argument(
        "--order",
        type=int,
        choices=(1, 2),
        default=2,
        help="2: MUSCL + two-stage Runge-Kutta (default); 1: the first-order scheme",
    )
    sim.add_argument(
        "--limiter-theta",
        type=float,
        default=1.3,
        metavar="THETA",
        help="generalised minmod parameter for order 2, 1 (minmod) to 2 (MC)",
    )
    return p  # fmt: skip


def _okada(args: argparse.Namespace) -> dict:
    import numpy as np

    from .grids import Bathymetry, read_bathymetry, write_bathymetry
    from .okada import Fault, seafloor_deformation

    faults = [Fault.parse(f) for f in args.fault]
    grid = read_bathymetry(args.grid)
    uz = seafloor_deformation(faults, grid.lon, grid.lat)
    out = write_bathymetry(Bathymetry(grid.lon, grid.lat, uz, "deformation"), args.output)
    return {"output": str(out), "max_uplift_m": float(np.max(uz)),
            "max_subsidence_m": float(np.min(uz)), "faults": len(faults)}  # fmt: skip


def _simulate(args: argparse.Namespace) -> dict:
    from .grids import read_bathymetry, read_pois
    from .okada import Fault, seafloor_deformation
    from .output import write_grid_output, write_poi_output
    from .solver import SolverConfig, simulate

    grid = read_bathymetry(args.bathymetry)
    if args.subsample > 1:
        grid = grid.subsample(args.subsample)
    if args.fault:
        uz = seafloor_deformation([Fault.parse(f) for f in args.fault], grid.lon, grid.lat)
    else:
        deformation = read_bathymetry(args.deformation)
        if args.subsample > 1:
            deformation = deformation.subsample(args.subsample)
        if deformation.shape != grid.shape:
            raise ValueError(
                f"{args.deformation}: grid {deformation.shape} differs from the bathymetry "
                f"{grid.shape}"
            )
        uz = deformation.z
    if args.duration <= 0:
        raise ValueError("--duration must be positive (seconds)")
    pois = read_pois(args.pois) if args.pois else None
    config = SolverConfig(
        cfl=args.cfl, manning=args.manning, order=args.order, limiter_theta=args.limiter_theta
    )
    result = simulate(
        grid.z, grid.lon, grid.lat, args.duration, deformation=uz, config=config,
        save_interval=args.save_interval or args.duration / 12.0, pois=pois,
        backend=args.backend,
    )  # fmt: skip
    out = write_grid_output(result, args.output, original=grid.z)
    ts = write_poi_output(result, Path(args.output).with_name(Path(args.output).stem + "_ts.nc"))
    return {
        "output": str(out), "points_output": str(ts) if ts else None,
        "backend": result.backend, "order": config.order, "steps": result.steps,
        "simulated_s": result.time,
        "wall_s": round(result.wall_seconds, 3),
        "cell_updates_per_s": round(result.cell_updates_per_second),
        "max_height_m": float(result.max_height.max()),
    }  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        summary = _okada(args) if args.command == "okada" else _simulate(args)
    except (ValueError, OSError) as exc:  # bad input: say what and where, no traceback
        sys.stderr.write(f"error: {exc}\n")
        return 2
    sys.stdout.write(json.dumps(summary) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
