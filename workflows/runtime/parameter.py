"""Parameter directions and types, named as in ``pycompss.api.parameter``.

A parameter spec is a small immutable :class:`Parameter` (type + direction). Specs are given to
``@task`` as keyword arguments (``@task(path=FILE_OUT)``) or, PyCOMPSs style, as a dict
``{Type: FILE_OUT, Direction: ...}``; :func:`as_parameter` normalises both.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

__all__ = [
    "Parameter",
    "Direction",
    "Type",
    "Prefix",
    "Depth",
    "Weight",
    "Keep",
    "Cache",
    "StdIOStream",
    "STDIN",
    "STDOUT",
    "STDERR",
    "IN",
    "OUT",
    "INOUT",
    "CONCURRENT",
    "COMMUTATIVE",
    "IN_DELETE",
    "FILE",
    "FILE_IN",
    "FILE_OUT",
    "FILE_INOUT",
    "FILE_CONCURRENT",
    "FILE_COMMUTATIVE",
    "DIRECTORY_IN",
    "DIRECTORY_OUT",
    "DIRECTORY_INOUT",
    "COLLECTION_IN",
    "COLLECTION_OUT",
    "COLLECTION_INOUT",
    "COLLECTION_FILE_IN",
    "COLLECTION_FILE_OUT",
    "COLLECTION_FILE_INOUT",
    "DICTIONARY_IN",
    "DICTIONARY_OUT",
    "DICTIONARY_INOUT",
    "as_parameter",
]


class Direction:
    """Data direction of a parameter."""

    IN = "IN"
    OUT = "OUT"
    INOUT = "INOUT"
    CONCURRENT = "CONCURRENT"
    COMMUTATIVE = "COMMUTATIVE"
    IN_DELETE = "IN_DELETE"


class Type:
    """Data kind of a parameter (only the kinds the runtime treats differently)."""

    OBJECT = "OBJECT"
    FILE = "FILE"
    DIRECTORY = "DIRECTORY"
    COLLECTION = "COLLECTION"
    DICTIONARY = "DICTIONARY"


# Keys of the dict form (``{Type: FILE_IN, Prefix: "--in="}``). ``Prefix`` is glued to the
# value on a @binary / @mpi command line; ``StdIOStream`` (STDIN, STDOUT, STDERR) makes a file
# parameter the program's standard stream instead of an argument; the others are accepted.
Prefix = "Prefix"
Depth = "Depth"
Weight = "Weight"
Keep = "Keep"
Cache = "Cache"
StdIOStream = "StdIOStream"
STDIN = "STDIN"
STDOUT = "STDOUT"
STDERR = "STDERR"


@dataclass(frozen=True, slots=True)
class Parameter:
    """Kind and direction of one task parameter."""

    type: str = Type.OBJECT
    direction: str = Direction.IN
    file_collection: bool = False
    stream: str | None = None  # STDIN / STDOUT / STDERR: redirected, not an argument
    prefix: str = ""  # glued before the value on a @binary / @mpi command line

    @property
    def is_file(self) -> bool:
        return self.type in (Type.FILE, Type.DIRECTORY) or self.file_collection

    @property
    def writes(self) -> bool:
        """True when the task may write the data (so later readers depend on it)."""
        return self.direction in (
            Direction.OUT,
            Direction.INOUT,
            Direction.CONCURRENT,
            Direction.COMMUTATIVE,
        )

    @property
    def reads(self) -> bool:
        return self.direction != Direction.OUT


IN = Parameter()
OUT = Parameter(direction=Direction.OUT)
INOUT = Parameter(direction=Direction.INOUT)
# CONCURRENT and COMMUTATIVE: see workflows.runtime.core._Data for their scheduling.
CONCURRENT = Parameter(direction=Direction.CONCURRENT)
COMMUTATIVE = Parameter(direction=Direction.COMMUTATIVE)
IN_DELETE = Parameter(direction=Direction.IN_DELETE)
FILE = FILE_IN = Parameter(Type.FILE)
FILE_OUT = Parameter(Type.FILE, Direction.OUT)
FILE_INOUT = Parameter(Type.FILE, Direction.INOUT)
FILE_CONCURRENT = Parameter(Type.FILE, Direction.CONCURRENT)
FILE_COMMUTATIVE = Parameter(Type.FILE, Direction.COMMUTATIVE)
DIRECTORY_IN = Parameter(Type.DIRECTORY)
DIRECTORY_OUT = Parameter(Type.DIRECTORY, Direction.OUT)
DIRECTORY_INOUT = Parameter(Type.DIRECTORY, Direction.INOUT)
COLLECTION_IN = Parameter(Type.COLLECTION)
COLLECTION_OUT = Parameter(Type.COLLECTION, Direction.OUT)
COLLECTION_INOUT = Parameter(Type.COLLECTION, Direction.INOUT)
COLLECTION_FILE_IN = Parameter(Type.COLLECTION, file_collection=True)
COLLECTION_FILE_OUT = Parameter(Type.COLLECTION, Direction.OUT, file_collection=True)
COLLECTION_FILE_INOUT = Parameter(Type.COLLECTION, Direction.INOUT, file_collection=True)
DICTIONARY_IN = Parameter(Type.DICTIONARY)
DICTIONARY_OUT = Parameter(Type.DICTIONARY, Direction.OUT)
DICTIONARY_INOUT = Parameter(Type.DICTIONARY, Direction.INOUT)


def as_parameter(value: Any) -> Parameter | None:
    """Return the :class:`Parameter` a decorator keyword declares, or None if it is not one."""
    if isinstance(value, Parameter):
        return value
    if isinstance(value, dict) and Type in value:
        inner = value[Type]
        if not isinstance(inner, Parameter):
            return None
        stream = value.get(StdIOStream, inner.stream)
        if stream is not None and str(stream).upper() not in _STREAMS:
            raise ValueError(f"StdIOStream must be STDIN, STDOUT or STDERR, not {stream!r}")
        return replace(
            inner,
            stream=str(stream).upper() if stream is not None else None,
            prefix=str(value.get(Prefix, inner.prefix) or ""),
        )
    return None


_STREAMS = (STDIN, STDOUT, STDERR)


# Files as standard streams (PyCOMPSs' aliases): FILE_<DIRECTION>_<STREAM>, and FILE_STDIN /
# FILE_STDOUT / FILE_STDERR (IN, OUT, OUT). An OUT stream is truncated, the others appended to.
FILE_STDIN = FILE_IN_STDIN = Parameter(Type.FILE, Direction.IN, stream=STDIN)
FILE_IN_STDOUT = Parameter(Type.FILE, Direction.IN, stream=STDOUT)
FILE_IN_STDERR = Parameter(Type.FILE, Direction.IN, stream=STDERR)
FILE_OUT_STDIN = Parameter(Type.FILE, Direction.OUT, stream=STDIN)
FILE_STDOUT = FILE_OUT_STDOUT = Parameter(Type.FILE, Direction.OUT, stream=STDOUT)
FILE_STDERR = FILE_OUT_STDERR = Parameter(Type.FILE, Direction.OUT, stream=STDERR)
FILE_INOUT_STDIN = Parameter(Type.FILE, Direction.INOUT, stream=STDIN)
FILE_INOUT_STDOUT = Parameter(Type.FILE, Direction.INOUT, stream=STDOUT)
FILE_INOUT_STDERR = Parameter(Type.FILE, Direction.INOUT, stream=STDERR)
FILE_CONCURRENT_STDIN = Parameter(Type.FILE, Direction.CONCURRENT, stream=STDIN)
FILE_CONCURRENT_STDOUT = Parameter(Type.FILE, Direction.CONCURRENT, stream=STDOUT)
FILE_CONCURRENT_STDERR = Parameter(Type.FILE, Direction.CONCURRENT, stream=STDERR)
FILE_COMMUTATIVE_STDIN = Parameter(Type.FILE, Direction.COMMUTATIVE, stream=STDIN)
FILE_COMMUTATIVE_STDOUT = Parameter(Type.FILE, Direction.COMMUTATIVE, stream=STDOUT)
FILE_COMMUTATIVE_STDERR = Parameter(Type.FILE, Direction.COMMUTATIVE, stream=STDERR)
STREAM_PARAMETERS = [name for name in dir() if name.startswith("FILE_") and "_STD" in name]
__all__ += STREAM_PARAMETERS
