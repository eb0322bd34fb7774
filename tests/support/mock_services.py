"""A small real HTTP server for contract tests: Airflow dagRuns + the Image Creation service.

Run as its own process (``python tests/support/mock_services.py``): it binds 127.0.0.1 on a
free port, prints ``PORT <n>`` and serves until killed. Behaviour is switched at run time with
``POST /_control`` (JSON over the defaults; the request record is cleared) and every request is
recorded for assertions (``GET /_requests``, credentials reduced to a user name).

Endpoints (the contracts of CONTRACTS.md section 1):
  POST  /api/v1/dags/{dag}/dagRuns            {"dag_run_id", "conf"} -> the run, state queued
  GET   /api/v1/dags/{dag}/dagRuns/{id}       state: queued -> running -> dag_final
  PATCH /api/v1/dags/{dag}/dagRuns/{id}       {"state": "failed"}
  POST  /build/                               {"machine", "workflow", "step_id", "force"} -> {id}
  GET   /build/{id}                           PENDING, STARTED, BUILDING x n, CONVERTING, final
  GET   /images/download/{filename}           the image bytes, chunked

Configuration keys: auth [user, password] (401 otherwise), dag_polls (polls per state),
dag_final (success | failed), dag_mode (ok | bad_json | missing_state | error500 |
unknown_state), build_polls (BUILDING polls: a slow build), build_final (FINISHED | FAILED),
build_mode (ok | bad_json | missing_id | error500), image_size (bytes).
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

DEFAULTS: dict[str, Any] = {
    "auth": None,
    "dag_polls": 1,
    "dag_final": "success",
    "dag_mode": "ok",
    "build_polls": 1,
    "build_final": "FINISHED",
    "build_mode": "ok",
    "image_size": 3 * 1024 * 1024 + 17,
}


def image_bytes(size: int) -> bytes:
    """Deterministic image content, so tests can check the checksum."""
    pattern = hashlib.sha256(b"tosca-image").digest()
    return (pattern * (size // len(pattern) + 1))[:size]


class _State:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.reset({})

    def reset(self, config: dict[str, Any]) -> None:
        """New behaviour and an empty request record; existing runs and builds are kept."""
        self.config = {**DEFAULTS, **config}
        self.requests: list[dict[str, Any]] = []
        self.dag_runs: dict[str, dict[str, Any]] = getattr(self, "dag_runs", {})
        self.builds: dict[str, dict[str, Any]] = getattr(self, "builds", {})


STATE = _State()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    # -- plumbing ---------------------------------------------------------------------------

    def _body(self) -> Any:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            return json.loads(raw) if raw else None
        except ValueError:
            return raw.decode(errors="replace")

    def _user(self) -> str | None:
        header = self.headers.get("Authorization", "")
        if not header.startswith("Basic "):
            return None
        return base64.b64decode(header[6:]).decode().partition(":")[0]

    def _authorised(self) -> bool:
        auth = STATE.config["auth"]
        if not auth:
            return True
        expected = "Basic " + base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
        return self.headers.get("Authorization") == expected

    def _send(self, code: int, payload: Any, raw: bool = False) -> None:
        data = payload if raw else json.dumps(payload).encode()
        self.send_response(code)
        self.send_header("Content-Type", "text/plain" if raw else "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _handle(self, method: str) -> None:
        body = self._body()
        path = self.path.split("?")[0]
        with STATE.lock:
            if path != "/_requests":
                STATE.requests.append(
                    {"method": method, "path": path, "body": body, "user": self._user()}
                )
        if path == "/_control" and method == "POST":
            with STATE.lock:
                STATE.reset(body or {})
            return self._send(200, {"ok": True})
        if path == "/_requests":
            with STATE.lock:
                return self._send(200, {"requests": STATE.requests})
        if not self._authorised():
            return self._send(401, {"detail": "Unauthorized"})
        for pattern, handler in ROUTES:
            match = re.fullmatch(pattern, path)
            if match and handler.__name__.startswith(method.lower()):
                return handler(self, body, *match.groups())
        self._send(404, {"detail": f"no route {method} {path}"})

    def do_GET(self) -> None:
        self._handle("GET")

    def do_POST(self) -> None:
        self._handle("POST")

    def do_PATCH(self) -> None:
        self._handle("PATCH")

    # -- Airflow ------------------------------------------------------------------------------

    def _dag_mode(self) -> bool:
        """Answer a misbehaving reply if configured; True when one was sent."""
        mode = STATE.config["dag_mode"]
        if mode == "bad_json":
            self._send(200, b"<html>proxy error</html>", raw=True)
        elif mode == "error500":
            self._send(500, {"detail": "internal error"})
        else:
            return False
        return True

    def post_dag_run(self, body: Any, dag_id: str) -> None:
        if self._dag_mode():
            return
        if not isinstance(body, dict) or "dag_run_id" not in body:
            return self._send(400, {"detail": "dag_run_id required"})
        run_id = body["dag_run_id"]
        with STATE.lock:
            if run_id in STATE.dag_runs:
                return self._send(409, {"detail": "already exists"})
            run = {
                "dag_run_id": run_id,
                "dag_id": dag_id,
                "conf": body.get("conf") or {},
                "state": "queued",
                "polls": 0,
                "forced": None,
            }
            STATE.dag_runs[run_id] = run
        self._send(200, {k: v for k, v in run.items() if k not in ("polls", "forced")})

    def get_dag_run(self, body: Any, dag_id: str, run_id: str) -> None:
        if self._dag_mode():
            return
        with STATE.lock:
            run = STATE.dag_runs.get(run_id)
            if run is None:
                return self._send(404, {"detail": "DAGRun not found"})
            run["polls"] += 1
            n, per = run["polls"], STATE.config["dag_polls"]
            if run["forced"]:
                state = run["forced"]
            elif n <= per:
                state = "queued"
            elif n <= 2 * per:
                state = "running"
            else:
                state = STATE.config["dag_final"]
            mode = STATE.config["dag_mode"]
        if mode == "missing_state":
            return self._send(200, {"dag_run_id": run_id})
        if mode == "unknown_state":
            state = "exploded"
        self._send(200, {"dag_run_id": run_id, "dag_id": dag_id, "state": state})

    def patch_dag_run(self, body: Any, dag_id: str, run_id: str) -> None:
        with STATE.lock:
            run = STATE.dag_runs.get(run_id)
            if run is None:
                return self._send(404, {"detail": "DAGRun not found"})
            run["forced"] = (body or {}).get("state", "failed")
        self._send(200, {"dag_run_id": run_id, "state": run["forced"]})

    # -- image creation -----------------------------------------------------------------------

    def post_build(self, body: Any) -> None:
        mode = STATE.config["build_mode"]
        if mode == "error500":
            return self._send(503, {"detail": "builder overloaded"})
        if mode == "bad_json":
            return self._send(200, b"not json at all", raw=True)
        if mode == "missing_id":
            return self._send(200, {"status": "PENDING"})
        build_id = str(uuid.uuid4())
        with STATE.lock:
            STATE.builds[build_id] = {"request": body, "polls": 0}
        self._send(200, {"id": build_id})

    def get_build(self, body: Any, build_id: str) -> None:
        with STATE.lock:
            build = STATE.builds.get(build_id)
            if build is None:
                return self._send(404, {"detail": "unknown build"})
            build["polls"] += 1
            n = build["polls"]
            slow = STATE.config["build_polls"]
            sequence = ["PENDING", "STARTED", *["BUILDING"] * slow, "CONVERTING"]
            status = sequence[n - 1] if n <= len(sequence) else STATE.config["build_final"]
        answer: dict[str, Any] = {"id": build_id, "status": status, "message": ""}
        if status == "FINISHED":
            workflow = (build["request"] or {}).get("workflow", "wf")
            answer.update(image_id=f"{workflow}-{build_id[:8]}", filename=f"{build_id[:8]}.sif")
        if status == "FAILED":
            answer["message"] = "spack install failed"
        self._send(200, answer)

    def get_download(self, body: Any, filename: str) -> None:
        data = image_bytes(STATE.config["image_size"])
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        for start in range(0, len(data), 256 * 1024):
            chunk = data[start : start + 256 * 1024]
            self.wfile.write(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
        self.wfile.write(b"0\r\n\r\n")


ROUTES = [
    (r"/api/v1/dags/([^/]+)/dagRuns", Handler.post_dag_run),
    (r"/api/v1/dags/([^/]+)/dagRuns/([^/]+)", Handler.get_dag_run),
    (r"/api/v1/dags/([^/]+)/dagRuns/([^/]+)", Handler.patch_dag_run),
    (r"/build/?", Handler.post_build),
    (r"/build/([^/]+)", Handler.get_build),
    (r"/images/download/([^/]+)", Handler.get_download),
]


def serve() -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    print(f"PORT {server.server_address[1]}", flush=True)
    server.serve_forever()


# -- pytest side ---------------------------------------------------------------------------


@dataclass
class MockServices:
    """A running mock server: ``url`` is its root, ``dls_url`` the Airflow API base."""

    url: str

    @property
    def dls_url(self) -> str:
        return f"{self.url}/api/v1"

    def configure(self, **config: Any) -> None:
        import httpx

        httpx.post(f"{self.url}/_control", json=config, timeout=10).raise_for_status()

    def requests(self) -> list[dict[str, Any]]:
        import httpx

        return httpx.get(f"{self.url}/_requests", timeout=10).json()["requests"]  # type: ignore[no-any-return]


def start_mock_services() -> Iterator[MockServices]:
    """Start the server as a separate process; stop it when the generator is closed."""
    proc = subprocess.Popen(
        [sys.executable, str(Path(__file__).resolve())],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        if not line.startswith("PORT "):
            raise RuntimeError(f"mock services did not start: {line!r}")
        yield MockServices(f"http://127.0.0.1:{int(line.split()[1])}")
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


if __name__ == "__main__":
    serve()
