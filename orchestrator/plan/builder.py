"""Turning a model and a workflow name into a Plan (a DAG of steps built with graphlib).

* ``install``: per node create -> pre_configure_source/target -> configure ->
  post_configure_source/target -> start -> add_target/add_source; a node starts once every
  node it requires is done (HostedOn stacks bottom-up, relationship targets first);
  independent branches have no edge between them, so the engine runs them in parallel.
  A node with a Runnable interface and ``run_in_standard_mode: true`` runs its job at the
  start position: ``Runnable.submit`` then ``Runnable.run`` (polled by the engine).
* ``uninstall``: the reverse: remove_target/remove_source -> stop -> delete, sources first.
* any workflow of ``topology_template.workflows``: its steps, with ``on_success`` edges as
  dependencies and ``on_failure`` as failure branches; ``inline`` and ``delegate``
  activities are expanded into the steps they stand for.
"""

from __future__ import annotations

import graphlib
from collections.abc import Iterable
from dataclasses import replace
from typing import Any

from orchestrator.errors import Location, PlanError
from orchestrator.plan.model import CALL_OPERATION, SET_STATE, Plan, Step
from orchestrator.redaction import REDACTED, is_secret_key, redact_structure
from orchestrator.tosca.functions import to_json
from orchestrator.tosca.model import (
    NodeTemplate,
    Operation,
    Requirement,
    ToscaModel,
    Workflow,
    interface_short_name,
)

__all__ = ["build_plan", "plan_levels", "plan_to_dict"]

INSTALL_ALIASES = frozenset({"install", "deploy"})
UNINSTALL_ALIASES = frozenset({"uninstall", "undeploy"})
_MAX_INLINE_DEPTH = 10


def build_plan(
    model: ToscaModel, workflow: str = "install", inputs: dict[str, Any] | None = None
) -> Plan:
    """The plan of ``workflow`` (install, uninstall or a custom workflow name).

    ``inputs`` are the custom workflow's input values (typed and checked against its input
    definitions; defaults filled in). Raises ``PlanError`` for an unknown workflow or a
    dependency cycle and ``UsageError`` for bad workflow inputs.
    """
    if workflow in INSTALL_ALIASES:
        steps = _declarative(model, install=True)
        plan_inputs: dict[str, Any] = {}
    elif workflow in UNINSTALL_ALIASES:
        steps = _declarative(model, install=False)
        plan_inputs = {}
    elif workflow in model.workflows:
        # Deferred: the loader pulls in yaml and the tosca-parser glue (CLI start-up).
        from orchestrator.tosca.loader import type_workflow_inputs

        plan_inputs = type_workflow_inputs(model, workflow, inputs or {})
        steps = _imperative(model, model.workflows[workflow], prefix="", depth=0)
    else:
        known = ", ".join(model.workflow_names)
        raise PlanError(f"unknown workflow '{workflow}' (known: {known})")
    return Plan(workflow=workflow, steps=_topological(steps), inputs=plan_inputs)


# -- declarative ------------------------------------------------------------------------
def _declarative(model: ToscaModel, install: bool) -> list[Step]:
    order = _node_order(model)
    chains: dict[str, list[Step]] = {}
    for name in order:
        node = model.nodes[name]
        chain = _install_chain(model, node) if install else _uninstall_chain(model, node)
        chains[name] = _link(chain)
    # Which nodes must be done before a node starts: its targets (install) or the nodes
    # that require it (uninstall).
    before: dict[str, set[str]] = {name: set() for name in order}
    for name in order:
        for req in model.nodes[name].requirements:
            if install:
                before[name].add(req.target)
            else:
                before[req.target].add(name)
    done: dict[str, frozenset[str]] = {}

    def done_steps(name: str, seen: frozenset[str] = frozenset()) -> frozenset[str]:
        """Step ids marking ``name`` finished (through nodes without steps)."""
        if name in done:
            return done[name]
        if chains[name]:
            result = frozenset({chains[name][-1].id})
        else:
            result = frozenset(s for b in before[name] if b not in seen
                               for s in done_steps(b, seen | {name}))  # fmt: skip
        done[name] = result
        return result

    steps: list[Step] = []
    for name in order:
        chain = chains[name]
        if not chain:
            continue
        deps = sorted({s for b in before[name] for s in done_steps(b)})
        chain[0] = replace(chain[0], depends_on=tuple(dict.fromkeys([*chain[0].depends_on, *deps])))
        steps.extend(chain)
    return steps


