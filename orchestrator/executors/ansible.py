"""Ansible executor: operation playbooks run by warm, batched Ansible processes.

Why not one ``ansible-playbook`` per operation: Ansible's start-up costs ~1 s here, so a chain
of 30 operations would spend 30 s starting Ansible. Instead:

* a pool of warm worker processes (``ansible_worker``) loads Ansible once per deployment
  (``prestart()`` lets the engine overlap that with parsing), and keeps mitogen connections
  open between batches;
* a batch of ready operations is split into jobs, one per (playbook, target kind); a job
  runs as ONE play over one inventory alias per operation, so Ansible itself runs them in
  parallel (forks) and a failing operation never stops its neighbours;
* jobs of one batch run concurrently on different workers (``max_workers``);
* each operation's outcome is read from the event stream as it happens: ``on_started`` /
  ``on_finished`` fire per operation, outputs are its ``set_stats`` data plus the facts named
  in ``output_names``, its log is its own tasks' results, redacted.

Every module runs for real through Ansible's ``TaskQueueManager`` with the ``mitogen_linear``
strategy when mitogen is importable (about 3x cheaper per task), else ``linear``.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import logging
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import yaml

from orchestrator.errors import ExecutionError
from orchestrator.executors.base import (
    CANCELLED,
    FAILED,
    SUCCEEDED,
    TIMED_OUT,
    FinishedCallback,
    OperationRequest,
    OperationResult,
    StartedCallback,
)
from orchestrator.executors.secrets import collect_secrets, redact

__all__ = ["AnsibleExecutor", "default_strategy", "resolve_playbook", "start_early"]

logger = logging.getLogger(__name__)

_READY_TIMEOUT_S = 60.0
# Ansible enforces the task timeout itself; the worker is killed only if it overruns this.
_KILL_GRACE_S = 5.0


def default_strategy() -> str:
    """``mitogen_linear`` when mitogen is installed (measured ~3x faster per task)."""
    try:
        import ansible_mitogen  # noqa: F401
    except ImportError:
        return "linear"
    return "mitogen_linear"


def resolve_playbook(primary: str, template_dir: str | os.PathLike[str] | None = None) -> Path:
    """Find an operation's playbook: absolute, else relative to the template directory,
    else in the bundled ``playbooks/`` package. ``ExecutionError`` if none exists."""
    from playbooks import PLAYBOOKS_DIR

    path = Path(primary)
    candidates = [path] if path.is_absolute() else []
    if not path.is_absolute():
        if template_dir is not None:
            candidates.append(Path(template_dir) / path)
        candidates.append(PLAYBOOKS_DIR / path)
    for candidate in candidates:
        if candidate.is_file():
            return candidate.resolve()
    tried = ", ".join(str(c) for c in candidates)
    raise ExecutionError(f"playbook '{primary}' not found (looked in: {tried})")


# -- worker processes --------------------------------------------------------------------


def _descendants(root: int) -> list[int]:
    """PIDs of every live descendant of ``root`` (Linux /proc; empty elsewhere)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = entry.read_text()
        except OSError:
            continue
        fields = text[text.rfind(")") + 2 :].split()
        children.setdefault(int(fields[1]), []).append(int(entry.parent.name))
    found: list[int] = []
    stack = [root]
    while stack:
        for child in children.get(stack.pop(), []):
            found.append(child)
            stack.append(child)
    return found


