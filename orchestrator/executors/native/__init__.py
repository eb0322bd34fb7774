"""Native executor: operations implemented as Python functions, without starting Ansible.

An implementation ``native://package.module:function`` names a function

    def fn(ctx: NativeContext, inputs: dict[str, Any]) -> dict[str, Any]

returning the operation's outputs (JSON-able) and raising ``orchestrator.errors`` on failure.
It is the path for latency-critical steps (Slurm submit, HTTP calls): a call costs
microseconds, not Ansible's ~1 s start-up.

Each request of a batch runs in its own thread. A function should check ``ctx.cancel``
(a ``threading.Event``) in long waits: it is set on cancel and on timeout. Python cannot
kill a thread, so a function that ignores it keeps running in the background, but its
result is reported CANCELLED / TIMED_OUT at once and later discarded.
"""

from __future__ import annotations

import importlib
import json
import logging
import threading
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from orchestrator.errors import ToscaError
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
from orchestrator.executors.secrets import Secret, collect_secrets, redact, resolve_secret

__all__ = ["NATIVE_PREFIX", "NativeContext", "NativeExecutor", "NativeFunction", "load_native"]

NATIVE_PREFIX = "native://"
logger = logging.getLogger(__name__)

NativeFunction = Callable[["NativeContext", dict[str, Any]], dict[str, Any]]
SecretResolver = Callable[[str], str]

# How long a cancelled / timed-out function gets to return on its own before it is reported.
_GRACE_S = 2.0


