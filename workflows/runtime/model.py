"""Task definitions (what a decorated function declares) and task instances (one call).

A :class:`TaskSpec` is built by the decorators at import time and never changes once the
first call has been made. A :class:`Task` is one submitted call: its dependencies, state,
attempts and results. Both are plain data; the scheduling logic lives in ``core``.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any

from workflows.runtime.parameter import IN, Parameter

__all__ = [
    "POLICIES",
    "Constraint",
    "Outcome",
    "State",
    "Task",
    "TaskSpec",
]

POLICIES = ("RETRY", "FAIL", "IGNORE", "CANCEL_SUCCESSORS")


class State(enum.Enum):
    """Life cycle of a task. PENDING -> READY -> RUNNING -> DONE | FAILED | CANCELLED."""

    PENDING = "pending"  # waiting for predecessors
    READY = "ready"  # all inputs available, waiting for a resource
    RUNNING = "running"
    DONE = "done"  # succeeded, or failed under IGNORE (``ignored`` is then set)
    FAILED = "failed"  # failed for good (FAIL / RETRY exhausted / CANCEL_SUCCESSORS)
    CANCELLED = "cancelled"


TERMINAL = (State.DONE, State.FAILED, State.CANCELLED)


@dataclass(frozen=True, slots=True)
class Constraint:
    """Resources one task needs: CPU cores, memory (MB) and GPUs."""

    cpus: int = 1
    memory_mb: int = 0
    gpus: int = 0


@dataclass
class TaskSpec:
    """Everything the decorators declare about one task function."""

    fn: Any
    name: str
    param_names: tuple[str, ...] = ()
    varargs: str | None = None
    params: dict[str, Parameter] = field(default_factory=dict)
    returns: int = 0
    on_failure: str = "RETRY"
    defaults: dict[str, Any] = field(default_factory=dict)
    time_out: float = 0.0
    priority: bool = False
    kind: str = "python"  # python | binary | mpi | http
    constraint: Constraint | None = None
    options: dict[str, Any] = field(default_factory=dict)  # binary / mpi / http settings

    def param(self, name: str) -> Parameter:
        return self.params.get(name, IN)

    def arg_name(self, position: int) -> str:
        """Parameter name of a positional argument (``*args`` items share the varargs name)."""
        if position < len(self.param_names):
            return self.param_names[position]
        return self.varargs or f"arg{position}"


@dataclass(slots=True)
class Outcome:
    """What one attempt of a task produced, as reported by a backend."""

    ok: bool
    values: tuple[Any, ...] = ()
    inout: dict[str, Any] = field(default_factory=dict)  # new values of INOUT objects
    error: str = ""  # one-line reason
    detail: str = ""  # traceback or response body
    timed_out: bool = False
    cancelled: bool = False
    compss_exception: bool = False
    host: str = ""
    started: float = 0.0
    ended: float = 0.0


class Task:
    """One submitted call of a task function."""

    __slots__ = (
        "id",
        "spec",
        "args",
        "kwargs",
        "deps",
        "successors",
        "deps_left",
        "state",
        "attempt",
        "values",
        "ignored",
        "fatal",
        "error",
        "groups",
        "urgency",
        "out_files",
        "inout_files",
        "inout_objects",
        "exclusive",
        "choices",
        "cancel_requested",
        "handle",
        "submitted_at",
        "started_at",
        "host",
        "resources",
    )

    def __init__(self, task_id: int, spec: TaskSpec, args: tuple, kwargs: dict) -> None:
        self.id = task_id
        self.spec = spec
        self.args = args
        self.kwargs = kwargs
        self.deps: list[Task] = []
        self.successors: list[Task] = []
        self.deps_left = 0
        self.state = State.PENDING
        self.attempt = 0
        self.values: tuple[Any, ...] = ()
        self.ignored = False
        self.fatal = False
        self.error = ""
        self.groups: tuple[str, ...] = ()
        self.urgency = 0
        self.out_files: list[str] = []  # FILE_OUT paths
        self.inout_files: list[str] = []  # FILE_INOUT paths
        self.inout_objects: dict[str, Any] = {}  # param name -> caller's object
        self.exclusive: list[Any] = []  # data it accesses COMMUTATIVE (one task at a time)
        self.choices: tuple[TaskSpec, ...] = ()  # @implement: implementations, in preference
        self.cancel_requested = False
        self.handle: Any = None  # backend-specific (process, job id)
        self.submitted_at = 0.0
        self.started_at = 0.0
        self.host = ""
        self.resources: Any = None  # what the backend granted

    @property
    def label(self) -> str:
        return f"{self.spec.name}#{self.id}"

    def __repr__(self) -> str:
        return f"<Task {self.label} {self.state.value}>"
