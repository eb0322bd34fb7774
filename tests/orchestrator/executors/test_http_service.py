"""``eflows4hpc.nodes.HttpService``'s native start / stop with real service processes: the
start waits for health (a slow start is fine within the time-out), a service that never
gets healthy or exits at once fails the step clearly and leaves no process behind, a
running healthy service is kept, stop ends it."""

from __future__ import annotations

import contextlib
import os
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from orchestrator.errors import OperationFailed, OperationTimeout, UsageError
from orchestrator.executors.native import NativeContext, services

pytestmark = pytest.mark.integration


def ctx(tmp_path: Path, props: dict[str, Any], attrs: dict[str, Any] | None = None,
        login_host: str = "localhost") -> NativeContext:  # fmt: skip
    context = {
        "node_properties": {"module": "workflows.earthquake.services", "startup_timeout": 20,
                            **props},
        "requirements": {"environment": {"node": "site", "properties": {
            "work_dir": str(tmp_path / "site"), "login_host": login_host}}},
        "attributes": attrs or {},
        "workspace": str(tmp_path / "ws"),
    }  # fmt: skip
    return NativeContext("svc.Standard.start", "svc", "Standard", "start", context, tmp_path)


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def gone(pid: int, timeout: float = 10.0) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)
        if not alive(pid):
            return True
        time.sleep(0.05)
    return False


def test_a_slow_start_is_waited_for_then_kept_then_stopped(tmp_path: Path) -> None:
    c = ctx(tmp_path, {"arguments": ["--start-delay", "2"]})
    out = services.start(c, {})
    try:
        assert httpx.get(out["url"] + "/health", timeout=5).json()["status"] == "ok"
        assert Path(out["state_dir"]) == tmp_path / "site" / "services" / "svc"
        assert (Path(out["state_dir"]) / "ucis4eq.db").exists()
        again = services.start(ctx(tmp_path, {}, attrs=out), {})  # a resumed deploy
        assert again["pid"] == out["pid"] and again["url"] == out["url"]
    finally:
        stopped = services.stop(ctx(tmp_path, {}, attrs=out), {})
    assert stopped == {"url": "", "pid": 0}
    assert gone(out["pid"])
    with pytest.raises(httpx.HTTPError):
        httpx.get(out["url"] + "/health", timeout=2)


def test_never_healthy_fails_the_step_and_stops_the_process(tmp_path: Path) -> None:
    c = ctx(tmp_path, {"health_path": "/no-such-path", "startup_timeout": 3})
    started = time.monotonic()
    with pytest.raises(OperationTimeout, match="was not healthy .*/no-such-path.* within 3 s"):
        services.start(c, {})
    assert time.monotonic() - started < 20
    log = (tmp_path / "site" / "services" / "svc" / "service.log").read_text()
    url = (tmp_path / "site" / "services" / "svc" / "url").read_text()
    with pytest.raises(httpx.HTTPError):
        httpx.get(url + "/health", timeout=2)
    assert "Traceback" not in log


def test_a_service_that_exits_fails_with_its_last_lines(tmp_path: Path) -> None:
    with pytest.raises(OperationFailed, match="exited with status 2 before it was healthy"):
        services.start(ctx(tmp_path, {"arguments": ["--no-such-option"]}), {})


def test_only_the_orchestrators_host(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="runs on the orchestrator's host only"):
        services.start(ctx(tmp_path, {}, login_host="hpc.example.org"), {})
    with pytest.raises(UsageError, match="must be a Python module name"):
        services.start(ctx(tmp_path, {"module": "x; rm -rf /"}), {})
