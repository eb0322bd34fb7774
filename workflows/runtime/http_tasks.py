"""``@http`` tasks: one pooled httpx client, URL / payload templating, response extraction.

- URL: ``base_url`` of ``service_name`` (runtime configuration ``http.services``) joined with
  ``resource``, whose ``{{param}}`` placeholders take the call's arguments (URL-quoted).
- Body: ``payload`` with ``{{param}}`` replaced (strings as they are, other values as JSON),
  sent with ``payload_type`` (default ``application/json``).
- Result: ``produces`` is a JSON template; where it holds ``"{{return_N}}"`` the value found at
  the same place in the response becomes returned value N. Without ``produces`` a task with
  ``returns`` gets the parsed JSON body (or the text when the body is not JSON).
- A non-2xx status, a body that is not the JSON ``produces`` expects, a connection error or a
  time-out is the task's failure (and so retried under RETRY); the error carries the response.
"""

from __future__ import annotations

import json
import re
import time
import urllib.parse
from typing import Any

from workflows.runtime.exceptions import HttpTaskError, TaskDefinitionError
from workflows.runtime.execution import HOST, bind_arguments, render_template
from workflows.runtime.model import Outcome, TaskSpec

__all__ = ["HttpCaller", "extract_returns"]

_RETURN = re.compile(r"^\{\{\s*return_(\d+)\s*\}\}$")
_BODY_LIMIT = 2000


def _json_value(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def extract_returns(template: Any, data: Any, out: dict[int, Any], where: str = "$") -> None:
    """Fill ``out[N]`` with the parts of ``data`` the ``{{return_N}}`` slots of ``template``
    point at; raise HttpTaskError when ``data`` lacks them."""
    if isinstance(template, str):
        match = _RETURN.match(template.strip())
        if match:
            out[int(match.group(1))] = data
        return
    if isinstance(template, dict):
        if not isinstance(data, dict):
            raise HttpTaskError(f"response at {where} is {type(data).__name__}, expected object")
        for key, sub in template.items():
            if key not in data:
                raise HttpTaskError(f"response lacks {where}.{key}")
            extract_returns(sub, data[key], out, f"{where}.{key}")
    elif isinstance(template, list):
        if not isinstance(data, list) or len(data) < len(template):
            raise HttpTaskError(f"response at {where} is not a list of {len(template)} items")
        for i, sub in enumerate(template):
            extract_returns(sub, data[i], out, f"{where}[{i}]")


class HttpCaller:
    """Runs ``@http`` tasks over one pooled ``httpx.Client``."""

    def __init__(self, services: dict[str, dict[str, Any]]) -> None:
        import httpx  # lazy: only programs with @http tasks pay for it

        self._httpx = httpx
        self.services = services
        self.client = httpx.Client(
            limits=httpx.Limits(max_connections=64, max_keepalive_connections=16),
            follow_redirects=True,
        )

    def close(self) -> None:
        self.client.close()

    def _base(self, opts: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        if opts.get("base_url"):
            return str(opts["base_url"]), {}
        name = str(opts.get("service_name"))
        service = self.services.get(name)
        if not service or not service.get("base_url"):
            known = ", ".join(sorted(self.services)) or "none"
            raise TaskDefinitionError(
                f"@http service {name!r} has no base_url in the runtime configuration "
                f"(http.services; configured: {known})"
            )
        return str(service["base_url"]), service

    def call(self, spec: TaskSpec, args: tuple, kwargs: dict) -> Outcome:
        started = time.time()
        try:
            values = self._call(spec, args, kwargs)
        except self._httpx.TimeoutException as exc:
            return Outcome(
                ok=False,
                timed_out=True,
                error=f"HTTP time-out: {exc}",
                host=HOST,
                started=started,
                ended=time.time(),
            )
        except self._httpx.HTTPError as exc:
            return Outcome(
                ok=False,
                error=f"HTTP error: {type(exc).__name__}: {exc}",
                host=HOST,
                started=started,
                ended=time.time(),
            )
        except (HttpTaskError, TaskDefinitionError) as exc:
            body = getattr(exc, "body", "")
            return Outcome(
                ok=False,
                error=f"{type(exc).__name__}: {exc}",
                detail=body,
                host=HOST,
                started=started,
                ended=time.time(),
            )
        return Outcome(ok=True, values=values, host=HOST, started=started, ended=time.time())

    def _call(self, spec: TaskSpec, args: tuple, kwargs: dict) -> tuple[Any, ...]:
        opts = spec.options
        base, service = self._base(opts)
        bound = bind_arguments(spec, args, kwargs)
        resource = render_template(
            str(opts.get("resource", "")),
            bound,
            quote=lambda v: urllib.parse.quote(str(v), safe=""),
        )
        url = base.rstrip("/") + ("/" + resource.lstrip("/") if resource else "")
        method = str(opts.get("request", "GET")).upper()
        headers = dict(service.get("headers") or {})
        content = None
        if opts.get("payload"):
            content = render_template(str(opts["payload"]), bound, quote=_json_value)
            headers.setdefault("Content-Type", str(opts.get("payload_type", "application/json")))
        timeout = spec.time_out or float(service.get("timeout", 30))
        response = self.client.request(
            method, url, content=content, headers=headers, timeout=timeout
        )
        text = response.text
        if not 200 <= response.status_code < 300:
            raise HttpTaskError(
                f"{method} {url} answered {response.status_code}: {text[:_BODY_LIMIT]}",
                status=response.status_code,
                body=text[:_BODY_LIMIT],
            )
        n = spec.returns
        if n == 0:
            return ()
        produces = opts.get("produces")
        is_json = "json" in response.headers.get("content-type", "")
        if not produces and not is_json:
            return (text,) + (None,) * (n - 1)
        try:
            data = json.loads(text)
        except ValueError:
            raise HttpTaskError(
                f"{method} {url} answered invalid JSON: {text[:_BODY_LIMIT]}",
                status=response.status_code,
                body=text[:_BODY_LIMIT],
            ) from None
        if not produces:
            return (data,) + (None,) * (n - 1)
        template = json.loads(produces) if isinstance(produces, str) else produces
        found: dict[int, Any] = {}
        try:
            extract_returns(template, data, found)
        except HttpTaskError as exc:
            raise HttpTaskError(
                f"{method} {url}: {exc}: {text[:_BODY_LIMIT]}",
                status=response.status_code,
                body=text[:_BODY_LIMIT],
            ) from None
        return tuple(found.get(i) for i in range(n))
