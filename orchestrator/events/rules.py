"""Event rules: which earthquakes start which deployment's workflow, at which urgency, with
which inputs; read from a YAML file (validated with file:line for every problem) or from the
``eflows4hpc.policies.EventTrigger`` policies of deployed templates.

A rules file::

    defaults:                      # optional; these are the built-in values
      max_age: 1 h                 # older origins are dropped
      association: {seconds: 120, km: 100}
    rules:
      - name: ionian-tsunami       # unique; names the runs' idempotency keys
        deployment: tsunami        # a deployed deployment's id
        workflow: exec_job         # default exec_job
        urgency: urgent            # default: the template's Urgency policy
        magnitude: {min: 6.5}      # inclusive bounds, either may be left out
        depth_km: {max: 100}
        region: {min_lat: 30, max_lat: 46, min_lon: -6, max_lon: 37}
        # or a GeoJSON Polygon / MultiPolygon / Feature(Collection), inline or
        #   region: {file: mediterranean.geojson}   (relative to the rules file)
        tsunami: true              # only alerts flagged tsunami by their agency
        agencies: [us, EMSC, INGV] # reports from these agencies only (case-insensitive)
        formats: [usgs-geojson, emsc, quakeml, ucis4eq]
        max_age: 30 m
        association: {seconds: 60, km: 50}
        on_update: refine          # refine | rerun | ignore
        rerun_when: {magnitude_change: 0.3, km: 30}
        max_reruns: 2
        rerun_urgency: high
        inputs:
          event_file: $event.file
          magnitude: $event.magnitude
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from orchestrator.errors import Location, Problem, ValidationError
from orchestrator.tosca.values import scalar_seconds
from orchestrator.tosca.yamlloc import line_of, load_yaml

__all__ = [
    "DEFAULT_ASSOCIATION_KM",
    "DEFAULT_ASSOCIATION_S",
    "DEFAULT_MAX_AGE_S",
    "EVENT_FIELDS",
    "Region",
    "Rule",
    "RuleSet",
    "duration",
    "load_rules",
    "rules_from_policy",
]

DEFAULT_MAX_AGE_S = 3600.0
DEFAULT_ASSOCIATION_S = 120.0
DEFAULT_ASSOCIATION_KM = 100.0
ON_UPDATE = ("refine", "rerun", "ignore")
URGENCIES = ("routine", "high", "urgent", "emergency")
FORMATS = ("usgs-geojson", "emsc", "quakeml", "ucis4eq")
# What "$event.<field>" may name in a rule's inputs.
EVENT_FIELDS = (
    "id", "report_id", "time", "lat", "lon", "depth_km", "magnitude", "magnitude_type",
    "agency", "place", "tsunami", "strike", "dip", "rake", "file", "format",
)  # fmt: skip
_RULE_KEYS = {
    "name", "deployment", "workflow", "urgency", "magnitude", "depth_km", "region", "tsunami",
    "agencies", "formats", "max_age", "association", "on_update", "rerun_when", "max_reruns",
    "rerun_urgency", "inputs", "description",
}  # fmt: skip


@dataclass(frozen=True)
class Region:
    """A bounding box or GeoJSON (multi)polygons, lon/lat in degrees."""

    polygons: tuple[tuple[tuple[tuple[float, float], ...], ...], ...] = ()  # [poly][ring][pt]
    bbox: tuple[float, float, float, float] | None = None  # min_lon, min_lat, max_lon, max_lat

    def contains(self, lon: float, lat: float) -> bool:
        lon = (lon + 180.0) % 360.0 - 180.0
        if self.bbox is not None:
            x0, y0, x1, y1 = self.bbox
            return y0 <= lat <= y1 and x0 <= lon <= x1
        return any(_in_polygon(lon, lat, rings) for rings in self.polygons)


def _in_ring(x: float, y: float, ring: tuple[tuple[float, float], ...]) -> bool:
    inside = False
    j = len(ring) - 1
    for i in range(len(ring)):
        xi, yi = ring[i]
        xj, yj = ring[j]
        if (yi > y) != (yj > y) and x < (xj - xi) * (y - yi) / (yj - yi) + xi:
            inside = not inside
        j = i
    return inside


def _in_polygon(x: float, y: float, rings: tuple[tuple[tuple[float, float], ...], ...]) -> bool:
    # The first ring is the outline, the others holes (GeoJSON).
    return (
        bool(rings) and _in_ring(x, y, rings[0]) and not any(_in_ring(x, y, h) for h in rings[1:])
    )


@dataclass(frozen=True)
class Rule:
    name: str
    deployment: str | None  # None: the deployment of the policy it came from
    workflow: str = "exec_job"
    urgency: str | None = None
    min_magnitude: float | None = None
    max_magnitude: float | None = None
    min_depth_km: float | None = None
    max_depth_km: float | None = None
    region: Region | None = None
    tsunami: bool | None = None
    agencies: tuple[str, ...] = ()
    formats: tuple[str, ...] = ()
    max_age_s: float = DEFAULT_MAX_AGE_S
    association_s: float = DEFAULT_ASSOCIATION_S
    association_km: float = DEFAULT_ASSOCIATION_KM
    on_update: str = "refine"
    rerun_magnitude_change: float = 0.3
    rerun_km: float = 30.0
    max_reruns: int = 2
    rerun_urgency: str = "high"
    inputs: dict[str, Any] = field(default_factory=dict)
    origin: str = ""  # where the rule was written (file:line or deployment/policy)

    def mismatch(self, event: dict[str, Any], report: dict[str, Any], age_s: float) -> str | None:
        """Why this rule does not fire for an earthquake whose estimate is ``event``, on a
        report ``report`` (agency and format filters apply to the report); None if it does."""
        mag, depth = float(event["magnitude"]), float(event["depth_km"])
        if age_s > self.max_age_s:
            return f"origin {duration(age_s)} ago is older than max_age {duration(self.max_age_s)}"
        if self.min_magnitude is not None and mag < self.min_magnitude:
            return f"magnitude {mag:g} < {self.min_magnitude:g}"
        if self.max_magnitude is not None and mag > self.max_magnitude:
            return f"magnitude {mag:g} > {self.max_magnitude:g}"
        if self.min_depth_km is not None and depth < self.min_depth_km:
            return f"depth {depth:g} km < {self.min_depth_km:g} km"
        if self.max_depth_km is not None and depth > self.max_depth_km:
            return f"depth {depth:g} km > {self.max_depth_km:g} km"
        if self.region is not None and not self.region.contains(event["lon"], event["lat"]):
            return f"epicentre {event['lat']:.2f}N {event['lon']:.2f}E outside the region"
        if self.tsunami is not None and bool(event.get("tsunami")) != self.tsunami:
            return "no tsunami flag" if self.tsunami else "tsunami flag set"
        if self.agencies and str(report.get("agency", "")).lower() not in self.agencies:
            return f"agency {report.get('agency') or '?'} not in {', '.join(self.agencies)}"
        if self.formats and report.get("source_format") not in self.formats:
            return f"format {report.get('source_format')} not in {', '.join(self.formats)}"
        return None


def duration(seconds: float) -> str:
    """``5400`` -> ``1.5 h``: a duration as the status lines show it."""
    if seconds >= 3600:
        return f"{seconds / 3600:.3g} h"
    if seconds >= 60:
        return f"{seconds / 60:.3g} min"
    return f"{seconds:.3g} s"


@dataclass
class RuleSet:
    rules: list[Rule] = field(default_factory=list)
    default_association_s: float = DEFAULT_ASSOCIATION_S
    default_association_km: float = DEFAULT_ASSOCIATION_KM

    @property
    def widest_window_s(self) -> float:
        return max([self.default_association_s] + [r.association_s for r in self.rules])

    def __add__(self, other: RuleSet) -> RuleSet:
        return RuleSet(
            self.rules + other.rules, self.default_association_s, self.default_association_km
        )


class _Checker:
    """Collects every problem of a rules document, each at its file:line."""

    def __init__(self, file: str | None) -> None:
        self.file = file
        self.problems: list[Problem] = []

    def problem(self, message: str, container: Any, key: Any = None, rule: str | None = None):
        where = Location(file=self.file, line=line_of(container, key), field=rule)
        self.problems.append(Problem(message, where))

    def number(self, doc: Any, key: str, rule: str | None, lo: float | None = None) -> float | None:
        value = doc.get(key)
        if value is None:
            return None
        if (
            isinstance(value, bool)
            or not isinstance(value, (int, float))
            or not math.isfinite(value)
        ):
            self.problem(f"'{key}' must be a number, got {value!r}", doc, key, rule)
            return None
        if lo is not None and value < lo:
            self.problem(f"'{key}' must be >= {lo:g}, got {value!r}", doc, key, rule)
            return None
        return float(value)

    def seconds(self, doc: Any, key: str, rule: str | None) -> float | None:
        value = doc.get(key)
        if value is None:
            return None
        if isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0:
            return float(value)
        parsed = scalar_seconds(str(value)) if isinstance(value, str) else None
        if parsed is None or parsed <= 0:
            self.problem(
                f"'{key}' must be a duration like '30 m' or '1 h', got {value!r}", doc, key, rule
            )
            return None
        return parsed

    def mapping(self, doc: Any, key: str, rule: str | None, allowed: set[str]) -> dict[str, Any]:
        value = doc.get(key)
        if value is None:
            return {}
        if not isinstance(value, dict):
            self.problem(f"'{key}' must be a mapping", doc, key, rule)
            return {}
        for k in value:
            if k not in allowed:
                self.problem(
                    f"unknown key '{k}' in '{key}' (expected {', '.join(sorted(allowed))})",
                    value,
                    k,
                    rule,
                )
        return value

    def strings(self, doc: Any, key: str, rule: str | None) -> tuple[str, ...]:
        value = doc.get(key)
        if value is None:
            return ()
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            self.problem(f"'{key}' must be a list of strings", doc, key, rule)
            return ()
        return tuple(value)


def load_rules(path: str | Path) -> RuleSet:
    """Read and validate a rules file; every problem is reported (``ValidationError``)."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise ValidationError(
            [Problem(f"cannot read rules file ({exc.strerror})", Location(file=str(p)))]
        ) from None
    return parse_rules(text, str(p), base=p.parent)


