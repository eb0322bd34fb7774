"""PyCOMPSs-compatible decorators: ``task``, ``on_failure``, ``constraint``, ``binary``,
``mpi``, ``http``.

``@task`` turns a function into a :class:`TaskFunction`; calling it submits a task to the
current runtime and returns future objects. The other decorators may sit above ``@task`` (the
PyCOMPSs order) or below it: either way they only add to the function's :class:`TaskSpec`.

Inside a running task, calling another task function runs it as a plain function (no nesting),
as PyCOMPSs does by default.
"""

from __future__ import annotations

import functools
import inspect
import logging
from typing import Any

from workflows.runtime.context import in_task
from workflows.runtime.exceptions import TaskDefinitionError
from workflows.runtime.execution import ENGINE_COMMANDS
from workflows.runtime.implementations import register_alternative
from workflows.runtime.model import POLICIES, Constraint, TaskSpec
from workflows.runtime.parameter import IN, INOUT, Direction, Parameter, as_parameter

__all__ = [
    "TaskFunction",
    "task",
    "on_failure",
    "constraint",
    "container",
    "binary",
    "mpi",
    "http",
    "implement",
    "in_task",
]

log = logging.getLogger(__name__)

_PENDING_ATTR = "__tosca_task_options__"
# @task keywords PyCOMPSs accepts that change nothing here (accepted for compatibility).
_IGNORED_TASK_KEYWORDS = {
    "is_replicated",
    "is_distributed",
    "varargs_type",
    "computing_nodes",
    "numba",
    "numba_flags",
    "numba_signature",
    "numba_declaration",
    "tracing_hook",
    "cache_returns",
    "is_reduce",
    "chunk_size",
}


def _returns_count(value: Any, kwargs_name: str = "") -> int:
    if value is None or value is False:
        return 0
    if isinstance(value, bool):
        return 1
    if isinstance(value, int):
        if value < 0:
            raise TaskDefinitionError(f"{kwargs_name}: returns must be >= 0, not {value}")
        return value
    if isinstance(value, (list, tuple)):
        return len(value)
    if isinstance(value, (type, str)):
        # PyCOMPSs accepts a type (one value); a string names it too.
        return 1
    raise TaskDefinitionError(f"{kwargs_name}: unsupported returns={value!r}")


class TaskFunction:
    """A function decorated with ``@task``: calling it submits a task.

    ``TaskFunction.spec`` holds the declaration; ``__wrapped__`` the original function.
    """

    def __init__(self, spec: TaskSpec) -> None:
        self.spec = spec
        self.__wrapped__ = spec.fn
        functools.update_wrapper(self, spec.fn)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if in_task():
            return self.spec.fn(*args, **kwargs)
        from workflows.runtime.core import get_runtime

        return get_runtime().submit(self.spec, args, kwargs)

    def __reduce__(self) -> Any:
        # Pickled (cloudpickle / Slurm payloads) as the plain function: inside a task a nested
        # call runs inline anyway.
        return (_rebuild_task_function, (self.spec,))

    def __get__(self, instance: Any, owner: Any = None) -> Any:
        # A task that is a method: ``obj.method(x)`` submits ``method(obj, x)``, the instance
        # being the first parameter (``self``: INOUT unless ``target_direction`` says IN).
        if instance is None:
            return self
        return functools.partial(self, instance)

    def __repr__(self) -> str:
        return f"<task {self.spec.name}>"


def _rebuild_task_function(spec: TaskSpec) -> TaskFunction:
    return TaskFunction(spec)


def _apply_options(spec: TaskSpec, options: dict[str, Any]) -> None:
    for key, value in options.items():
        if key == "on_failure":
            management, defaults = value
            spec.on_failure = management
            spec.defaults.update(defaults)
        elif key == "constraint":
            spec.constraint = value
        elif key in ("binary", "mpi", "http"):
            spec.kind = key
            kept = {"container": spec.options["container"]} if "container" in spec.options else {}
            spec.options = {**kept, **dict(value)}
        elif key == "container":
            spec.options["container"] = dict(value)


def _pending(fn: Any) -> dict[str, Any]:
    opts = getattr(fn, _PENDING_ATTR, None)
    if opts is None:
        opts = {}
        setattr(fn, _PENDING_ATTR, opts)
    return opts


def _add_option(target: Any, key: str, value: Any) -> Any:
    """Attach an option to a TaskFunction (decorator above @task) or a plain function."""
    if isinstance(target, TaskFunction):
        _apply_options(target.spec, {key: value})
    else:
        _pending(target)[key] = value
    return target


