"""How one attempt of a task body runs, independent of where (thread, worker process, Slurm
job). Backends call :func:`run_python` / :func:`run_command` and get an :class:`Outcome`.
"""

from __future__ import annotations

import contextlib
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import time
import traceback
from collections.abc import Callable
from typing import Any

from workflows.runtime.context import task_context
from workflows.runtime.exceptions import COMPSsException, TaskDefinitionError
from workflows.runtime.model import Outcome, TaskSpec

__all__ = [
    "HOST",
    "failure",
    "bind_arguments",
    "build_command",
    "container_prefix",
    "gpu_environment",
    "kill_process_group",
    "render_template",
    "run_command",
    "run_python",
    "shape_values",
]

HOST = socket.gethostname()
_TEMPLATE = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")


def failure(error: str, started: float, **extra: Any) -> Outcome:
    """A failed attempt on this host, ending now (``extra``: timed_out, detail, ...)."""
    return Outcome(ok=False, error=error, host=HOST, started=started, ended=time.time(), **extra)


def shape_values(spec: TaskSpec, result: Any) -> tuple[Any, ...]:
    """Split a task's return value into the ``returns`` declared values."""
    n = spec.returns
    if n == 0:
        return ()
    if n == 1:
        return (result,)
    if not isinstance(result, (tuple, list)) or len(result) != n:
        raise TaskDefinitionError(
            f"task {spec.name} declares returns={n} but returned {type(result).__name__}"
            + (f" of length {len(result)}" if isinstance(result, (tuple, list)) else "")
        )
    return tuple(result)


def bind_arguments(spec: TaskSpec, args: tuple, kwargs: dict) -> dict[str, Any]:
    """Map a call's arguments to parameter names (``*args`` items collected in a list)."""
    bound: dict[str, Any] = {}
    for i, value in enumerate(args):
        name = spec.arg_name(i)
        if i >= len(spec.param_names) and spec.varargs:
            bound.setdefault(name, []).append(value)
        else:
            bound[name] = value
    bound.update(kwargs)
    return bound


def _exception_outcome(exc: BaseException, started: float) -> Outcome:
    return Outcome(
        ok=False,
        # A COMPSsException is re-raised at the group barrier with its own message.
        error=str(exc) if isinstance(exc, COMPSsException) else f"{type(exc).__name__}: {exc}",
        detail="".join(traceback.format_exception(exc)),
        compss_exception=isinstance(exc, COMPSsException),
        host=HOST,
        started=started,
        ended=time.time(),
    )


def run_python(spec: TaskSpec, args: tuple, kwargs: dict, inout_names: tuple[str, ...]) -> Outcome:
    """Call the task function; never raises (a failure is an Outcome with ok=False)."""
    started = time.time()
    if spec.options.get("container"):
        return failure(
            f"@container on the Python task {spec.name} is not supported yet (only on "
            "@binary / @mpi tasks)",
            started,
        )
    try:
        with task_context():
            result = spec.fn(*args, **kwargs)
        values = shape_values(spec, result)
    except (Exception, SystemExit) as exc:  # every task failure is data, sys.exit() too
        return _exception_outcome(exc, started)
    inout: dict[str, Any] = {}
    if inout_names:
        bound = bind_arguments(spec, args, kwargs)
        inout = {name: bound[name] for name in inout_names if name in bound}
    return Outcome(
        ok=True, values=values, inout=inout, host=HOST, started=started, ended=time.time()
    )


def render_template(
    template: str, values: dict[str, Any], quote: Callable[[Any], str] = str
) -> str:
    """Replace ``{{name}}`` by ``quote(values[name])``; an unknown name is an error."""

    def sub(match: re.Match[str]) -> str:
        key = match.group(1)
        if key not in values:
            raise TaskDefinitionError(f"template {template!r} refers to unknown {{{{{key}}}}}")
        return quote(values[key])

    return _TEMPLATE.sub(sub, template)


