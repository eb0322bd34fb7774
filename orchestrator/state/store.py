"""The state store: what was deployed, what ran, what happened (SQLite, WAL mode).

Contract:

* One file, ``<workspace>/state.db``. Several processes may use it at once (a running
  ``tosca deploy``, a ``tosca status``, a ``tosca executions cancel``): WAL journal, a busy
  timeout, short transactions, and ``BEGIN IMMEDIATE`` for every write so writers queue
  instead of failing half-way.
* Every transition is committed *before* it is acted on: an attempt row (with its
  idempotency token) exists before an operation starts; a job id is stored as soon as it is
  known; an attempt's outcome, its outputs and the node attributes they set are committed in
  ONE transaction, so a resume never sees an operation half-recorded.
* Secrets are never stored in clear: inputs are redacted structurally on the way in, and
  callers pass operation logs / errors through a ``Redactor`` first.
* A store method either does what it says or raises ``StateError``.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from orchestrator.core.status import DeploymentStatus, ExecutionStatus, StepStatus
from orchestrator.errors import StateError
from orchestrator.redaction import redact_structure

__all__ = [
    "DB_NAME",
    "AttemptRecord",
    "DeploymentRecord",
    "EventRecord",
    "ExecutionRecord",
    "LogRecord",
    "NodeRecord",
    "StepRecord",
    "Store",
    "StepStatus",
    "ExecutionStatus",
    "DeploymentStatus",
    "LEVELS",
]

DB_NAME = "state.db"
SCHEMA_VERSION = 1
LEVELS = ("DEBUG", "INFO", "WARN", "ERROR")


_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS deployments (
    id TEXT PRIMARY KEY,
    template TEXT NOT NULL,
    inputs TEXT NOT NULL DEFAULT '{}',          -- JSON, secrets redacted
    status TEXT NOT NULL,
    outputs TEXT NOT NULL DEFAULT '{}',         -- JSON, last evaluated topology outputs
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS nodes (
    deployment_id TEXT NOT NULL REFERENCES deployments(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    type TEXT NOT NULL DEFAULT '',
    state TEXT NOT NULL DEFAULT 'initial',
    updated_at REAL NOT NULL,
    PRIMARY KEY (deployment_id, name)
);
CREATE TABLE IF NOT EXISTS attributes (
    deployment_id TEXT NOT NULL,
    node TEXT NOT NULL,
    name TEXT NOT NULL,
    value TEXT NOT NULL,                        -- JSON
    updated_at REAL NOT NULL,
    PRIMARY KEY (deployment_id, node, name),
    FOREIGN KEY (deployment_id, node) REFERENCES nodes(deployment_id, name) ON DELETE CASCADE
);
CREATE TABLE IF NOT EXISTS executions (
    id TEXT PRIMARY KEY,
    deployment_id TEXT NOT NULL REFERENCES deployments(id) ON DELETE CASCADE,
    workflow TEXT NOT NULL,
    status TEXT NOT NULL,
    inputs TEXT NOT NULL DEFAULT '{}',          -- JSON, secrets redacted
    urgency TEXT,
    outputs TEXT NOT NULL DEFAULT '{}',
    error TEXT,
    cancel_requested INTEGER NOT NULL DEFAULT 0,
    owner_pid INTEGER,
    heartbeat_at REAL,
    created_at REAL NOT NULL,
    started_at REAL,
    ended_at REAL
);
CREATE INDEX IF NOT EXISTS executions_by_deployment ON executions(deployment_id, created_at);
CREATE TABLE IF NOT EXISTS steps (
    execution_id TEXT NOT NULL REFERENCES executions(id) ON DELETE CASCADE,
    step_id TEXT NOT NULL,
    seq INTEGER NOT NULL,                       -- position in the plan
    node TEXT,
    interface TEXT,
    operation TEXT,
    activity TEXT NOT NULL,
    status TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    job_id TEXT,
    outputs TEXT NOT NULL DEFAULT '{}',
    error TEXT,
    started_at REAL,
    ended_at REAL,
    PRIMARY KEY (execution_id, step_id)
);
CREATE TABLE IF NOT EXISTS attempts (
    execution_id TEXT NOT NULL,
    step_id TEXT NOT NULL,
    number INTEGER NOT NULL,
    status TEXT NOT NULL,
    token TEXT NOT NULL,                        -- idempotency token handed to the operation
    job_id TEXT,
    started_at REAL NOT NULL,
    ended_at REAL,
    outputs TEXT NOT NULL DEFAULT '{}',
    log TEXT NOT NULL DEFAULT '',
    error TEXT,
    PRIMARY KEY (execution_id, step_id, number),
    FOREIGN KEY (execution_id, step_id) REFERENCES steps(execution_id, step_id) ON DELETE CASCADE
);
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    deployment_id TEXT,
    execution_id TEXT,
    ts REAL NOT NULL,
    kind TEXT NOT NULL,                         -- execution | step | node
    subject TEXT NOT NULL,                      -- execution id, step id or node name
    status TEXT NOT NULL,
    detail TEXT
);
CREATE INDEX IF NOT EXISTS events_by_execution ON events(execution_id, id);
CREATE TABLE IF NOT EXISTS logs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    deployment_id TEXT,
    execution_id TEXT,
    ts REAL NOT NULL,
    level TEXT NOT NULL,                        -- DEBUG | INFO | WARN | ERROR
    step_id TEXT,
    content TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS logs_by_execution ON logs(execution_id, id);
"""


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


