"""``ModelEvalContext``: evaluate intrinsic functions against a model plus run-time lookups.

The engine builds one per step: the node being run (SELF), the relationship ends when the
step is a relationship operation (SOURCE / TARGET), and callables for what only run time
knows (attributes, operation outputs, secrets). Values found in the model may hold
functions themselves; they are evaluated in the context of the node that owns them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from orchestrator.errors import ExecutionError, Location
from orchestrator.tosca import functions as fn
from orchestrator.tosca.model import Policy, RelationshipTemplate, Requirement, ToscaModel

__all__ = ["AttributesLookup", "ModelEvalContext", "OutputsLookup", "SecretsLookup"]

# (node, attribute name) -> value; raise KeyError when the attribute is not set.
AttributesLookup = Callable[[str, str], Any]
# (node, interface, operation, output name) -> value; raise KeyError when unknown.
OutputsLookup = Callable[[str, str, str, str], Any]
# secret path -> secret value (ideally a ``Secret`` str that masks itself; a plain str is
# wrapped into ``functions.SecretValue``, and concat / join / token keep the secret kind).
SecretsLookup = Callable[[str], Any]

_MAX_DEPTH = 50


class ModelEvalContext:
    """An ``EvalContext`` over a ``ToscaModel``.

    ``inputs`` (e.g. typed workflow inputs) take precedence over the model's input values.
    Missing values raise ``ExecutionError`` located at the node.
    """

    def __init__(
        self,
        model: ToscaModel,
        node_name: str | None,
        attributes_lookup: AttributesLookup | None = None,
        secrets_lookup: SecretsLookup | None = None,
        outputs_lookup: OutputsLookup | None = None,
        *,
        source: str | None = None,
        target: str | None = None,
        inputs: Mapping[str, Any] | None = None,
        relationship: Requirement | None = None,
        _depth: int = 0,
    ) -> None:
        self.model = model
        self.node = node_name
        self.source = source
        self.target = target
        # In a relationship operation: its requirement. SELF is the source node; a value
        # that node lacks is looked up on the relationship (its properties and attributes).
        self.relationship = relationship
        self.inputs = dict(inputs or {})
        self._attributes = attributes_lookup
        self._secrets = secrets_lookup
        self._outputs = outputs_lookup
        self._depth = _depth

    def for_node(self, node_name: str) -> ModelEvalContext:
        """The same lookups with SELF = ``node_name`` (for values owned by another node)."""
        if self._depth >= _MAX_DEPTH:
            raise self._error("function references nest too deeply (a cycle?)")
        return ModelEvalContext(
            self.model,
            node_name,
            self._attributes,
            self._secrets,
            self._outputs,
            inputs=self.inputs,
            _depth=self._depth + 1,
        )

    def evaluate(self, value: Any) -> Any:
        return fn.evaluate(value, self)

    # -- EvalContext ---------------------------------------------------------------------
    def resolve_entity(self, entity: str) -> str:
        if entity == "SELF":
            resolved = self.node
        elif entity == "SOURCE":
            resolved = self.source
        elif entity == "TARGET":
            resolved = self.target
        elif entity == "HOST":
            resolved = self.model.host_of(self.node) if self.node in self.model.nodes else None
        else:
            resolved = entity
        known = (
            resolved in self.model.nodes
            or resolved in self.model.relationship_templates
            or self._policy(resolved) is not None
        )
        if resolved is None or not known:
            raise self._error(f"cannot resolve entity '{entity}'")
        return resolved

    def get_input(self, name: str) -> Any:
        if name in self.inputs:
            return self.inputs[name]
        if name in self.model.input_values:
            return self.model.input_values[name]
        raise self._error(f"input '{name}' has no value")

    def get_property(self, node: str, path: Sequence[Any]) -> Any:
        return self._lookup(node, list(path), attribute=False)

    def get_attribute(self, node: str, path: Sequence[Any]) -> Any:
        return self._lookup(node, list(path), attribute=True)

    def get_operation_output(self, node: str, interface: str, operation: str, name: str) -> Any:
        if self._outputs is not None:
            try:
                return self._outputs(node, interface, operation, name)
            except KeyError:
                pass
        raise self._error(f"no output '{name}' of {node}.{interface}.{operation} yet")

    def get_artifact(self, node: str, name: str) -> str:
        artifacts = self.model.nodes[node].artifacts
        if name not in artifacts:
            known = ", ".join(sorted(artifacts)) or "none"
            raise self._error(f"node '{node}' has no artifact '{name}' (artifacts: {known})")
        return artifacts[name]

    def get_secret(self, path: str) -> Any:
        if self._secrets is None:
            raise self._error(f"no secret store to resolve get_secret '{path}'")
        return self._secrets(path)

    # -- internals -----------------------------------------------------------------------
    def _lookup(self, node_name: str, path: list[Any], attribute: bool) -> Any:
        what = "attribute" if attribute else "property"
        if not path:
            raise self._error(f"get_{what} needs a name")
        rel = self.model.relationship_templates.get(node_name)
        if rel is not None and node_name not in self.model.nodes:
            return self._relationship_template_value(rel, path, attribute)
        policy = self._policy(node_name) if node_name not in self.model.nodes else None
        if policy is not None:
            # A policy's property, by the policy's name or type (as xOpera reads them).
            if path[0] not in policy.properties:
                raise self._error(f"policy '{policy.name}' has no property '{path[0]}'")
            return _walk(self.evaluate(policy.properties[path[0]]), path[1:], self)
        try:
            return self._node_value(node_name, path, attribute)
        except ExecutionError:
            req = self.relationship
            if req is None or node_name not in (self.source, self.target):
                raise
            values = self._relationship_values(req, attribute)
            if path[0] not in values:
                raise
            return _walk(self.for_node(node_name).evaluate(values[path[0]]), path[1:], self)

    def _policy(self, name: str | None) -> Policy | None:
        if name is None:
            return None
        found = self.model.policies.get(name)
        if found is not None:
            return found
        return next((p for p in self.model.policies.values() if p.is_a(name) or p.type == name),
                    None)  # fmt: skip

    def _relationship_values(self, req: Requirement, attribute: bool) -> dict[str, Any]:
        """The values of a requirement's relationship: its template's, then its own."""
        values: dict[str, Any] = {}
        rt = self.model.relationship_templates.get(req.relationship_template or "")
        if rt is not None:
            values.update(rt.properties)
            if attribute:
                values.update(rt.attributes)
        values.update(req.properties)
        if attribute:
            values.update(req.attributes)
        return values

    def _relationship_template_value(
        self, rel: RelationshipTemplate, path: list[Any], attribute: bool
    ) -> Any:
        """A relationship template's value: what its operations set at run time (they run
        on its source or target nodes), else its attributes / properties as written."""
        first = path[0]
        if attribute and self._attributes is not None:
            for node in self.model.nodes.values():
                for req in node.requirements:
                    if req.relationship_template != rel.name:
                        continue
                    for end in (node.name, req.target):
                        try:
                            return _walk(self._attributes(end, first), path[1:], self)
                        except KeyError:
                            pass
        holders = (rel.attributes, rel.properties) if attribute else (rel.properties,)
        for values in holders:
            if first in values:
                return _walk(self.evaluate(values[first]), path[1:], self)
        what = "attribute" if attribute else "property"
        raise self._error(f"relationship template '{rel.name}' has no {what} '{first}'")

    def _node_value(self, node_name: str, path: list[Any], attribute: bool) -> Any:
        what = "attribute" if attribute else "property"
        node = self.model.nodes[node_name]
        first, rest = path[0], path[1:]
        if attribute and self._attributes is not None:
            try:
                return _walk(self._attributes(node_name, first), rest, self)
            except KeyError:
                pass
        holder = node.attributes if attribute else node.properties
        if first in holder:
            value = self.for_node(node_name).evaluate(holder[first])
            return _walk(value, rest, self)
        if attribute and first in node.properties:  # attributes reflect properties
            return _walk(self.for_node(node_name).evaluate(node.properties[first]), rest, self)
        req = node.requirement(first) if isinstance(first, str) else None
        if req is not None and rest:
            target = self.model.nodes[req.target]
            cap = target.capabilities.get(rest[0])
            if cap is not None and len(rest) > 1 and rest[1] in cap.properties:
                return _walk(self.for_node(req.target).evaluate(cap.properties[rest[1]]),
                             rest[2:], self)  # fmt: skip
            return self._lookup(req.target, rest, attribute)
        cap = node.capabilities.get(first) if isinstance(first, str) else None
        if cap is not None and rest:
            # A capability's attributes, then its properties (attributes reflect them).
            holders = (cap.attributes, cap.properties) if attribute else (cap.properties,)
            for values in holders:
                if rest[0] in values:
                    value = self.for_node(node_name).evaluate(values[rest[0]])
                    return _walk(value, rest[1:], self)
        raise self._error(f"node '{node_name}' has no {what} '{first}'")

    def _error(self, message: str) -> ExecutionError:
        return ExecutionError(message, Location(node=self.node))


def _walk(value: Any, path: Sequence[Any], ctx: ModelEvalContext) -> Any:
    for key in path:
        try:
            value = value[key]
        except (KeyError, IndexError, TypeError) as exc:
            raise ctx._error(f"no {key!r} in the value") from exc
    return value
