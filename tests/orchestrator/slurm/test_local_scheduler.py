"""The local backend: detached jobs in their own process group, status from their job dir."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from orchestrator.jobs import JobStatus
from orchestrator.slurm import JobSpec, LocalScheduler, get_scheduler


@pytest.fixture
def sched(tmp_path: Path) -> Iterator[LocalScheduler]:
    s = LocalScheduler(tmp_path / "jobs")
    submitted: list[str] = []
    real_submit = s.submit

    def tracking_submit(spec: JobSpec) -> str:
        job_id = real_submit(spec)
        submitted.append(job_id)
        return job_id

    s.submit = tracking_submit  # type: ignore[method-assign]
    yield s
    for job_id in submitted:  # leave nothing running
        s.cancel(job_id)


def _alive(pid: int) -> bool:
    """Exists and is not a zombie (orphans may stay zombies under a non-reaping PID 1)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in ("Z", "X")


def wait_terminal(s: LocalScheduler, job_id: str, timeout: float = 10.0) -> JobStatus:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        st = s.status([job_id])[job_id]
        if st.is_terminal:
            return st
        time.sleep(0.05)
    raise AssertionError(f"{job_id} still {st} after {timeout} s")


def test_job_runs_detached_with_env_workdir_and_output(
    sched: LocalScheduler, tmp_path: Path
) -> None:
    work = tmp_path / "work"
    work.mkdir()
    spec = JobSpec(
        name="hello",
        argv=["sh", "-c", 'echo "$GREETING from $(pwd)"; echo oops >&2'],
        env={"GREETING": "it's me"},
        workdir=str(work),
        output=str(tmp_path / "logs" / "out.txt"),
    )
    job_id = sched.submit(spec)
    jdir = sched.job_dir(job_id)
    pgid = int((jdir / "pid").read_text())
    assert os.getpgid(pgid) == pgid  # leads its own process group (own session)
    assert wait_terminal(sched, job_id) is JobStatus.COMPLETED
    assert (jdir / "stdout").read_text() == f"it's me from {work}\n"
    assert (jdir / "stderr").read_text() == "oops\n"
    assert (tmp_path / "logs" / "out.txt").read_text() == (jdir / "stdout").read_text()


def test_exit_code_is_recorded_and_failure_reported(sched: LocalScheduler) -> None:
    job_id = sched.submit(JobSpec(script="exit 7"))
    assert wait_terminal(sched, job_id) is JobStatus.FAILED
    assert sched.details([job_id])[job_id].exit_code == 7


def test_cancel_kills_the_whole_process_group(sched: LocalScheduler, tmp_path: Path) -> None:
    # The job starts a grandchild; cancel must stop it too.
    job_id = sched.submit(
        JobSpec(script="sleep 60 & echo $! > child.pid; wait", workdir=str(tmp_path))
    )
    pid_file = tmp_path / "child.pid"
    for _ in range(100):
        if pid_file.exists() and pid_file.read_text().strip():
            break
        time.sleep(0.05)
    child = int(pid_file.read_text())
    assert sched.status([job_id])[job_id] is JobStatus.RUNNING
    sched.cancel(job_id)
    assert sched.status([job_id])[job_id] is JobStatus.CANCELLED
    time.sleep(0.1)
    assert not _alive(child)
    sched.cancel(job_id)  # idempotent


def test_status_survives_a_new_scheduler_object(sched: LocalScheduler) -> None:
    job_id = sched.submit(JobSpec(script="sleep 0.2"))
    other = LocalScheduler(sched.root)  # e.g. the CLI after an orchestrator restart
    assert other.status([job_id])[job_id] in (JobStatus.RUNNING, JobStatus.COMPLETED)
    assert wait_terminal(sched, job_id) is JobStatus.COMPLETED
    assert other.status([job_id])[job_id] is JobStatus.COMPLETED


def test_killed_outside_is_lost_and_unknown_ids_are_lost(sched: LocalScheduler) -> None:
    job_id = sched.submit(JobSpec(script="sleep 30"))
    pgid = int((sched.job_dir(job_id) / "pid").read_text())
    os.killpg(pgid, 9)
    end = time.monotonic() + 5
    while sched.status([job_id])[job_id] is JobStatus.RUNNING and time.monotonic() < end:
        time.sleep(0.05)
    assert sched.status([job_id])[job_id] is JobStatus.LOST
    assert sched.status(["local-nope"])["local-nope"] is JobStatus.LOST
    assert sched.status(["../etc"])["../etc"] is JobStatus.LOST


def test_get_scheduler_local_uses_the_site_work_dir(tmp_path: Path) -> None:
    s = get_scheduler({"scheduler": "local", "work_dir": str(tmp_path / "site")})
    assert isinstance(s, LocalScheduler) and s.root == tmp_path / "site" / "jobs"
    s2 = get_scheduler({}, workspace=tmp_path / "ws", site_name="laptop")
    assert (
        isinstance(s2, LocalScheduler) and s2.root == tmp_path / "ws" / "sites" / "laptop" / "jobs"
    )
    info = s.cluster_info()
    assert info.backend == "local" and info.cpus >= 1
