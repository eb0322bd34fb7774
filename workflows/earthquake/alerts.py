"""Earthquake alerts from several feeds, normalised into one :class:`Event`.

Formats (detected from the content, see :func:`parse_alert`):

- USGS GeoJSON: a ``Feature`` (or a ``FeatureCollection`` holding one) with properties
  ``mag, place, time`` (ms since the epoch), ``updated, magType, net, code, ids``, geometry
  ``[lon, lat, depth_km]``, ``tsunami`` (0/1); a detail feed's ``products["moment-tensor"]``
  gives the mechanism (``nodal-plane-1-strike`` / ``-dip`` / ``-rake``).
- EMSC real-time message: ``{"action": "create"|"update", "data": Feature}`` with properties
  ``unid, time`` (ISO), ``lastupdate, lat, lon, depth`` (km), ``mag, magtype, flynn_region,
  auth``.
- QuakeML 1.2 (XML): the preferred (else first) origin (time, latitude, longitude, depth in
  **metres**), magnitude (value, type), and the first nodal plane of a focal mechanism.
- UCIS4EQ alert JSON: ``{uuid, alerts: [{agency, time "YYYY/MM/DD, hh:mm:ss", latitude,
  longitude, magnitude, depth`` (**metres**) ``, cmt: {strike, dip, rake}}]}``; the first
  alert is used.

Errors are :class:`AlertError` (a ``ValueError``) naming the format and the missing field.
"""

from __future__ import annotations

import json
import math
import xml.etree.ElementTree as ET
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

__all__ = ["AlertError", "Event", "Mechanism", "load_alert", "parse_alert", "same_event"]


class AlertError(ValueError):
    """An alert that cannot be understood; the message says which format and field."""


@dataclass(frozen=True)
class Mechanism:
    """One nodal plane (degrees, Aki & Richards convention)."""

    strike: float
    dip: float
    rake: float


@dataclass(frozen=True)
class Event:
    """A normalised earthquake: time (UTC), epicentre (degrees), depth (km, positive down)."""

    event_id: str
    time: datetime
    lon: float
    lat: float
    depth_km: float
    magnitude: float
    magnitude_type: str
    agency: str
    source_format: str
    place: str = ""
    updated: datetime | None = None
    mechanism: Mechanism | None = None
    # The agency's tsunami flag (USGS ``tsunami`` 0/1); None when the format has none.
    tsunami: bool | None = None

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["time"] = self.time.isoformat()
        d["updated"] = self.updated.isoformat() if self.updated else None
        return d


