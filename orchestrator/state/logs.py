"""Events (every transition) and log lines of executions."""

from __future__ import annotations

import time
from collections.abc import Iterable

from orchestrator.state.database import LEVELS, Database
from orchestrator.state.records import (
    EventRecord,
    LogRecord,
    from_row,
)

__all__ = ["LogRecords"]


class LogRecords(Database):
    """Events (every transition) and log lines of executions."""

    # -- events and logs ------------------------------------------------------------------

    def events(self, execution_id: str, after_id: int = 0) -> list[EventRecord]:
        return [
            from_row(EventRecord, r)
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
            from_row(LogRecord, r)
            for r in self._read(
                f"SELECT * FROM logs WHERE execution_id=? AND id>? AND level IN ({marks})"
                " ORDER BY id LIMIT ?",
                (execution_id, after_id, *wanted, limit),
            )
        ]

    def logs_page(
        self, execution_id: str, *, offset: int = 0, size: int = -1, levels: Iterable[str] = LEVELS
    ) -> tuple[list[LogRecord], int]:
        """Log lines ``offset``.. (``size`` of them, -1: all) of an execution at ``levels``,
        and how many lines at those levels it has in all (the REST API's pagination)."""
        wanted = tuple(levels)
        marks = ",".join("?" * len(wanted)) or "''"
        where = f"execution_id=? AND level IN ({marks})"
        total = int(
            self._read(f"SELECT COUNT(*) AS n FROM logs WHERE {where}", (execution_id, *wanted))[0][
                "n"
            ]
        )
        rows = self._read(
            f"SELECT * FROM logs WHERE {where} ORDER BY id LIMIT ? OFFSET ?",
            (execution_id, *wanted, size, max(offset, 0)),
        )
        return [from_row(LogRecord, r) for r in rows], total
