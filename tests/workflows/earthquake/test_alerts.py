"""Alert parsing (USGS GeoJSON, EMSC, QuakeML, UCIS4EQ) and the scaling laws."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from workflows.earthquake.alerts import AlertError, load_alert, parse_alert, same_event
from workflows.earthquake.scaling import fault_size, min_centroid_depth_km, moment, slip_type

EVENTS = Path(__file__).resolve().parents[3] / "examples" / "events"


def test_bundled_usgs_alert():
    ev = load_alert(EVENTS / "messina_m7.json")
    assert ev.source_format == "usgs-geojson"
    assert (ev.lon, ev.lat, ev.depth_km, ev.magnitude) == (15.52, 37.95, 12.0, 7.0)
    assert ev.mechanism is not None and ev.mechanism.rake == -90.0
    assert ev.time.year == 2026 and ev.time.tzinfo is not None
    assert ev.event_id == "us7000messina"


def test_bundled_emsc_alert_is_the_same_event():
    usgs = load_alert(EVENTS / "messina_m7.json")
    emsc = load_alert(EVENTS / "messina_m7_emsc.json")
    assert emsc.source_format == "emsc" and emsc.depth_km == 10.0 and emsc.magnitude == 6.9
    assert emsc.place == "SICILY, ITALY"
    assert same_event(usgs, emsc)
    quake = load_alert(EVENTS / "ionian_m65_quakeml.xml")
    assert not same_event(usgs, quake)


def test_bundled_quakeml_alert_depth_in_metres():
    ev = load_alert(EVENTS / "ionian_m65_quakeml.xml")
    assert ev.source_format == "quakeml"
    assert ev.depth_km == pytest.approx(18.0)
    assert ev.magnitude == 6.5 and ev.magnitude_type == "Mw" and ev.agency == "INGV"
    assert ev.mechanism is not None and ev.mechanism.strike == 210.0


def test_ucis4eq_alert():
    ev = parse_alert({"uuid": "abc", "alerts": [{"agency": "IGN", "time": "2026/09/21, 07:00:05",
                      "latitude": 37.9, "longitude": 15.8, "magnitude": 7.1, "depth": 15000,
                      "cmt": {"strike": 10, "dip": 40, "rake": 80}}]})  # fmt: skip
    assert ev.source_format == "ucis4eq" and ev.depth_km == 15.0
    assert ev.mechanism.dip == 40.0 and ev.time.hour == 7


def test_usgs_feature_collection_and_errors():
    feature = json.loads((EVENTS / "messina_m7.json").read_text())
    ev = parse_alert({"type": "FeatureCollection", "features": [feature]})
    assert ev.magnitude == 7.0
    with pytest.raises(AlertError, match="mag"):
        broken = dict(feature, properties={"time": 0})
        parse_alert(broken)
    with pytest.raises(AlertError, match="unknown alert format"):
        parse_alert({"hello": 1})
    with pytest.raises(AlertError, match="neither JSON"):
        parse_alert("{nope")
    with pytest.raises(AlertError, match="UCIS4EQ: time"):
        parse_alert({"alerts": [{"time": "yesterday"}]})


def test_scaling_laws():
    assert moment(7.0) == pytest.approx(10**19.6)
    size = fault_size(7.0, rake=90.0)
    # Wells & Coppersmith (1994) reverse: L = 10^(-2.42+0.58*7), W = 10^(-1.61+0.41*7).
    assert size.length_km == pytest.approx(10 ** (-2.42 + 4.06))
    assert size.width_km == pytest.approx(10 ** (-1.61 + 2.87))
    assert size.slip_m == pytest.approx(moment(7.0) / (3e10 * size.length_km * size.width_km
                                                       * 1e6))  # fmt: skip
    assert 1.0 < size.slip_m < 5.0
    inter = fault_size(9.0, interface=True)
    assert inter.length_km == pytest.approx(10 ** (-2.477 + 0.585 * 9))
    assert slip_type(0) == "strike-slip" and slip_type(-90) == "normal"
    assert slip_type(170) == "strike-slip" and slip_type(None) == "all"
    with pytest.raises(ValueError, match="outside"):
        fault_size(3.0)
    assert min_centroid_depth_km(20.0, 30.0) == pytest.approx(5.0 + 1.0)
    assert math.isfinite(fault_size(6.0, rake=-90).slip_m)