class _WorkerProcess:
    """One warm ``ansible_worker`` process; events of its current job go to ``sink``."""

    def __init__(self, python: str, strategy: str, env: dict[str, str]) -> None:
        read_fd, write_fd = os.pipe()
        self.proc = subprocess.Popen(  # argv list, no shell
            [python, "-m", "orchestrator.executors.ansible_worker", str(write_fd), strategy],
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            pass_fds=(write_fd,),
            env=env,
            start_new_session=True,  # so a kill reaches its forks and mitogen children
            text=True,
        )
        os.close(write_fd)
        self._events = os.fdopen(read_fd, "r")
        self.ready = threading.Event()
        self.dead = threading.Event()
        self.stderr_tail: deque[str] = deque(maxlen=50)
        self.sink: queue.Queue[dict[str, Any]] | None = None
        self.job: int | None = None
        threading.Thread(target=self._read_events, daemon=True).start()
        threading.Thread(target=self._read_stderr, daemon=True).start()

    def _read_events(self) -> None:
        for line in self._events:
            try:
                event = json.loads(line)
            except ValueError:
                continue
            if event.get("ev") == "ready":
                self.ready.set()
            elif self.sink is not None:
                self.sink.put(event)
        self.dead.set()
        self.ready.set()  # wake anyone waiting for start-up
        if self.sink is not None:
            self.sink.put({"ev": "died", "job": self.job})

    def _read_stderr(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.stderr_tail.append(line.rstrip())

    def submit(self, job: int, message: dict[str, Any], sink: queue.Queue[dict[str, Any]]) -> None:
        self.sink, self.job = sink, job
        assert self.proc.stdin is not None
        try:
            self.proc.stdin.write(json.dumps(message) + "\n")
            self.proc.stdin.flush()
        except OSError:
            sink.put({"ev": "died", "job": job})

    def kill(self) -> None:
        """Kill the worker and every process under it. Ansible runs each task in a fork that
        calls setsid(), so a process-group kill alone would leave running commands behind."""
        victims = [self.proc.pid, *_descendants(self.proc.pid)]
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        for pid in victims:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
        self.proc.wait(timeout=10)

    def close(self) -> None:
        try:
            if self.proc.stdin:
                self.proc.stdin.close()
            self.proc.wait(timeout=10)
        except (OSError, subprocess.TimeoutExpired):
            self.kill()


# A worker started before the executor exists (``start_early``), adopted by the first pool.
_early: _WorkerProcess | None = None
_early_lock = threading.Lock()


def _worker_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = dict(os.environ)
    env.update(extra or {})
    # Workers must import this package even when it is not installed (tests, checkouts).
    root = str(Path(__file__).resolve().parents[2])
    env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH", "")) if p)
    return env


def start_early() -> None:
    """Start one warm Ansible worker now, before any template is even parsed.

    Returns at once. The CLI calls it first thing in ``tosca deploy`` so Ansible's start-up
    (~1-2 s) overlaps parsing and planning; the first ``AnsibleExecutor`` with default
    settings adopts it. Without an adopter it is stopped at interpreter exit.
    """
    global _early
    with _early_lock:
        if _early is None:
            _early = _WorkerProcess(sys.executable, default_strategy(), _worker_env())
            atexit.register(_stop_early)


def _stop_early() -> None:
    global _early
    with _early_lock:
        worker, _early = _early, None
    if worker is not None:
        worker.close()


def _adopt_early(python: str, strategy: str, env: dict[str, str]) -> _WorkerProcess | None:
    global _early
    with _early_lock:
        worker = _early
        if worker is None or worker.dead.is_set():
            return None
        if (python, strategy, env) != (sys.executable, default_strategy(), _worker_env()):
            return None
        _early = None
        return worker


class _Pool:
    """At most ``size`` warm workers; ``acquire`` starts one when none is idle."""

    def __init__(self, size: int, python: str, strategy: str, env: dict[str, str]) -> None:
        self.size, self.python, self.strategy, self.env = size, python, strategy, env
        self.idle: list[_WorkerProcess] = []
        self.busy: set[_WorkerProcess] = set()
        self.cond = threading.Condition()

    def _new(self) -> _WorkerProcess:
        adopted = _adopt_early(self.python, self.strategy, self.env)
        return adopted or _WorkerProcess(self.python, self.strategy, self.env)

    def prestart(self) -> None:
        with self.cond:
            if not self.idle and not self.busy:
                self.idle.append(self._new())

    def try_acquire(self) -> _WorkerProcess | None:
        with self.cond:
            self.idle = [w for w in self.idle if not w.dead.is_set()]
            if not self.idle and not self.busy:
                adopted = _adopt_early(self.python, self.strategy, self.env)
                if adopted is not None:
                    self.idle.append(adopted)
            if self.idle:
                worker = self.idle.pop(0)
            elif len(self.busy) < self.size:
                worker = self._new()
            else:
                return None
            self.busy.add(worker)
            return worker

    def release(self, worker: _WorkerProcess) -> None:
        with self.cond:
            self.busy.discard(worker)
            worker.sink, worker.job = None, None
            if not worker.dead.is_set():
                self.idle.append(worker)
            self.cond.notify_all()

    def close(self) -> None:
        with self.cond:
            workers = self.idle + list(self.busy)
            self.idle, self.busy = [], set()
        for worker in workers:
            worker.close()


# -- batches -------------------------------------------------------------------------------


@dataclass
class _Op:
    index: int
    request: OperationRequest
    playbook: Path
    secrets: set[str]
    play_vars: bool = False
    started_at: float = 0.0
    log: list[str] = field(default_factory=list)
    result: OperationResult | None = None


@dataclass
class _Job:
    id: int
    ops: list[_Op]
    worker: _WorkerProcess | None = None
    deadline: float | None = None


def _play_var_names(playbook: Path) -> set[str]:
    """Names a playbook's plays declare in ``vars`` (they would shadow host variables)."""
    try:
        data = yaml.safe_load(playbook.read_text())
    except (OSError, yaml.YAMLError):
        return set()
    names: set[str] = set()
    for play in data if isinstance(data, list) else []:
        if isinstance(play, dict) and isinstance(play.get("vars"), dict):
            names |= set(play["vars"])
    return names


def _playbook_vars(request: OperationRequest) -> dict[str, Any]:
    """The operation's inputs plus ``tosca_*`` facts about where it runs (inputs win)."""
    context = request.context
    extra = {
        "tosca_node": request.node,
        "tosca_step_id": request.step_id,
        "tosca_workdir": request.workdir or "",
        "tosca_workspace": context.get("workspace", ""),
        "tosca_deployment_id": context.get("deployment_id", ""),
        "tosca_execution_id": context.get("execution_id", ""),
    }
    return {**extra, **request.inputs}


def _format_task(event: dict[str, Any]) -> str:
    res = event.get("res") or {}
    line = f"TASK [{event.get('task')}] {event.get('status')}"
    for key in ("msg", "rc", "stdout", "stderr"):
        value = res.get(key)
        if value not in (None, "", []):
            line += f"\n  {key}: {value}"
    return line


class AnsibleExecutor:
    """Executor for playbook implementations (see the module docstring).

    ``template_dir`` resolves relative playbook paths; ``max_workers`` bounds concurrent
    Ansible processes; ``forks`` bounds parallel operations inside one of them; ``debug``
    leaves secrets in clear in logs. Use as a context manager, or call ``close()``.
    """

    def __init__(
        self,
        *,
        template_dir: str | os.PathLike[str] | None = None,
        strategy: str | None = None,
        max_workers: int = 2,
        forks: int = 20,
        python: str | None = None,
        debug: bool = False,
        env: dict[str, str] | None = None,
    ) -> None:
        self.template_dir = template_dir
        self.strategy = strategy or default_strategy()
        self.forks = forks
        self.debug = debug
        self._pool = _Pool(max_workers, python or sys.executable, self.strategy, _worker_env(env))
        self._jobs = 0
        self._lock = threading.Lock()

    def prestart(self) -> None:
        """Start one worker now (returns at once) so Ansible's start-up overlaps other work."""
        self._pool.prestart()

    def close(self) -> None:
        self._pool.close()

    def __enter__(self) -> AnsibleExecutor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- the Executor protocol ------------------------------------------------------------

    def run_batch(
        self,
        requests: Sequence[OperationRequest],
        on_started: StartedCallback | None = None,
        on_finished: FinishedCallback | None = None,
        cancel: threading.Event | None = None,
    ) -> list[OperationResult]:
        sink: queue.Queue[dict[str, Any]] = queue.Queue()
        ops: list[_Op] = []
        results: dict[int, OperationResult] = {}
        for index, request in enumerate(requests):
            secrets = collect_secrets(request.inputs) | collect_secrets(request.context)
            try:
                playbook = resolve_playbook(request.artifact, self.template_dir)
            except ExecutionError as exc:
                if on_started:
                    on_started(request.step_id)
                now = time.time()
                results[index] = self._result(
                    _Op(index, request, Path(), secrets, started_at=now), FAILED, {}, str(exc)
                )
                if on_finished:
                    on_finished(results[index])
                continue
            ops.append(_Op(index, request, playbook, secrets))
        pending = self._make_jobs(ops)
        running: dict[int, _Job] = {}
        by_step = {op.request.step_id: op for op in ops}
        cancelled = False
        while pending or running:
            # Dispatch what the pool can take now.
            while pending and not cancelled:
                worker = self._pool.try_acquire()
                if worker is None:
                    break
                job = pending.pop(0)
                job.worker = worker
                running[job.id] = job
                threading.Thread(target=self._start_job, args=(job, sink), daemon=True).start()
            try:
                event = sink.get(timeout=0.05)
            except queue.Empty:
                event = None
            if event is not None:
                self._handle(event, by_step, running, results, on_started, on_finished)
            if cancel is not None and cancel.is_set() and not cancelled:
                cancelled = True
                for job in pending:
                    for op in job.ops:
                        self._finish(op, CANCELLED, {}, "operation cancelled", results, on_finished)
                pending = []
                for job in list(running.values()):
                    self._abort(job, CANCELLED, "operation cancelled", results, on_finished)
                    running.pop(job.id)
            now = time.monotonic()
            for job in list(running.values()):
                if job.deadline is not None and now > job.deadline:
                    self._abort(job, TIMED_OUT, "operation timed out", results, on_finished)
                    running.pop(job.id)
        return [results[i] for i in range(len(requests))]

    # -- internals -------------------------------------------------------------------------

    def _make_jobs(self, ops: list[_Op]) -> list[_Job]:
        groups: dict[tuple[Any, ...], list[_Op]] = {}
        singles: list[list[_Op]] = []
        shadowed: dict[Path, set[str]] = {}
        for op in ops:
            if op.playbook not in shadowed:
                shadowed[op.playbook] = _play_var_names(op.playbook)
            if shadowed[op.playbook] & set(op.request.inputs):
                op.play_vars = True  # inputs must win over the play's own vars
                singles.append([op])
                continue
            key = (op.playbook, asdict(op.request.host)["connection"], op.request.timeout)
            groups.setdefault(key, []).append(op)
        jobs = []
        for members in [*groups.values(), *singles]:
            with self._lock:
                self._jobs += 1
                jobs.append(_Job(self._jobs, members))
        return jobs

    def _start_job(self, job: _Job, sink: queue.Queue[dict[str, Any]]) -> None:
        worker = job.worker
        assert worker is not None
        worker.ready.wait(_READY_TIMEOUT_S)
        timeouts = [op.request.timeout for op in job.ops if op.request.timeout]
        if timeouts:
            job.deadline = time.monotonic() + max(timeouts) + _KILL_GRACE_S
        message = {
            "cmd": "run",
            "job": job.id,
            "strategy": self.strategy,
            "forks": self.forks,
            "ops": [
                {
                    "step_id": op.request.step_id,
                    "playbook": str(op.playbook),
                    "inputs": _playbook_vars(op.request),
                    "outputs": list(op.request.output_names),
                    "host": asdict(op.request.host),
                    "timeout": op.request.timeout,
                    "play_vars": op.play_vars,
                }
                for op in job.ops
            ],
        }
        if worker.dead.is_set():
            sink.put({"ev": "died", "job": job.id})
        else:
            worker.submit(job.id, message, sink)

    def _handle(
        self,
        event: dict[str, Any],
        by_step: dict[str, _Op],
        running: dict[int, _Job],
        results: dict[int, OperationResult],
        on_started: StartedCallback | None,
        on_finished: FinishedCallback | None,
    ) -> None:
        kind = event.get("ev")
        job = running.get(event.get("job", -1))
        if job is None:
            return  # a late event of an aborted job
        op = by_step.get(event.get("step_id", ""))
        if kind == "start" and op is not None:
            op.started_at = time.time()
            if on_started:
                on_started(op.request.step_id)
        elif kind == "task" and op is not None:
            op.log.append(_format_task(event))
        elif kind == "done":
            running.pop(job.id)
            assert job.worker is not None
            if any(end.get("status") == "timed_out" for end in event.get("results") or []):
                # Ansible stops waiting for a timed-out task but not the command it started:
                # drop this worker with everything under it.
                job.worker.kill()
            self._pool.release(job.worker)  # before the callbacks: they may submit more work
            for end in event.get("results") or []:
                member = by_step.get(end.get("step_id", ""))
                if member is None:
                    continue
                status = {"ok": SUCCEEDED, "timed_out": TIMED_OUT}.get(end.get("status"), FAILED)
                self._finish(
                    member,
                    status,
                    end.get("outputs") or {},
                    end.get("error"),
                    results,
                    on_finished,
                )
        elif kind == "died":
            running.pop(job.id)
            tail = "\n".join(job.worker.stderr_tail) if job.worker else ""
            for member in job.ops:
                if member.result is None:
                    member.log.append(tail)
                    self._finish(
                        member, FAILED, {}, "the Ansible process died", results, on_finished
                    )
            if job.worker is not None:
                self._pool.release(job.worker)

    def _abort(
        self,
        job: _Job,
        status: str,
        message: str,
        results: dict[int, OperationResult],
        on_finished: FinishedCallback | None,
    ) -> None:
        if job.worker is not None:
            job.worker.kill()
            self._pool.release(job.worker)
        for op in job.ops:
            if op.result is None:
                self._finish(op, status, {}, message, results, on_finished)

    def _finish(
        self,
        op: _Op,
        status: str,
        outputs: dict[str, Any],
        error: str | None,
        results: dict[int, OperationResult],
        on_finished: FinishedCallback | None,
    ) -> None:
        if op.result is not None:
            return
        op.result = self._result(op, status, outputs, error)
        results[op.index] = op.result
        if on_finished:
            on_finished(op.result)

    def _result(
        self, op: _Op, status: str, outputs: dict[str, Any], error: str | None
    ) -> OperationResult:
        def hide(text: str) -> str:
            return text if self.debug else redact(text, op.secrets)

        if op.secrets and not self.debug:
            outputs = json.loads(hide(json.dumps(outputs)))
        now = time.time()
        return OperationResult(
            step_id=op.request.step_id,
            status=status,
            outputs=outputs,
            started_at=op.started_at or now,
            ended_at=now,
            log=hide("\n".join(op.log)),
            error=hide(error) if error else None,
        )
