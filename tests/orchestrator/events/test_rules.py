"""Rules files: validated like templates (every problem at its file:line, never a
traceback), regions as boxes or GeoJSON polygons, and EventTrigger policies as rules."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from orchestrator.cli.main import build_app
from orchestrator.errors import ValidationError
from orchestrator.events.rules import load_rules, region_of, rules_from_policy

GOOD = """\
defaults:
  max_age: 2 h
  association: {seconds: 90, km: 80}
rules:
  - name: ionian
    deployment: tsunami
    urgency: urgent
    magnitude: {min: 6.5}
    depth_km: {max: 100}
    region: {file: ionian.geojson}
    agencies: [us, EMSC]
    on_update: rerun
    rerun_when: {magnitude_change: 0.5}
    inputs:
      event_file: $event.file
      magnitude: $event.magnitude
      label: fixed
  - name: everything
    deployment: other
    workflow: watch
"""

IONIAN = {
    "type": "Feature",
    "geometry": {"type": "Polygon", "coordinates": [[[15, 36], [22, 36], [22, 40], [15, 40],
                                                      [15, 36]]]},
}  # fmt: skip


def test_a_good_file_gives_its_rules_with_defaults(tmp_path: Path) -> None:
    (tmp_path / "ionian.geojson").write_text(json.dumps(IONIAN))
    (tmp_path / "rules.yaml").write_text(GOOD)
    rules = load_rules(tmp_path / "rules.yaml")
    ionian, everything = rules.rules
    assert ionian.min_magnitude == 6.5 and ionian.max_depth_km == 100
    assert ionian.max_age_s == 7200 and ionian.association_km == 80
    assert ionian.on_update == "rerun" and ionian.rerun_magnitude_change == 0.5
    assert ionian.rerun_km == 30.0 and ionian.agencies == ("us", "emsc")
    assert ionian.region is not None and ionian.region.contains(18.0, 38.0)
    assert not ionian.region.contains(12.0, 38.0)
    assert everything.workflow == "watch" and everything.min_magnitude is None
    assert ionian.origin.endswith("rules.yaml:5")


def test_every_problem_is_reported_at_its_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("""\
rules:
  - name: a
    deployment: tsunami
    magnitude: {min: 7, max: 6}
    urgency: asap
    on_update: sometimes
    inputs:
      m: $event.magnitud
  - name: a
    colour: red
    max_age: soon
    region: {type: Polygon, coordinates: [[[0, 0], [1, 1], [0, 0]]]}
""")
    with pytest.raises(ValidationError) as err:
        load_rules(bad)
    lines = str(err.value).splitlines()
    text = "\n".join(lines)
    assert f"{bad}:4" in text and "min 7 > max 6" in text
    assert f"{bad}:5" in text and "'urgency' must be one of" in text
    assert f"{bad}:6" in text and "'on_update'" in text
    assert f"{bad}:8" in text and "unknown event field '$event.magnitud'" in text
    assert f"{bad}:9" in text and "used twice" in text
    assert f"{bad}:10" in text and "unknown key 'colour'" in text
    assert f"{bad}:11" in text and "duration" in text
    assert f"{bad}:12" in text and "linear ring" in text
    assert "deployment" in text  # the second rule has none


def test_the_cli_validates_without_a_traceback(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("rules:\n  - name: x\n    deployment: [\n")
    result = CliRunner().invoke(build_app(), ["events", "rules", "validate", str(bad)])
    assert result.exit_code == 1
    assert f"{bad}:" in result.output and "YAML syntax error" in result.output
    assert "Traceback" not in result.output
    (tmp_path / "ionian.geojson").write_text(json.dumps(IONIAN))
    good = tmp_path / "good.yaml"
    good.write_text(GOOD)
    result = CliRunner().invoke(build_app(), ["events", "rules", "validate", str(good)])
    assert result.exit_code == 0, result.output
    assert "2 rules, valid" in result.output and "ionian: tsunami/exec_job" in result.output


def test_regions_multipolygons_with_holes_and_boxes() -> None:
    square = [[0, 0], [10, 0], [10, 10], [0, 10], [0, 0]]
    hole = [[4, 4], [6, 4], [6, 6], [4, 6], [4, 4]]
    far = [[100, 0], [101, 0], [101, 1], [100, 1], [100, 0]]
    region = region_of({"type": "MultiPolygon", "coordinates": [[square, hole], [far]]})
    assert region.contains(2, 2) and not region.contains(5, 5) and region.contains(100.5, 0.5)
    assert not region.contains(50, 50)
    box = region_of({"min_lat": 30, "max_lat": 46, "min_lon": -6, "max_lon": 37})
    assert box.contains(15.6, 38.2) and box.contains(375.6, 38.2)  # longitudes wrap
    assert not box.contains(-20, 38)
    with pytest.raises(ValueError, match="GeoJSON type"):
        region_of({"type": "LineString", "coordinates": [[0, 0], [1, 1]]})


def test_an_event_trigger_policy_is_a_rule() -> None:
    rule = rules_from_policy("tsunami", "earthquake_alerts", {
        "event_type": "earthquake", "min_magnitude": 6.5, "max_depth_km": 100.0,
        "region": {"min_lat": 30.0, "max_lat": 46.0, "min_lon": -6.0, "max_lon": 37.0},
        "max_age": "1 h", "workflow": "exec_job", "urgency": "urgent",
        "inputs": {"event_file": "$event.file"},
    })  # fmt: skip
    assert rule is not None and rule.name == "tsunami/earthquake_alerts"
    assert rule.deployment == "tsunami" and rule.max_age_s == 3600 and rule.urgency == "urgent"
    event = {"magnitude": 7.0, "depth_km": 10, "lat": 38.2, "lon": 15.6}
    assert rule.mismatch(event, {"agency": "us", "source_format": "emsc"}, 60) is None
    assert "magnitude 6.1 < 6.5" in (rule.mismatch({**event, "magnitude": 6.1}, {}, 60) or "")
    assert "outside the region" in (rule.mismatch({**event, "lon": 140.0}, {}, 60) or "")
    assert "max_age" in (rule.mismatch(event, {}, 7200) or "")
    assert rules_from_policy("d", "p", {"event_type": "flood"}) is None
