"""Earthquake feeds served for real on loopback, in their own process, for the event-hook
tests and benchmark: a USGS GeoJSON summary feed (ETag, If-None-Match -> 304,
Last-Modified), an EMSC-style server-sent-event stream (``id:`` per message, Last-Event-ID
replay, heartbeats) and, with ``--ws-port``, the same messages over WebSocket.

Control (JSON POSTs, what a test does to the feeds):

- ``/control/publish`` ``{"usgs": Feature}`` adds or replaces (by id) a feature of the feed;
  ``{"emsc": message}`` (an object, or a string sent as is: malformed on purpose) appends a
  message to the stream. Answers ``{"published_at": unix time}``.
- ``/control/fault`` ``{"mode": "503"|"truncate"|"slow"|"drop"|"none", "count": N,
  "delay": s}``: the next N feed requests (all, without count) fail that way.
- ``/control/stats``: requests served by kind.

Usage: python -m tests.support.feed_server --port P [--ws-port Q]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import threading
import time
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

_lock = threading.Condition()
_features: dict[str, dict[str, Any]] = {}
_modified = time.time()
_messages: list[str] = []  # EMSC stream, message i has id i+1
_fault: dict[str, Any] = {"mode": "none", "count": None, "delay": 0.0}
_stats: dict[str, int] = {}


def _count(kind: str) -> None:
    _stats[kind] = _stats.get(kind, 0) + 1


def _take_fault() -> tuple[str, float]:
    with _lock:
        mode = _fault["mode"]
        if mode == "none":
            return "none", 0.0
        if _fault["count"] is not None:
            _fault["count"] -= 1
            if _fault["count"] <= 0:
                _fault.update(mode="none", count=None)
        return mode, float(_fault.get("delay") or 0.0)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args: Any) -> None:
        pass

    def _json(self, status: int, body: Any) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        global _modified
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
        if self.path == "/control/publish":
            with _lock:
                now = time.time()
                if "usgs" in body:
                    feature = body["usgs"]
                    _features[str(feature.get("id"))] = feature
                    _modified = now
                if "emsc" in body:
                    msg = body["emsc"]
                    _messages.append(msg if isinstance(msg, str) else json.dumps(msg))
                _lock.notify_all()
            self._json(200, {"published_at": now})
        elif self.path == "/control/fault":
            with _lock:
                _fault.update(mode=body.get("mode", "none"), count=body.get("count"),
                              delay=body.get("delay", 0.0))  # fmt: skip
            self._json(200, dict(_fault))
        elif self.path == "/control/reset":
            with _lock:
                _features.clear()
                _messages.clear()
                _stats.clear()
            self._json(200, {})
        else:
            self._json(404, {"error": "no such control"})

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        if self.path == "/control/stats":
            with _lock:
                self._json(200, dict(_stats))
        elif self.path.startswith("/usgs"):
            self._usgs()
        elif self.path.startswith("/emsc"):
            self._sse()
        else:
            self._json(404, {"error": "not found"})

    def _usgs(self) -> None:
        mode, delay = _take_fault()
        with _lock:
            _count("usgs")
            doc = {
                "type": "FeatureCollection",
                "metadata": {"generated": int(time.time() * 1000), "count": len(_features)},
                "features": list(_features.values()),
            }
            modified = _modified
        features = json.dumps(doc["features"], sort_keys=True).encode()
        etag = '"' + hashlib.sha256(features).hexdigest()[:20] + '"'
        if mode == "503":
            with _lock:
                _count("usgs-503")
            return self._json(503, {"error": "service unavailable"})
        if mode == "drop":
            with _lock:
                _count("usgs-drop")
            self.close_connection = True
            return
        if mode == "slow":
            time.sleep(delay)
        if self.headers.get("If-None-Match") == etag:
            with _lock:
                _count("usgs-304")
            self.send_response(304)
            self.send_header("ETag", etag)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        data = json.dumps(doc).encode()
        if mode == "truncate":
            with _lock:
                _count("usgs-truncated")
            data = data[: max(1, len(data) // 2)]
        self.send_response(200)
        self.send_header("Content-Type", "application/geo+json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("ETag", etag)
        self.send_header("Last-Modified", formatdate(modified, usegmt=True))
        self.end_headers()
        self.wfile.write(data)

    def _sse(self) -> None:
        mode, _delay = _take_fault()
        if mode == "503":
            return self._json(503, {"error": "service unavailable"})
        try:
            sent = int(self.headers.get("Last-Event-ID") or 0)
        except ValueError:
            sent = 0
        with _lock:
            _count("emsc-connect")
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.end_headers()
        self.close_connection = True
        try:
            while True:
                with _lock:
                    if len(_messages) <= sent:
                        _lock.wait(1.0)
                    pending = _messages[sent:]
                    dropping = _fault["mode"] == "drop"
                if dropping:
                    return
                if not pending:
                    self.wfile.write(b": heartbeat\n\n")
                for text in pending:
                    sent += 1
                    lines = "".join(f"data: {line}\n" for line in text.split("\n"))
                    self.wfile.write(f"id: {sent}\n{lines}\n".encode())
                self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            return


def _websocket_server(port: int) -> None:
    from websockets.sync.server import serve

    def handler(ws: Any) -> None:
        with _lock:
            _count("ws-connect")
            sent = len(_messages)  # a live stream: messages from now on
        while True:
            with _lock:
                if len(_messages) <= sent:
                    _lock.wait(1.0)
                pending = _messages[sent:]
            for text in pending:
                ws.send(text)
                sent += 1

    with serve(handler, "127.0.0.1", port) as server:
        server.serve_forever()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--ws-port", type=int)
    args = parser.parse_args()
    if args.ws_port:
        threading.Thread(target=_websocket_server, args=(args.ws_port,), daemon=True).start()
    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    server.daemon_threads = True
    print(f"feeds on http://127.0.0.1:{args.port}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
