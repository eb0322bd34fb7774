"""Users' SSH key pairs for the REST API's ``POST /ssh_keys``: the public key in clear, the
private key only encrypted (AES-256-GCM) under a key-encryption key kept outside the
database, so a copy of ``state.db`` alone reveals no private key."""

from __future__ import annotations

import os
import secrets
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from orchestrator.errors import NotFound, StateError
from orchestrator.state.database import Database
from orchestrator.state.records import from_row

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

__all__ = ["KEK_ENV", "SshKeyRecord", "SshKeyRecords", "load_kek"]

KEK_ENV = "TOSCA_KEK_FILE"
_NONCE = 12


@dataclass(frozen=True)
class SshKeyRecord:
    id: str
    user: str
    public_key: str
    created_at: float


def load_kek(workspace: Path) -> bytes:
    """The 32-byte key-encryption key: from the file ``$TOSCA_KEK_FILE`` names, else
    ``<workspace>/secrets/kek`` (made 0600 on first use). Operators should point the
    variable at a file outside the workspace (another disk, a secrets mount)."""
    given = os.environ.get(KEK_ENV)
    path = Path(given) if given else workspace / "secrets" / "kek"
    try:
        if not path.exists():
            if given:
                raise StateError(f"{KEK_ENV}={given}: no such file (32 random bytes expected)")
            path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as out:
                out.write(secrets.token_bytes(32))
        kek = path.read_bytes()
    except OSError as exc:
        raise StateError(f"cannot read the key-encryption key {path}: {exc}") from None
    if len(kek) != 32:
        raise StateError(f"key-encryption key {path} must hold exactly 32 bytes")
    return kek


class SshKeyRecords(Database):
    """Encrypted SSH key pairs, one or more per user."""

    def _aead(self) -> AESGCM:
        # Deferred: cryptography only when keys are made or read (CLI start-up).
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM  # ssh keys only

        return AESGCM(load_kek(self.workspace))

    def add_ssh_key(self, user: str, public_key: str, private_key: bytes) -> SshKeyRecord:
        key_id = secrets.token_hex(6)
        nonce = secrets.token_bytes(_NONCE)
        # The key's id and owner are authenticated with it: a blob moved to another
        # row or user does not decrypt.
        sealed = nonce + self._aead().encrypt(nonce, private_key, f"{key_id}:{user}".encode())
        with self._write() as cur:
            cur.execute(
                "INSERT INTO ssh_keys(id, user, public_key, private_sealed, created_at)"
                " VALUES (?, ?, ?, ?, ?)",
                (key_id, user, public_key, sealed, time.time()),
            )
        return self.get_ssh_key(key_id)

    def get_ssh_key(self, key_id: str) -> SshKeyRecord:
        rows = self._read(
            "SELECT id, user, public_key, created_at FROM ssh_keys WHERE id=?", (key_id,)
        )
        if not rows:
            raise NotFound(f"no SSH key '{key_id}'")
        return from_row(SshKeyRecord, rows[0])

    def ssh_keys_of(self, user: str) -> list[SshKeyRecord]:
        rows = self._read(
            "SELECT id, user, public_key, created_at FROM ssh_keys WHERE user=?"
            " ORDER BY created_at",
            (user,),
        )
        return [from_row(SshKeyRecord, r) for r in rows]

    def ssh_private_key(self, key_id: str, user: str) -> bytes:
        """The clear private key, for ``user``'s own key only (NotFound otherwise)."""
        rows = self._read("SELECT private_sealed FROM ssh_keys WHERE id=? AND user=?",
                          (key_id, user))  # fmt: skip
        if not rows:
            raise NotFound(f"no SSH key '{key_id}'")
        sealed = bytes(rows[0][0])
        # Deferred: cryptography only when keys are read (CLI start-up).
        from cryptography.exceptions import InvalidTag  # ssh keys only

        try:
            return bytes(self._aead().decrypt(sealed[:_NONCE], sealed[_NONCE:],
                                              f"{key_id}:{user}".encode()))  # fmt: skip
        except InvalidTag:
            raise StateError(
                f"SSH key '{key_id}' does not decrypt: wrong key-encryption key ({KEK_ENV})"
            ) from None
