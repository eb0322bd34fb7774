"""The climate workflow on real CMIP6 files and on a synthetic field with known answers."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from workflows.climate import analytics

ROOT = Path(__file__).resolve().parents[3]
DATA = ROOT / ".." / "shared" / "data" / "climate"
TAS = DATA / "tas_Amon_ACCESS-ESM1-5_historical_r1i1p1f1_gn_200001-201412.nc"
PR = DATA / "pr_Amon_ACCESS-ESM1-5_historical_r1i1p1f1_gn_200001-201412.nc"
AREA = DATA / "areacella_fx_ACCESS-ESM1-5_historical_r1i1p1f1_gn.nc"
LAND = DATA / "sftlf_fx_ACCESS-ESM1-5_historical_r1i1p1f1_gn.nc"


def test_global_mean_matches_an_independent_numpy_weighted_mean() -> None:
    with xr.open_dataset(TAS) as ds, xr.open_dataset(AREA) as a:
        tas = ds["tas"].load()
        area = a["areacella"].load()
    series = analytics.global_mean(tas, analytics.area_weights(tas, area))
    w = area.values.astype("float64")
    expected = (tas.values * w).sum(axis=(1, 2)) / w.sum()
    np.testing.assert_allclose(series.values, expected, rtol=1e-6)


def test_annual_means_weight_months_by_their_length() -> None:
    with xr.open_dataset(TAS) as ds:
        tas = ds["tas"].load()
        series = analytics.global_mean(tas, analytics.area_weights(tas))
        days = analytics._month_lengths(tas, ds)
    annual = analytics.annual_means(series, days)
    first = series.values[:12]
    d = days.values[:12]
    assert d.sum() == 366  # 2000 is a leap year: the bounds say so
    assert annual.sel(year=2000).item() == pytest.approx((first * d).sum() / d.sum(), rel=1e-9)


def test_real_cmip6_run_writes_products_with_plausible_climate(tmp_path: Path) -> None:
    summary = analytics.run([str(TAS), str(PR)], str(tmp_path), str(AREA), str(LAND))
    by_var = {v["variable"]: v for v in summary["variables"]}
    tas = by_var["tas"]
    # Observed global mean near-surface temperature 2000-2014 is about 14.5 degC.
    assert 13.0 < tas["global_mean_display"]["value"] < 16.0
    assert tas["land_mean"] < tas["ocean_mean"]  # land is colder on average (Antarctica)
    assert 2.0 < tas["seasonal_amplitude"] < 6.0  # NH land drives a ~4 K global cycle
    pr = by_var["pr"]
    assert 2.5 < pr["global_mean_display"]["value"] < 3.5  # about 1,000 mm per year
    for product in summary["products"]:
        assert (tmp_path / product).is_file(), product
    trend = xr.open_dataarray(tmp_path / "tas_trend.nc")
    assert trend.shape == (19, 36)
    rows = (tmp_path / "global_means.csv").read_text().splitlines()
    assert rows[0] == "variable,region,time,value,units"
    assert len(rows) == 1 + 2 * 3 * 180  # 2 variables x (global, land, ocean) x 180 months


def test_synthetic_field_recovers_its_known_trend(tmp_path: Path) -> None:
    path = analytics.write_synthetic_tas(tmp_path / "tas.nc", years=15, trend_per_decade=0.3)
    summary = analytics.run([str(path)], str(tmp_path / "out"))
    assert summary["variables"][0]["trend_per_decade"] == pytest.approx(0.3, rel=1e-3)


@pytest.mark.integration
def test_runs_under_the_task_runtime_launcher(tmp_path: Path) -> None:
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "workflows.runtime",
            "workflows.climate.analytics",
            "--synthetic",
            "--output",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
    )
    assert proc.returncode == 0, proc.stderr
    assert "products in" in proc.stdout
    assert json.loads((tmp_path / "summary.json").read_text())["variables"][0]["variable"] == "tas"


def test_missing_input_is_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        analytics.main(["--input", str(tmp_path / "nope.nc"), "--output", str(tmp_path)])
    assert exc.value.code == 2
    assert "file not found" in capsys.readouterr().err
