"""Checking values against TOSCA types and constraints; typing inputs given as text.

``check_value`` returns a list of messages (empty when valid) so the loader can attach a
location to each; intrinsic functions are accepted anywhere (checked when evaluated).
``coerce_input`` turns ``-i key=value`` text into the input's declared type.
"""

from __future__ import annotations

import datetime as _dt
import re
from typing import Any

import yaml

from orchestrator.redaction import is_secret_key
from orchestrator.tosca.functions import Function
from orchestrator.tosca.types import PRIMITIVE_TYPES, TypeRegistry

__all__ = [
    "apply_defaults",
    "check_constraints",
    "check_value",
    "check_value_at",
    "coerce_input",
    "scalar_seconds",
    "type_exists",
]

_SCALAR_UNITS = {
    "scalar-unit.size": {
        "b", "kb", "kib", "mb", "mib", "gb", "gib", "tb", "tib",
    },
    "scalar-unit.time": {"d", "h", "m", "s", "ms", "us", "ns"},
    "scalar-unit.frequency": {"hz", "khz", "mhz", "ghz"},
    "scalar-unit.bitrate": {
        "bps", "kbps", "kibps", "mbps", "mibps", "gbps", "gibps", "tbps", "tibps",
    },
}  # fmt: skip
_SCALAR_RE = re.compile(r"^\s*(-?[0-9.]+(?:[eE][-+]?[0-9]+)?)\s*([A-Za-z]+)\s*$")
_TIME_FACTORS = {"d": 86400, "h": 3600, "m": 60, "s": 1, "ms": 1e-3, "us": 1e-6, "ns": 1e-9}
_MAX_DEPTH = 30


def type_exists(reg: TypeRegistry, type_name: Any) -> bool:
    return isinstance(type_name, str) and (
        type_name in PRIMITIVE_TYPES or reg.has("data_types", type_name)
    )


def scalar_seconds(text: str) -> float | None:
    """``"10 m"`` -> 600.0 (None when not a scalar-unit.time)."""
    m = _SCALAR_RE.match(str(text))
    if not m or m.group(2).lower() not in _TIME_FACTORS:
        return None
    return float(m.group(1)) * _TIME_FACTORS[m.group(2).lower()]


def check_value(
    reg: TypeRegistry,
    value: Any,
    type_name: str,
    entry_schema: Any = None,
    what: str = "value",
    depth: int = 0,
) -> list[str]:
    """Messages describing why ``value`` is not a valid ``type_name`` (empty when it is)."""
    return [m for _, m in check_value_at(reg, value, type_name, entry_schema, what, depth)]


def check_value_at(
    reg: TypeRegistry,
    value: Any,
    type_name: str,
    entry_schema: Any = None,
    what: str = "value",
    depth: int = 0,
    path: tuple[Any, ...] = (),
) -> list[tuple[tuple[Any, ...], str]]:
    """Like ``check_value``, each message paired with the key path inside ``value``."""
    found = [(path, m) if isinstance(m, str) else m
             for m in _check(reg, value, type_name, entry_schema, what, depth, path)]  # fmt: skip
    if found and _names_secret(what):
        return [(where, _masked(m, value)) for where, m in found]
    return found


def _names_secret(what: str) -> bool:
    """True when ``what`` ("input 'api_token'", "property 'db_password'") names a secret."""
    return any(is_secret_key(name) for name in re.findall(r"'([^']+)'", what))


def _masked(message: str, value: Any) -> str:
    """``message`` without the value of a secret-named input or property in it."""
    for shown in {_show(value), repr(value), str(value)}:
        if len(shown) >= 3:
            message = message.replace(shown, "'***'")
    return message


