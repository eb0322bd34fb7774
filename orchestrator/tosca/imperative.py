"""Topology ``workflows:`` (TOSCA 1.3 imperative workflows), parsed and validated by us.

tosca-parser rejects this section, so the loader takes it out before handing the template
over and calls ``parse_workflows`` with the already-built node templates. Checked here:
step targets exist, called operations exist on the target's interfaces, ``on_success`` /
``on_failure`` name existing steps, the success graph has no cycle, set_state names a TOSCA
node state, inline / delegate name a known workflow, and workflow inputs are well typed.
"""

from __future__ import annotations

import graphlib
from collections.abc import Callable
from typing import Any

from orchestrator.errors import Location, Problem
from orchestrator.tosca.model import Activity, InputDef, NodeTemplate, Workflow, WorkflowStep
from orchestrator.tosca.yamlloc import line_of

__all__ = ["NODE_STATES", "parse_workflows", "BUILTIN_WORKFLOWS"]

NODE_STATES = frozenset(
    {
        "initial",
        "creating",
        "created",
        "configuring",
        "configured",
        "starting",
        "started",
        "stopping",
        "stopped",
        "deleting",
        "deleted",
        "error",
        # eFlows4HPC job states used by exec_job (set around submit / run).
        "submitting",
        "submitted",
        "executing",
        "executed",
        "available",
    }
)
BUILTIN_WORKFLOWS = frozenset({"install", "uninstall", "deploy", "undeploy"})
_STEP_KEYS = frozenset(
    {
        "target",
        "target_relationship",
        "operation_host",
        "filter",
        "activities",
        "on_success",
        "on_failure",
        "description",
    }
)
_WF_KEYS = frozenset({"description", "metadata", "inputs", "preconditions", "steps", "outputs"})

InputParser = Callable[[Any, str, Location], dict[str, InputDef]]


def parse_workflows(
    raw: Any,
    nodes: dict[str, NodeTemplate],
    file: str,
    parse_inputs: InputParser,
    parse_value: Callable[[Any, Location, set[str]], Any],
) -> tuple[dict[str, Workflow], list[Problem]]:
    """Parse ``topology_template.workflows``; returns the workflows and every problem found.

    ``parse_inputs(defs, owner, location)`` builds input definitions (topology-input rules);
    ``parse_value(value, location, input_names)`` parses and checks intrinsic functions.
    """
    problems: list[Problem] = []
    if raw is None:
        return {}, problems
    if not isinstance(raw, dict):
        return {}, [
            Problem("'workflows' must be a mapping", Location(file=file, line=line_of(raw)))
        ]
    workflows: dict[str, Workflow] = {}
    for name, wdef in raw.items():
        loc = Location(file=file, line=line_of(raw, name), field=f"workflows.{name}")
        if str(name) in BUILTIN_WORKFLOWS:
            problems.append(Problem(f"workflow name '{name}' is reserved", loc))
            continue
        if not isinstance(wdef, dict):
            problems.append(Problem(f"workflow '{name}' must be a mapping", loc))
            continue
        for key in wdef:
            if key not in _WF_KEYS:
                where = Location(file=file, line=line_of(wdef, key), field=f"workflows.{name}")
                problems.append(Problem(f"workflow '{name}': unknown field '{key}'", where))
        inputs = parse_inputs(wdef.get("inputs"), f"workflow '{name}'", loc)
        wf = Workflow(
            name=str(name),
            description=str(wdef.get("description") or ""),
            inputs=inputs,
            metadata=dict(wdef["metadata"]) if isinstance(wdef.get("metadata"), dict) else {},
            location=loc,
        )
        workflows[wf.name] = wf
        _parse_steps(wf, wdef.get("steps"), wdef, nodes, file, problems, parse_value)
    for wf in workflows.values():
        _check_references(wf, workflows, file, problems)
    return workflows, problems


def _parse_steps(
    wf: Workflow,
    raw_steps: Any,
    wdef: Any,
    nodes: dict[str, NodeTemplate],
    file: str,
    problems: list[Problem],
    parse_value: Callable[[Any, Location, set[str]], Any],
) -> None:
    wloc = Location(file=file, line=line_of(wdef, "steps") or wf.location.line)
    if not isinstance(raw_steps, dict) or not raw_steps:
        problems.append(Problem(f"workflow '{wf.name}' has no steps", wloc))
        return
    input_names = set(wf.inputs)
    for sname, sdef in raw_steps.items():
        field_name = f"workflows.{wf.name}.steps.{sname}"
        loc = Location(file=file, line=line_of(raw_steps, sname), field=field_name)
        if not isinstance(sdef, dict):
            problems.append(Problem(f"step '{sname}' must be a mapping", loc))
            continue
        for key in sdef:
            if key not in _STEP_KEYS:
                kloc = Location(file=file, line=line_of(sdef, key), field=field_name)
                problems.append(Problem(f"step '{sname}': unknown field '{key}'", kloc))
        target = sdef.get("target")
        tloc = Location(file=file, line=line_of(sdef, "target") or loc.line, field=field_name)
        if not isinstance(target, str) or not target:
            problems.append(Problem(f"step '{sname}' needs a target node", tloc))
            target = ""
        elif target not in nodes:
            problems.append(Problem(f"step '{sname}' targets unknown node '{target}'", tloc))
        rel = sdef.get("target_relationship")
        if rel is not None and (
            not isinstance(rel, str) or (target in nodes and nodes[target].requirement(rel) is None)
        ):
            rloc = Location(file=file, line=line_of(sdef, "target_relationship"), field=field_name)
            problems.append(
                Problem(
                    f"step '{sname}': target_relationship {rel!r} is not a requirement "
                    f"of '{target}'",
                    rloc,
                )  # fmt: skip
            )
        step = WorkflowStep(
            name=str(sname),
            target=target,
            target_relationship=sdef.get("target_relationship"),
            operation_host=sdef.get("operation_host"),
            on_success=_names(sdef.get("on_success")),
            on_failure=_names(sdef.get("on_failure")),
            location=loc,
        )
        acts = sdef.get("activities")
        aloc = Location(file=file, line=line_of(sdef, "activities") or loc.line, field=field_name)
        if not isinstance(acts, list) or not acts:
            problems.append(Problem(f"step '{sname}' needs a non-empty list of activities", aloc))
            acts = []
        for act in acts:
            activity = _parse_activity(act, step, nodes.get(target), aloc, problems)
            if activity is not None:
                activity.inputs = parse_value(activity.inputs, aloc, input_names)
                step.activities.append(activity)
        for key in ("on_success", "on_failure"):
            value = sdef.get(key)
            if value is not None and not _is_names(value):
                kloc = Location(file=file, line=line_of(sdef, key), field=field_name)
                problems.append(Problem(f"step '{sname}': {key} must be a step name or list", kloc))
        wf.steps[step.name] = step


