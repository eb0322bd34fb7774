"""TaskGroup + COMPSsException, group cancel, constraints / GPUs, urgency ordering,
@binary, events and graph export."""

from __future__ import annotations

import json
import os
import threading
import time

import pytest
from rt_helpers import processes_with, read_events

from workflows.runtime import (
    COMPSsException,
    ConstraintError,
    RuntimeConfig,
    TaskCancelledError,
    TaskGroup,
    binary,
    compss_barrier,
    compss_barrier_group,
    compss_cancel_group,
    compss_wait_on,
    constraint,
    start_runtime,
    stop_runtime,
    task,
    urgency,
)
from workflows.runtime.events import graph_to_dict, graph_to_dot, write_graph


@task(returns=1)
def raise_compss(delay):
    time.sleep(delay)
    raise COMPSsException("stop the group")


@task(returns=1)
def long_task(marker):
    import subprocess

    subprocess.Popen(["sleep", "300", marker])
    time.sleep(120)
    return "never"


@task(returns=1)
def quick(x):
    return x


def test_compss_exception_cancels_group_and_reraises_at_barrier(runtime, tmp_path):
    marker = f"tosca-rt-grp-{tmp_path.name}"
    started = time.monotonic()
    with pytest.raises(COMPSsException, match="stop the group"):  # noqa: SIM117
        with TaskGroup("g1"):
            running = long_task(marker)
            raise_compss(0.5)
            pending = [long_task(marker + "-p") for _ in range(3)]
    assert time.monotonic() - started < 20
    assert running.task.state.value == "cancelled"
    assert all(p.task.state.value == "cancelled" for p in pending)
    with pytest.raises(TaskCancelledError):
        compss_wait_on(running)
    time.sleep(0.2)
    assert processes_with(marker) == []
    # The application goes on: the exception was the group's, not a task failure.
    assert compss_wait_on(quick(1)) == 1


def test_explicit_barrier_group_and_cancel_group(runtime, tmp_path):
    marker = f"tosca-rt-cancel-{tmp_path.name}"
    with TaskGroup("g2", implicit_barrier=False):
        tasks = [long_task(marker) for _ in range(2)]
    time.sleep(1.0)  # both running (2 cores)
    assert all(t.task.state.value == "running" for t in tasks)
    compss_cancel_group("g2")
    compss_barrier_group("g2")  # returns: a user cancel raises nothing
    assert all(t.task.state.value == "cancelled" for t in tasks)
    time.sleep(0.2)
    assert processes_with(marker) == []
    compss_barrier()


@constraint(
    processors=[
        {"processorType": "CPU", "computingUnits": "1"},
        {"processorType": "GPU", "computingUnits": "1"},
    ]
)
@task(returns=1)
def gpu_env():
    time.sleep(0.3)
    names = ("CUDA_VISIBLE_DEVICES", "COMPSS_BINDED_GPUS", "GPU_DEVICE_ORDINAL")
    return {n: os.environ.get(n) for n in names}


@constraint(processors=[{"processorType": "GPU", "computingUnits": "3"}])
@task(returns=1)
def needs_three_gpus():
    return 1


@constraint(computing_units=64)
@task(returns=1)
def needs_64_cores():
    return 1


def test_gpu_tasks_get_distinct_fake_gpus(tmp_path):
    start_runtime(RuntimeConfig(cpus=2, gpus=("7", "9")))
    try:
        a, b = gpu_env(), gpu_env()
        ea, eb = compss_wait_on(a), compss_wait_on(b)
        assert {ea["CUDA_VISIBLE_DEVICES"], eb["CUDA_VISIBLE_DEVICES"]} == {"7", "9"}
        for env in (ea, eb):
            assert env["COMPSS_BINDED_GPUS"] == env["GPU_DEVICE_ORDINAL"]
            assert env["COMPSS_BINDED_GPUS"] == env["CUDA_VISIBLE_DEVICES"]
        with pytest.raises(ConstraintError, match="3 GPU.*declares 2"):
            needs_three_gpus()
    finally:
        stop_runtime(wait=False)


def test_gpus_from_environment_and_impossible_cpu_constraint(monkeypatch):
    monkeypatch.setenv("TOSCA_RUNTIME_GPUS", "3")
    from workflows.runtime import load_config

    cfg = load_config(env={"TOSCA_RUNTIME_GPUS": "3", "TOSCA_RUNTIME_CPUS": "2"})
    assert cfg.gpus == ("3",) and cfg.cpus == 2
    start_runtime(cfg)
    try:
        started = time.monotonic()
        with pytest.raises(ConstraintError, match="64 cores"):
            needs_64_cores()
        assert time.monotonic() - started < 1  # an immediate error, not a hang
    finally:
        stop_runtime(wait=False)


ORDER: list[str] = []
GATE = threading.Event()


@task()
def blocker():
    GATE.wait(10)


@task()
def record(name):
    ORDER.append(name)


@task(priority=True)
def record_priority(name):
    ORDER.append(name)


def test_more_urgent_ready_tasks_run_first():
    ORDER.clear()
    GATE.clear()
    start_runtime(RuntimeConfig(cpus=1, urgency="high"))
    try:
        blocker()  # holds the only core
        record("routine-a")
        with urgency("routine"):
            record("routine-b")
        record_priority("high-priority")
        with urgency("emergency"):
            record("emergency")
        with urgency("urgent"):
            record("urgent")
        GATE.set()
        compss_barrier()
        assert ORDER == ["emergency", "urgent", "high-priority", "routine-a", "routine-b"]
    finally:
        stop_runtime(wait=False)


@binary(binary="sh", args="-c {{script}}")
@task(returns=1)
def shell(script):
    pass


@binary(binary="sleep")
@task(time_out=1, on_failure="FAIL")
def binary_sleep(seconds):
    pass


def test_binary_task_exit_code_and_time_out(runtime, tmp_path):
    out = tmp_path / "b.txt"
    assert compss_wait_on(shell(f"echo hi > {out}")) == 0
    assert out.read_text() == "hi\n"
    marker = f"200.{os.getpid()}{time.monotonic_ns() % 100000}"  # unique sleep duration
    binary_sleep(marker)
    from workflows.runtime import TaskFailedError

    with pytest.raises(TaskFailedError, match="time_out of 1 s"):
        compss_barrier()
    assert processes_with(marker) == []


def test_events_and_graph(runtime, tmp_path):
    a = quick(1)
    b = quick(a)
    assert compss_wait_on(b) == 1
    events = read_events(tmp_path / "ev.jsonl")
    kinds = [(e["event"], e["task_id"]) for e in events]
    assert ("submitted", 2) in kinds and ("started", 2) in kinds and ("finished", 2) in kinds
    finished = [e for e in events if e["event"] == "finished"][0]
    assert finished["attempts"] == 1 and finished["host"] and finished["duration"] >= 0
    graph = graph_to_dict(runtime.tasks)
    assert graph["edges"] == [{"from": 1, "to": 2}]
    assert [n["state"] for n in graph["nodes"]] == ["done", "done"]
    assert "t1 -> t2;" in graph_to_dot(runtime.tasks)
    write_graph(runtime.tasks, str(tmp_path / "g.json"))
    assert json.loads((tmp_path / "g.json").read_text())["nodes"][0]["name"] == "quick"
