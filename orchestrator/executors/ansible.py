"""Ansible executor: operation playbooks run by warm, batched Ansible processes.

Why not one ``ansible-playbook`` per operation: Ansible's start-up costs ~1 s here, so a chain
of 30 operations would spend 30 s starting Ansible. Instead:

* a pool of warm worker processes (``ansible_worker``) loads Ansible once per deployment
  (``start_early()`` / ``prestart()`` overlap that with the CLI's own start-up and parsing),
  and keeps the mitogen target interpreter warm between batches;
* inside a worker, each task runs in-process (``ansible_inprocess``) instead of in a fork
  per (host, task), and mitogen is set up for a short-lived process (``mitogen_tuning``);
* a batch of ready operations is split into jobs, one per (playbook, target kind); a job
  runs as ONE play over one inventory alias per operation, so Ansible itself runs them in
  parallel (forks) and a failing operation never stops its neighbours;
* jobs of one batch run concurrently on different workers (``max_workers``);
* each operation's outcome is read from the event stream as it happens: ``on_started`` /
  ``on_finished`` fire per operation, outputs are its ``set_stats`` data plus the facts named
  in ``output_names``, its log is its own tasks' results, redacted.

Every module runs for real through Ansible's ``TaskQueueManager`` with the ``mitogen_linear``
strategy when mitogen is importable (about 3x cheaper per task), else ``linear``.

Measured on 2 cores (shell + set_stats per operation): ~45 ms per operation in a warm
worker, worker ready ~1.2-1.4 s after it is started; a chain of 30 operations through
``tosca deploy`` ~3.3 s, 150 independent ones ~6.3 s.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import logging
import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

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

__all__ = [
    "AnsibleExecutor",
    "default_strategy",
    "likely_uses_ansible",
    "resolve_playbook",
    "start_early",
    "start_early_for_deploy",
]

logger = logging.getLogger(__name__)

_READY_TIMEOUT_S = 60.0
_LINGER_S = 0.25
_SPAWN_AFTER_S = 1.0
_SPLIT_MIN = 16
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
    """Find an operation's playbook: absolute (or, when no such file exists, from the
    template's root directory: a CSAR-root path), else relative to the template directory,
    else in the bundled ``playbooks/`` package. ``ExecutionError`` if none exists."""
    # Deferred: the playbooks package only when a bundled playbook is looked up.
    from playbooks import PLAYBOOKS_DIR

    path = Path(primary)
    candidates = [path] if path.is_absolute() else []
    if path.is_absolute() and template_dir is not None:
        # Written from the CSAR's root ("/modules/x.yaml"), as other orchestrators allow.
        candidates.append(Path(template_dir) / primary.lstrip("/"))
    if not path.is_absolute():
        if template_dir is not None:
            candidates.append(Path(template_dir) / path)
        candidates.append(PLAYBOOKS_DIR / path)
    for candidate in candidates:
        if candidate.is_file():
            # Lexically absolute, symbolic links kept: a staged playbook (a link beside its
            # dependencies, see orchestrator.engine.artifacts) must run from its own folder.
            return Path(os.path.abspath(candidate))
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
    """One warm ``ansible_worker`` process; events of its current job go to ``handler``."""

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
        self.handler: Callable[[dict[str, Any]], None] | None = None
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
            elif self.handler is not None:
                self.handler(event)
        self.dead.set()
        self.ready.set()  # wake anyone waiting for start-up
        if self.handler is not None:
            self.handler({"ev": "died"})

    def _read_stderr(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.stderr_tail.append(line.rstrip())

    def submit(self, message: dict[str, Any], handler: Callable[[dict[str, Any]], None]) -> None:
        self.handler = handler
        assert self.proc.stdin is not None
        try:
            self.proc.stdin.write(json.dumps(message) + "\n")
            self.proc.stdin.flush()
        except OSError:
            handler({"ev": "died"})

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

    def begin_close(self) -> None:
        """Ask the worker to finish (end of its input); ``close()`` then waits for it."""
        with contextlib.suppress(OSError):
            if self.proc.stdin and not self.proc.stdin.closed:
                self.proc.stdin.close()

    def close(self) -> None:
        self.begin_close()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
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
        # Never adopted, so it never ran anything: killing it beats waiting for its warm-up
        # (a deploy that stops at validation exits at once).
        worker.kill()


# A playbook implementation (long form, or the short ``create: x.yaml``; not an import's
# ``file:``), or the profile's Environment (configured by a playbook).
_ANSIBLE_HINT = re.compile(
    r"(implementation:\s*['\"]?[^\s'\"]+\.ya?ml\b|primary:\s*['\"]?[^\s'\"]+\.ya?ml\b"
    r"|^\s+(?!file:)[A-Za-z_]\w*:\s*['\"]?[^\s'\"{}\[\],]+\.ya?ml['\"]?\s*$"
    r"|nodes\.Environment\b)",
    re.MULTILINE,
)


def likely_uses_ansible(path: str) -> bool:
    """A cheap look at the template text (no parsing): worth warming Ansible up early?

    A wrong guess only costs time: a needless warm worker, or Ansible started later."""
    p = Path(path)
    files = sorted(p.glob("*.y*ml"))[:20] if p.is_dir() else [p]
    for f in files:
        try:
            if _ANSIBLE_HINT.search(f.read_text(errors="replace")[:1_000_000]):
                return True
        except OSError:
            continue
    return False


# ``tosca deploy`` options that take a value (the next argument when not written opt=value).
_DEPLOY_VALUE_OPTIONS = frozenset(
    {"--inputs", "-i", "--input", "--workspace", "--name", "-n", "-o", "--output", "--retries"}
)


def start_early_for_deploy(args: Sequence[str]) -> bool:
    """``start_early()`` if ``tosca deploy ARGS`` will run playbooks with the warm executor.

    Called by the ``tosca`` entry point before it imports its command-line and TOSCA stacks
    (~0.4 s), so Ansible's start-up overlaps all of the CLI's own. Looks at the arguments
    without parsing them for real: ``--help`` / ``--dry-run``, ``--ansible runner`` (or
    ``$TOSCA_ANSIBLE=runner``) or a template without playbooks start nothing. Returns
    whether a worker was started.
    """
    engine: str | None = None
    path: str | None = None
    rest = iter(args)
    for arg in rest:
        if arg in ("--help", "--dry-run"):
            return False
        if arg == "--ansible":
            engine = next(rest, None)
        elif arg.startswith("--ansible="):
            engine = arg.partition("=")[2]
        elif arg in _DEPLOY_VALUE_OPTIONS:
            next(rest, None)
        elif not arg.startswith("-") and path is None:
            path = arg
    engine = (engine or os.environ.get("TOSCA_ANSIBLE") or "warm").strip().lower()
    if engine != "warm" or path is None or not likely_uses_ansible(path):
        return False
    start_early()
    return True


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

    def try_acquire(self, allow_new: bool = True) -> _WorkerProcess | None:
        """An idle worker, else a new one if ``allow_new`` and the pool is not full."""
        with self.cond:
            self.idle = [w for w in self.idle if not w.dead.is_set()]
            if not self.idle and not self.busy:
                adopted = _adopt_early(self.python, self.strategy, self.env)
                if adopted is not None:
                    self.idle.append(adopted)
            if self.idle:
                worker = self.idle.pop(0)
            elif allow_new and len(self.busy) < self.size:
                worker = self._new()
            else:
                return None
            self.busy.add(worker)
            return worker

    def release(self, worker: _WorkerProcess) -> None:
        with self.cond:
            self.busy.discard(worker)
            worker.handler = None
            if not worker.dead.is_set():
                self.idle.append(worker)
            self.cond.notify_all()

    def close(self) -> None:
        with self.cond:
            workers = self.idle + list(self.busy)
            self.idle, self.busy = [], set()
        for worker in workers:  # all shut down at once: each takes ~0.1-0.2 s
            worker.begin_close()
        for worker in workers:
            worker.close()


# -- batches -------------------------------------------------------------------------------


@dataclass(eq=False)
class _Op:
    index: int
    request: OperationRequest
    playbook: Path
    secrets: set[str]
    sink: queue.Queue[tuple[str, _Op, Any]]
    uid: str = ""
    play_vars: bool = False
    started_at: float = 0.0
    log: list[str] = field(default_factory=list)
    result: OperationResult | None = None
    job: _Job | None = None
    stop_status: str | None = None  # set when its run is killed on purpose
    queued_at: float = 0.0

    @property
    def key(self) -> tuple[Any, ...]:
        """Operations with equal keys can share one play."""
        if self.play_vars:
            return ("single", self.uid)
        return (self.playbook, self.request.host, self.request.timeout)


@dataclass(eq=False)
class _Job:
    id: int
    ops: list[_Op]
    worker: _WorkerProcess
    deadline: float | None = None


def _play_var_names(playbook: Path) -> set[str]:
    """Names a playbook's plays declare in ``vars`` (they would shadow host variables)."""
    import yaml  # here: `tosca deploy` imports this module first thing (start_early_for_deploy)

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


