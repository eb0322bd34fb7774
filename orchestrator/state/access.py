"""Who may do what through the REST API: bearer tokens (hashed), execution owners, audit."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass

from orchestrator.errors import StateError
from orchestrator.state.database import Database
from orchestrator.state.records import from_row

__all__ = ["AccessRecords", "AuditRecord", "TokenRecord", "ROLES"]

ROLES = ("user", "admin", "alerts")  # alerts: may only push earthquake alerts (POST /events)
_PREFIX = "tosca_"


@dataclass(frozen=True)
class TokenRecord:
    id: str
    user: str
    role: str
    created_at: float
    expires_at: float | None
    revoked_at: float | None


@dataclass(frozen=True)
class AuditRecord:
    id: int
    ts: float
    user: str
    action: str
    subject: str
    allowed: bool
    detail: str | None


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


class AccessRecords(Database):
    """API tokens, the owner of each execution, and the audit log."""

    def create_token(
        self, user: str, role: str = "user", expires_in: float | None = None
    ) -> tuple[TokenRecord, str]:
        """A new token for ``user``: its record and the token text, shown once (only a hash
        of its secret part is stored)."""
        if role not in ROLES:
            raise StateError(f"role '{role}' is not one of {', '.join(ROLES)}")
        if not user or any(c.isspace() or c == ":" for c in user):
            raise StateError(f"user name {user!r} must be non-empty, without spaces or ':'")
        token_id = secrets.token_hex(6)
        secret = secrets.token_urlsafe(24)
        now = time.time()
        expires = now + expires_in if expires_in else None
        with self._write() as cur:
            cur.execute(
                "INSERT INTO api_tokens(id, user, role, secret_hash, created_at, expires_at)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (token_id, user, role, _hash(secret), now, expires),
            )
        return self.get_token(token_id), f"{_PREFIX}{token_id}_{secret}"

    def get_token(self, token_id: str) -> TokenRecord:
        rows = self._read("SELECT * FROM api_tokens WHERE id=?", (token_id,))
        if not rows:
            raise StateError(f"no token '{token_id}' in {self.workspace}")
        return from_row(TokenRecord, rows[0])

    def list_tokens(self) -> list[TokenRecord]:
        return [
            from_row(TokenRecord, r)
            for r in self._read("SELECT * FROM api_tokens ORDER BY created_at")
        ]

    def revoke_token(self, token_id: str) -> TokenRecord:
        self.get_token(token_id)
        with self._write() as cur:
            cur.execute(
                "UPDATE api_tokens SET revoked_at=? WHERE id=? AND revoked_at IS NULL",
                (time.time(), token_id),
            )
        return self.get_token(token_id)

    def verify_token(self, token: str) -> TokenRecord | None:
        """The live token record ``token`` stands for, else None (unknown, wrong secret,
        revoked or expired). The comparison takes the same time whatever the secret."""
        if not token.startswith(_PREFIX):
            return None
        token_id, _, secret = token[len(_PREFIX) :].partition("_")
        rows = self._read("SELECT * FROM api_tokens WHERE id=?", (token_id,))
        if not rows or not hmac.compare_digest(rows[0]["secret_hash"], _hash(secret)):
            return None
        record = from_row(TokenRecord, rows[0])
        if record.revoked_at is not None:
            return None
        if record.expires_at is not None and record.expires_at < time.time():
            return None
        return record

    def set_owner(self, execution_id: str, user: str) -> None:
        with self._write() as cur:
            cur.execute(
                "INSERT OR REPLACE INTO execution_owners(execution_id, user) VALUES (?, ?)",
                (execution_id, user),
            )

    def owner_of(self, execution_id: str) -> str | None:
        rows = self._read("SELECT user FROM execution_owners WHERE execution_id=?", (execution_id,))
        return str(rows[0]["user"]) if rows else None

    def audit(
        self, user: str, action: str, subject: str, allowed: bool, detail: str | None = None
    ) -> None:
        with self._write(count=False) as cur:
            cur.execute(
                "INSERT INTO audit(ts, user, action, subject, allowed, detail)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (time.time(), user, action, subject, int(allowed), detail),
            )

    def audit_log(self, limit: int = 1000) -> list[AuditRecord]:
        rows = self._read("SELECT * FROM audit ORDER BY id DESC LIMIT ?", (limit,))
        return [from_row(AuditRecord, r) for r in reversed(rows)]

    def owners(self) -> dict[str, str]:
        """Every execution's owner, by execution id (executions nobody triggered through the
        API have none)."""
        return {
            str(r["execution_id"]): str(r["user"])
            for r in self._read("SELECT execution_id, user FROM execution_owners")
        }
