"""The scheduler: dependency tracking, ready queue by urgency, failure policies, groups.

One :class:`Runtime` per program. The main program submits tasks (``TaskFunction.__call__``)
and synchronises (``wait_on``, ``barrier``...); backends run attempts and report each
:class:`~workflows.runtime.model.Outcome` through :meth:`Runtime.complete`. All bookkeeping
happens under one lock; launching and killing happen outside it.

Failure semantics (CONTRACTS.md §3, COMPSs 3.3 behaviour):

==================  ==========================  ==================  ======================
on_failure          successors                  outputs / returns   application
==================  ==========================  ==================  ======================
RETRY (default)     cancelled once it finally   removed             stops with an error
                    fails (``retries`` + 1
                    attempts)
FAIL                cancelled                   removed             stops with an error
IGNORE              still run                   kept, or defaults;  continues (warning)
                                                missing files empty
CANCEL_SUCCESSORS   cancelled (transitively)    kept                continues (warning)
==================  ==========================  ==================  ======================

"stops with an error": every other task is cancelled (running ones killed) and the next runtime
call of the main program (task call, wait, barrier, group exit) raises
:class:`TaskFailedError`; the launcher then exits with status 1.
"""

from __future__ import annotations

import atexit
import contextlib
import heapq
import itertools
import logging
import os
import shutil
import tempfile
import threading
import time
from collections import deque
from collections.abc import Iterator
from typing import Any

from workflows.runtime.backends import Backend, make_backend
from workflows.runtime.config import RuntimeConfig, load_config, urgency_rank
from workflows.runtime.events import EventLog
from workflows.runtime.exceptions import (
    COMPSsException,
    ConstraintError,
    RuntimeTaskError,
    TaskCancelledError,
    TaskFailedError,
)
from workflows.runtime.implementations import implementations_of
from workflows.runtime.model import TERMINAL, Outcome, State, Task, TaskSpec
from workflows.runtime.parameter import IN, Direction, Parameter, Type

__all__ = [
    "Future",
    "Runtime",
    "get_runtime",
    "current_runtime",
    "start_runtime",
    "stop_runtime",
]

log = logging.getLogger("workflows.runtime")

_IMMUTABLE = (int, float, complex, str, bytes, bool, type(None), frozenset)
_PENDING, _READY, _RUNNING = State.PENDING, State.READY, State.RUNNING
_DONE, _FAILED, _CANCELLED = State.DONE, State.FAILED, State.CANCELLED


def _has_future(value: Any, depth: int) -> bool:
    if depth > 8:
        return False
    for item in value.values() if type(value) is dict else value:
        kind = type(item)
        if kind is Future:
            return True
        if (kind is list or kind is tuple or kind is dict) and _has_future(item, depth + 1):
            return True
    return False


class Future:
    """Placeholder for a value a task will return; pass it to tasks or ``compss_wait_on``."""

    __slots__ = ("task", "index")

    def __init__(self, task: Task, index: int) -> None:
        self.task = task
        self.index = index

    def __repr__(self) -> str:
        return f"<Future {self.task.label}[{self.index}] {self.task.state.value}>"


class _Data:
    """Last writer and readers since then of one object or file (for dependencies).

    A run of CONCURRENT (or of COMMUTATIVE) accesses in a row is ``shared``: its tasks do
    not depend on each other, only on what came before the run (``shared_base``), and the
    next other access depends on all of them (they are the data's writers until then).
    COMMUTATIVE ones also exclude each other: ``busy`` is the one running."""

    __slots__ = ("obj", "writer", "readers", "value", "shared", "shared_kind", "shared_base",
                 "busy")  # fmt: skip

    def __init__(self, obj: Any) -> None:
        self.obj = obj  # keeps the object alive so its id() is not reused
        self.writer: Task | None = None
        self.readers: list[Task] = []
        self.value = obj  # newest version (a process task returns a new object)
        self.shared: list[Task] = []
        self.shared_kind: str | None = None  # the open run's direction; None: closed
        self.shared_base: list[Task] = []
        self.busy: Task | None = None

    def writers(self) -> list[Task]:
        """The tasks a later access must wait for as writers."""
        if self.shared:
            return self.shared
        return [self.writer] if self.writer is not None else []

    def access(self, task: Task, direction: str, writes: bool, deps: list[Task]) -> None:
        """Record ``task``'s access and add what it must wait for to ``deps``."""
        if direction in _SHARED:
            if self.shared and self.shared_kind == direction:
                deps.extend(self.shared_base)  # the run goes on: not after its own members
                self.shared.append(task)
                return
            base = self.writers() + self.readers
            deps.extend(base)
            self.shared_base = base
            self.shared = [task]
            self.shared_kind = direction
            self.writer = None
            self.readers = []
            return
        self.shared_kind = None  # any other access ends the run (its tasks stay writers)
        deps.extend(self.writers())
        if writes:
            deps.extend(self.readers)
            self.writer = task
            self.readers = []
            self.shared = []
        else:
            self.readers.append(task)


