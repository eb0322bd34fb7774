"""Plans: ``build_plan(model, workflow)`` turns a validated model into a DAG of steps.

The builder is imported lazily: ``orchestrator.tosca.model`` needs ``plan.model`` and the
builder needs the tosca model, so importing it eagerly here would be circular.
"""

from typing import Any

from orchestrator.plan.model import Implementation, Plan, Step

__all__ = ["Implementation", "Plan", "Step", "build_plan", "plan_levels", "plan_to_dict"]


def __getattr__(name: str) -> Any:
    if name in ("build_plan", "plan_levels", "plan_to_dict"):
        from orchestrator.plan import builder

        return getattr(builder, name)
    raise AttributeError(name)
