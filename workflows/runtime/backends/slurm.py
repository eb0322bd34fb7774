"""Slurm backend: every task attempt is one Slurm job.

The runtime keeps the dependencies and submits a task only when it is ready. Arguments go
to the job and results come back through cloudpickle files in a shared directory
(``slurm.shared_dir``, default ``./.tosca-runtime-slurm``; it must be visible from the compute
nodes). The job line: ``--time`` from ``time_out`` (whole minutes, rounded up; the runtime
itself cancels the job when ``time_out`` seconds of running have passed, so the limit is
exact), ``--cpus-per-task`` / ``--mem`` / ``--gres=gpu:N`` from ``@constraint``, and the
partition / QOS that the configuration maps to the task's urgency level
(``slurm.partitions`` / ``slurm.qos``). One monitor thread polls ``squeue`` (one call for all
jobs), reads result files, and asks ``sacct`` how a job that left the queue without a result
ended (TIMEOUT, CANCELLED, FAILED, OUT_OF_MEMORY...).
"""

from __future__ import annotations

import contextlib
import math
import os
import pickle
import shlex
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from workflows.runtime.config import URGENCY_LEVELS, RuntimeConfig
from workflows.runtime.exceptions import RuntimeTaskError
from workflows.runtime.execution import HOST
from workflows.runtime.model import Outcome, Task, TaskSpec

__all__ = ["SlurmBackend", "job_state", "sbatch_argv"]

_CMD_TIMEOUT = 30


def _run(argv: list[str]) -> subprocess.CompletedProcess[str]:
    """The one place Slurm commands are spawned (argv list, bounded time)."""
    return subprocess.run(argv, capture_output=True, text=True, timeout=_CMD_TIMEOUT)


def sbatch_argv(config: RuntimeConfig, task: Task, script: str, log: str) -> list[str]:
    """``sbatch`` command line for one attempt of ``task``."""
    spec = task.spec
    level = URGENCY_LEVELS[task.urgency]
    argv = [
        "sbatch",
        "--parsable",
        f"--job-name=rt-{spec.name}-{task.id}",
        f"--output={log}",
        f"--chdir={os.getcwd()}",
        "--export=ALL",
        "--nodes=1",
        "--ntasks=1",
    ]
    if spec.time_out:
        argv.append(f"--time={max(1, math.ceil(spec.time_out / 60))}")
    c = spec.constraint
    if c is not None:
        argv.append(f"--cpus-per-task={max(1, c.cpus)}")
        if c.memory_mb:
            argv.append(f"--mem={c.memory_mb}M")
        if c.gpus:
            argv.append(f"--gres=gpu:{c.gpus}")
    partition = config.slurm.partitions.get(level)
    if partition:
        argv.append(f"--partition={partition}")
    qos = config.slurm.qos.get(level)
    if qos:
        argv.append(f"--qos={qos}")
    argv.extend(config.slurm.extra_args)
    argv.append(script)
    return argv


def job_state(job_id: str) -> str:
    """Final state of a job that left the queue: ``scontrol`` while Slurm remembers it, then
    ``sacct`` (works with accounting or, without slurmdbd, from the job-completion log)."""
    proc = _run(["scontrol", "-o", "show", "job", job_id])
    for field in proc.stdout.split():
        if field.startswith("JobState="):
            return field.split("=", 1)[1]
    for extra in ([], ["--completion"]):
        proc = _run(["sacct", *extra, "-n", "-X", "-P", "-j", job_id, "-o", "State"])
        lines = proc.stdout.strip().splitlines()
        if proc.returncode == 0 and lines:
            return lines[0]
    return "UNKNOWN"


@dataclass
class _Job:
    task: Task
    base: Path
    job_id: str
    running_since: float = 0.0
    timed_out: bool = False
    missing_polls: int = 0


