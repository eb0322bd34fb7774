"""Plans: ``build_plan(model, workflow)`` turns a validated model into a DAG of steps."""

from orchestrator.core import Implementation
from orchestrator.plan.builder import build_plan, plan_levels, plan_to_dict
from orchestrator.plan.model import Plan, Step

__all__ = ["Implementation", "Plan", "Step", "build_plan", "plan_levels", "plan_to_dict"]
