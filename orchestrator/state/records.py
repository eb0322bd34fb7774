"""What the state store returns: one frozen record per row kind."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass, fields
from typing import Any, TypeVar

__all__ = [
    "AttemptEnd",
    "AttemptRecord",
    "DeploymentRecord",
    "EventRecord",
    "ExecutionRecord",
    "LogRecord",
    "NodeRecord",
    "StepRecord",
    "from_row",
]


@dataclass(frozen=True)
class DeploymentRecord:
    id: str
    template: str
    inputs: dict[str, Any]
    status: str
    outputs: dict[str, Any]
    created_at: float
    updated_at: float


@dataclass(frozen=True)
class NodeRecord:
    name: str
    type: str
    state: str
    attributes: dict[str, Any]


@dataclass(frozen=True)
class ExecutionRecord:
    id: str
    deployment_id: str
    workflow: str
    status: str
    inputs: dict[str, Any]
    urgency: str | None
    outputs: dict[str, Any]
    error: str | None
    cancel_requested: bool
    owner_pid: int | None
    heartbeat_at: float | None
    created_at: float
    started_at: float | None
    ended_at: float | None


@dataclass(frozen=True)
class StepRecord:
    execution_id: str
    step_id: str
    seq: int
    node: str | None
    interface: str | None
    operation: str | None
    activity: str
    status: str
    attempts: int
    job_id: str | None
    outputs: dict[str, Any]
    error: str | None
    started_at: float | None
    ended_at: float | None


@dataclass(frozen=True)
class AttemptRecord:
    execution_id: str
    step_id: str
    number: int
    status: str
    token: str
    job_id: str | None
    started_at: float
    ended_at: float | None
    outputs: dict[str, Any]
    log: str
    error: str | None


@dataclass(frozen=True)
class EventRecord:
    id: int
    execution_id: str | None
    ts: float
    kind: str
    subject: str
    status: str
    detail: str | None


@dataclass(frozen=True)
class LogRecord:
    id: int
    execution_id: str | None
    ts: float
    level: str
    step_id: str | None
    content: str


def _dumps(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)


def _loads(text: str | None) -> Any:
    return json.loads(text) if text else {}


@dataclass(frozen=True)
class AttemptEnd:
    """How one attempt ended, as ``Store.finish_attempt`` records it (in one transaction).

    ``step_status`` is the step's new status (default: ``status``); ``attributes`` is
    ``(node, {name: value})`` to merge into node attributes; ``node_state`` is
    ``(node, state)`` to set. Times default to now / the attempt's start."""

    status: str
    outputs: dict[str, Any] | None = None
    log: str = ""
    error: str | None = None
    started_at: float | None = None
    ended_at: float | None = None
    step_status: str | None = None
    attributes: tuple[str, dict[str, Any]] | None = None
    node_state: tuple[str, str] | None = None


_Record = TypeVar("_Record")
# Columns stored as JSON text; every other column maps to its field as SQLite returns it.
_JSON_COLUMNS = frozenset({"inputs", "outputs"})


def from_row(cls: type[_Record], row: sqlite3.Row) -> _Record:
    """The record ``cls`` from a row whose columns include one per field, by name: JSON
    columns decoded, ``bool`` fields from SQLite's integers."""
    values: dict[str, Any] = {}
    for f in fields(cls):  # type: ignore[arg-type]
        value = row[f.name]
        if f.name in _JSON_COLUMNS:
            value = _loads(value)
        elif f.type == "bool":
            value = bool(value)
        values[f.name] = value
    return cls(**values)