def _node_order(model: ToscaModel) -> list[str]:
    graph = {name: {r.target for r in n.requirements} for name, n in model.nodes.items()}
    sorter = graphlib.TopologicalSorter(graph)
    try:
        return list(sorter.static_order())
    except graphlib.CycleError as exc:
        cycle = " -> ".join(str(s) for s in exc.args[1])
        raise PlanError(f"requirements form a cycle: {cycle}") from exc


def _install_chain(model: ToscaModel, node: NodeTemplate) -> list[Step]:
    chain = _ops(node, "Standard", ["create"])
    chain += _rel_ops(model, node, ["pre_configure_source", "pre_configure_target"])
    chain += _ops(node, "Standard", ["configure"])
    chain += _rel_ops(model, node, ["post_configure_source", "post_configure_target"])
    if node.run_in_standard_mode and _has_job(node):
        chain += _ops(node, "Runnable", ["submit", "run"])
    else:
        chain += _ops(node, "Standard", ["start"])
    chain += _rel_ops(model, node, ["add_target", "add_source"])
    return chain


def _uninstall_chain(model: ToscaModel, node: NodeTemplate) -> list[Step]:
    chain = _rel_ops(model, node, ["remove_target", "remove_source"])
    chain += _ops(node, "Standard", ["stop", "delete"])
    return chain


def _has_job(node: NodeTemplate) -> bool:
    ops = [node.operation("Runnable", name) for name in ("submit", "run")]
    return all(op is not None and op.implementation is not None for op in ops)


def _ops(node: NodeTemplate, interface: str, names: Iterable[str]) -> list[Step]:
    steps = []
    for name in names:
        op = node.operation(interface, name)
        if op is not None and op.implementation is not None:
            steps.append(_op_step(node.name, op))
    return steps


def _op_step(node: str, op: Operation, step_id: str | None = None, **extra: Any) -> Step:
    short = interface_short_name(op.interface)
    return Step(
        id=step_id or f"{node}.{short}.{op.name}",
        activity=CALL_OPERATION,
        node=node,
        interface=short,
        operation=op.name,
        inputs=dict(op.inputs),
        implementation=op.implementation,
        outputs=dict(op.outputs),
        **extra,
    )


def _rel_ops(model: ToscaModel, node: NodeTemplate, names: list[str]) -> list[Step]:
    steps = []
    for req in node.requirements:
        for name in names:
            op = _rel_operation(req, name)
            if op is None or op.implementation is None:
                continue
            runs_on = req.target if name.endswith("_target") else node.name
            step_id = f"{node.name}.{req.name}.{req.target}.Configure.{name}"
            steps.append(
                _op_step(
                    runs_on,
                    op,
                    step_id,
                    relationship=req.name,
                    source=node.name,
                    target=req.target,
                )
            )
    return steps


def _rel_operation(req: Requirement, name: str) -> Operation | None:
    for ops in req.interfaces.values():
        if name in ops:
            return ops[name]
    return None


def _link(chain: list[Step]) -> list[Step]:
    """Each step of a node's chain depends on the previous one."""
    out: list[Step] = []
    for step in chain:
        if out:
            step = replace(step, depends_on=(*step.depends_on, out[-1].id))
        out.append(step)
    return out


