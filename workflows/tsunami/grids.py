"""Bathymetry grids: readers (NetCDF, GMT, ESRI ASCII), points of interest, idealised basin.

A grid is a :class:`Bathymetry`: 1-D cell-centre axes ``lon`` / ``lat`` (degrees, increasing)
and ``z`` (metres, positive up, shape (len(lat), len(lon))), the Tsunami-HySEA convention.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

__all__ = [
    "Bathymetry",
    "GridError",
    "idealised_basin",
    "read_bathymetry",
    "read_pois",
    "write_bathymetry",
]

_X_NAMES = ("lon", "x", "longitude")
_Y_NAMES = ("lat", "y", "latitude")
_Z_NAMES = ("z", "elevation", "bathymetry", "topo", "Band1")


class GridError(ValueError):
    """A grid or point file that cannot be read; the message names the file and the problem."""


@dataclass(frozen=True)
class Bathymetry:
    lon: np.ndarray
    lat: np.ndarray
    z: np.ndarray
    name: str = "bathymetry"

    @property
    def shape(self) -> tuple[int, int]:
        return self.z.shape  # type: ignore[return-value]

    def subsample(self, step: int) -> Bathymetry:
        """Every ``step``-th cell in each direction (a coarser grid for quick runs)."""
        return Bathymetry(
            self.lon[::step], self.lat[::step], self.z[::step, ::step].copy(), self.name
        )


def read_bathymetry(path: str | Path) -> Bathymetry:
    """Read a NetCDF / GMT (``.nc``, ``.grd``) or ESRI ASCII (``.asc``) grid.

    NetCDF: coordinates ``lon``/``x``, ``lat``/``y``; elevation ``z`` or ``elevation``
    (positive up, metres). GMT grids are NetCDF with ``x``/``y``/``z``. ESRI ASCII: the
    six-line header (ncols, nrows, xllcorner|xllcenter, yll..., cellsize, nodata_value), keys
    and values in either order. Rows are returned south to north.
    """
    p = Path(path)
    if not p.is_file():
        raise GridError(f"{p}: no such bathymetry file")
    suffix = p.suffix.lower()
    if suffix in (".asc", ".txt", ".ascii"):
        return _read_esri_ascii(p)
    return _read_netcdf(p)


def _read_netcdf(p: Path) -> Bathymetry:
    import netCDF4

    try:
        ds = netCDF4.Dataset(p)
    except OSError as exc:
        raise GridError(f"{p}: not a NetCDF/GMT grid ({exc})") from None
    with ds:
        names = set(ds.variables)
        xn = next((n for n in _X_NAMES if n in names), None)
        yn = next((n for n in _Y_NAMES if n in names), None)
        zn = next((n for n in _Z_NAMES if n in names), None)
        if xn is None or yn is None or zn is None:
            raise GridError(
                f"{p}: expected coordinates lon/x and lat/y and a variable z or elevation; "
                f"found {sorted(names)}"
            )
        ds.set_auto_mask(True)
        lon = np.asarray(ds[xn][:], dtype=float)
        lat = np.asarray(ds[yn][:], dtype=float)
        zvar = ds[zn]
        z = np.ma.filled(zvar[:].astype(float), np.nan)
        if (
            zvar.dimensions
            and zvar.dimensions[0] in (xn, "x", "lon")
            and z.shape
            == (
                len(lon),
                len(lat),
            )
        ):
            z = z.T
    return _normalise(lon, lat, z, p)


def _normalise(lon: np.ndarray, lat: np.ndarray, z: np.ndarray, p: Path) -> Bathymetry:
    if z.shape != (len(lat), len(lon)):
        raise GridError(f"{p}: elevation shape {z.shape} does not match lat x lon axes")
    if len(lon) > 1 and lon[1] < lon[0]:
        lon, z = lon[::-1], z[:, ::-1]
    if len(lat) > 1 and lat[1] < lat[0]:
        lat, z = lat[::-1], z[::-1, :]
    if np.isnan(z).any():
        # Missing values are treated as dry land 10 m high (never flooded).
        z = np.where(np.isnan(z), 10.0, z)
    return Bathymetry(lon.copy(), lat.copy(), np.ascontiguousarray(z), p.stem)


def _read_esri_ascii(p: Path) -> Bathymetry:
    header: dict[str, float] = {}
    with p.open() as fh:
        for _ in range(6):
            parts = fh.readline().split()
            if len(parts) != 2:
                raise GridError(f"{p}: malformed ESRI ASCII header line {parts!r}")
            a, b = parts
            key, val = (a, b) if not _is_number(a) else (b, a)
            header[key.lower()] = float(val)
        data = np.loadtxt(fh, dtype=float)
    try:
        ncols, nrows = int(header["ncols"]), int(header["nrows"])
        cell = header["cellsize"]
    except KeyError as exc:
        raise GridError(f"{p}: ESRI ASCII header lacks {exc}") from None
    if "xllcenter" in header:
        x0, y0 = header["xllcenter"], header["yllcenter"]
    else:
        x0 = header.get("xllcorner", header.get("xll", 0.0)) + 0.5 * cell
        y0 = header.get("yllcorner", header.get("yll", 0.0)) + 0.5 * cell
    data = data.reshape(-1)
    if data.size != ncols * nrows:
        raise GridError(f"{p}: {data.size} values for a {nrows} x {ncols} grid")
    z = data.reshape(nrows, ncols)[::-1, :]  # file rows run north to south
    nodata = header.get("nodata_value")
    if nodata is not None:
        z = np.where(z == nodata, np.nan, z)
    lon = x0 + cell * np.arange(ncols)
    lat = y0 + cell * np.arange(nrows)
    return _normalise(lon, lat, z, p)


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def write_bathymetry(bathy: Bathymetry, path: str | Path) -> Path:
    """Write a HySEA-readable bathymetry NetCDF (``lon``, ``lat``, ``z``)."""
    import netCDF4

    p = Path(path)
    with netCDF4.Dataset(p, "w", format="NETCDF4") as ds:
        ds.createDimension("lon", len(bathy.lon))
        ds.createDimension("lat", len(bathy.lat))
        vx = ds.createVariable("lon", "f8", ("lon",))
        vy = ds.createVariable("lat", "f8", ("lat",))
        vz = ds.createVariable("z", "f4", ("lat", "lon"), zlib=True, complevel=4)
        vx[:], vy[:], vz[:] = bathy.lon, bathy.lat, bathy.z
        vx.units, vx.standard_name = "degrees_east", "longitude"
        vy.units, vy.standard_name = "degrees_north", "latitude"
        vz.units, vz.standard_name = "m", "height_above_mean_sea_level"
        ds.Conventions = "CF-1.8"
    return p


def read_pois(path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """Points of interest: a HySEA ``.dat`` (first line the count, then ``lon lat``) or any
    whitespace / comma separated two-column ``lon lat`` file (``#`` comments allowed)."""
    p = Path(path)
    if not p.is_file():
        raise GridError(f"{p}: no such points file")
    rows: list[tuple[float, float]] = []
    lines = [ln.split("#")[0].replace(",", " ").split() for ln in p.read_text().splitlines()]
    lines = [ln for ln in lines if ln]
    if lines and len(lines[0]) == 1:
        expected = int(float(lines[0][0]))
        lines = lines[1:]
        if expected != len(lines):
            raise GridError(f"{p}: header says {expected} points, file has {len(lines)}")
    for k, ln in enumerate(lines):
        try:
            rows.append((float(ln[0]), float(ln[1])))
        except (ValueError, IndexError):
            raise GridError(f"{p}: point {k + 1}: expected 'lon lat', got {ln!r}") from None
    arr = np.array(rows, dtype=float).reshape(-1, 2)
    return arr[:, 0], arr[:, 1]


def idealised_basin(
    lon_min: float = 14.0,
    lon_max: float = 17.0,
    lat_min: float = 36.5,
    lat_max: float = 39.0,
    resolution_deg: float = 1.0 / 40.0,
    deep_m: float = 3000.0,
    shelf_m: float = 100.0,
    coast_lon: float = 16.6,
    shelf_km: float = 15.0,
    slope_km: float = 30.0,
    land_slope: float = 0.01,
) -> Bathymetry:
    """The documented idealised basin used when no bathymetry is given.

    Geometry (all defaults, roughly the size of the Ionian Sea off Calabria): an abyssal
    plain ``deep_m`` (3000 m) deep in the west; moving east, a continental slope
    ``slope_km`` (30 km) wide rising with a smooth cosine profile to a shelf ``shelf_m``
    (100 m) deep and ``shelf_km`` (15 km) wide; then a linear beach reaching the coastline
    (z = 0) and dry land rising at ``land_slope`` (1 %). The coastline runs north-south at
    ``coast_lon`` (16.6 E) but meanders by +-0.06 degrees (a sinusoid of wavelength 1 degree
    of latitude) so that coastal segments differ. Cell size ``resolution_deg`` (1.5 arc-min,
    about 2.2 x 2.8 km), a 121 x 101 grid: small enough for the 2-core demo.
    """
    lon = np.arange(lon_min + 0.5 * resolution_deg, lon_max, resolution_deg)
    lat = np.arange(lat_min + 0.5 * resolution_deg, lat_max, resolution_deg)
    lon2, lat2 = np.meshgrid(lon, lat)
    coast = coast_lon + 0.06 * np.sin(2.0 * math.pi * (lat2 - lat_min) / 1.0)
    km_per_deg = 111.195 * np.cos(np.radians(lat2))
    d = (coast - lon2) * km_per_deg  # km seaward of the coastline (negative on land)
    beach_km = 5.0
    z = np.empty_like(d)
    land = d <= 0.0
    z[land] = -d[land] * 1000.0 * land_slope
    beach = (d > 0.0) & (d <= beach_km)
    z[beach] = -shelf_m * d[beach] / beach_km
    shelf = (d > beach_km) & (d <= beach_km + shelf_km)
    z[shelf] = -shelf_m
    s = (d - beach_km - shelf_km) / slope_km
    slope = (d > beach_km + shelf_km) & (s <= 1.0)
    z[slope] = -shelf_m - (deep_m - shelf_m) * 0.5 * (1.0 - np.cos(math.pi * s[slope]))
    z[s > 1.0] = -deep_m
    return Bathymetry(lon, lat, z, "idealised_basin")
