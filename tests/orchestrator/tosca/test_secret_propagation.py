"""A concat / join / token holding a get_secret stays a secret: masked everywhere."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from orchestrator.cli.main import build_app
from orchestrator.errors import ExecutionError
from orchestrator.executors.secrets import Secret, collect_secrets
from orchestrator.plan import build_plan, plan_to_dict
from orchestrator.redaction import redact_structure
from orchestrator.tosca import ModelEvalContext, load
from orchestrator.tosca import functions as fn

CLEAR = "pa55-w0rd-xyz"
PAIR = "alice:" + CLEAR

TEMPLATE = """\
tosca_definitions_version: tosca_simple_yaml_1_3
imports: [eflows4hpc]
topology_template:
  inputs:
    user: {type: string, default: alice}
  node_templates:
    site:
      type: eflows4hpc.nodes.Environment
    stage:
      type: eflows4hpc.nodes.DLSDAGStageInData
      properties:
        oid: data/x
        target_path: in
        run_in_standard_mode: true
        dls_api_password: {concat: ["pw=", {get_secret: dls/password}]}
      requirements:
        - environment: site
      interfaces:
        Runnable:
          submit:
            inputs:
              auth: {join: [[{get_input: user}, {get_secret: dls/password}], ":"]}
              url: {concat: ["https://", {get_input: user}, ":", {get_secret: dls/password}, "@h"]}
              second: {token: [{get_secret: dls/pair}, ":", 1]}
              first: {token: [{get_secret: dls/pair}, ":", 0]}
              plain: {concat: ["no-", {get_input: user}]}
"""


@pytest.fixture()
def template(tmp_path: Path) -> Path:
    path = tmp_path / "secrets.yaml"
    path.write_text(TEMPLATE)
    return path


def _store(path: str) -> Secret:
    return Secret({"dls/password": CLEAR, "dls/pair": PAIR}[path])


def _inputs(template: Path, store=_store) -> dict:
    model = load(template)
    ctx = ModelEvalContext(model, "stage", secrets_lookup=store)
    return fn.evaluate(model.nodes["stage"].interfaces["Runnable"]["submit"].inputs, ctx)


def test_evaluated_concat_join_token_keep_the_secret_kind(template: Path) -> None:
    values = _inputs(template)
    for name in ("auth", "url", "second", "first"):
        assert isinstance(values[name], Secret), name
    assert values["auth"].reveal() == "alice:" + CLEAR
    assert values["url"].reveal() == f"https://alice:{CLEAR}@h"
    assert values["second"].reveal() == CLEAR
    assert values["first"].reveal() == "alice"  # a piece of a secret is still a secret
    assert type(values["plain"]) is str and values["plain"] == "no-alice"
    # The clear value is only reachable explicitly; every dump masks it.
    shown = repr(values) + json.dumps(fn.to_json(values)) + json.dumps(redact_structure(values))
    assert CLEAR not in shown and "alice:" not in shown
    assert fn.to_json(values)["url"] == "***"
    assert redact_structure(values)["auth"] == "***"
    # Executors collect every secret of their inputs to redact their logs.
    assert {"alice:" + CLEAR, f"https://alice:{CLEAR}@h"} <= collect_secrets(values)


def test_property_concat_is_secret_too(template: Path) -> None:
    model = load(template)
    ctx = ModelEvalContext(model, "stage", secrets_lookup=_store)
    value = ctx.get_property("stage", ["dls_api_password"])
    assert isinstance(value, Secret) and value.reveal() == "pw=" + CLEAR
    assert CLEAR not in repr(value)


def test_a_plain_string_store_still_gives_masked_values(template: Path) -> None:
    values = _inputs(template, store=lambda p: {"dls/password": CLEAR, "dls/pair": PAIR}[p])
    assert fn.is_secret(values["url"]) and isinstance(values["url"], fn.SecretValue)
    assert values["url"].reveal() == f"https://alice:{CLEAR}@h"
    assert CLEAR not in repr(values) + json.dumps(fn.to_json(values))
    assert redact_structure(values)["second"] == "***"


def test_token_error_does_not_quote_a_secret() -> None:
    class Ctx:
        def get_secret(self, path: str) -> Secret:
            return Secret(PAIR)

    with pytest.raises(ExecutionError) as err:
        fn.Token(fn.GetSecret("dls/pair"), ":", 5).evaluate(Ctx())  # type: ignore[arg-type]
    assert CLEAR not in str(err.value) and "alice" not in str(err.value)
    assert "out of range" in str(err.value)


def test_function_reprs_show_paths_only() -> None:
    f = fn.parse({"concat": ["u:", {"join": [[{"token": [{"get_secret": "a/b"}, ":", 1]}]]}]})
    assert "a/b" in repr(f) and isinstance(f, fn.Concat)
    assert fn.to_json(f) == {
        "concat": ["u:", {"join": [[{"token": [{"get_secret": "a/b"}, ":", 1]}]]}]
    }


def test_plan_json_and_text_never_show_the_secret(
    template: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Even with the secret resolvable, planning shows only its path.
    monkeypatch.setenv("TOSCA_SECRET_DLS_PASSWORD", CLEAR)
    monkeypatch.setenv("TOSCA_SECRET_DLS_PAIR", PAIR)
    data = plan_to_dict(build_plan(load(template)))
    text = json.dumps(data)
    assert CLEAR not in text and "dls/password" in text
    (submit,) = [s for s in data["steps"] if s["id"] == "stage.Runnable.submit"]
    assert submit["inputs"]["auth"] == {
        "join": [[{"get_input": "user"}, {"get_secret": "dls/password"}], ":"]
    }
    app = build_app()
    for args in (["-o", "json"], ["-o", "text"]):
        result = CliRunner().invoke(app, ["plan", str(template), *args])
        assert result.exit_code == 0, result.output
        assert CLEAR not in result.output
    json_out = CliRunner().invoke(app, ["plan", str(template), "-o", "json"]).stdout
    assert "dls/pair" in json_out


def test_secret_values_in_plan_inputs_are_masked() -> None:
    # A secret-kind value inside a plan (e.g. an already evaluated input) dumps as ***.
    assert json.dumps(fn.to_json({"a": [Secret(CLEAR), fn.SecretValue(CLEAR)]})) == (
        '{"a": ["***", "***"]}'
    )
