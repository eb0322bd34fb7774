"""The REST API: upstream HPCWaaS's end-user endpoints (same paths, bodies and status codes,
so a ``waas`` client works unchanged) plus deployments, execution lists and health.

Every route calls ``orchestrator.service.Service``; nothing here touches the engine or the
store. Routes are plain ``def`` functions: FastAPI runs them in its thread pool, where the
service's blocking calls (SQLite, the in-process trigger) belong.

Authentication: ``Authorization: Bearer <token>`` with a token from ``tosca tokens create``,
or HTTP basic with the token as password (upstream's basic mode). Another user's execution
is answered 404, exactly like one that does not exist.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import re
import threading
import time
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from fastapi import Body, Depends, FastAPI, HTTPException, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse, JSONResponse, Response
from fastapi.security import HTTPBasic, HTTPBearer
from pydantic import BaseModel

from orchestrator.api.oidc import OidcVerifier
from orchestrator.errors import Forbidden, NotFound, ToscaError, UsageError
from orchestrator.events.processor import MAX_PAYLOAD, AlertProcessor
from orchestrator.service import Principal, Service

__all__ = ["RateLimit", "create_app", "parse_duration", "levels_of"]

# Upstream's bitmask of log levels; 0 (its default) means INFO + WARN + ERROR.
LEVEL_BITS = {"DEBUG": 1, "INFO": 2, "WARN": 4, "ERROR": 8}
_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|us|µs|ns|h|m|s)")
_UNIT_SECONDS = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 1e-3, "us": 1e-6, "µs": 1e-6, "ns": 1e-9}
MAX_LONG_POLL_S = 300.0
UI_DIR = Path(__file__).with_name("ui")
_UI_ASSETS = {"app.js": "text/javascript", "style.css": "text/css", "index.html": "text/html"}
_MEDIA = {".png": "image/png", ".json": "application/json", ".csv": "text/csv",
          ".geojson": "application/geo+json", ".txt": "text/plain",
          ".nc": "application/x-netcdf"}  # fmt: skip


def parse_duration(text: str) -> float:
    """Seconds in a Go duration (``1m``, ``30s``, ``1m30s``, ``500ms``: what upstream's
    clients send as ``timeout``) or a plain number of seconds. ValueError if neither."""
    text = text.strip()
    try:
        return float(text)
    except ValueError:
        pass
    pos, total = 0, 0.0
    for match in _DURATION.finditer(text):
        if match.start() != pos:
            break
        total += float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
        pos = match.end()
    if pos != len(text) or not text:
        raise ValueError(f"{text!r} is not a duration (e.g. 30s, 1m, 1m30s, 500ms)")
    return total


def levels_of(mask: int) -> tuple[str, ...]:
    if mask < 0 or mask > 15:
        raise ValueError(f"levels {mask} is not a bitmask of DEBUG=1 INFO=2 WARN=4 ERROR=8")
    if mask == 0:
        mask = LEVEL_BITS["INFO"] | LEVEL_BITS["WARN"] | LEVEL_BITS["ERROR"]
    return tuple(name for name, bit in LEVEL_BITS.items() if mask & bit)


class RateLimit:
    """A token bucket per API token: ``burst`` calls at once, refilled at ``per_second``.
    Applies to the calls that start work (triggers), so one runaway client cannot flood the
    urgent queue; reads are not limited."""

    def __init__(self, per_second: float = 20.0, burst: int = 300) -> None:
        self.per_second = per_second
        self.burst = burst
        self._buckets: dict[str, tuple[float, float]] = {}  # key -> (tokens, last refill)
        self._lock = threading.Lock()

    def take(self, key: str) -> float:
        """0 if the call may go ahead, else the seconds to wait before trying again."""
        now = time.monotonic()
        with self._lock:
            tokens, last = self._buckets.get(key, (float(self.burst), now))
            tokens = min(float(self.burst), tokens + (now - last) * self.per_second)
            if tokens >= 1.0:
                self._buckets[key] = (tokens - 1.0, now)
                return 0.0
            self._buckets[key] = (tokens, now)
            return (1.0 - tokens) / self.per_second if self.per_second > 0 else 60.0


def _status_of(exc: ToscaError) -> int:
    if isinstance(exc, NotFound):
        return 404
    if isinstance(exc, Forbidden):
        return 403
    if isinstance(exc, UsageError):
        return 422
    return 409  # a state the request cannot proceed from (locked store, undeployable...)


def _too_many(what: str, wait: float) -> JSONResponse:
    """429 with the seconds to wait (the token bucket's answer)."""
    return JSONResponse(
        {"detail": f"too many {what}; retry later"},
        status_code=429,
        headers={"Retry-After": str(max(1, round(wait)))},
    )


def _package_version() -> str:
    try:
        return version("tosca-urgent")
    except PackageNotFoundError:
        return "unknown"


class ErrorBody(BaseModel):
    """Every error answer: a message (ours), or FastAPI's list of field errors."""

    detail: str | list[Any]


_ERRORS = {
    401: "no valid token",
    403: "not allowed for this role",
    404: "no such thing, or another user's",
    409: "conflict with the current state",
    422: "bad input (named)",
    429: "too many triggers; see Retry-After",
}


def create_app(
    service: Service,
    *,
    rate_limit: RateLimit | None = None,
    oidc: OidcVerifier | None = None,
    events: AlertProcessor | None = None,
) -> FastAPI:
    """The ASGI application serving ``service``'s workspace; with ``oidc``, bearer JWTs of
    that issuer are accepted beside the workspace's own tokens. ``events`` processes the
    alerts POSTed to /events (default: the deployed templates' EventTrigger policies)."""
    limiter = rate_limit or RateLimit()
    alerts = events or AlertProcessor(service)
    app = FastAPI(
        title="tosca REST API",
        version=_package_version(),
        description="End-user workflow triggers, compatible with eFlows4HPC's HPCWaaS API.",
        responses={
            code: {"model": ErrorBody, "description": what} for code, what in _ERRORS.items()
        },
    )
    bearer = HTTPBearer(auto_error=False, description="a token from `tosca tokens create`")
    basic = HTTPBasic(auto_error=False, description="user name and token as password")

    @app.exception_handler(ToscaError)
    def tosca_error(request: Request, exc: ToscaError) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=_status_of(exc))

    def caller(request: Request, _b: Any = Depends(bearer), _c: Any = Depends(basic)) -> Principal:
        scheme, _, credentials = request.headers.get("authorization", "").partition(" ")
        who = None
        if scheme.lower() == "bearer":
            token = credentials.strip()
            if oidc is not None and token.count(".") == 2:  # a JWT, not a tosca_ token
                who = oidc.verify(token)
            else:
                who = service.authenticate(token)
        elif scheme.lower() == "basic":
            try:
                user, _, token = base64.b64decode(credentials.strip()).decode().partition(":")
            except (binascii.Error, UnicodeDecodeError):
                user, token = "", ""
            who = service.authenticate(token) if token else None
            if who is not None and who.user != user:
                who = None
        if who is None:
            raise HTTPException(
                401,
                "a valid token is needed (Authorization: Bearer <token>)",
                headers={"WWW-Authenticate": 'Bearer, Basic realm="tosca"'},
            )
        if who.role == "alerts" and not request.url.path.startswith("/events"):
            raise HTTPException(403, "an alerts token may only POST /events")
        request.state.token_key = credentials.strip()[-16:]
        return who

    @app.get("/health", tags=["service"])
    def health() -> dict[str, Any]:
        return {"status": "ok", "version": app.version}

    @app.get("/workflows", tags=["workflows"])
    def list_workflows(who: Principal = Depends(caller)) -> dict[str, Any]:
        return {"workflows": service.exposed_workflows(who)}

    @app.post("/workflows/{workflow_id}", status_code=201, tags=["workflows"])
    async def trigger(
        workflow_id: str,
        request: Request,
        body: dict[str, Any] | None = Body(default=None),
        wait_job: float = Query(0.0, ge=0.0, le=60.0, description="wait up to this many s "
                                "for the first job id and return it"),
        who: Principal = Depends(caller),
    ) -> Response:  # fmt: skip
        wait = limiter.take(request.state.token_key)
        if wait:
            return _too_many("triggers", wait)
        inputs = (body or {}).get("inputs") or {}
        urgency = (body or {}).get("urgency")
        if not isinstance(inputs, dict):
            raise UsageError("'inputs' must be an object of input name -> value")
        if urgency is not None and not isinstance(urgency, str):
            raise UsageError("'urgency' must be a string")
        handle = await run_in_threadpool(
            service.trigger_as, who, workflow_id, inputs, urgency=urgency
        )
        content: dict[str, Any] = {"id": handle.execution_id}
        if wait_job:
            # Waited for here, not in a worker thread: a burst of triggers that wait for
            # their job ids must not hold the thread pool the other calls need.
            end = time.monotonic() + wait_job
            job = handle.wait_job(timeout=0)
            while job is None and not handle.done and time.monotonic() < end:
                await asyncio.sleep(0.005)
                job = handle.wait_job(timeout=0)
            content["job_id"] = job
        return JSONResponse(
            content, status_code=201, headers={"Location": f"/executions/{handle.execution_id}"}
        )

    @app.get("/executions", tags=["executions"])
    def list_executions(
        workflow: str | None = None,
        status: str | None = None,
        user: str | None = None,
        since: float | None = Query(None, description="created at or after (Unix time)"),
        who: Principal = Depends(caller),
    ) -> dict[str, Any]:
        found = service.executions_as(who, workflow=workflow, status=status, user=user, since=since)
        return {"executions": found}

    @app.get("/executions/{execution_id}", tags=["executions"])
    def get_execution(execution_id: str, who: Principal = Depends(caller)) -> dict[str, Any]:
        return service.execution_as(who, execution_id)

    # Upstream answers 202 with an empty body; response_class=Response documents exactly
    # that (no JSON content) in the OpenAPI document.
    @app.delete(
        "/executions/{execution_id}",
        status_code=202,
        response_class=Response,
        responses={202: {"description": "cancellation requested"}},
        tags=["executions"],
    )
    def cancel_execution(execution_id: str, who: Principal = Depends(caller)) -> Response:
        service.cancel_as(who, execution_id)
        return Response(status_code=202)

    @app.get("/executions/{execution_id}/logs", tags=["executions"])
    def execution_logs(
        execution_id: str,
        from_: int = Query(0, alias="from", ge=0),
        size: int = Query(-1, ge=-1),
        timeout: str = Query("0s", description="long poll: a Go duration (1m) or seconds"),
        levels: int = Query(0, ge=0, le=15, description="DEBUG=1 INFO=2 WARN=4 ERROR=8"),
        who: Principal = Depends(caller),
    ) -> dict[str, Any]:
        try:
            wait = min(parse_duration(timeout), MAX_LONG_POLL_S)
        except ValueError as exc:
            raise UsageError(f"timeout: {exc}") from None
        lines, total = service.logs_as(
            who, execution_id, offset=from_, size=size, levels=levels_of(levels), timeout=wait
        )
        return {
            "logs": [
                {"level": line.level,
                 "timestamp": datetime.fromtimestamp(line.ts, UTC).isoformat(
                     timespec="milliseconds").replace("+00:00", "Z"),
                 "content": line.content}
                for line in lines
            ],
            "total_results": total,
            "from": from_,
        }  # fmt: skip

    @app.get("/deployments", tags=["deployments"])
    def list_deployments(who: Principal = Depends(caller)) -> dict[str, Any]:
        return {"deployments": service.deployments_as(who)}

    def _key(record: Any) -> dict[str, Any]:
        return {"id": record.id, "public_key": record.public_key, "created_at": record.created_at}

    @app.post("/ssh_keys", status_code=201, tags=["ssh_keys"])
    def create_ssh_key(who: Principal = Depends(caller)) -> dict[str, Any]:
        """A new key pair for the caller: the public key to install on their HPC account;
        the private key stays on the server, encrypted, and is never returned."""
        return _key(service.create_ssh_key_as(who))

    @app.get("/ssh_keys", tags=["ssh_keys"])
    def list_ssh_keys(who: Principal = Depends(caller)) -> dict[str, Any]:
        return {"ssh_keys": [_key(k) for k in service.ssh_keys_as(who)]}

    @app.get("/ssh_keys/{key_id}", tags=["ssh_keys"])
    def get_ssh_key(key_id: str, who: Principal = Depends(caller)) -> dict[str, Any]:
        return _key(service.ssh_key_as(who, key_id))

    @app.get("/executions/{execution_id}/products", tags=["executions"])
    def list_products(execution_id: str, who: Principal = Depends(caller)) -> dict[str, Any]:
        """The files of the execution's products (its ``products`` output) the dashboard
        shows: maps, tables, summaries."""
        _folder, files = service.products_as(who, execution_id)
        return {"products": files}

    @app.get("/executions/{execution_id}/products/{name}", tags=["executions"])
    def get_product(execution_id: str, name: str, who: Principal = Depends(caller)) -> Response:
        folder, files = service.products_as(who, execution_id)
        if folder is None or name not in {f["name"] for f in files}:
            raise NotFound(f"no product '{name}' for execution {execution_id}")
        return FileResponse(folder / name, media_type=_MEDIA.get(Path(name).suffix.lower()))

    @app.get("/ui", include_in_schema=False)
    def dashboard() -> Response:
        """The duty dashboard (plain HTML and JavaScript over this API)."""
        return FileResponse(UI_DIR / "index.html", media_type="text/html")

    @app.get("/ui/{asset}", include_in_schema=False)
    def dashboard_asset(asset: str) -> Response:
        if asset not in _UI_ASSETS:
            raise NotFound(f"no {asset}")
        return FileResponse(UI_DIR / asset, media_type=_UI_ASSETS[asset])

    @app.post("/events", status_code=202, tags=["events"])
    async def post_event(request: Request, who: Principal = Depends(caller)) -> Response:
        """An earthquake alert (USGS GeoJSON, EMSC message, QuakeML or UCIS4EQ JSON, as
        the body). It is stored before this answers; the answer says what became of it:
        accepted (a new earthquake, runs started), merged (into a known one) or dropped
        (with the reason). Admin or alerts tokens only."""
        if who.role not in ("admin", "alerts"):
            raise Forbidden("only an admin or alerts token may post events")
        wait = limiter.take(request.state.token_key)
        if wait:
            return _too_many("events", wait)
        body = await request.body()
        if len(body) > MAX_PAYLOAD:
            return JSONResponse({"detail": f"an alert is at most {MAX_PAYLOAD} bytes"}, 413)
        outcome = await run_in_threadpool(alerts.submit, f"post:{who.user}", body)
        assert outcome is not None  # no delivery key: every POST is a new message
        return JSONResponse(
            {
                "message": outcome.message_id,
                "outcome": outcome.outcome,
                "reason": outcome.reason,
                "earthquake": outcome.quake_id,
                "executions": [r for r in outcome.runs if "execution" in r],
            },
            status_code=202,
        )

    @app.get("/events", tags=["events"])
    def list_events(
        limit: int = Query(50, ge=1, le=1000), who: Principal = Depends(caller)
    ) -> dict[str, Any]:
        """The last alerts received and what became of them (admins only)."""
        if not who.is_admin:
            raise Forbidden("only an admin may list events")
        return {
            "events": [
                {"message": m.id, "source": m.source, "received_at": m.received_at,
                 "outcome": m.outcome or m.state, "reason": m.reason, "earthquake": m.quake_id,
                 "event": m.event, "runs": m.triggered}
                for m in service.store.alert_messages(limit=limit)
            ]
        }  # fmt: skip

    return app