class Store:
    """Access to one workspace's ``state.db``. Safe to share between threads of one process.

    ``transition_hook`` (test-only fault injection) is called after every committed write
    transaction except heartbeats; it receives the running count of such transactions.
    """

    def __init__(self, workspace: str | os.PathLike[str], *, busy_timeout_ms: int = 30000):
        self.workspace = Path(workspace)
        try:
            # Private to its user: logs, inputs and attributes of a shared login node's
            # users must not be readable by the others (a workspace we did not create keeps
            # its mode; the database is made 0600 either way, and SQLite gives its -wal and
            # -shm files the database's mode).
            self.workspace.mkdir(parents=True, exist_ok=True, mode=0o700)
            self.path = self.workspace / DB_NAME
            if self.path.exists():
                if self.path.stat().st_mode & 0o077:
                    self.path.chmod(0o600)
            else:
                os.close(os.open(self.path, os.O_WRONLY | os.O_CREAT, 0o600))
        except OSError as exc:
            raise StateError(f"cannot create workspace {self.workspace}: {exc}") from exc
        self._lock = threading.RLock()
        self.transition_hook: Callable[[int], None] | None = None
        self._transitions = 0
        try:
            self._db = sqlite3.connect(
                str(self.path),
                timeout=busy_timeout_ms / 1000,
                isolation_level=None,  # we issue BEGIN IMMEDIATE / COMMIT ourselves
                check_same_thread=False,
            )
            self._db.row_factory = sqlite3.Row
            self._db.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
            self._db.execute("PRAGMA journal_mode = WAL")
            # NORMAL is durable against process kills (WAL); FULL adds power-loss safety.
            self._db.execute("PRAGMA synchronous = NORMAL")
            self._db.execute("PRAGMA foreign_keys = ON")
            self._init_schema()
        except sqlite3.Error as exc:
            raise StateError(f"cannot open state store {self.path}: {exc}") from exc

    # -- plumbing -------------------------------------------------------------------------

    def _init_schema(self) -> None:
        with self._lock:
            cur = self._db.cursor()
            cur.execute("BEGIN IMMEDIATE")
            try:
                for statement in _SCHEMA.split(";"):
                    if statement.strip():
                        cur.execute(statement)
                row = cur.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
                if row is None:
                    cur.execute(
                        "INSERT INTO meta(key, value) VALUES ('schema_version', ?)",
                        (str(SCHEMA_VERSION),),
                    )
                elif int(row[0]) > SCHEMA_VERSION:
                    raise StateError(
                        f"{self.path} was written by a newer version (schema {row[0]})"
                    )
                cur.execute("COMMIT")
            except BaseException:
                cur.execute("ROLLBACK")
                raise

    @contextmanager
    def _write(self, count: bool = True) -> Iterator[sqlite3.Cursor]:
        """One short write transaction; writers from other processes wait (busy timeout)."""
        with self._lock:
            cur = self._db.cursor()
            try:
                cur.execute("BEGIN IMMEDIATE")
            except sqlite3.Error as exc:
                raise StateError(f"state store {self.path} is locked: {exc}") from exc
            try:
                yield cur
                cur.execute("COMMIT")
            except BaseException:
                if self._db.in_transaction:
                    cur.execute("ROLLBACK")
                raise
            if count:
                self._transitions += 1
                hook = self.transition_hook
                if hook is not None:
                    hook(self._transitions)

    def _read(self, sql: str, params: Iterable[Any] = ()) -> list[sqlite3.Row]:
        with self._lock:
            try:
                return self._db.execute(sql, tuple(params)).fetchall()
            except sqlite3.Error as exc:
                raise StateError(f"cannot read state store {self.path}: {exc}") from exc

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- deployments ----------------------------------------------------------------------

    def create_deployment(
        self,
        deployment_id: str,
        template: str,
        inputs: dict[str, Any],
        *,
        secret_inputs: Iterable[str] = (),
        status: str = DeploymentStatus.DEPLOYING,
    ) -> DeploymentRecord:
        """Create (or, if it exists, update template/inputs of) a deployment."""
        now = time.time()
        clean = redact_structure(inputs, secret_inputs)
        with self._write() as cur:
            cur.execute(
                "INSERT INTO deployments(id, template, inputs, status, created_at, updated_at)"
                " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(id) DO UPDATE SET template=excluded."
                "template, inputs=excluded.inputs, status=excluded.status,"
                " updated_at=excluded.updated_at",
                (deployment_id, template, _dumps(clean), status, now, now),
            )
        return self.get_deployment(deployment_id)

    def get_deployment(self, deployment_id: str) -> DeploymentRecord:
        rows = self._read("SELECT * FROM deployments WHERE id=?", (deployment_id,))
        if not rows:
            raise StateError(f"no deployment '{deployment_id}' in {self.workspace}")
        return self._deployment(rows[0])

    def find_deployment(self, deployment_id: str) -> DeploymentRecord | None:
        rows = self._read("SELECT * FROM deployments WHERE id=?", (deployment_id,))
        return self._deployment(rows[0]) if rows else None

    def list_deployments(self) -> list[DeploymentRecord]:
        return [self._deployment(r) for r in self._read("SELECT * FROM deployments ORDER BY id")]

    def set_deployment_status(self, deployment_id: str, status: str) -> None:
        with self._write() as cur:
            cur.execute(
                "UPDATE deployments SET status=?, updated_at=? WHERE id=?",
                (status, time.time(), deployment_id),
            )
            self._event(cur, None, deployment_id, "deployment", deployment_id, status, None)

    def set_deployment_outputs(self, deployment_id: str, outputs: dict[str, Any]) -> None:
        with self._write() as cur:
            cur.execute(
                "UPDATE deployments SET outputs=?, updated_at=? WHERE id=?",
                (_dumps(redact_structure(outputs)), time.time(), deployment_id),
            )

    def delete_deployment(self, deployment_id: str) -> None:
        """Forget a deployment and everything recorded about it."""
        with self._write() as cur:
            cur.execute("DELETE FROM logs WHERE deployment_id=?", (deployment_id,))
            cur.execute("DELETE FROM events WHERE deployment_id=?", (deployment_id,))
            cur.execute("DELETE FROM deployments WHERE id=?", (deployment_id,))

    @staticmethod
    def _deployment(row: sqlite3.Row) -> DeploymentRecord:
        return DeploymentRecord(
            id=row["id"],
            template=row["template"],
            inputs=_loads(row["inputs"]),
            status=row["status"],
            outputs=_loads(row["outputs"]),
            created_at=row["created_at"],
            updated_at=row["updated_at"],
        )

    # -- nodes and attributes -------------------------------------------------------------

    def init_nodes(self, deployment_id: str, nodes: dict[str, str]) -> None:
        """Make sure every node ``{name: type}`` has an instance (state ``initial``)."""
        now = time.time()
        with self._write() as cur:
            cur.executemany(
                "INSERT INTO nodes(deployment_id, name, type, state, updated_at)"
                " VALUES (?, ?, ?, 'initial', ?) ON CONFLICT(deployment_id, name)"
                " DO UPDATE SET type=excluded.type",
                [(deployment_id, n, t, now) for n, t in nodes.items()],
            )

    def set_node_state(
        self, deployment_id: str, node: str, state: str, execution_id: str | None = None
    ) -> None:
        with self._write() as cur:
            self._ensure_node(cur, deployment_id, node)
            cur.execute(
                "UPDATE nodes SET state=?, updated_at=? WHERE deployment_id=? AND name=?",
                (state, time.time(), deployment_id, node),
            )
            self._event(cur, execution_id, deployment_id, "node", node, state, None)

    def set_attributes(self, deployment_id: str, node: str, values: dict[str, Any]) -> None:
        with self._write() as cur:
            self._set_attributes(cur, deployment_id, node, values)

    def nodes(self, deployment_id: str) -> list[NodeRecord]:
        attrs = self.attributes(deployment_id)
        return [
            NodeRecord(r["name"], r["type"], r["state"], attrs.get(r["name"], {}))
            for r in self._read(
                "SELECT * FROM nodes WHERE deployment_id=? ORDER BY rowid", (deployment_id,)
            )
        ]

    def attributes(self, deployment_id: str) -> dict[str, dict[str, Any]]:
        """``{node: {attribute: value}}`` for every node that has attributes."""
        out: dict[str, dict[str, Any]] = {}
        for r in self._read(
            "SELECT node, name, value FROM attributes WHERE deployment_id=?", (deployment_id,)
        ):
            out.setdefault(r["node"], {})[r["name"]] = json.loads(r["value"])
        return out

    @staticmethod
    def _ensure_node(cur: sqlite3.Cursor, deployment_id: str, node: str) -> None:
        cur.execute(
            "INSERT OR IGNORE INTO nodes(deployment_id, name, type, state, updated_at)"
            " VALUES (?, ?, '', 'initial', ?)",
            (deployment_id, node, time.time()),
        )

    def _set_attributes(
        self, cur: sqlite3.Cursor, deployment_id: str, node: str, values: dict[str, Any]
    ) -> None:
        if not values:
            return
        self._ensure_node(cur, deployment_id, node)
        now = time.time()
        cur.executemany(
            "INSERT INTO attributes(deployment_id, node, name, value, updated_at)"
            " VALUES (?, ?, ?, ?, ?) ON CONFLICT(deployment_id, node, name)"
            " DO UPDATE SET value=excluded.value, updated_at=excluded.updated_at",
            [(deployment_id, node, k, _dumps(v), now) for k, v in values.items()],
        )

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
        exec_id = execution_id or uuid.uuid4().hex[:12]
        now = time.time()
        with self._write() as cur:
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
                    now,
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
        return self.get_execution(exec_id)

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
        return ExecutionRecord(
            id=row["id"],
            deployment_id=row["deployment_id"],
            workflow=row["workflow"],
            status=row["status"],
            inputs=_loads(row["inputs"]),
            urgency=row["urgency"],
            outputs=_loads(row["outputs"]),
            error=row["error"],
            cancel_requested=bool(row["cancel_requested"]),
            owner_pid=row["owner_pid"],
            heartbeat_at=row["heartbeat_at"],
            created_at=row["created_at"],
            started_at=row["started_at"],
            ended_at=row["ended_at"],
        )

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

    def finish_attempt(
        self,
        execution_id: str,
        step_id: str,
        number: int,
        status: str,
        *,
        outputs: dict[str, Any] | None = None,
        log: str = "",
        error: str | None = None,
        started_at: float | None = None,
        ended_at: float | None = None,
        step_status: str | None = None,
        attributes: tuple[str, dict[str, Any]] | None = None,
        node_state: tuple[str, str] | None = None,
    ) -> None:
        """Close an attempt and (unless ``step_status`` is None and status is a retryable
        failure) the step, writing the node attributes it produced, in ONE transaction.

        ``step_status`` is the step's new status (defaults to ``status``).
        ``attributes`` is ``(node, {name: value})`` to merge into node attributes;
        ``node_state`` is ``(node, state)`` to set.
        """
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
        return [
            AttemptRecord(
                execution_id=r["execution_id"],
                step_id=r["step_id"],
                number=r["number"],
                status=r["status"],
                token=r["token"],
                job_id=r["job_id"],
                started_at=r["started_at"],
                ended_at=r["ended_at"],
                outputs=_loads(r["outputs"]),
                log=r["log"],
                error=r["error"],
            )
            for r in rows
        ]

    @staticmethod
    def _step(row: sqlite3.Row) -> StepRecord:
        return StepRecord(
            execution_id=row["execution_id"],
            step_id=row["step_id"],
            seq=row["seq"],
            node=row["node"],
            interface=row["interface"],
            operation=row["operation"],
            activity=row["activity"],
            status=row["status"],
            attempts=row["attempts"],
            job_id=row["job_id"],
            outputs=_loads(row["outputs"]),
            error=row["error"],
            started_at=row["started_at"],
            ended_at=row["ended_at"],
        )

    # -- events and logs ------------------------------------------------------------------

    @staticmethod
    def _dep_of(cur: sqlite3.Cursor, execution_id: str) -> str | None:
        row = cur.execute(
            "SELECT deployment_id FROM executions WHERE id=?", (execution_id,)
        ).fetchone()
        return row[0] if row else None

    @staticmethod
    def _event(
        cur: sqlite3.Cursor,
        execution_id: str | None,
        deployment_id: str | None,
        kind: str,
        subject: str,
        status: str,
        detail: str | None,
    ) -> None:
        cur.execute(
            "INSERT INTO events(deployment_id, execution_id, ts, kind, subject, status, detail)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            (deployment_id, execution_id, time.time(), kind, subject, status, detail),
        )

    def events(self, execution_id: str, after_id: int = 0) -> list[EventRecord]:
        return [
            EventRecord(
                r["id"],
                r["execution_id"],
                r["ts"],
                r["kind"],
                r["subject"],
                r["status"],
                r["detail"],
            )
            for r in self._read(
                "SELECT * FROM events WHERE execution_id=? AND id>? ORDER BY id",
                (execution_id, after_id),
            )
        ]

    def add_logs(
        self, execution_id: str, entries: list[tuple[str, str]], *, step_id: str | None = None
    ) -> None:
        """Append several ``(level, content)`` log lines in one transaction (a job's output
        forwarded by one poll); callers redact first."""
        if not entries:
            return
        now = time.time()
        with self._write() as cur:
            dep = self._dep_of(cur, execution_id)
            rows = []
            for level, content in entries:
                lvl = level.upper()
                lvl = "WARN" if lvl == "WARNING" else lvl
                rows.append(
                    (dep, execution_id, now, lvl if lvl in LEVELS else "INFO", step_id, content)
                )
            cur.executemany(
                "INSERT INTO logs(deployment_id, execution_id, ts, level, step_id, content)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                rows,
            )

    def add_log(
        self,
        execution_id: str,
        level: str,
        content: str,
        *,
        step_id: str | None = None,
    ) -> None:
        """Append a log line (callers redact ``content`` first)."""
        level = level.upper()
        if level == "WARNING":
            level = "WARN"
        if level not in LEVELS:
            level = "INFO"
        with self._write() as cur:
            cur.execute(
                "INSERT INTO logs(deployment_id, execution_id, ts, level, step_id, content)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (
                    self._dep_of(cur, execution_id),
                    execution_id,
                    time.time(),
                    level,
                    step_id,
                    content,
                ),
            )

    def logs(
        self,
        execution_id: str,
        *,
        after_id: int = 0,
        limit: int = -1,
        levels: Iterable[str] = LEVELS,
    ) -> list[LogRecord]:
        wanted = tuple(levels)
        marks = ",".join("?" * len(wanted)) or "''"
        return [
            LogRecord(r["id"], r["execution_id"], r["ts"], r["level"], r["step_id"], r["content"])
            for r in self._read(
                f"SELECT * FROM logs WHERE execution_id=? AND id>? AND level IN ({marks})"
                " ORDER BY id LIMIT ?",
                (execution_id, after_id, *wanted, limit),
            )
        ]


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie child of ours still "exists"; treat it as dead.
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return True
