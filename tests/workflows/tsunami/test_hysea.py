"""Tsunami-HySEA integration: generated files, and the @binary task on a stand-in binary."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import netCDF4
import numpy as np
import pytest

from tests.support.sample_data import shared_file
from workflows.earthquake.alerts import load_alert
from workflows.tsunami.ensemble import build_scenarios
from workflows.tsunami.grids import idealised_basin, write_bathymetry
from workflows.tsunami.hysea import parameter_file_text, prepare_scenario, read_scenario_output
from workflows.tsunami.output import write_grid_output
from workflows.tsunami.solver import simulate

ROOT = Path(__file__).resolve().parents[3]


def _comments(text: str) -> list[str]:
    return [ln.split("#", 1)[1].strip() for ln in text.splitlines() if "#" in ln]


@pytest.mark.shared_data
def test_parameter_file_has_the_template_layout():
    ours = parameter_file_text("s1", "/b.nc", "/d.nc", "/out/s1", 7200.0)
    template = shared_file("bathymetry/hysea_parameter_file.template.txt").read_text()
    # Same lines, same meaning (the template's comments may carry extra notes).
    pairs = list(zip(_comments(ours), _comments(template), strict=True))
    assert all(t.startswith(o) for o, t in pairs), pairs


def test_parameter_file_values_and_points_line():
    ours = parameter_file_text("s1", "/b.nc", "/d.nc", "/out/s1", 7200.0)
    assert len(ours.splitlines()) == 25  # HySEA reads a fixed sequence of 25 lines
    values = [ln.split("#", 1)[0].strip() for ln in ours.splitlines()]
    assert values[:3] == ["s1", "/b.nc", "6"]
    assert values[13] == "7200.0" and values[15] == "0"
    with_points = parameter_file_text("s1", "/b.nc", "/d.nc", "/out/s1", 60.0, "/p.dat")
    lines = with_points.splitlines()
    assert lines[15].split("#")[0].strip() == "1" and lines[16].startswith("/p.dat")
    assert len(lines) == len(ours.splitlines()) + 1


def test_prepare_scenario_writes_inputs(tmp_path):
    bathy_path = write_bathymetry(idealised_basin(resolution_deg=0.1), tmp_path / "b.nc")
    ev = load_alert(ROOT / "examples" / "events" / "messina_m7.json")
    scen = build_scenarios(ev, 1)[0]
    run = prepare_scenario(scen, str(bathy_path), ([16.2, 16.3], [37.9, 38.0]), 600.0,
                           tmp_path / "s0")  # fmt: skip
    text = Path(run.parameter_file).read_text()
    assert str(bathy_path.resolve()) in text and run.output_prefix in text
    pts = (tmp_path / "s0" / "points.dat").read_text().split("\n")
    assert pts[0] == "2" and pts[1].startswith("16.2")
    with netCDF4.Dataset(tmp_path / "s0" / "deformation.nc") as ds:
        assert ds["z"].dimensions == ("time", "lat", "lon")
        assert float(np.abs(ds["z"][:]).max()) > 0.1


def test_reader_on_a_hysea_style_output(tmp_path):
    b = idealised_basin(resolution_deg=0.1)
    uz = np.zeros_like(b.z)
    uz[10:13, 8:11] = 1.0
    res = simulate(b.z, b.lon, b.lat, 600.0, deformation=uz, save_interval=300.0)
    write_grid_output(res, tmp_path / "scenario_000.nc", original=b.z)
    from workflows.tsunami.hysea import HyseaRun

    run = HyseaRun(0, 1.0, "", str(tmp_path / "scenario_000"), str(tmp_path))
    pois = (np.array([b.lon[9]]), np.array([b.lat[11]]))
    r = read_scenario_output(run, pois)
    assert r.backend == "hysea" and r.poi_max[0] == pytest.approx(res.max_height[11, 9],
                                                                  abs=1e-5)  # fmt: skip
    assert read_scenario_output(run, pois, exit_code=1) is None


FAKE_HYSEA = r'''#!{python}
"""Stand-in for Tsunami-HySEA: reads the parameter file, writes a HySEA-style output."""
import sys
import numpy as np
import netCDF4
values = [ln.split("#", 1)[0].strip() for ln in open(sys.argv[1])]
bathy, deformation, prefix = values[1], values[5], values[6]
with netCDF4.Dataset(deformation) as d:
    lon, lat, uz = d["lon"][:], d["lat"][:], d["z"][0]
with netCDF4.Dataset(prefix + ".nc", "w") as ds:
    ds.createDimension("lon", len(lon)); ds.createDimension("lat", len(lat))
    ds.createVariable("lon", "f8", ("lon",))[:] = lon
    ds.createVariable("lat", "f8", ("lat",))[:] = lat
    ds.createVariable("max_height", "f4", ("lat", "lon"), fill_value=-9999.0)[:] = np.abs(uz) + 0.6
    ds.createVariable("arrival_times", "f4", ("lat", "lon"))[:] = np.full(uz.shape, 120.0)
'''


@pytest.mark.slow
def test_forecast_runs_scenarios_through_the_binary_task(tmp_path):
    import subprocess

    fake = tmp_path / "hysea_fake"
    fake.write_text(FAKE_HYSEA.replace("{python}", sys.executable))
    fake.chmod(0o755)
    out = tmp_path / "out"
    proc = subprocess.run(
        [sys.executable, "-m", "workflows.runtime", "workflows.tsunami.forecast", "--event",
         str(ROOT / "examples" / "events" / "messina_m7.json"), "--output", str(out),
         "--scenarios", "2", "--duration", "300", "--hysea", str(fake)],
        capture_output=True, text=True, timeout=300, cwd=ROOT,
        env={**__import__("os").environ, "TOSCA_RUNTIME_GPUS": "0"},
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    import json

    summary = json.loads((out / "summary.json").read_text())
    assert summary["backends"] == {"hysea": 2}
    assert summary["highest_level"] == "watch"  # the stand-in reports >= 0.6 m everywhere
    assert re.search(r"products in .*summary\.json", proc.stdout)
    assert (out / "hysea" / "s000" / "parameters.txt").is_file()
