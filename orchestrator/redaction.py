"""Keep secrets out of state, logs and errors.

Two complementary mechanisms:

* structural: values under secret-looking keys (``password``, ``token``, ``private_key``...)
  and values that are secret objects (anything with a truthy ``is_secret`` attribute, or a
  class named ``Secret``) are replaced by ``REDACTED`` before they are stored;
* textual: every secret value the engine resolves at run time is registered with a
  ``Redactor``, which then blanks it out of any text (operation logs, error messages,
  outputs) before that text is stored or shown.
"""

from __future__ import annotations

import contextlib
import os
import re
import threading
from collections.abc import Iterable, Mapping
from typing import Any

__all__ = [
    "REDACTED",
    "Redactor",
    "is_secret_key",
    "is_secret_value",
    "redact_structure",
    "scrubbed_environ",
    "write_private",
]

REDACTED = "***"

_SECRET_KEY = re.compile(
    r"(pass(word|wd|phrase)?|secret|token|private[_-]?key|api[_-]?key|credential|vault)",
    re.IGNORECASE,
)
# Keys that look secret but are not: job ids and idempotency tokens are public bookkeeping.
_NOT_SECRET_KEYS = {"tosca_job_id", "tosca_job_status", "idempotency_token"}


def is_secret_key(key: str) -> bool:
    """True when a mapping key names a secret by convention (``db_password``, ``token``)."""
    return key.lower() not in _NOT_SECRET_KEYS and bool(_SECRET_KEY.search(key))


def is_secret_value(value: Any) -> bool:
    """True for secret wrapper objects (``is_secret`` attribute, or a class named Secret)."""
    return bool(getattr(value, "is_secret", False)) or type(value).__name__ == "Secret"


def redact_structure(value: Any, secret_keys: Iterable[str] = ()) -> Any:
    """Return a JSON-able copy of ``value`` with secrets replaced by ``REDACTED``.

    ``secret_keys`` adds names declared secret elsewhere (e.g. template inputs marked secret).
    Unknown objects become their ``str``; the result is always safe to ``json.dumps``.
    """
    extra = {k.lower() for k in secret_keys}

    def walk(v: Any, key: str | None) -> Any:
        if is_secret_value(v):
            return REDACTED
        if key is not None and (is_secret_key(key) or key.lower() in extra) and v is not None:
            return REDACTED
        if isinstance(v, dict):
            return {str(k): walk(x, str(k)) for k, x in v.items()}
        if isinstance(v, list | tuple):
            return [walk(x, None) for x in v]
        if v is None or isinstance(v, str | int | float | bool):
            return v
        return str(v)

    return walk(value, None)


class Redactor:
    """Blanks registered secret strings out of text. Thread-safe; cheap when empty."""

    def __init__(self) -> None:
        self._values: set[str] = set()
        self._lock = threading.Lock()
        self._pattern: re.Pattern[str] | None = None

    def add(self, value: Any) -> None:
        """Register a resolved secret (strings shorter than 4 chars are ignored: too noisy)."""
        text = str(value)
        if len(text) < 4:
            return
        with self._lock:
            if text not in self._values:
                self._values.add(text)
                alternatives = sorted(self._values, key=len, reverse=True)
                self._pattern = re.compile("|".join(re.escape(s) for s in alternatives))

    def text(self, text: str | None) -> str:
        """``text`` with every registered secret replaced by ``REDACTED``."""
        if not text:
            return text or ""
        pattern = self._pattern
        return pattern.sub(REDACTED, text) if pattern is not None else text

    def value(self, value: Any) -> Any:
        """Structural redaction plus textual redaction of every string inside ``value``."""
        cleaned = redact_structure(value)

        def walk(v: Any) -> Any:
            if isinstance(v, str):
                return self.text(v)
            if isinstance(v, dict):
                return {k: walk(x) for k, x in v.items()}
            if isinstance(v, list):
                return [walk(x) for x in v]
            return v

        return walk(cleaned)


def scrubbed_environ(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """A copy of ``environ`` (default ``os.environ``) without secret-named variables.

    What child processes that are not the orchestrator itself get (jobs, ``sbatch``, Slurm
    and site commands): ``TOSCA_SECRET_*``, ``*_TOKEN``, ``*_PASSWORD`` and the like stay in
    this process, where ``get_secret`` reads them.
    """
    env = os.environ if environ is None else environ
    return {k: v for k, v in env.items() if not is_secret_key(k)}


def write_private(path: str | os.PathLike[str], text: str) -> None:
    """Write ``text`` to ``path`` readable by its owner only (0600), whatever was there.

    ``open(..., "w")`` on an existing file keeps its old mode (O_TRUNC does not reset it):
    the old file is removed first, and the new one created 0600 with O_EXCL."""
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
