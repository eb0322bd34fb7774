"""Climate analytics on CMIP-style monthly netCDF: the bundled climate workflow.

For each variable file (``tas``, ``pr``, ... on a lat/lon grid, CF time axis) it computes:

- the area-weighted global mean time series (cell areas from ``areacella`` when given,
  else cos(latitude) weights), and land / ocean means when a land fraction (``sftlf``, %)
  is given;
- annual means weighted by month length (from ``time_bnds`` when present, else the calendar);
- the monthly climatology map and the linear trend map (units per decade);
- a summary (period, global mean, seasonal amplitude, trend of the global annual mean).

Products go to the output directory: ``summary.json``, ``global_means.csv`` and, per
variable, ``<var>_climatology.nc`` and ``<var>_trend.nc`` (compressed netCDF4). One task per
variable, so variables are analysed in parallel under the task runtime.

Run:  ``python -m workflows.runtime workflows.climate.analytics --input tas.nc --input pr.nc
--areacella areacella.nc --sftlf sftlf.nc --output OUT`` or, with no data at hand,
``--synthetic`` (a generated 15-year ``tas`` field with a seasonal cycle and a known trend).
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workflows.runtime.compat import compss_wait_on, constraint, task

if TYPE_CHECKING:
    import xarray as xr

__all__ = [
    "analyse_variable",
    "annual_means",
    "area_weights",
    "global_mean",
    "linear_trend_per_decade",
    "main",
    "write_synthetic_tas",
]

# Reporting units: the files keep SI units; summaries also give the usual ones.
_DISPLAY = {
    "tas": ("degC", lambda v: v - 273.15),
    "pr": ("mm/day", lambda v: v * 86400.0),
}


def _lat_lon_names(da: xr.DataArray) -> tuple[str, str]:
    lat = next((n for n in ("lat", "latitude", "y") if n in da.dims), None)
    lon = next((n for n in ("lon", "longitude", "x") if n in da.dims), None)
    if lat is None or lon is None:
        raise ValueError(f"variable {da.name!r} has no lat/lon dimensions (dims: {da.dims})")
    return lat, lon


def area_weights(da: xr.DataArray, areacella: xr.DataArray | None = None) -> xr.DataArray:
    """Cell weights: the model's cell areas when given, else cos(latitude) (regular grid)."""
    import numpy as np

    if areacella is not None:
        return areacella.fillna(0.0)
    lat, lon = _lat_lon_names(da)
    w = np.cos(np.deg2rad(da[lat])).clip(min=0.0)
    return w.broadcast_like(da.isel({d: 0 for d in da.dims if d not in (lat, lon)}))


def global_mean(
    da: xr.DataArray, weights: xr.DataArray, mask: xr.DataArray | None = None
) -> xr.DataArray:
    """Area-weighted mean over lat/lon; ``mask`` (0..1) restricts to part of the globe."""
    lat, lon = _lat_lon_names(da)
    w = weights if mask is None else weights * mask
    # Accumulate in float64: CMIP files are float32 and a global sum loses ~1e-6 otherwise.
    return da.astype("float64").weighted(w.fillna(0.0)).mean(dim=(lat, lon))


def _month_lengths(da: xr.DataArray, ds: xr.Dataset | None) -> xr.DataArray:
    if ds is not None and "time_bnds" in ds:
        bounds = ds["time_bnds"]
        days = (bounds.isel({bounds.dims[-1]: 1}) - bounds.isel({bounds.dims[-1]: 0})).dt.days
        return days.astype("float64")
    return da["time"].dt.days_in_month.astype("float64")


def annual_means(series: xr.DataArray, month_days: xr.DataArray) -> xr.DataArray:
    """Calendar-year means weighted by month length (a February counts less than a March)."""
    weights = month_days.groupby("time.year") / month_days.groupby("time.year").sum()
    return (series * weights).groupby("time.year").sum()