def _argv_values(spec: TaskSpec, args: tuple, kwargs: dict) -> list[str]:
    """The call's values as arguments, in order: a parameter's ``Prefix`` glued on, and
    standard-stream parameters left out (they are redirections, see :func:`stdio_files`)."""
    out: list[str] = []
    for name, value in bind_arguments(spec, args, kwargs).items():
        param = spec.params.get(name) if spec.params else None
        if param is not None and param.stream:
            continue
        prefix = param.prefix if param is not None else ""
        if isinstance(value, (list, tuple)):
            out.extend(prefix + str(v) for v in value)
        elif value is not None:
            out.append(prefix + str(value))
    return out


def stdio_files(spec: TaskSpec, args: tuple, kwargs: dict) -> dict[str, tuple[str, str]]:
    """``{"STDIN" | "STDOUT" | "STDERR": (path, open mode)}`` from the stream parameters: stdin
    read, an OUT stream truncated, an INOUT (or CONCURRENT / COMMUTATIVE) one appended to."""
    streams: dict[str, tuple[str, str]] = {}
    if not spec.params:
        return streams
    for name, value in bind_arguments(spec, args, kwargs).items():
        param = spec.params.get(name)
        if param is None or not param.stream or value is None:
            continue
        if param.stream in streams:
            raise TaskDefinitionError(f"{spec.name}: two parameters are {param.stream}")
        writing = "wb" if param.direction == "OUT" else "ab"
        streams[param.stream] = (os.fspath(value), "rb" if param.stream == "STDIN" else writing)
    return streams


ENGINE_COMMANDS = {"DOCKER": "docker", "SINGULARITY": "singularity", "UDOCKER": "udocker"}


def container_prefix(spec: TaskSpec) -> list[str]:
    """What runs a ``@container`` task's program in its image, before the program's argv:

    - DOCKER: ``docker run -i --rm -v CWD:CWD -w CWD OPTIONS IMAGE`` (the working directory
      mounted at the same path, so file arguments resolve inside);
    - SINGULARITY: ``singularity exec OPTIONS IMAGE`` (the host's file system is visible);
    - UDOCKER: ``udocker run -v CWD:CWD -w CWD OPTIONS IMAGE``.

    Empty for a task without ``@container``."""
    box = spec.options.get("container")
    if not box:
        return []
    engine = box["engine"]
    command = ENGINE_COMMANDS[engine]
    options = shlex.split(box.get("options") or "")
    cwd = os.path.abspath(spec.options.get("working_dir") or os.getcwd())
    if engine == "DOCKER":
        return [command, "run", "-i", "--rm", "-v", f"{cwd}:{cwd}", "-w", cwd, *options,
                box["image"]]  # fmt: skip
    if engine == "SINGULARITY":
        return [command, "exec", *options, box["image"]]
    return [command, "run", "-v", f"{cwd}:{cwd}", "-w", cwd, *options, box["image"]]


def build_command(spec: TaskSpec, args: tuple, kwargs: dict) -> list[str]:
    """argv of a ``@binary`` / ``@mpi`` task (never through a shell); with ``@container``,
    the program runs in the image (each MPI rank in its own container, as with
    ``mpirun -np N singularity exec IMAGE prog``)."""
    opts = spec.options
    if "args" in opts and opts["args"]:
        params = [str(v) for v in shlex.split(str(opts["args"]))]
        bound = bind_arguments(spec, args, kwargs)
        argv_tail = [render_template(p, bound) for p in params]
    else:
        argv_tail = _argv_values(spec, args, kwargs)
    program = container_prefix(spec) + shlex.split(str(opts["binary"]))
    if spec.kind == "mpi":
        runner = str(opts.get("runner", "mpirun"))
        flag = "-n" if os.path.basename(runner) == "srun" else "-np"
        prefix = [runner, flag, str(int(opts.get("processes", 1)))]
        ppn = opts.get("processes_per_node")
        if ppn and os.path.basename(runner) != "srun":
            prefix += ["--map-by", f"ppr:{int(ppn)}:node"]
        elif ppn:
            prefix += [f"--ntasks-per-node={int(ppn)}"]
        prefix += shlex.split(str(opts.get("runner_flags", "")))
        return prefix + program + argv_tail
    return program + argv_tail