def parse_rules(text: str, file: str | None = None, base: Path | None = None) -> RuleSet:
    doc = load_yaml(text, file)
    check = _Checker(file)
    if not isinstance(doc, dict):
        raise ValidationError([Problem("a rules file is a mapping with 'rules:'", Location(file))])
    for key in doc:
        if key not in ("defaults", "rules"):
            check.problem(f"unknown top-level key '{key}' (expected defaults, rules)", doc, key)
    defaults = check.mapping(doc, "defaults", None, {"max_age", "association"})
    max_age = check.seconds(defaults, "max_age", None) or DEFAULT_MAX_AGE_S
    assoc = check.mapping(defaults, "association", None, {"seconds", "km"})
    seconds = check.number(assoc, "seconds", None, 0) or DEFAULT_ASSOCIATION_S
    km = check.number(assoc, "km", None, 0) or DEFAULT_ASSOCIATION_KM
    entries = doc.get("rules")
    rules: list[Rule] = []
    if not isinstance(entries, list) or not entries:
        check.problem("'rules' must be a non-empty list of rules", doc, "rules")
        entries = []
    names: set[str] = set()
    for entry in entries:
        rule = _rule(check, entry, max_age, seconds, km, base, names)
        if rule is not None:
            rules.append(rule)
    if check.problems:
        raise ValidationError(check.problems)
    return RuleSet(rules, seconds, km)


