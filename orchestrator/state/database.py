"""The state store's connection: schema, one short write transaction at a time, reads,
and the row helpers several kinds of record share (see ``orchestrator.state.store``)."""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from orchestrator.errors import StateError
from orchestrator.state.records import _dumps

__all__ = ["DB_NAME", "LEVELS", "Database"]

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
CREATE TABLE IF NOT EXISTS ssh_keys (
    id TEXT PRIMARY KEY,
    user TEXT NOT NULL,
    public_key TEXT NOT NULL,
    private_sealed BLOB NOT NULL,               -- nonce + AES-GCM of the private key, never clear
    created_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS api_tokens (
    id TEXT PRIMARY KEY,                        -- public part of the token
    user TEXT NOT NULL,
    role TEXT NOT NULL,                         -- user | admin
    secret_hash TEXT NOT NULL,                  -- sha256 of the secret part, never the secret
    created_at REAL NOT NULL,
    expires_at REAL,
    revoked_at REAL
);
CREATE TABLE IF NOT EXISTS execution_owners (
    execution_id TEXT PRIMARY KEY REFERENCES executions(id) ON DELETE CASCADE,
    user TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS execution_keys (
    key TEXT PRIMARY KEY,                       -- idempotency key of the trigger
    execution_id TEXT NOT NULL REFERENCES executions(id) ON DELETE CASCADE,
    detail TEXT NOT NULL DEFAULT '{}'           -- JSON: what the trigger was made from
);
CREATE TABLE IF NOT EXISTS alert_messages (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    source TEXT NOT NULL,                       -- usgs:URL | emsc:URL | dir:PATH | post | replay
    delivery TEXT,                              -- source-specific redelivery key
    received_at REAL NOT NULL,
    payload TEXT NOT NULL,                      -- as received, so nothing needs the feed again
    state TEXT NOT NULL DEFAULT 'received',     -- received | associated | done
    outcome TEXT,                               -- accepted | merged | dropped
    reason TEXT,
    report_key TEXT,                            -- format:agency:id:updated of a kept report
    quake_id TEXT,
    event TEXT,                                 -- the normalised event, JSON
    triggered TEXT NOT NULL DEFAULT '[]',       -- JSON: runs this message started or refined
    done_at REAL
);
CREATE INDEX IF NOT EXISTS alert_messages_by_delivery ON alert_messages(delivery);
CREATE INDEX IF NOT EXISTS alert_messages_by_report ON alert_messages(report_key);
CREATE INDEX IF NOT EXISTS alert_messages_by_state ON alert_messages(state, id);
CREATE TABLE IF NOT EXISTS quakes (
    id TEXT PRIMARY KEY,
    origin_time REAL NOT NULL,
    lat REAL NOT NULL,
    lon REAL NOT NULL,
    depth_km REAL NOT NULL,
    magnitude REAL NOT NULL,
    best_message INTEGER NOT NULL,              -- the report the estimate comes from
    best_rank REAL NOT NULL,                    -- its update time (newest report wins)
    reports INTEGER NOT NULL DEFAULT 1,
    window_s REAL,                              -- association window of the rule that fired
    window_km REAL,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS quakes_by_time ON quakes(origin_time);
CREATE TABLE IF NOT EXISTS alert_cursors (
    source TEXT PRIMARY KEY,                    -- where a feed resumes: ETag, Last-Event-ID
    value TEXT NOT NULL,
    updated_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS audit (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    ts REAL NOT NULL,
    user TEXT NOT NULL,
    action TEXT NOT NULL,                       -- trigger | cancel | get | logs | token ...
    subject TEXT NOT NULL,
    allowed INTEGER NOT NULL,
    detail TEXT
);
"""


class Database:
    """One workspace's ``state.db`` connection. Safe to share between threads of one process.

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
            self._use_wal(busy_timeout_ms / 1000)
            # NORMAL is durable against process kills (WAL); FULL adds power-loss safety.
            self._db.execute("PRAGMA synchronous = NORMAL")
            self._db.execute("PRAGMA foreign_keys = ON")
            self._init_schema()
        except sqlite3.Error as exc:
            raise StateError(f"cannot open state store {self.path}: {exc}") from exc

    # -- plumbing -------------------------------------------------------------------------

    def _use_wal(self, timeout_s: float) -> None:
        """Switch a new database to WAL; the mode is persistent, so this is once per file.

        Switching needs an exclusive lock, and SQLite answers "database is locked" at once,
        without waiting on the busy handler, when several processes open a new workspace
        at the same moment: so wait for it here, up to the busy timeout.
        """
        deadline = time.monotonic() + timeout_s
        while True:
            mode = self._db.execute("PRAGMA journal_mode").fetchone()[0]
            if str(mode).lower() == "wal":
                return
            try:
                self._db.execute("PRAGMA journal_mode = WAL")
                return
            except sqlite3.OperationalError:
                if time.monotonic() >= deadline:
                    raise
                time.sleep(0.01)

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

    def __enter__(self) -> Database:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

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
