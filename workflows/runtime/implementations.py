"""The ``@implement`` registry: alternative implementations of a task, looked up when the
original is called (``workflows.runtime.decorators.implement`` registers, the scheduler in
``workflows.runtime.core`` chooses)."""

from __future__ import annotations

import os
import sys

from workflows.runtime.exceptions import TaskDefinitionError
from workflows.runtime.model import TaskSpec

__all__ = ["implementations_of", "register_alternative"]

# @implement registry: (source_class, method) -> the alternative implementations' specs, in
# declaration order.
_ALTERNATIVES: dict[tuple[str, str], list[TaskSpec]] = {}


def register_alternative(source_class: str, method: str, spec: TaskSpec) -> None:
    _ALTERNATIVES.setdefault((source_class, method), []).append(spec)


def implementations_of(spec: TaskSpec) -> list[TaskSpec]:
    """The @implement alternatives of ``spec`` (none for most tasks). The original is named
    by its module (a function) or ``module.Class`` (a method), as in PyCOMPSs; a program run
    as ``__main__`` is also found under its file's name."""
    if not _ALTERNATIVES:
        return []
    fn = spec.fn
    module = getattr(fn, "__module__", "") or ""
    owner, _, name = (getattr(fn, "__qualname__", "") or spec.name).rpartition(".")
    modules = [module]
    if module == "__main__":
        main = sys.modules.get("__main__")
        path = getattr(main, "__file__", None)
        if path:
            modules.append(os.path.splitext(os.path.basename(path))[0])
    found: list[TaskSpec] = []
    for mod in modules:
        source = f"{mod}.{owner}" if owner else mod
        found += [alt for alt in _ALTERNATIVES.get((source, name), []) if alt is not spec]
        if owner:  # a method's class may also be named on its own
            found += [a for a in _ALTERNATIVES.get((owner, name), []) if a is not spec]
    for alt in found:
        if alt.returns != spec.returns:
            raise TaskDefinitionError(
                f"@implement {alt.name} of {spec.name}: returns {alt.returns} values, "
                f"the original {spec.returns}"
            )
    return found
