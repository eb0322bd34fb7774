"""Warning products from an aggregated forecast: tables, GeoJSON, map, summary.

Warning levels per forecast point and per coastal segment follow the three levels of the
NEAMTWS tsunami service providers (IOC-UNESCO ICG/NEAMTWS, "Interim Operational Users
Guide", and the CAT-INGV decision matrix it is based on): *information* (expected maximum
wave height below 0.2 m), *advisory* (0.2 to 0.5 m) and *watch* (0.5 m and more). The
exceedance probabilities are reported for 0.2 m, 0.5 m and 1 m (the matrix's run-up
threshold for a watch).

The height used to pick a level is the ensemble's weighted 84th percentile at the point
(mean plus one standard deviation for a normal spread): a deliberately cautious statistic
for the PTF-style forecast (Selva et al. 2021 discuss mean and percentile choices); the
mean, median and 95th percentile are in the tables too. A segment takes the highest level of
its points.

Files written into the output directory (all listed, with a description, in
``summary.json``): ``forecast_points.csv`` / ``.geojson``, ``coastal_segments.csv`` /
``.geojson``, ``max_height.png`` (map), ``forecast.nc`` (aggregated grids).
"""

from __future__ import annotations

import csv
import json
import math
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from .ensemble import ForecastAccumulator

__all__ = [
    "LEVELS",
    "LEVEL_SOURCE",
    "THRESHOLDS_M",
    "coastal_points",
    "level_for",
    "map_figure",
    "write_products",
]

THRESHOLDS_M = (0.2, 0.5, 1.0)
LEVELS = ("information", "advisory", "watch")
LEVEL_SOURCE = (
    "NEAMTWS tsunami service provider levels (IOC-UNESCO ICG/NEAMTWS Interim Operational "
    "Users Guide; CAT-INGV decision matrix): information < 0.2 m, advisory 0.2-0.5 m, "
    "watch >= 0.5 m of expected maximum wave height at the forecast point"
)
DECISION_PERCENTILE = 84.0
_COLOURS = {"information": "#2e7d32", "advisory": "#f9a825", "watch": "#c62828"}


def level_for(height_m: float) -> str:
    if not math.isfinite(height_m) or height_m < THRESHOLDS_M[0]:
        return LEVELS[0]
    return LEVELS[1] if height_m < THRESHOLDS_M[1] else LEVELS[2]


def _coastlines(bathy: Any) -> list[np.ndarray]:
    """The zero contour of the bathymetry as polylines of (lon, lat), longest first, each
    running from its southern end (``contourpy``, matplotlib's contouring library)."""
    import contourpy

    gen = contourpy.contour_generator(
        x=np.asarray(bathy.lon, float), y=np.asarray(bathy.lat, float),
        z=np.asarray(bathy.z, float), line_type=contourpy.LineType.Separate,
    )  # fmt: skip
    lines = []
    for line in gen.lines(0.0):
        xy = np.asarray(line, float)
        if len(xy) < 2:
            continue
        if xy[-1, 1] < xy[0, 1]:
            xy = xy[::-1]
        lines.append(xy)
    return sorted(lines, key=len, reverse=True)


def _along(xy: np.ndarray, spacing_deg: float, coslat: float) -> np.ndarray:
    """Points every ``spacing_deg`` (of latitude, longitudes scaled by ``coslat``) along a
    polyline, its first point included."""
    scale = np.array([coslat, 1.0])
    seg = np.linalg.norm(np.diff(xy, axis=0) * scale, axis=1)
    dist = np.concatenate([[0.0], np.cumsum(seg)])
    at = np.arange(0.0, dist[-1] + 1e-12, spacing_deg)
    return np.column_stack([np.interp(at, dist, xy[:, 0]), np.interp(at, dist, xy[:, 1])])