def linear_trend_per_decade(annual: xr.DataArray) -> xr.DataArray:
    """Least-squares slope against the year, in units per decade (works on maps too)."""
    fit = annual.polyfit(dim="year", deg=1)
    return fit["polyfit_coefficients"].sel(degree=1, drop=True) * 10.0


# A constraint makes the runtime run each variable in a worker process: CPU-bound work runs
# in parallel, and HDF5 (under netCDF4) is not safe to use from several threads at once.
@constraint(computing_units=1)
@task(returns=1)
def analyse_variable(
    path: str, variable: str | None, areacella: str | None, sftlf: str | None, out_dir: str
) -> dict[str, Any]:
    """Analyse one variable file; writes its maps and returns its summary and series."""
    import xarray as xr

    with xr.open_dataset(path) as ds:
        name = variable or _main_variable(ds)
        da = ds[name].load()
        areas = _open_var(areacella, "areacella")
        land = _open_var(sftlf, "sftlf")
        weights = area_weights(da, areas)
        series = {"global": global_mean(da, weights)}
        if land is not None:
            frac = land / 100.0 if float(land.max()) > 1.0 else land
            series["land"] = global_mean(da, weights, frac)
            series["ocean"] = global_mean(da, weights, 1.0 - frac)
        month_days = _month_lengths(da, ds)
        annual_global = annual_means(series["global"], month_days)
        annual_map = annual_means(da, month_days)
        climatology = da.groupby("time.month").mean("time")
        trend_map = linear_trend_per_decade(annual_map)
        units = str(da.attrs.get("units", ""))

    out = Path(out_dir)
    encoding = {"zlib": True, "complevel": 4}
    clim = climatology.rename(f"{name}_climatology").assign_attrs(units=units)
    clim.to_netcdf(out / f"{name}_climatology.nc", encoding={clim.name: encoding})
    trend = trend_map.rename(f"{name}_trend").assign_attrs(units=f"{units} per decade")
    trend.to_netcdf(out / f"{name}_trend.nc", encoding={trend.name: encoding})

    g = series["global"]
    seasonal = g.groupby("time.month").mean()
    summary: dict[str, Any] = {
        "variable": name,
        "units": units,
        "file": str(path),
        "period": [str(g["time"].values[0])[:10], str(g["time"].values[-1])[:10]],
        "global_mean": float(annual_global.mean()),
        "seasonal_amplitude": float(seasonal.max() - seasonal.min()),
        "trend_per_decade": float(linear_trend_per_decade(annual_global)),
        "weights": "areacella" if areas is not None else "cos(lat)",
    }
    if name in _DISPLAY:
        label, convert = _DISPLAY[name]
        summary["global_mean_display"] = {"value": convert(summary["global_mean"]), "units": label}
    for region, s in series.items():
        if region != "global":
            summary[f"{region}_mean"] = float(annual_means(s, month_days).mean())
    times = [str(t)[:10] for t in g["time"].values]
    summary["series"] = {
        region: {"time": times, "values": [float(v) for v in s.values]}
        for region, s in series.items()
    }
    return summary


def _open_var(path: str | None, name: str) -> xr.DataArray | None:
    if not path:
        return None
    import xarray as xr

    with xr.open_dataset(path) as ds:
        return ds[name].load()


def _main_variable(ds: xr.Dataset) -> str:
    candidates = [v for v in ds.data_vars if "bnds" not in str(v) and ds[v].ndim >= 3]
    if not candidates:
        raise ValueError("no (time, lat, lon) variable found in the file")
    return str(candidates[0])