class _Dispatcher:
    """Executor-wide queue of ready operations, shared by concurrent ``run_batch`` calls.

    When a worker is free, it takes the oldest waiting operation and every other waiting
    one with the same key (playbook, target, timeout), whichever batch they came from: an
    engine that hands over ready operations in several small batches still gets one play.
    """

    def __init__(self, pool: _Pool, strategy: str, forks: int) -> None:
        self.pool, self.strategy, self.forks = pool, strategy, forks
        self.lock = threading.RLock()
        self.pending: list[_Op] = []
        self.jobs = 0
        # After a multi-operation job, its dependents become ready over some milliseconds (the
        # engine records each result first); wait that long so they share one play too.
        self.linger_until = 0.0
        self.timer_set = False

    def submit(self, ops: list[_Op]) -> None:
        now = time.monotonic()
        for op in ops:
            op.queued_at = now
        with self.lock:
            self.pending.extend(ops)
        self.dispatch()

    def withdraw(self, ops: list[_Op]) -> list[_Op]:
        """Take back operations not started yet; returns those withdrawn."""
        with self.lock:
            gone = [op for op in ops if op in self.pending]
            self.pending = [op for op in self.pending if op not in gone]
        return gone

    def _later(self, wait: float) -> None:
        if not self.timer_set:
            self.timer_set = True
            threading.Timer(wait, self._after_linger).start()

    def dispatch(self) -> None:
        with self.lock:
            now = time.monotonic()
            if self.linger_until > now and self.pending:
                return self._later(self.linger_until - now)
            while self.pending:
                # A cold worker costs seconds of CPU: start one only when nothing is running
                # or operations have waited a while for a busy worker to come back.
                waited = now - self.pending[0].queued_at
                allow_new = not self.pool.busy or waited >= _SPAWN_AFTER_S
                worker = self.pool.try_acquire(allow_new)
                if worker is None:
                    if not allow_new:
                        self._later(_SPAWN_AFTER_S - waited)
                    return
                key = self.pending[0].key
                group = [op for op in self.pending if op.key == key]
                self.pending = [op for op in self.pending if op.key != key]
                workers = [worker]
                if len(group) >= _SPLIT_MIN:
                    # One Ansible controller process queues every host's task itself (a
                    # fork each): a big play is split over two processes to use two cores.
                    second = self.pool.try_acquire(True)
                    if second is not None:
                        workers.append(second)
                for i, chosen in enumerate(workers):
                    self._launch(group[i :: len(workers)], chosen)

    def _launch(self, group: list[_Op], worker: _WorkerProcess) -> None:
        self.jobs += 1
        job = _Job(self.jobs, group, worker)
        for op in group:
            op.job = job
        threading.Thread(target=self._start, args=(job,), daemon=True).start()

    def _after_linger(self) -> None:
        with self.lock:
            self.timer_set = False
        self.dispatch()

    def _start(self, job: _Job) -> None:
        job.worker.ready.wait(_READY_TIMEOUT_S)
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
                    "step_id": op.uid,
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
        handler = self._handler(job)
        if job.worker.dead.is_set():
            handler({"ev": "died"})
        else:
            job.worker.submit(message, handler)

    def _handler(self, job: _Job) -> Callable[[dict[str, Any]], None]:
        by_uid = {op.uid: op for op in job.ops}

        def handle(event: dict[str, Any]) -> None:
            kind = event.get("ev")
            op = by_uid.get(event.get("step_id", ""))
            if kind in ("start", "task") and op is not None:
                op.sink.put((kind, op, event))
            elif kind == "done":
                results = event.get("results") or []
                if any(end.get("status") == "timed_out" for end in results):
                    # Ansible stops waiting for a timed-out task but not the command it
                    # started: drop this worker with everything under it.
                    job.worker.kill()
                if len(job.ops) > 1:
                    with self.lock:
                        self.linger_until = time.monotonic() + _LINGER_S
                self.release(job)  # before reporting: callbacks may submit more work
                for end in results:
                    member = by_uid.get(end.get("step_id", ""))
                    if member is not None:
                        member.sink.put(("end", member, end))
            elif kind == "died":
                self.release(job)
                tail = "\n".join(job.worker.stderr_tail)
                for member in job.ops:
                    member.sink.put(("died", member, tail))

        return handle

    def release(self, job: _Job) -> None:
        self.pool.release(job.worker)
        self.dispatch()

    def abort(self, job: _Job, status: str) -> None:
        """Kill the job's worker; its operations are reported with ``status``."""
        for op in job.ops:
            op.stop_status = op.stop_status or status
        job.worker.kill()  # the reader thread then reports "died" for each operation


