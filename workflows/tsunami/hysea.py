"""Tsunami-HySEA binary integration: parameter file, inputs, ``@binary``/``@mpi`` task, output.

Where a site declares Tsunami-HySEA (``TSUNAMI_HYSEA_BINARY``, or ``--hysea`` of the forecast
application), each scenario is:

1. :func:`prepare_scenario` (plain Python, in the main program): the Okada deformation of
   the scenario on the bathymetry grid, written as NetCDF (``lon``, ``lat``, ``z`` in m, plus
   a one-instant ``time`` axis so the "dynamic deformation" initialisation of the template
   reads it as a static source), the forecast points file (HySEA ``.dat``: count, then
   ``lon lat``), and the parameter file (:func:`parameter_file_text`, the line layout of
   ``hysea_parameter_file.template.txt``: one value per line, ``#`` comments). All paths in it
   are absolute, so the binary's working directory does not matter.
2. the binary, as a task built by :func:`hysea_task`: ``@binary`` or, with an MPI runner,
   ``@mpi``; both under ``@constraint(processors=[CPU 1, GPU 1])`` (HySEA is a CUDA code).
   It is given the parameter file as its only argument.
3. :func:`read_scenario_output`: the grid NetCDF (``<prefix>.nc``: ``max_height``,
   ``arrival_times``...) and, when present, the point file (``<prefix>_ts.nc``) read into the
   same :class:`~workflows.tsunami.ensemble.ScenarioResult` the built-in solver produces, so
   aggregation and products do not care which solver ran.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "HyseaRun",
    "HyseaSettings",
    "hysea_task",
    "parameter_file_text",
    "prepare_scenario",
    "read_scenario_output",
]


@dataclass(frozen=True)
class HyseaSettings:
    """Numerical settings written to the parameter file (HySEA's typical values)."""

    init_type: int = 6
    kajiura: int = 0
    saving_time_s: float = 30.0
    cfl: float = 0.5
    epsilon_h: float = 5e-3
    waf_threshold_m: float = 20.0
    stability: float = 0.02
    friction_type: int = 0
    manning: float = 0.03
    max_velocity: float = 100.0
    typical_length: float = 100000.0
    typical_depth: float = 1000.0
    border: int = 1  # 1 open, -1 wall, for all four borders


@dataclass(frozen=True)
class HyseaRun:
    """The files of one prepared scenario."""

    index: int
    weight: float
    parameter_file: str
    output_prefix: str
    workdir: str


def parameter_file_text(name: str, bathymetry: str, deformation: str, output_prefix: str,
                        duration_s: float, points_file: str | None = None,
                        settings: HyseaSettings | None = None) -> str:  # fmt: skip
    """The parameter file, line for line as in HySEA's template. With ``points_file`` the
    "read points" flag is 1 and the file name follows on the next line, as HySEA reads it."""
    s = settings or HyseaSettings()
    b = s.border
    lines = [
        (name, "Experiment name"),
        (bathymetry, "Bathymetry file name"),
        (s.init_type, "Initialization type"),
        (s.kajiura, "Apply Kajiura filter to the deformation (0: no, 1: yes)"),
        (1, "Number of faults"),
        (deformation, "File with dynamic deformation"),
        (output_prefix, "NetCDF file prefix"),
        ("1 1 0 0 0 0 0 0 0 0", "Variables saved"),
        (1, "Number of levels (1 no nested meshes)"),
        (b, "Upper border condition (1: open, -1: wall)"),
        (b, "Lower border condition"),
        (b, "Left border condition"),
        (b, "Right border condition"),
        (f"{duration_s:.1f}", "Simulation time (sec)"),
        (f"{s.saving_time_s:.1f}", "Saving time of NetCDF files (sec) (-1: do not save)"),
        (1 if points_file else 0, "Read points from file (0: no, 1: yes). Used for time series"),
    ]
    if points_file:
        lines.append((points_file, "File with points"))
    lines += [
        (s.cfl, "CFL"),
        (s.epsilon_h, "Epsilon h (m)"),
        (s.waf_threshold_m, "Threshold for the 2s+WAF scheme (m)"),
        (s.stability, "Stability coefficient"),
        (s.friction_type, "Friction type (0: fixed, 1: variable)"),
        (s.manning, "Water-bottom friction (Manning coefficient)"),
        (s.max_velocity, "Maximum allowed velocity of water"),
        (s.typical_length, "L (typical length)"),
        (s.typical_depth, "H (typical depth)"),
    ]
    return "".join(f"{str(v):<36} # {c}\n" for v, c in lines)


def _write_deformation(path: Path, lon: np.ndarray, lat: np.ndarray, uz: np.ndarray) -> None:
    import netCDF4

    with netCDF4.Dataset(path, "w", format="NETCDF4") as ds:
        ds.Conventions = "CF-1.8"
        ds.createDimension("lon", len(lon))
        ds.createDimension("lat", len(lat))
        ds.createDimension("time", 1)
        ds.createVariable("lon", "f8", ("lon",))[:] = lon
        ds.createVariable("lat", "f8", ("lat",))[:] = lat
        ds.createVariable("time", "f8", ("time",))[:] = [0.0]
        v = ds.createVariable("z", "f4", ("time", "lat", "lon"), zlib=True)
        v[0] = uz
        v.units, v.long_name = "m", "vertical sea-floor displacement (positive up)"


def prepare_scenario(scenario: Any, bathy_path: str, pois: Any, duration_s: float,
                     workdir: str | Path) -> HyseaRun:  # fmt: skip
    """Write the deformation, points and parameter files of one scenario into ``workdir``."""
    from .grids import read_bathymetry
    from .okada import seafloor_deformation

    work = Path(workdir).resolve()
    work.mkdir(parents=True, exist_ok=True)
    bathy = read_bathymetry(bathy_path)
    uz = seafloor_deformation(scenario.faults, bathy.lon, bathy.lat)
    deformation = work / "deformation.nc"
    _write_deformation(deformation, bathy.lon, bathy.lat, uz)
    points = None
    if pois is not None and len(pois[0]):
        points = work / "points.dat"
        rows = [f"{len(pois[0])}"] + [f"{x:.6f} {y:.6f}" for x, y in zip(pois[0], pois[1],
                                                                          strict=True)]  # fmt: skip
        points.write_text("\n".join(rows) + "\n")
    prefix = work / f"scenario_{scenario.index:03d}"
    param = work / "parameters.txt"
    param.write_text(parameter_file_text(
        f"scenario_{scenario.index:03d}", str(Path(bathy_path).resolve()), str(deformation),
        str(prefix), duration_s, str(points) if points else None,
    ))  # fmt: skip
    return HyseaRun(scenario.index, scenario.weight, str(param), str(prefix), str(work))


def hysea_task(binary_path: str, mpi_runner: str = "", processes: int = 1):
    """A task running Tsunami-HySEA on one parameter file, returning its exit code.

    ``@mpi`` when ``mpi_runner`` is given (e.g. ``mpirun``), else ``@binary``; GPU constrained.
    The task raises (and the scenario is ignored by the ensemble) on a non-zero exit.
    """
    from workflows.runtime.compat import binary, constraint, mpi, on_failure, task

    gpu = [{"processorType": "CPU", "computingUnits": "1"},
           {"processorType": "GPU", "computingUnits": str(processes)}]  # fmt: skip
    if mpi_runner:

        @on_failure(management="IGNORE", returns=None)
        @constraint(processors=gpu)
        @mpi(runner=mpi_runner, binary=binary_path, processes=processes)
        @task(returns=1)
        def run_hysea_mpi(parameter_file: str):  # pragma: no cover - body replaced by @mpi
            ...

        return run_hysea_mpi

    @on_failure(management="IGNORE", returns=None)
    @constraint(processors=gpu)
    @binary(binary=binary_path)
    @task(returns=1)
    def run_hysea(parameter_file: str):  # pragma: no cover - body replaced by @binary
        ...

    return run_hysea


def read_scenario_output(run: HyseaRun, pois: Any, exit_code: Any = 0) -> Any:
    """The :class:`ScenarioResult` of a finished HySEA run (None when it failed)."""
    from .ensemble import ScenarioResult
    from .output import read_grid_output

    if exit_code not in (0, None):
        return None
    grid_file = Path(run.output_prefix + ".nc")
    if not grid_file.is_file():
        return None
    out = read_grid_output(grid_file)
    lon, lat = out["lon"], out["lat"]
    maxh = out["max_height"]
    if maxh is None:
        eta = out["eta"]
        maxh = np.nanmax(eta, axis=0) if eta is not None else np.zeros((len(lat), len(lon)))
    arrival = out["arrival_times"]
    if arrival is None:
        arrival = np.full(maxh.shape, -1.0)
    ii = np.clip(np.searchsorted(lon, pois[0]), 0, len(lon) - 1)
    jj = np.clip(np.searchsorted(lat, pois[1]), 0, len(lat) - 1)
    poi_max = np.nan_to_num(maxh[jj, ii], nan=0.0)
    ts = Path(run.output_prefix + "_ts.nc")
    if ts.is_file():
        import netCDF4

        with netCDF4.Dataset(ts) as ds:
            if "max_height" in ds.variables and ds["max_height"].shape[0] == len(poi_max):
                poi_max = np.asarray(ds["max_height"][:], dtype=float)
    return ScenarioResult(
        index=run.index, weight=run.weight, poi_max=poi_max, poi_arrival=arrival[jj, ii],
        max_height=maxh.astype(np.float32), arrival_times=arrival.astype(np.float32),
        backend="hysea", source=str(grid_file),
    )  # fmt: skip