def write_synthetic_tas(path: Path, years: int = 15, trend_per_decade: float = 0.2) -> Path:
    """A 10-degree monthly ``tas`` field: 288 K mean, latitudinal gradient, a seasonal cycle
    of opposite sign in each hemisphere and a uniform linear trend (K per decade)."""
    import numpy as np
    import pandas as pd
    import xarray as xr

    lat = np.arange(-90.0, 90.1, 10.0)
    lon = np.arange(0.0, 360.0, 10.0)
    time = pd.date_range("2000-01-01", periods=12 * years, freq="MS") + pd.Timedelta(days=14)
    t_years = (np.arange(time.size) + 0.5) / 12.0
    base = 300.0 - 40.0 * np.sin(np.deg2rad(lat)) ** 2
    season = 8.0 * np.sin(np.deg2rad(lat))[None, :] * np.cos(2 * np.pi * (t_years[:, None] - 0.04))
    field = (
        base[None, :, None]
        - season[:, :, None]
        + (trend_per_decade / 10.0) * t_years[:, None, None]
        + np.zeros((1, 1, lon.size))
    )
    ds = xr.Dataset(
        {"tas": (("time", "lat", "lon"), field.astype("float32"), {"units": "K"})},
        coords={"time": time, "lat": lat, "lon": lon},
    )
    ds.to_netcdf(path)
    return path


def _write_tables(out: Path, summaries: list[dict[str, Any]]) -> None:
    with (out / "global_means.csv").open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["variable", "region", "time", "value", "units"])
        for s in summaries:
            for region, ser in s["series"].items():
                for t, v in zip(ser["time"], ser["values"], strict=True):
                    writer.writerow([s["variable"], region, t, f"{v:.6g}", s["units"]])
    slim = [{k: v for k, v in s.items() if k != "series"} for s in summaries]
    products = ["global_means.csv"] + [
        f"{s['variable']}_{kind}.nc" for s in summaries for kind in ("climatology", "trend")
    ]
    (out / "summary.json").write_text(
        json.dumps({"variables": slim, "products": products}, indent=2)
    )


def run(
    inputs: list[str],
    output: str,
    areacella: str | None = None,
    sftlf: str | None = None,
    variable: str | None = None,
) -> dict[str, Any]:
    """Analyse every input (one task each) and write the tables; returns the summary."""
    out = Path(output)
    out.mkdir(parents=True, exist_ok=True)
    futures = [analyse_variable(p, variable, areacella, sftlf, str(out)) for p in inputs]
    summaries = [compss_wait_on(f) for f in futures]
    _write_tables(out, summaries)
    return json.loads((out / "summary.json").read_text())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="workflows.climate.analytics",
        description="Global means, climatologies and trends of CMIP-style monthly netCDF files.",
    )
    parser.add_argument("--input", action="append", default=[], help="netCDF file (repeatable)")
    parser.add_argument("--variable", help="variable name (default: the file's main variable)")
    parser.add_argument("--areacella", help="cell areas file (m2); default cos(lat) weights")
    parser.add_argument("--sftlf", help="land fraction file (%%) for land / ocean means")
    parser.add_argument("--synthetic", action="store_true", help="analyse a generated tas field")
    parser.add_argument("--output", required=True, help="output directory")
    args = parser.parse_args(argv)
    inputs = list(args.input)
    if args.synthetic:
        Path(args.output).mkdir(parents=True, exist_ok=True)
        inputs.append(str(write_synthetic_tas(Path(args.output) / "synthetic_tas.nc")))
    if not inputs:
        parser.error("give at least one --input FILE, or --synthetic")
    missing = [p for p in inputs + [args.areacella, args.sftlf] if p and not Path(p).is_file()]
    if missing:
        parser.error(f"file not found: {', '.join(missing)}")
    try:
        summary = run(inputs, args.output, args.areacella, args.sftlf, args.variable)
    except (ValueError, KeyError, OSError) as exc:
        print(f"climate analytics failed: {exc}", file=sys.stderr)
        return 1
    for v in summary["variables"]:
        shown = v.get("global_mean_display", {"value": v["global_mean"], "units": v["units"]})
        print(
            f"{v['variable']}: global mean {shown['value']:.3f} {shown['units']}, "
            f"trend {v['trend_per_decade']:+.3f} {v['units']}/decade"
        )
    print(f"products in {Path(args.output).resolve()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