def _rule(
    check: _Checker,
    entry: Any,
    max_age: float,
    seconds: float,
    km: float,
    base: Path | None,
    names: set[str],
) -> Rule | None:
    if not isinstance(entry, dict):
        check.problem("each rule must be a mapping", entry)
        return None
    name = entry.get("name")
    label = str(name) if isinstance(name, str) else None
    count = len(check.problems)
    if not isinstance(name, str) or not name.strip() or ":" in name:
        check.problem("every rule needs a 'name' (a string without ':')", entry, "name")
    elif name in names:
        check.problem(f"rule name '{name}' is used twice", entry, "name", label)
    else:
        names.add(name)
    for key in entry:
        if key not in _RULE_KEYS:
            check.problem(f"unknown key '{key}'", entry, key, label)
    deployment = entry.get("deployment")
    if not isinstance(deployment, str) or not deployment:
        message = "'deployment' (a deployed deployment's id) is required"
        check.problem(message, entry, "deployment", label)
    workflow = entry.get("workflow", "exec_job")
    if not isinstance(workflow, str) or not workflow:
        check.problem("'workflow' must be a workflow name", entry, "workflow", label)
    for key in ("urgency", "rerun_urgency"):
        if key in entry and entry[key] not in URGENCIES:
            check.problem(f"'{key}' must be one of {', '.join(URGENCIES)}", entry, key, label)
    on_update = entry.get("on_update", "refine")
    if on_update not in ON_UPDATE:
        message = f"'on_update' must be one of {', '.join(ON_UPDATE)}"
        check.problem(message, entry, "on_update", label)
    mag = check.mapping(entry, "magnitude", label, {"min", "max"})
    depth = check.mapping(entry, "depth_km", label, {"min", "max"})
    bounds = {}
    for what, doc in (("magnitude", mag), ("depth_km", depth)):
        lo, hi = check.number(doc, "min", label), check.number(doc, "max", label)
        if lo is not None and hi is not None and lo > hi:
            check.problem(f"'{what}': min {lo:g} > max {hi:g}", entry, what, label)
        bounds[what] = (lo, hi)
    tsunami = entry.get("tsunami")
    if tsunami is not None and not isinstance(tsunami, bool):
        check.problem("'tsunami' must be true or false", entry, "tsunami", label)
        tsunami = None
    formats = check.strings(entry, "formats", label)
    for f in formats:
        if f not in FORMATS:
            message = f"unknown format '{f}' (one of {', '.join(FORMATS)})"
            check.problem(message, entry, "formats", label)
    assoc = check.mapping(entry, "association", label, {"seconds", "km"})
    rerun = check.mapping(entry, "rerun_when", label, {"magnitude_change", "km"})
    max_reruns = entry.get("max_reruns", 2)
    if isinstance(max_reruns, bool) or not isinstance(max_reruns, int) or max_reruns < 0:
        check.problem("'max_reruns' must be a whole number >= 0", entry, "max_reruns", label)
        max_reruns = 2
    inputs = entry.get("inputs") or {}
    if not isinstance(inputs, dict):
        check.problem("'inputs' must map workflow inputs to values", entry, "inputs", label)
        inputs = {}
    for key, value in inputs.items():
        known = value[len("$event.") :] in EVENT_FIELDS if isinstance(value, str) else True
        if isinstance(value, str) and value.startswith("$event.") and not known:
            check.problem(
                f"input '{key}': unknown event field '{value}' "
                f"(one of {', '.join('$event.' + f for f in EVENT_FIELDS)})",
                inputs,
                key,
                label,
            )
    region = _region(check, entry, label, base) if "region" in entry else None
    rule_max_age = check.seconds(entry, "max_age", label) or max_age
    assoc_s = check.number(assoc, "seconds", label, 0) or seconds
    assoc_km = check.number(assoc, "km", label, 0) or km
    rerun_mag = _or(check.number(rerun, "magnitude_change", label, 0), 0.3)
    rerun_km = _or(check.number(rerun, "km", label, 0), 30.0)
    agencies = tuple(a.lower() for a in check.strings(entry, "agencies", label))
    if len(check.problems) > count:
        return None
    return Rule(
        name=str(name),
        deployment=str(deployment),
        workflow=str(workflow),
        urgency=entry.get("urgency"),
        min_magnitude=bounds["magnitude"][0],
        max_magnitude=bounds["magnitude"][1],
        min_depth_km=bounds["depth_km"][0],
        max_depth_km=bounds["depth_km"][1],
        region=region,
        tsunami=tsunami,
        agencies=agencies,
        formats=formats,
        max_age_s=rule_max_age,
        association_s=assoc_s,
        association_km=assoc_km,
        on_update=str(on_update),
        rerun_magnitude_change=rerun_mag,
        rerun_km=rerun_km,
        max_reruns=int(max_reruns),
        rerun_urgency=str(entry.get("rerun_urgency", "high")),
        inputs=dict(inputs),
        origin=f"{check.file}:{line_of(entry)}" if check.file else f"line {line_of(entry)}",
    )


