# ruff: noqa: F822 - the names are bound at import time by _load()
"""What bundled workflows import: the real PyCOMPSs under its runtime, else this one.

``from workflows.runtime.compat import task, compss_wait_on, ...`` gives the real
``pycompss.api`` objects when a real PyCOMPSs is importable AND the program runs under its
runtime (``runcompss`` / ``enqueue_compss``: ``pycompss.util.context.in_pycompss()`` is
true); otherwise this package's. ``TOSCA_RUNTIME_IMPL=ours`` (or ``pycompss``) forces the
choice. ``IMPLEMENTATION`` says which one was picked.
"""

from __future__ import annotations

import importlib
import os
import sys
from typing import Any

__all__ = [
    "IMPLEMENTATION",
    "COMPSsException",
    "TaskGroup",
    "binary",
    "compss_barrier",
    "compss_barrier_group",
    "compss_cancel_group",
    "compss_open",
    "compss_wait_on",
    "compss_wait_on_file",
    "constraint",
    "http",
    "mpi",
    "on_failure",
    "task",
    "use_real_pycompss",
    "COLLECTION_IN",
    "COLLECTION_OUT",
    "COMMUTATIVE",
    "CONCURRENT",
    "FILE_IN",
    "FILE_INOUT",
    "FILE_OUT",
    "IN",
    "INOUT",
    "OUT",
]


def use_real_pycompss() -> bool:
    """True when the real PyCOMPSs runtime is driving this program."""
    forced = os.environ.get("TOSCA_RUNTIME_IMPL", "").lower()
    if forced in ("ours", "pycompss"):
        return forced == "pycompss"
    current = sys.modules.get("pycompss")
    if current is not None and getattr(current, "__tosca_runtime_alias__", False):
        return False
    try:
        context = importlib.import_module("pycompss.util.context")
    except ImportError:
        return False
    check = getattr(context, "in_pycompss", None)
    return bool(check and check())


def _load() -> dict[str, Any]:
    if use_real_pycompss():
        names: dict[str, Any] = {"IMPLEMENTATION": "pycompss"}
        sources = {
            "pycompss.api.task": ["task"],
            "pycompss.api.on_failure": ["on_failure"],
            "pycompss.api.constraint": ["constraint"],
            "pycompss.api.binary": ["binary"],
            "pycompss.api.mpi": ["mpi"],
            "pycompss.api.http": ["http"],
            "pycompss.api.exceptions": ["COMPSsException"],
            "pycompss.api.api": [
                "TaskGroup",
                "compss_barrier",
                "compss_barrier_group",
                "compss_cancel_group",
                "compss_open",
                "compss_wait_on",
                "compss_wait_on_file",
            ],
            "pycompss.api.parameter": [
                "COLLECTION_IN",
                "COLLECTION_OUT",
                "COMMUTATIVE",
                "CONCURRENT",
                "FILE_IN",
                "FILE_INOUT",
                "FILE_OUT",
                "IN",
                "INOUT",
                "OUT",
            ],
        }
        for module_name, members in sources.items():
            module = importlib.import_module(module_name)
            for member in members:
                names[member] = getattr(module, member, None)
        return names
    import workflows.runtime as ours

    names = {name: getattr(ours, name) for name in __all__ if hasattr(ours, name)}
    names["IMPLEMENTATION"] = "ours"
    return names


globals().update(_load())