def coastal_points(bathy: Any, depth_m: float = 20.0, every: int = 4,
                   per_segment: int = 5) -> tuple[np.ndarray, np.ndarray, list[str]]:  # fmt: skip
    """Forecast points just offshore, along the real coastline.

    The coastline is the bathymetry's zero contour: one polyline per coast (islands and
    headlands included), longest first. Along each, every ``every`` grid cells, the point
    goes to the nearest cell at least ``depth_m`` deep within ``4 * every`` cells (none
    there: no point). Consecutive points along one coast, from its southern end, form
    segments of ``per_segment`` points, named by coast letter and number (``A01``,
    ``A02``, ..., ``B01``). Returns (lon, lat, segment id per point)."""
    lon = np.asarray(bathy.lon, float)
    lat = np.asarray(bathy.lat, float)
    z = np.asarray(bathy.z, float)
    dy = abs(float(lat[1] - lat[0])) if len(lat) > 1 else 1.0
    coslat = math.cos(math.radians(float(np.mean(lat))))
    deep_j, deep_i = np.nonzero(-z >= depth_m)
    reach = 4 * every
    out_lon: list[float] = []
    out_lat: list[float] = []
    seg: list[str] = []
    taken: set[tuple[int, int]] = set()
    coast = 0
    for line in _coastlines(bathy):
        if len(line) < 3:  # a speck of one cell: no coast to warn
            continue
        n = 0
        for x, y in _along(line, every * dy, coslat):
            j = int(np.clip(np.searchsorted(lat, y), 0, len(lat) - 1))
            i = int(np.clip(np.searchsorted(lon, x), 0, len(lon) - 1))
            near = (np.abs(deep_j - j) <= reach) & (np.abs(deep_i - i) <= reach)
            if not near.any():
                continue
            cj, ci = deep_j[near], deep_i[near]
            dist = ((lon[ci] - x) * coslat) ** 2 + (lat[cj] - y) ** 2
            k = int(np.argmin(dist))
            cell = (int(cj[k]), int(ci[k]))
            if cell in taken:
                continue
            taken.add(cell)
            out_lon.append(float(lon[cell[1]]))
            out_lat.append(float(lat[cell[0]]))
            seg.append(f"{_coast_letter(coast)}{n // per_segment + 1:02d}")
            n += 1
        if n:
            coast += 1
    return np.array(out_lon), np.array(out_lat), seg


def _coast_letter(k: int) -> str:
    """A, B, ..., Z, AA, AB, ...: a short name per coast."""
    name = ""
    k += 1
    while k:
        k, r = divmod(k - 1, 26)
        name = chr(ord("A") + r) + name
    return name


def _atomic_write(path: Path, text: str) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)  # readers never see half a file while the forecast is refined


def _points_table(acc: ForecastAccumulator, lon, lat, segments) -> list[dict[str, Any]]:
    probs = acc.probabilities()
    p50, p84, p95 = (acc.percentile(q) for q in (50.0, DECISION_PERCENTILE, 95.0))
    mean = acc.mean()
    rows = []
    for k in range(len(lon)):
        arrival = acc.first_arrival[k] if acc.first_arrival is not None else math.inf
        row = {
            "id": f"P{k + 1:03d}",
            "lon": round(float(lon[k]), 5),
            "lat": round(float(lat[k]), 5),
            "segment": segments[k],
            "max_height_mean_m": round(float(mean[k]), 4),
            "max_height_p50_m": round(float(p50[k]), 4),
            "max_height_p84_m": round(float(p84[k]), 4),
            "max_height_p95_m": round(float(p95[k]), 4),
            "first_arrival_s": round(float(arrival), 1) if math.isfinite(arrival) else None,
            "level": level_for(float(p84[k])),
        }
        for t, p in zip(acc.thresholds, probs[k], strict=True):
            row[f"prob_exceed_{t:g}m"] = round(float(p), 4)
        rows.append(row)
    return rows


def _segments_table(points: list[dict[str, Any]]) -> list[dict[str, Any]]:
    groups: dict[str, list[dict[str, Any]]] = {}
    for p in points:
        groups.setdefault(p["segment"], []).append(p)
    out = []
    for name, pts in groups.items():
        level = max((p["level"] for p in pts), key=LEVELS.index)
        arrivals = [p["first_arrival_s"] for p in pts if p["first_arrival_s"] is not None]
        out.append({
            "segment": name,
            "level": level,
            "points": len(pts),
            "max_height_p84_m": max(p["max_height_p84_m"] for p in pts),
            "max_prob_exceed_0.5m": max(p["prob_exceed_0.5m"] for p in pts),
            "first_arrival_s": min(arrivals) if arrivals else None,
            "coordinates": [[p["lon"], p["lat"]] for p in pts],
        })  # fmt: skip
    return out


