"""Every example validates and plans (install, uninstall and each custom workflow)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from orchestrator.plan import build_plan, plan_to_dict
from orchestrator.tosca import ModelEvalContext, load

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
TEMPLATES = sorted(p for p in EXAMPLES.iterdir() if p.is_dir() and any(p.glob("*.yaml")))


def test_the_three_examples_exist() -> None:
    names = {p.name for p in TEMPLATES}
    assert {"minimal_workflow", "tsunami", "climate"} <= names


@pytest.mark.parametrize("example", TEMPLATES, ids=[p.name for p in TEMPLATES])
def test_example_validates_and_plans(example: Path) -> None:
    model = load(example)
    for workflow in model.workflow_names:
        plan = build_plan(model, workflow)
        data = plan_to_dict(plan)
        json.dumps(data)
        ids = [s["id"] for s in data["steps"]]
        assert len(ids) == len(set(ids))
        seen: set[str] = set()
        for step in data["steps"]:  # topological: dependencies listed first
            assert set(step["depends_on"]) <= seen
            seen.add(step["id"])


def test_tsunami_is_the_urgent_local_demo() -> None:
    model = load(EXAMPLES / "tsunami")
    site = model.nodes["local_site"]
    assert site.properties["scheduler"] == "local" and "dls_api_url" not in site.properties
    job = model.nodes["forecast"]
    assert job.is_a("eflows4hpc.nodes.PyCOMPSsJob")
    assert job.properties["application"]["command"] == "workflows.tsunami.forecast"
    assert model.input_values["bathymetry"] == "generated"
    assert model.input_values["event_file"] == "examples/events/messina_m7.json"
    (urgency,) = model.policies_of_type("eflows4hpc.policies.Urgency")
    assert urgency.properties["level"] == "urgent" and urgency.targets == ["forecast"]
    (trigger,) = model.policies_of_type("eflows4hpc.policies.EventTrigger")
    assert trigger.properties["workflow"] == "exec_job"
    assert trigger.properties["inputs"] == {"event_file": "$event.file"}
    plan = build_plan(model, "exec_job")
    by_id = {s.id: s for s in plan.steps}
    assert set(by_id["forecast_submit.1"].depends_on) == {"event_in_run", "stage_in_run.3"}
    assert by_id["event_in_submit"].depends_on == () and by_id["stage_in_submit.1"].depends_on == ()
    calls = [(s.node, s.operation) for s in plan.steps if s.activity == "call_operation"]
    assert calls[-4:] == [
        ("forecast", "submit"),
        ("forecast", "run"),
        ("products_stage_out", "submit"),
        ("products_stage_out", "run"),
    ]
    assert len(calls) == 8


def test_minimal_workflow_matches_the_reference() -> None:
    model = load(EXAMPLES / "minimal_workflow")
    wf = model.workflows["exec_job"]
    assert set(wf.inputs) == {
        "user_id",
        "vault_id",
        "oid",
        "staged_in_data_path",
        "result_data_path",
        "num_nodes",
    }
    install = [s.id for s in build_plan(model).steps]
    assert install.index("ImageCreation.Runnable.run") < install.index(
        "ImageTransfer.Runnable.submit"
    )


@pytest.mark.parametrize(("example", "node"), [("tsunami", "products_stage_out"),
                                               ("climate", "publish")])  # fmt: skip
def test_stage_out_targets_are_relative_to_the_results_dir(example: str, node: str) -> None:
    # The data mover joins a relative target_path to the site's results dir (default
    # <work_dir>/results): a target starting with "results/" would publish to results/results.
    model = load(EXAMPLES / example)
    target = ModelEvalContext(model, node).get_property(node, ["target_path"])
    assert target == example
    assert not Path(target).is_absolute() and Path(target).parts[0] != "results"
