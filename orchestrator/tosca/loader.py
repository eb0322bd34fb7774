"""``load(path, inputs)``: read, validate and resolve a service template into a ToscaModel.

Stages: read the files (``sources``) -> our own checks with file:line locations while the
model is built (types, properties, requirements, interfaces, functions, policies,
workflows) -> tosca-parser on a cleaned copy (no ``workflows:``, no policy ``triggers``,
functions replaced by neutral placeholders) for everything else it knows -> typed inputs.
Every finding becomes one ``Problem``; all of them are raised together in one
``ValidationError``. Bad input values raise ``UsageError``.
"""

from __future__ import annotations

import graphlib
from pathlib import Path
from typing import Any

from orchestrator.core import Implementation
from orchestrator.errors import Location, Problem, UsageError, ValidationError
from orchestrator.tosca import functions as fn
from orchestrator.tosca.imperative import parse_workflows
from orchestrator.tosca.implementations import implementation_problem
from orchestrator.tosca.model import (
    CONFIGURE,
    RUNNABLE,
    STANDARD,
    Capability,
    InputDef,
    NodeTemplate,
    Operation,
    Output,
    Policy,
    RelationshipTemplate,
    Requirement,
    ToscaModel,
)
from orchestrator.tosca.sources import TYPE_SECTIONS, Source, read_source
from orchestrator.tosca.types import TypeRegistry
from orchestrator.tosca.values import (
    apply_defaults,
    check_constraints,
    check_value,
    check_value_at,
    coerce_input,
    type_exists,
)
from orchestrator.tosca.yamlloc import line_of

__all__ = ["load", "type_inputs", "type_workflow_inputs"]

VERSIONS = (
    "tosca_simple_yaml_1_0",
    "tosca_simple_yaml_1_1",
    "tosca_simple_yaml_1_2",
    "tosca_simple_yaml_1_3",
)
_TOP_KEYS = frozenset(
    {
        "tosca_definitions_version",
        "namespace",
        "metadata",
        "description",
        "dsl_definitions",
        "repositories",
        "imports",
        "topology_template",
        *TYPE_SECTIONS,
    }
)
_TOPOLOGY_KEYS = frozenset(
    {
        "description",
        "inputs",
        "node_templates",
        "relationship_templates",
        "groups",
        "policies",
        "outputs",
        "substitution_mappings",
        "workflows",
    }
)
_NODE_KEYS = frozenset(
    {
        "type",
        "description",
        "metadata",
        "directives",
        "properties",
        "attributes",
        "requirements",
        "capabilities",
        "interfaces",
        "artifacts",
        "node_filter",
        "copy",
    }
)
_INPUT_KEYS = frozenset(
    {"type", "description", "required", "default", "constraints", "entry_schema", "status",
     "metadata", "key_schema", "value"}
)  # fmt: skip
_ENTITIES = fn.ENTITY_KEYWORDS
_SINGULAR = {"properties": "property", "attributes": "attribute"}
_DEFAULT_IFACE_TYPES = {"Standard": STANDARD, "Runnable": RUNNABLE, "Configure": CONFIGURE}


def load(path: str | Path, inputs: dict[str, Any] | None = None) -> ToscaModel:
    """Load and validate the template at ``path`` (file, directory or CSAR).

    ``inputs`` (name -> value, text values are converted to the declared type) fill the
    topology inputs. Raises ``ValidationError`` (every problem, located) for an invalid
    template and ``UsageError`` for a missing path or bad input values.
    """
    source = read_source(path)
    builder = _Builder(source)
    try:
        model = builder.build()
    except RecursionError as exc:
        raise ValidationError(
            [Problem("template nested too deeply", Location(file=builder.file))]
        ) from exc
    if builder.problems:
        raise ValidationError(_dedupe(builder.problems))
    # Deferred: tosca-parser loads on the first validation (CLI start-up).
    from orchestrator.tosca.bridge import validate_with_toscaparser

    problems = validate_with_toscaparser(source, builder.nodes_raw_lines())
    if problems:
        raise ValidationError(problems)
    model.input_values = type_inputs(model, inputs or {}, builder.reg)
    return model


def type_inputs(
    model: ToscaModel, given: dict[str, Any], reg: TypeRegistry | None = None
) -> dict[str, Any]:
    """Typed values of the topology inputs: ``given`` (converted, checked) over defaults.

    Raises ``UsageError`` naming the input for unknown names and invalid values.
    """
    reg = reg or model.types or TypeRegistry({})
    return _type_values(model.inputs, given, reg, "input")


def type_workflow_inputs(model: ToscaModel, workflow: str, given: dict[str, Any]) -> dict[str, Any]:
    """Typed values of a custom workflow's inputs (defaults filled in); UsageError if bad."""
    wf = model.workflows[workflow]
    reg = model.types or TypeRegistry({})
    return _type_values(wf.inputs, given, reg, "workflow input")


