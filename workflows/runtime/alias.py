"""``pycompss`` compatibility alias: lets a program written for PyCOMPSs import
``pycompss.api.*`` and run on this runtime, with no ``pycompss`` package installed.

:func:`install_pycompss_alias` puts module objects named ``pycompss``, ``pycompss.api``,
``pycompss.api.task``, ``.parameter``, ``.api``, ``.on_failure``, ``.constraint``,
``.binary``, ``.mpi``, ``.http``, ``.exceptions``, ``.task_group``, ``.local`` into
``sys.modules``. Each carries ``__tosca_runtime_alias__ = True`` so that
``workflows.runtime.compat`` never mistakes it for the real PyCOMPSs.
"""

from __future__ import annotations

import functools
import sys
import types
from typing import Any

from workflows.runtime import api, decorators, exceptions, parameter

__all__ = ["ALIAS_MODULES", "install_pycompss_alias", "is_alias", "local"]


def local(fn: Any) -> Any:
    """``@local``: run ``fn`` in the main program once the futures in its arguments are ready."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        args = tuple(api.compss_wait_on(a) for a in args) if args else ()
        kwargs = {k: api.compss_wait_on(v) for k, v in kwargs.items()}
        return fn(*args, **kwargs)

    return wrapper


def _names(module: Any) -> dict[str, Any]:
    return {name: getattr(module, name) for name in module.__all__}


def _contents() -> dict[str, dict[str, Any]]:
    api_names = _names(api)
    return {
        "pycompss": {},
        "pycompss.api": {},
        "pycompss.api.task": {"task": decorators.task, "Task": decorators.task},
        "pycompss.api.parameter": _names(parameter),
        "pycompss.api.api": api_names,
        "pycompss.api.on_failure": {
            "on_failure": decorators.on_failure,
            "onFailure": decorators.on_failure,
        },
        "pycompss.api.constraint": {"constraint": decorators.constraint},
        "pycompss.api.binary": {"binary": decorators.binary},
        "pycompss.api.mpi": {"mpi": decorators.mpi},
        "pycompss.api.http": {"http": decorators.http},
        "pycompss.api.implement": {"implement": decorators.implement},
        "pycompss.api.container": {"container": decorators.container},
        "pycompss.api.exceptions": {"COMPSsException": exceptions.COMPSsException},
        "pycompss.api.task_group": {"TaskGroup": api.TaskGroup},
        "pycompss.api.local": {"local": local},
    }


ALIAS_MODULES = tuple(_contents())


def is_alias(module: Any) -> bool:
    return bool(getattr(module, "__tosca_runtime_alias__", False))


def install_pycompss_alias(force: bool = True) -> None:
    """Register the alias modules. Without ``force`` an importable real PyCOMPSs is kept."""
    if not force:
        current = sys.modules.get("pycompss")
        if current is not None and not is_alias(current):
            return
        import importlib.util

        if current is None and importlib.util.find_spec("pycompss") is not None:
            return
    for name, members in _contents().items():
        module = types.ModuleType(name, f"PyCOMPSs-compatible alias of {name} (task runtime)")
        module.__dict__.update(members)
        module.__tosca_runtime_alias__ = True  # type: ignore[attr-defined]
        module.__all__ = list(members)  # type: ignore[attr-defined]
        if name != "pycompss.api.task" and "." in name or name == "pycompss":
            module.__path__ = []  # type: ignore[attr-defined]  # a package: submodules import
        sys.modules[name] = module
    for name in ALIAS_MODULES:
        parent, _, child = name.rpartition(".")
        if parent:
            setattr(sys.modules[parent], child, sys.modules[name])