@dataclass
class NativeContext:
    """What a native implementation sees besides its inputs.

    ``context`` is ``OperationRequest.context``: node_properties, requirements ->
    {node, type, properties}, attributes, deployment_id, execution_id, workspace.
    """

    step_id: str
    node: str
    interface: str
    operation: str
    context: dict[str, Any]
    workdir: Path
    cancel: threading.Event = field(default_factory=threading.Event)
    debug: bool = False
    _resolver: SecretResolver | None = field(default=None, repr=False)
    _secrets: set[str] = field(default_factory=set, repr=False)
    _lines: list[str] = field(default_factory=list, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def secret(self, path: str) -> str:
        """Resolve a secret reference; its value is redacted from every log from now on."""
        if self._resolver is not None:
            value = self._resolver(path)
        else:
            value = resolve_secret(path, self.context.get("workspace"))
        with self._lock:
            self._secrets.add(str(value))
        return Secret(value)

    def hide(self, value: str) -> None:
        """Redact ``value`` from every log from now on (a credential that is not a Secret)."""
        if value:
            with self._lock:
                self._secrets.add(str(value))

    def log(self, level: int | str, message: str) -> None:
        """Record a line in the operation's log (redacted) and the Python log."""
        lvl = logging.getLevelName(level.upper()) if isinstance(level, str) else level
        if not isinstance(lvl, int):
            lvl = logging.INFO
        text = self.redact(message)
        with self._lock:
            self._lines.append(f"{logging.getLevelName(lvl)} {text}")
        logger.log(lvl, "[%s] %s", self.step_id, text)

    def redact(self, text: str) -> str:
        """``text`` with every secret seen so far hidden (left as is in debug mode)."""
        if self.debug:
            return text
        with self._lock:
            secrets = set(self._secrets)
        return redact(text, secrets)

    def should_stop(self) -> bool:
        """True once cancel or timeout was requested."""
        return self.cancel.is_set()

    @property
    def environment(self) -> dict[str, Any]:
        """Properties of the node's ``environment`` requirement target ({} if none)."""
        req = self.context.get("requirements", {}).get("environment") or {}
        props = req.get("properties") if isinstance(req, dict) else None
        return dict(props or {})

    @property
    def log_text(self) -> str:
        with self._lock:
            return "\n".join(self._lines)


def load_native(artifact: str) -> NativeFunction:
    """Import the function named by ``native://package.module:function``.

    Raises ``ValueError`` with a clear message if the reference is malformed or missing.
    """
    if not artifact.startswith(NATIVE_PREFIX):
        raise ValueError(f"not a native implementation: {artifact!r}")
    ref = artifact[len(NATIVE_PREFIX) :]
    module_name, sep, func_name = ref.partition(":")
    if not sep or not module_name or not func_name:
        raise ValueError(f"native implementation {artifact!r} must be native://module:function")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ValueError(
            f"native implementation {artifact!r}: cannot import {module_name}: {exc}"
        ) from exc
    func = getattr(module, func_name, None)
    if not callable(func):
        raise ValueError(f"native implementation {artifact!r}: {module_name} has no {func_name}()")
    return func  # type: ignore[no-any-return]


class _Run:
    """One request running in its own thread."""

    def __init__(self, request: OperationRequest, ctx: NativeContext) -> None:
        self.request = request
        self.ctx = ctx
        self.done = threading.Event()
        self.outputs: dict[str, Any] = {}
        self.error: str | None = None
        self.started_at = 0.0
        self.ended_at = 0.0
        self.thread = threading.Thread(
            target=self._main, name=f"native:{request.step_id}", daemon=True
        )

    def _main(self) -> None:
        self.started_at = time.time()
        try:
            func = load_native(self.request.artifact)
            result = func(self.ctx, dict(self.request.inputs))
            self.outputs = _check_outputs(result)
        except ToscaError as exc:
            self.error = str(exc)
            tail = getattr(exc, "output_tail", "")
            if tail:
                self.ctx.log(logging.ERROR, tail)
        except ValueError as exc:
            self.error = str(exc)
        except Exception as exc:  # a bug in the implementation: keep the traceback in its log
            self.error = f"{type(exc).__name__}: {exc}"
            self.ctx.log(logging.ERROR, traceback.format_exc())
        finally:
            self.ended_at = time.time()
            self.done.set()


def _check_outputs(result: Any) -> dict[str, Any]:
    if result is None:
        return {}
    if not isinstance(result, dict):
        raise ValueError(f"native implementation returned {type(result).__name__}, not a dict")
    try:
        json.dumps(result)
    except (TypeError, ValueError) as exc:
        raise ValueError(
            f"native implementation returned outputs that are not JSON: {exc}"
        ) from exc
    return result


class NativeExecutor:
    """Executor for ``native://`` implementations (see the module docstring).

    ``secret_resolver`` maps a secret reference to its value (default: ``resolve_secret``
    with the request's workspace). ``debug`` leaves secrets in clear in logs.
    """

    name = "native"

    def close(self) -> None:
        """Nothing to release: operations run in threads of the calling process."""

    def __init__(
        self,
        secret_resolver: SecretResolver | None = None,
        debug: bool = False,
        poll_interval: float = 0.05,
    ) -> None:
        self._resolver = secret_resolver
        self._debug = debug
        self._poll = poll_interval

    def _context(self, request: OperationRequest) -> NativeContext:
        workdir = Path(request.workdir) if request.workdir else Path.cwd()
        ctx = NativeContext(
            step_id=request.step_id,
            node=request.node,
            interface=request.interface,
            operation=request.operation,
            context=dict(request.context),
            workdir=workdir,
            debug=self._debug,
            _resolver=self._resolver,
        )
        ctx._secrets |= collect_secrets(request.inputs) | collect_secrets(request.context)
        return ctx

    def run_batch(
        self,
        requests: Sequence[OperationRequest],
        on_started: StartedCallback | None = None,
        on_finished: FinishedCallback | None = None,
        cancel: threading.Event | None = None,
    ) -> list[OperationResult]:
        runs = [_Run(r, self._context(r)) for r in requests]
        results: dict[int, OperationResult] = {}
        deadlines: dict[int, float] = {}
        for i, run in enumerate(runs):
            if on_started:
                on_started(run.request.step_id)
            if run.request.timeout is not None:
                deadlines[i] = time.monotonic() + run.request.timeout
            run.thread.start()
        stopping: dict[int, tuple[str, float]] = {}  # index -> (status, grace deadline)
        while len(results) < len(runs):
            now = time.monotonic()
            for i, run in enumerate(runs):
                if i in results:
                    continue
                if run.done.is_set():
                    status = stopping[i][0] if i in stopping and run.error else None
                    results[i] = self._finish(run, status, on_finished)
                    continue
                if i not in stopping:
                    if cancel is not None and cancel.is_set():
                        stopping[i] = (CANCELLED, now + _GRACE_S)
                        run.ctx.cancel.set()
                    elif i in deadlines and now >= deadlines[i]:
                        stopping[i] = (TIMED_OUT, now + _GRACE_S)
                        run.ctx.cancel.set()
                elif now >= stopping[i][1]:
                    results[i] = self._finish(run, stopping[i][0], on_finished)
            if len(results) < len(runs):
                self._wait_any(runs, results)
        return [results[i] for i in range(len(runs))]

    def _wait_any(self, runs: list[_Run], results: dict[int, OperationResult]) -> None:
        pending = [r for i, r in enumerate(runs) if i not in results]
        # Waiting on the first pending run bounds latency by the poll interval for the others.
        pending[0].done.wait(self._poll)

    def _finish(
        self, run: _Run, forced: str | None, on_finished: FinishedCallback | None
    ) -> OperationResult:
        ctx = run.ctx
        outputs: dict[str, Any] = {}
        error: str | None = None
        if forced is not None:
            what = "cancelled" if forced == CANCELLED else f"timed out after {run.request.timeout}s"
            message = f"operation {what}"
            if run.error:
                message += f" ({ctx.redact(run.error)})"
            status, error = forced, message
        elif run.error is not None:
            status, error = FAILED, ctx.redact(run.error)
        else:
            status, outputs = SUCCEEDED, _redact_outputs(run.outputs, ctx)
        result = OperationResult(
            step_id=run.request.step_id,
            status=status,
            outputs=outputs,
            started_at=run.started_at or time.time(),
            ended_at=run.ended_at or time.time(),
            log=ctx.log_text,
            error=error,
        )
        if on_finished:
            on_finished(result)
        return result


def _redact_outputs(outputs: dict[str, Any], ctx: NativeContext) -> dict[str, Any]:
    """Outputs with secret text hidden: outputs land in state and must not hold secrets."""
    if ctx.debug or not ctx._secrets:
        return outputs
    return json.loads(ctx.redact(json.dumps(outputs)))  # type: ignore[no-any-return]
