"""Scenario sampling, commutative aggregation and warning products."""

from __future__ import annotations

import csv
import itertools
import json
from pathlib import Path

import numpy as np
import pytest

from workflows.earthquake.alerts import Mechanism, load_alert
from workflows.tsunami.ensemble import (
    ForecastAccumulator,
    ScenarioResult,
    _auxiliary_plane,
    build_scenarios,
)
from workflows.tsunami.grids import Bathymetry, idealised_basin
from workflows.tsunami.products import coastal_points, level_for, write_products

EVENTS = Path(__file__).resolve().parents[3] / "examples" / "events"


def test_scenarios_sample_around_the_alert_reproducibly():
    ev = load_alert(EVENTS / "messina_m7.json")
    a = build_scenarios(ev, 20, seed=3)
    b = build_scenarios(ev, 20, seed=3)
    assert [s.as_dict() for s in a] == [s.as_dict() for s in b]
    first = a[0].faults[0]
    assert (first.lon, first.lat, first.strike, first.dip, first.rake) == (15.52, 37.95, 20, 35,
                                                                          -90)  # fmt: skip
    mags = np.array([s.magnitude for s in a])
    assert np.all(np.abs(mags - 7.0) <= 0.3 + 1e-12) and mags.std() > 0.05
    assert sum(s.weight for s in a) == pytest.approx(1.0)
    strikes = {round(s.faults[0].strike) // 90 for s in a[1:]}
    assert len(strikes) >= 2  # both nodal planes are sampled
    for s in a:
        f = s.faults[0]
        assert f.depth_km - 0.5 * f.width_km * np.sin(np.radians(f.dip)) >= 0.99


def test_auxiliary_nodal_plane_matches_the_alerts_second_plane():
    aux = _auxiliary_plane(Mechanism(20.0, 35.0, -90.0))
    assert (aux.strike, aux.dip, aux.rake) == pytest.approx((200.0, 55.0, -90.0), abs=1e-6)
    thrust = _auxiliary_plane(Mechanism(0.0, 30.0, 90.0))
    assert (thrust.strike, thrust.dip, thrust.rake) == pytest.approx((180.0, 60.0, 90.0),
                                                                     abs=1e-6)  # fmt: skip


def _results(n_points=4, shape=(5, 6)):
    rng = np.random.default_rng(1)
    out = []
    for k in range(5):
        out.append(ScenarioResult(
            index=k, weight=0.2, poi_max=rng.uniform(0, 1.2, n_points),
            poi_arrival=rng.uniform(100, 900, n_points),
            max_height=rng.uniform(0, 2, shape).astype(np.float32),
            arrival_times=np.where(rng.uniform(size=shape) > 0.3, 300.0, -1.0).astype(np.float32),
        ))  # fmt: skip
    return out


def test_aggregation_is_order_independent():
    results = _results()
    forecasts = []
    for order in itertools.islice(itertools.permutations(results), 0, 120, 17):
        acc = ForecastAccumulator(5, 4)
        for r in order:
            acc.add(r)
        acc.add(order[0])  # a duplicate delivery is not counted twice
        forecasts.append(acc)
    ref = forecasts[0]
    for acc in forecasts[1:]:
        np.testing.assert_allclose(acc.probabilities(), ref.probabilities())
        np.testing.assert_allclose(acc.percentile(84), ref.percentile(84))
        np.testing.assert_allclose(acc.envelope, ref.envelope)
        np.testing.assert_allclose(acc.mean_max, ref.mean_max)
        np.testing.assert_allclose(acc.first_arrival, ref.first_arrival)
    values = np.array([r.poi_max for r in results])
    np.testing.assert_allclose(ref.probabilities()[:, 1], (values > 0.5).mean(axis=0))
    assert ref.complete and len(ref.done) == 5


def test_levels_follow_the_documented_thresholds():
    assert level_for(0.0) == level_for(0.19) == "information"
    assert level_for(0.2) == level_for(0.49) == "advisory"
    assert level_for(0.5) == level_for(3.0) == "watch"
    assert level_for(float("nan")) == "information"


def test_coastal_points_follow_a_coast_that_turns_and_an_island():
    """An L-shaped coast (a north-south stretch, then east-west) and an island: points lie
    offshore along both stretches, each segment is a contiguous piece of one coast, and the
    island is a coast of its own."""
    lon = np.linspace(15.0, 16.0, 101)
    lat = np.linspace(37.0, 38.0, 101)
    x, y = np.meshgrid(lon, lat)
    z = np.full(x.shape, -200.0)
    z[(x > 15.6) & (y > 37.4)] = 300.0  # land: the north-east quadrant
    z[(np.hypot((x - 15.25) * 0.79, y - 37.7) < 0.05)] = 150.0  # an island
    bathy = Bathymetry(lon, lat, z)
    plon, plat, segs = coastal_points(bathy, every=2)
    assert all(bathy.z[np.searchsorted(lat, b), np.searchsorted(lon, a)] <= -20.0
               for a, b in zip(plon, plat, strict=True))  # fmt: skip
    coasts = {s[0] for s in segs}
    assert len(coasts) == 2  # the mainland (longest, "A") and the island ("B")
    main = np.array([s[0] == "A" for s in segs])
    # The east-west stretch (south of the land, y ~ 37.4) and the north-south one are both
    # covered.
    assert ((np.abs(plat - 37.4) < 0.03) & (plon > 15.7) & main).sum() >= 5
    assert ((np.abs(plon - 15.6) < 0.03) & (plat > 37.5) & main).sum() >= 5
    # Consecutive points of one segment are neighbours along the coast, never a jump across.
    for name in set(segs):
        k = [i for i, s in enumerate(segs) if s == name]
        steps = np.hypot(np.diff(plon[k]) * 0.79, np.diff(plat[k]))
        assert (steps < 0.1).all(), (name, steps)
    island = ~main
    assert np.all(np.hypot((plon[island] - 15.25) * 0.79, plat[island] - 37.7) < 0.12)


def test_products_written_and_listed(tmp_path):
    bathy = idealised_basin(resolution_deg=0.1)
    lon, lat, segs = coastal_points(bathy, every=2)
    assert len(lon) > 5 and all(bathy.z[np.searchsorted(bathy.lat, y), np.searchsorted(
        bathy.lon, x)] < 0 for x, y in zip(lon, lat, strict=True))  # fmt: skip
    n = len(lon)
    acc = ForecastAccumulator(3, n)
    for k, height in enumerate((0.1, 0.3, 0.7)):
        acc.add(ScenarioResult(k, 1 / 3, np.full(n, height), np.full(n, 600.0),
                               np.full(bathy.shape, height, np.float32),
                               np.full(bathy.shape, 600.0, np.float32)))  # fmt: skip
    ev = load_alert(EVENTS / "messina_m7.json")
    summary = write_products(acc, tmp_path, bathy, ev, (lon, lat, segs), final=True)
    for name in summary["products"]:
        assert (tmp_path / name).is_file(), name
    assert (tmp_path / "max_height.png").read_bytes()[:4] == b"\x89PNG"
    rows = list(csv.DictReader((tmp_path / "forecast_points.csv").open()))
    assert len(rows) == n
    # Weighted 84th percentile of {0.1, 0.3, 0.7} is 0.7 -> watch; P(>0.5 m) = 1/3.
    assert rows[0]["level"] == "watch"
    assert float(rows[0]["prob_exceed_0.5m"]) == pytest.approx(1 / 3, abs=1e-4)
    assert float(rows[0]["prob_exceed_0.2m"]) == pytest.approx(2 / 3, abs=1e-4)
    gj = json.loads((tmp_path / "coastal_segments.geojson").read_text())
    assert gj["features"][0]["properties"]["level"] == "watch"
    assert summary["status"] == "final" and "NEAMTWS" in summary["levels"]["source"]


def test_map_labels_every_coastal_segment_with_its_level():
    """The map draws the coastline (zero contour of the bathymetry) and, along it, each
    coastal segment in its level's colour with a label naming the segment and its level."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from workflows.tsunami.products import _COLOURS, _points_table, _segments_table, map_figure

    bathy = idealised_basin(resolution_deg=0.05)
    lon, lat, segs = coastal_points(bathy, every=2)
    n = len(lon)
    # Heights rising along the coast: the segments span all three levels.
    heights = np.linspace(0.0, 1.2, n)
    acc = ForecastAccumulator(1, n)
    acc.add(ScenarioResult(0, 1.0, heights, np.full(n, 600.0),
                           np.full(bathy.shape, 0.3, np.float32),
                           np.full(bathy.shape, 600.0, np.float32)))  # fmt: skip
    points = _points_table(acc, lon, lat, segs)
    segments = _segments_table(points)
    assert {s["level"] for s in segments} == {"information", "advisory", "watch"}
    fig = map_figure(acc, bathy, points, segments, load_alert(EVENTS / "messina_m7.json"))
    ax = fig.axes[0]
    labels = {t.get_gid(): t for t in ax.texts if (t.get_gid() or "").startswith("segment-")}
    assert len(labels) == len(segments)
    for seg in segments:
        label = labels[f"segment-label-{seg['segment']}"]
        assert label.get_text() == f"{seg['segment']} {seg['level']}"
        assert (
            matplotlib.colors.to_hex(label.get_bbox_patch().get_edgecolor())
            == _COLOURS[seg["level"]]
        )
    # The coastline: a contour set at level 0 of the bathymetry.
    zero = [c for c in ax.collections if list(getattr(c, "levels", [])) == [0.0]]
    assert zero, "no zero contour of the bathymetry on the map"
    plt.close(fig)
