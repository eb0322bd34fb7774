"""Where alerts come from, each an adapter with one method: ``run(deliver, stop)``.

``deliver(source, payload, delivery=None, cursor=None)`` stores one message durably and
returns; a source acknowledges (advances its cursor) only through it, so what it read is
written before it moves on. ``delivery`` is the source's redelivery key (the same key twice
is one message); ``cursor`` = (name, value) is where the source resumes after a restart.

Specs (``tosca events listen --source``):

- ``usgs:URL``  a USGS GeoJSON summary feed, polled every ``poll`` seconds with ETag /
  If-Modified-Since; each feature whose (id, updated) is new is one message.
- ``emsc:URL``  an EMSC-style real-time stream: ``ws://`` / ``wss://`` WebSocket (as
  seismicportal.eu serves it) or ``http(s)://`` server-sent events, resumed with
  Last-Event-ID; each message ``{"action": "create"|"update", "data": Feature}``.
- ``dir:PATH``  a directory watched for alert files (QuakeML, USGS, EMSC, UCIS4EQ; ``.json``,
  ``.geojson``, ``.xml``, ``.quakeml``): each file content is read once. Write a file
  elsewhere and rename it in (names starting with ``.`` or ending ``.tmp`` are skipped).

Failures (connection refused, timeouts, HTTP errors, truncated or malformed documents) are
logged one line each and retried with jittered exponential back-off; a source never stops
the listener.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from email.utils import formatdate
from pathlib import Path
from typing import Any, Protocol

import httpx

from orchestrator.errors import UsageError

__all__ = [
    "Backoff",
    "Deliver",
    "DirectoryWatch",
    "EmscStream",
    "Source",
    "UsgsFeed",
    "parse_source",
]

Deliver = Callable[..., Any]  # (source, payload, *, delivery=None, cursor=None)
Log = Callable[[str], None]
ALERT_SUFFIXES = (".json", ".geojson", ".xml", ".quakeml", ".qml")


class Source(Protocol):
    name: str

    def run(self, deliver: Deliver, stop: threading.Event) -> None: ...


@dataclass
class Backoff:
    """Exponential back-off with jitter: the n-th failure in a row waits a random time in
    [d/2, d], d = min(cap, base * 2**(n-1)), so many listeners do not retry in step."""

    base: float = 1.0
    cap: float = 60.0
    failures: int = 0
    rng: random.Random = field(default_factory=random.Random)

    def failure(self) -> float:
        self.failures += 1
        d = min(self.cap, self.base * 2 ** min(self.failures - 1, 30))
        return self.rng.uniform(d / 2, d)

    def success(self) -> int:
        """Reset; returns how many failures there had been."""
        failures, self.failures = self.failures, 0
        return failures


def _feature_delivery(name: str, feature: dict[str, Any]) -> str:
    props = feature.get("properties") or {}
    ident = feature.get("id") or props.get("unid") or props.get("code")
    updated = props.get("updated") or props.get("lastupdate")
    if ident:
        return f"{name}|{ident}|{updated}"
    digest = hashlib.sha256(json.dumps(feature, sort_keys=True).encode()).hexdigest()
    return f"{name}|#{digest[:32]}"


class UsgsFeed:
    """A USGS GeoJSON summary feed (e.g. .../summary/significant_hour.geojson), polled."""

    def __init__(
        self,
        url: str,
        *,
        poll: float = 30.0,
        timeout: float = 10.0,
        log: Log = print,
        cursor: Callable[[str], str | None] = lambda name: None,
        save_cursor: Callable[[str, str], None] = lambda name, value: None,
        backoff: Backoff | None = None,
    ) -> None:
        self.url = url
        self.name = f"usgs:{url}"
        self._save_cursor = save_cursor
        self._seen: set[str] = set()  # deliveries stored (the store has them for a restart)
        self.poll = poll
        self.timeout = timeout
        self.log = log
        self._cursor = cursor
        self.backoff = backoff or Backoff(base=min(poll, 2.0), cap=max(60.0, poll))

    def run(self, deliver: Deliver, stop: threading.Event) -> None:
        with httpx.Client(timeout=self.timeout, follow_redirects=True) as client:
            while not stop.is_set():
                error = self.poll_once(client, deliver)
                if error is None:
                    failures = self.backoff.success()
                    if failures:
                        self.log(f"{self.name}: back after {failures} failed polls")
                    wait = self.poll
                else:
                    wait = self.backoff.failure()
                    self.log(f"{self.name}: {error}; retrying in {wait:.1f} s "
                             f"(failure {self.backoff.failures})")  # fmt: skip
                stop.wait(wait)

    def poll_once(self, client: httpx.Client, deliver: Deliver) -> str | None:
        """One poll; None when it went well, else what went wrong."""
        saved = self._cursor(self.name)
        state = json.loads(saved) if saved else {}
        headers = {"Accept": "application/geo+json, application/json"}
        if state.get("etag"):
            headers["If-None-Match"] = state["etag"]
        if state.get("last_modified"):
            headers["If-Modified-Since"] = state["last_modified"]
        try:
            response = client.get(self.url, headers=headers)
        except httpx.HTTPError as exc:
            return f"{type(exc).__name__}: {exc or 'no answer'}"
        if response.status_code == 304:
            return None
        if response.status_code != 200:
            return f"HTTP {response.status_code}"
        try:
            doc = response.json()
            features = doc["features"] if doc.get("type") == "FeatureCollection" else [doc]
            if not isinstance(features, list):
                raise ValueError("'features' is not a list")
        except (ValueError, KeyError, AttributeError, TypeError) as exc:
            return f"truncated or malformed feed document ({type(exc).__name__}: {exc})"
        for feature in features:
            if not isinstance(feature, dict):
                deliver(self.name, json.dumps(feature))  # stored, then rejected with a reason
                continue
            delivery = _feature_delivery(self.name, feature)
            if delivery in self._seen:
                continue  # unchanged since an earlier poll of this process: no write at all
            deliver(self.name, json.dumps(feature), delivery=delivery)
            self._seen.add(delivery)
        new_state = {
            "etag": response.headers.get("ETag"),
            "last_modified": response.headers.get("Last-Modified")
            or formatdate(time.time(), usegmt=True),
        }
        # After every feature is stored: a restart re-reads at worst this document, whose
        # features are then known deliveries.
        self._save_cursor(self.name, json.dumps(new_state))
        return None


class EmscStream:
    """An EMSC-style real-time stream: WebSocket (``ws://``, ``wss://``) or server-sent
    events (``http://``, ``https://``, resumed with Last-Event-ID)."""

    def __init__(
        self,
        url: str,
        *,
        timeout: float = 10.0,
        log: Log = print,
        cursor: Callable[[str], str | None] = lambda name: None,
        backoff: Backoff | None = None,
    ) -> None:
        self.url = url
        self.name = f"emsc:{url}"
        self.timeout = timeout
        self.log = log
        self._cursor = cursor
        self.backoff = backoff or Backoff(base=1.0, cap=60.0)
        self._close: Callable[[], None] | None = None

    def run(self, deliver: Deliver, stop: threading.Event) -> None:
        websocket = self.url.startswith(("ws://", "wss://"))
        while not stop.is_set():
            try:
                got = self._websocket(deliver, stop) if websocket else self._sse(deliver, stop)
                error = None if got else "stream closed without a message"
            except Exception as exc:  # noqa: BLE001 - any network failure: log, back off, retry
                error = f"{type(exc).__name__}: {exc or 'connection lost'}"
            if stop.is_set():
                return
            if error is None:
                self.backoff.success()
                wait = self.backoff.base / 2
                self.log(f"{self.name}: stream closed; reconnecting")
            else:
                wait = self.backoff.failure()
                self.log(f"{self.name}: {error}; reconnecting in {wait:.1f} s "
                         f"(failure {self.backoff.failures})")  # fmt: skip
            stop.wait(wait)

    def _message(self, deliver: Deliver, data: str, event_id: str | None) -> None:
        delivery = f"{self.name}|id:{event_id}" if event_id else None
        if delivery is None:
            try:
                msg = json.loads(data)
                feature = msg.get("data") if isinstance(msg, dict) else None
                if isinstance(feature, dict):
                    delivery = _feature_delivery(self.name, feature) + f"|{msg.get('action')}"
            except ValueError:
                delivery = None  # malformed: stored as is, rejected with the parse error
        cursor = (self.name, event_id) if event_id else None
        deliver(self.name, data, delivery=delivery, cursor=cursor)

    def _sse(self, deliver: Deliver, stop: threading.Event) -> int:
        headers = {"Accept": "text/event-stream", "Cache-Control": "no-cache"}
        last = self._cursor(self.name)
        if last:
            headers["Last-Event-ID"] = last
        timeout = httpx.Timeout(self.timeout, read=None)
        got = 0
        with (
            httpx.Client(timeout=timeout) as client,
            client.stream("GET", self.url, headers=headers) as response,
        ):
            if response.status_code != 200:
                raise ConnectionError(f"HTTP {response.status_code}")
            self._close = response.close
            data: list[str] = []
            event_id: str | None = None
            for line in response.iter_lines():
                if stop.is_set():
                    return got or 1
                if not line:
                    if data:
                        self._message(deliver, "\n".join(data), event_id)
                        self.backoff.success()
                        got += 1
                    data, event_id = [], None
                    continue
                if line.startswith(":"):
                    got = got or 1  # a heartbeat: the stream is alive
                    continue
                key, _, value = line.partition(":")
                value = value[1:] if value.startswith(" ") else value
                if key == "data":
                    data.append(value)
                elif key == "id":
                    event_id = value or None
        return got

    def _websocket(self, deliver: Deliver, stop: threading.Event) -> int:
        # Deferred: websockets is only needed by a WebSocket stream.
        from websockets.sync.client import connect

        got = 0
        with connect(self.url, open_timeout=self.timeout, close_timeout=1) as ws:
            self._close = ws.close
            for message in ws:
                if stop.is_set():
                    break
                text = message.decode("utf-8", "replace") if isinstance(message, bytes) else message
                self._message(deliver, text, None)
                self.backoff.success()
                got += 1
        return got or (1 if stop.is_set() else 0)

    def close(self) -> None:
        if self._close is not None:
            with contextlib.suppress(Exception):  # closing a dead stream: nothing to do
                self._close()


class DirectoryWatch:
    """A directory of alert files; each file content is one message (a FeatureCollection
    file gives one message per feature)."""

    def __init__(
        self, path: str | Path, *, poll: float = 0.25, settle: float = 0.1, log: Log = print
    ) -> None:
        self.path = Path(path)
        self.name = f"dir:{self.path}"
        self.poll = poll
        self.settle = settle
        self.log = log
        self._seen: dict[tuple[str, int, int], str] = {}
        self._warned = False

    def run(self, deliver: Deliver, stop: threading.Event) -> None:
        while not stop.is_set():
            self.scan(deliver)
            stop.wait(self.poll)

    def scan(self, deliver: Deliver) -> int:
        """Deliver the files not delivered yet; returns how many."""
        try:
            entries = sorted(os.scandir(self.path), key=lambda e: e.name)
        except OSError as exc:
            if not self._warned:
                self.log(f"{self.name}: cannot read the directory ({exc.strerror}); watching")
                self._warned = True
            return 0
        self._warned = False
        now = time.time()
        count = 0
        for entry in entries:
            name = entry.name
            if name.startswith(".") or name.endswith((".tmp", ".part", "~")):
                continue
            if not name.lower().endswith(ALERT_SUFFIXES):
                continue
            try:
                st = entry.stat()
            except OSError:
                continue
            if not entry.is_file() or now - st.st_mtime < self.settle:
                continue  # still being written (or not a file)
            key = (name, st.st_size, st.st_mtime_ns)
            if key in self._seen:
                continue
            try:
                data = Path(entry.path).read_bytes()
            except OSError as exc:
                self.log(f"{self.name}: cannot read {name} ({exc.strerror})")
                continue
            digest = hashlib.sha256(data).hexdigest()
            self._seen[key] = digest
            count += self._deliver_file(deliver, name, data, digest)
        return count

    def _deliver_file(self, deliver: Deliver, name: str, data: bytes, digest: str) -> int:
        text = data.decode("utf-8", errors="replace")
        delivery = f"{self.name}|{name}|{digest}"
        features = None
        if not text.lstrip().startswith("<"):
            try:
                doc = json.loads(text)
                if isinstance(doc, dict) and doc.get("type") == "FeatureCollection":
                    features = doc.get("features")
            except ValueError:
                features = None
        if isinstance(features, list) and len(features) > 1:
            for i, feature in enumerate(features):
                deliver(self.name, json.dumps(feature), delivery=f"{delivery}|{i}")
            return len(features)
        deliver(self.name, text, delivery=delivery)
        return 1


def parse_source(
    spec: str,
    *,
    poll: float = 30.0,
    log: Log = print,
    cursor: Callable[[str], str | None] = lambda name: None,
    save_cursor: Callable[[str, str], None] = lambda name, value: None,
) -> Source:
    """A source from ``usgs:URL``, ``emsc:URL`` or ``dir:PATH``."""
    kind, sep, rest = spec.partition(":")
    if not sep or not rest:
        raise UsageError(f"--source {spec!r}: expected usgs:URL, emsc:URL or dir:PATH")
    if kind == "usgs":
        if not rest.startswith(("http://", "https://")):
            raise UsageError(f"--source {spec!r}: a USGS feed is an http(s) URL")
        return UsgsFeed(rest, poll=poll, log=log, cursor=cursor, save_cursor=save_cursor)
    if kind == "emsc":
        if not rest.startswith(("ws://", "wss://", "http://", "https://")):
            raise UsageError(f"--source {spec!r}: an EMSC stream is a ws(s):// or http(s):// URL")
        return EmscStream(rest, log=log, cursor=cursor)
    if kind == "dir":
        return DirectoryWatch(rest, poll=min(poll, 0.25), log=log)
    raise UsageError(f"--source {spec!r}: unknown kind '{kind}' (usgs, emsc or dir)")
