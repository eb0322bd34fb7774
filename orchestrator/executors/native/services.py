"""``eflows4hpc.nodes.HttpService``: an HTTP (ASGI) service the site runs for a deployment.

Native implementations (see ``orchestrator.executors.native``):

* ``start`` -> ``{url, pid, state_dir, log}``: runs ``python -m <module> --state DIR --host H
  --port P --port-file F [args...]`` as a detached process of the site (its own session, so
  a finished deploy leaves it running), then gates on ``GET {url}{health_path}`` answering
  200 within ``startup_timeout`` seconds; a process that exits first fails the step with its
  log's last lines, one that stays unhealthy is stopped and the step fails. A service
  already running (same recorded pid, healthy) is kept, so a resumed deploy starts nothing.
* ``stop``: SIGTERM to the recorded process group, SIGKILL after 10 s.

The module must accept those options (``workflows.earthquake.services`` does). Today the
service runs on the orchestrator's own host: a site whose ``login_host`` is another machine
is refused with a clear error.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from orchestrator.errors import OperationFailed, OperationTimeout, UsageError
from orchestrator.executors.native import NativeContext
from orchestrator.executors.native.dls import _work_dir

__all__ = ["start", "stop"]

_LOCAL_HOSTS = ("", "localhost", "127.0.0.1", "::1")


def _settings(ctx: NativeContext, inputs: dict[str, Any]) -> dict[str, Any]:
    merged = dict(ctx.context.get("node_properties") or {})
    merged.update({k: v for k, v in inputs.items() if v is not None})
    return merged


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _healthy(url: str, path: str) -> bool:
    try:
        return httpx.get(url.rstrip("/") + path, timeout=2.0).status_code == 200
    except httpx.HTTPError:
        return False


def _tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def start(ctx: NativeContext, inputs: dict[str, Any]) -> dict[str, Any]:
    s = _settings(ctx, inputs)
    host = str(ctx.environment.get("login_host") or "")
    if host not in _LOCAL_HOSTS:
        raise UsageError(
            f"HttpService {ctx.node}: runs on the orchestrator's host only; the site's "
            f"login_host is {host!r}"
        )
    health = str(s.get("health_path") or "/health")
    attrs = dict(ctx.context.get("attributes") or {})
    old_pid, old_url = attrs.get("pid"), attrs.get("url")
    if old_pid and old_url and _alive(int(old_pid)) and _healthy(str(old_url), health):
        ctx.log("INFO", f"service {ctx.node} already running at {old_url} (pid {old_pid})")
        return {"url": old_url, "pid": int(old_pid), "state_dir": attrs.get("state_dir"),
                "log": attrs.get("log")}  # fmt: skip
    module = str(s.get("module") or "")
    if not module.replace(".", "").replace("_", "").isalnum():
        raise UsageError(f"HttpService {ctx.node}: 'module' must be a Python module name")
    state = Path(str(s.get("state_dir") or f"services/{ctx.node}"))
    if not state.is_absolute():
        state = _work_dir(ctx) / state
    state.mkdir(parents=True, exist_ok=True)
    port_file = state / "url"
    port_file.unlink(missing_ok=True)
    log_path = state / "service.log"
    argv = [sys.executable, "-m", module, "--state", str(state),
            "--host", str(s.get("host") or "127.0.0.1"), "--port", str(int(s.get("port") or 0)),
            "--port-file", str(port_file)]  # fmt: skip
    argv += [str(a) for a in (s.get("arguments") or [])]
    with open(log_path, "ab") as log:
        proc = subprocess.Popen(  # noqa: S603 - fixed argv from validated properties
            argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True, close_fds=True,
        )  # fmt: skip
    timeout = float(s.get("startup_timeout") or 30.0)
    end = time.monotonic() + timeout
    url = None
    while time.monotonic() < end and not ctx.cancel.is_set():
        if proc.poll() is not None:
            raise OperationFailed(
                f"service {ctx.node} ({module}) exited with status {proc.returncode} before "
                f"it was healthy; last lines of {log_path}:\n{_tail(log_path)}",
                output_tail=_tail(log_path),
            )
        if url is None and port_file.exists():
            url = port_file.read_text().strip() or None
        if url is not None and _healthy(url, health):
            ctx.log("INFO", f"service {ctx.node} healthy at {url} (pid {proc.pid})")
            return {"url": url, "pid": proc.pid, "state_dir": str(state), "log": str(log_path)}
        time.sleep(0.05)
    _terminate(proc.pid)
    raise OperationTimeout(
        f"service {ctx.node} ({module}) was not healthy ({health}) within {timeout:g} s; "
        f"stopped; last lines of {log_path}:\n{_tail(log_path)}"
    )


def _terminate(pid: int, grace: float = 10.0) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGTERM)
    end = time.monotonic() + grace
    while time.monotonic() < end and _alive(pid):
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)
        time.sleep(0.05)
    if _alive(pid):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, signal.SIGKILL)


def stop(ctx: NativeContext, inputs: dict[str, Any]) -> dict[str, Any]:
    attrs = dict(ctx.context.get("attributes") or {})
    pid = attrs.get("pid")
    if pid and _alive(int(pid)):
        _terminate(int(pid))
        ctx.log("INFO", f"service {ctx.node} (pid {pid}) stopped")
    else:
        ctx.log("INFO", f"service {ctx.node}: not running")
    return {"url": "", "pid": 0}
