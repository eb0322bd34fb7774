"""Secret values and redaction for executors.

A ``Secret`` is a ``str`` (so implementations can use it as a password directly) whose
``repr`` never shows the value; executors collect every secret they meet and replace its
text with ``***`` in logs, errors and outputs they report (unless running in debug mode).

Secret references (``vault_id``, ``password_ref``...) are resolved by ``resolve_secret``:
``env:NAME`` reads an environment variable, ``file:PATH`` reads a file, and a bare name
``a/b`` reads ``$TOSCA_SECRET_A_B`` or else ``<workspace>/secrets/a/b``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from orchestrator.errors import ExecutionError
from orchestrator.redaction import REDACTED, is_secret_key

__all__ = ["REDACTED", "Secret", "collect_secrets", "redact", "resolve_secret"]


class Secret(str):
    """A string that never shows itself in ``repr`` (so not in tracebacks or dumps)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "Secret('***')"

    def reveal(self) -> str:
        """The clear value, as a plain ``str``."""
        return str.__str__(self)


def collect_secrets(value: Any, _secret_named: bool = False) -> set[str]:
    """Every secret found in a (nested) JSON-like value: ``Secret`` values, and the strings
    under secret-named keys (``db_password``, ``api_token``, ``vault_id``: the names the
    state store redacts), however deep."""
    found: set[str] = set()
    if isinstance(value, Secret):
        if value:
            found.add(value.reveal())
    elif isinstance(value, str):
        if _secret_named and value and value != REDACTED:
            found.add(value)
    elif isinstance(value, dict):
        for key, item in value.items():
            found |= collect_secrets(item, _secret_named or is_secret_key(str(key)))
    elif isinstance(value, list | tuple | set):
        for item in value:
            found |= collect_secrets(item, _secret_named)
    return found


def redact(text: str, secrets: Iterable[str]) -> str:
    """``text`` with every secret value replaced by ``***`` (longest first)."""
    for value in sorted((s for s in secrets if s), key=len, reverse=True):
        text = text.replace(value, REDACTED)
    return text


def _env_name(path: str) -> str:
    return "TOSCA_SECRET_" + re.sub(r"[^A-Za-z0-9]", "_", path).upper()


def resolve_secret(path: str, workspace: str | os.PathLike[str] | None = None) -> Secret:
    """Resolve a secret reference to its value; ``ExecutionError`` (without the value) if absent."""
    if path.startswith("env:"):
        name = path[4:]
        if name in os.environ:
            return Secret(os.environ[name])
        raise ExecutionError(f"secret '{path}': environment variable {name} is not set")
    if path.startswith("file:"):
        file = Path(path[5:]).expanduser()
        try:
            return Secret(file.read_text().rstrip("\n"))
        except OSError as exc:
            raise ExecutionError(f"secret '{path}': cannot read {file}: {exc.strerror}") from exc
    env = _env_name(path)
    if env in os.environ:
        return Secret(os.environ[env])
    if workspace is not None and ".." not in Path(path).parts:
        file = Path(workspace) / "secrets" / path
        if file.is_file():
            return Secret(file.read_text().rstrip("\n"))
    raise ExecutionError(
        f"secret '{path}' not found: set {env} or create <workspace>/secrets/{path}"
    )
