"""Deployments, their nodes and node attributes."""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterable
from typing import Any

from orchestrator.core.status import DeploymentStatus
from orchestrator.errors import StateError
from orchestrator.redaction import redact_structure
from orchestrator.state.database import Database
from orchestrator.state.records import (
    DeploymentRecord,
    NodeRecord,
    _dumps,
    from_row,
)

__all__ = ["DeploymentRecords"]


class DeploymentRecords(Database):
    """Deployments, their nodes and node attributes."""

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
        return from_row(DeploymentRecord, row)

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
