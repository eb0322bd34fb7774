"""on_failure policies x {successors, outputs and returned values, application outcome}
(CONTRACTS.md §3), with time_out counting as a failure."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from rt_helpers import processes_with, read_events, run_launcher

from workflows.runtime import (
    COLLECTION_IN,
    FILE_IN,
    FILE_INOUT,
    FILE_OUT,
    TaskCancelledError,
    TaskFailedError,
    compss_barrier,
    compss_wait_on,
    compss_wait_on_file,
    on_failure,
    task,
)


def _count(counter: str) -> None:
    with open(counter, "a") as fh:
        fh.write("x\n")
    time.sleep(0.1)  # the test registers successors meanwhile


def _attempts(counter: Path) -> int:
    return len(counter.read_text().splitlines()) if counter.exists() else 0


@task(returns=1, on_failure="RETRY", out=FILE_OUT)
def retry_fail(counter, out):
    _count(counter)
    Path(out).write_text("partial")
    raise ValueError("boom")


@task(returns=1, on_failure="FAIL", out=FILE_OUT)
def fail_fail(counter, out):
    _count(counter)
    Path(out).write_text("partial")
    raise ValueError("boom")


@on_failure(management="IGNORE", returns=-1)
@task(returns=1, out=FILE_OUT, missing=FILE_OUT)
def ignore_fail(counter, out, missing):
    _count(counter)
    Path(out).write_text("partial")
    raise ValueError("boom")


@on_failure(management="IGNORE", out="default-content")
@task(out=FILE_OUT)
def ignore_fail_default_file(out):
    raise ValueError("boom")


@on_failure(management="CANCEL_SUCCESSORS", returns=7)
@task(returns=1, out=FILE_OUT)
def cancel_fail(counter, out):
    _count(counter)
    Path(out).write_text("partial")
    raise ValueError("boom")


@task(returns=1)
def follow(x, log=None):
    if log:
        _count(log)
    return ("ran", x)


@task(returns=1, inp=FILE_IN)
def follow_file(inp):
    return Path(inp).read_text()


@task(returns=1)
def flaky(counter):
    _count(counter)
    if _attempts(Path(counter)) < 2:
        raise RuntimeError("first attempt fails")
    return "ok"


# ---------------------------------------------------------------- RETRY
def test_retry_resubmits_then_cancels_successors(runtime, tmp_path):
    counter, out = tmp_path / "n", tmp_path / "out.txt"
    r = retry_fail(str(counter), str(out))
    s = follow(r, log=str(tmp_path / "succ"))
    with pytest.raises(TaskFailedError, match="retry_fail.*3 attempt"):
        compss_barrier()
    assert _attempts(counter) == 3  # 1 + 2 resubmissions
    assert not (tmp_path / "succ").exists()
    assert s.task.state.value == "cancelled"
    events = [e["event"] for e in read_events(tmp_path / "ev.jsonl") if e["task_id"] == 1]
    assert events.count("failed") == 3 and events.count("retried") == 2


def test_retry_removes_outputs_and_returned_value_raises(runtime, tmp_path):
    out = tmp_path / "out.txt"
    r = retry_fail(str(tmp_path / "n"), str(out))
    with pytest.raises(TaskFailedError):
        compss_wait_on(r)
    assert not out.exists()


def test_retry_application_stops(runtime, tmp_path):
    retry_fail(str(tmp_path / "n"), str(tmp_path / "o"))
    with pytest.raises(TaskFailedError):
        compss_barrier()
    with pytest.raises(TaskFailedError):  # no further task is accepted
        follow(1)


def test_retry_succeeds_on_second_attempt(runtime, tmp_path):
    counter = tmp_path / "n"
    assert compss_wait_on(flaky(str(counter))) == "ok"
    assert _attempts(counter) == 2


# ---------------------------------------------------------------- FAIL
def test_fail_no_retry_successors_cancelled(runtime, tmp_path):
    counter = tmp_path / "n"
    r = fail_fail(str(counter), str(tmp_path / "o"))
    s = follow(r)
    with pytest.raises(TaskFailedError, match="on_failure=FAIL"):
        compss_barrier()
    assert _attempts(counter) == 1
    assert s.task.state.value == "cancelled"


def test_fail_removes_outputs(runtime, tmp_path):
    out = tmp_path / "o"
    r = fail_fail(str(tmp_path / "n"), str(out))
    with pytest.raises(TaskFailedError):
        compss_wait_on(r)
    assert not out.exists()


def test_fail_application_stops(runtime, tmp_path):
    fail_fail(str(tmp_path / "n"), str(tmp_path / "o"))
    with pytest.raises(TaskFailedError):
        compss_barrier()
    with pytest.raises(TaskFailedError):
        compss_wait_on(follow(2))


# ---------------------------------------------------------------- IGNORE
def test_ignore_successors_still_run_with_default(runtime, tmp_path):
    counter = tmp_path / "n"
    r = ignore_fail(str(counter), str(tmp_path / "o"), str(tmp_path / "m"))
    s = follow(r)
    assert compss_wait_on(s) == ("ran", -1)
    assert _attempts(counter) == 1  # no retry


def test_ignore_outputs_kept_defaults_and_missing_created_empty(runtime, tmp_path):
    out, missing, dflt = tmp_path / "o", tmp_path / "m", tmp_path / "d"
    r = ignore_fail(str(tmp_path / "n"), str(out), str(missing))
    ignore_fail_default_file(str(dflt))
    assert compss_wait_on(r) == -1
    assert compss_wait_on(follow_file(str(out))) == "partial"  # kept as written
    compss_wait_on_file(str(missing))
    assert missing.exists() and missing.read_text() == ""
    compss_wait_on_file(str(dflt))
    assert dflt.read_text() == "default-content"


def test_ignore_application_continues_with_warning(runtime, tmp_path, caplog):
    ignore_fail(str(tmp_path / "n"), str(tmp_path / "o"), str(tmp_path / "m"))
    compss_barrier()  # does not raise
    assert compss_wait_on(follow(3)) == ("ran", 3)
    assert "ignored" in caplog.text
    assert any(e["event"] == "ignored" for e in read_events(tmp_path / "ev.jsonl"))


# ---------------------------------------------------------------- CANCEL_SUCCESSORS
def test_cancel_successors_transitively(runtime, tmp_path):
    r = cancel_fail(str(tmp_path / "n"), str(tmp_path / "o"))
    s1 = follow(r, log=str(tmp_path / "s1"))
    s2 = follow(s1, log=str(tmp_path / "s2"))
    other = follow(5)
    compss_barrier()
    assert s1.task.state.value == "cancelled" and s2.task.state.value == "cancelled"
    assert not (tmp_path / "s1").exists() and not (tmp_path / "s2").exists()
    assert compss_wait_on(other) == ("ran", 5)
    with pytest.raises(TaskCancelledError):
        compss_wait_on(s2)
    # A successor submitted after the failure is cancelled too.
    late = follow(r)
    with pytest.raises(TaskCancelledError):
        compss_wait_on(late)


def test_cancel_successors_outputs_kept(runtime, tmp_path):
    out, counter = tmp_path / "o", tmp_path / "n"
    r = cancel_fail(str(counter), str(out))
    assert compss_wait_on(r) == 7  # @on_failure returns default
    assert out.read_text() == "partial"
    assert _attempts(counter) == 1


def test_cancel_successors_application_continues(runtime, tmp_path, caplog):
    cancel_fail(str(tmp_path / "n"), str(tmp_path / "o"))
    compss_barrier()
    assert compss_wait_on(follow(1)) == ("ran", 1)
    assert "successors are cancelled" in caplog.text


# ---------------------------------------------------------------- launcher outcome
APP = """
import sys
from pathlib import Path
from pycompss.api.task import task
from pycompss.api.on_failure import on_failure
from pycompss.api.api import compss_wait_on, compss_barrier

