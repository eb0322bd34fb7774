"""Synchronisation API, named as in ``pycompss.api.api``.

Every function works on the process-wide runtime (started lazily when needed).
"""

from __future__ import annotations

import os
from typing import Any

from workflows.runtime.core import get_runtime

__all__ = [
    "TaskGroup",
    "compss_barrier",
    "compss_barrier_group",
    "compss_cancel_group",
    "compss_delete_file",
    "compss_delete_object",
    "compss_file_exists",
    "compss_get_number_of_resources",
    "compss_open",
    "compss_start",
    "compss_stop",
    "compss_wait_on",
    "compss_wait_on_directory",
    "compss_wait_on_file",
    "urgency",
]


def compss_wait_on(*objs: Any, **kwargs: Any) -> Any:
    """Values of futures (lists and dicts resolved inside); one object in, one out."""
    runtime = get_runtime()
    values = [runtime.wait_on(o) for o in objs]
    return values[0] if len(values) == 1 else values


def compss_wait_on_file(*paths: Any) -> Any:
    """Block until the tasks writing these files have ended."""
    runtime = get_runtime()
    done = [runtime.wait_on_file(p) for p in paths]
    return done[0] if len(done) == 1 else done


compss_wait_on_directory = compss_wait_on_file


def compss_barrier(no_more_tasks: bool = False) -> None:
    """Block until every task submitted so far has ended."""
    get_runtime().barrier()


def compss_barrier_group(group_name: str) -> None:
    """Wait for a task group; re-raises the COMPSsException one of its tasks raised."""
    get_runtime().barrier_group(group_name)


def compss_cancel_group(group_name: str) -> None:
    """Cancel a task group's pending tasks and kill its running ones."""
    get_runtime().cancel_group(group_name)


def compss_open(file_name: str, mode: str = "r") -> Any:
    """Open a file once the tasks writing it have ended."""
    if "r" in mode or "+" in mode or "a" in mode:
        get_runtime().wait_on_file(file_name)
    return open(file_name, mode)  # noqa: SIM115 - returned to the caller


def compss_file_exists(*file_names: str) -> Any:
    runtime = get_runtime()
    found = [os.path.exists(runtime.wait_on_file(f)) for f in file_names]
    return found[0] if len(found) == 1 else found


def compss_delete_file(*file_names: str) -> Any:
    """Remove each file once the tasks submitted so far that use it have ended (True where
    a file was removed)."""
    runtime = get_runtime()
    done = [runtime.delete_file(f) for f in file_names]
    return done[0] if len(done) == 1 else done


def compss_delete_object(*objs: Any) -> Any:
    return True if len(objs) == 1 else [True] * len(objs)


def compss_get_number_of_resources() -> int:
    return 1


def compss_start(*args: Any, **kwargs: Any) -> None:
    """The runtime starts lazily; accepted for compatibility."""
    get_runtime()


def compss_stop(code: int = 0, _hard_stop: bool = False) -> None:
    from workflows.runtime.core import stop_runtime

    stop_runtime(wait=not _hard_stop)


class TaskGroup:
    """``with TaskGroup("name"):`` — tasks submitted inside form a group.

    A ``COMPSsException`` raised by one of them cancels the group's pending and running tasks
    and is re-raised at the group's barrier: at the end of the block when ``implicit_barrier``
    (default), else at ``compss_barrier_group(name)``.
    """

    def __init__(self, group_name: str, implicit_barrier: bool = True) -> None:
        self.group_name = group_name
        self.implicit_barrier = implicit_barrier
        self._cm: Any = None

    def __enter__(self) -> TaskGroup:
        self._cm = get_runtime().group(self.group_name, self.implicit_barrier)
        self._cm.__enter__()
        return self

    def __exit__(self, *exc: Any) -> Any:
        return self._cm.__exit__(*exc)


class urgency:  # noqa: N801 - used like a function in ``with urgency("emergency"):``
    """``with urgency("emergency"):`` — tasks submitted inside take that urgency level
    (routine < high < urgent < emergency) instead of the workflow's."""

    def __init__(self, level: str) -> None:
        self.level = level

    def __enter__(self) -> None:
        self._cm = get_runtime().urgency(self.level)
        self._cm.__enter__()

    def __exit__(self, *exc: Any) -> Any:
        return self._cm.__exit__(*exc)
