"""Bathymetry readers, points of interest, HySEA-style NetCDF output and reader."""

from __future__ import annotations

import netCDF4
import numpy as np
import pytest

from tests.support import sample_data as gen
from tests.support.sample_data import shared_file
from workflows.tsunami.grids import (
    GridError,
    idealised_basin,
    read_bathymetry,
    read_pois,
    write_bathymetry,
)
from workflows.tsunami.output import read_grid_output, write_grid_output, write_poi_output
from workflows.tsunami.solver import simulate


def test_reads_gebco_netcdf_and_esri_ascii_with_known_values(sample_data):
    # Generated files in the GEBCO / ETOPO layouts: every value is known.
    strait = read_bathymetry(sample_data["strait_nc"])
    lon, lat, z = gen.strait_elevation()
    np.testing.assert_array_equal(strait.z, z.astype(strait.z.dtype))
    np.testing.assert_allclose(strait.lon, lon)
    np.testing.assert_allclose(strait.lat, lat)
    japan = read_bathymetry(sample_data["japan_asc"])
    assert japan.shape == gen.ETOPO_SHAPE
    # Cell centres from the lower-left corner; rows flipped from north-first to south->north.
    assert japan.lon[0] == pytest.approx(gen.ETOPO_CORNER[0] + gen.ETOPO_CELL / 2, abs=1e-9)
    assert japan.lat[0] == pytest.approx(gen.ETOPO_CORNER[1] + gen.ETOPO_CELL / 2, abs=1e-9)
    np.testing.assert_array_equal(japan.z, gen.etopo_elevation().astype(japan.z.dtype))


@pytest.mark.shared_data
def test_reads_the_real_gebco_netcdf_and_etopo_esri_ascii():
    messina = read_bathymetry(shared_file("bathymetry/messina_gebco2022_15s.nc"))
    assert messina.shape == (240, 240)
    assert np.all(np.diff(messina.lat) > 0) and np.all(np.diff(messina.lon) > 0)
    assert messina.lon[1] - messina.lon[0] == pytest.approx(15.0 / 3600.0)
    tohoku = read_bathymetry(shared_file("bathymetry/tohoku_etopo1_139E147E34N41N.asc"))
    assert tohoku.shape == (421, 481)
    assert tohoku.lon[0] == pytest.approx(139.0 + 0.5 / 60.0, abs=1e-6)
    # North-east corner is the deep Pacific, west is Honshu: rows were flipped south->north.
    assert tohoku.z[-1, -1] < -4000 and tohoku.z[200, 0] > 0


def test_gmt_style_xyz_grid_and_errors(tmp_path):
    bathy = idealised_basin()
    path = tmp_path / "gmt.grd"
    with netCDF4.Dataset(path, "w") as ds:
        ds.createDimension("x", len(bathy.lon))
        ds.createDimension("y", len(bathy.lat))
        ds.createVariable("x", "f8", ("x",))[:] = bathy.lon
        ds.createVariable("y", "f8", ("y",))[:] = bathy.lat[::-1]  # north-up storage
        ds.createVariable("z", "f4", ("y", "x"))[:] = bathy.z[::-1]
    back = read_bathymetry(path)
    np.testing.assert_allclose(back.z, bathy.z, atol=1e-3)
    with pytest.raises(GridError, match="no such"):
        read_bathymetry(tmp_path / "missing.nc")
    bad = tmp_path / "bad.nc"
    with netCDF4.Dataset(bad, "w") as ds:
        ds.createDimension("n", 2)
        ds.createVariable("foo", "f4", ("n",))
    with pytest.raises(GridError, match="lon/x"):
        read_bathymetry(bad)


def test_pois_in_hysea_format(sample_data):
    lon, lat = read_pois(sample_data["pois"])
    want_lon, want_lat = gen.strait_pois()
    assert len(lon) == 98
    np.testing.assert_allclose(lon, want_lon, atol=1e-5)
    np.testing.assert_allclose(lat, want_lat, atol=1e-5)


@pytest.mark.shared_data
def test_real_messina_pois_in_hysea_format():
    lon, lat = read_pois(shared_file("bathymetry/messina_pois.dat"))
    assert len(lon) == 98 and lon[0] == pytest.approx(15.99167)
    assert (lat > 37.0).all()


def test_idealised_basin_geometry():
    b = idealised_basin()
    assert b.shape == (100, 120)
    assert b.z.min() == pytest.approx(-3000.0)
    row = b.z[50]
    # West deep, east land, with a 100 m shelf in between.
    assert row[0] == -3000.0 and row[-1] > 0 and (row == -100.0).any()


def test_grid_output_roundtrip_in_hysea_layout(tmp_path):
    b = idealised_basin(resolution_deg=0.1)
    uz = np.zeros_like(b.z)
    uz[10:14, 5:9] = 1.0
    res = simulate(b.z, b.lon, b.lat, 600.0, deformation=uz, save_interval=200.0,
                   pois=([15.0, 16.55], [37.5, 38.0]))  # fmt: skip
    path = write_grid_output(res, tmp_path / "out.nc", original=b.z)
    with netCDF4.Dataset(path) as ds:
        for name in ("eta", "ux", "uy", "max_height", "arrival_times", "deformed_bathy",
                     "original_bathy", "time", "lon", "lat"):  # fmt: skip
            assert name in ds.variables, name
        assert ds["eta"].dimensions == ("time", "lat", "lon")
        assert ds["eta"]._FillValue == pytest.approx(-9999.0)
        assert ds["eta"].filters()["zlib"] is True
        assert ds.Conventions == "CF-1.8"
    back = read_grid_output(path)
    assert list(back["time"]) == [0.0, 200.0, 400.0, 600.0]
    np.testing.assert_allclose(back["max_height"], np.where(res.max_height < -9000, np.nan,
                               res.max_height), atol=1e-5)  # fmt: skip
    assert (back["arrival_times"] >= -1).all() and (back["arrival_times"] > 0).any()
    ts = write_poi_output(res, tmp_path / "ts.nc")
    with netCDF4.Dataset(ts) as ds:
        assert ds["eta"].shape == (len(res.poi_times), 2)
        assert ds["max_height"][0] >= ds["min_height"][0]


def test_write_bathymetry_roundtrip(tmp_path):
    b = idealised_basin(resolution_deg=0.1)
    back = read_bathymetry(write_bathymetry(b, tmp_path / "b.nc"))
    np.testing.assert_allclose(back.z, b.z, atol=1e-3)
