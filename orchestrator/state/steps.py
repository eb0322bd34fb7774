"""Steps of an execution and every attempt of each."""

from __future__ import annotations

import sqlite3
import time

from orchestrator.core.status import StepStatus
from orchestrator.errors import StateError
from orchestrator.redaction import redact_structure
from orchestrator.state.database import Database
from orchestrator.state.records import (
    AttemptEnd,
    AttemptRecord,
    StepRecord,
    _dumps,
    from_row,
)

__all__ = ["StepRecords"]


class StepRecords(Database):
    """Steps of an execution and every attempt of each."""

    # -- steps and attempts ---------------------------------------------------------------

    def steps(self, execution_id: str) -> list[StepRecord]:
        return [
            self._step(r)
            for r in self._read(
                "SELECT * FROM steps WHERE execution_id=? ORDER BY seq", (execution_id,)
            )
        ]

    def succeeded_steps(self, deployment_id: str) -> list[StepRecord]:
        """Every succeeded step of every execution of a deployment, oldest execution first
        (plan order within one): ONE query, so starting an execution stays fast however many
        executions the deployment has had."""
        return [
            self._step(r)
            for r in self._read(
                "SELECT s.* FROM steps s JOIN executions e ON e.id = s.execution_id"
                " WHERE e.deployment_id=? AND s.status=?"
                " ORDER BY e.created_at, e.rowid, s.seq",
                (deployment_id, StepStatus.SUCCEEDED),
            )
        ]

    def start_attempt(self, execution_id: str, step_id: str, token: str | None = None) -> int:
        """Record a new attempt (status ``running``) before the operation starts.

        Returns the attempt number (1-based). ``token`` defaults to
        ``<execution>:<step>:<number>``; it is the idempotency token given to the operation.
        """
        now = time.time()
        with self._write() as cur:
            row = cur.execute(
                "SELECT attempts, node FROM steps WHERE execution_id=? AND step_id=?",
                (execution_id, step_id),
            ).fetchone()
            if row is None:
                raise StateError(f"no step '{step_id}' in execution {execution_id}")
            number = row["attempts"] + 1
            tok = token or f"{execution_id}:{step_id}:{number}"
            cur.execute(
                "INSERT INTO attempts(execution_id, step_id, number, status, token, started_at)"
                " VALUES (?, ?, ?, 'running', ?, ?)",
                (execution_id, step_id, number, tok, now),
            )
            cur.execute(
                "UPDATE steps SET status='running', attempts=?, started_at=COALESCE(started_at,"
                " ?), ended_at=NULL, error=NULL WHERE execution_id=? AND step_id=?",
                (number, now, execution_id, step_id),
            )
            self._event(
                cur,
                execution_id,
                self._dep_of(cur, execution_id),
                "step",
                step_id,
                "running",
                f"attempt {number}",
            )
        return number

    def set_job_id(self, execution_id: str, step_id: str, number: int, job_id: str) -> None:
        """Record a job id the moment it is known (before polling starts)."""
        with self._write() as cur:
            cur.execute(
                "UPDATE attempts SET job_id=? WHERE execution_id=? AND step_id=? AND number=?",
                (job_id, execution_id, step_id, number),
            )
            cur.execute(
                "UPDATE steps SET job_id=? WHERE execution_id=? AND step_id=?",
                (job_id, execution_id, step_id),
            )

    def finish_attempt(self, execution_id: str, step_id: str, number: int, end: AttemptEnd) -> None:
        """Close attempt ``number`` of a step and the step itself (with ``end.step_status``,
        e.g. back to pending before a retry), writing the node attributes and state it
        produced, in ONE transaction."""
        status, outputs, log, error = end.status, end.outputs, end.log, end.error
        started_at, ended_at, step_status = end.started_at, end.ended_at, end.step_status
        attributes, node_state = end.attributes, end.node_state
        now = time.time()
        outs = _dumps(redact_structure(outputs or {}))
        new_step_status = step_status or status
        with self._write() as cur:
            cur.execute(
                "UPDATE attempts SET status=?, ended_at=?, outputs=?, log=?, error=?,"
                " started_at=COALESCE(?, started_at)"
                " WHERE execution_id=? AND step_id=? AND number=?",
                (
                    status,
                    ended_at or now,
                    outs,
                    log,
                    error,
                    started_at,
                    execution_id,
                    step_id,
                    number,
                ),
            )
            final = new_step_status in StepStatus.FINAL
            cur.execute(
                "UPDATE steps SET status=?, outputs=?, error=?, ended_at=?"
                " WHERE execution_id=? AND step_id=?",
                (new_step_status, outs, error, now if final else None, execution_id, step_id),
            )
            dep = self._dep_of(cur, execution_id)
            if attributes is not None and dep is not None:
                self._set_attributes(cur, dep, attributes[0], attributes[1])
            if node_state is not None and dep is not None:
                self._ensure_node(cur, dep, node_state[0])
                cur.execute(
                    "UPDATE nodes SET state=?, updated_at=? WHERE deployment_id=? AND name=?",
                    (node_state[1], now, dep, node_state[0]),
                )
                self._event(cur, execution_id, dep, "node", node_state[0], node_state[1], None)
            self._event(cur, execution_id, dep, "step", step_id, new_step_status, error)

    def set_step_status(
        self,
        execution_id: str,
        step_id: str,
        status: str,
        *,
        error: str | None = None,
        node_state: tuple[str, str] | None = None,
    ) -> None:
        """Set a step's status without an attempt (set_state, not_run, cancelled...).

        ``node_state`` is ``(node, state)`` written in the same transaction.
        """
        now = time.time()
        with self._write() as cur:
            cur.execute(
                "UPDATE steps SET status=?, error=?, started_at=COALESCE(started_at, ?),"
                " ended_at=? WHERE execution_id=? AND step_id=?",
                (
                    status,
                    error,
                    now,
                    now if status in StepStatus.FINAL else None,
                    execution_id,
                    step_id,
                ),
            )
            dep = self._dep_of(cur, execution_id)
            if node_state is not None and dep is not None:
                self._ensure_node(cur, dep, node_state[0])
                cur.execute(
                    "UPDATE nodes SET state=?, updated_at=? WHERE deployment_id=? AND name=?",
                    (node_state[1], now, dep, node_state[0]),
                )
                self._event(cur, execution_id, dep, "node", node_state[0], node_state[1], None)
            self._event(cur, execution_id, dep, "step", step_id, status, error)

    def attempts(self, execution_id: str, step_id: str | None = None) -> list[AttemptRecord]:
        if step_id is None:
            rows = self._read(
                "SELECT * FROM attempts WHERE execution_id=? ORDER BY started_at, number",
                (execution_id,),
            )
        else:
            rows = self._read(
                "SELECT * FROM attempts WHERE execution_id=? AND step_id=? ORDER BY number",
                (execution_id, step_id),
            )
        return [from_row(AttemptRecord, r) for r in rows]

    @staticmethod
    def _step(row: sqlite3.Row) -> StepRecord:
        return from_row(StepRecord, row)
