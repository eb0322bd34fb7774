"""What the running commands (deploy, undeploy, workflows run, executions resume) share:
the workspace option, the service, Ctrl-C handling, the live progress display and the
final summary.

Progress is plain lines when stdout is not a terminal (CI logs, pipes), and a compact live
view (rich) on a terminal: finished steps scroll above a footer listing what runs now.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from typing import TYPE_CHECKING, Any

import typer

if TYPE_CHECKING:
    from orchestrator.engine.runner import EngineEvent
    from orchestrator.service import Outcome, Service

__all__ = [
    "KILL_ENV",
    "outcome_dict",
    "run_command",
    "Progress",
    "ANSIBLE_HELP",
    "WORKSPACE_HELP",
    "cancel_on_sigint",
    "exit_for",
    "make_service",
    "print_summary",
    "workspace_default",
]

WORKSPACE_HELP = "State directory (default: $TOSCA_WORKSPACE or ./.tosca)."
# TEST-ONLY fault injection: SIGKILL this process after N committed state transitions.
KILL_ENV = "TOSCA_TEST_KILL_AFTER_TRANSITIONS"

ANSIBLE_HELP = (
    "Playbook executor: 'warm' (warm Ansible processes, fastest) or 'runner' "
    "(ansible-runner, one run per batch, artifacts kept). Default: $TOSCA_ANSIBLE or warm."
)


def workspace_default() -> str:
    return os.environ.get("TOSCA_WORKSPACE", ".tosca")


def _configure_logging(debug: bool) -> None:
    """Library logs go to stderr only with TOSCA_DEBUG; otherwise progress, summaries and
    ``tosca logs`` carry what users need (operation output is in the state store)."""
    # Deferred: logging set-up only for commands that run something (CLI start-up).
    import logging

    root = logging.getLogger()
    if debug:
        logging.basicConfig(level=logging.DEBUG, format="%(levelname)s %(name)s: %(message)s")
    elif not root.handlers:
        root.addHandler(logging.NullHandler())


def make_service(workspace: str | None, *, retries: int = 0, ansible: str | None = None) -> Service:
    """The service for a command; ``retries`` extra attempts per failed operation,
    ``ansible`` the playbook executor (``--ansible``, else ``$TOSCA_ANSIBLE``, else warm)."""
    # Deferred: the service pulls in tosca-parser and the engine (CLI start-up).
    from orchestrator.engine.policies import EngineConfig, RetryPolicy
    from orchestrator.service import Service

    _configure_logging(bool(os.environ.get("TOSCA_DEBUG")))
    kill = os.environ.get(KILL_ENV)
    return Service(
        workspace or workspace_default(),
        config=EngineConfig(retry=RetryPolicy(max_attempts=1 + max(0, retries))),
        debug=bool(os.environ.get("TOSCA_DEBUG")),
        kill_after_transitions=int(kill) if kill and kill.isdigit() else None,
        ansible=ansible,
    )


@contextmanager
def cancel_on_sigint(quiet: bool = False) -> Iterator[threading.Event]:
    """Ctrl-C (and SIGTERM) set the returned event: the engine cancels running operations
    and jobs and records a consistent state. A second Ctrl-C stops at once (state is then
    finished by ``--resume``)."""
    cancel = threading.Event()
    if threading.current_thread() is not threading.main_thread():
        yield cancel
        return

    def handler(signum: int, frame: Any) -> None:
        if cancel.is_set():
            signal.signal(signal.SIGINT, signal.default_int_handler)
            raise KeyboardInterrupt
        cancel.set()
        if not quiet:
            typer.echo(
                "\ncancelling: stopping running operations and jobs (Ctrl-C again to stop at once)",
                err=True,
            )

    old_int = signal.signal(signal.SIGINT, handler)
    old_term = signal.signal(signal.SIGTERM, handler)
    try:
        yield cancel
    finally:
        signal.signal(signal.SIGINT, old_int)
        signal.signal(signal.SIGTERM, old_term)


_MARK = {
    "succeeded": "ok",
    "failed": "FAILED",
    "cancelled": "cancelled",
    "not_run": "not run",
    "skipped": "done before",
    "retrying": "retry",
}


class Progress:
    """An ``on_event`` callback rendering engine events (thread-safe)."""

    def __init__(self, title: str, *, live: bool | None = None, quiet: bool = False) -> None:
        self.title = title
        self.quiet = quiet
        self.live_mode = sys.stdout.isatty() if live is None else live
        self.t0 = time.monotonic()
        self.running: dict[str, float] = {}
        self.counts: dict[str, int] = {}
        self.total = 0
        self._lock = threading.Lock()
        self._live: Any = None
        self._last_duration: float | None = None

    def __enter__(self) -> Progress:
        if self.live_mode and not self.quiet:
            try:
                # Deferred: rich only when a live display is drawn (CLI start-up).
                from rich.console import Console
                from rich.live import Live

                self._live = Live(
                    console=Console(),
                    refresh_per_second=8,
                    transient=True,
                    get_renderable=self._footer,
                )
                self._live.start()
            except ImportError:
                self.live_mode = False
        return self

    def __exit__(self, *exc: object) -> None:
        if self._live is not None:
            self._live.stop()
            self._live = None

    def __call__(self, event: EngineEvent) -> None:
        with self._lock:
            self._update(event)
            line = self._line(event)
            if line is None or self.quiet:
                return
            if self._live is not None:
                self._live.console.print(line, highlight=False, markup=False)
            else:
                typer.echo(line)

    def _update(self, event: EngineEvent) -> None:
        sid = event.step_id
        if sid is None:
            if event.status == "running" and event.message:
                # "N steps"
                with suppress(IndexError, ValueError):
                    self.total = int(event.message.split()[0])
            return
        if event.status == "running":
            self.running.setdefault(sid, time.monotonic())
        elif event.status in _MARK and event.status != "retrying":
            started = self.running.pop(sid, None)
            self._last_duration = time.monotonic() - started if started is not None else None
            self.counts[event.status] = self.counts.get(event.status, 0) + 1

    def _line(self, event: EngineEvent) -> str | None:
        clock = f"[{time.monotonic() - self.t0:7.2f}s]"
        if event.step_id is None:
            if event.status == "running":
                return f"{clock} {self.title}: {event.message}"
            if event.status == "cancelling":
                return f"{clock} cancelling: {event.message}"
            return None  # the final status is printed by the summary
        if event.status == "running":
            if self.live_mode:
                return None  # shown in the footer instead
            return f"{clock} {event.step_id} started {event.message}".rstrip()
        if event.status in ("job", "output"):  # job status changes; the job's own output
            return f"{clock} {event.step_id} {event.message}"
        mark = _MARK.get(event.status)
        if mark is None:
            return None
        took = self._last_duration
        duration = f" ({took:.2f}s)" if took is not None and event.status != "skipped" else ""
        detail = (
            f": {event.message}" if event.message and event.status in ("failed", "retrying") else ""
        )
        return f"{clock} {event.step_id} {mark}{duration}{detail}"

    def _footer(self) -> Any:
        # Deferred: rich only when a live display is drawn (CLI start-up).
        from rich.text import Text

        # Called from rich's refresh thread: work on copies (a dict copy is atomic).
        counts, running = dict(self.counts), dict(self.running)
        done = sum(counts.values())
        now = time.monotonic()
        head = f"{self.title}: {done}/{self.total or '?'} steps"
        if counts.get("failed"):
            head += f", {counts['failed']} failed"
        lines = [head] + [
            f"  running {sid} {now - t:5.1f}s"
            for sid, t in sorted(running.items(), key=lambda kv: kv[1])[:10]
        ]
        if len(running) > 10:
            lines.append(f"  ... and {len(running) - 10} more")
        return Text("\n".join(lines))


def print_summary(outcome: Outcome, *, verb: str) -> None:
    """The final lines: outcome, counts, failed steps with their output tail, outputs."""
    result = outcome.result
    if result is None:
        typer.echo(outcome.message or f"{verb}: {outcome.status}")
        return
    counts = ", ".join(
        f"{result.count(s)} {s.replace('_', ' ')}"
        for s in ("succeeded", "failed", "not_run", "cancelled")
        if result.count(s)
    )
    typer.echo(
        f"{verb} {outcome.deployment_id}: {result.status} in {result.duration:.2f}s "
        f"(execution {result.execution_id}; {counts or 'no steps'})"
    )
    for failed in result.failed:
        where = f"node {failed.node}, operation {failed.operation}" if failed.node else ""
        typer.echo(f"  failed: {failed.step_id} ({where}): {failed.error}", err=True)
        tail = (failed.output_tail or "").strip()
        if tail and tail != (failed.error or "").strip():
            for line in tail.splitlines()[-10:]:
                typer.echo(f"    | {line}", err=True)
    if result.status == "cancelled":
        typer.echo(
            "  cancelled: finished steps are kept; 'tosca deploy --resume' goes on", err=True
        )
    elif result.status == "failed":
        typer.echo(f"  logs: tosca logs {result.execution_id}", err=True)
    for name, value in outcome.outputs.items():
        typer.echo(f"  output {name} = {value}")


def exit_for(outcome: Outcome) -> None:
    """Exit 0 on success, 3 on failure, 130 when cancelled."""
    if outcome.ok:
        return
    raise typer.Exit(130 if outcome.status == "cancelled" else 3)


def run_command(
    title: str,
    verb: str,
    action: Callable[[Progress, threading.Event], Outcome],
    *,
    quiet: bool = False,
    json_output: bool = False,
) -> Outcome:
    """Run ``action`` with progress, Ctrl-C handling and the summary; exits on failure."""
    # Deferred: cli.common imports this module (it builds the service).
    from orchestrator.cli.common import emit_json

    with cancel_on_sigint(quiet) as cancel, Progress(title, quiet=quiet or json_output) as prog:
        outcome = action(prog, cancel)
    if json_output:
        emit_json(outcome_dict(outcome))
    else:
        print_summary(outcome, verb=verb)
    exit_for(outcome)
    return outcome


def outcome_dict(outcome: Outcome) -> dict[str, Any]:
    result = outcome.result
    data: dict[str, Any] = {
        "deployment": outcome.deployment_id,
        "execution": outcome.execution_id,
        "status": outcome.status,
        "outputs": outcome.outputs,
    }
    if outcome.message:
        data["message"] = outcome.message
    if result is not None:
        data["duration"] = round(result.duration, 3)
        data["steps"] = {sid: o.status for sid, o in result.outcomes.items()}
        data["failed"] = [
            {
                "step": o.step_id,
                "node": o.node,
                "operation": o.operation,
                "error": o.error,
                "output_tail": o.output_tail,
            }
            for o in result.failed
        ]
    return data
