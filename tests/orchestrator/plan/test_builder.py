"""Plan ordering: declarative install / uninstall and custom imperative workflows."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from orchestrator.errors import PlanError, UsageError
from orchestrator.plan import build_plan, plan_levels, plan_to_dict
from orchestrator.tosca import load

HEADER = """\
tosca_definitions_version: tosca_simple_yaml_1_3
imports: [eflows4hpc]
node_types:
  t.App:
    derived_from: tosca.nodes.Root
    requirements:
      - host:
          capability: tosca.capabilities.Container
          relationship: tosca.relationships.HostedOn
          occurrences: [0, 1]
    interfaces:
      Standard:
        create: create.yaml
        configure: configure.yaml
        start: start.yaml
        stop: stop.yaml
        delete: delete.yaml
  t.Host:
    derived_from: tosca.nodes.Root
    requirements:
      - host:
          capability: tosca.capabilities.Container
          relationship: tosca.relationships.HostedOn
          occurrences: [0, 1]
    capabilities:
      host: {type: tosca.capabilities.Container}
    interfaces:
      Standard:
        create: create.yaml
topology_template:
  node_templates:
"""


def node(name: str, *deps: str, type_: str = "t.App", host: str | None = None) -> str:
    text = f"    {name}:\n      type: {type_}\n"
    reqs = [f"        - dependency: {d}\n" for d in deps]
    if host:
        reqs.append(f"        - host: {host}\n")
    if reqs:
        text += "      requirements:\n" + "".join(reqs)
    return text


def model_of(tmp_path: Path, body: str, extra: str = ""):
    path = tmp_path / "t.yaml"
    text = HEADER + body + extra
    path.write_text(text)
    # The playbooks the template names must exist (checked at validate time).
    for playbook in set(re.findall(r":\s+(\w+\.yaml)\s*$", text, re.MULTILINE)):
        (tmp_path / playbook).write_text("- hosts: all\n  tasks: []\n")
    return load(path)


def deps(plan, step_id: str) -> set[str]:
    return set(plan.step(step_id).depends_on)


def position(plan) -> dict[str, int]:
    return {s.id: i for i, s in enumerate(plan.steps)}


def assert_before(plan, first: str, second: str) -> None:
    pos = position(plan)
    assert pos[first] < pos[second], f"{first} should come before {second}"


def test_chain_runs_operations_in_lifecycle_order(tmp_path: Path) -> None:
    plan = build_plan(model_of(tmp_path, node("a") + node("b", "a") + node("c", "b")))
    assert [s.id for s in plan.steps] == [
        f"{n}.Standard.{op}" for n in "abc" for op in ("create", "configure", "start")
    ]
    assert deps(plan, "b.Standard.create") == {"a.Standard.start"}
    assert deps(plan, "b.Standard.configure") == {"b.Standard.create"}
    assert len(plan_levels(plan)) == 9


def test_diamond_joins_both_branches(tmp_path: Path) -> None:
    body = (
        node("top") + node("left", "top") + node("right", "top") + node("bottom", "left", "right")
    )
    plan = build_plan(model_of(tmp_path, body))
    assert deps(plan, "left.Standard.create") == {"top.Standard.start"}
    assert deps(plan, "right.Standard.create") == {"top.Standard.start"}
    assert deps(plan, "bottom.Standard.create") == {"left.Standard.start", "right.Standard.start"}
    levels = plan_levels(plan)
    # left and right are independent: same levels, run in parallel.
    level_of = {s.id: i for i, lvl in enumerate(levels) for s in lvl}
    assert level_of["left.Standard.create"] == level_of["right.Standard.create"]


def test_fan_out_has_no_edges_between_siblings(tmp_path: Path) -> None:
    body = node("root") + "".join(node(f"leaf{i}", "root") for i in range(5))
    plan = build_plan(model_of(tmp_path, body))
    levels = plan_levels(plan)
    creates = {s.id for s in levels[3]}
    assert creates == {f"leaf{i}.Standard.create" for i in range(5)}


def test_nodes_without_operations_pass_dependencies_through(tmp_path: Path) -> None:
    body = node("a") + node("mid", "a", type_="tosca.nodes.Root") + node("c", "mid")
    plan = build_plan(model_of(tmp_path, body))
    assert deps(plan, "c.Standard.create") == {"a.Standard.start"}


def test_hosted_on_stack_installs_bottom_up_and_uninstalls_top_down(tmp_path: Path) -> None:
    body = (
        node("vm", type_="t.Host")
        + node("runtime", type_="t.Host", host="vm")
        + node("app", host="runtime")
    )
    model = model_of(tmp_path, body)
    assert model.host_of("app") == "runtime"
    plan = build_plan(model)
    assert_before(plan, "vm.Standard.create", "runtime.Standard.create")
    assert_before(plan, "runtime.Standard.create", "app.Standard.create")
    down = build_plan(model, "uninstall")
    assert [s.id for s in down.steps] == ["app.Standard.stop", "app.Standard.delete"]
    assert down.steps[0].depends_on == ()


def test_uninstall_reverses_the_order(tmp_path: Path) -> None:
    plan = build_plan(model_of(tmp_path, node("a") + node("b", "a")), "uninstall")
    assert [s.id for s in plan.steps] == [
        "b.Standard.stop",
        "b.Standard.delete",
        "a.Standard.stop",
        "a.Standard.delete",
    ]
    assert deps(plan, "a.Standard.stop") == {"b.Standard.delete"}


def test_relationship_configure_operations(tmp_path: Path) -> None:
    body = node("db") + (
        "    web:\n      type: t.App\n      requirements:\n"
        "        - dependency:\n            node: db\n            relationship:\n"
        "              type: tosca.relationships.ConnectsTo\n"
        "              interfaces:\n                Configure:\n"
        "                  pre_configure_source: pre_src.yaml\n"
        "                  pre_configure_target: pre_tgt.yaml\n"
        "                  post_configure_source: post_src.yaml\n"
        "                  add_target: add.yaml\n"
    )
    plan = build_plan(model_of(tmp_path, body))
    rel = "web.dependency.db.Configure."
    order = [s.id for s in plan.steps if s.id.startswith("web.")]
    assert order == [
        "web.Standard.create",
        rel + "pre_configure_source",
        rel + "pre_configure_target",
        "web.Standard.configure",
        rel + "post_configure_source",
        "web.Standard.start",
        rel + "add_target",
    ]
    target_step = plan.step(rel + "pre_configure_target")
    assert (target_step.node, target_step.source, target_step.target) == ("db", "web", "db")
    assert plan.step(rel + "pre_configure_source").node == "web"
    assert_before(plan, "db.Standard.start", "web.Standard.create")


def test_standard_mode_job_is_submit_then_run(tmp_path: Path) -> None:
    body = (
        "    site:\n      type: eflows4hpc.nodes.Environment\n"
        "    img:\n      type: eflows4hpc.nodes.ImageCreation\n"
        "      properties: {workflow: w, step_id: s}\n"
        "      requirements:\n        - environment: site\n"
        "    job:\n      type: eflows4hpc.nodes.PyCOMPSsJob\n"
        "      properties: {application: {command: a.py}}\n"
        "      requirements:\n        - environment: site\n        - dependency: img\n"
    )
    plan = build_plan(model_of(tmp_path, body))
    assert [s.id for s in plan.steps] == [
        "site.Standard.configure",
        "img.Runnable.submit",
        "img.Runnable.run",
    ]  # the job is not in standard mode: it runs in exec_job, not at install
    assert deps(plan, "img.Runnable.run") == {"img.Runnable.submit"}


WORKFLOW = """\
  workflows:
    exec_job:
      inputs:
        n: {type: integer, default: 2}
      steps:
        first:
          target: a
          activities:
            - set_state: starting
            - call_operation:
                operation: Standard.start
                inputs: {count: {get_input: n}}
          on_success: [second, third]
          on_failure: [cleanup]
        second:
          target: b
          activities: [{call_operation: Standard.configure}]
          on_success: [last]
        third:
          target: b
          activities: [{call_operation: Standard.create}]
          on_success: [last]
        last:
          target: a
          activities: [{set_state: started}]
        cleanup:
          target: a
          activities: [{call_operation: Standard.delete}]
    nested:
      steps:
        outer:
          target: a
          activities:
            - inline: exec_job
            - delegate: install
