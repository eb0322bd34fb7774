"""Slurm backend on the real local Slurm (scripts/slurm-up.sh): every task is a job."""

from __future__ import annotations

import subprocess
import time

import pytest
from rt_helpers import read_events

from workflows.runtime import (
    COMMUTATIVE,
    RuntimeConfig,
    TaskFailedError,
    compss_barrier,
    compss_wait_on,
    on_failure,
    start_runtime,
    stop_runtime,
    task,
)
from workflows.runtime.config import SlurmConfig

pytestmark = [pytest.mark.slurm, pytest.mark.integration]


@task(returns=2)
def split(x):
    import socket

    return x + 1, socket.gethostname()


@task(returns=1)
def add(a, b):
    return a + b


@on_failure(management="IGNORE", returns="late")
@task(returns=1, time_out=2)
def too_slow():
    time.sleep(120)


@task(returns=1, on_failure="FAIL")
def broken():
    raise ValueError("bad input")


@pytest.fixture
def slurm_runtime(slurm_cluster, tmp_path):
    cfg = RuntimeConfig(
        backend="slurm",
        urgency="emergency",
        events_path=str(tmp_path / "ev.jsonl"),
        slurm=SlurmConfig(
            shared_dir=str(tmp_path / "shared"),
            partitions={"emergency": "urgent", "routine": "batch"},
            poll_interval=0.1,
        ),
    )
    rt = start_runtime(cfg)
    yield rt
    stop_runtime(wait=False)


def _partition(job_id: str) -> str:
    out = subprocess.run(
        ["scontrol", "-o", "show", "job", job_id], capture_output=True, text=True, timeout=10
    ).stdout
    fields = dict(f.split("=", 1) for f in out.split() if "=" in f)
    return fields.get("Partition", "")


def test_dependent_tasks_run_as_jobs_in_the_urgency_partition(slurm_runtime, slurm_cluster):
    a, host = split(1)
    b = add(a, 10)
    assert compss_wait_on(b) == 12
    assert compss_wait_on(host) == slurm_cluster
    job_ids = [t.handle for t in slurm_runtime.tasks]
    assert all(job_ids) and len(set(job_ids)) == 2
    assert _partition(job_ids[0]) == "urgent"


def test_time_out_cancels_the_job_then_policy_applies(slurm_runtime, tmp_path):
    started = time.monotonic()
    assert compss_wait_on(too_slow()) == "late"
    assert time.monotonic() - started < 30
    job_id = slurm_runtime.tasks[0].handle
    queue = subprocess.run(
        ["squeue", "-h", "-j", job_id], capture_output=True, text=True, timeout=10
    ).stdout
    assert queue.strip() == ""
    failed = [e for e in read_events(tmp_path / "ev.jsonl") if e["event"] == "failed"]
    assert failed[0]["timed_out"] is True


def test_failure_in_a_job_stops_the_application(slurm_runtime):
    r = broken()
    follower = add(r, 1)
    with pytest.raises(TaskFailedError, match="bad input"):
        compss_barrier()
    assert follower.task.state.value == "cancelled"


@task(tally=COMMUTATIVE)
def record(tally, label):
    tally.append(label)


@task(returns=1)
def how_many(tally):
    return len(tally)


class Counter:
    def __init__(self) -> None:
        self.n = 0

    @task()
    def bump(self, k):
        self.n += k


def test_commutative_updates_and_method_tasks_as_jobs(slurm_runtime):
    """Each task a Slurm job in its own process: COMMUTATIVE updates of one object all land
    (one job at a time, each on the previous one's result), and a method task's changes to
    its object come back from the job."""
    tally: list[str] = []
    for label in ("a", "b", "c"):
        record(tally, label)
    assert compss_wait_on(how_many(tally)) == 3
    assert sorted(compss_wait_on(tally)) == ["a", "b", "c"]
    counter = Counter()
    counter.bump(2)
    counter.bump(5)
    assert compss_wait_on(counter).n == 7