def _check(
    reg: TypeRegistry,
    value: Any,
    type_name: str,
    entry_schema: Any,
    what: str,
    depth: int,
    path: tuple[Any, ...],
) -> list[Any]:
    if isinstance(value, Function) or depth > _MAX_DEPTH:
        return []
    if value is None:
        return []  # absence is checked through `required`, not here
    t = type_name
    if t == "string":
        return [] if isinstance(value, str) else [f"{what}: {_show(value)} is not a string"]
    if t == "integer":
        ok = isinstance(value, int) and not isinstance(value, bool)
        return [] if ok else [f"{what}: {_show(value)} is not an integer"]
    if t == "float":
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        return [] if ok else [f"{what}: {_show(value)} is not a float"]
    if t == "boolean":
        return [] if isinstance(value, bool) else [f"{what}: {_show(value)} is not a boolean"]
    if t == "timestamp":
        ok = isinstance(value, str | _dt.date | _dt.datetime)
        return [] if ok else [f"{what}: {_show(value)} is not a timestamp"]
    if t == "version":
        ok = isinstance(value, str | int | float) and not isinstance(value, bool)
        return [] if ok else [f"{what}: {_show(value)} is not a version"]
    if t in _SCALAR_UNITS:
        m = _SCALAR_RE.match(value) if isinstance(value, str) else None
        if m is None or m.group(2).lower() not in _SCALAR_UNITS[t]:
            units = ", ".join(sorted(_SCALAR_UNITS[t]))
            return [f"{what}: {_show(value)} is not a {t} (a number and a unit: {units})"]
        return []
    if t == "range":
        ok = isinstance(value, list) and len(value) == 2
        return [] if ok else [f"{what}: {_show(value)} is not a range [min, max]"]
    if t == "list":
        if not isinstance(value, list):
            return [f"{what}: {_show(value)} is not a list"]
        return _check_entries(reg, enumerate(value), entry_schema, what, depth, path)
    if t == "map":
        if not isinstance(value, dict):
            return [f"{what}: {_show(value)} is not a map"]
        return _check_entries(reg, value.items(), entry_schema, what, depth, path)
    if t in ("tosca.datatypes.json", "tosca.datatypes.xml", "null"):
        return []
    if reg.has("data_types", t):
        return _check_datatype(reg, value, t, what, depth, path)
    return [f"{what}: unknown type '{t}'"]


def _check_entries(
    reg: TypeRegistry, items: Any, entry_schema: Any, what: str, depth: int, path: tuple[Any, ...]
) -> list[Any]:
    if entry_schema is None:
        return []
    schema = entry_schema if isinstance(entry_schema, dict) else {"type": entry_schema}
    etype = schema.get("type")
    if not isinstance(etype, str):
        return []
    out: list[Any] = []
    for key, item in items:
        sub = f"{what}[{key!r}]" if isinstance(key, str) else f"{what}[{key}]"
        found = check_value_at(reg, item, etype, schema.get("entry_schema"), sub, depth + 1,
                               (*path, key))  # fmt: skip
        if not found:
            found = [
                ((*path, key), m) for m in check_constraints(item, schema.get("constraints"), sub)
            ]
        out += found
    return out


def _check_datatype(
    reg: TypeRegistry, value: Any, t: str, what: str, depth: int, path: tuple[Any, ...]
) -> list[Any]:
    # A data type derived from a primitive (e.g. a constrained string).
    for ancestor in reg.ancestry("data_types", t):
        parent = reg.get("data_types", ancestor).get("derived_from")
        if isinstance(parent, str) and parent in PRIMITIVE_TYPES:
            found = check_value(reg, value, parent, None, what, depth + 1)
            return found or check_constraints(
                value, reg.get("data_types", t).get("constraints"), what
            )
    if not isinstance(value, dict):
        return [f"{what}: {_show(value)} is not a {t} (expected a map of its properties)"]
    props = reg.merged_map("data_types", t, "properties")
    out: list[Any] = []
    for key, item in value.items():
        pdef = props.get(key)
        if not isinstance(pdef, dict):
            known = ", ".join(sorted(props)) or "none"
            out.append(((*path, key), f"{what}: unknown field '{key}' for {t} (known: {known})"))
            continue
        sub = f"{what}.{key}"
        ptype = str(pdef.get("type", "string"))
        schema = pdef.get("entry_schema")
        located = check_value_at(reg, item, ptype, schema, sub, depth + 1, (*path, key))
        if not located:
            located = [
                ((*path, key), m) for m in check_constraints(item, pdef.get("constraints"), sub)
            ]
        out += located
    for key, pdef in props.items():
        if (
            isinstance(pdef, dict)
            and pdef.get("required", True)
            and "default" not in pdef
            and key not in value
        ):
            out.append(f"{what}: missing required field '{key}' of {t}")
    return out


