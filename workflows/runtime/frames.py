"""Length-prefixed frames over a pipe: how the local backend and its worker processes talk.

Its own module so the backend does not import the worker (which installs the ``pycompss``
alias and so imports the user-facing API)."""

from __future__ import annotations

import os
import struct

__all__ = ["read_frame", "write_frame"]

_HEADER = struct.Struct(">Q")


def read_frame(fd: int) -> bytes | None:
    """One frame, or None at end of file."""
    header = _read_exact(fd, _HEADER.size)
    if header is None:
        return None
    (size,) = _HEADER.unpack(header)
    return _read_exact(fd, size)


def _read_exact(fd: int, size: int) -> bytes | None:
    chunks = []
    while size:
        chunk = os.read(fd, min(size, 1 << 20))
        if not chunk:
            return None
        chunks.append(chunk)
        size -= len(chunk)
    return b"".join(chunks)


def write_frame(fd: int, data: bytes) -> None:
    view = memoryview(_HEADER.pack(len(data)) + data)
    while view:
        written = os.write(fd, view)
        view = view[written:]