def check_required_workflow_inputs(
    model: ToscaModel, workflow: str, values: dict[str, Any]
) -> None:
    """``UsageError`` naming the required inputs of ``workflow`` missing from ``values``.

    Checked before an execution is recorded: a missing input is the caller's mistake, not a
    step failure halfway through the run. (A plan, a preview, does not need them.)"""
    wf = model.workflows.get(workflow)
    if wf is None:
        return
    missing = sorted(n for n, d in wf.inputs.items() if d.required and n not in values)
    if missing:
        raise UsageError(
            f"workflow '{workflow}': required input(s) not given: {', '.join(missing)}"
        )


def _type_values(
    defs: dict[str, InputDef], given: dict[str, Any], reg: TypeRegistry, what: str
) -> dict[str, Any]:
    unknown = sorted(set(given) - set(defs))
    if unknown:
        known = ", ".join(sorted(defs)) or "none"
        raise UsageError(f"unknown {what}(s): {', '.join(unknown)} (known: {known})")
    values: dict[str, Any] = {}
    for name, d in defs.items():
        if name in given:
            value, err = coerce_input(reg, name, d.type, given[name])
            # A value that is not even of the declared type gets that one message; type and
            # constraint checks on it would only repeat the same complaint.
            errors = (
                [err]
                if err
                else check_value(reg, value, d.type, d.entry_schema, f"{what} '{name}'")
            )
            if not errors:
                errors = check_constraints(value, d.constraints, f"{what} '{name}'")
            if errors:
                raise UsageError("; ".join(errors))
            values[name] = value
        elif d.has_default:
            values[name] = d.default
    return values


def _dedupe(problems: list[Problem]) -> list[Problem]:
    seen: set[str] = set()
    out = []
    for p in problems:
        key = str(p)
        if key not in seen:
            seen.add(key)
            out.append(p)
    return out


