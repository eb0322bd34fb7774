"""Helpers shared by every ``tosca`` command: inputs, output format, error reporting.

Command modules pair a typer callback with a plain function; the callback wraps its body in
``handle_errors()`` so a ``ToscaError`` prints as one line per problem on stderr and exits
with the error's code (1 invalid template, 2 usage, 3 execution), and anything unexpected
prints one line instead of a traceback (set ``TOSCA_DEBUG=1`` to see the traceback).
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
from collections.abc import Iterator
from enum import StrEnum
from pathlib import Path
from typing import Any, NoReturn

import typer

from orchestrator.errors import ToscaError, UsageError

__all__ = [
    "OutputFormat",
    "collect_inputs",
    "emit_json",
    "fail",
    "handle_errors",
    "parse_kv",
    "print_error",
    "read_inputs_file",
]


class OutputFormat(StrEnum):
    text = "text"
    json = "json"


def parse_kv(items: list[str] | None) -> dict[str, str]:
    """``["a=1", "b=x=y"]`` -> ``{"a": "1", "b": "x=y"}``; UsageError for a missing ``=``."""
    out: dict[str, str] = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise UsageError(f"invalid input {_shown(item)}: expected key=value")
        try:  # bytes the locale could not decode arrive as surrogates: refuse them here
            item.encode("utf-8")
        except UnicodeEncodeError:
            raise UsageError(
                f"input '{_shown(key.strip())}': the value is not valid UTF-8 text"
            ) from None
        out[key.strip()] = value
    return out


def _shown(text: str) -> str:
    """``text`` safe to print: undecodable bytes as escapes, at most 60 characters."""
    clean = text.encode("utf-8", "backslashreplace").decode("ascii", "backslashreplace")
    return clean if len(clean) <= 60 else clean[:57] + "..."


def read_inputs_file(path: str | Path | None) -> dict[str, Any]:
    """Inputs from a YAML or JSON file holding a mapping (empty when ``path`` is None)."""
    if path is None:
        return {}
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"cannot read inputs file {p}: {exc.strerror or exc}") from exc
    except UnicodeDecodeError as exc:
        raise UsageError(f"inputs file {p} is not UTF-8 text (byte {exc.start})") from None
    # Deferred: yaml only when an inputs file is given (CLI start-up).
    import yaml

    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise UsageError(f"inputs file {p} is not valid YAML/JSON: {exc}") from exc
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise UsageError(f"inputs file {p} must hold a mapping of input names to values")
    return {str(k): v for k, v in data.items()}


def collect_inputs(inputs_file: str | Path | None, items: list[str] | None) -> dict[str, Any]:
    """File inputs overridden by ``-i key=value`` ones."""
    return {**read_inputs_file(inputs_file), **parse_kv(items)}


def print_error(err: BaseException) -> None:
    """One line per problem on stderr, prefixed ``error:``."""
    for line in str(err).splitlines() or [type(err).__name__]:
        typer.echo(f"error: {line}", err=True)


def fail(err: ToscaError) -> NoReturn:
    print_error(err)
    raise typer.Exit(err.exit_code)


def emit_json(data: Any) -> None:
    typer.echo(json.dumps(data, indent=2, default=str))


@contextlib.contextmanager
def handle_errors() -> Iterator[None]:
    """Map every failure of a command body to a message and an exit code."""
    try:
        yield
    except (typer.Exit, typer.Abort, SystemExit):
        raise
    except ToscaError as exc:
        fail(exc)
    except KeyboardInterrupt:
        typer.echo("error: interrupted", err=True)
        raise typer.Exit(130) from None
    except Exception as exc:  # a bug, not bad input: still no traceback unless asked
        if os.environ.get("TOSCA_DEBUG"):
            raise
        typer.echo(f"error: internal error: {type(exc).__name__}: {exc}", err=True)
        typer.echo("(set TOSCA_DEBUG=1 for the traceback)", err=True)
        raise typer.Exit(1) from None


def stdout_is_tty() -> bool:
    return sys.stdout.isatty()