class AnsibleExecutor:
    """Executor for playbook implementations (see the module docstring).

    ``template_dir`` resolves relative playbook paths; ``max_workers`` bounds concurrent
    Ansible processes; ``forks`` bounds parallel operations inside one of them; ``debug``
    leaves secrets in clear in logs. Use as a context manager, or call ``close()``.
    """

    name = "ansible-warm"

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
        self._dispatcher = _Dispatcher(self._pool, self.strategy, forks)
        self._uids = 0
        self._lock = threading.Lock()
        self._shadowed: dict[Path, set[str]] = {}

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
        sink: queue.Queue[tuple[str, _Op, Any]] = queue.Queue()
        ops: list[_Op] = []
        results: dict[int, OperationResult] = {}
        for index, request in enumerate(requests):
            secrets = collect_secrets(request.inputs) | collect_secrets(request.context)
            try:
                playbook = resolve_playbook(request.artifact, self.template_dir)
            except ExecutionError as exc:
                op = _Op(index, request, Path(), secrets, sink, started_at=time.time())
                if on_started:
                    on_started(request.step_id)
                self._finish(op, FAILED, {}, str(exc), results, on_finished)
                continue
            op = _Op(index, request, playbook, secrets, sink, uid=self._uid())
            op.play_vars = bool(self._shadowed_names(playbook) & set(request.inputs))
            ops.append(op)
        self._dispatcher.submit(ops)
        cancelled = False
        while len(results) < len(requests):
            try:
                kind, op, payload = sink.get(timeout=0.05)
            except queue.Empty:
                kind = ""
            if kind:
                self._on_event(kind, op, payload, results, on_started, on_finished)
            if cancel is not None and cancel.is_set() and not cancelled:
                cancelled = True
                for op in self._dispatcher.withdraw(ops):
                    self._finish(op, CANCELLED, {}, "operation cancelled", results, on_finished)
                running = {id(op.job): op.job for op in ops if op.job and not op.result}
                for job in running.values():
                    self._dispatcher.abort(job, CANCELLED)
            now = time.monotonic()
            for op in ops:
                late = op.job is not None and op.job.deadline and now > op.job.deadline
                if late and op.job and not op.result and not op.stop_status:
                    self._dispatcher.abort(op.job, TIMED_OUT)
        return [results[i] for i in range(len(requests))]

    # -- internals -------------------------------------------------------------------------

    def _uid(self) -> str:
        with self._lock:
            self._uids += 1
            return f"op{self._uids}"

    def _shadowed_names(self, playbook: Path) -> set[str]:
        """Play-level var names; an op whose inputs collide runs alone with play vars."""
        if playbook not in self._shadowed:
            self._shadowed[playbook] = _play_var_names(playbook)
        return self._shadowed[playbook]

    def _on_event(
        self,
        kind: str,
        op: _Op,
        payload: Any,
        results: dict[int, OperationResult],
        on_started: StartedCallback | None,
        on_finished: FinishedCallback | None,
    ) -> None:
        if op.result is not None:
            return  # a late event of an operation already reported
        if kind == "start":
            op.started_at = time.time()
            if on_started:
                on_started(op.request.step_id)
        elif kind == "task":
            op.log.append(_format_task(payload))
        elif kind == "end":
            status = {"ok": SUCCEEDED, "timed_out": TIMED_OUT}.get(payload.get("status"), FAILED)
            error = payload.get("error")
            self._finish(op, status, payload.get("outputs") or {}, error, results, on_finished)
        elif kind == "died":
            if op.stop_status == CANCELLED:
                self._finish(op, CANCELLED, {}, "operation cancelled", results, on_finished)
            elif op.stop_status == TIMED_OUT:
                message = f"operation timed out after {op.request.timeout}s"
                self._finish(op, TIMED_OUT, {}, message, results, on_finished)
            else:
                op.log.append(str(payload))
                message = "the Ansible process died"
                self._finish(op, FAILED, {}, message, results, on_finished)

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