class _Builder:
    """Builds the model and collects problems; one instance per load."""

    def __init__(self, source: Source) -> None:
        self.src = source
        self.reg = TypeRegistry(source.types)
        self.problems: list[Problem] = list(source.problems)
        self.file = str(source.root_file)
        self.tpl = source.tpl
        self.input_names: set[str] = set()
        self.nodes: dict[str, NodeTemplate] = {}
        self._raw_nodes: Any = {}
        self._names: set[str] = set()
        self._relationship_names: set[str] = set()
        self._policy_refs: set[str] = set()  # policy names and types (xOpera reads these)
        self._impl_checked: dict[tuple[str, str | None, tuple[str, ...]], str | None] = {}

    # -- helpers -------------------------------------------------------------------------
    def problem(self, message: str, container: Any = None, key: Any = None, **where: Any) -> None:
        file = where.pop("file", None) or self.file
        line = line_of(container, key) if container is not None else None
        self.problems.append(Problem(message, Location(file=file, line=line, **where)))

    def nodes_raw_lines(self) -> dict[str, int | None]:
        raw = self._raw_nodes if isinstance(self._raw_nodes, dict) else {}
        return {str(k): line_of(raw, k) for k in raw}

    def parse_value(self, value: Any, loc: Location, input_names: set[str] | None = None) -> Any:
        """Parse intrinsic functions in ``value``; bad ones become problems at ``loc``."""
        try:
            parsed = fn.parse(value)
        except fn.FunctionSyntaxError as exc:
            self.problems.append(Problem(str(exc), loc))
            return value
        names = self.input_names if input_names is None else input_names | self.input_names
        for f in fn.functions_in(parsed):
            if isinstance(f, fn.GetInput) and f.input_name not in names:
                self.problems.append(Problem(f"get_input of unknown input '{f.input_name}'", loc))
            entity = getattr(f, "entity", None)
            known = (
                entity in self._node_names
                or entity in self._relationship_names
                or entity in self._policy_refs
            )
            if entity is not None and entity not in _ENTITIES and not known:
                self.problems.append(Problem(f"{f.name} refers to unknown node '{entity}'", loc))
        return parsed

    @property
    def _node_names(self) -> set[str]:
        return self._names

    def _set_raw_nodes(self, raw: Any) -> None:
        self._raw_nodes = raw
        self._names = {k for k in raw if isinstance(k, str)} if isinstance(raw, dict) else set()

    # -- top level -----------------------------------------------------------------------
    def build(self) -> ToscaModel:
        tpl = self.tpl
        version = tpl.get("tosca_definitions_version")
        if version is None:
            self.problem("missing required field 'tosca_definitions_version'", tpl)
        elif isinstance(version, str) and version.startswith("tosca_2_"):
            self.problem(
                f"TOSCA 2.0 ({version}) is not supported yet: this toolkit reads TOSCA "
                f"Simple Profile 1.0-1.3 ({', '.join(VERSIONS)})",
                tpl,
                "tosca_definitions_version",
            )
            raise ValidationError(self.problems)
        elif version not in VERSIONS:
            self.problem(
                f"unsupported tosca_definitions_version {version!r} (use one of "
                f"{', '.join(VERSIONS)})",
                tpl,
                "tosca_definitions_version",
            )
        for key in tpl:
            if key not in _TOP_KEYS:
                self.problem(f"unknown top-level field '{key}'", tpl, key)
        self._check_custom_types()
        topo = tpl.get("topology_template")
        model = ToscaModel(
            path=self.src.root_file,
            base_dir=self.src.base_dir,
            version=str(version),
            description=str(tpl.get("description") or "").strip(),
            metadata=dict(tpl.get("metadata") or {})
            if isinstance(tpl.get("metadata"), dict)
            else {},
        )
        if topo is None:
            self.problem("missing 'topology_template'", tpl)
            return model
        if not isinstance(topo, dict):
            self.problem("'topology_template' must be a mapping", tpl, "topology_template")
            return model
        for key in topo:
            if key not in _TOPOLOGY_KEYS:
                self.problem(f"unknown field '{key}' in topology_template", topo, key)
        model.inputs = self.parse_inputs(topo.get("inputs"), "topology", Location(file=self.file))
        self.input_names = set(model.inputs)
        self._set_raw_nodes(topo.get("node_templates"))
        rels = topo.get("relationship_templates")
        if isinstance(rels, dict):
            self._relationship_names = {r for r in rels if isinstance(r, str)}
        for entry in topo.get("policies") or []:
            for pname, pdef in entry.items() if isinstance(entry, dict) else ():
                self._policy_refs.add(str(pname))
                if isinstance(pdef, dict) and isinstance(pdef.get("type"), str):
                    self._policy_refs.add(pdef["type"])
        model.nodes = self._nodes(topo)
        model.relationship_templates = self._relationship_templates(rels)
        self.nodes = model.nodes
        self._resolve_requirements(model, topo)
        model.outputs = self._outputs(topo.get("outputs"))
        groups = topo.get("groups")
        self._group_names = (
            {g for g in groups if isinstance(g, str)} if isinstance(groups, dict) else set()
        )
        model.policies = self._policies(topo.get("policies"))
        model.workflows, wf_problems = parse_workflows(
            topo.get("workflows"), model.nodes, self.file, self.parse_inputs, self.parse_value
        )
        self.problems += wf_problems
        model.node_types = {
            name: self.reg.get("node_types", name) for name in self.reg.defs["node_types"]
        }
        model.input_values = {n: d.default for n, d in model.inputs.items() if d.has_default}
        model.types = self.reg
        return model

    def _check_custom_types(self) -> None:
        for (section, name), file in self.reg.files.items():
            d = self.reg.get(section, name)
            f = str(file)
            parent = d.get("derived_from")
            if parent is not None and not self.reg.has(section, str(parent)):
                self.problem(
                    f"type '{name}' derives from unknown type '{parent}'",
                    d,
                    "derived_from",
                    file=f,
                )
            elif self.reg.derivation_cycle(section, name):
                self.problem(f"type '{name}' derives from itself", d, "derived_from", file=f)
            for key in ("properties", "attributes"):
                defs = d.get(key)
                if not isinstance(defs, dict):
                    continue
                for pname, pdef in defs.items():
                    ptype = pdef.get("type") if isinstance(pdef, dict) else None
                    if not type_exists(self.reg, ptype):
                        what = _SINGULAR[key]
                        self.problem(
                            f"{what} '{pname}' of type '{name}' has unknown type {ptype!r}",
                            defs,
                            pname,
                            file=f,
                        )

    # -- inputs --------------------------------------------------------------------------
    def parse_inputs(self, raw: Any, owner: str, loc: Location) -> dict[str, InputDef]:
        if raw is None:
            return {}
        if not isinstance(raw, dict):
            self.problems.append(Problem(f"{owner} inputs must be a mapping", loc))
            return {}
        out: dict[str, InputDef] = {}
        for name, d in raw.items():
            where = Location(file=loc.file, line=line_of(raw, name), field=f"inputs.{name}")
            if not isinstance(d, dict):
                self.problems.append(Problem(f"input '{name}' must be a mapping", where))
                continue
            for key in d:
                if key not in _INPUT_KEYS:
                    self.problems.append(Problem(f"input '{name}': unknown field '{key}'", where))
            constraints = d.get("constraints") or []
            if not isinstance(constraints, list):
                self.problems.append(Problem(f"input '{name}': constraints must be a list", where))
                constraints = []
            itype = d.get("type", "string")
            if not type_exists(self.reg, itype):
                self.problems.append(Problem(f"input '{name}' has unknown type {itype!r}", where))
                itype = "string"
            idef = InputDef(
                name=str(name),
                type=str(itype),
                description=str(d.get("description") or ""),
                required=d.get("required", True) is not False,
                default=d.get("default"),
                has_default="default" in d,
                constraints=list(constraints),
                entry_schema=d.get("entry_schema"),
                location=where,
            )
            if idef.has_default:
                msgs = check_value(self.reg, idef.default, idef.type, idef.entry_schema,
                                   f"default of input '{name}'")  # fmt: skip
                msgs += check_constraints(idef.default, idef.constraints, f"input '{name}'")
                self.problems += [Problem(m, where) for m in msgs]
            out[idef.name] = idef
        return out

    # -- node templates ------------------------------------------------------------------
    def _nodes(self, topo: Any) -> dict[str, NodeTemplate]:
        raw = topo.get("node_templates")
        if raw is None or not isinstance(raw, dict) or not raw:
            self.problem("topology_template needs at least one node template", topo,
                         "node_templates" if "node_templates" in topo else None)  # fmt: skip
            return {}
        nodes: dict[str, NodeTemplate] = {}
        for name, nt in raw.items():
            if not isinstance(name, str) or not name:
                where = Location(file=self.file, line=line_of(raw, name))
                self.problems.append(Problem(f"node template name {name!r} is not a string", where))
                continue
            node = self._node(name, nt, raw)
            if node is not None:
                nodes[node.name] = node
        return nodes

    def _node(self, name: str, nt: Any, raw: Any) -> NodeTemplate | None:
        loc = Location(file=self.file, line=line_of(raw, name), node=name)
        if not isinstance(nt, dict):
            self.problems.append(Problem("a node template must be a mapping", loc))
            return None
        for key in nt:
            if key not in _NODE_KEYS:
                self.problems.append(Problem(f"unknown field '{key}'", _at(loc, line_of(nt, key))))
        ntype = nt.get("type")
        if not isinstance(ntype, str) or not ntype:
            self.problems.append(Problem("missing required field 'type'", loc))
            return None
        if not self.reg.has("node_types", ntype):
            self.problems.append(
                Problem(f"unknown node type '{ntype}'", _at(loc, line_of(nt, "type"), "type"))
            )
            return None
        node = NodeTemplate(
            name=name,
            type=ntype,
            types=self.reg.ancestry("node_types", ntype),
            description=str(nt.get("description") or ""),
            metadata=dict(nt.get("metadata") or {}) if isinstance(nt.get("metadata"), dict) else {},
            location=loc,
        )
        artifacts = self._artifacts(ntype, nt)
        node.artifacts = {
            n: str((self.src.base_dir / f).resolve()) if "://" not in f else f
            for n, (f, _t) in artifacts.items()
        }
        node.properties = self._properties("node_types", ntype, nt, "properties", loc)
        node.attributes = self._attributes(ntype, nt, loc)
        node.capabilities = self._capabilities(ntype, nt, loc)
        node.interfaces, node.interface_types = self._interfaces(
            "node_types", ntype, nt.get("interfaces"), nt, loc, artifacts
        )
        node.declared_operations = {
            iname: frozenset(self.reg.interface_operations(itype))
            for iname, itype in node.interface_types.items()
            if itype
        }
        return node

    def _properties(
        self, section: str, tname: str, tpl: Any, key: str, loc: Location
    ) -> dict[str, Any]:
        defs = self.reg.merged_map(section, tname, key)
        given = tpl.get(key) if isinstance(tpl, dict) else None
        if given is None:
            given = {}
        if not isinstance(given, dict):
            self.problems.append(Problem(f"'{key}' must be a mapping", _at(loc, line_of(tpl, key))))
            given = {}
        values: dict[str, Any] = {}
        for pname, pdef in defs.items():
            if isinstance(pdef, dict) and "default" in pdef:
                values[pname] = pdef["default"]
        for pname, value in given.items():
            where = _at(loc, line_of(given, pname), str(pname))
            pdef = defs.get(pname)
            if not isinstance(pdef, dict):
                known = ", ".join(sorted(defs)) or "none"
                self.problems.append(
                    Problem(
                        f"unknown {_SINGULAR[key]} '{pname}' for type '{tname}' (known: {known})",
                        where,
                    )  # fmt: skip
                )
                continue
            parsed = self.parse_value(value, where)
            ptype = str(pdef.get("type", "string"))
            found = check_value_at(self.reg, parsed, ptype, pdef.get("entry_schema"), str(pname))
            if not found:
                found = [((), m) for m in check_constraints(parsed, pdef.get("constraints"), pname)]
            for path, message in found:
                self.problems.append(Problem(message, _at(where, _deepest_line(value, path))))
            values[str(pname)] = apply_defaults(self.reg, parsed, ptype)
        if key == "properties":
            for pname, pdef in defs.items():
                required = not isinstance(pdef, dict) or pdef.get("required", True) is not False
                if required and pname not in values:
                    self.problems.append(
                        Problem(f"missing required property '{pname}'", _at(loc, None, pname))
                    )
        return values

    def _attributes(self, ntype: str, nt: Any, loc: Location) -> dict[str, Any]:
        defs = self.reg.merged_map("node_types", ntype, "attributes")
        values = {
            k: d["default"] for k, d in defs.items() if isinstance(d, dict) and "default" in d
        }
        given = nt.get("attributes") or {}
        if not isinstance(given, dict):
            self.problems.append(Problem("'attributes' must be a mapping", loc))
            return values
        for name, value in given.items():
            values[str(name)] = self.parse_value(value, _at(loc, line_of(given, name), str(name)))
        return values

    def _relationship_templates(self, raw: Any) -> dict[str, RelationshipTemplate]:
        found: dict[str, RelationshipTemplate] = {}
        if not isinstance(raw, dict):
            return found
        for name, rt in raw.items():
            rtype = rt.get("type") if isinstance(rt, dict) else None
            if not isinstance(rtype, str) or not self.reg.has("relationship_types", rtype):
                continue  # reported where a requirement uses it
            loc = Location(file=self.file, line=line_of(raw, name), node=str(name))
            defs = self.reg.merged_map("relationship_types", rtype, "attributes")
            attributes = {k: d["default"] for k, d in defs.items()
                          if isinstance(d, dict) and "default" in d}  # fmt: skip
            given = rt.get("attributes")
            if isinstance(given, dict):
                attributes.update({str(k): self.parse_value(v, loc) for k, v in given.items()})
            found[str(name)] = RelationshipTemplate(
                str(name), rtype,
                self._properties("relationship_types", rtype, rt, "properties", loc),
                attributes,
            )  # fmt: skip
        return found

    def _capabilities(self, ntype: str, nt: Any, loc: Location) -> dict[str, Capability]:
        defs = self.reg.merged_map("node_types", ntype, "capabilities")
        caps: dict[str, Capability] = {}
        for cname, cdef in defs.items():
            ctype = cdef if isinstance(cdef, str) else ""
            if isinstance(cdef, dict):
                ctype = cdef.get("type", "")
            caps[str(cname)] = Capability(str(cname), str(ctype))
        given = nt.get("capabilities") or {}
        if not isinstance(given, dict):
            self.problems.append(Problem("'capabilities' must be a mapping", loc))
            return caps
        for cname, cval in given.items():
            where = _at(loc, line_of(given, cname), f"capabilities.{cname}")
            if cname not in caps:
                self.problems.append(Problem(f"unknown capability '{cname}'", where))
                continue
            cap = caps[cname]
            if isinstance(cval, dict) and cap.type and self.reg.has("capability_types", cap.type):
                cap.properties = self._properties(
                    "capability_types", cap.type, cval, "properties", where
                )
                cap.attributes = self._capability_attributes(cap.type, cval, where)
        for cap in caps.values():
            if not cap.attributes and cap.type and self.reg.has("capability_types", cap.type):
                cap.attributes = self._capability_attributes(cap.type, {}, loc)
        return caps

    def _capability_attributes(self, ctype: str, given: Any, loc: Location) -> dict[str, Any]:
        """A capability's attributes: its type's defaults, then the template's values."""
        values: dict[str, Any] = {}
        for aname, adef in self.reg.merged_map("capability_types", ctype, "attributes").items():
            if isinstance(adef, dict) and "default" in adef:
                values[str(aname)] = adef["default"]
        assigned = given.get("attributes") if isinstance(given, dict) else None
        if isinstance(assigned, dict):
            for aname, value in assigned.items():
                values[str(aname)] = self.parse_value(value, loc)
        return values

    def _artifacts(self, ntype: str, nt: Any) -> dict[str, tuple[str, str | None]]:
        arts = dict(self.reg.merged_map("node_types", ntype, "artifacts"))
        if isinstance(nt.get("artifacts"), dict):
            arts.update(nt["artifacts"])
        out: dict[str, tuple[str, str | None]] = {}
        for name, a in arts.items():
            if isinstance(a, str):
                out[str(name)] = (a, None)
            elif isinstance(a, dict) and isinstance(a.get("file"), str):
                out[str(name)] = (a["file"], a.get("type"))
        return out

    # -- interfaces ----------------------------------------------------------------------
    def _interfaces(
        self,
        section: str,
        tname: str,
        given: Any,
        container: Any,
        loc: Location,
        artifacts: dict[str, tuple[str, str | None]],
    ) -> tuple[dict[str, dict[str, Operation]], dict[str, str]]:
        """Merge interface operations: the type chain root first, then the template's."""
        ops: dict[str, dict[str, Operation]] = {}
        itypes: dict[str, str] = {}
        for t in reversed(self.reg.ancestry(section, tname)):
            defs = self.reg.get(section, t).get("interfaces")
            file = self.reg.files.get((section, t))
            from_profile = file is None or file in self.src.profile_files
            base = self.src.base_dir if from_profile else Path(file).parent  # type: ignore[arg-type]
            origin = Location(file=str(file) if file is not None else None, node=loc.node)
            if isinstance(defs, dict):
                for iname, idef in defs.items():
                    self._merge_interface(
                        ops, itypes, str(iname), idef, base, artifacts, None, origin
                    )
        where = _at(loc, line_of(container, "interfaces"), "interfaces")
        if given is not None and not isinstance(given, dict):
            self.problems.append(Problem("'interfaces' must be a mapping", where))
            given = None
        if given is None:
            self._check_implementations(ops, loc)
            return ops, itypes
        for iname, idef in given.items():
            iloc = _at(loc, line_of(given, iname), f"interfaces.{iname}")
            if iname not in itypes and not (isinstance(idef, dict) and idef.get("type")):
                known = ", ".join(sorted(itypes)) or "none"
                self.problems.append(Problem(f"unknown interface '{iname}' (known: {known})", iloc))
                continue
            self._merge_interface(ops, itypes, str(iname), idef, self.src.base_dir, artifacts, iloc)
        self._check_implementations(ops, loc)
        return ops, itypes

    def _check_implementations(self, ops: dict[str, dict[str, Operation]], loc: Location) -> None:
        """Each effective implementation must resolve (playbook file, native module)."""
        for iname, iface in ops.items():
            for opname, op in iface.items():
                impl = op.implementation
                if impl is None:
                    continue
                key = (impl.primary, impl.base_dir, impl.dependencies)
                if key not in self._impl_checked:
                    self._impl_checked[key] = implementation_problem(impl, self.src.base_dir)
                message = self._impl_checked[key]
                if message is not None:
                    where = Location(
                        file=op.location.file or loc.file,
                        line=op.location.line,
                        node=loc.node,
                        operation=f"{iname}.{opname}",
                    )
                    self.problems.append(Problem(message, where))

    def _merge_interface(
        self,
        ops: dict[str, dict[str, Operation]],
        itypes: dict[str, str],
        iname: str,
        idef: Any,
        base: Path,
        artifacts: dict[str, tuple[str, str | None]],
        check_at: Location | None,
        origin: Location | None = None,
    ) -> None:
        """Merge one interface definition; ``check_at`` (a template's) reports unknown
        operations, ``origin`` (a type's file) only locates its implementations."""
        if not isinstance(idef, dict):
            if check_at is not None:
                self.problems.append(Problem(f"interface '{iname}' must be a mapping", check_at))
            return
        itype = str(idef.get("type") or itypes.get(iname) or _DEFAULT_IFACE_TYPES.get(iname, ""))
        if itype and not self.reg.has("interface_types", itype) and check_at is not None:
            self.problems.append(Problem(f"unknown interface type '{itype}'", check_at))
        itypes[iname] = itype
        declared = self.reg.interface_operations(itype) if itype else set()
        iface = ops.setdefault(iname, {})
        entries = {
            k: v
            for k, v in idef.items()
            if k not in ("type", "inputs", "description", "notifications", "operations")
        }
        if isinstance(idef.get("operations"), dict):
            entries.update(idef["operations"])
        shared_inputs = idef.get("inputs") if isinstance(idef.get("inputs"), dict) else {}
        for opname, odef in entries.items():
            at = check_at or origin
            oloc = (
                _at(at, line_of(idef, opname), f"interfaces.{iname}.{opname}")
                if at is not None
                else Location()
            )
            if check_at is not None and opname not in declared and opname not in iface:
                self.problems.append(
                    Problem(f"operation '{opname}' is not declared by interface '{iname}'", oloc)
                )
                continue
            op = iface.get(opname) or Operation(
                name=str(opname), interface=iname, interface_type=itype
            )
            self._merge_operation(op, odef, base, artifacts, oloc)
            iface[str(opname)] = op
        if shared_inputs:
            parsed = self.parse_value(_input_values(shared_inputs), check_at or Location())
            for op in iface.values():
                op.inputs = {**parsed, **op.inputs}

    def _merge_operation(
        self,
        op: Operation,
        odef: Any,
        base: Path,
        artifacts: dict[str, tuple[str, str | None]],
        loc: Location,
    ) -> None:
        if odef is None:
            return
        if isinstance(odef, str):
            op.implementation = self._implementation(odef, base, artifacts, loc)
            op.location = loc
            return
        if not isinstance(odef, dict):
            self.problems.append(Problem(f"operation '{op.name}' must be a string or mapping", loc))
            return
        if "implementation" in odef:
            op.implementation = self._implementation(odef["implementation"], base, artifacts, loc)
        if isinstance(odef.get("inputs"), dict):
            op.inputs = {**op.inputs, **self.parse_value(_input_values(odef["inputs"]), loc)}
        if isinstance(odef.get("outputs"), dict):
            op.outputs = {**op.outputs, **odef["outputs"]}
        if odef.get("description"):
            op.description = str(odef["description"])
        op.location = loc

    def _implementation(
        self, impl: Any, base: Path, artifacts: dict[str, tuple[str, str | None]], loc: Location
    ) -> Implementation | None:
        primary: Any = impl
        atype: str | None = None
        deps: tuple[str, ...] = ()
        timeout: float | None = None
        if isinstance(impl, dict):
            primary = impl.get("primary")
            if isinstance(primary, dict):
                atype = primary.get("type")
                primary = primary.get("file")
            raw_deps = impl.get("dependencies") or []
            if isinstance(raw_deps, list):
                deps = tuple(
                    d if isinstance(d, str) else str((d or {}).get("file", "")) for d in raw_deps
                )
            t = impl.get("timeout")
            timeout = float(t) if isinstance(t, int | float) and not isinstance(t, bool) else None
        if not isinstance(primary, str) or not primary:
            self.problems.append(Problem("an implementation needs a primary artifact", loc))
            return None
        if primary in artifacts:
            primary, atype = artifacts[primary][0], artifacts[primary][1] or atype
        return Implementation(
            primary=primary,
            artifact_type=atype,
            dependencies=deps,
            timeout=timeout,
            base_dir=str(base),
        )

    # -- requirements --------------------------------------------------------------------
    def _resolve_requirements(self, model: ToscaModel, topo: Any) -> None:
        raw = topo.get("node_templates") or {}
        rel_templates = topo.get("relationship_templates") or {}
        if not isinstance(rel_templates, dict):
            self.problem(
                "'relationship_templates' must be a mapping", topo, "relationship_templates"
            )
            rel_templates = {}
        for name, node in model.nodes.items():
            self._node_requirements(model, name, node, raw, rel_templates)
        self._check_requirement_cycles(model)

    def _check_requirement_cycles(self, model: ToscaModel) -> None:
        graph = {name: {r.target for r in n.requirements} for name, n in model.nodes.items()}
        try:
            graphlib.TopologicalSorter(graph).prepare()
        except graphlib.CycleError as exc:
            cycle = [str(s) for s in exc.args[1]]
            first = model.nodes[cycle[0]]
            self.problems.append(
                Problem(f"requirements form a cycle: {' -> '.join(cycle)}", first.location)
            )

    def _node_requirements(
        self, model: ToscaModel, name: str, node: NodeTemplate, raw: Any, rel_templates: Any
    ) -> None:
        reqs = raw[name].get("requirements")
        if reqs is None:
            return
        where = _at(node.location, line_of(raw[name], "requirements"), "requirements")
        if not isinstance(reqs, list):
            self.problems.append(Problem("'requirements' must be a list", where))
            return
        defs = self.reg.merged_requirements(node.type)
        counts: dict[str, int] = {}
        for entry in reqs:
            req = self._requirement(node, entry, defs, rel_templates, where, model)
            if req is not None:
                node.requirements.append(req)
                counts[req.name] = counts.get(req.name, 0) + 1
        for rname, count in counts.items():
            occ = defs.get(rname, {}).get("occurrences")
            upper = occ[1] if isinstance(occ, list) and len(occ) == 2 else 1
            if isinstance(upper, int) and count > upper:
                self.problems.append(
                    Problem(
                        f"requirement '{rname}' used {count} times (at most {upper})", where
                    )  # fmt: skip
                )

    def _requirement(
        self,
        node: NodeTemplate,
        entry: Any,
        defs: dict[str, dict[str, Any]],
        rel_templates: Any,
        where: Location,
        model: ToscaModel,
    ) -> Requirement | None:
        line = line_of(entry) or where.line
        loc = _at(where, line)
        if not isinstance(entry, dict) or len(entry) != 1:
            self.problems.append(Problem("each requirement must be a one-key mapping", loc))
            return None
        ((rname, value),) = entry.items()
        rloc = _at(where, line, f"requirements.{rname}")
        rdef = defs.get(str(rname))
        if rdef is None:
            known = ", ".join(sorted(defs)) or "none"
            self.problems.append(Problem(f"unknown requirement '{rname}' (known: {known})", rloc))
            return None
        spec = {"node": value} if isinstance(value, str) else value
        if not isinstance(spec, dict) or not isinstance(spec.get("node"), str):
            self.problems.append(Problem(f"requirement '{rname}' must name a target node", rloc))
            return None
        target = spec["node"]
        if target not in model.nodes:
            if self.reg.has("node_types", target) or target not in self._node_names:
                self.problems.append(
                    Problem(
                        f"requirement '{rname}' targets unknown node template '{target}'", rloc
                    )  # fmt: skip
                )
            return None
        wanted = rdef.get("node")
        if isinstance(wanted, str) and not model.nodes[target].is_a(wanted):
            self.problems.append(
                Problem(
                    f"requirement '{rname}' needs a node of type '{wanted}', "
                    f"but '{target}' is a '{model.nodes[target].type}'",
                    rloc,
                )
            )
            return None
        return self._relationship(str(rname), target, spec, rdef, rel_templates, rloc, model)

    def _relationship(
        self,
        rname: str,
        target: str,
        spec: dict[str, Any],
        rdef: dict[str, Any],
        rel_templates: Any,
        loc: Location,
        model: ToscaModel,
    ) -> Requirement | None:
        rel = spec.get("relationship", rdef.get("relationship", "tosca.relationships.DependsOn"))
        rel_template: str | None = None
        given_ifaces: Any = None
        props_tpl: Any = {}
        if isinstance(rel, dict):
            given_ifaces = rel.get("interfaces")
            props_tpl = rel
            rel = rel.get("type", rdef.get("relationship", "tosca.relationships.DependsOn"))
        elif isinstance(rel, str) and rel in rel_templates:
            rel_template = rel
            rt = rel_templates[rel] if isinstance(rel_templates[rel], dict) else {}
            rel = rt.get("type", "tosca.relationships.DependsOn")
            given_ifaces = rt.get("interfaces")
            props_tpl = rt
        if isinstance(rel, dict):  # relationship definition in the type: {type: ...}
            rel = rel.get("type", "tosca.relationships.DependsOn")
        if not isinstance(rel, str) or not self.reg.has("relationship_types", rel):
            self.problems.append(Problem(f"unknown relationship type {rel!r}", loc))
            return None
        ifaces, _ = self._interfaces("relationship_types", rel, given_ifaces, props_tpl, loc, {})
        cap = spec.get("capability", rdef.get("capability"))
        # The type's attribute defaults, then the values the relationship template (or the
        # inline relationship) writes: a written value wins over the default.
        attributes = {
            k: d["default"]
            for k, d in self.reg.merged_map("relationship_types", rel, "attributes").items()
            if isinstance(d, dict) and "default" in d
        }
        written = props_tpl.get("attributes") if isinstance(props_tpl, dict) else None
        if isinstance(written, dict):
            attributes.update(written)
        return Requirement(
            name=rname,
            target=target,
            relationship=rel,
            relationship_template=rel_template,
            capability=cap if isinstance(cap, str) else None,
            relationship_types=self.reg.ancestry("relationship_types", rel),
            properties=self._properties("relationship_types", rel, props_tpl, "properties", loc),
            attributes=attributes,
            interfaces=ifaces,
            location=loc,
        )

    # -- outputs and policies ------------------------------------------------------------
    def _outputs(self, raw: Any) -> dict[str, Output]:
        if raw is None:
            return {}
        if not isinstance(raw, dict):
            self.problem("'outputs' must be a mapping", raw)
            return {}
        outs: dict[str, Output] = {}
        for name, d in raw.items():
            loc = Location(file=self.file, line=line_of(raw, name), field=f"outputs.{name}")
            if not isinstance(d, dict) or "value" not in d:
                self.problems.append(Problem(f"output '{name}' needs a 'value'", loc))
                continue
            outs[str(name)] = Output(
                str(name), self.parse_value(d["value"], loc), str(d.get("description") or ""), loc
            )
        return outs

    def _policies(self, raw: Any) -> dict[str, Policy]:
        if raw is None:
            return {}
        if not isinstance(raw, list):
            self.problem("'policies' must be a list of one-key mappings", raw)
            return {}
        policies: dict[str, Policy] = {}
        for entry in raw:
            if not isinstance(entry, dict) or len(entry) != 1:
                where = Location(file=self.file, line=line_of(entry) or line_of(raw))
                self.problems.append(Problem("each policy must be a one-key mapping", where))
                continue
            ((name, pdef),) = entry.items()
            loc = Location(file=self.file, line=line_of(entry, name), field=f"policies.{name}")
            policy = self._policy(str(name), pdef, loc)
            if policy is not None:
                policies[policy.name] = policy
        return policies

    def _policy(self, name: str, pdef: Any, loc: Location) -> Policy | None:
        if not isinstance(pdef, dict):
            self.problems.append(Problem(f"policy '{name}' must be a mapping", loc))
            return None
        ptype = pdef.get("type")
        if not isinstance(ptype, str) or not self.reg.has("policy_types", ptype):
            self.problems.append(Problem(f"policy '{name}' has unknown type {ptype!r}", loc))
            return None
        targets = pdef.get("targets") or []
        if not isinstance(targets, list):
            self.problems.append(Problem(f"policy '{name}': targets must be a list", loc))
            targets = []
        groups: set[str] = getattr(self, "_group_names", set())
        for t in targets:
            if not isinstance(t, str) or (t not in self._node_names and t not in groups):
                self.problems.append(
                    Problem(f"policy '{name}' targets unknown node or group '{t}'", loc)
                )
        triggers = pdef.get("triggers") or {}
        if not isinstance(triggers, dict):
            self.problems.append(Problem(f"policy '{name}': triggers must be a mapping", loc))
            triggers = {}
        for tname, tdef in triggers.items():
            if not isinstance(tdef, dict) or "event" not in tdef or "action" not in tdef:
                self.problems.append(
                    Problem(f"policy '{name}': trigger '{tname}' needs 'event' and 'action'", loc)
                )
        return Policy(
            name=name,
            type=ptype,
            types=self.reg.ancestry("policy_types", ptype),
            targets=[str(t) for t in targets],
            properties=self._properties("policy_types", ptype, pdef, "properties", loc),
            triggers=dict(triggers),
            description=str(pdef.get("description") or ""),
            location=loc,
        )


