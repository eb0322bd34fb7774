"""Intrinsic functions: parsing, evaluation through ModelEvalContext, JSON form, secrecy."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from orchestrator.errors import ExecutionError
from orchestrator.tosca import ModelEvalContext, load
from orchestrator.tosca import functions as fn

TEMPLATE = """\
tosca_definitions_version: tosca_simple_yaml_1_3
imports: [eflows4hpc]
topology_template:
  inputs:
    n: {type: integer, default: 3}
    names: {type: list, entry_schema: {type: string}, default: [a, b]}
    cfg: {type: map, default: {deep: {x: 7}}}
  node_templates:
    site:
      type: eflows4hpc.nodes.Environment
      properties:
        work_dir: /scratch/w
        user: {concat: [u, {get_input: n}]}
        urgency_levels:
          urgent: {partition: fast, nice: 0}
      attributes:
        tosca_name: site
    job:
      type: eflows4hpc.nodes.PyCOMPSsJob
      properties:
        application:
          command: app.py
          arguments:
            - {get_property: [HOST, work_dir]}
            - {get_property: [SELF, environment_req_free, x]}
        submission_params:
          num_nodes: {get_input: n}
      requirements:
        - environment: site
      interfaces:
        Runnable:
          submit:
            inputs:
              wd: {get_property: [SELF, environment, work_dir]}
              part: {get_property: [site, urgency_levels, urgent, partition]}
              joined: {join: [[{get_input: names}, x], "-"]}
              tok: {token: [{get_property: [site, work_dir]}, "/", 2]}
              deep: {get_input: [cfg, deep, x]}
              key: {get_secret: ssh/site}
              user: {get_property: [HOST, user]}
              jobid: {get_operation_output: [SELF, Runnable, submit, TOSCA_JOB_ID]}
              state: {get_attribute: [SELF, state]}
"""


@pytest.fixture()
def model(tmp_path: Path):
    # The second argument entry references an unknown property: keep it out of this model.
    text = TEMPLATE.replace("            - {get_property: [SELF, environment_req_free, x]}\n", "")
    path = tmp_path / "t.yaml"
    path.write_text(text)
    return load(path)


def ctx(model, **kw):
    attrs = {("job", "state"): "started"}

    def attributes(node: str, name: str):
        return attrs[(node, name)]

    def outputs(node, iface, op, name):
        return {("job", "Runnable", "submit", "TOSCA_JOB_ID"): "42"}[(node, iface, op, name)]

    return ModelEvalContext(model, "job", attributes, lambda p: f"secret-of-{p}", outputs, **kw)


def test_operation_inputs_evaluate(model) -> None:
    inputs = model.nodes["job"].interfaces["Runnable"]["submit"].inputs
    values = fn.evaluate(inputs, ctx(model))
    assert values == {
        "wd": "/scratch/w",
        "part": "fast",
        "joined": "a-b-x",
        "tok": "w",
        "deep": 7,
        "key": "secret-of-ssh/site",
        "user": "u3",
        "jobid": "42",
        "state": "started",
    }


def test_host_resolves_through_hosted_on(model) -> None:
    args = model.nodes["job"].properties["application"]["arguments"]
    assert fn.evaluate(args, ctx(model)) == ["/scratch/w"]


def test_workflow_inputs_take_precedence(model) -> None:
    value = model.nodes["job"].properties["submission_params"]["num_nodes"]
    assert fn.evaluate(value, ctx(model, inputs={"n": 9})) == 9
    assert fn.evaluate(value, ctx(model)) == 3


def test_to_json_gives_back_the_tosca_form(model) -> None:
    inputs = model.nodes["job"].interfaces["Runnable"]["submit"].inputs
    as_json = fn.to_json(inputs)
    assert as_json["joined"] == {"join": [[{"get_input": "names"}, "x"], "-"]}
    assert as_json["deep"] == {"get_input": ["cfg", "deep", "x"]}
    assert as_json["key"] == {"get_secret": "ssh/site"}
    json.dumps(as_json)  # serialisable
    assert fn.parse(as_json) == inputs  # round trip


def test_get_secret_never_shows_the_secret() -> None:
    f = fn.GetSecret("vault/x")
    text = repr(f) + str(f) + json.dumps(f.to_json())
    assert "vault/x" in text
    value = f.evaluate(_SecretCtx())
    assert value == "s3cr3t"
    assert "s3cr3t" not in repr(f) + str(f) + json.dumps(f.to_json())


class _SecretCtx:
    def get_secret(self, path: str) -> str:
        return "s3cr3t"


def test_missing_values_raise_execution_errors(model) -> None:
    c = ModelEvalContext(model, "job")
    with pytest.raises(ExecutionError, match="no output"):
        fn.GetOperationOutput("SELF", "Runnable", "submit", "X").evaluate(c)
    with pytest.raises(ExecutionError, match="no secret store"):
        fn.GetSecret("a").evaluate(c)
    with pytest.raises(ExecutionError, match="has no property 'nope'"):
        fn.GetProperty("SELF", ("nope",)).evaluate(c)
    with pytest.raises(ExecutionError, match="cannot resolve entity 'SOURCE'"):
        fn.GetProperty("SOURCE", ("x",)).evaluate(c)
    with pytest.raises(ExecutionError, match="token index"):
        fn.Token("a/b", "/", 5).evaluate(c)


def test_attribute_falls_back_to_property(model) -> None:
    c = ModelEvalContext(model, "site")
    assert fn.GetAttribute("SELF", ("work_dir",)).evaluate(c) == "/scratch/w"
    assert fn.GetAttribute("SELF", ("tosca_name",)).evaluate(c) == "site"


@pytest.mark.parametrize(
    "bad",
    [
        {"get_input": 3},
        {"get_property": ["SELF"]},
        {"get_attribute": "x"},
        {"get_operation_output": ["SELF", "a", "b"]},
        {"concat": []},
        {"join": ["a"]},
        {"token": ["a", "", 1]},
        {"get_secret": ""},
    ],
)
def test_malformed_functions_are_rejected(bad) -> None:
    with pytest.raises(fn.FunctionSyntaxError):
        fn.parse(bad)
