"""What the engine needs to know about a deployment beyond the plan: a ``Binding``.

The engine orders and runs steps; a binding turns one step into an executor request at the
last moment: it evaluates the step's inputs (intrinsic functions see the ``RunState``, i.e.
attributes and operation outputs written by earlier steps), says where the operation runs,
finds a node's ``Runnable.cancel``, the job time limit, and evaluates topology outputs.
``ModelBinding`` (``orchestrator.engine.model_binding``) binds a loaded TOSCA model;
``PlainBinding`` binds a bare plan (tests, plans whose inputs are already values).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from orchestrator.core import HostSpec
from orchestrator.plan.model import Implementation, Step
from orchestrator.redaction import Redactor

__all__ = ["Binding", "PlainBinding", "RunState", "short_interface"]


def short_interface(name: str | None) -> str:
    """``tosca.interfaces.node.lifecycle.Runnable`` -> ``Runnable``."""
    return (name or "").rsplit(".", 1)[-1]


@dataclass
class RunState:
    """What earlier steps produced, as functions evaluated later must see it.

    ``attributes``: ``{node: {name: value}}`` (operation outputs are copied here);
    ``operation_outputs``: ``{(node, interface short name, operation): {name: value}}``;
    ``node_states``: ``{node: state}``; ``workflow_inputs``: the execution's inputs.
    Mutated only by the engine's main thread.
    """

    attributes: dict[str, dict[str, Any]] = field(default_factory=dict)
    operation_outputs: dict[tuple[str, str, str], dict[str, Any]] = field(default_factory=dict)
    node_states: dict[str, str] = field(default_factory=dict)
    workflow_inputs: dict[str, Any] = field(default_factory=dict)

    def attribute(self, node: str, name: str, default: Any = None) -> Any:
        return self.attributes.get(node, {}).get(name, default)

    def operation_output(self, node: str, interface: str, operation: str, name: str) -> Any:
        return self.operation_outputs.get((node, short_interface(interface), operation), {}).get(
            name
        )


class Binding(Protocol):
    """Turns plan steps into executor requests for one deployment (see module docstring).

    Every method may raise a ``ToscaError`` (e.g. an input that cannot be evaluated); the
    engine records it as the step's failure. Secret values met while evaluating must be
    registered with ``redactor`` so they never reach logs or state in clear.
    """

    redactor: Redactor

    def evaluate_inputs(self, step: Step, state: RunState) -> dict[str, Any]: ...

    def request_context(self, step: Step, state: RunState) -> dict[str, Any]: ...

    def artifact(self, step: Step) -> str: ...

    def host(self, step: Step) -> HostSpec: ...

    def output_names(self, step: Step) -> list[str]: ...

    def cancel_step(self, node: str) -> Step | None: ...

    def job_timeout(self, step: Step) -> float | None: ...

    def outputs(self, state: RunState) -> dict[str, Any]: ...


class PlainBinding:
    """A binding for plans whose inputs are values (or objects with ``evaluate(state)``).

    ``cancel_steps`` maps a node to its ``Runnable.cancel`` step; ``topology_outputs``
    maps an output name to a callable of the run state.
    """

    def __init__(
        self,
        *,
        cancel_steps: dict[str, Step] | None = None,
        topology_outputs: dict[str, Callable[[RunState], Any]] | None = None,
        job_timeouts: dict[str, float] | None = None,
        context: dict[str, Any] | None = None,
    ) -> None:
        self.redactor = Redactor()
        self._cancel = cancel_steps or {}
        self._outputs = topology_outputs or {}
        self._job_timeouts = job_timeouts or {}
        self._context = context or {}

    def evaluate_inputs(self, step: Step, state: RunState) -> dict[str, Any]:
        def value(v: Any) -> Any:
            if hasattr(v, "evaluate"):
                return v.evaluate(state)
            if callable(v):
                return v(state)
            if isinstance(v, dict):
                return {k: value(x) for k, x in v.items()}
            if isinstance(v, list):
                return [value(x) for x in v]
            return v

        return {k: value(v) for k, v in step.inputs.items()}

    def request_context(self, step: Step, state: RunState) -> dict[str, Any]:
        node = step.node or ""
        return {**self._context, "attributes": dict(state.attributes.get(node, {}))}

    def artifact(self, step: Step) -> str:
        impl: Implementation | None = step.implementation
        return impl.primary if impl is not None else ""

    def host(self, step: Step) -> HostSpec:
        return HostSpec()

    def output_names(self, step: Step) -> list[str]:
        return list(step.outputs)

    def cancel_step(self, node: str) -> Step | None:
        return self._cancel.get(node)

    def job_timeout(self, step: Step) -> float | None:
        if step.node in self._job_timeouts:
            return self._job_timeouts[step.node]
        return step.implementation.timeout if step.implementation else None

    def outputs(self, state: RunState) -> dict[str, Any]:
        return {k: fn(state) for k, fn in self._outputs.items()}
