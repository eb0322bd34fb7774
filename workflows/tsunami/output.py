"""Tsunami-HySEA-compatible NetCDF outputs (CF-1.8), and a reader for them.

Grid file (:func:`write_grid_output`): dimensions ``lon``, ``lat``, ``time``; variables
``eta`` (time, lat, lon; m), ``ux``, ``uy`` (m/s), ``max_height`` (m), ``arrival_times``
(s; -1 where the wave never arrived), ``deformed_bathy`` and ``original_bathy`` (m, positive
up), ``time`` (s). Fill value -9999 (dry cells, never-wet cells), zlib compression.

Point file (:func:`write_poi_output`): dimensions ``grid_npoints``, ``time``; variables
``longitude``, ``latitude``, ``eta`` (time, grid_npoints), ``max_height``, ``min_height``.

:func:`read_grid_output` reads files written here or by Tsunami-HySEA (``lon``/``x``,
``lat``/``y``; missing optional variables come back as None), so the products can be made
from either solver.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["FILL", "GridOutput", "read_grid_output", "write_grid_output", "write_poi_output"]

FILL = -9999.0


class GridOutput(dict):
    """Arrays read from a grid file: keys lon, lat, time, eta, max_height, arrival_times,
    deformed_bathy (each may be None when the file lacks it)."""


def _fill(a: np.ndarray) -> np.ndarray:
    return np.where(np.isfinite(a), a, FILL).astype(np.float32)


def write_grid_output(result: Any, path: str | Path, original: np.ndarray | None = None,
                      attrs: dict[str, Any] | None = None) -> Path:  # fmt: skip
    """Write a :class:`~workflows.tsunami.solver.SimulationResult` as a HySEA-style grid file."""
    import netCDF4

    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    mesh = result.mesh
    comp = {"zlib": True, "complevel": 4, "fill_value": np.float32(FILL)}
    with netCDF4.Dataset(p, "w", format="NETCDF4") as ds:
        ds.Conventions = "CF-1.8"
        ds.title = "Tsunami simulation (nonlinear shallow water, finite volume)"
        ds.source = "workflows.tsunami (Tsunami-HySEA-compatible output)"
        for key, value in (attrs or {}).items():
            ds.setncattr(key, value)
        ds.createDimension("lon", len(mesh.x))
        ds.createDimension("lat", len(mesh.y))
        ds.createDimension("time", None)
        x = ds.createVariable("lon", "f8", ("lon",))
        y = ds.createVariable("lat", "f8", ("lat",))
        t = ds.createVariable("time", "f8", ("time",))
        x[:], y[:], t[:] = mesh.x, mesh.y, np.asarray(result.snapshot_times, float)
        x.units, x.standard_name, x.axis = "degrees_east", "longitude", "X"
        y.units, y.standard_name, y.axis = "degrees_north", "latitude", "Y"
        t.units, t.standard_name, t.axis = "seconds since earthquake", "time", "T"
        specs = [
            ("eta", ("time", "lat", "lon"), "m", "sea_surface_height_above_mean_sea_level",
             result.snapshots),
            ("ux", ("time", "lat", "lon"), "m s-1", "eastward_sea_water_velocity",
             result.snapshots_u),
            ("uy", ("time", "lat", "lon"), "m s-1", "northward_sea_water_velocity",
             result.snapshots_v),
        ]  # fmt: skip
        for name, dims, units, std, frames in specs:
            v = ds.createVariable(name, "f4", dims, **comp)
            v.units, v.standard_name = units, std
            for k, frame in enumerate(frames):
                v[k] = _fill(frame)
        maxh = np.where(result.max_height <= FILL, np.nan, result.max_height)
        statics = [
            ("max_height", maxh, "m", "maximum sea surface height over the simulation"),
            ("arrival_times", result.arrival_times, "s",
             "first time |eta - eta(t=0)| exceeded the arrival threshold; -1 if never"),
            ("deformed_bathy", result.bathymetry, "m", "bed elevation after the deformation"),
        ]  # fmt: skip
        if original is not None:
            statics.append(("original_bathy", original, "m", "bed elevation before it"))
        for name, data, units, long_name in statics:
            v = ds.createVariable(name, "f4", ("lat", "lon"), **comp)
            v.units, v.long_name = units, long_name
            if name.endswith("bathy"):
                v.positive = "up"
            v[:] = _fill(np.asarray(data, float))
    return p


def write_poi_output(result: Any, path: str | Path) -> Path | None:
    """Write the point time series of ``result`` (None when it has no points)."""
    if result.poi_lon is None:
        return None
    import netCDF4

    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    eta = np.array(result.poi_eta, dtype=float).reshape(len(result.poi_times), -1)
    with netCDF4.Dataset(p, "w", format="NETCDF4") as ds:
        ds.Conventions = "CF-1.8"
        ds.featureType = "timeSeries"
        ds.createDimension("grid_npoints", len(result.poi_lon))
        ds.createDimension("time", None)
        for name, data, units in (
            ("longitude", result.poi_lon, "degrees_east"),
            ("latitude", result.poi_lat, "degrees_north"),
        ):
            v = ds.createVariable(name, "f8", ("grid_npoints",))
            v[:], v.units = data, units
        t = ds.createVariable("time", "f8", ("time",))
        t[:], t.units = np.asarray(result.poi_times, float), "seconds since earthquake"
        v = ds.createVariable("eta", "f4", ("time", "grid_npoints"), zlib=True)
        v[:], v.units = eta, "m"
        for name, data in (("max_height", eta.max(axis=0)), ("min_height", eta.min(axis=0))):
            w = ds.createVariable(name, "f4", ("grid_npoints",))
            w[:], w.units = data, "m"
    return p


def read_grid_output(path: str | Path) -> GridOutput:
    """Read a grid file written by :func:`write_grid_output` or by Tsunami-HySEA."""
    import netCDF4

    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"{p}: no such simulation output")
    out = GridOutput()
    with netCDF4.Dataset(p) as ds:
        names = set(ds.variables)

        def get(*candidates: str) -> np.ndarray | None:
            for c in candidates:
                if c in names:
                    data = np.ma.filled(ds[c][:].astype(float), np.nan)
                    return np.where(data <= FILL + 0.5, np.nan, data)
            return None

        out["lon"] = get("lon", "x", "longitude")
        out["lat"] = get("lat", "y", "latitude")
        if out["lon"] is None or out["lat"] is None:
            raise ValueError(f"{p}: no lon/x and lat/y coordinates")
        out["time"] = get("time")
        out["eta"] = get("eta")
        out["max_height"] = get("max_height")
        out["arrival_times"] = get("arrival_times")
        out["deformed_bathy"] = get("deformed_bathy")
    if out["arrival_times"] is not None:
        out["arrival_times"] = np.where(np.isnan(out["arrival_times"]), -1.0,
                                        out["arrival_times"])  # fmt: skip
    return out
