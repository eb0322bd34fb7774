"""Small HTTP client for the DLS and image-creation services, and job-polling helpers.

Every failure becomes ``ServiceError`` naming the service, the URL (never credentials) and a
snippet of the answer. Connection errors are retried a few times with back-off; HTTP errors
are not (a 4xx will not get better, a 5xx is reported so the engine's retry policy decides).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import httpx

from orchestrator.errors import ExecutionError, JobError, OperationTimeout, ServiceError
from orchestrator.jobs import JobStatus

if TYPE_CHECKING:
    from orchestrator.executors.native import NativeContext

__all__ = ["ServiceClient", "poll_job", "submit_and_wait"]

_SNIPPET = 300


def _safe_url(url: str) -> str:
    """The URL without any user:password part."""
    parsed = httpx.URL(url)
    return str(parsed.copy_with(username=None, password=None)) if parsed.userinfo else url


class ServiceClient:
    """JSON over HTTP to one service (``service`` names it in errors)."""

    def __init__(
        self,
        service: str,
        base_url: str,
        *,
        username: str | None = None,
        password: str | None = None,
        timeout: float = 30.0,
        retries: int = 3,
        backoff: float = 0.5,
    ) -> None:
        self.service = service
        self.base_url = base_url.rstrip("/")
        self.retries = retries
        self.backoff = backoff
        auth = httpx.BasicAuth(username, password or "") if username else None
        self._client = httpx.Client(timeout=timeout, auth=auth, follow_redirects=True)

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> ServiceClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def url(self, path: str) -> str:
        return f"{self.base_url}/{path.lstrip('/')}"

    def _send(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        url = self.url(path)
        for attempt in range(self.retries + 1):
            try:
                return self._client.request(method, url, **kwargs)
            except (httpx.ConnectError, httpx.ConnectTimeout, httpx.RemoteProtocolError) as exc:
                if attempt == self.retries:
                    raise ServiceError(
                        f"{self.service}: cannot reach {method} {_safe_url(url)} after "
                        f"{attempt + 1} attempts: {type(exc).__name__}"
                    ) from exc
                time.sleep(self.backoff * (2**attempt))
            except httpx.TimeoutException as exc:
                raise ServiceError(f"{self.service}: {method} {_safe_url(url)} timed out") from exc
        raise AssertionError("unreachable")

    def json(
        self, method: str, path: str, body: Any = None, required: tuple[str, ...] = ()
    ) -> dict[str, Any]:
        """Send ``body`` as JSON, return the answer's JSON object; check ``required`` keys."""
        response = self._send(method, path, json=body)
        url = _safe_url(str(response.request.url))
        snippet = response.text[:_SNIPPET]
        if response.status_code >= 400:
            raise ServiceError(
                f"{self.service}: {method} {url} answered HTTP {response.status_code}: {snippet}"
            )
        try:
            data = response.json()
        except ValueError as exc:
            raise ServiceError(
                f"{self.service}: {method} {url} answered non-JSON: {snippet!r}"
            ) from exc
        if not isinstance(data, dict):
            raise ServiceError(
                f"{self.service}: {method} {url} answered {snippet!r}, not an object"
            )
        missing = [key for key in required if key not in data]
        if missing:
            raise ServiceError(
                f"{self.service}: {method} {url} answer lacks {', '.join(missing)}: {snippet}"
            )
        return data

    def download(self, path: str, destination: Path) -> tuple[int, str]:
        """Stream ``path`` to ``destination`` atomically; returns (bytes, sha256 hex)."""
        url = self.url(path)
        destination.parent.mkdir(parents=True, exist_ok=True)
        digest = hashlib.sha256()
        size = 0
        fd, tmp = tempfile.mkstemp(dir=destination.parent, prefix=f".{destination.name}.")
        try:
            with os.fdopen(fd, "wb") as out, self._client.stream("GET", url) as response:
                if response.status_code >= 400:
                    response.read()
                    raise ServiceError(
                        f"{self.service}: GET {_safe_url(url)} answered HTTP "
                        f"{response.status_code}: {response.text[:_SNIPPET]}"
                    )
                for chunk in response.iter_bytes(1 << 20):
                    out.write(chunk)
                    digest.update(chunk)
                    size += len(chunk)
            os.replace(tmp, destination)
        except httpx.HTTPError as exc:
            raise ServiceError(
                f"{self.service}: download {_safe_url(url)} failed: {type(exc).__name__}"
            ) from exc
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
        return size, digest.hexdigest()


def poll_job(
    ctx: NativeContext,
    status_of: Callable[[], tuple[JobStatus, dict[str, Any]]],
    *,
    timeout: float,
    first_delay: float = 0.2,
    max_delay: float = 5.0,
    unknown_grace: float = 60.0,
) -> dict[str, Any]:
    """Poll ``status_of`` with back-off until a terminal status (standard-mode ``start``).

    Returns the last outputs on COMPLETED; raises ``JobError`` on FAILED / CANCELLED / LOST or
    an UNKNOWN status lasting ``unknown_grace`` seconds, ``OperationTimeout`` past ``timeout``
    and ``JobError`` when ``ctx.cancel`` is set.
    """
    deadline = time.monotonic() + timeout
    delay = first_delay
    unknown_since: float | None = None
    while True:
        status, outputs = status_of()
        if status is JobStatus.COMPLETED:
            return outputs
        if status.is_terminal:
            raise JobError(f"job ended {status.value}: {outputs.get('message', '')}".strip())
        now = time.monotonic()
        if status is JobStatus.UNKNOWN:
            unknown_since = unknown_since or now
            if now - unknown_since > unknown_grace:
                raise JobError(f"job status unknown for more than {unknown_grace:.0f}s")
        else:
            unknown_since = None
        if now > deadline:
            raise OperationTimeout(f"job not finished after {timeout:.0f}s")
        if ctx.cancel.wait(min(delay, max(0.0, deadline - now))):
            raise JobError("cancelled while waiting for the job")
        delay = min(delay * 1.5, max_delay)


NativeOp = Callable[["NativeContext", dict[str, Any]], dict[str, Any]]


def submit_and_wait(
    ctx: NativeContext,
    inputs: dict[str, Any],
    *,
    submit: NativeOp,
    run: NativeOp,
    timeout: float,
    cancel: NativeOp | None = None,
) -> dict[str, Any]:
    """Standard mode of a Runnable service job: ``submit``, then poll ``run`` until it ends.

    Returns the submit outputs merged with the final ``run`` outputs. When the wait is
    cancelled (``ctx.cancel``) or times out, ``cancel`` (if the service has one) is called on
    the job, best effort, before the error propagates.
    """
    submitted = submit(ctx, inputs)
    job = {**inputs, "TOSCA_JOB_ID": submitted["TOSCA_JOB_ID"]}

    def status_of() -> tuple[JobStatus, dict[str, Any]]:
        answer = run(ctx, job)
        return JobStatus(answer["TOSCA_JOB_STATUS"]), answer

    try:
        final = poll_job(ctx, status_of, timeout=timeout)
    except ExecutionError as exc:
        stopping = ctx.should_stop() or isinstance(exc, OperationTimeout)
        if cancel is not None and stopping:
            with contextlib.suppress(ExecutionError, ServiceError):
                cancel(ctx, job)
        raise
    return {**submitted, **final}


def path_segment(value: object) -> str:
    """``value`` as one URL path segment. Ids come from inputs and service answers: a ``/``,
    ``?`` or ``#`` in one must not change which resource a request reaches."""
    text = str(value)
    if text in ("", ".", ".."):
        raise ServiceError(f"{text!r} is not a valid resource id")
    return quote(text, safe="")