@on_failure(management=sys.argv[1])
@task(returns=1)
def bad():
    raise ValueError("broken task")

@task(returns=1)
def good(x):
    return 42

bad()
good(1)
compss_barrier()
Path(sys.argv[2]).write_text("reached the end")
"""


@pytest.mark.parametrize(
    "policy,status", [("RETRY", 1), ("FAIL", 1), ("IGNORE", 0), ("CANCEL_SUCCESSORS", 0)]
)
def test_application_outcome_through_launcher(tmp_path, policy, status):
    app = tmp_path / "app.py"
    app.write_text(APP)
    marker = tmp_path / "end"
    proc = run_launcher(["--retries", "1", str(app), policy, str(marker)], cwd=tmp_path)
    assert proc.returncode == status, proc.stderr
    assert marker.exists() == (status == 0)
    if status:
        assert "workflow failed: task bad#1" in proc.stderr
        assert "Traceback" not in proc.stderr
    else:
        assert "broken task" in proc.stderr  # the warning


# ---------------------------------------------------------------- time_out
@task(returns=1, time_out=1, on_failure="FAIL")
def sleepy(marker):
    import subprocess

    subprocess.Popen(["sleep", "300", marker])
    time.sleep(60)
    return "never"


@on_failure(management="IGNORE", returns="timed-out")
@task(returns=1, time_out=1)
def sleepy_ignored(marker):
    import subprocess

    subprocess.Popen(["sleep", "301", marker])
    time.sleep(60)


def test_time_out_kills_task_and_applies_fail(runtime, tmp_path):
    marker = f"tosca-rt-{tmp_path.name}"
    started = time.monotonic()
    r = sleepy(marker)
    with pytest.raises(TaskFailedError, match="time_out of 1 s expired"):
        compss_wait_on(r)
    assert time.monotonic() - started < 10
    time.sleep(0.2)
    assert processes_with(marker) == []


def test_time_out_under_ignore_continues(runtime, tmp_path):
    marker = f"tosca-rt-ign-{tmp_path.name}"
    assert compss_wait_on(follow(sleepy_ignored(marker))) == ("ran", "timed-out")
    assert processes_with(marker) == []
    failed = [e for e in read_events(tmp_path / "ev.jsonl") if e["event"] == "failed"]
    assert failed and failed[0]["timed_out"] is True


# ---------------------------------------------------------------- data directions
@task(path=FILE_INOUT)
def append_then_fail_once(path, counter):
    with open(path, "a") as fh:
        fh.write("+")
    _count(counter)
    if _attempts(Path(counter)) == 1:
        raise RuntimeError("first attempt fails after writing")


@task(returns=1, items=COLLECTION_IN)
def total(items):
    return sum(items)


def test_retry_restores_inout_file_before_each_attempt(runtime, tmp_path):
    path = tmp_path / "acc.txt"
    path.write_text("start")
    append_then_fail_once(str(path), str(tmp_path / "n"))
    compss_wait_on_file(str(path))
    assert path.read_text() == "start+"  # the failed attempt's write was rolled back


def test_collection_in_waits_for_every_element(runtime):
    parts = [follow(i) for i in range(4)]
    assert compss_wait_on(total([compss_wait_on(p)[1] for p in parts])) == 6
    assert compss_wait_on(total([flat(i) for i in range(4)])) == 6


@task(returns=1)
def flat(i):
    time.sleep(0.05)
    return i