def _check_policy(management: Any, where: str) -> str:
    value = str(management).upper()
    if value not in POLICIES:
        raise TaskDefinitionError(
            f"{where}: unknown on_failure management {management!r}; "
            f"expected one of {', '.join(POLICIES)}"
        )
    return value


def task(*dargs: Any, **options: Any) -> Any:
    """Declare a task. Keywords: ``returns``, ``time_out`` (s, 0 = none), ``priority``,
    ``on_failure`` (policy name; ``@on_failure`` gives defaults too) and one parameter spec
    per argument (``x=INOUT``, ``path=FILE_OUT``, ``items=COLLECTION_IN``...).
    """
    if dargs and callable(dargs[0]) and len(dargs) == 1 and not options:
        return task()(dargs[0])

    def decorate(fn: Any) -> TaskFunction:
        if isinstance(fn, TaskFunction):
            raise TaskDefinitionError(f"{fn.spec.name}: @task applied twice")
        where = f"@task {getattr(fn, '__qualname__', fn)}"
        sig = inspect.signature(fn)
        names = []
        varargs = None
        for p in sig.parameters.values():
            if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD):
                names.append(p.name)
            elif p.kind == p.VAR_POSITIONAL:
                varargs = p.name
        spec = TaskSpec(
            fn=fn,
            name=getattr(fn, "__qualname__", getattr(fn, "__name__", "task")),
            param_names=tuple(names),
            varargs=varargs,
        )
        target: Parameter | None = None
        for key, value in options.items():
            if key == "target_direction":
                target = _target_direction(value, where)
                continue
            try:
                param = as_parameter(value)
            except ValueError as exc:
                raise TaskDefinitionError(f"{where}: {key}: {exc}") from None
            if param is not None:
                spec.params[key] = param
            elif key == "returns":
                spec.returns = _returns_count(value, where)
            elif key == "time_out":
                spec.time_out = float(value or 0)
            elif key == "priority":
                spec.priority = bool(value)
            elif key == "on_failure":
                spec.on_failure = _check_policy(value, where)
            elif key == "defaults":
                spec.defaults.update(value or {})
            elif key in _IGNORED_TASK_KEYWORDS:
                log.debug("%s: keyword %s accepted and ignored", where, key)
            else:
                raise TaskDefinitionError(
                    f"{where}: keyword {key}={value!r} is neither a task option nor a "
                    "parameter spec (IN, OUT, INOUT, FILE_IN, FILE_OUT, ...)"
                )
        if names and names[0] == "self" and "self" not in spec.params:
            # PyCOMPSs: a method's object is INOUT by default (its changes are kept).
            spec.params["self"] = target or INOUT
        _apply_options(spec, getattr(fn, _PENDING_ATTR, {}))
        return TaskFunction(spec)

    return decorate


def implement(source_class: str, method: str) -> Any:
    """``@implement(source_class="pkg.module" (or "pkg.module.Class"), method="name")`` above
    ``@task`` (and its ``@constraint``): this task is another implementation of that one. A
    call of the original may run either; the runtime picks, when the task is ready, the
    first implementation whose constraint fits the free resources: the ``@implement`` ones
    in declaration order (usually the specialised ones, a GPU version), then the original."""

    def decorate(target: Any) -> Any:
        if not isinstance(target, TaskFunction):
            raise TaskDefinitionError(
                f"@implement(source_class={source_class!r}, method={method!r}) must be "
                "placed above @task"
            )
        register_alternative(str(source_class), str(method), target.spec)
        return target

    return decorate


def _target_direction(value: Any, where: str) -> Parameter:
    """``target_direction=IN`` / ``INOUT`` (a parameter spec or a direction name)."""
    param = as_parameter(value)
    name = param.direction if param is not None else str(value).upper()
    if name == Direction.IN:
        return IN
    if name == Direction.INOUT:
        return INOUT
    raise TaskDefinitionError(f"{where}: target_direction must be IN or INOUT, not {value!r}")


def on_failure(management: str = "RETRY", **defaults: Any) -> Any:
    """``@on_failure(management=..., returns=<default>, <param>=<default>)`` above ``@task``.

    Defaults are used under IGNORE (and CANCEL_SUCCESSORS for the returned values): the
    failed task's returned values and OUT / INOUT parameters take them.
    """
    policy = _check_policy(management, "@on_failure")

    def decorate(fn: Any) -> Any:
        return _add_option(fn, "on_failure", (policy, defaults))

    return decorate


