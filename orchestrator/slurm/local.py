"""Detached process runner for ``scheduler: local`` sites (the README demo, laptops).

Each job gets a directory ``<root>/<job_id>/`` holding ``job.sh`` (the rendered script),
``pid`` (the process-group id), ``stdout``, ``stderr`` and, once it ends, ``exit_code``
(written by a small ``sh`` wrapper, atomically) or ``cancelled``. The job runs in its own
session, so it survives the orchestrator and ``cancel`` can kill its whole process group.
Status comes only from those files and the pid, so another orchestrator process (a restart,
the CLI) answers the same.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
import time
import uuid
from collections.abc import Sequence
from pathlib import Path

from orchestrator.errors import SchedulerError
from orchestrator.jobs import JobStatus
from orchestrator.redaction import scrubbed_environ, write_private
from orchestrator.slurm.spec import ClusterInfo, JobInfo, JobSpec, PartitionInfo, render_script

__all__ = ["LocalScheduler"]

# Runs the job, records its exit status atomically. "$@" = the job's argv: no shell parsing of
# user data. A time limit goes through coreutils `timeout` (exit 124 = TIMEOUT).
_WRAPPER = (
    'd="$0"; "$@" >"$d/stdout" 2>"$d/stderr" </dev/null; '
    'echo $? >"$d/exit_code.tmp"; mv "$d/exit_code.tmp" "$d/exit_code"'
)
_TIMEOUT_RC = 124
_KILL_GRACE_S = 3.0


class LocalScheduler:
    """Scheduler backend running jobs as detached local processes (see module docstring)."""

    name = "local"

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        self._procs: dict[str, subprocess.Popen[bytes]] = {}  # reaped in status()
        self._lock = threading.Lock()

    def job_dir(self, job_id: str) -> Path:
        if not job_id.startswith("local-") or "/" in job_id:
            raise SchedulerError(f"not a local job id: {job_id!r}")
        return self.root / job_id

    def submit(self, spec: JobSpec) -> str:
        job_id = f"local-{time.strftime('%Y%m%d%H%M%S')}-{uuid.uuid4().hex[:8]}"
        jdir = self.root / job_id
        jdir.mkdir(parents=True, exist_ok=False, mode=0o700)
        script = jdir / "job.sh"
        write_private(script, render_script(spec))  # it holds the job's environment
        # Name and marker first: a crash right after the process starts still leaves a job
        # that find_job can see.
        (jdir / "name").write_text(spec.name)
        if spec.comment:
            (jdir / "comment").write_text(spec.comment)
        workdir = Path(spec.workdir) if spec.workdir else jdir
        argv = ["/bin/bash", str(script)]
        if spec.time_limit:
            argv = ["timeout", "--kill-after=5", f"{int(spec.time_limit) * 60}s", *argv]
            (jdir / "time_limit").write_text(str(spec.time_limit))
        try:
            proc = subprocess.Popen(
                ["/bin/sh", "-c", _WRAPPER, str(jdir), *argv],
                cwd=workdir,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                env=scrubbed_environ(),  # the job gets its own env, not the orchestrator's secrets
                start_new_session=True,  # own session and process group: cancel kills them all
                close_fds=True,
            )
        except OSError as exc:
            raise SchedulerError(f"cannot start local job {spec.name!r}: {exc}") from exc
        (jdir / "pid").write_text(str(proc.pid))
        with self._lock:
            self._procs[job_id] = proc
        self._link_outputs(spec, jdir)
        return job_id

    def find_job(self, name: str, comment: str | None = None) -> str | None:
        """The newest job of this site called ``name`` (with marker ``comment``), or None."""
        if not self.root.is_dir():
            return None
        found = []
        for jdir in self.root.glob("local-*"):
            try:
                if (jdir / "name").read_text() != name:
                    continue
                if comment is not None and (jdir / "comment").read_text() != comment:
                    continue
            except OSError:
                continue
            found.append(jdir.name)
        return max(found) if found else None  # ids start with a timestamp

    def _link_outputs(self, spec: JobSpec, jdir: Path) -> None:
        # Callers that asked for output/error paths find the files there as well.
        for wanted, name in ((spec.output, "stdout"), (spec.error, "stderr")):
            if wanted:
                with contextlib.suppress(OSError):
                    Path(wanted).parent.mkdir(parents=True, exist_ok=True)
                    Path(wanted).unlink(missing_ok=True)
                    Path(wanted).symlink_to(jdir / name)

    def status(self, job_ids: Sequence[str]) -> dict[str, JobStatus]:
        return {jid: info.status for jid, info in self.details(job_ids).items()}

    def details(self, job_ids: Sequence[str]) -> dict[str, JobInfo]:
        return {str(j): self._one(str(j)) for j in job_ids}

    def _one(self, job_id: str) -> JobInfo:
        try:
            jdir = self.job_dir(job_id)
        except SchedulerError:
            return JobInfo(job_id, JobStatus.LOST, source="none")
        with self._lock:
            proc = self._procs.get(job_id)
        if proc is not None and proc.poll() is not None:  # reap: no zombie looks alive
            with self._lock:
                self._procs.pop(job_id, None)
        if (jdir / "cancelled").exists():
            return JobInfo(job_id, JobStatus.CANCELLED, "CANCELLED", source="local")
        rc_file = jdir / "exit_code"
        if rc_file.exists():
            rc = int(rc_file.read_text().strip() or "1")
            if rc == 0:
                return JobInfo(
                    job_id, JobStatus.COMPLETED, "COMPLETED", exit_code=0, source="local"
                )
            if rc == _TIMEOUT_RC and (jdir / "time_limit").exists():
                return JobInfo(job_id, JobStatus.TIMEOUT, "TIMEOUT", exit_code=rc, source="local")
            return JobInfo(job_id, JobStatus.FAILED, "FAILED", exit_code=rc, source="local")
        pid_file = jdir / "pid"
        if not pid_file.exists():
            return JobInfo(job_id, JobStatus.LOST, source="none")
        if _group_alive(int(pid_file.read_text())):
            return JobInfo(job_id, JobStatus.RUNNING, "RUNNING", source="local")
        # The wrapper writes exit_code before it exits; re-check once to close that race.
        if rc_file.exists():
            return self._one(job_id)
        return JobInfo(job_id, JobStatus.LOST, "LOST", reason="killed outside the toolkit")

    def cancel(self, job_id: str) -> None:
        jdir = self.job_dir(job_id)
        pid_file = jdir / "pid"
        if not pid_file.exists() or (jdir / "exit_code").exists():
            return
        (jdir / "cancelled").write_text(str(time.time()))
        pgid = int(pid_file.read_text())
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pgid, signal.SIGTERM)
        deadline = time.monotonic() + _KILL_GRACE_S
        while time.monotonic() < deadline and _group_alive(pgid):
            self._reap(job_id)
            time.sleep(0.05)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pgid, signal.SIGKILL)
        self._reap(job_id)

    def _reap(self, job_id: str) -> None:
        with self._lock:
            proc = self._procs.get(job_id)
        if proc is not None and proc.poll() is not None:
            with self._lock:
                self._procs.pop(job_id, None)

    def cluster_info(self) -> ClusterInfo:
        cpus = os.cpu_count() or 1
        part = PartitionInfo("local", default=True, state="UP", nodes="localhost", total_cpus=cpus)
        return ClusterInfo("local", "", (part,), 1, cpus, cpus)


def _group_alive(pgid: int) -> bool:
    """True while any process of the group exists and is not a zombie.

    ``killpg(pgid, 0)`` also succeeds for zombies (e.g. orphans re-parented to a PID 1 that
    does not reap them), so the group's members are checked in /proc where it exists."""
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    proc = Path("/proc")
    if not proc.is_dir():
        return True
    for stat in proc.glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        # fields: state, ppid, pgrp, ...
        if len(fields) > 2 and fields[2] == str(pgid) and fields[0] not in ("Z", "X"):
            return True
    return False
