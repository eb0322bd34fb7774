"""Generated stand-ins for the real data files of ``../shared/data``, in the same formats.

A clone of the repository has no ``../shared`` beside it, so tests that need a bathymetry,
points of interest or CMIP-style climate files get these instead: same layout, same
variable names, types, attributes and grid orientation as the real files (listed in
``../shared/data/README.md``), with features whose answers a test can know (a deep channel
between two mountainous coasts, a continent of known land fraction...). The real files are
still read where they exist, by the tests marked ``shared_data``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

SHARED_DATA = Path(__file__).resolve().parents[2] / ".." / "shared" / "data"

# The real Messina grid: 240 x 240 cells of 15 arc-seconds.
STRAIT_SHAPE = (240, 240)
STRAIT_SPACING = 15.0 / 3600.0
STRAIT_ORIGIN = (15.0 + STRAIT_SPACING / 2, 37.75 + STRAIT_SPACING / 2)  # lon, lat of cell 0


def shared_file(relative: str) -> Path:
    """A file of ``../shared/data``; skips the calling test (with the reason) when absent."""
    import pytest

    path = SHARED_DATA / relative
    if not path.is_file():
        pytest.skip(f"real-data check: {relative} is in ../shared/data, not beside this clone")
    return path


def strait_elevation(seed: int = 7) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(lon, lat, z): a strait running north-south between two mountainous coasts.

    West coast rises to about 1,300 m, east coast to about 1,900 m; the channel is ~300 m deep
    at its narrowest and opens south into a basin deeper than 2,000 m. Rough terrain (a
    seeded random field) on land and sea floor, so well-balancing is tested on steep,
    irregular slopes as on the real grid. Integer metres, like GEBCO.
    """
    rng = np.random.default_rng(seed)
    ny, nx = STRAIT_SHAPE
    lon = STRAIT_ORIGIN[0] + STRAIT_SPACING * np.arange(nx)
    lat = STRAIT_ORIGIN[1] + STRAIT_SPACING * np.arange(ny)
    x, y = np.meshgrid(np.linspace(0.0, 1.0, nx), np.linspace(0.0, 1.0, ny))
    # The channel's axis meanders; it narrows to the north.
    axis = 0.5 + 0.06 * np.sin(2.0 * np.pi * y)
    half_width = 0.08 + 0.25 * (1.0 - y) ** 2
    across = (x - axis) / half_width
    sea_depth = 300.0 + 2300.0 * (1.0 - y) ** 1.5  # deeper to the south
    z = -sea_depth * np.clip(1.0 - across**2, 0.0, None)
    west = np.clip(-(across + 1.0), 0.0, None)
    east = np.clip(across - 1.0, 0.0, None)
    z += 1300.0 * np.tanh(3.0 * west) + 1900.0 * np.tanh(2.0 * east)
    z -= 60.0 * np.exp(-(across**2) / 0.5)  # a coastal shelf break
    noise = rng.normal(size=(ny // 8 + 1, nx // 8 + 1))
    rough = np.kron(noise, np.ones((8, 8)))[:ny, :nx]
    kernel = np.ones(5) / 5.0
    for axis_ in (0, 1):
        rough = np.apply_along_axis(lambda r: np.convolve(r, kernel, mode="same"), axis_, rough)
    z += 80.0 * rough
    return lon, lat, np.rint(z).astype(np.int16)


def write_gebco_like(path: Path) -> Path:
    """The strait as a GEBCO-style NetCDF: int16 ``elevation`` (m, positive up), ``lon``/``lat``
    ascending, CF attributes."""
    import netCDF4

    lon, lat, z = strait_elevation()
    with netCDF4.Dataset(path, "w") as ds:
        ds.Conventions = "CF-1.6"
        ds.title = "Generated strait bathymetry (GEBCO layout) for tests"
        ds.createDimension("lat", lat.size)
        ds.createDimension("lon", lon.size)
        v = ds.createVariable("lat", "f8", ("lat",))
        v[:], v.units, v.standard_name = lat, "degrees_north", "latitude"
        v = ds.createVariable("lon", "f8", ("lon",))
        v[:], v.units, v.standard_name = lon, "degrees_east", "longitude"
        v = ds.createVariable("elevation", "i2", ("lat", "lon"))
        v[:], v.units, v.positive = z, "m", "up"
    return path


# NE Japan, 1 arc-minute, as the real ETOPO1 extract: 481 columns x 421 rows, cell centres
# from 139 E 34 N (corner), rows stored north first.
ETOPO_SHAPE = (421, 481)
ETOPO_CELL = 1.0 / 60.0
ETOPO_CORNER = (139.0, 34.0)


def etopo_elevation() -> np.ndarray:
    """South-to-north rows: land (up to ~1,500 m) in the west, a trench deeper than 7,000 m
    in the east, a continental slope between."""
    ny, nx = ETOPO_SHAPE
    x, y = np.meshgrid(np.arange(nx) / (nx - 1), np.arange(ny) / (ny - 1))
    coast = 0.35 + 0.15 * y
    dist = x - coast
    land = 1500.0 * np.tanh(np.clip(-dist, 0.0, None) * 6.0) * (1.0 + 0.2 * np.sin(20 * y))
    sea = -7500.0 * np.tanh(np.clip(dist, 0.0, None) * 5.0)
    return np.rint(np.where(dist < 0, land + 5.0, sea)).astype(np.int32)


def write_esri_ascii(path: Path) -> Path:
    """The NE-Japan-like grid as ESRI ASCII (six-line header, rows north first)."""
    z = etopo_elevation()
    ny, nx = z.shape
    header = (
        f"ncols {nx}\nnrows {ny}\nxllcorner {ETOPO_CORNER[0]}\nyllcorner {ETOPO_CORNER[1]}\n"
        f"cellsize {ETOPO_CELL:.15f}\nNODATA_value -99999\n"
    )
    with open(path, "w") as handle:
        handle.write(header)
        np.savetxt(handle, z[::-1], fmt="%d")
    return path


def strait_pois(n: int = 98) -> tuple[np.ndarray, np.ndarray]:
    """``n`` points of interest along the strait's two coasts (just offshore)."""
    lon, lat, z = strait_elevation()
    points: list[tuple[float, float]] = []
    rows = np.linspace(10, STRAIT_SHAPE[0] - 10, n // 2).astype(int)
    for r in rows:
        wet = np.nonzero(z[r] < -20)[0]
        if wet.size:
            points += [(lon[wet[0]], lat[r]), (lon[wet[-1]], lat[r])]
    arr = np.array(points[:n])
    return arr[:, 0], arr[:, 1]


def write_pois(path: Path) -> Path:
    """Points of interest in the HySEA format: the count, then ``lon lat`` per line."""
    lon, lat = strait_pois()
    lines = [str(lon.size)] + [f"{x:.5f} {y:.5f}" for x, y in zip(lon, lat, strict=True)]
    path.write_text("\n".join(lines) + "\n")
    return path


# -- CMIP6-style monthly fields on a 10-degree grid (the layout of the shared ACCESS files) --
def _cmip_grid() -> tuple[np.ndarray, np.ndarray]:
    return np.arange(-90.0, 90.1, 10.0), np.arange(0.0, 360.0, 10.0)


def land_fraction() -> np.ndarray:
    """sftlf (%): a northern continent (30-70 N, 60-150 E), an Antarctic cap, else ocean."""
    lat, lon = _cmip_grid()
    la, lo = np.meshgrid(lat, lon, indexing="ij")
    frac = np.where((la >= 30) & (la <= 70) & (lo >= 60) & (lo <= 150), 100.0, 0.0)
    frac = np.where(la <= -70, 100.0, frac)
    return frac.astype(np.float32)


def cell_areas() -> np.ndarray:
    """areacella (m2): exact spherical areas of the cells between the bounds."""
    lat, lon = _cmip_grid()
    edges = np.clip(np.concatenate([[lat[0]], (lat[:-1] + lat[1:]) / 2, [lat[-1]]]), -90, 90)
    band = np.diff(np.sin(np.deg2rad(edges)))
    radius = 6371000.0
    area = radius**2 * np.deg2rad(10.0) * band
    return np.repeat(area[:, None], lon.size, axis=1).astype(np.float32)


def _bounds(values: np.ndarray, step: float, lo: float, hi: float) -> np.ndarray:
    return np.clip(np.stack([values - step / 2, values + step / 2], axis=1), lo, hi)


def write_cmip_like(directory: Path, years: int = 15) -> dict[str, Path]:
    """tas, pr (monthly, 2000-01 onwards, with ``time_bnds``), areacella and sftlf files in
    the CMIP6 layout. tas is colder over land than over the ocean and has a seasonal cycle of
    4 K in the global mean; pr is about 3 mm/day."""
    import pandas as pd
    import xarray as xr

    directory.mkdir(parents=True, exist_ok=True)
    lat, lon = _cmip_grid()
    starts = pd.date_range("2000-01-01", periods=12 * years + 1, freq="MS")
    time = starts[:-1] + (starts[1:] - starts[:-1]) / 2
    time_bnds = np.stack([starts[:-1].values, starts[1:].values], axis=1)
    land = land_fraction() / 100.0
    t_years = (np.arange(time.size) + 0.5) / 12.0
    base = 300.0 - 45.0 * np.sin(np.deg2rad(lat)) ** 2
    season = np.cos(2 * np.pi * (t_years - 0.04))[:, None, None]
    hemis = np.where(lat >= 0, 1.0, 0.4)[None, :, None]
    tas = base[None, :, None] - 6.0 * land[None] - 6.0 * hemis * season * (0.5 + land[None])
    tas = tas + 0.02 * t_years[:, None, None] + np.zeros((1, 1, lon.size))
    pr_mm_day = 3.0 + 1.5 * np.cos(np.deg2rad(lat))[None, :, None] * (1 - 0.5 * land[None])
    pr = (pr_mm_day * (1 + 0.2 * season)) / 86400.0 + np.zeros((time.size, 1, lon.size))
    coords = {"time": time, "lat": lat, "lon": lon}
    common = {
        "lat_bnds": (("lat", "bnds"), _bounds(lat, 10.0, -90.0, 90.0)),
        "lon_bnds": (("lon", "bnds"), _bounds(lon, 10.0, -5.0, 355.0)),
    }
    attrs = {"Conventions": "CF-1.7 CMIP-6.2", "source": "generated for tests"}
    paths: dict[str, Path] = {}
    for name, field, units in (("tas", tas, "K"), ("pr", pr, "kg m-2 s-1")):
        ds = xr.Dataset(
            {
                name: (("time", "lat", "lon"), field.astype(np.float32), {"units": units}),
                "time_bnds": (("time", "bnds"), time_bnds),
                **common,
            },
            coords=coords,
            attrs={**attrs, "variable_id": name},
        )
        paths[name] = directory / f"{name}_Amon_generated_200001-{1999 + years}12.nc"
        ds.to_netcdf(paths[name])
    for name, field, units in (("areacella", cell_areas(), "m2"), ("sftlf", land_fraction(), "%")):
        ds = xr.Dataset(
            {name: (("lat", "lon"), field, {"units": units}), **common},
            coords={"lat": lat, "lon": lon},
            attrs={**attrs, "variable_id": name},
        )
        paths[name] = directory / f"{name}_fx_generated.nc"
        ds.to_netcdf(paths[name])
    return paths