def _write_csv(path: Path, rows: list[dict[str, Any]], drop: tuple[str, ...] = ()) -> None:
    cols = [c for c in rows[0] if c not in drop] if rows else []
    tmp = path.with_suffix(".csv.tmp")
    with tmp.open("w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=cols, extrasaction="ignore")
        w.writeheader()
        w.writerows(rows)
    os.replace(tmp, path)


def _geojson_points(rows: list[dict[str, Any]]) -> dict[str, Any]:
    return {"type": "FeatureCollection", "features": [
        {"type": "Feature", "geometry": {"type": "Point", "coordinates": [r["lon"], r["lat"]]},
         "properties": r} for r in rows]}  # fmt: skip


def _geojson_segments(rows: list[dict[str, Any]]) -> dict[str, Any]:
    feats = []
    for r in rows:
        coords = r["coordinates"]
        geom = ({"type": "LineString", "coordinates": coords} if len(coords) > 1
                else {"type": "Point", "coordinates": coords[0]})  # fmt: skip
        props = {k: v for k, v in r.items() if k != "coordinates"}
        feats.append({"type": "Feature", "geometry": geom, "properties": props})
    return {"type": "FeatureCollection", "features": feats}


def _write_map(path: Path, acc: ForecastAccumulator, bathy: Any, points, segments,
               event: Any) -> None:  # fmt: skip
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig = map_figure(acc, bathy, points, segments, event)
    tmp = path.with_suffix(".tmp.png")
    fig.savefig(tmp)
    plt.close(fig)
    os.replace(tmp, path)


def map_figure(acc: ForecastAccumulator, bathy: Any, points, segments, event: Any) -> Any:
    """The forecast map as a matplotlib figure: the scenarios' maximum-height envelope over
    the sea, land shaded, the coastline (the zero contour of the bathymetry), arrival-time
    contours, the forecast points coloured by level, and every coastal segment drawn along
    the coast in its level's colour and labelled with its name and level."""
    import matplotlib.patheffects as pe
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7.5, 6.5), dpi=110)
    sea = bathy.z < 0
    env = np.where(sea, acc.envelope, np.nan)
    top = max(0.5, float(np.nanpercentile(env, 99.5)) if np.isfinite(env).any() else 0.5)
    mesh = ax.pcolormesh(bathy.lon, bathy.lat, env, cmap="YlOrRd", vmin=0.0, vmax=top,
                         shading="auto")  # fmt: skip
    fig.colorbar(mesh, ax=ax, label="maximum height, envelope of scenarios (m)", shrink=0.8)
    land = np.where(sea, np.nan, bathy.z)
    ax.pcolormesh(bathy.lon, bathy.lat, land, cmap="Greys", vmin=-500, vmax=3000,
                  shading="auto", alpha=0.5)  # fmt: skip
    ax.contour(bathy.lon, bathy.lat, bathy.z, levels=[0.0], colors="black", linewidths=1.0)
    arr = np.where(np.isfinite(acc.grid_arrival) & sea, acc.grid_arrival / 60.0, np.nan)
    if np.isfinite(arr).any():
        step = 5.0 if np.nanmax(arr) <= 60 else 10.0
        levels = np.arange(step, np.nanmax(arr) + step, step)
        if len(levels) > 0:
            cs = ax.contour(bathy.lon, bathy.lat, arr, levels=levels, colors="#1565c0",
                            linewidths=0.7)  # fmt: skip
            ax.clabel(cs, fmt="%g min", fontsize=7)
    for lvl in LEVELS:
        sel = [p for p in points if p["level"] == lvl]
        if sel:
            ax.scatter([p["lon"] for p in sel], [p["lat"] for p in sel], s=22,
                       c=_COLOURS[lvl], edgecolors="black", linewidths=0.4, label=lvl,
                       zorder=3)  # fmt: skip
    halo = [pe.withStroke(linewidth=2.5, foreground="black")]
    for seg in segments:
        xy = np.asarray(seg["coordinates"], dtype=float)
        colour = _COLOURS[seg["level"]]
        ax.plot(xy[:, 0], xy[:, 1], color=colour, linewidth=2.2, zorder=2.5,
                path_effects=halo)  # fmt: skip
        mid = xy[len(xy) // 2]
        ax.annotate(f"{seg['segment']} {seg['level']}", (mid[0], mid[1]), xytext=(6, 0),
                    textcoords="offset points", fontsize=6, va="center", zorder=5,
                    gid=f"segment-label-{seg['segment']}",
                    bbox={"boxstyle": "round,pad=0.15", "fc": "white", "ec": colour,
                          "alpha": 0.85})  # fmt: skip
    ax.plot(event.lon, event.lat, marker="*", markersize=14, color="white",
            markeredgecolor="black", zorder=4, label="epicentre")  # fmt: skip
    ax.set_xlabel("longitude (degrees east)")
    ax.set_ylabel("latitude (degrees north)")
    ax.set_title(f"M{event.magnitude:.1f} {event.place or event.event_id}: "
                 f"{len(acc.done)}/{acc.n_expected} scenarios", fontsize=10)  # fmt: skip
    ax.set_aspect(1.0 / math.cos(math.radians(float(np.mean(bathy.lat)))))
    ax.legend(loc="lower right", fontsize=7, framealpha=0.9)
    fig.tight_layout()
    return fig


def _write_grids(path: Path, acc: ForecastAccumulator, bathy: Any) -> None:
    import netCDF4

    tmp = path.with_suffix(".tmp.nc")
    with netCDF4.Dataset(tmp, "w", format="NETCDF4") as ds:
        ds.Conventions = "CF-1.8"
        ds.title = "Ensemble tsunami forecast (aggregated scenarios)"
        ds.scenarios_done = len(acc.done)
        ds.createDimension("lon", len(bathy.lon))
        ds.createDimension("lat", len(bathy.lat))
        ds.createVariable("lon", "f8", ("lon",))[:] = bathy.lon
        ds.createVariable("lat", "f8", ("lat",))[:] = bathy.lat
        ds["lon"].units, ds["lat"].units = "degrees_east", "degrees_north"
        arrival = np.where(np.isfinite(acc.grid_arrival), acc.grid_arrival, -1.0)
        for name, data, units in (
            ("max_height_envelope", acc.envelope, "m"),
            ("max_height_mean", acc.mean_max / acc.weight, "m"),
            ("arrival_times", arrival, "s"),
            ("bathymetry", bathy.z, "m"),
        ):
            v = ds.createVariable(name, "f4", ("lat", "lon"), zlib=True, fill_value=-9999.0)
            v[:] = np.where(np.isfinite(data), data, -9999.0)
            v.units = units
    os.replace(tmp, path)


def write_products(acc: ForecastAccumulator, output: str | Path, bathy: Any, event: Any,
                   pois: tuple[np.ndarray, np.ndarray, list[str]], final: bool,
                   extra: dict[str, Any] | None = None, with_map: bool = True) -> dict:  # fmt: skip
    """Write every product for the forecast so far; returns the summary (also in
    ``summary.json``). ``final`` marks the last refinement."""
    out = Path(output)
    out.mkdir(parents=True, exist_ok=True)
    lon, lat, segments = pois
    points = _points_table(acc, lon, lat, segments)
    segs = _segments_table(points)
    _write_csv(out / "forecast_points.csv", points)
    _atomic_write(out / "forecast_points.geojson", json.dumps(_geojson_points(points)))
    _write_csv(out / "coastal_segments.csv", segs, drop=("coordinates",))
    _atomic_write(out / "coastal_segments.geojson", json.dumps(_geojson_segments(segs)))
    products = {
        "forecast_points.csv": "per forecast point: max height statistics (m), probability "
        "of exceeding 0.2/0.5/1 m, first arrival (s), warning level",
        "forecast_points.geojson": "the same as GeoJSON points",
        "coastal_segments.csv": "warning level per coastal segment (highest of its points)",
        "coastal_segments.geojson": "coastal segments as GeoJSON lines",
    }
    if with_map:
        _write_map(out / "max_height.png", acc, bathy, points, segs, event)
        products["max_height.png"] = ("map: envelope of maximum height, arrival-time "
                                      "contours (minutes), coastline (zero contour of the "
                                      "bathymetry), forecast points, coastal segments "
                                      "labelled with their warning level")  # fmt: skip
        _write_grids(out / "forecast.nc", acc, bathy)
        products["forecast.nc"] = "aggregated grids: max height envelope and mean, arrival"
    counts = {lvl: sum(1 for s in segs if s["level"] == lvl) for lvl in LEVELS}
    summary = {
        "status": "final" if final else "preliminary",
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "event": event.as_dict(),
        "scenarios_done": len(acc.done),
        "scenarios_total": acc.n_expected,
        "thresholds_m": list(acc.thresholds),
        "levels": {
            "names": list(LEVELS),
            "source": LEVEL_SOURCE,
            "decision_statistic": f"weighted {DECISION_PERCENTILE:g}th percentile "
            "of the scenarios' maximum height at each point",
        },  # fmt: skip
        "segments_by_level": counts,
        "highest_level": max((s["level"] for s in segs), key=LEVELS.index, default=LEVELS[0]),
        "segments": [{k: v for k, v in s.items() if k != "coordinates"} for s in segs],
        "backends": acc.backends,
        "products": {**products, "summary.json": "this file"},
        **(extra or {}),
    }
    _atomic_write(out / "summary.json", json.dumps(summary, indent=2))
    return summary
