"""The feed server (``tests.support.feed_server``) in its own process, and alerts in every
format the hooks read, built from one description of an earthquake report."""

from __future__ import annotations

import json
import random
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from tests.support.api_server import free_port

ROOT = Path(__file__).resolve().parents[2]


class Feeds:
    """A running feed server; ``kill`` and ``start`` take it down and bring it back on the
    same ports (its feeds start empty again)."""

    def __init__(self, ws: bool = False) -> None:
        self.port = free_port()
        self.ws_port = free_port() if ws else None
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def usgs_url(self) -> str:
        return f"{self.base}/usgs/significant_hour.geojson"

    @property
    def sse_url(self) -> str:
        return f"{self.base}/emsc/stream"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.ws_port}/standing_order/websocket"

    def start(self) -> None:
        argv = [sys.executable, "-m", "tests.support.feed_server", "--port", str(self.port)]
        if self.ws_port:
            argv += ["--ws-port", str(self.ws_port)]
        self.proc = subprocess.Popen(argv, cwd=ROOT, stdout=subprocess.DEVNULL)
        end = time.monotonic() + 15
        while time.monotonic() < end:
            try:
                httpx.get(f"{self.base}/control/stats", timeout=1)
                return
            except httpx.HTTPError:
                time.sleep(0.05)
        raise RuntimeError("the feed server did not start")

    def kill(self) -> None:
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait()
            self.proc = None

    def _post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        response = httpx.post(f"{self.base}{path}", json=body, timeout=10)
        response.raise_for_status()
        return response.json()

    def publish_usgs(self, feature: dict[str, Any]) -> float:
        return float(self._post("/control/publish", {"usgs": feature})["published_at"])

    def publish_emsc(self, message: dict[str, Any] | str) -> float:
        return float(self._post("/control/publish", {"emsc": message})["published_at"])

    def fault(self, mode: str, count: int | None = None, delay: float = 0.0) -> None:
        self._post("/control/fault", {"mode": mode, "count": count, "delay": delay})

    def stats(self) -> dict[str, int]:
        return httpx.get(f"{self.base}/control/stats", timeout=5).json()


@contextmanager
def running_feeds(ws: bool = False) -> Iterator[Feeds]:
    feeds = Feeds(ws)
    feeds.start()
    try:
        yield feeds
    finally:
        feeds.kill()


@dataclass(frozen=True)
class Report:
    """One agency's report of an earthquake."""

    ident: str
    origin: float  # unix time
    lat: float
    lon: float
    depth_km: float
    magnitude: float
    agency: str = "us"
    updated: float | None = None
    tsunami: bool = False


def usgs_feature(r: Report) -> dict[str, Any]:
    return {
        "type": "Feature",
        "id": r.ident,
        "properties": {
            "mag": r.magnitude, "place": "test region", "time": int(r.origin * 1000),
            "updated": int((r.updated or r.origin) * 1000), "magType": "mww",
            "tsunami": int(r.tsunami), "net": r.agency, "code": r.ident,
        },
        "geometry": {"type": "Point", "coordinates": [r.lon, r.lat, r.depth_km]},
    }  # fmt: skip


def _iso(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).isoformat().replace("+00:00", "Z")


def emsc_message(r: Report, action: str = "create") -> dict[str, Any]:
    return {
        "action": action,
        "data": {
            "type": "Feature",
            "id": r.ident,
            "geometry": {"type": "Point", "coordinates": [r.lon, r.lat, -r.depth_km]},
            "properties": {
                "unid": r.ident, "time": _iso(r.origin), "lastupdate": _iso(r.updated or r.origin),
                "lat": r.lat, "lon": r.lon, "depth": r.depth_km, "mag": r.magnitude,
                "magtype": "mw", "flynn_region": "TEST REGION", "auth": r.agency,
            },
        },
    }  # fmt: skip


def quakeml(r: Report) -> str:
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<q:quakeml xmlns="http://quakeml.org/xmlns/bed/1.2" xmlns:q="http://quakeml.org/xmlns/quakeml/1.2">
  <eventParameters publicID="smi:test/params">
    <event publicID="smi:test/event/{r.ident}">
      <creationInfo><agencyID>{r.agency}</agencyID></creationInfo>
      <origin publicID="smi:test/origin/{r.ident}">
        <time><value>{_iso(r.origin)}</value></time>
        <latitude><value>{r.lat}</value></latitude>
        <longitude><value>{r.lon}</value></longitude>
        <depth><value>{r.depth_km * 1000}</value></depth>
      </origin>
      <magnitude publicID="smi:test/mag/{r.ident}">
        <mag><value>{r.magnitude}</value></mag><type>Mw</type>
      </magnitude>
    </event>
  </eventParameters>