def _parse_activity(
    act: Any, step: WorkflowStep, node: NodeTemplate | None, loc: Location, problems: list[Problem]
) -> Activity | None:
    if not isinstance(act, dict) or len(act) != 1:
        problems.append(Problem(f"step '{step.name}': an activity must have exactly one key", loc))
        return None
    ((kind, value),) = act.items()
    if kind == "set_state":
        if not isinstance(value, str) or not value.strip():
            problems.append(Problem(f"step '{step.name}': set_state needs a state name", loc))
            return None
        # States outside the normative list (and the eFlows4HPC job states) are accepted, as
        # the other orchestrators do: workflows use their own (e.g. "failed").
        return Activity(kind="set_state", state=value)
    if kind == "call_operation":
        inputs: dict[str, Any] = {}
        if isinstance(value, dict):
            inputs = _inputs_of(value, step, loc, problems)
            value = value.get("operation")
        if not isinstance(value, str) or value.count(".") < 1:
            problems.append(
                Problem(f"step '{step.name}': call_operation needs 'Interface.operation'", loc)
            )
            return None
        iface, _, op = value.rpartition(".")
        if (
            node is not None
            and step.target_relationship is None
            and node.operation(iface, op) is None
        ):
            problems.append(
                Problem(
                    f"step '{step.name}': node '{node.name}' has no operation "
                    f"'{op}' on interface '{iface}'",
                    loc,
                )
            )
            return None
        return Activity(kind="call_operation", operation=value, inputs=inputs)
    if kind in ("delegate", "inline"):
        inputs = {}
        if isinstance(value, dict):
            inputs = _inputs_of(value, step, loc, problems)
            value = value.get("workflow")
        if not isinstance(value, str) or not value:
            problems.append(Problem(f"step '{step.name}': {kind} needs a workflow name", loc))
            return None
        return Activity(kind=kind, workflow=value, inputs=inputs)
    problems.append(Problem(f"step '{step.name}': unknown activity '{kind}'", loc))
    return None


def _check_references(
    wf: Workflow, workflows: dict[str, Workflow], file: str, problems: list[Problem]
) -> None:
    graph: dict[str, set[str]] = {name: set() for name in wf.steps}
    for step in wf.steps.values():
        for key, targets in (("on_success", step.on_success), ("on_failure", step.on_failure)):
            for t in targets:
                if t not in wf.steps:
                    problems.append(
                        Problem(
                            f"step '{step.name}': {key} names unknown step '{t}'", step.location
                        )
                    )
                elif key == "on_success":
                    graph[t].add(step.name)
        for act in step.activities:
            if act.kind == "inline" and act.workflow not in workflows:
                problems.append(
                    Problem(
                        f"step '{step.name}': inline of unknown workflow '{act.workflow}'",
                        step.location,
                    )
                )
            if act.kind == "delegate" and act.workflow not in BUILTIN_WORKFLOWS | set(workflows):
                problems.append(
                    Problem(
                        f"step '{step.name}': delegate to unknown workflow '{act.workflow}'",
                        step.location,
                    )
                )
    try:
        graphlib.TopologicalSorter(graph).prepare()
    except graphlib.CycleError as exc:
        cycle = " -> ".join(str(s) for s in exc.args[1])
        problems.append(Problem(f"workflow '{wf.name}' has a cycle: {cycle}", wf.location))
    _check_inline_cycles(wf, workflows, problems)


def _check_inline_cycles(
    wf: Workflow, workflows: dict[str, Workflow], problems: list[Problem]
) -> None:
    seen: list[str] = []

    def visit(name: str) -> bool:
        if name in seen:
            return True
        seen.append(name)
        w = workflows.get(name)
        for step in w.steps.values() if w else []:
            for act in step.activities:
                if act.kind == "inline" and act.workflow and visit(act.workflow):
                    return True
        seen.pop()
        return False

    if visit(wf.name):
        problems.append(Problem(f"workflow '{wf.name}' inlines itself", wf.location))


def _inputs_of(
    value: dict[str, Any], step: WorkflowStep, loc: Location, problems: list[Problem]
) -> dict[str, Any]:
    inputs = value.get("inputs")
    if inputs is None:
        return {}
    if not isinstance(inputs, dict):
        problems.append(Problem(f"step '{step.name}': activity inputs must be a mapping", loc))
        return {}
    return dict(inputs)


def _names(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [str(v) for v in value if isinstance(v, str)]
    return []


def _is_names(value: Any) -> bool:
    return isinstance(value, str) or (
        isinstance(value, list) and all(isinstance(v, str) for v in value)
    )