_SHARED = (Direction.CONCURRENT, Direction.COMMUTATIVE)


class _Group:
    __slots__ = ("name", "tasks", "open", "exception")

    def __init__(self, name: str) -> None:
        self.name = name
        self.tasks: list[Task] = []
        self.open = 0
        self.exception: COMPSsException | None = None


class Runtime:
    """Task scheduler over one backend. Thread-safe; one per program."""

    def __init__(
        self, config: RuntimeConfig, backend: Backend | None = None, events: EventLog | None = None
    ) -> None:
        self.config = config
        self.backend: Backend = backend if backend is not None else make_backend(config)
        self.events = events if events is not None else EventLog(config.events_path)
        self.max_attempts = 1 + max(0, config.retries)
        self._lock = threading.Lock()
        self._cv = threading.Condition(self._lock)
        self._tasks: list[Task] = []
        self._ready: list[tuple[int, int, int, Task]] = []
        self._seq = itertools.count()
        self._open = 0
        self._fatal: TaskFailedError | None = None
        self._objects: dict[int, _Data] = {}
        self._files: dict[str, _Data] = {}
        self._groups: dict[str, _Group] = {}
        self._group_stack: list[str] = []
        self._urgency = urgency_rank(config.urgency)
        self._urgency_stack: list[int] = []
        self._backup_dir = ""
        self._closed = False
        self.backend.bind(self.complete)

    # ------------------------------------------------------------------ submission
    @property
    def tasks(self) -> list[Task]:
        """Every task submitted so far (graph export, tests)."""
        return list(self._tasks)

    def submit(self, spec: TaskSpec, args: tuple, kwargs: dict) -> Any:
        """Register one call; returns None, one Future or a tuple of Futures (``returns``)."""
        if self._fatal is not None:
            raise self._fatal
        if self._closed:
            raise RuntimeTaskError("the task runtime is stopped")
        choices = self._implementations(spec)
        with self._lock:
            task = Task(len(self._tasks) + 1, spec, args, kwargs)
            task.choices = choices
            task.submitted_at = time.time()
            task.urgency = self._urgency_stack[-1] if self._urgency_stack else self._urgency
            task.groups = tuple(self._group_stack)
            self._tasks.append(task)
            self._open += 1
            deps: list[Task] = []
            for i, value in enumerate(args):
                self._scan(task, spec.arg_name(i), value, deps)
            for name, value in kwargs.items():
                self._scan(task, name, value, deps)
            doomed = self._link(task, deps)
            for g in task.groups:
                group = self._groups[g]
                group.tasks.append(task)
                group.open += 1
            if self.events.enabled:
                self.events.emit(
                    "submitted",
                    task,
                    deps=[d.id for d in task.deps],
                    urgency=task.urgency,
                    groups=list(task.groups) or None,
                    backend=self.backend.name,
                )
            if doomed:
                self._cancel_locked(task, "a predecessor failed or was cancelled", [])
            elif task.deps_left == 0:
                self._make_ready(task)
            launch = self._dispatch_locked()
        if launch:
            self._launch(launch)
        n = spec.returns
        if n == 0:
            return None
        if n == 1:
            return Future(task, 0)
        return tuple(Future(task, i) for i in range(n))

    def _link(self, task: Task, deps: list[Task]) -> bool:
        doomed = False
        seen: set[int] = set()
        for d in deps:
            if d is task or d.id in seen:
                continue
            seen.add(d.id)
            task.deps.append(d)
            state = d.state
            if state is _DONE:
                continue
            if state is _FAILED or state is _CANCELLED:
                doomed = True
                continue
            d.successors.append(task)
            task.deps_left += 1
        return doomed

    def _scan(self, task: Task, name: str, value: Any, deps: list[Task]) -> None:
        """Find what ``value`` depends on and record what this task will write."""
        kind = type(value)
        if kind is Future:
            deps.append(value.task)
            return
        param: Parameter = task.spec.params.get(name, IN) if task.spec.params else IN
        if param.is_file:
            items = value if param.type == Type.COLLECTION else (value,)
            for item in items:
                if isinstance(item, Future):
                    deps.append(item.task)
                elif isinstance(item, (str, os.PathLike)):
                    self._scan_file(task, param, os.path.abspath(os.fspath(item)), deps)
            return
        if kind in _IMMUTABLE:
            return
        if kind is list or kind is tuple or kind is dict:
            self._scan_nested(value, deps, 0)
        entry = self._objects.get(id(value))
        if param.writes:
            if entry is None:
                entry = self._objects[id(value)] = _Data(value)
            entry.access(task, param.direction, True, deps)
            task.inout_objects[name] = value
            if param.direction == Direction.COMMUTATIVE:
                task.exclusive.append(entry)
        elif entry is not None:
            entry.access(task, param.direction, False, deps)

    def _scan_nested(self, value: Any, deps: list[Task], depth: int) -> None:
        if depth > 8:
            return
        items = value.values() if type(value) is dict else value
        for item in items:
            kind = type(item)
            if kind is Future:
                deps.append(item.task)
            elif kind is list or kind is tuple or kind is dict:
                self._scan_nested(item, deps, depth + 1)
            elif kind not in _IMMUTABLE:
                entry = self._objects.get(id(item))
                if entry is not None:
                    deps.extend(entry.writers())

    def _scan_file(self, task: Task, param: Parameter, path: str, deps: list[Task]) -> None:
        entry = self._files.get(path)
        if entry is None:
            entry = self._files[path] = _Data(path)
        entry.access(task, param.direction, param.writes, deps)
        if param.direction == Direction.OUT:
            task.out_files.append(path)
        elif param.writes and param.direction != Direction.CONCURRENT:
            # Backed up and restored around retries. Not a CONCURRENT file: its other
            # writers run meanwhile, and a restore would undo their work.
            task.inout_files.append(path)
        if param.direction == Direction.COMMUTATIVE:
            task.exclusive.append(entry)

    # ------------------------------------------------------------------ scheduling
    def _make_ready(self, task: Task) -> None:
        task.state = _READY
        heapq.heappush(
            self._ready, (-task.urgency, -int(task.spec.priority), next(self._seq), task)
        )

    def _dispatch_locked(self) -> list[Task]:
        """Pop ready tasks, most urgent first, while the backend has room for them."""
        launch: list[Task] = []
        skipped: list[tuple[int, int, int, Task]] = []
        waiting: list[tuple[int, int, int, Task]] = []
        ready = self._ready
        acquire = self.backend.try_acquire
        while ready:
            item = heapq.heappop(ready)
            task = item[3]
            if task.state is not _READY:
                continue
            if task.exclusive and any(e.busy is not None for e in task.exclusive):
                waiting.append(item)  # a COMMUTATIVE peer holds the data: after it ends
                continue
            if self._acquire(task, acquire):
                task.state = _RUNNING
                task.attempt += 1
                for e in task.exclusive:
                    e.busy = task
                launch.append(task)
            else:
                # Let smaller tasks pass a big one that does not fit yet (bounded look-ahead).
                skipped.append(item)
                if len(skipped) >= 16 or self.backend.saturated():
                    break
        for item in skipped + waiting:
            heapq.heappush(ready, item)
        return launch

    def _implementations(self, spec: TaskSpec) -> tuple[TaskSpec, ...]:
        """The implementations a call of ``spec`` may run (@implement ones first), those
        the backend can ever hold; ``ConstraintError`` when none."""
        alternatives = implementations_of(spec)
        if not alternatives:
            self.backend.check(spec)
            return ()
        usable: list[TaskSpec] = []
        first_error: Exception | None = None
        for impl in [*alternatives, spec]:
            try:
                self.backend.check(impl)
            except ConstraintError as exc:
                first_error = first_error or exc
                continue
            usable.append(impl)
        if not usable:
            assert first_error is not None
            raise first_error
        return tuple(usable)

    @staticmethod
    def _acquire(task: Task, acquire: Any) -> bool:
        """Resources for ``task``; with several implementations, the first that fits now
        becomes its spec for this attempt."""
        if not task.choices:
            return bool(acquire(task))
        for impl in task.choices:
            task.spec = impl
            if acquire(task):
                return True
        task.spec = task.choices[-1]
        return False

    def _launch(self, tasks: list[Task]) -> None:
        queue = deque(tasks)
        while queue:
            task = queue.popleft()
            try:
                args, kwargs = self._resolve(task)
                if task.inout_files and task.attempt == 1:
                    self._backup(task)
                task.started_at = time.time()
                if self.events.enabled:
                    self.events.emit("started", task, attempt=task.attempt, host=self.backend.host)
                outcome = self.backend.launch(task, args, kwargs, tuple(task.inout_objects))
            except Exception as exc:  # noqa: BLE001 - a launch error is that task's failure
                log.debug("launch of %s failed", task.label, exc_info=True)
                outcome = Outcome(
                    ok=False, error=f"cannot launch: {exc}", started=time.time(), ended=time.time()
                )
            if outcome is not None:  # the backend ran it synchronously
                queue.extend(self._settle(task, outcome))

    def _resolve(self, task: Task) -> tuple[tuple, dict]:
        spec = task.spec
        args = tuple(self._value(v) for v in task.args) if task.args else ()
        kwargs = {k: self._value(v) for k, v in task.kwargs.items()} if task.kwargs else {}
        del spec
        return args, kwargs

    def _value(self, value: Any) -> Any:
        kind = type(value)
        if kind is Future:
            return value.task.values[value.index]
        if kind in _IMMUTABLE:
            return value
        entry = self._objects.get(id(value))
        if entry is not None:
            value = entry.value
            kind = type(value)
        if (kind is list or kind is tuple or kind is dict) and _has_future(value, 0):
            if kind is dict:
                return {k: self._value(v) for k, v in value.items()}
            return kind(self._value(v) for v in value)
        return value

    # ------------------------------------------------------------------ completion
    def complete(self, task: Task, outcome: Outcome) -> None:
        """Backend callback: one attempt of ``task`` ended with ``outcome``."""
        launch = self._settle(task, outcome)
        if launch:
            self._launch(launch)

    def _settle(self, task: Task, outcome: Outcome) -> list[Task]:
        kills: list[Task] = []
        with self._lock:
            self.backend.release(task)
            for e in task.exclusive:
                if e.busy is task:
                    e.busy = None
            if task.state is not _RUNNING:
                return []
            task.host = outcome.host or self.backend.host
            duration = round(max(0.0, outcome.ended - outcome.started), 6)
            if outcome.ok and not task.cancel_requested:
                self._succeed(task, outcome, duration)
            elif task.cancel_requested or outcome.cancelled:
                task.error = task.error or "cancelled"
                self._finish(task, _CANCELLED)
                self._emit("cancelled", task, attempt=task.attempt, reason=task.error)
                self._cancel_successors(task, kills)
            elif outcome.compss_exception and task.groups:
                self._group_exception(task, outcome, duration, kills)
            else:
                self._fail(task, outcome, duration, kills)
            launch = self._dispatch_locked()
            self._cv.notify_all()
        for victim in kills:
            self.backend.cancel(victim)
        return launch

    def _emit(self, event: str, task: Task, **fields: Any) -> None:
        if self.events.enabled:
            self.events.emit(event, task, **fields)

    def _finish(self, task: Task, state: State) -> None:
        task.state = state
        self._open -= 1
        for g in task.groups:
            self._groups[g].open -= 1

    def _succeed(self, task: Task, outcome: Outcome, duration: float) -> None:
        task.values = outcome.values
        for name, new in outcome.inout.items():
            original = task.inout_objects.get(name)
            entry = self._objects.get(id(original)) if original is not None else None
            if entry is not None:
                entry.value = new
        self._finish(task, _DONE)
        self._drop_backups(task)
        self._emit("finished", task, attempts=task.attempt, host=task.host, duration=duration)
        for succ in task.successors:
            if succ.state is _PENDING:
                succ.deps_left -= 1
                if succ.deps_left == 0:
                    self._make_ready(succ)

    def _group_exception(
        self, task: Task, outcome: Outcome, duration: float, kills: list[Task]
    ) -> None:
        task.error = outcome.error
        self._finish(task, _FAILED)
        self._emit(
            "failed",
            task,
            attempt=task.attempt,
            error=outcome.error,
            compss_exception=True,
            host=task.host,
            duration=duration,
            final=True,
        )
        for name in task.groups:
            group = self._groups[name]
            if group.exception is None:
                group.exception = COMPSsException(outcome.error)
            for member in group.tasks:
                self._cancel_locked(member, f"COMPSsException in group {name}", kills)
        self._cancel_successors(task, kills)

    def _fail(self, task: Task, outcome: Outcome, duration: float, kills: list[Task]) -> None:
        policy = task.spec.on_failure
        retry = policy == "RETRY" and task.attempt < self.max_attempts
        task.error = outcome.error
        self._emit(
            "failed",
            task,
            attempt=task.attempt,
            error=outcome.error,
            timed_out=outcome.timed_out or None,
            host=task.host,
            duration=duration,
            final=not retry,
            policy=policy,
            detail=outcome.detail[-4000:] or None,
        )
        if retry:
            self._restore_backups(task)
            self._remove_outputs(task)
            self._emit("retried", task, attempt=task.attempt + 1)
            self._make_ready(task)
            return
        if policy in ("RETRY", "FAIL"):
            self._remove_outputs(task)
            self._restore_backups(task)
            self._drop_backups(task)
            task.fatal = True
            self._finish(task, _FAILED)
            where = f"task {task.label} failed after {task.attempt} attempt(s)"
            self._fatal = TaskFailedError(
                f"{where} (on_failure={policy}): {outcome.error}",
                task_name=task.spec.name,
                task_id=task.id,
            )
            self._fatal.detail = outcome.detail  # type: ignore[attr-defined]
            log.error("%s: %s", where, outcome.error)
            for other in self._tasks:
                self._cancel_locked(other, f"the application stopped: {where}", kills)
            return
        task.values = self._default_values(task)
        self._drop_backups(task)
        if policy == "IGNORE":
            self._apply_defaults(task)
            task.ignored = True
            self._finish(task, _DONE)
            log.warning("task %s failed (ignored): %s", task.label, outcome.error)
            self._emit("ignored", task, attempts=task.attempt)
            for succ in task.successors:
                if succ.state is _PENDING:
                    succ.deps_left -= 1
                    if succ.deps_left == 0:
                        self._make_ready(succ)
        else:  # CANCEL_SUCCESSORS
            self._finish(task, _FAILED)
            log.warning(
                "task %s failed; its successors are cancelled: %s", task.label, outcome.error
            )
            self._cancel_successors(task, kills)

    def _cancel_successors(self, task: Task, kills: list[Task]) -> None:
        for succ in task.successors:
            self._cancel_locked(succ, f"predecessor {task.label} {task.state.value}", kills)

    def _cancel_locked(self, task: Task, reason: str, kills: list[Task]) -> None:
        """Cancel ``task`` and, transitively, its successors (iterative: chains are long)."""
        stack = [task]
        while stack:
            t = stack.pop()
            state = t.state
            if state in TERMINAL:
                continue
            if state is _RUNNING:
                if not t.cancel_requested:
                    t.cancel_requested = True
                    t.error = reason
                    kills.append(t)
                continue  # its successors go when the backend reports it stopped
            t.error = reason
            self._finish(t, _CANCELLED)
            self._emit("cancelled", t, reason=reason)
            stack.extend(t.successors)

    # ------------------------------------------------------------------ outputs
    def _default_values(self, task: Task) -> tuple[Any, ...]:
        n = task.spec.returns
        if "returns" not in task.spec.defaults:
            return (None,) * n
        default = task.spec.defaults["returns"]
        if n > 1 and isinstance(default, (tuple, list)) and len(default) == n:
            return tuple(default)
        return (default,) * n

    def _apply_defaults(self, task: Task) -> None:
        """IGNORE: OUT/INOUT parameters take the @on_failure defaults; missing files empty."""
        defaults = task.spec.defaults
        bound_files = self._file_params(task)
        for name, path in bound_files:
            if name in defaults:
                default = defaults[name]
                if isinstance(default, (str, os.PathLike)) and os.path.isfile(default):
                    shutil.copyfile(default, path)
                else:
                    with open(path, "w", encoding="utf-8") as fh:
                        fh.write(str(default))
            elif not os.path.exists(path):
                open(path, "a").close()  # noqa: SIM115 - create empty, as COMPSs does
        for name, original in task.inout_objects.items():
            if name in defaults:
                entry = self._objects.get(id(original))
                if entry is not None:
                    entry.value = defaults[name]

    def _file_params(self, task: Task) -> list[tuple[str, str]]:
        out = set(task.out_files) | set(task.inout_files)
        pairs = []
        spec = task.spec
        items = [(spec.arg_name(i), v) for i, v in enumerate(task.args)]
        items += list(task.kwargs.items())
        for name, value in items:
            if isinstance(value, (str, os.PathLike)):
                path = os.path.abspath(os.fspath(value))
                if path in out:
                    pairs.append((name, path))
        return pairs

    def _remove_outputs(self, task: Task) -> None:
        for path in task.out_files:
            with contextlib.suppress(FileNotFoundError, IsADirectoryError):
                os.remove(path)

    def _backup(self, task: Task) -> None:
        if not self._backup_dir:
            self._backup_dir = tempfile.mkdtemp(prefix="tosca-runtime-inout-")
        for i, path in enumerate(task.inout_files):
            if os.path.isfile(path):
                shutil.copy2(path, os.path.join(self._backup_dir, f"{task.id}-{i}"))

    def _restore_backups(self, task: Task) -> None:
        for i, path in enumerate(task.inout_files):
            saved = os.path.join(self._backup_dir, f"{task.id}-{i}") if self._backup_dir else ""
            if saved and os.path.isfile(saved):
                shutil.copy2(saved, path)

    def _drop_backups(self, task: Task) -> None:
        if not task.inout_files or not self._backup_dir:
            return
        for i in range(len(task.inout_files)):
            with contextlib.suppress(FileNotFoundError):
                os.remove(os.path.join(self._backup_dir, f"{task.id}-{i}"))

    # ------------------------------------------------------------------ synchronisation
    def _raise_fatal(self) -> None:
        if self._fatal is not None:
            raise self._fatal

    def _wait_task(self, task: Task) -> None:
        with self._cv:
            while task.state not in TERMINAL and self._fatal is None:
                self._cv.wait()
        self._raise_fatal()

    def delete_file(self, path: str | os.PathLike[str]) -> bool:
        """``compss_delete_file``: once every task submitted so far that reads or writes
        ``path`` has ended, remove the file (a directory with its contents) and forget its
        history; True when something was removed."""
        key = os.path.abspath(os.fspath(path))
        with self._lock:
            entry = self._files.get(key)
            users = (entry.writers() + entry.readers) if entry is not None else []
        for user in users:
            self._wait_task(user)
        with self._lock:
            self._files.pop(key, None)
        if os.path.isdir(key) and not os.path.islink(key):
            shutil.rmtree(key, ignore_errors=True)
            return True
        try:
            os.remove(key)
        except FileNotFoundError:
            return False
        return True

    def wait_on(self, obj: Any) -> Any:
        """Value of a Future (or newest version of an object written by tasks)."""
        kind = type(obj)
        if kind is Future:
            task = obj.task
            self._wait_task(task)
            if task.state is _CANCELLED:
                raise TaskCancelledError(f"task {task.label} was cancelled: {task.error}")
            return task.values[obj.index]
        if kind in _IMMUTABLE:
            self._raise_fatal()
            return obj
        with self._lock:
            entry = self._objects.get(id(obj))
        if entry is not None and entry.writers():
            for writer in list(entry.writers()):
                self._wait_task(writer)
            return entry.value
        if kind is list or kind is tuple:
            return kind(self.wait_on(v) for v in obj)
        if kind is dict:
            return {k: self.wait_on(v) for k, v in obj.items()}
        self._raise_fatal()
        return obj

    def wait_on_file(self, path: str | os.PathLike[str]) -> str:
        """Block until the last task writing ``path`` has ended; returns the path."""
        with self._lock:
            entry = self._files.get(os.path.abspath(os.fspath(path)))
        for writer in list(entry.writers()) if entry is not None else []:
            self._wait_task(writer)
            if writer.state is _CANCELLED:
                raise TaskCancelledError(f"task {writer.label} writing {path} was cancelled")
        self._raise_fatal()
        return os.fspath(path)

    def barrier(self) -> None:
        """Block until every submitted task has ended; raises if the application failed."""
        with self._cv:
            while self._open > 0 and self._fatal is None:
                self._cv.wait()
        self._raise_fatal()

    def _group(self, name: str) -> _Group:
        group = self._groups.get(name)
        if group is None:
            raise RuntimeTaskError(f"no task group named {name!r}")
        return group

    def barrier_group(self, name: str) -> None:
        """Wait for a group; re-raise the COMPSsException one of its tasks raised."""
        with self._cv:
            group = self._group(name)
            while group.open > 0 and self._fatal is None:
                self._cv.wait()
            exc, group.exception = group.exception, None
        self._raise_fatal()
        if exc is not None:
            raise exc

    def cancel_group(self, name: str) -> None:
        """Cancel the group's pending tasks and kill its running ones."""
        kills: list[Task] = []
        with self._lock:
            for member in self._group(name).tasks:
                self._cancel_locked(member, f"group {name} cancelled", kills)
            self._cv.notify_all()
        for victim in kills:
            self.backend.cancel(victim)

    @contextlib.contextmanager
    def group(self, name: str, implicit_barrier: bool = True) -> Iterator[None]:
        """Body of ``TaskGroup``: tasks submitted inside belong to group ``name``."""
        with self._lock:
            self._groups.setdefault(name, _Group(name))
            self._group_stack.append(name)
        ok = False
        try:
            yield
            ok = True
        finally:
            with self._lock:
                self._group_stack.remove(name)
        if ok and implicit_barrier:
            self.barrier_group(name)

    @contextlib.contextmanager
    def urgency(self, level: str) -> Iterator[None]:
        """Tasks submitted inside run at urgency ``level`` instead of the workflow's."""
        self._urgency_stack.append(urgency_rank(level))
        try:
            yield
        finally:
            self._urgency_stack.pop()

    # ------------------------------------------------------------------ life cycle
    def shutdown(self, wait: bool = True) -> None:
        """Wait for the tasks (unless ``wait`` is False: cancel them), stop the backend."""
        if self._closed:
            return
        try:
            if wait:
                self.barrier()
        finally:
            kills: list[Task] = []
            with self._lock:
                self._closed = True
                for t in self._tasks:
                    self._cancel_locked(t, "the runtime stopped", kills)
            for victim in kills:
                self.backend.cancel(victim)
            self.backend.shutdown()
            self.events.close()


