"""``tosca remote``: an end user's client against a real server (uvicorn over a deployment with
fake jobs): list, trigger and follow, status, logs, cancel; URL and token from flags, the
environment (``HW_ACCESS_TOKEN`` too) or the config file; clear errors, never a traceback."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from orchestrator.cli.main import app
from tests.support.api_server import WF, Api, running_api

runner = CliRunner()


@pytest.fixture()
def api(tmp_path: Path):
    with running_api(tmp_path) as running:
        yield running


def _remote(api: Api, *args: str, who: str = "alice", env: dict[str, str] | None = None):
    flags = ["--url", api.url, "--token", api.tokens[who]] if env is None else []
    return runner.invoke(app, ["remote", *args, *flags], env=env)


def test_list_and_trigger_then_status_logs_of_the_execution(api: Api) -> None:
    listed = _remote(api, "workflows", "list", "-o", "json")
    assert listed.exit_code == 0, listed.output
    assert WF in [wf["id"] for wf in json.loads(listed.stdout)]

    triggered = _remote(api, "workflows", "trigger", WF, "-i", "magnitude=7.1", "-o", "json")
    assert triggered.exit_code == 0, triggered.output
    execution_id = json.loads(triggered.stdout)["id"]
    assert api.service.store.get_execution(execution_id).inputs["magnitude"] in ("7.1", 7.1)

    status = _remote(api, "executions", "status", execution_id, "-o", "json")
    assert status.exit_code == 0 and json.loads(status.stdout)["id"] == execution_id
    api.release.set()
    deadline = time.monotonic() + 20
    while json.loads(_remote(api, "executions", "status", execution_id, "-o", "json").stdout)[
        "status"
    ] not in ("SUCCEEDED", "FAILED"):
        assert time.monotonic() < deadline
        time.sleep(0.1)
    logs = _remote(api, "executions", "logs", execution_id)
    assert logs.exit_code == 0 and "job 101" in logs.stdout


def test_trigger_follow_waits_for_the_end_and_prints_the_logs(api: Api) -> None:
    threading.Timer(1.0, api.release.set).start()
    followed = _remote(api, "workflows", "trigger", WF, "-i", "magnitude=7", "-f", "-l")
    assert followed.exit_code == 0, followed.output
    assert followed.stdout.strip().endswith("SUCCEEDED")
    assert "job 101" in followed.stdout  # the log lines came as they were written


def test_cancel_and_another_users_execution(api: Api) -> None:
    execution_id = json.loads(
        _remote(api, "workflows", "trigger", WF, "-i", "magnitude=7", "-o", "json").stdout
    )["id"]
    other = _remote(api, "executions", "status", execution_id, who="bob")
    assert other.exit_code != 0 and "404" in other.output and "Traceback" not in other.output
    refused = _remote(api, "executions", "cancel", execution_id, who="bob")
    assert refused.exit_code != 0 and "404" in refused.output
    cancelled = _remote(api, "executions", "cancel", execution_id)
    assert cancelled.exit_code == 0, cancelled.output
    deadline = time.monotonic() + 20
    while api.service.store.get_execution(execution_id).status != "cancelled":
        assert time.monotonic() < deadline
        time.sleep(0.1)


def test_url_and_token_from_the_environment_and_the_config_file(api: Api, tmp_path: Path) -> None:
    env = {"TOSCA_API_URL": api.url, "HW_ACCESS_TOKEN": api.tokens["alice"],
           "TOSCA_REMOTE_CONFIG": str(tmp_path / "none.yaml")}  # fmt: skip
    assert _remote(api, "workflows", "list", env=env).exit_code == 0
    config = tmp_path / "remote.yaml"
    config.write_text(f"url: {api.url}\ntoken: {api.tokens['alice']}\n")
    from_file = _remote(api, "workflows", "list", env={"TOSCA_REMOTE_CONFIG": str(config)})
    assert from_file.exit_code == 0 and WF in from_file.stdout


def test_clear_errors_without_token_unreachable_api_or_bad_token(api: Api, tmp_path: Path) -> None:
    bare = {"TOSCA_REMOTE_CONFIG": str(tmp_path / "none.yaml")}
    missing = runner.invoke(app, ["remote", "workflows", "list"], env=bare)
    assert missing.exit_code != 0 and "no API token" in missing.output
    down = runner.invoke(app, ["remote", "workflows", "list", "--url", "http://127.0.0.1:9",
                               "--token", "x"], env=bare)  # fmt: skip
    assert down.exit_code != 0 and "cannot reach the API" in down.output
    assert "Traceback" not in down.output
    bad = runner.invoke(app, ["remote", "workflows", "list", "--url", api.url,
                              "--token", "tosca_nope_nope"], env=bare)  # fmt: skip
    assert bad.exit_code != 0 and "401" in bad.output


def test_ssh_key_gen_prints_the_public_key_only(api: Api) -> None:
    made = _remote(api, "ssh-keys", "key-gen", "-o", "json")
    assert made.exit_code == 0, made.output
    key = json.loads(made.stdout)
    assert key["public_key"].startswith("ssh-ed25519 ") and "PRIVATE" not in made.output
    listed = _remote(api, "ssh-keys", "list")
    assert key["id"] in listed.stdout
    assert key["id"] not in _remote(api, "ssh-keys", "list", who="bob").stdout
