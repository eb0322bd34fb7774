"""The resolved, typed view of a service template that plans and the engine work from.

Built by ``orchestrator.tosca.load``. Values keep intrinsic functions as objects
(``orchestrator.tosca.functions``) to be evaluated at run time. Interface operations are the
merge of the type hierarchy's definitions (root first) and the template's own.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from orchestrator.core import Implementation
from orchestrator.errors import Location

__all__ = [
    "Activity",
    "Capability",
    "InputDef",
    "Operation",
    "Output",
    "Policy",
    "Requirement",
    "ToscaModel",
    "NodeTemplate",
    "Workflow",
    "WorkflowStep",
    "PYCOMPSS_JOB",
    "TYPE_ALIASES",
    "canonical_type",
    "interface_short_name",
]

PYCOMPSS_JOB = "eflows4hpc.nodes.PyCOMPSsJob"
# Upstream spellings accepted as the same type.
TYPE_ALIASES = {"eflows4hpc.nodes.PyCOMPSJob": PYCOMPSS_JOB}

STANDARD = "tosca.interfaces.node.lifecycle.Standard"
RUNNABLE = "tosca.interfaces.node.lifecycle.Runnable"
CONFIGURE = "tosca.interfaces.relationship.Configure"


def canonical_type(type_name: str) -> str:
    """The canonical name of a type (aliases such as ``PyCOMPSJob`` -> ``PyCOMPSsJob``)."""
    return TYPE_ALIASES.get(type_name, type_name)


def interface_short_name(name: str) -> str:
    """``tosca.interfaces.node.lifecycle.Standard`` -> ``Standard``; short names unchanged."""
    return name.rsplit(".", 1)[-1]


@dataclass
class InputDef:
    """A topology (or workflow) input: its definition and, once given, its typed value."""

    name: str
    type: str = "string"
    description: str = ""
    required: bool = True
    default: Any = None
    has_default: bool = False
    constraints: list[dict[str, Any]] = field(default_factory=list)
    entry_schema: dict[str, Any] | None = None
    location: Location = Location()


@dataclass
class Operation:
    """One interface operation after merging type and template definitions."""

    name: str
    interface: str  # the interface's name on the node (e.g. "Standard", "Runnable")
    interface_type: str | None = None
    implementation: Implementation | None = None
    inputs: dict[str, Any] = field(default_factory=dict)
    outputs: dict[str, Any] = field(default_factory=dict)
    description: str = ""
    location: Location = Location()


@dataclass
class Requirement:
    """A resolved requirement: ``target`` is the node template it points to."""

    name: str
    target: str
    relationship: str = "tosca.relationships.DependsOn"  # the relationship type
    relationship_template: str | None = None
    capability: str | None = None
    relationship_types: list[str] = field(default_factory=list)  # relationship type ancestry
    properties: dict[str, Any] = field(default_factory=dict)  # of the relationship
    attributes: dict[str, Any] = field(default_factory=dict)  # type defaults, then written
    interfaces: dict[str, dict[str, Operation]] = field(default_factory=dict)
    location: Location = Location()

    @property
    def is_hosted_on(self) -> bool:
        return "tosca.relationships.HostedOn" in self.relationship_types


@dataclass
class Capability:
    name: str
    type: str
    properties: dict[str, Any] = field(default_factory=dict)
    attributes: dict[str, Any] = field(default_factory=dict)


@dataclass
class NodeTemplate:
    """A node template with its type hierarchy, values and merged interfaces."""

    name: str
    type: str  # as written (aliases preserved)
    types: list[str]  # canonical ancestry, most specific first, ending in tosca.nodes.Root
    properties: dict[str, Any] = field(default_factory=dict)
    attributes: dict[str, Any] = field(default_factory=dict)
    requirements: list[Requirement] = field(default_factory=list)
    capabilities: dict[str, Capability] = field(default_factory=dict)
    interfaces: dict[str, dict[str, Operation]] = field(default_factory=dict)
    interface_types: dict[str, str] = field(default_factory=dict)  # name -> interface type
    description: str = ""
    metadata: dict[str, Any] = field(default_factory=dict)
    location: Location = Location()
    artifacts: dict[str, str] = field(default_factory=dict)  # name -> local file path
    # interface name -> the operations its type declares (implemented or not)
    declared_operations: dict[str, frozenset[str]] = field(default_factory=dict)

    def is_a(self, type_name: str) -> bool:
        """Whether this node's type is ``type_name`` or derives from it (aliases accepted)."""
        return canonical_type(type_name) in self.types

    def operation(self, interface: str, name: str) -> Operation | None:
        """The operation ``name`` of ``interface`` (name, short name or full type name).

        An operation the interface *type* declares and the node does not implement is an
        Operation without implementation (TOSCA 1.3: calling it does nothing)."""
        iname = self._interface_name(interface)
        ops = self.interfaces.get(iname) if iname is not None else None
        op = None if ops is None else ops.get(name)
        if op is None and iname is not None and name in self.declared_operations.get(iname, ()):
            return Operation(
                name=name, interface=iname, interface_type=self.interface_types.get(iname)
            )
        return op

    def _interface_name(self, interface: str) -> str | None:
        if interface in self.interfaces or interface in self.interface_types:
            return interface
        for iname, itype in self.interface_types.items():
            if interface in (itype, interface_short_name(itype)):
                return iname
        return None

    def requirement(self, name: str) -> Requirement | None:
        """The first requirement called ``name``."""
        return next((r for r in self.requirements if r.name == name), None)

    @property
    def run_in_standard_mode(self) -> bool:
        return self.properties.get("run_in_standard_mode") is True


