"""Small HTTP service for the @http task tests: ``python http_service.py`` prints its port."""

from __future__ import annotations

import json
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

SEEN: dict[str, int] = {}


class Handler(BaseHTTPRequestHandler):
    def _send(self, status: int, body: str, ctype: str = "application/json") -> None:
        data = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:  # noqa: N802 - http.server API
        parts = self.path.strip("/").split("/")
        if parts[0] == "events":
            self._send(200, json.dumps({"event": {"id": parts[1], "magnitude": 7.1}}))
        elif parts[0] == "error":
            self._send(500, json.dumps({"detail": "internal trouble"}))
        elif parts[0] == "notjson":
            self._send(200, "this is not json {")
        elif parts[0] == "flaky":
            SEEN[parts[1]] = SEEN.get(parts[1], 0) + 1
            if SEEN[parts[1]] == 1:
                self._send(503, json.dumps({"detail": "try again"}))
            else:
                self._send(200, json.dumps({"ok": True, "calls": SEEN[parts[1]]}))
        elif parts[0] == "slow":
            time.sleep(5)
            self._send(200, "{}")
        else:
            self._send(404, "{}")

    def do_POST(self) -> None:  # noqa: N802
        length = int(self.headers.get("Content-Length", 0))
        body = json.loads(self.rfile.read(length) or b"null")
        self._send(201, json.dumps({"received": body, "type": self.headers["Content-Type"]}))

    def log_message(self, *args: object) -> None:
        pass


if __name__ == "__main__":
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    sys.stdout.write(f"{server.server_address[1]}\n")
    sys.stdout.flush()
    server.serve_forever()