def gpu_environment(gpu_ids: list[str] | tuple[str, ...]) -> dict[str, str]:
    """Environment a GPU task gets (the variables COMPSs exports)."""
    ids = ",".join(gpu_ids)
    return {"CUDA_VISIBLE_DEVICES": ids, "COMPSS_BINDED_GPUS": ids, "GPU_DEVICE_ORDINAL": ids}


def kill_process_group(proc: subprocess.Popen[Any]) -> None:
    """SIGKILL a process started with ``start_new_session=True`` and all it spawned; reap it."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):  # SIGKILL cannot be ignored
        proc.wait(timeout=10)


def run_command(
    spec: TaskSpec,
    args: tuple,
    kwargs: dict,
    *,
    env: dict[str, str] | None = None,
    timeout: float = 0.0,
    on_start: Callable[[subprocess.Popen[bytes]], None] | None = None,
    cancelled: Callable[[], bool] = lambda: False,
) -> Outcome:
    """Run a ``@binary`` / ``@mpi`` task's program in its own process group.

    On ``timeout`` the whole group is killed and the outcome says ``timed_out``.
    """
    started = time.time()
    try:
        argv = build_command(spec, args, kwargs)
    except Exception as exc:  # noqa: BLE001
        return _exception_outcome(exc, started)
    box = spec.options.get("container")
    if box and shutil.which(ENGINE_COMMANDS[box["engine"]]) is None:
        return failure(
            f"@container: the {box['engine']} engine ('{ENGINE_COMMANDS[box['engine']]}') "
            "is not on PATH here",
            started,
        )
    workdir = spec.options.get("working_dir") or None
    with contextlib.ExitStack() as files:
        try:
            redirect = {
                stream.lower(): files.enter_context(open(path, mode))  # noqa: SIM115
                for stream, (path, mode) in stdio_files(spec, args, kwargs).items()
            }
        except OSError as exc:
            return failure(f"cannot open {exc.filename}: {exc.strerror or exc}", started)
        except TaskDefinitionError as exc:
            return _exception_outcome(exc, started)
        try:
            proc = subprocess.Popen(
                argv, cwd=workdir, env={**os.environ, **(env or {})}, start_new_session=True,
                stdin=redirect.get("stdin"), stdout=redirect.get("stdout"),
                stderr=redirect.get("stderr"),
            )  # fmt: skip
        except OSError as exc:
            return failure(f"cannot start {argv[0]!r}: {exc.strerror or exc}", started)
    if on_start:
        on_start(proc)
    try:
        code = proc.wait(timeout=timeout or None)
    except subprocess.TimeoutExpired:
        kill_process_group(proc)
        return failure(
            f"time_out of {timeout:g} s expired; {argv[0]} killed", started, timed_out=True
        )
    ended = time.time()
    # Anything the program left running in its group goes with it.
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    if cancelled():
        return Outcome(
            ok=False, cancelled=True, error="cancelled", host=HOST, started=started, ended=ended
        )
    fail_by_exit = spec.options.get("fail_by_exit_value", True)
    if code != 0 and fail_by_exit not in (False, "false", "False"):
        return Outcome(
            ok=False,
            error=f"{' '.join(argv)} exited with {code}",
            host=HOST,
            started=started,
            ended=ended,
        )
    values: tuple[Any, ...] = (code,) * min(spec.returns, 1)
    if spec.returns > 1:
        values = (code,) + (None,) * (spec.returns - 1)
    return Outcome(ok=True, values=values, host=HOST, started=started, ended=ended)
