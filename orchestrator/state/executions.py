"""Executions: creation, claims by a running process, status, cancel requests."""

from __future__ import annotations

import sqlite3
import time
import uuid
from collections.abc import Iterable
from typing import Any

from orchestrator.core.status import ExecutionStatus
from orchestrator.errors import StateError
from orchestrator.redaction import redact_structure
from orchestrator.state.database import Database, _pid_alive
from orchestrator.state.records import (
    ExecutionRecord,
    _dumps,
    from_row,
)

__all__ = ["ExecutionRecords"]


class ExecutionRecords(Database):
    """Executions: creation, claims by a running process, status, cancel requests."""

    # -- executions -----------------------------------------------------------------------

    def create_execution(
        self,
        deployment_id: str,
        workflow: str,
        steps: list[dict[str, Any]],
        *,
        inputs: dict[str, Any] | None = None,
        secret_inputs: Iterable[str] = (),
        urgency: str | None = None,
        execution_id: str | None = None,
    ) -> ExecutionRecord:
        """Record a new execution and all its steps (``pending``) in one transaction.

        ``steps`` items carry ``id, activity`` and optionally ``node, interface, operation``.
        """
        record, _created = self.create_keyed_execution(
            deployment_id,
            workflow,
            steps,
            inputs=inputs,
            secret_inputs=secret_inputs,
            urgency=urgency,
            execution_id=execution_id,
        )
        return record

    def create_keyed_execution(
        self,
        deployment_id: str,
        workflow: str,
        steps: list[dict[str, Any]],
        *,
        key: str | None = None,
        detail: dict[str, Any] | None = None,
        owner: str | None = None,
        inputs: dict[str, Any] | None = None,
        secret_inputs: Iterable[str] = (),
        urgency: str | None = None,
        execution_id: str | None = None,
    ) -> tuple[ExecutionRecord, bool]:
        """``create_execution`` under an idempotency ``key``: when an execution was already
        recorded with that key, nothing is written and (that execution, False) comes back;
        else (the new execution, True). The key is written in the execution's transaction,
        so two triggers with one key, in any processes, record one execution. ``owner``
        (the user it runs for) is recorded in the same transaction."""
        exec_id = execution_id or uuid.uuid4().hex[:12]
        existing: str | None = None
        with self._write() as cur:
            if key is not None:
                row = cur.execute(
                    "SELECT execution_id FROM execution_keys WHERE key=?", (key,)
                ).fetchone()
                existing = None if row is None else str(row[0])
            if existing is None:
                self._insert_execution(
                    cur, exec_id, deployment_id, workflow, steps, inputs, secret_inputs, urgency
                )
                if key is not None:
                    cur.execute(
                        "INSERT INTO execution_keys(key, execution_id, detail) VALUES (?, ?, ?)",
                        (key, exec_id, _dumps(detail or {})),
                    )
                if owner is not None:
                    cur.execute(
                        "INSERT INTO execution_owners(execution_id, user) VALUES (?, ?)",
                        (exec_id, owner),
                    )
        if existing is not None:
            return self.get_execution(existing), False
        return self.get_execution(exec_id), True

    def _insert_execution(
        self,
        cur: sqlite3.Cursor,
        exec_id: str,
        deployment_id: str,
        workflow: str,
        steps: list[dict[str, Any]],
        inputs: dict[str, Any] | None,
        secret_inputs: Iterable[str],
        urgency: str | None,
    ) -> None:
        cur.execute(
            "INSERT INTO executions(id, deployment_id, workflow, status, inputs, urgency,"
            " created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                exec_id,
                deployment_id,
                workflow,
                ExecutionStatus.PENDING,
                _dumps(redact_structure(inputs or {}, secret_inputs)),
                urgency,
                time.time(),
            ),
        )
        cur.executemany(
            "INSERT INTO steps(execution_id, step_id, seq, node, interface, operation,"
            " activity, status) VALUES (?, ?, ?, ?, ?, ?, ?, 'pending')",
            [
                (
                    exec_id,
                    s["id"],
                    i,
                    s.get("node"),
                    s.get("interface"),
                    s.get("operation"),
                    s["activity"],
                )
                for i, s in enumerate(steps)
            ],
        )
        self._event(cur, exec_id, deployment_id, "execution", exec_id, "pending", workflow)

    def get_execution(self, execution_id: str) -> ExecutionRecord:
        rows = self._read("SELECT * FROM executions WHERE id=?", (execution_id,))
        if not rows:
            # Allow unambiguous id prefixes, as users copy short ids from the CLI.
            rows = self._read(
                "SELECT * FROM executions WHERE id LIKE ? ESCAPE '\\'",
                (execution_id.replace("%", "\\%").replace("_", "\\_") + "%",),
            )
            if len(rows) != 1:
                raise StateError(f"no execution '{execution_id}' in {self.workspace}")
        return self._execution(rows[0])

    def list_executions(self, deployment_id: str | None = None) -> list[ExecutionRecord]:
        if deployment_id is None:
            rows = self._read("SELECT * FROM executions ORDER BY created_at, rowid")
        else:
            rows = self._read(
                "SELECT * FROM executions WHERE deployment_id=? ORDER BY created_at, rowid",
                (deployment_id,),
            )
        return [self._execution(r) for r in rows]

    def latest_execution(
        self, deployment_id: str, workflow: str | None = None
    ) -> ExecutionRecord | None:
        execs = [
            e
            for e in self.list_executions(deployment_id)
            if workflow is None or e.workflow == workflow
        ]
        return execs[-1] if execs else None

    def claim_execution(self, execution_id: str, pid: int, *, stale_after: float = 30.0) -> None:
        """Take ownership of an execution for this process (start or resume).

        Refuses (``StateError``) when another live process owns it and its heartbeat is
        fresh, so two orchestrators never drive the same execution.
        """
        now = time.time()
        with self._write() as cur:
            row = cur.execute(
                "SELECT status, owner_pid, heartbeat_at FROM executions WHERE id=?",
                (execution_id,),
            ).fetchone()
            if row is None:
                raise StateError(f"no execution '{execution_id}'")
            owner, beat = row["owner_pid"], row["heartbeat_at"]
            if (
                owner
                and owner != pid
                and _pid_alive(owner)
                and beat is not None
                and now - beat < stale_after
            ):
                raise StateError(
                    f"execution {execution_id} is being run by process {owner}; "
                    "cancel it with 'tosca executions cancel' or wait"
                )
            cur.execute(
                "UPDATE executions SET owner_pid=?, heartbeat_at=?, status=?,"
                " started_at=COALESCE(started_at, ?) WHERE id=?",
                (pid, now, ExecutionStatus.RUNNING, now, execution_id),
            )
            dep = cur.execute(
                "SELECT deployment_id FROM executions WHERE id=?", (execution_id,)
            ).fetchone()[0]
            self._event(cur, execution_id, dep, "execution", execution_id, "running", None)

    def heartbeat(self, execution_id: str) -> None:
        with self._write(count=False) as cur:
            cur.execute(
                "UPDATE executions SET heartbeat_at=? WHERE id=?", (time.time(), execution_id)
            )

    def finish_execution(
        self,
        execution_id: str,
        status: str,
        *,
        error: str | None = None,
        outputs: dict[str, Any] | None = None,
    ) -> None:
        with self._write() as cur:
            cur.execute(
                "UPDATE executions SET status=?, error=?, outputs=?, ended_at=?, owner_pid=NULL"
                " WHERE id=?",
                (
                    status,
                    error,
                    _dumps(redact_structure(outputs or {})),
                    time.time(),
                    execution_id,
                ),
            )
            dep = cur.execute(
                "SELECT deployment_id FROM executions WHERE id=?", (execution_id,)
            ).fetchone()
            self._event(
                cur, execution_id, dep[0] if dep else None, "execution", execution_id, status, error
            )

    def request_cancel(self, execution_id: str) -> ExecutionRecord:
        """Set an execution's cancel flag; the process running it polls the flag and
        cancels. Returns the execution as it is now (see ``owner_alive``)."""
        execution = self.get_execution(execution_id)
        with self._write() as cur:
            cur.execute("UPDATE executions SET cancel_requested=1 WHERE id=?", (execution.id,))
            self._event(
                cur,
                execution.id,
                execution.deployment_id,
                "execution",
                execution.id,
                "cancel_requested",
                None,
            )
        return self.get_execution(execution.id)

    def clear_cancel(self, execution_id: str) -> None:
        """Drop a cancel request (an explicit resume overrides an earlier cancel)."""
        with self._write() as cur:
            cur.execute("UPDATE executions SET cancel_requested=0 WHERE id=?", (execution_id,))

    @staticmethod
    def owner_alive(execution: ExecutionRecord) -> bool:
        """Whether a live process currently runs ``execution``."""
        return bool(execution.owner_pid) and _pid_alive(execution.owner_pid or 0)

    def cancel_requested(self, execution_id: str) -> bool:
        rows = self._read("SELECT cancel_requested FROM executions WHERE id=?", (execution_id,))
        return bool(rows and rows[0][0])

    @staticmethod
    def _execution(row: sqlite3.Row) -> ExecutionRecord:
        return from_row(ExecutionRecord, row)