def _or(value: float | None, default: float) -> float:
    return default if value is None else value


def _region(check: _Checker, entry: Any, label: str | None, base: Path | None) -> Region | None:
    value = entry["region"]
    if isinstance(value, dict) and set(value) == {"file"}:
        path = Path(str(value["file"]))
        if not path.is_absolute() and base is not None:
            path = base / path
        try:
            value = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            check.problem(f"region file {path}: {exc}", entry, "region", label)
            return None
    try:
        return region_of(value)
    except ValueError as exc:
        check.problem(f"region: {exc}", entry, "region", label)
        return None


def region_of(value: Any) -> Region:
    """A ``Region`` from a bounding box mapping (min_lat, max_lat, min_lon, max_lon: the
    ``eflows4hpc.datatypes.Region`` of templates) or GeoJSON; ValueError says what is wrong."""
    if not isinstance(value, dict):
        raise ValueError("a bounding box or a GeoJSON object is expected")
    box = ("min_lon", "min_lat", "max_lon", "max_lat")
    if any(k in value for k in box):
        try:
            x0, y0, x1, y1 = (float(value[k]) for k in box)
        except (KeyError, TypeError, ValueError):
            raise ValueError(f"a bounding box needs numbers {', '.join(box)}") from None
        if x0 > x1 or y0 > y1:
            raise ValueError("bounding box min above max")
        return Region(bbox=(x0, y0, x1, y1))
    kind = value.get("type")
    if kind == "FeatureCollection":
        polys: list[Any] = []
        for feature in value.get("features") or []:
            polys += region_of(feature).polygons
        if not polys:
            raise ValueError("FeatureCollection without polygons")
        return Region(polygons=tuple(polys))
    if kind == "Feature":
        return region_of(value.get("geometry") or {})
    if kind == "Polygon":
        return Region(polygons=(_rings(value.get("coordinates")),))
    if kind == "MultiPolygon":
        coords = value.get("coordinates")
        if not isinstance(coords, list) or not coords:
            raise ValueError("MultiPolygon coordinates must be a list of polygons")
        return Region(polygons=tuple(_rings(c) for c in coords))
    raise ValueError(f"GeoJSON type {kind!r} is not a Polygon, MultiPolygon or Feature(Collection)")