# -- imperative -------------------------------------------------------------------------
def _imperative(model: ToscaModel, wf: Workflow, prefix: str, depth: int) -> list[Step]:
    """Steps of ``wf``; ids are ``prefix + step name`` (``.N`` per extra activity)."""
    if depth > _MAX_INLINE_DEPTH:
        raise PlanError(f"workflow '{wf.name}' inlines too deeply")
    expanded: dict[str, list[Step]] = {}
    for step in wf.steps.values():
        expanded[step.name] = _expand_step(model, wf, step, prefix, depth)
    firsts = {name: _entry_ids(steps) for name, steps in expanded.items()}
    lasts = {name: _exit_ids(steps) for name, steps in expanded.items()}
    preds: dict[str, list[str]] = {name: [] for name in wf.steps}
    for step in wf.steps.values():
        for succ in step.on_success:
            preds[succ].extend(lasts[step.name])
    out: list[Step] = []
    for step in wf.steps.values():
        steps = expanded[step.name]
        fail_targets = tuple(t for f in step.on_failure for t in firsts[f])
        entry = set(firsts[step.name])
        for i, s in enumerate(steps):
            if s.id in entry and preds[step.name]:
                s = replace(s, depends_on=tuple(dict.fromkeys([*s.depends_on, *preds[step.name]])))
            if fail_targets:
                s = replace(s, on_failure=tuple(dict.fromkeys([*s.on_failure, *fail_targets])))
            steps[i] = s
        out.extend(steps)
    return out


def _expand_step(model: ToscaModel, wf: Workflow, step: Any, prefix: str, depth: int) -> list[Step]:
    node = model.nodes.get(step.target)
    if node is None:
        raise PlanError(f"workflow '{wf.name}' step '{step.name}' targets unknown node")
    many = len(step.activities) > 1
    chain: list[Step] = []
    for i, act in enumerate(step.activities, start=1):
        sid = f"{prefix}{step.name}" + (f".{i}" if many else "")
        if act.kind == SET_STATE:
            new = [Step(id=sid, activity=SET_STATE, node=node.name, target_state=act.state,
                        workflow=wf.name)]  # fmt: skip
        elif act.kind == CALL_OPERATION:
            new = [_call_step(node, act, sid, wf, step)]
        elif act.kind == "inline":
            inner = model.workflows[act.workflow or ""]
            new = _imperative(model, inner, prefix=f"{sid}.", depth=depth + 1)
        else:  # delegate: the node's own declarative install / uninstall
            install = act.workflow not in UNINSTALL_ALIASES
            ops = _install_chain(model, node) if install else _uninstall_chain(model, node)
            new = [replace(s, id=f"{sid}.{s.id}") for s in ops]
        if not new:
            continue
        new = _link_blocks(chain, new)
        chain.extend(new)
    return chain


def _call_step(node: NodeTemplate, act: Any, sid: str, wf: Workflow, wstep: Any) -> Step:
    iface, _, opname = (act.operation or "").rpartition(".")
    if wstep.target_relationship:
        req = node.requirement(wstep.target_relationship)
        rel_op = _rel_operation(req, opname) if req is not None else None
        if req is None or rel_op is None:
            raise PlanError(
                f"workflow '{wf.name}' step '{wstep.name}': no relationship operation "
                f"{act.operation} on requirement '{wstep.target_relationship}'",
                Location(node=node.name, operation=act.operation),
            )
        runs_on = req.target if opname.endswith("_target") else node.name
        step = _op_step(runs_on, rel_op, sid, relationship=req.name, source=node.name,
                        target=req.target)  # fmt: skip
        return replace(step, inputs={**step.inputs, **act.inputs}) if act.inputs else step
    op = node.operation(iface, opname)
    if op is None:
        raise PlanError(
            f"workflow '{wf.name}' step '{wstep.name}': no operation {act.operation}",
            Location(node=node.name, operation=act.operation),
        )
    step = _op_step(node.name, op, sid)
    if act.inputs:
        step = replace(step, inputs={**step.inputs, **act.inputs})
    return step


def _link_blocks(chain: list[Step], new: list[Step]) -> list[Step]:
    """Make the entry steps of ``new`` depend on the exit steps of ``chain``."""
    if not chain:
        return new
    exits = _exit_ids(chain)
    entries = set(_entry_ids(new))
    return [
        replace(s, depends_on=tuple(dict.fromkeys([*s.depends_on, *exits])))
        if s.id in entries
        else s
        for s in new
    ]


def _entry_ids(steps: list[Step]) -> list[str]:
    """Steps of a block that start it: no dependency inside it, not a failure branch."""
    ids = {s.id for s in steps}
    failure = {t for s in steps for t in s.on_failure}
    return [s.id for s in steps if not any(d in ids for d in s.depends_on) and s.id not in failure]


