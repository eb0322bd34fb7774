"""The edge with tosca-parser: hand it a cleaned copy, map what it reports to Problems.

tosca-parser rejects ``workflows:`` and mishandles TOSCA 1.3 policy triggers and several
functions, so the copy it gets has no workflows, no triggers, the imported types inlined
(local imports resolved by us; URL imports left to it) and every intrinsic function
replaced by a neutral ``concat`` (functions were checked by the loader already). Its
collected errors become one Problem each, located through the names they quote; its
crashes on odd input become a Problem too, never a traceback.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from orchestrator.errors import Location, Problem
from orchestrator.tosca.functions import FUNCTION_NAMES
from orchestrator.tosca.sources import TYPE_SECTIONS, Source

__all__ = ["validate_with_toscaparser", "clean_copy"]

_QUOTED = re.compile(r'"([^"]+)"')
_PLACEHOLDER = {"concat": ["fn"]}


def clean_copy(source: Source) -> dict[str, Any]:
    """The template as plain data tosca-parser accepts (see the module docstring)."""
    tpl = _plain(source.tpl)
    tpl.pop("imports", None)
    if source.url_imports:
        tpl["imports"] = _plain(source.url_imports)
    # 1.3 fields tosca-parser does not know: a template's `namespace`, and `metadata` in
    # type definitions (informational; it mistakes a policy type's for a section).
    tpl.pop("namespace", None)
    for section in TYPE_SECTIONS:
        merged: dict[str, Any] = {}
        for name, (definition, _file) in source.types.get(section, {}).items():
            merged[name] = _plain(definition)
            if isinstance(merged[name], dict):
                merged[name].pop("metadata", None)
        if merged:
            tpl[section] = merged
    _fill_normative_gaps(tpl)
    topo = tpl.get("topology_template")
    if isinstance(topo, dict):
        topo.pop("workflows", None)
        outputs = topo.get("outputs")
        if isinstance(outputs, dict):
            for odef in outputs.values():
                if isinstance(odef, dict):
                    # A 1.3 parameter definition may carry a type; tosca-parser (1.0-era
                    # outputs) rejects the field. Our loader types the output with it.
                    odef.pop("type", None)
        policies = topo.get("policies")
        if isinstance(policies, list):
            for entry in policies:
                if isinstance(entry, dict):
                    for pdef in entry.values():
                        if isinstance(pdef, dict):
                            pdef.pop("triggers", None)
        for key in ("node_templates", "relationship_templates", "outputs", "policies"):
            if key in topo:
                topo[key] = _neutralise(topo[key])
    return tpl


# TOSCA 1.3 normative types tosca-parser's definitions lack (section 5.5.2 of the Simple
# Profile 1.3): added to the copy it gets when the template does not define them itself.
_MISSING_CAPABILITY_TYPES: dict[str, Any] = {
    "tosca.capabilities.Compute": {
        "derived_from": "tosca.capabilities.Container",
        "properties": {
            "name": {"type": "string", "required": False},
            "num_cpus": {"type": "integer", "required": False},
            "cpu_frequency": {"type": "scalar-unit.frequency", "required": False},
            "disk_size": {"type": "scalar-unit.size", "required": False},
            "mem_size": {"type": "scalar-unit.size", "required": False},
        },
    },
}


def _fill_normative_gaps(tpl: dict[str, Any]) -> None:
    """Work around two gaps of tosca-parser on valid 1.3 templates (README, conformance):
    missing normative capability types, and a requirement definition without ``node``
    (optional in 1.3), on which it crashes: it gets ``node: tosca.nodes.Root``."""
    caps = tpl.get("capability_types")
    caps = dict(caps) if isinstance(caps, dict) else {}
    for name, definition in _MISSING_CAPABILITY_TYPES.items():
        caps.setdefault(name, definition)
    tpl["capability_types"] = caps
    node_types = tpl.get("node_types")
    if not isinstance(node_types, dict):
        return
    for definition in node_types.values():
        reqs = definition.get("requirements") if isinstance(definition, dict) else None
        for entry in reqs if isinstance(reqs, list) else []:
            if not isinstance(entry, dict):
                continue
            for rdef in entry.values():
                if isinstance(rdef, dict) and "node" not in rdef:
                    rdef["node"] = "tosca.nodes.Root"


def _accept_integers_as_floats() -> None:
    """tosca-parser's ``validate_float`` refuses ``10`` for a float; YAML has no other way
    to write a whole number and TOSCA 1.3 (3.3.2) allows it. Same function, ints accepted."""
    # Deferred: tosca-parser loads on the first validation (CLI start-up).
    from toscaparser.utils import validateutils

    original = validateutils.validate_float
    if getattr(original, "_accepts_int", False):
        return

    def validate_float(value: Any) -> Any:
        if isinstance(value, int) and not isinstance(value, bool):
            return float(value)
        return original(value)

    validate_float._accepts_int = True  # type: ignore[attr-defined]
    validateutils.validate_float = validate_float


def _linear_graph_create(self: Any) -> None:
    """tosca-parser's ``ToscaGraph._create`` with a name index instead of a nested scan.

    The original compares every requirement with every node template (O(n^2), built twice
    per template): 1,000 nodes cost seconds. Same edges, same order, in O(n).
    """
    by_name: dict[str, Any] = {}
    for tpl in self.nodetemplates:
        by_name.setdefault(tpl.name, tpl)
    for node in self.nodetemplates:
        relation = node.relationships
        if relation:
            for rel, nodetpls in relation.items():
                tpl = by_name.get(nodetpls.name)
                if tpl is not None:
                    self._create_edge(node, tpl, rel)
        self._create_vertex(node)


def _make_entity_type_init() -> Any:
    """``StatefulEntityType.__init__`` with dict membership instead of ``in list(d.keys())``.

    Called tens of thousands of times for a large template; the original builds two lists
    of every type name per call. Same lookups, same errors.
    """
    # Deferred: tosca-parser loads on the first validation (CLI start-up).
    from toscaparser.common.exception import ExceptionCollector, InvalidTypeError
    from toscaparser.unsupportedtype import UnsupportedType

    unsupported = UnsupportedType.validate_type

    def init(self: Any, entitytype: str, prefix: str, custom_def: Any = None) -> None:
        entire_entitytype = entitytype
        if unsupported(entire_entitytype):
            self.defs = None
        else:
            if entitytype.startswith(self.TOSCA + ":"):
                entitytype = entitytype[(len(self.TOSCA) + 1) :]
                entire_entitytype = prefix + entitytype
            if not entitytype.startswith(self.TOSCA):
                entire_entitytype = prefix + entitytype
            if custom_def and entitytype in custom_def:
                self.defs = custom_def[entitytype]
            elif entire_entitytype in self.TOSCA_DEF:
                self.defs = self.TOSCA_DEF[entire_entitytype]
                entitytype = entire_entitytype
            else:
                self.defs = None
                ExceptionCollector.appendException(InvalidTypeError(what=entitytype))
        self.type = entitytype

    return init


def _patch_toscaparser() -> None:
    """Replace two quadratic spots of tosca-parser by equivalent linear code (once)."""
    # Deferred: tosca-parser loads on the first validation (CLI start-up).
    from toscaparser import tpl_relationship_graph
    from toscaparser.elements import statefulentitytype

    _accept_integers_as_floats()
    graph = tpl_relationship_graph.ToscaGraph
    if getattr(graph, "_linear_create", False):
        return
    graph._create = _linear_graph_create
    graph._linear_create = True
    statefulentitytype.StatefulEntityType.__init__ = _make_entity_type_init()


def validate_with_toscaparser(source: Source, node_lines: dict[str, int | None]) -> list[Problem]:
    """Run tosca-parser on the cleaned template; one located Problem per error it reports."""
    # Deferred: tosca-parser loads on the first validation (CLI start-up).
    from toscaparser.common.exception import ExceptionCollector
    from toscaparser.tosca_template import ToscaTemplate

    _patch_toscaparser()
    logging.getLogger("tosca").setLevel(logging.CRITICAL)
    file = str(source.root_file)
    ExceptionCollector.clear()
    try:
        ToscaTemplate(yaml_dict_tpl=clean_copy(source))
    except (KeyError, AttributeError, TypeError, ValueError, IndexError, RecursionError,
            NotImplementedError) as exc:  # fmt: skip
        # tosca-parser's own crash on odd input: report it as a validation error.
        if not ExceptionCollector.exceptionsCaught():
            name = type(exc).__name__
            return [Problem(f"tosca-parser could not process the template ({name}: {exc})",
                            Location(file=file))]  # fmt: skip
    except Exception as other:  # its ValidationError and anything else it raises
        if not ExceptionCollector.exceptionsCaught():
            return [Problem(_clean_message(str(other)), Location(file=file))]
    else:
        return []
    problems = []
    for found in ExceptionCollector.getExceptions():
        message = _clean_message(f"{found}")
        problems.append(Problem(message, _locate(message, source, node_lines)))
    ExceptionCollector.clear()
    return problems


def _clean_message(text: str) -> str:
    return " ".join(text.replace("\t", " ").split())


def _locate(message: str, source: Source, node_lines: dict[str, int | None]) -> Location:
    file = str(source.root_file)
    for name in _QUOTED.findall(message):
        if name in node_lines:
            return Location(file=file, line=node_lines[name], node=name)
    topo = source.tpl.get("topology_template")
    if isinstance(topo, dict):
        for section in ("inputs", "outputs"):
            entries = topo.get(section)
            if isinstance(entries, dict):
                for name in _QUOTED.findall(message):
                    if name in entries:
                        line = getattr(entries, "key_lines", {}).get(name)
                        return Location(file=file, line=line, field=f"{section}.{name}")
    for name in _QUOTED.findall(message):
        for section, entries in source.types.items():
            if name in entries:
                definition, tfile = entries[name]
                return Location(file=str(tfile), line=getattr(definition, "line", None),
                                field=f"{section}.{name}")  # fmt: skip
    return Location(file=file)


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def _neutralise(value: Any) -> Any:
    if isinstance(value, dict):
        if len(value) == 1 and next(iter(value)) in FUNCTION_NAMES:
            return dict(_PLACEHOLDER)
        return {k: _neutralise(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_neutralise(v) for v in value]
    return value
