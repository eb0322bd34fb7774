"""Loading, validating and modelling TOSCA service templates.

``load(path, inputs=None) -> ToscaModel`` is the entry point; intrinsic functions live in
``orchestrator.tosca.functions``; ``ModelEvalContext`` evaluates them against a model.
"""

from orchestrator.tosca.context import ModelEvalContext
from orchestrator.tosca.loader import load, type_inputs, type_workflow_inputs
from orchestrator.tosca.model import (
    Activity,
    Capability,
    InputDef,
    NodeTemplate,
    Operation,
    Output,
    Policy,
    Requirement,
    ToscaModel,
    Workflow,
    WorkflowStep,
)

__all__ = [
    "Activity",
    "Capability",
    "InputDef",
    "ModelEvalContext",
    "NodeTemplate",
    "Operation",
    "Output",
    "Policy",
    "Requirement",
    "ToscaModel",
    "Workflow",
    "WorkflowStep",
    "load",
    "type_inputs",
    "type_workflow_inputs",
]
