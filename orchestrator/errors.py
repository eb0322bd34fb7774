"""One exception tree for the whole toolkit.

Every error a user can meet carries *where* it happened (file:line, node, operation) so the
CLI prints one clear line instead of a traceback. Foreign errors (tosca-parser, ansible-runner,
httpx, Slurm commands) are mapped to these at the edge with ``raise ... from``.

    ToscaError                      base; ``exit_code`` drives the CLI exit status
    ├── UsageError                  bad command line / bad input values (exit 2)
    ├── ValidationError             invalid template; holds one Problem per finding (exit 1)
    ├── PlanError                   a workflow cannot be turned into a plan (exit 1)
    ├── ExecutionError              a step failed at run time (exit 3)
    │   ├── OperationFailed         an operation's implementation reported failure
    │   ├── JobError                job protocol: submit/run/cancel failed, unknown status
    │   └── OperationTimeout        an operation or job exceeded its time limit
    ├── SchedulerError              Slurm (CLI, slurmrestd, pyslurm) could not do what we asked
    ├── ServiceError                an HTTP service (DLS, image creation, @http) misbehaved
    └── StateError                  the state store is missing, locked or inconsistent
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Location:
    """Where a problem is: any part may be unknown."""

    file: str | None = None
    line: int | None = None
    column: int | None = None
    node: str | None = None
    operation: str | None = None
    field: str | None = None

    def __str__(self) -> str:
        parts: list[str] = []
        if self.file:
            where = self.file
            if self.line is not None:
                where += f":{self.line}"
                if self.column is not None:
                    where += f":{self.column}"
            parts.append(where)
        if self.node:
            parts.append(f"node '{self.node}'")
        if self.operation:
            parts.append(f"operation '{self.operation}'")
        if self.field:
            parts.append(f"field '{self.field}'")
        return ", ".join(parts)


class ToscaError(Exception):
    """Base of every error the toolkit raises on purpose."""

    exit_code = 1

    def __init__(self, message: str, location: Location | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.location = location or Location()

    def __str__(self) -> str:
        where = str(self.location)
        return f"{where}: {self.message}" if where else self.message


class UsageError(ToscaError):
    """The command line or an input value is wrong."""

    exit_code = 2


@dataclass(frozen=True)
class Problem:
    """One validation finding, printable as a single line."""

    message: str
    location: Location = Location()

    def __str__(self) -> str:
        where = str(self.location)
        return f"{where}: {self.message}" if where else self.message


class ValidationError(ToscaError):
    """The template is invalid; ``problems`` lists every finding, one line each."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        first = problems[0] if problems else Problem("invalid template")
        super().__init__(first.message, first.location)

    def __str__(self) -> str:
        return "\n".join(str(p) for p in self.problems)


class PlanError(ToscaError):
    """A workflow cannot be turned into a plan (cycle, unknown step...)."""


class ExecutionError(ToscaError):
    """A step failed at run time."""

    exit_code = 3


class OperationFailed(ExecutionError):
    """An operation's implementation reported failure; ``output_tail`` holds its last lines."""

    def __init__(self, message: str, location: Location | None = None, output_tail: str = ""):
        super().__init__(message, location)
        self.output_tail = output_tail


class JobError(ExecutionError):
    """The job protocol (submit / run / cancel) failed or returned an unknown status."""


class OperationTimeout(ExecutionError):
    """An operation or job exceeded its time limit."""


class SchedulerError(ToscaError):
    """Slurm could not do what was asked (submit, query, cancel)."""


class ServiceError(ToscaError):
    """An HTTP service (DLS, image creation, @http task) failed or answered nonsense."""


class StateError(ToscaError):
    """The state store is missing, locked or inconsistent."""


class NotFound(StateError):
    """No such deployment, workflow or execution, or none the caller may see."""


class Forbidden(ToscaError):
    """The caller is known but may not do this (trigger a workflow not exposed to them)."""

    exit_code = 2