def _at(loc: Location, line: int | None, field: str | None = None) -> Location:
    """``loc`` moved to ``line`` (when known) with ``field`` set."""
    return Location(
        file=loc.file,
        line=line if line is not None else loc.line,
        column=None,
        node=loc.node,
        operation=loc.operation,
        field=field if field is not None else loc.field,
    )


def _deepest_line(value: Any, path: tuple[Any, ...]) -> int | None:
    """The line of the deepest element of ``path`` found in the located ``value``."""
    best = None
    for key in path:
        line = line_of(value, key) if isinstance(value, dict) else None
        if isinstance(value, list) and isinstance(key, int) and 0 <= key < len(value):
            line = line_of(value[key]) or line_of(value)
        best = line or best
        try:
            value = value[key]
        except (KeyError, IndexError, TypeError):
            break
    return best


def _input_values(inputs: dict[Any, Any]) -> dict[Any, Any]:
    """Operation / interface inputs as values: a 1.3 parameter definition gives its
    ``value`` (else its ``default``), anything else is the value itself."""
    return {
        k: (v.get("value", v.get("default")) if _is_param_def(v) else v) for k, v in inputs.items()
    }


def _is_param_def(value: Any) -> bool:
    """A TOSCA 1.3 operation input *definition* ({type:..., default:...}) rather than a value."""
    return isinstance(value, dict) and "type" in value and set(value) <= {
        "type", "default", "description", "required", "constraints", "entry_schema", "value",
    }  # fmt: skip