</q:quakeml>"""


def ucis4eq(r: Report) -> dict[str, Any]:
    t = datetime.fromtimestamp(r.origin, UTC).strftime("%Y/%m/%d, %H:%M:%S")
    return {"uuid": r.ident, "alerts": [{
        "agency": r.agency, "time": t, "latitude": r.lat, "longitude": r.lon,
        "magnitude": r.magnitude, "depth": r.depth_km * 1000,
    }]}  # fmt: skip


MALFORMED = [
    "",
    "{not json",
    '{"type": "Feature", "properties": {"mag": "big"}, "geometry": {"coordinates": [1, 2, 3]}}',
    '{"type": "Feature", "properties": {"mag": 6.5, "time": 1}, "geometry": {}}',
    '{"action": "create", "data": {"properties": {"time": "yesterday", "mag": 6}}}',
    "<quakeml><event></event></quakeml>",
    '{"uuid": "x", "alerts": []}',
    "[1, 2, 3]",
    '{"type": "Feature", "properties": {"mag": 12.0, "time": 1000}, '
    '"geometry": {"coordinates": [1, 2, 3]}}',
    "<not-closed",
]


def mixed_stream(
    n_alerts: int, n_quakes: int, now: float, seed: int = 7
) -> tuple[list[str], set[int]]:
    """``n_alerts`` payloads about ``n_quakes`` distinct earthquakes (M 6.6-7.8, far apart in
    space and time, all in the rules' region): several agencies and formats, duplicates,
    updates, stale reports (origins 3 h ago) and malformed messages, shuffled within a
    realistic order (first reports first). Returns (payloads, ids of the quakes)."""
    rng = random.Random(seed)
    quakes = []
    for q in range(n_quakes):
        quakes.append(
            Report(
                ident=f"q{q:03d}",
                origin=now - 1500 + q * 25.0,  # 25 s apart: the time window alone cannot split
                lat=32.0 + (q % 10) * 1.3,  # 1.3 deg (~145 km) apart: nor distance alone
                lon=-4.0 + (q // 10) * 7.5,
                depth_km=10.0 + q % 30,
                magnitude=6.6 + (q % 13) / 10,
            )
        )
    payloads: list[str] = []
    for base in quakes:
        payloads.append(_render(base, "usgs"))  # the first report of each earthquake
    agencies = [("EMSC", "emsc"), ("INGV", "quakeml"), ("IGN", "ucis4eq"), ("us", "usgs")]
    while len(payloads) < n_alerts:
        kind = rng.random()
        base = quakes[rng.randrange(n_quakes)]
        if kind < 0.10:
            payloads.append(rng.choice(MALFORMED))
        elif kind < 0.18:
            payloads.append(rng.choice(payloads[: max(1, len(payloads))]))  # a duplicate
        elif kind < 0.25:
            stale = Report(f"old{len(payloads)}", now - 3 * 3600, base.lat, base.lon, 10, 7.0)
            payloads.append(_render(stale, "usgs"))
        else:
            agency, fmt = rng.choice(agencies)
            jitter = Report(
                ident=f"{base.ident}-{agency}-{len(payloads)}",
                origin=base.origin + rng.uniform(-8, 8),
                lat=base.lat + rng.uniform(-0.2, 0.2),
                lon=base.lon + rng.uniform(-0.2, 0.2),
                depth_km=max(0.0, base.depth_km + rng.uniform(-5, 5)),
                magnitude=round(base.magnitude + rng.uniform(-0.3, 0.3), 1),
                agency=agency,
                updated=base.origin + 60 + len(payloads),
            )
            payloads.append(_render(jitter, fmt))
    head, tail = payloads[:n_quakes], payloads[n_quakes:]
    rng.shuffle(tail)
    return head + tail, set(range(n_quakes))


def _render(r: Report, fmt: str) -> str:
    if fmt == "usgs":
        return json.dumps(usgs_feature(r))
    if fmt == "emsc":
        return json.dumps(emsc_message(r))
    if fmt == "quakeml":
        return quakeml(r)
    return json.dumps(ucis4eq(r))
