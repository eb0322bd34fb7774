"""Earthquake alerts as the event hooks receive them, the earthquakes they are associated
into, and where each feed resumes.

Durability contract (what makes the hooks exactly once in effect):

* ``receive_alert`` commits the message, as received, *before* the caller acknowledges it
  (answers a POST, advances a feed's cursor: in the same transaction).
* ``associate_alert`` moves a message from ``received`` to ``associated`` and creates or
  updates its earthquake in ONE transaction, so a report is counted once whatever happens.
* The runs a message starts carry idempotency keys (``execution_keys``, written in the
  transaction that records the execution); ``finish_alert`` marks the message ``done``.
  A restarted listener processes every message not ``done`` again, and the keys make the
  second attempt find the first run instead of starting another.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from orchestrator.errors import NotFound
from orchestrator.state.database import Database

__all__ = ["AlertMessage", "AlertRecords", "Association", "QuakeRecord"]


@dataclass(frozen=True)
class AlertMessage:
    id: int
    source: str
    delivery: str | None
    received_at: float
    payload: str
    state: str
    outcome: str | None
    reason: str | None
    report_key: str | None
    quake_id: str | None
    event: dict[str, Any] | None
    triggered: list[dict[str, Any]]
    done_at: float | None


@dataclass(frozen=True)
class QuakeRecord:
    id: str
    origin_time: float
    lat: float
    lon: float
    depth_km: float
    magnitude: float
    best_message: int
    best_rank: float
    reports: int
    window_s: float | None
    window_km: float | None
    created_at: float
    updated_at: float


@dataclass(frozen=True)
class Association:
    """What ``associate_alert`` did: ``outcome`` is ``accepted`` (a new earthquake),
    ``merged`` (into an existing one) or ``duplicate`` (``duplicate_of`` kept the report)."""

    outcome: str
    quake_id: str | None
    duplicate_of: int | None = None
    best_changed: bool = False


_MESSAGE_COLUMNS = (
    "id, source, delivery, received_at, payload, state, outcome, reason, report_key,"
    " quake_id, event, triggered, done_at"
)


def _message(row: Any) -> AlertMessage:
    return AlertMessage(
        id=int(row["id"]),
        source=row["source"],
        delivery=row["delivery"],
        received_at=row["received_at"],
        payload=row["payload"],
        state=row["state"],
        outcome=row["outcome"],
        reason=row["reason"],
        report_key=row["report_key"],
        quake_id=row["quake_id"],
        event=json.loads(row["event"]) if row["event"] else None,
        triggered=json.loads(row["triggered"] or "[]"),
        done_at=row["done_at"],
    )


def _quake(row: Any) -> QuakeRecord:
    return QuakeRecord(**{k: row[k] for k in QuakeRecord.__dataclass_fields__})


def new_quake_id(origin_time: float) -> str:
    day = datetime.fromtimestamp(origin_time, tz=UTC).strftime("%Y%m%d")
    return f"eq-{day}-{uuid.uuid4().hex[:6]}"


class AlertRecords(Database):
    """Alert messages, earthquakes and feed cursors."""

    # -- receiving --------------------------------------------------------------------------

    def receive_alert(
        self,
        source: str,
        payload: str,
        *,
        delivery: str | None = None,
        cursor: tuple[str, str] | None = None,
    ) -> int | None:
        """Record one message as received and return its id; None (nothing written but the
        cursor) when ``delivery`` names a message already received: a feed that sends the
        same document again, a file already read. ``cursor`` = (feed, value) is saved in
        the same transaction."""
        now = time.time()
        with self._write() as cur:
            if delivery is not None:
                seen = cur.execute(
                    "SELECT id FROM alert_messages WHERE delivery=? LIMIT 1", (delivery,)
                ).fetchone()
                if seen is not None:
                    if cursor is not None:
                        self._save_cursor(cur, *cursor)
                    return None
            cur.execute(
                "INSERT INTO alert_messages(source, delivery, received_at, payload)"
                " VALUES (?, ?, ?, ?)",
                (source, delivery, now, payload),
            )
            message_id = int(cur.lastrowid or 0)
            if cursor is not None:
                self._save_cursor(cur, *cursor)
        return message_id

    @staticmethod
    def _save_cursor(cur: Any, source: str, value: str) -> None:
        cur.execute(
            "INSERT INTO alert_cursors(source, value, updated_at) VALUES (?, ?, ?)"
            " ON CONFLICT(source) DO UPDATE SET value=excluded.value,"
            " updated_at=excluded.updated_at",
            (source, value, time.time()),
        )

    def save_cursor(self, source: str, value: str) -> None:
        with self._write(count=False) as cur:
            self._save_cursor(cur, source, value)

    def cursor(self, source: str) -> str | None:
        rows = self._read("SELECT value FROM alert_cursors WHERE source=?", (source,))
        return str(rows[0]["value"]) if rows else None

    # -- association ------------------------------------------------------------------------

    def associate_alert(
        self,
        message_id: int,
        event: dict[str, Any],
        report_key: str,
        *,
        origin_time: float,
        rank: float,
        window_s: float,
        choose: Callable[[list[QuakeRecord]], QuakeRecord | None],
    ) -> Association:
        """Associate a parsed message with an earthquake, in one transaction: a report
        already kept (same ``report_key``) makes it a duplicate; else ``choose`` picks, among
        the earthquakes whose origin is within ``window_s`` (the widest window in force), the
        one it belongs to, or None for a new earthquake. The newest report (``rank``: its
        update time) becomes the earthquake's estimate."""
        now = time.time()
        with self._write() as cur:
            row = cur.execute(
                "SELECT state, quake_id, outcome FROM alert_messages WHERE id=?", (message_id,)
            ).fetchone()
            if row is None:
                raise NotFound(f"no alert message {message_id}")
            if row["state"] != "received":  # done before a restart: keep what it was
                return Association(row["outcome"] or "merged", row["quake_id"])
            dup = cur.execute(
                "SELECT id FROM alert_messages WHERE report_key=? AND id<>? LIMIT 1",
                (report_key, message_id),
            ).fetchone()
            if dup is not None:
                cur.execute(
                    "UPDATE alert_messages SET state='associated', event=? WHERE id=?",
                    (json.dumps(event), message_id),
                )
                return Association("duplicate", None, duplicate_of=int(dup["id"]))
            candidates = [
                _quake(r)
                for r in cur.execute(
                    "SELECT * FROM quakes WHERE origin_time BETWEEN ? AND ?",
                    (origin_time - window_s, origin_time + window_s),
                ).fetchall()
            ]
            chosen = choose(candidates)
            best_changed = True
            if chosen is None:
                quake_id = new_quake_id(origin_time)
                cur.execute(
                    "INSERT INTO quakes(id, origin_time, lat, lon, depth_km, magnitude,"
                    " best_message, best_rank, reports, created_at, updated_at)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, 1, ?, ?)",
                    (
                        quake_id,
                        origin_time,
                        event["lat"],
                        event["lon"],
                        event["depth_km"],
                        event["magnitude"],
                        message_id,
                        rank,
                        now,
                        now,
                    ),
                )
                outcome = "accepted"
            else:
                quake_id = chosen.id
                outcome = "merged"
                best_changed = rank >= chosen.best_rank
                if best_changed:
                    cur.execute(
                        "UPDATE quakes SET origin_time=?, lat=?, lon=?, depth_km=?,"
                        " magnitude=?, best_message=?, best_rank=?, reports=reports+1,"
                        " updated_at=? WHERE id=?",
                        (
                            origin_time,
                            event["lat"],
                            event["lon"],
                            event["depth_km"],
                            event["magnitude"],
                            message_id,
                            rank,
                            now,
                            quake_id,
                        ),
                    )
                else:
                    cur.execute(
                        "UPDATE quakes SET reports=reports+1, updated_at=? WHERE id=?",
                        (now, quake_id),
                    )
            cur.execute(
                "UPDATE alert_messages SET state='associated', outcome=?, report_key=?,"
                " quake_id=?, event=? WHERE id=?",
                (outcome, report_key, quake_id, json.dumps(event), message_id),
            )
        return Association(outcome, quake_id, best_changed=best_changed)

    def set_quake_window(self, quake_id: str, seconds: float, km: float) -> None:
        """The association window of the rule that fired for this earthquake (first wins)."""
        with self._write(count=False) as cur:
            cur.execute(
                "UPDATE quakes SET window_s=COALESCE(window_s, ?),"
                " window_km=COALESCE(window_km, ?) WHERE id=?",
                (seconds, km, quake_id),
            )

    def finish_alert(
        self,
        message_id: int,
        outcome: str,
        reason: str,
        triggered: list[dict[str, Any]] | None = None,
    ) -> None:
        with self._write() as cur:
            cur.execute(
                "UPDATE alert_messages SET state='done', outcome=?, reason=?, triggered=?,"
                " done_at=? WHERE id=?",
                (outcome, reason, json.dumps(triggered or []), time.time(), message_id),
            )

    # -- reading ----------------------------------------------------------------------------

    def alert_message(self, message_id: int) -> AlertMessage:
        rows = self._read(
            f"SELECT {_MESSAGE_COLUMNS} FROM alert_messages WHERE id=?", (message_id,)
        )
        if not rows:
            raise NotFound(f"no alert message {message_id}")
        return _message(rows[0])

    def alert_messages(
        self, *, limit: int | None = None, unfinished: bool = False
    ) -> list[AlertMessage]:
        """Messages in the order received (the last ``limit`` of them when given)."""
        where = " WHERE state<>'done'" if unfinished else ""
        if limit is None:
            sql = f"SELECT {_MESSAGE_COLUMNS} FROM alert_messages{where} ORDER BY id"
            return [_message(r) for r in self._read(sql)]
        sql = f"SELECT {_MESSAGE_COLUMNS} FROM alert_messages{where} ORDER BY id DESC LIMIT ?"
        return [_message(r) for r in reversed(self._read(sql, (limit,)))]

    def alert_counts(self) -> dict[str, int]:
        rows = self._read(
            "SELECT COALESCE(outcome, state) AS k, COUNT(*) AS n FROM alert_messages"
            " WHERE state='done' OR outcome IS NULL GROUP BY k"
        )
        return {str(r["k"]): int(r["n"]) for r in rows}

    def quake(self, quake_id: str) -> QuakeRecord:
        rows = self._read("SELECT * FROM quakes WHERE id=?", (quake_id,))
        if not rows:
            raise NotFound(f"no earthquake '{quake_id}'")
        return _quake(rows[0])

    def quakes(self) -> list[QuakeRecord]:
        return [_quake(r) for r in self._read("SELECT * FROM quakes ORDER BY origin_time")]

    def keyed_executions(self, prefix: str) -> list[tuple[str, str, dict[str, Any]]]:
        """(key, execution id, detail) of the triggers whose key starts with ``prefix``."""
        rows = self._read(
            "SELECT key, execution_id, detail FROM execution_keys WHERE key >= ? AND key < ?"
            " ORDER BY key",
            (prefix, prefix + "\uffff"),
        )
        return [(r["key"], r["execution_id"], json.loads(r["detail"] or "{}")) for r in rows]
