"""The climate workflow on real CMIP6 files and on a synthetic field with known answers."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from tests.support.sample_data import shared_file
from workflows.climate import analytics

ROOT = Path(__file__).resolve().parents[3]
ACCESS = "climate/{}_ACCESS-ESM1-5_historical_r1i1p1f1_gn{}.nc"


def real_cmip6() -> dict[str, Path]:
    """The shared CMIP6 ACCESS-ESM1-5 files (the test is skipped where they are absent)."""
    return {
        "tas": shared_file(ACCESS.format("tas_Amon", "_200001-201412")),
        "pr": shared_file(ACCESS.format("pr_Amon", "_200001-201412")),
        "areacella": shared_file(ACCESS.format("areacella_fx", "")),
        "sftlf": shared_file(ACCESS.format("sftlf_fx", "")),
    }


@pytest.fixture(params=["generated", pytest.param("real", marks=pytest.mark.shared_data)])
def cmip(request: pytest.FixtureRequest) -> dict[str, Path]:
    """CMIP6-layout files: generated ones everywhere, the real ones where ../shared has them."""
    return request.getfixturevalue("sample_data") if request.param == "generated" else real_cmip6()


def test_global_mean_matches_an_independent_numpy_weighted_mean(cmip: dict[str, Path]) -> None:
    with xr.open_dataset(cmip["tas"]) as ds, xr.open_dataset(cmip["areacella"]) as a:
        tas = ds["tas"].load()
        area = a["areacella"].load()
    series = analytics.global_mean(tas, analytics.area_weights(tas, area))
    w = area.values.astype("float64")
    expected = (tas.values * w).sum(axis=(1, 2)) / w.sum()
    np.testing.assert_allclose(series.values, expected, rtol=1e-6)


def test_annual_means_weight_months_by_their_length(cmip: dict[str, Path]) -> None:
    with xr.open_dataset(cmip["tas"]) as ds:
        tas = ds["tas"].load()
        series = analytics.global_mean(tas, analytics.area_weights(tas))
        days = analytics._month_lengths(tas, ds)
    annual = analytics.annual_means(series, days)
    first = series.values[:12]
    d = days.values[:12]
    assert d.sum() == 366  # 2000 is a leap year: the bounds say so
    assert annual.sel(year=2000).item() == pytest.approx((first * d).sum() / d.sum(), rel=1e-9)


def test_products_of_a_two_variable_run(tmp_path: Path, cmip: dict[str, Path]) -> None:
    files = [str(cmip["tas"]), str(cmip["pr"])]
    summary = analytics.run(files, str(tmp_path), str(cmip["areacella"]), str(cmip["sftlf"]))
    for product in summary["products"]:
        assert (tmp_path / product).is_file(), product
    trend = xr.open_dataarray(tmp_path / "tas_trend.nc")
    assert trend.shape == (19, 36)
    rows = (tmp_path / "global_means.csv").read_text().splitlines()
    assert rows[0] == "variable,region,time,value,units"
    assert len(rows) == 1 + 2 * 3 * 180  # 2 variables x (global, land, ocean) x 180 months
    by_var = {v["variable"]: v for v in summary["variables"]}
    assert by_var["tas"]["land_mean"] < by_var["tas"]["ocean_mean"]


def test_generated_fields_give_their_known_land_and_ocean_means(
    tmp_path: Path, sample_data: dict[str, Path]
) -> None:
    from tests.support import sample_data as gen

    summary = analytics.run(
        [str(sample_data["tas"])], str(tmp_path), str(sample_data["areacella"]),
        str(sample_data["sftlf"]),
    )  # fmt: skip
    (tas,) = summary["variables"]
    with xr.open_dataset(sample_data["tas"]) as ds:
        field = ds["tas"].values.astype("float64")
        days = ds["time"].dt.days_in_month.values.reshape(-1, 12).astype("float64")
    area = gen.cell_areas().astype("float64")
    land = gen.land_fraction() == 100.0

    def mean_of_annual_means(cells: np.ndarray) -> float:
        # Independent answer: area-weighted monthly means over the cells, each year's
        # months weighted by their length, then the mean of the years.
        monthly = (field[:, cells] * area[cells]).sum(axis=1) / area[cells].sum()
        annual = (monthly.reshape(-1, 12) * days).sum(axis=1) / days.sum(axis=1)
        return float(annual.mean())

    land_mean, ocean_mean = mean_of_annual_means(land), mean_of_annual_means(~land)
    assert tas["land_mean"] == pytest.approx(land_mean, rel=1e-5)
    assert tas["ocean_mean"] == pytest.approx(ocean_mean, rel=1e-5)


@pytest.mark.shared_data
def test_real_cmip6_run_writes_products_with_plausible_climate(tmp_path: Path) -> None:
    real = real_cmip6()
    summary = analytics.run(
        [str(real["tas"]), str(real["pr"])], str(tmp_path), str(real["areacella"]),
        str(real["sftlf"]),
    )  # fmt: skip
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
