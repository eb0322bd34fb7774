"""NativeExecutor: resolution, outputs, errors, timeout, cancel, secret redaction."""

from __future__ import annotations

import threading
import time
from typing import Any

from orchestrator.errors import OperationFailed
from orchestrator.executors.base import (
    CANCELLED,
    FAILED,
    SUCCEEDED,
    TIMED_OUT,
    OperationRequest,
    OperationResult,
)
from orchestrator.executors.native import NativeContext, NativeExecutor
from orchestrator.executors.secrets import Secret

HERE = "native://" + __name__


def double(ctx: NativeContext, inputs: dict[str, Any]) -> dict[str, Any]:
    ctx.log("INFO", f"doubling {inputs['x']} for {ctx.node}")
    return {"y": inputs["x"] * 2, "step": ctx.step_id}


def fails(ctx: NativeContext, inputs: dict[str, Any]) -> dict[str, Any]:
    raise OperationFailed("the job exploded", output_tail="last line of output")


def buggy(ctx: NativeContext, inputs: dict[str, Any]) -> dict[str, Any]:
    return {}["missing"]  # type: ignore[no-any-return]


def waits(ctx: NativeContext, inputs: dict[str, Any]) -> dict[str, Any]:
    ctx.cancel.wait(30)
    if ctx.should_stop():
        raise OperationFailed("stopped on request")
    return {}


def leaks(ctx: NativeContext, inputs: dict[str, Any]) -> dict[str, Any]:
    password = ctx.secret("env:NATIVE_TEST_PW")
    ctx.log("INFO", f"using password {password} and token {inputs['token']}")
    raise OperationFailed(f"login refused for password {password}")


def req(step: str, func: str, timeout: float | None = None, **inputs: Any) -> OperationRequest:
    return OperationRequest(
        step_id=step,
        node=step.split(".")[0],
        interface="Standard",
        operation="create",
        artifact=f"{HERE}:{func}",
        inputs=inputs,
        timeout=timeout,
    )


def test_outputs_callbacks_and_order(tmp_path):
    started: list[str] = []
    finished: list[OperationResult] = []
    reqs = [req("a.Standard.create", "double", x=2), req("b.Standard.create", "fails")]
    results = NativeExecutor().run_batch(reqs, started.append, finished.append)
    assert [r.step_id for r in results] == ["a.Standard.create", "b.Standard.create"]
    assert results[0].status == SUCCEEDED
    assert results[0].outputs == {"y": 4, "step": "a.Standard.create"}
    assert "doubling 2 for a" in results[0].log
    assert results[1].status == FAILED and "the job exploded" in (results[1].error or "")
    assert "last line of output" in results[1].log
    assert sorted(started) == ["a.Standard.create", "b.Standard.create"]
    assert {r.step_id for r in finished} == set(started)


def test_bad_reference_and_bug_are_results_not_exceptions():
    bad = req("a.Standard.create", "nope")
    bad_mod = OperationRequest("b.x.y", "b", "x", "y", "native://no_such_module_xyz:f")
    results = NativeExecutor().run_batch([bad, bad_mod, req("c.Standard.create", "buggy")])
    assert all(r.status == FAILED for r in results)
    assert "has no nope()" in (results[0].error or "")
    assert "cannot import no_such_module_xyz" in (results[1].error or "")
    assert "KeyError" in (results[2].error or "") and "Traceback" in results[2].log


def test_timeout_stops_only_the_slow_one():
    t0 = time.monotonic()
    results = NativeExecutor().run_batch(
        [req("slow.S.c", "waits", timeout=0.3), req("fast.S.c", "double", x=1)]
    )
    assert time.monotonic() - t0 < 5
    assert results[0].status == TIMED_OUT and "timed out" in (results[0].error or "")
    assert results[1].status == SUCCEEDED


def test_cancel_is_prompt():
    cancel = threading.Event()
    threading.Timer(0.2, cancel.set).start()
    t0 = time.monotonic()
    results = NativeExecutor().run_batch([req("w.S.c", "waits")], cancel=cancel)
    assert time.monotonic() - t0 < 3
    assert results[0].status == CANCELLED


def test_secrets_never_reach_log_or_error(monkeypatch):
    monkeypatch.setenv("NATIVE_TEST_PW", "hunter2-pw")
    r = req("s.S.c", "leaks", token=Secret("tok-999"))
    assert "tok-999" not in repr(r)
    result = NativeExecutor().run_batch([r])[0]
    assert result.status == FAILED
    text = result.log + (result.error or "")
    assert "hunter2-pw" not in text and "tok-999" not in text
    assert "***" in result.log and "***" in (result.error or "")
    debug = NativeExecutor(debug=True).run_batch([r])[0]
    assert "hunter2-pw" in debug.log