class SlurmBackend:
    """Tasks as Slurm jobs (see the module docstring)."""

    name = "slurm"

    def __init__(self, config: RuntimeConfig) -> None:
        self.config = config
        self.host = HOST
        root = Path(config.slurm.shared_dir or ".tosca-runtime-slurm").resolve()
        self.dir = root / f"run-{os.getpid()}-{int(time.time() * 1000)}"
        self.python = config.slurm.python or sys.executable
        self._jobs: dict[str, _Job] = {}
        self._lock = threading.Condition()
        self._thread: threading.Thread | None = None
        self._stop = False
        self._complete: Any = None

    def bind(self, complete: Any) -> None:
        self._complete = complete

    def check(self, spec: TaskSpec) -> None:
        return None  # Slurm itself rejects an impossible request at sbatch time

    def try_acquire(self, task: Task) -> bool:
        return True

    def release(self, task: Task) -> None:
        return None

    def saturated(self) -> bool:
        return False

    # ------------------------------------------------------------------ submit
    def launch(self, task: Task, args: tuple, kwargs: dict, inout: tuple[str, ...]) -> None:
        import cloudpickle

        self.dir.mkdir(parents=True, exist_ok=True)
        base = self.dir / f"task-{task.id}-{task.attempt}"
        env: dict[str, Any] = {}
        if task.spec.kind == "http":
            env["__http_services__"] = self.config.http_services
        Path(f"{base}.in.pkl").write_bytes(cloudpickle.dumps((task.spec, args, kwargs, inout, env)))
        script = Path(f"{base}.sh")
        script.write_text(
            "#!/bin/sh\nexec "
            + shlex.join(
                [
                    self.python,
                    "-m",
                    "workflows.runtime.backends.slurm_worker",
                    f"{base}.in.pkl",
                    f"{base}.out.pkl",
                ]
            )
            + "\n"
        )
        argv = sbatch_argv(self.config, task, str(script), f"{base}.log")
        paths = [p for p in sys.path if p and os.path.isdir(p)]
        # Task jobs get the workflow job's environment (--export=ALL): what the operation
        # exported to it, never the orchestrator's secret store (TOSCA_SECRET_*), should
        # the runtime have been started from a shell that holds it.
        env_vars = {k: v for k, v in os.environ.items() if not k.startswith("TOSCA_SECRET_")}
        env_vars["PYTHONPATH"] = os.pathsep.join(paths)
        proc = subprocess.run(
            argv, capture_output=True, text=True, timeout=_CMD_TIMEOUT, env=env_vars
        )
        if proc.returncode != 0:
            raise RuntimeTaskError(f"sbatch refused task {task.label}: {proc.stderr.strip()}")
        job_id = proc.stdout.strip().split(";")[0]
        task.handle = job_id
        with self._lock:
            self._jobs[job_id] = _Job(task, base, job_id)
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._monitor, name="slurm-monitor", daemon=True
                )
                self._thread.start()
            self._lock.notify_all()
        return None

    def cancel(self, task: Task) -> None:
        if task.handle:
            _run(["scancel", str(task.handle)])

    # ------------------------------------------------------------------ monitor
    def _monitor(self) -> None:
        interval = self.config.slurm.poll_interval
        while True:
            with self._lock:
                while not self._jobs and not self._stop:
                    self._lock.wait()
                if self._stop:
                    return
                jobs = list(self._jobs.values())
            try:
                self._poll(jobs)
            except Exception:  # noqa: BLE001 - keep polling; one bad cycle is not fatal
                time.sleep(interval)
            time.sleep(interval)

    def _poll(self, jobs: list[_Job]) -> None:
        states = self._queue_states()
        now = time.monotonic()
        for job in jobs:
            out = Path(f"{job.base}.out.pkl")
            if out.exists():
                outcome: Outcome = pickle.loads(out.read_bytes())
                if job.timed_out:
                    outcome = self._timeout_outcome(job)
                self._finish(job, outcome)
                continue
            state = states.get(job.job_id)
            time_out = job.task.spec.time_out
            if state == "RUNNING":
                job.running_since = job.running_since or now
                if time_out and not job.timed_out and now - job.running_since > time_out:
                    job.timed_out = True
                    _run(["scancel", job.job_id])
            if state is None:
                job.missing_polls += 1
                if job.missing_polls >= 3:  # gone, and no result file appeared
                    self._finish(job, self._lost_outcome(job))
            else:
                job.missing_polls = 0

    def _queue_states(self) -> dict[str, str]:
        proc = _run(["squeue", "-h", "-o", "%i %T"])
        states = {}
        for line in proc.stdout.splitlines():
            parts = line.split()
            if len(parts) == 2:
                states[parts[0]] = parts[1]
        return states

    def _timeout_outcome(self, job: _Job) -> Outcome:
        return Outcome(
            ok=False,
            timed_out=True,
            error=f"time_out of {job.task.spec.time_out:g} s expired; "
            f"Slurm job {job.job_id} cancelled",
            host=HOST,
        )

    def _lost_outcome(self, job: _Job) -> Outcome:
        if job.task.cancel_requested:
            return Outcome(ok=False, cancelled=True, error="cancelled")
        if job.timed_out:
            return self._timeout_outcome(job)
        state = job_state(job.job_id)
        log = Path(f"{job.base}.log")
        tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
        return Outcome(
            ok=False,
            timed_out=state.startswith("TIMEOUT"),
            error=f"Slurm job {job.job_id} ended {state} without a result",
            detail=tail,
            host=HOST,
        )

    def _finish(self, job: _Job, outcome: Outcome) -> None:
        with self._lock:
            self._jobs.pop(job.job_id, None)
        if outcome.ok:  # a failed attempt's files stay for diagnosis
            for suffix in (".in.pkl", ".out.pkl", ".sh", ".log"):
                with contextlib.suppress(OSError):
                    os.remove(f"{job.base}{suffix}")
        job.task.host = outcome.host
        self._complete(job.task, outcome)

    def shutdown(self) -> None:
        with self._lock:
            self._stop = True
            jobs = list(self._jobs)
            self._lock.notify_all()
        for job_id in jobs:
            with contextlib.suppress(subprocess.SubprocessError, OSError):
                _run(["scancel", job_id])
        if self._thread is not None:
            self._thread.join(timeout=5)
