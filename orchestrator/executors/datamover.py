"""Built-in data mover: stage data in and out on sites without a Data Logistics Service.

* ``stage_in(source, destination)``: ``source`` is a local path, a ``file://`` URL or an
  ``http(s)://`` URL (a ``#sha256=<hex>`` fragment is verified); ``generated`` means the
  application produces its input itself (e.g. the tsunami app's idealised bathymetry), so
  there is nothing to copy.
* ``stage_out(source, destination)``: copies a file or a directory tree to a results dir.

Every file is written to a temporary name in its final directory, hashed while written,
verified (a local copy is re-read and compared with its source's digest) and only then
renamed into place, so readers never see half a file. Checksums are recorded in a
``SHA256SUMS`` file in the destination directory (``sha256sum -c`` format).
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote, urlparse

import httpx

from orchestrator.errors import ExecutionError, ServiceError

__all__ = ["GENERATED", "Transfer", "local_source", "stage_in", "stage_out"]

logger = logging.getLogger(__name__)

GENERATED = "generated"
_CHUNK = 1 << 20


@dataclass
class Transfer:
    """What a transfer did: where things landed and their checksums (relative path -> hex)."""

    source: str
    destination: str
    files: dict[str, str] = field(default_factory=dict)
    bytes: int = 0
    generated: bool = False

    def as_outputs(self) -> dict[str, object]:
        return {
            "staged_path": self.destination,
            "files": len(self.files),
            "bytes": self.bytes,
            "checksums": dict(self.files),
        }


class _Cancelled(ExecutionError):
    pass


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _atomic_copy(src: Path, dst: Path, cancel: threading.Event | None) -> tuple[int, str]:
    """Copy ``src`` to ``dst`` through a temporary file; verify; rename. (bytes, sha256)."""
    dst.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=dst.parent, prefix=f".{dst.name}.")
    digest = hashlib.sha256()
    size = 0
    try:
        with os.fdopen(fd, "wb") as out, src.open("rb") as handle:
            for chunk in iter(lambda: handle.read(_CHUNK), b""):
                if cancel is not None and cancel.is_set():
                    raise _Cancelled(f"transfer of {src} cancelled")
                out.write(chunk)
                digest.update(chunk)
                size += len(chunk)
            out.flush()
            os.fsync(out.fileno())
        written = _sha256(Path(tmp))
        if written != digest.hexdigest():
            raise ExecutionError(f"checksum mismatch copying {src} to {dst}")
        os.replace(tmp, dst)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return size, digest.hexdigest()


def _download(
    url: str, dst: Path, cancel: threading.Event | None, timeout: float
) -> tuple[int, str]:
    parsed = urlparse(url)
    expected = parsed.fragment[7:] if parsed.fragment.startswith("sha256=") else None
    clean = parsed._replace(fragment="").geturl()
    shown = parsed._replace(fragment="", netloc=parsed.hostname or "").geturl()  # no userinfo
    dst.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=dst.parent, prefix=f".{dst.name}.")
    digest = hashlib.sha256()
    size = 0
    try:
        with (
            os.fdopen(fd, "wb") as out,
            httpx.stream("GET", clean, timeout=timeout, follow_redirects=True) as response,
        ):
            if response.status_code >= 400:
                raise ServiceError(f"data mover: GET {shown} answered HTTP {response.status_code}")
            for chunk in response.iter_bytes(_CHUNK):
                if cancel is not None and cancel.is_set():
                    raise _Cancelled(f"download of {shown} cancelled")
                out.write(chunk)
                digest.update(chunk)
                size += len(chunk)
        if expected and digest.hexdigest() != expected.lower():
            raise ExecutionError(
                f"checksum mismatch for {shown}: expected {expected}, got {digest.hexdigest()}"
            )
        os.replace(tmp, dst)
    except httpx.HTTPError as exc:
        raise ServiceError(f"data mover: GET {shown} failed: {type(exc).__name__}") from exc
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return size, digest.hexdigest()


def _record(directory: Path, checksums: dict[str, str]) -> None:
    """Merge ``checksums`` (paths relative to ``directory``) into its SHA256SUMS, atomically."""
    if not checksums:
        return
    sums = directory / "SHA256SUMS"
    entries: dict[str, str] = {}
    if sums.exists():
        for line in sums.read_text().splitlines():
            digest, _, name = line.partition("  ")
            if name:
                entries[name] = digest
    entries.update(checksums)
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".SHA256SUMS.")
    with os.fdopen(fd, "w") as out:
        out.writelines(f"{digest}  {name}\n" for name, digest in sorted(entries.items()))
    os.replace(tmp, sums)


def _tree_files(src: Path) -> list[Path]:
    """The regular files under ``src``, without following a symlink out of it: a link to a
    file inside the tree is copied as that file, one that points elsewhere is skipped (with
    a warning), and linked directories are not entered."""
    root = src.resolve()
    files: list[Path] = []
    for dirpath, _dirs, names in os.walk(src, followlinks=False):
        for name in names:
            path = Path(dirpath) / name
            if path.is_symlink():
                target = path.resolve()
                if root not in target.parents or not target.is_file():
                    logger.warning("data mover: %s links outside %s: skipped", path, src)
                    continue
            elif not path.is_file():
                continue
            files.append(path)
    return sorted(files)


def _copy_tree(src: Path, dst: Path, cancel: threading.Event | None, transfer: Transfer) -> None:
    if src.is_dir():
        checksums: dict[str, str] = {}
        for path in _tree_files(src):
            if path.name == "SHA256SUMS":
                continue
            rel = path.relative_to(src)
            size, digest = _atomic_copy(path, dst / rel, cancel)
            checksums[rel.as_posix()] = digest
            transfer.bytes += size
        dst.mkdir(parents=True, exist_ok=True)
        _record(dst, checksums)
        transfer.files.update(checksums)
    elif src.is_file():
        size, digest = _atomic_copy(src, dst, cancel)
        _record(dst.parent, {dst.name: digest})
        transfer.files[dst.name] = digest
        transfer.bytes += size
    else:
        raise ExecutionError(f"data mover: source {src} does not exist")


def local_source(source: str) -> Path | None:
    """The local path a stage-in source names (a path or ``file://`` URL), else None.

    ``~`` is not expanded: an input must not reach the orchestrator user's home by accident.
    """
    parsed = urlparse(source)
    if parsed.scheme == "file":
        return Path(unquote(parsed.path))
    if parsed.scheme in ("", None) or len(parsed.scheme) == 1:  # plain path (or C:)
        return Path(source)
    return None


def stage_in(
    source: str,
    destination: str | os.PathLike[str],
    *,
    cancel: threading.Event | None = None,
    timeout: float = 300.0,
) -> Transfer:
    """Bring ``source`` into ``destination`` (a file path, or a directory for a tree).

    A URL's file lands in ``destination`` itself unless ``destination`` is an existing
    directory, in which case it keeps its name inside it.
    """
    dst = Path(destination)
    if source.strip().lower() == GENERATED:
        dst.mkdir(parents=True, exist_ok=True)
        return Transfer(source, str(dst), generated=True)
    transfer = Transfer(source, str(dst))
    local = local_source(source)
    if local is not None:
        if local.is_file() and dst.is_dir():
            dst = dst / local.name
            transfer.destination = str(dst)
        _copy_tree(local, dst, cancel, transfer)
        return transfer
    parsed = urlparse(source)
    if parsed.scheme not in ("http", "https"):
        raise ExecutionError(f"data mover: unsupported source scheme '{parsed.scheme}://'")
    if dst.is_dir():
        dst = dst / (Path(unquote(parsed.path)).name or "download")
        transfer.destination = str(dst)
    size, digest = _download(source, dst, cancel, timeout)
    _record(dst.parent, {dst.name: digest})
    transfer.files[dst.name] = digest
    transfer.bytes = size
    return transfer


def stage_out(
    source: str | os.PathLike[str],
    destination: str | os.PathLike[str],
    *,
    cancel: threading.Event | None = None,
) -> Transfer:
    """Copy a result file or directory tree from the site to ``destination``."""
    src = Path(source)
    dst = Path(destination)
    if src.is_file() and dst.is_dir():
        dst = dst / src.name
    transfer = Transfer(str(src), str(dst))
    _copy_tree(src, dst, cancel, transfer)
    return transfer