def load_alert(path: str | Path) -> Event:
    """Read an alert file (JSON or QuakeML XML) and normalise it."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise AlertError(f"{p}: cannot read the alert ({exc.strerror})") from None
    try:
        return parse_alert(text)
    except AlertError as exc:
        raise AlertError(f"{p}: {exc}") from None


def parse_alert(data: str | bytes | dict[str, Any]) -> Event:
    """Normalise an alert given as a JSON/XML string or an already decoded JSON object."""
    if isinstance(data, bytes):
        data = data.decode("utf-8")
    if isinstance(data, str):
        stripped = data.lstrip()
        if stripped.startswith("<"):
            return _quakeml(stripped)
        try:
            data = json.loads(stripped)
        except json.JSONDecodeError as exc:
            raise AlertError(f"neither JSON nor QuakeML XML ({exc})") from None
    if not isinstance(data, dict):
        raise AlertError("an alert must be a JSON object")
    if "alerts" in data:
        return _ucis4eq(data)
    if "action" in data and "data" in data:
        return _emsc(data)
    doc: dict[str, Any] = data
    if doc.get("type") == "FeatureCollection":
        features = doc.get("features") or []
        if not features or not isinstance(features[0], dict):
            raise AlertError("USGS GeoJSON: empty FeatureCollection")
        doc = features[0]
    if doc.get("type") == "Feature":
        props = doc.get("properties") or {}
        if "unid" in props or "flynn_region" in props:
            return _emsc({"action": "create", "data": doc})
        return _usgs(doc)
    raise AlertError("unknown alert format (expected USGS GeoJSON, EMSC, QuakeML or UCIS4EQ)")


def _num(obj: dict[str, Any], key: str, fmt: str) -> float:
    value = obj.get(key)
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise AlertError(f"{fmt}: field {key!r} missing or not a number ({value!r})") from None
    if not math.isfinite(number):
        raise AlertError(f"{fmt}: field {key!r} is not finite")
    return number


def _flag(value: Any) -> bool | None:
    if value is None or value == "":
        return None
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes")
    return bool(value)


def _check(event: Event) -> Event:
    if not (-180.0 <= event.lon <= 360.0 and -90.0 <= event.lat <= 90.0):
        raise AlertError(f"{event.source_format}: epicentre out of range")
    if not 0.0 < event.magnitude < 10.5:
        raise AlertError(f"{event.source_format}: implausible magnitude {event.magnitude}")
    if event.depth_km < 0:
        object.__setattr__(event, "depth_km", 0.0)  # above-sea-level hypocentres happen
    return event


def _iso(value: Any, fmt: str) -> datetime:
    try:
        t = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        raise AlertError(f"{fmt}: bad time {value!r}") from None
    return t if t.tzinfo else t.replace(tzinfo=UTC)


def _usgs(feature: dict[str, Any]) -> Event:
    fmt = "USGS GeoJSON"
    props = feature.get("properties") or {}
    coords = (feature.get("geometry") or {}).get("coordinates") or []
    if len(coords) < 3:
        raise AlertError(f"{fmt}: geometry.coordinates must be [lon, lat, depth_km]")
    t = datetime.fromtimestamp(_num(props, "time", fmt) / 1000.0, tz=UTC)
    updated = props.get("updated")
    mech = None
    tensors = (props.get("products") or {}).get("moment-tensor") or []
    if tensors:
        mp = tensors[0].get("properties") or {}
        try:
            mech = Mechanism(*(float(mp[f"nodal-plane-1-{k}"]) for k in ("strike", "dip", "rake")))
        except (KeyError, TypeError, ValueError):
            mech = None
    return _check(
        Event(
            event_id=str(feature.get("id") or f"{props.get('net', '')}{props.get('code', '')}"),
            time=t,
            lon=float(coords[0]),
            lat=float(coords[1]),
            depth_km=float(coords[2]),
            magnitude=_num(props, "mag", fmt),
            magnitude_type=str(props.get("magType") or "M"),
            agency=str(props.get("net") or "us"),
            source_format="usgs-geojson",
            place=str(props.get("place") or ""),
            updated=datetime.fromtimestamp(float(updated) / 1000.0, tz=UTC) if updated else None,
            mechanism=mech,
            tsunami=_flag(props.get("tsunami")),
        )
    )


def _emsc(msg: dict[str, Any]) -> Event:
    fmt = "EMSC"
    feature = msg.get("data") or {}
    props = feature.get("properties") or {}
    coords = (feature.get("geometry") or {}).get("coordinates") or []
    lon = props.get("lon", coords[0] if len(coords) > 0 else None)
    lat = props.get("lat", coords[1] if len(coords) > 1 else None)
    depth = props.get("depth", -coords[2] if len(coords) > 2 else None)
    return _check(
        Event(
            event_id=str(props.get("unid") or feature.get("id") or ""),
            time=_iso(props.get("time"), fmt),
            lon=_num({"lon": lon}, "lon", fmt),
            lat=_num({"lat": lat}, "lat", fmt),
            depth_km=abs(_num({"depth": depth}, "depth", fmt)),
            magnitude=_num(props, "mag", fmt),
            magnitude_type=str(props.get("magtype") or "M"),
            agency=str(props.get("auth") or "EMSC"),
            source_format="emsc",
            place=str(props.get("flynn_region") or ""),
            updated=_iso(props["lastupdate"], fmt) if props.get("lastupdate") else None,
        )
    )


def _ucis4eq(data: dict[str, Any]) -> Event:
    fmt = "UCIS4EQ"
    alerts = data.get("alerts") or []
    if not alerts:
        raise AlertError(f"{fmt}: 'alerts' is empty")
    a = alerts[0]
    try:
        t = datetime.strptime(str(a.get("time")), "%Y/%m/%d, %H:%M:%S").replace(tzinfo=UTC)
    except ValueError:
        raise AlertError(
            f"{fmt}: time must be 'YYYY/MM/DD, hh:mm:ss', got {a.get('time')!r}"
        ) from None
    cmt = a.get("cmt") or {}
    mech = None
    if all(k in cmt for k in ("strike", "dip", "rake")):
        mech = Mechanism(float(cmt["strike"]), float(cmt["dip"]), float(cmt["rake"]))
    return _check(
        Event(
            event_id=str(data.get("uuid") or ""),
            time=t,
            lon=_num(a, "longitude", fmt),
            lat=_num(a, "latitude", fmt),
            depth_km=_num(a, "depth", fmt) / 1000.0,
            magnitude=_num(a, "magnitude", fmt),
            magnitude_type=str(a.get("magnitude_type") or "M"),
            agency=str(a.get("agency") or ""),
            source_format="ucis4eq",
            mechanism=mech,
            tsunami=_flag(a.get("tsunami")),
        )
    )


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _child(node: ET.Element | None, *path: str) -> ET.Element | None:
    for name in path:
        if node is None:
            return None
        node = next((c for c in node if _local(c.tag) == name), None)
    return node


def _value(node: ET.Element | None, *path: str) -> str | None:
    found = _child(node, *path)
    return found.text.strip() if found is not None and found.text else None


def _quakeml(text: str) -> Event:
    fmt = "QuakeML"
    try:
        root = ET.fromstring(text)
    except ET.ParseError as exc:
        raise AlertError(f"{fmt}: malformed XML ({exc})") from None
    event = next((e for e in root.iter() if _local(e.tag) == "event"), None)
    if event is None:
        raise AlertError(f"{fmt}: no <event>")
    origins = [c for c in event if _local(c.tag) == "origin"]
    preferred = _value(event, "preferredOriginID")
    origin = next((o for o in origins if o.get("publicID") == preferred), None) or (
        origins[0] if origins else None
    )
    if origin is None:
        raise AlertError(f"{fmt}: no <origin>")
    mags = [c for c in event if _local(c.tag) == "magnitude"]
    pref_mag = _value(event, "preferredMagnitudeID")
    mag = next((m for m in mags if m.get("publicID") == pref_mag), None) or (
        mags[0] if mags else None
    )
    fields = {
        "latitude": _value(origin, "latitude", "value"),
        "longitude": _value(origin, "longitude", "value"),
        "depth": _value(origin, "depth", "value"),
        "magnitude": _value(mag, "mag", "value"),
    }
    mech = None
    plane = _child(_child(event, "focalMechanism"), "nodalPlanes", "nodalPlane1")
    if plane is not None:
        try:
            mech = Mechanism(*(float(_value(plane, k, "value") or "x") for k in
                               ("strike", "dip", "rake")))  # fmt: skip
        except ValueError:
            mech = None
    return _check(
        Event(
            event_id=str(event.get("publicID") or ""),
            time=_iso(_value(origin, "time", "value"), fmt),
            lon=_num(fields, "longitude", fmt),
            lat=_num(fields, "latitude", fmt),
            depth_km=_num(fields, "depth", fmt) / 1000.0,
            magnitude=_num(fields, "magnitude", fmt),
            magnitude_type=_value(mag, "type") or "M",
            agency=_value(event, "creationInfo", "agencyID") or "",
            source_format="quakeml",
            place=_value(event, "description", "text") or "",
            mechanism=mech,
        )
    )


def same_event(a: Event, b: Event, seconds: float = 120.0, km: float = 100.0) -> bool:
    """True when two alerts (maybe from different agencies) describe the same earthquake:
    origin times within ``seconds`` and epicentres within ``km``."""
    if abs((a.time - b.time).total_seconds()) > seconds:
        return False
    p1, p2 = math.radians(a.lat), math.radians(b.lat)
    dl = math.radians(b.lon - a.lon)
    c = math.sin(p1) * math.sin(p2) + math.cos(p1) * math.cos(p2) * math.cos(dl)
    return 6371.0 * math.acos(max(-1.0, min(1.0, c))) <= km
