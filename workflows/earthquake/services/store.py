"""The services' state: one SQLite file (WAL) under the deployment's work directory, so a
restarted service loses nothing. Every write is one short transaction."""

from __future__ import annotations

import json
import sqlite3
import threading
import time
import uuid
from pathlib import Path
from typing import Any

__all__ = ["ServiceStore"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    id TEXT PRIMARY KEY,
    alert_key TEXT NOT NULL UNIQUE,     -- format:agency:id of the alert: registration is idempotent
    event TEXT NOT NULL,                -- the normalised event, JSON
    alert TEXT NOT NULL,                -- the alert as received
    created_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS steps (
    event_id TEXT NOT NULL REFERENCES events(id),
    kind TEXT NOT NULL,                 -- region | source | resources
    answer TEXT NOT NULL,
    created_at REAL NOT NULL,
    PRIMARY KEY (event_id, kind)
);
CREATE TABLE IF NOT EXISTS results (
    event_id TEXT NOT NULL REFERENCES events(id),
    name TEXT NOT NULL,
    path TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    bytes INTEGER NOT NULL,
    run TEXT NOT NULL DEFAULT '',
    created_at REAL NOT NULL,
    PRIMARY KEY (event_id, run, name)
);
"""


class ServiceStore:
    def __init__(self, directory: str | Path) -> None:
        self.path = Path(directory) / "ucis4eq.db"
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(str(self.path), check_same_thread=False, timeout=30,
                                   isolation_level=None)  # fmt: skip
        self._db.row_factory = sqlite3.Row
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)

    def _write(self, sql: str, params: tuple[Any, ...]) -> None:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._db.execute(sql, params)
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise

    def _rows(self, sql: str, params: tuple[Any, ...] = ()) -> list[sqlite3.Row]:
        with self._lock:
            return self._db.execute(sql, params).fetchall()

    def register(self, alert_key: str, event: dict[str, Any], alert: str) -> tuple[str, bool]:
        """(event id, created): the same alert key twice is one event."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                row = self._db.execute(
                    "SELECT id FROM events WHERE alert_key=?", (alert_key,)
                ).fetchone()
                if row is not None:
                    self._db.execute("COMMIT")
                    return str(row["id"]), False
                event_id = uuid.uuid4().hex[:16]
                self._db.execute(
                    "INSERT INTO events(id, alert_key, event, alert, created_at)"
                    " VALUES (?, ?, ?, ?, ?)",
                    (event_id, alert_key, json.dumps(event), alert, time.time()),
                )
                self._db.execute("COMMIT")
                return event_id, True
            except BaseException:
                self._db.execute("ROLLBACK")
                raise

    def event(self, event_id: str) -> dict[str, Any] | None:
        rows = self._rows("SELECT * FROM events WHERE id=?", (event_id,))
        if not rows:
            return None
        r = rows[0]
        return {"id": r["id"], "event": json.loads(r["event"]), "alert": r["alert"],
                "created_at": r["created_at"]}  # fmt: skip

    def events(self) -> list[dict[str, Any]]:
        return [
            {"id": r["id"], "event": json.loads(r["event"]), "created_at": r["created_at"]}
            for r in self._rows("SELECT * FROM events ORDER BY created_at")
        ]

    def save_step(self, event_id: str, kind: str, answer: dict[str, Any]) -> None:
        self._write(
            "INSERT OR REPLACE INTO steps(event_id, kind, answer, created_at) VALUES (?, ?, ?, ?)",
            (event_id, kind, json.dumps(answer), time.time()),
        )

    def step(self, event_id: str, kind: str) -> dict[str, Any] | None:
        rows = self._rows("SELECT answer FROM steps WHERE event_id=? AND kind=?", (event_id, kind))
        return json.loads(rows[0]["answer"]) if rows else None

    def add_results(self, event_id: str, run: str, products: list[dict[str, Any]]) -> None:
        now = time.time()
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._db.executemany(
                    "INSERT OR REPLACE INTO results(event_id, name, path, sha256, bytes, run,"
                    " created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                    [(event_id, p["name"], p["path"], p["sha256"], int(p["bytes"]), run, now)
                     for p in products],
                )  # fmt: skip
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise

    def results(self, event_id: str | None = None) -> list[dict[str, Any]]:
        sql = "SELECT * FROM results"
        params: tuple[Any, ...] = ()
        if event_id is not None:
            sql += " WHERE event_id=?"
            params = (event_id,)
        return [dict(r) for r in self._rows(sql + " ORDER BY created_at, name", params)]

    def close(self) -> None:
        with self._lock:
            self._db.close()
