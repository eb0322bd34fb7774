"""Plans are data: a DAG of steps that ``tosca plan -o json`` prints and the engine runs.

A step is one activity on one node (or relationship). Inputs may still hold intrinsic
function objects (``orchestrator.tosca.functions``); the engine evaluates them at run time,
just before the step runs, so they see attributes written by earlier steps.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from orchestrator.core.implementation import Implementation

# Activities (TOSCA 1.3 imperative workflows, plus what the declarative install/uninstall use).
CALL_OPERATION = "call_operation"
SET_STATE = "set_state"
DELEGATE = "delegate"
INLINE = "inline"
ACTIVITIES = (CALL_OPERATION, SET_STATE, DELEGATE, INLINE)


@dataclass(frozen=True)
class Step:
    """One node of the plan DAG.

    ``id`` is unique in the plan, ``<node>.<interface short name>.<operation>`` for
    operation calls (e.g. ``job.Runnable.submit``),
    ``<source>.<requirement>.<target>.Configure.<operation>`` for relationship operations,
    ``<node>.state.<state>`` for set_state,
    or the workflow's own step name (suffixed ``.N`` when one workflow step has several
    activities). ``depends_on`` lists step ids that must succeed first; ``on_failure`` lists
    step ids to run instead of the dependents when this step fails (custom workflows).
    """

    id: str
    activity: str
    node: str | None = None
    interface: str | None = None
    operation: str | None = None
    inputs: dict[str, Any] = field(default_factory=dict)
    depends_on: tuple[str, ...] = ()
    on_failure: tuple[str, ...] = ()
    implementation: Implementation | None = None
    outputs: dict[str, Any] = field(default_factory=dict)
    target_state: str | None = None
    relationship: str | None = None
    workflow: str | None = None  # for delegate / inline activities
    # Relationship operations: the requirement's two ends (``node`` is where it runs:
    # the source for *_source operations, the target for *_target ones).
    source: str | None = None
    target: str | None = None


@dataclass
class Plan:
    """A workflow turned into a DAG of steps, in a topological order."""

    workflow: str
    steps: list[Step]
    inputs: dict[str, Any] = field(default_factory=dict)

    def step(self, step_id: str) -> Step:
        for s in self.steps:
            if s.id == step_id:
                return s
        raise KeyError(step_id)