@dataclass
class RelationshipTemplate:
    """A topology ``relationship_templates`` entry: its values as written (type defaults,
    then the template's), which ``get_property`` / ``get_attribute`` read by its name."""

    name: str
    type: str
    properties: dict[str, Any] = field(default_factory=dict)
    attributes: dict[str, Any] = field(default_factory=dict)


@dataclass
class Output:
    name: str
    value: Any
    description: str = ""
    location: Location = Location()


@dataclass
class Policy:
    """A policy: ``eflows4hpc.policies.Urgency`` / ``EventTrigger`` or any other type."""

    name: str
    type: str
    types: list[str]
    targets: list[str] = field(default_factory=list)
    properties: dict[str, Any] = field(default_factory=dict)
    triggers: dict[str, Any] = field(default_factory=dict)  # TOSCA 1.3 triggers, raw
    description: str = ""
    location: Location = Location()

    def is_a(self, type_name: str) -> bool:
        return type_name in self.types


@dataclass
class Activity:
    """One activity of a workflow step.

    ``kind`` is call_operation (``operation`` = "Interface.op"), set_state (``state``),
    delegate (``workflow``) or inline (``workflow``); ``inputs`` for call_operation/inline.
    """

    kind: str
    operation: str | None = None
    state: str | None = None
    workflow: str | None = None
    inputs: dict[str, Any] = field(default_factory=dict)


@dataclass
class WorkflowStep:
    name: str
    target: str
    activities: list[Activity] = field(default_factory=list)
    on_success: list[str] = field(default_factory=list)
    on_failure: list[str] = field(default_factory=list)
    target_relationship: str | None = None
    operation_host: str | None = None
    location: Location = Location()


@dataclass
class Workflow:
    """An imperative workflow of ``topology_template.workflows`` (validated by us)."""

    name: str
    description: str = ""
    inputs: dict[str, InputDef] = field(default_factory=dict)
    steps: dict[str, WorkflowStep] = field(default_factory=dict)
    metadata: dict[str, Any] = field(default_factory=dict)
    location: Location = Location()


@dataclass
class ToscaModel:
    """A validated service template."""

    path: Path  # the root template file
    base_dir: Path  # where relative artifacts (playbooks, files) are resolved
    version: str
    description: str = ""
    metadata: dict[str, Any] = field(default_factory=dict)
    inputs: dict[str, InputDef] = field(default_factory=dict)
    input_values: dict[str, Any] = field(default_factory=dict)  # typed: given or default
    nodes: dict[str, NodeTemplate] = field(default_factory=dict)
    relationship_templates: dict[str, RelationshipTemplate] = field(default_factory=dict)
    outputs: dict[str, Output] = field(default_factory=dict)
    policies: dict[str, Policy] = field(default_factory=dict)
    workflows: dict[str, Workflow] = field(default_factory=dict)
    node_types: dict[str, dict[str, Any]] = field(default_factory=dict)  # merged definitions
    # The type registry the model was checked against (orchestrator.tosca.types.TypeRegistry);
    # used to type input values given later (workflow inputs, deploy-time inputs).
    types: Any = field(default=None, repr=False, compare=False)

    def node(self, name: str) -> NodeTemplate:
        """The node template ``name`` (KeyError if absent)."""
        return self.nodes[name]

    def nodes_of_type(self, type_name: str) -> list[NodeTemplate]:
        return [n for n in self.nodes.values() if n.is_a(type_name)]

    def policies_of_type(self, type_name: str) -> list[Policy]:
        return [p for p in self.policies.values() if p.is_a(type_name)]

    def host_of(self, node_name: str) -> str | None:
        """The node ``node_name`` is hosted on (HostedOn and derived), or None."""
        for req in self.nodes[node_name].requirements:
            if req.is_hosted_on:
                return req.target
        return None

    def missing_inputs(self) -> list[str]:
        """Required inputs with neither a value nor a default."""
        return [
            name for name, d in self.inputs.items() if d.required and name not in self.input_values
        ]

    @property
    def workflow_names(self) -> list[str]:
        return ["install", "uninstall", *self.workflows]