def check_constraints(value: Any, constraints: Any, what: str = "value") -> list[str]:
    """Messages for each TOSCA constraint ``value`` breaks (functions are skipped)."""
    if isinstance(value, Function) or value is None or not isinstance(constraints, list):
        return []
    out: list[str] = []
    for c in constraints:
        if not isinstance(c, dict) or len(c) != 1:
            out.append(f"{what}: invalid constraint {c!r}")
            continue
        ((op, arg),) = c.items()
        msg = _constraint_message(value, str(op), arg)
        if msg:
            out.append(f"{what}: {msg}")
    return [_masked(m, value) for m in out] if out and _names_secret(what) else out


def _constraint_message(value: Any, op: str, arg: Any) -> str | None:
    # Scalar-unit times compare by their value in seconds.
    v: Any = value
    a: Any = arg
    if isinstance(value, str) and scalar_seconds(value) is not None:
        v = scalar_seconds(value)
    if isinstance(arg, str) and scalar_seconds(arg) is not None:
        a = scalar_seconds(arg)
    try:
        if op == "valid_values":
            ok = value in (arg or [])
            allowed = ", ".join(map(str, arg or []))
            return None if ok else f"{_show(value)} is not one of the valid values ({allowed})"
        if op in ("equal",):
            return None if value == arg else f"{_show(value)} is not equal to {arg!r}"
        if op == "greater_than":
            return None if v > a else f"{_show(value)} is not greater than {arg!r}"
        if op == "greater_or_equal":
            return None if v >= a else f"{_show(value)} is less than {arg!r}"
        if op == "less_than":
            return None if v < a else f"{_show(value)} is not less than {arg!r}"
        if op == "less_or_equal":
            return None if v <= a else f"{_show(value)} is greater than {arg!r}"
        if op == "in_range":
            lo, hi = arg
            return None if lo <= v <= hi else f"{_show(value)} is not in range [{lo}, {hi}]"
        if op == "length":
            return None if len(value) == arg else f"{_show(value)} does not have length {arg}"
        if op == "min_length":
            return None if len(value) >= arg else f"{_show(value)} is shorter than {arg}"
        if op == "max_length":
            return None if len(value) <= arg else f"{_show(value)} is longer than {arg}"
        if op == "pattern":
            ok = isinstance(value, str) and re.fullmatch(str(arg), value) is not None
            return None if ok else f"{_show(value)} does not match the pattern {arg!r}"
    except (TypeError, ValueError, re.error):
        return f"constraint {op} cannot apply to {_show(value)}"
    return f"unknown constraint '{op}'"


def apply_defaults(reg: TypeRegistry, value: Any, type_name: str, depth: int = 0) -> Any:
    """``value`` with the defaults of a data type's missing fields filled in (recursively)."""
    if depth > _MAX_DEPTH or not isinstance(value, dict) or not reg.has("data_types", type_name):
        return value
    props = reg.merged_map("data_types", type_name, "properties")
    out = dict(value)
    for key, pdef in props.items():
        if not isinstance(pdef, dict):
            continue
        if key not in out and "default" in pdef:
            out[key] = pdef["default"]
        if key in out:
            out[key] = apply_defaults(reg, out[key], str(pdef.get("type", "")), depth + 1)
    return out


def coerce_input(reg: TypeRegistry, name: str, type_name: str, raw: Any) -> tuple[Any, str | None]:
    """Convert a command-line / file value to ``type_name``; returns (value, error message)."""
    if not isinstance(raw, str) or type_name == "string":
        return raw, None
    value, error = _coerce(reg, name, type_name, raw)
    if error and is_secret_key(name):
        error = _masked(error, raw)
    return value, error


def _coerce(reg: TypeRegistry, name: str, type_name: str, raw: str) -> tuple[Any, str | None]:
    text = raw.strip()
    try:
        if type_name == "integer":
            return int(text), None
        if type_name == "float":
            return float(text), None
        if type_name == "boolean":
            low = text.lower()
            if low in ("true", "yes", "on", "1"):
                return True, None
            if low in ("false", "no", "off", "0"):
                return False, None
            return raw, f"input '{name}': {raw!r} is not a boolean (true/false)"
        if type_name in ("list", "map", "range") or reg.has("data_types", type_name):
            parsed = yaml.safe_load(text)
            return parsed, None
    except ValueError:
        return raw, f"input '{name}': {raw!r} is not a valid {type_name}"
    except yaml.YAMLError:
        return raw, f"input '{name}': {raw!r} is not valid YAML/JSON for a {type_name}"
    return raw, None


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