def _rings(coords: Any) -> tuple[tuple[tuple[float, float], ...], ...]:
    if not isinstance(coords, list) or not coords:
        raise ValueError("Polygon coordinates must be a list of linear rings")
    rings = []
    for ring in coords:
        try:
            points = tuple((float(p[0]), float(p[1])) for p in ring)
        except (TypeError, ValueError, IndexError):
            raise ValueError("a ring's positions must be [lon, lat] numbers") from None
        if len(points) < 4 or points[0] != points[-1]:
            raise ValueError("a linear ring needs >= 4 positions, the last equal to the first")
        rings.append(points)
    return tuple(rings)


def rules_from_policy(deployment: str, name: str, props: dict[str, Any]) -> Rule | None:
    """The rule of a template's ``eflows4hpc.policies.EventTrigger`` policy (None when it is
    not about earthquakes). Its properties were validated with the template."""
    if str(props.get("event_type", "earthquake")) != "earthquake":
        return None
    sources = tuple(props.get("sources") or ())
    aliases = {"usgs": "usgs-geojson", "file": ""}
    formats = tuple(f for f in (aliases.get(s, s) for s in sources) if f in FORMATS)
    max_age = props.get("max_age")
    seconds = scalar_seconds(str(max_age)) if max_age is not None else None
    region = props.get("region")
    min_mag = props.get("min_magnitude")
    return Rule(
        name=f"{deployment}/{name}",
        deployment=deployment,
        workflow=str(props.get("workflow") or "exec_job"),
        urgency=props.get("urgency"),
        min_magnitude=float(min_mag) if min_mag is not None else None,
        max_depth_km=float(props["max_depth_km"])
        if props.get("max_depth_km") is not None
        else None,
        region=region_of(region) if isinstance(region, dict) and region else None,
        formats=formats if "file" not in sources else (),
        max_age_s=seconds or DEFAULT_MAX_AGE_S,
        inputs=dict(props.get("inputs") or {}),
        origin=f"deployment {deployment}, policy {name}",
    )