def _to_int(value: Any, what: str) -> int:
    try:
        return int(float(value))
    except (TypeError, ValueError):
        raise TaskDefinitionError(f"@constraint: {what}={value!r} is not a number") from None


def constraint(**kwargs: Any) -> Any:
    """``@constraint(computing_units=N, memory_size=GB, processors=[{...}])``.

    ``processors`` entries are ``{"processorType": "CPU"|"GPU", "computingUnits": N}``; GPU
    units are the GPUs the task needs. ``memory_size`` is in GB, as in PyCOMPSs.
    """
    cpus = _to_int(kwargs.get("computing_units", kwargs.get("computingUnits", 0)), "cpus")
    gpus = 0
    for proc in kwargs.get("processors") or ():
        units = _to_int(proc.get("computingUnits", proc.get("computing_units", 1)), "units")
        if str(proc.get("processorType", proc.get("processor_type", "CPU"))).upper() == "GPU":
            gpus += units
        else:
            cpus += units
    memory = kwargs.get("memory_size", kwargs.get("memorySize", 0)) or 0
    try:
        memory_mb = int(float(memory) * 1024)
    except (TypeError, ValueError):
        raise TaskDefinitionError(f"@constraint: memory_size={memory!r} is not a number") from None
    spec = Constraint(cpus=max(cpus, 1), memory_mb=memory_mb, gpus=gpus)

    def decorate(fn: Any) -> Any:
        return _add_option(fn, "constraint", spec)

    return decorate


def binary(binary: str = "", **kwargs: Any) -> Any:
    """``@binary(binary="cmd", args="{{x}} -o {{out}}", working_dir=..., fail_by_exit_value=)``.

    The task runs the program; without ``args`` the call's arguments are appended in order.
    With ``returns=1`` the task returns the exit code.
    """
    if not binary:
        raise TaskDefinitionError("@binary needs binary=")
    opts = {"binary": binary, **kwargs}

    def decorate(fn: Any) -> Any:
        return _add_option(fn, "binary", opts)

    return decorate


def container(engine: str = "", image: str = "", options: str = "") -> Any:
    """``@container(engine="DOCKER" | "SINGULARITY" | "UDOCKER", image=..., options=...)``
    with ``@binary`` / ``@mpi``: the program runs in the image (see
    :func:`workflows.runtime.execution.container_prefix` for the command lines)."""
    name = str(engine).upper()
    if name not in ENGINE_COMMANDS:
        raise TaskDefinitionError(
            f"@container: engine {engine!r} is not one of {', '.join(ENGINE_COMMANDS)}"
        )
    if not image:
        raise TaskDefinitionError("@container needs image=")
    opts = {"engine": name, "image": str(image), "options": str(options or "")}

    def decorate(fn: Any) -> Any:
        return _add_option(fn, "container", opts)

    return decorate


def mpi(binary: str = "", runner: str = "mpirun", processes: Any = 1, **kwargs: Any) -> Any:
    """``@mpi(runner="mpirun", binary=..., processes=N, processes_per_node=M, args=...)``."""
    if not binary:
        raise TaskDefinitionError("@mpi needs binary= (Python MPI tasks are not supported)")
    opts = {"binary": binary, "runner": runner, "processes": processes, **kwargs}

    def decorate(fn: Any) -> Any:
        return _add_option(fn, "mpi", opts)

    return decorate


def http(**kwargs: Any) -> Any:
    """``@http(service_name=, request="GET", resource="path/{{param}}", payload=...,
    payload_type="application/json", produces='{"k": "{{return_0}}"}')`` above ``@task``.

    The service's base URL comes from the runtime configuration (``http.services``). The
    older spelling ``method_type=`` / ``base_url=`` / ``json_payload=`` is accepted too.
    """
    if "service_name" not in kwargs and "base_url" not in kwargs:
        raise TaskDefinitionError("@http needs service_name= (or base_url=)")
    opts = dict(kwargs)
    if "method_type" in opts:
        opts.setdefault("request", opts.pop("method_type"))
    if "json_payload" in opts:
        opts.setdefault("payload", opts.pop("json_payload"))
    opts.setdefault("request", "GET")

    def decorate(fn: Any) -> Any:
        return _add_option(fn, "http", opts)

    return decorate