"""


def test_custom_workflow_with_on_failure_branch(tmp_path: Path) -> None:
    model = model_of(tmp_path, node("a") + node("b", "a"), WORKFLOW)
    plan = build_plan(model, "exec_job", {"n": "5"})
    assert plan.inputs == {"n": 5}
    assert deps(plan, "first.2") == {"first.1"}
    assert deps(plan, "second") == {"first.2"} and deps(plan, "third") == {"first.2"}
    assert deps(plan, "last") == {"second", "third"}
    assert plan.step("first.1").on_failure == ("cleanup",)
    assert plan.step("first.2").on_failure == ("cleanup",)
    assert plan.step("cleanup").depends_on == ()
    assert_before(plan, "first.2", "cleanup")  # a failure branch comes after its source
    step = plan.step("first.2")
    assert (step.node, step.interface, step.operation) == ("a", "Standard", "start")
    assert plan.step("last").target_state == "started"
    as_json = plan_to_dict(plan)
    json.dumps(as_json)
    entry = next(s for s in as_json["steps"] if s["id"] == "first.2")
    assert entry["inputs"]["count"] == {"get_input": "n"}
    assert entry["on_failure"] == ["cleanup"]


def test_inline_and_delegate_are_expanded(tmp_path: Path) -> None:
    model = model_of(tmp_path, node("a") + node("b", "a"), WORKFLOW)
    plan = build_plan(model, "nested")
    ids = [s.id for s in plan.steps]
    assert "outer.1.first.2" in ids and "outer.1.cleanup" in ids
    assert ids[-3:] == [
        "outer.2.a.Standard.create",
        "outer.2.a.Standard.configure",
        "outer.2.a.Standard.start",
    ]
    assert deps(plan, "outer.2.a.Standard.create") == {"outer.1.last"}


def test_unknown_workflow_and_bad_inputs(tmp_path: Path) -> None:
    model = model_of(tmp_path, node("a") + node("b", "a"), WORKFLOW)
    with pytest.raises(PlanError, match="unknown workflow 'nope'"):
        build_plan(model, "nope")
    with pytest.raises(UsageError, match="not a valid integer"):
        build_plan(model, "exec_job", {"n": "x"})
    with pytest.raises(UsageError, match="unknown workflow input"):
        build_plan(model, "exec_job", {"m": 1})


def test_plan_json_schema(tmp_path: Path) -> None:
    plan = build_plan(model_of(tmp_path, node("a")))
    data = plan_to_dict(plan)
    assert data["workflow"] == "install"
    for s in data["steps"]:
        assert {"id", "node", "interface", "operation", "activity", "depends_on", "inputs"} <= set(
            s
        )


def test_workflow_step_on_a_relationship(tmp_path: Path) -> None:
    body = node("db") + (
        "    web:\n      type: t.App\n      requirements:\n"
        "        - dependency:\n            node: db\n            relationship:\n"
        "              type: tosca.relationships.ConnectsTo\n"
        "              interfaces:\n                Configure:\n"
        "                  add_target: add.yaml\n"
    )
    extra = (
        "  workflows:\n    rewire:\n      steps:\n        link:\n          target: web\n"
        "          target_relationship: dependency\n"
        "          activities: [{call_operation: Configure.add_target}]\n"
    )
    plan = build_plan(model_of(tmp_path, body, extra), "rewire")
    (step,) = plan.steps
    assert (step.id, step.node, step.source, step.target) == ("link", "db", "web", "db")
    assert step.implementation.primary == "add.yaml"
