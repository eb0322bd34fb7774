"""Observability: per-task JSON-lines events and task-graph export (DOT and JSON).

Event lines (one JSON object each) carry ``ts`` (epoch s), ``event`` (submitted, started,
finished, failed, retried, cancelled, ignored), ``task_id``, ``name`` and, where they apply,
``attempt``, ``attempts``, ``host``, ``duration`` (s), ``error``, ``timed_out``, ``groups``,
``urgency``, ``backend``, ``job_id``. The orchestrator ingests this file into an execution's
state when the workflow runs inside a deployment.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any, TextIO

from workflows.runtime.model import Task

__all__ = ["EventLog", "graph_to_dict", "graph_to_dot", "write_graph"]


class EventLog:
    """Appends events to a JSON-lines file; a disabled log (no path) costs nothing."""

    def __init__(self, path: str | None = None) -> None:
        self.path = path or ""
        self._lock = threading.Lock()
        self._fh: TextIO | None = None
        if self.path:
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
            self._fh = open(self.path, "a", encoding="utf-8")  # noqa: SIM115 - long-lived

    @property
    def enabled(self) -> bool:
        return self._fh is not None

    def emit(self, event: str, task: Task, **fields: Any) -> None:
        if self._fh is None:
            return
        record = {
            "ts": round(time.time(), 6),
            "event": event,
            "task_id": task.id,
            "name": task.spec.name,
        }
        record.update({k: v for k, v in fields.items() if v is not None and v != ""})
        line = json.dumps(record, default=str)
        with self._lock:
            if self._fh is not None:
                self._fh.write(line + "\n")
                self._fh.flush()

    def close(self) -> None:
        with self._lock:
            if self._fh is not None:
                self._fh.close()
                self._fh = None


def graph_to_dict(tasks: Iterable[Task]) -> dict[str, Any]:
    """JSON-ready task graph: nodes (id, name, kind, state, attempts) and edges."""
    nodes = []
    edges: list[dict[str, int]] = []
    for t in tasks:
        nodes.append(
            {
                "id": t.id,
                "name": t.spec.name,
                "kind": t.spec.kind,
                "state": t.state.value,
                "ignored": t.ignored,
                "attempts": t.attempt,
                "on_failure": t.spec.on_failure,
                "groups": list(t.groups),
            }
        )
        edges.extend({"from": d.id, "to": t.id} for d in t.deps)
    return {"nodes": nodes, "edges": edges}


_COLOURS = {"done": "palegreen", "failed": "salmon", "cancelled": "grey80"}


def graph_to_dot(tasks: Iterable[Task]) -> str:
    """Graphviz DOT of the task graph, nodes coloured by final state."""
    graph = graph_to_dict(tasks)
    lines = ["digraph tasks {", "  rankdir=TB;", "  node [shape=box, style=filled];"]
    for n in graph["nodes"]:
        colour = _COLOURS.get(n["state"], "white")
        label = f"{n['name']}#{n['id']}\\n{n['state']}"
        lines.append(f'  t{n["id"]} [label="{label}", fillcolor="{colour}"];')
    lines.extend(f"  t{e['from']} -> t{e['to']};" for e in graph["edges"])
    lines.append("}")
    return "\n".join(lines) + "\n"


def write_graph(tasks: Iterable[Task], path: str) -> None:
    """Write the graph as DOT (``.dot`` / ``.gv``) or JSON (anything else)."""
    tasks = list(tasks)
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.suffix in (".dot", ".gv"):
        out.write_text(graph_to_dot(tasks), encoding="utf-8")
    else:
        out.write_text(json.dumps(graph_to_dict(tasks), indent=1) + "\n", encoding="utf-8")
