"""The type registry: normative TOSCA types plus the profile's and the template's own.

Answers the questions validation and model building ask: does a type exist, what does it
derive from (ancestry, most specific first), which properties / attributes / requirements /
capabilities / interfaces it has once inherited definitions are merged.
"""

from __future__ import annotations

import functools
import importlib.util
from pathlib import Path
from typing import Any

import yaml

from orchestrator.tosca.model import canonical_type

__all__ = ["PRIMITIVE_TYPES", "TypeRegistry", "normative_types"]

PRIMITIVE_TYPES = frozenset(
    {
        "string",
        "integer",
        "float",
        "boolean",
        "timestamp",
        "null",
        "list",
        "map",
        "version",
        "range",
        "scalar-unit.size",
        "scalar-unit.time",
        "scalar-unit.frequency",
        "scalar-unit.bitrate",
        "tosca.datatypes.json",
        "tosca.datatypes.xml",
    }
)
_SECTIONS = (
    "node_types",
    "relationship_types",
    "capability_types",
    "interface_types",
    "data_types",
    "artifact_types",
    "policy_types",
    "group_types",
)


@functools.cache
def normative_types() -> dict[str, dict[str, Any]]:
    """tosca-parser's normative type definitions, read as YAML (toscaparser not imported)."""
    spec = importlib.util.find_spec("toscaparser")
    if spec is None or not spec.submodule_search_locations:
        return {s: {} for s in _SECTIONS}
    path = Path(next(iter(spec.submodule_search_locations))) / "elements" / "TOSCA_definition.yaml"
    loader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    data = yaml.load(path.read_text(encoding="utf-8"), Loader=loader)  # noqa: S506
    out = {s: dict(data.get(s) or {}) for s in _SECTIONS}
    # Roots tosca-parser knows implicitly.
    out["interface_types"].setdefault("tosca.interfaces.Root", {})
    out["artifact_types"].setdefault("tosca.artifacts.Root", {})
    out["group_types"].setdefault("tosca.groups.Root", {})
    return out


class TypeRegistry:
    """All known types by section, with the file each custom one came from."""

    def __init__(self, custom: dict[str, dict[str, tuple[Any, Path]]]) -> None:
        base = normative_types()
        self.defs: dict[str, dict[str, Any]] = {s: dict(base[s]) for s in _SECTIONS}
        self.files: dict[tuple[str, str], Path] = {}
        for section, entries in custom.items():
            for name, (definition, file) in entries.items():
                self.defs.setdefault(section, {})[name] = (
                    definition if isinstance(definition, dict) else {}
                )
                self.files[(section, name)] = file
        self._ancestry: dict[tuple[str, str], list[str]] = {}
        # Memo tables: the same type is asked about once per template using it.
        self._merged: dict[tuple[str, str, str], dict[str, Any]] = {}
        self._reqs: dict[str, dict[str, dict[str, Any]]] = {}
        self._iface_ops: dict[str, set[str]] = {}

    def has(self, section: str, name: str) -> bool:
        return name in self.defs.get(section, {})

    def get(self, section: str, name: str) -> dict[str, Any]:
        return self.defs.get(section, {}).get(name) or {}

    def ancestry(self, section: str, name: str) -> list[str]:
        """``name`` and its ancestors, most specific first; stops at unknown types or cycles.

        Aliases (``PyCOMPSJob``) are replaced by their canonical name in the result.
        """
        key = (section, name)
        cached = self._ancestry.get(key)
        if cached is not None:
            return cached
        chain: list[str] = []
        current: str | None = name
        while current and current not in chain and self.has(section, current):
            chain.append(current)
            parent = self.get(section, current).get("derived_from")
            current = parent if isinstance(parent, str) else None
        result: list[str] = []
        for t in chain:
            c = canonical_type(t)
            if c not in result:
                result.append(c)
        self._ancestry[key] = result
        return result

    def derivation_cycle(self, section: str, name: str) -> bool:
        seen: set[str] = set()
        current: str | None = name
        while current and self.has(section, current):
            if current in seen:
                return True
            seen.add(current)
            parent = self.get(section, current).get("derived_from")
            current = parent if isinstance(parent, str) else None
        return False

    def is_a(self, section: str, name: str, base: str) -> bool:
        return canonical_type(base) in self.ancestry(section, name)

    def merged_map(self, section: str, name: str, key: str) -> dict[str, Any]:
        """``key`` (properties, attributes, capabilities...) merged root first.

        The result is shared (memoised): callers must not modify it.
        """
        memo = self._merged.get((section, name, key))
        if memo is None:
            memo = self._merged[(section, name, key)] = self._merge_map(section, name, key)
        return memo

    def _merge_map(self, section: str, name: str, key: str) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for t in reversed(self._raw_chain(section, name)):
            entries = self.get(section, t).get(key)
            if isinstance(entries, dict):
                for k, v in entries.items():
                    if isinstance(v, dict) and isinstance(out.get(k), dict):
                        out[k] = {**out[k], **v}
                    else:
                        out[k] = v
        return out

    def merged_requirements(self, name: str) -> dict[str, dict[str, Any]]:
        """Requirement definitions of a node type by name, descendants overriding (shared)."""
        memo = self._reqs.get(name)
        if memo is None:
            memo = self._reqs[name] = self._merge_requirements(name)
        return memo

    def _merge_requirements(self, name: str) -> dict[str, dict[str, Any]]:
        out: dict[str, dict[str, Any]] = {}
        for t in reversed(self._raw_chain("node_types", name)):
            reqs = self.get("node_types", t).get("requirements")
            if isinstance(reqs, list):
                for entry in reqs:
                    if isinstance(entry, dict) and len(entry) == 1:
                        ((rname, rdef),) = entry.items()
                        if isinstance(rdef, str):
                            rdef = {"capability": rdef}
                        if not isinstance(rdef, dict):
                            rdef = {}
                        out[str(rname)] = {**out.get(str(rname), {}), **rdef}
        return out

    def interface_operations(self, itype: str) -> set[str]:
        """Operation names an interface type (and its ancestors) declares (shared)."""
        memo = self._iface_ops.get(itype)
        if memo is None:
            memo = self._iface_ops[itype] = self._interface_operations(itype)
        return memo

    def _interface_operations(self, itype: str) -> set[str]:
        ops: set[str] = set()
        for t in self._raw_chain("interface_types", itype):
            d = self.get("interface_types", t)
            for k, v in d.items():
                if k in ("derived_from", "description", "version", "metadata", "inputs"):
                    continue
                if k == "operations" and isinstance(v, dict):
                    ops.update(str(o) for o in v)
                elif k != "notifications":
                    ops.add(str(k))
        return ops

    def _raw_chain(self, section: str, name: str) -> list[str]:
        chain: list[str] = []
        current: str | None = name
        while current and current not in chain and self.has(section, current):
            chain.append(current)
            parent = self.get(section, current).get("derived_from")
            current = parent if isinstance(parent, str) else None
        return chain