def _exit_ids(steps: list[Step]) -> list[str]:
    """Steps that end a block on its success path (failure branches excluded)."""
    needed = {d for s in steps for d in s.depends_on}
    failure = _failure_only(steps)
    return [s.id for s in steps if s.id not in needed and s.id not in failure]


def _failure_only(steps: list[Step]) -> set[str]:
    """Steps reachable only through an on_failure edge (and their successors)."""
    result = {t for s in steps for t in s.on_failure}
    changed = True
    while changed:
        changed = False
        for s in steps:
            if s.id not in result and s.depends_on and all(d in result for d in s.depends_on):
                result.add(s.id)
                changed = True
    return result


# -- ordering and output ----------------------------------------------------------------
def _topological(steps: list[Step]) -> list[Step]:
    by_id: dict[str, Step] = {}
    for s in steps:
        if s.id in by_id:
            raise PlanError(f"duplicate step id '{s.id}'")
        by_id[s.id] = s
    sorter: graphlib.TopologicalSorter[str] = graphlib.TopologicalSorter()
    for s in steps:
        sorter.add(s.id, *s.depends_on)
        for t in s.on_failure:
            sorter.add(t, s.id)
    try:
        order = list(sorter.static_order())
    except graphlib.CycleError as exc:
        raise PlanError(f"plan has a cycle: {' -> '.join(exc.args[1])}") from exc
    missing = [sid for sid in order if sid not in by_id]
    if missing:
        raise PlanError(f"steps depend on unknown steps: {', '.join(missing)}")
    return [by_id[sid] for sid in order]


def plan_levels(plan: Plan) -> list[list[Step]]:
    """Steps grouped by depth: level N needs only steps of levels < N."""
    level: dict[str, int] = {}
    failure_preds: dict[str, list[str]] = {}
    for s in plan.steps:
        for t in s.on_failure:
            failure_preds.setdefault(t, []).append(s.id)
    for s in plan.steps:  # already topological
        preds = [*s.depends_on, *failure_preds.get(s.id, ())]
        level[s.id] = 1 + max((level[p] for p in preds if p in level), default=-1)
    out: list[list[Step]] = []
    for s in plan.steps:
        while len(out) <= level[s.id]:
            out.append([])
        out[level[s.id]].append(s)
    return out


def _literal_secrets_hidden(value: Any, secret: bool = False) -> Any:
    """Step inputs with the literal strings under secret-named keys as ``***``; functions
    (``get_secret: path``, ``get_input: name``) stay: they show where a value comes from."""
    if isinstance(value, dict):
        if len(value) == 1 and _is_function_name(str(next(iter(value)))):
            return value
        return {
            k: _literal_secrets_hidden(v, secret or is_secret_key(str(k))) for k, v in value.items()
        }
    if isinstance(value, list):
        return [_literal_secrets_hidden(v, secret) for v in value]
    if secret and isinstance(value, str) and value:
        return REDACTED
    return value


def _is_function_name(name: str) -> bool:
    return name.startswith("get_") or name in ("concat", "join", "token")


def plan_to_dict(plan: Plan) -> dict[str, Any]:
    """The JSON form of a plan (functions in their TOSCA form, secrets as paths only)."""
    steps = []
    for s in plan.steps:
        entry: dict[str, Any] = {
            "id": s.id,
            "node": s.node,
            "interface": s.interface,
            "operation": s.operation,
            "activity": s.activity,
            "depends_on": list(s.depends_on),
            "inputs": _literal_secrets_hidden(to_json(s.inputs)),
        }
        if s.on_failure:
            entry["on_failure"] = list(s.on_failure)
        if s.target_state is not None:
            entry["target_state"] = s.target_state
        if s.implementation is not None:
            entry["implementation"] = s.implementation.primary
        if s.relationship is not None:
            entry.update(relationship=s.relationship, source=s.source, target=s.target)
        steps.append(entry)
    # Secret-named values (``api_password``, ``vault_id``...) are shown as ``***``: a plan is
    # printed, logged and pasted into tickets.
    inputs = redact_structure(to_json(plan.inputs))
    return {"workflow": plan.workflow, "inputs": inputs, "steps": steps}