_current: Runtime | None = None
_current_lock = threading.Lock()


def current_runtime() -> Runtime | None:
    """The runtime tasks are submitted to, if one was started."""
    return _current


def start_runtime(
    config: RuntimeConfig | None = None,
    backend: Backend | None = None,
    events: EventLog | None = None,
) -> Runtime:
    """Start (or replace) the process-wide runtime; the previous one is stopped first."""
    global _current
    with _current_lock:
        if _current is not None:
            _current.shutdown(wait=False)
        _current = Runtime(config or load_config(), backend=backend, events=events)
        return _current


def stop_runtime(wait: bool = True) -> None:
    """Stop the process-wide runtime (barrier first unless ``wait`` is False)."""
    global _current
    with _current_lock:
        runtime, _current = _current, None
    if runtime is not None:
        runtime.shutdown(wait=wait)


def _stop_at_exit() -> None:
    try:
        stop_runtime(wait=True)
    except RuntimeTaskError as exc:
        log.error("task runtime: %s", exc)


def get_runtime() -> Runtime:
    """The process-wide runtime, started lazily (local backend from the environment) when a
    task is called outside the launcher; it is drained and stopped at interpreter exit."""
    global _current
    runtime = _current
    if runtime is not None:
        return runtime
    with _current_lock:
        if _current is None:
            _current = Runtime(load_config())
            atexit.register(_stop_at_exit)
        return _current
