"""The REST API served for real (uvicorn on a loopback port, httpx as the client), over a
deployment whose jobs are fakes: upstream HPCWaaS's paths, bodies and status codes, typed
inputs, tokens, ownership (another user's execution is a 404) and the audit log."""

from __future__ import annotations

import base64
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from orchestrator.api.app import levels_of, parse_duration
from orchestrator.errors import NotFound, StateError
from tests.support.api_server import WF, Api, running_api


@pytest.fixture()
def api(tmp_path: Path) -> Iterator[Api]:
    with running_api(tmp_path) as running:
        yield running


def _wait_status(client: httpx.Client, path: str, wanted: str, timeout: float = 20) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        body = client.get(path).json()
        if body["status"] == wanted or time.monotonic() > deadline:
            return body
        time.sleep(0.05)


def test_health_needs_no_token_and_everything_else_does(api: Api) -> None:
    assert httpx.get(f"{api.url}/health").json()["status"] == "ok"
    for path in ("/workflows", "/executions", "/deployments", "/executions/x"):
        answer = httpx.get(f"{api.url}{path}")
        assert answer.status_code == 401, path
        assert "Bearer" in answer.headers["www-authenticate"]
    bad = httpx.get(f"{api.url}/workflows", headers={"Authorization": "Bearer tosca_x_y"})
    assert bad.status_code == 401
    assert httpx.get(f"{api.url}/openapi.json").json()["paths"]["/workflows/{workflow_id}"]


def test_workflows_are_listed_as_upstream_with_only_those_exposed_to_the_caller(api: Api) -> None:
    with api.client("bob") as bob, api.client("alice") as alice:
        listed = bob.get("/workflows").json()["workflows"]
        assert [w["id"] for w in listed] == [WF]  # private_job is alice's, hidden_job unlisted
        (wf,) = listed
        assert {k: wf[k] for k in ("name", "application_id", "environment_id",
                                   "environment_name")} == {
            "name": "exec_job", "application_id": "quake", "environment_id": "d",
            "environment_name": "d"}  # fmt: skip
        assert wf["inputs"]["magnitude"]["type"] == "float"
        assert wf["inputs"]["members"]["default"] == 4
        assert wf["inputs"]["api_token"]["default"] == "***"  # a secret's default stays hidden
        assert "do-not-show-me" not in bob.get("/workflows").text
        ids = {w["id"] for w in alice.get("/workflows").json()["workflows"]}
        assert ids == {WF, "quake@d@private_job"}


def test_trigger_answers_201_with_location_and_the_execution_runs_to_succeeded(api: Api) -> None:
    with api.client("alice") as alice:
        answer = alice.post(
            f"/workflows/{WF}?wait_job=10",
            json={"inputs": {"magnitude": "7.9", "label": "Messina 1908"}},
        )
        assert answer.status_code == 201, answer.text
        location = answer.headers["location"]
        execution_id = answer.json()["id"]
        assert location == f"/executions/{execution_id}"
        assert answer.json()["job_id"] == "101"  # waited for the (fake) scheduler's job id
        running = alice.get(location).json()
        assert running["status"] in ("PENDING", "RUNNING")
        api.release.set()
        done = _wait_status(alice, location, "SUCCEEDED")
        assert done["status"] == "SUCCEEDED" and done["user"] == "alice"
        assert [s["job_id"] for s in done["steps"] if s["id"] == "submit"] == ["101"]
        # Typed: the string "7.9" became the float the workflow declares, default filled in.
        stored = api.service.execution(execution_id)["inputs"]
        assert stored["magnitude"] == 7.9 and stored["members"] == 4


def test_a_wrong_input_is_a_422_naming_it_and_starts_nothing(api: Api) -> None:
    with api.client("alice") as alice:
        before = len(api.service.list_executions())
        for inputs, name in (({"magnitude": "big"}, "magnitude"),
                             ({"magnitude": 7.0, "members": [1, 2]}, "members"),
                             ({"magnitude": 7.0, "nonsense": 1}, "nonsense"),
                             ({}, "magnitude")):  # fmt: skip
            answer = alice.post(f"/workflows/{WF}", json={"inputs": inputs})
            assert answer.status_code == 422, (inputs, answer.text)
            assert name in answer.json()["detail"], answer.text
        assert alice.post(f"/workflows/{WF}", json={"inputs": [1]}).status_code == 422
        assert len(api.service.list_executions()) == before


def test_unknown_and_unauthorized_workflows(api: Api) -> None:
    with api.client("bob") as bob:
        assert bob.post("/workflows/quake@d@hidden_job", json={}).status_code == 404
        assert bob.post("/workflows/nope", json={}).status_code == 404
        assert bob.post("/workflows/quake@nope@exec_job", json={}).status_code == 404
        forbidden = bob.post("/workflows/quake@d@private_job", json={})
        assert forbidden.status_code == 403
        urgent = bob.post(f"/workflows/{WF}", json={"inputs": {"magnitude": 7},
                                                    "urgency": "emergency"})  # fmt: skip
        assert urgent.status_code == 403
    denied = [(a.user, a.action, a.allowed) for a in api.service.audit_log()]
    assert ("bob", "trigger", False) in denied


def test_another_users_execution_is_a_404_for_get_logs_and_cancel_and_audited(api: Api) -> None:
    with api.client("alice") as alice, api.client("bob") as bob, api.client("admin") as ops:
        answer = alice.post(f"/workflows/{WF}", json={"inputs": {"magnitude": 8}})
        location = answer.headers["location"]
        execution_id = answer.json()["id"]
        assert bob.get(location).status_code == 404
        assert bob.get(f"{location}/logs").status_code == 404
        assert bob.delete(location).status_code == 404
        assert bob.get("/executions/does-not-exist").status_code == 404
        assert bob.get("/executions").json()["executions"] == []
        assert api.service.execution(execution_id)["cancel_requested"] is False
        assert ops.get(location).status_code == 200  # admins see all
        assert [e["id"] for e in ops.get("/executions?user=alice").json()["executions"]] == [
            execution_id]  # fmt: skip
        assert alice.delete(location).status_code == 202
        assert _wait_status(alice, location, "CANCELLED")["status"] == "CANCELLED"
    audit = [(a.user, a.action, a.subject, a.allowed) for a in api.service.audit_log()]
    for action in ("get", "logs", "cancel"):
        assert ("bob", action, execution_id, False) in audit
    assert ("alice", "trigger", WF, True) in audit
    assert ("alice", "cancel", execution_id, True) in audit


def test_logs_page_and_long_poll_like_upstream(api: Api) -> None:
    with api.client("alice") as alice:
        answer = alice.post(f"/workflows/{WF}?wait_job=10", json={"inputs": {"magnitude": 8}})
        location = answer.headers["location"]
        api.release.set()
        _wait_status(alice, location, "SUCCEEDED")
        every = alice.get(f"{location}/logs", params={"levels": 15}).json()
        assert every["total_results"] == len(every["logs"]) > 0 and every["from"] == 0
        first = every["logs"][0]
        assert set(first) == {"level", "timestamp", "content"}
        assert first["timestamp"].endswith("Z")
        page = alice.get(f"{location}/logs", params={"levels": 15, "from": 1, "size": 1}).json()
        assert page["logs"] == every["logs"][1:2] and page["from"] == 1
        # Past the end of an ended execution: an empty page at once, not a full long poll.
        start = time.monotonic()
        tail = alice.get(f"{location}/logs",
                         params={"from": every["total_results"], "timeout": "1m",
                                 "levels": 15}).json()  # fmt: skip
        assert tail["logs"] == [] and time.monotonic() - start < 5
        assert alice.get(f"{location}/logs", params={"timeout": "soon"}).status_code == 422
        assert alice.get(f"{location}/logs", params={"levels": 99}).status_code == 422


def test_a_long_poll_waits_for_the_next_line_and_returns_when_it_arrives(api: Api) -> None:
    # An execution nobody runs yet (as after a trigger from another replica): its log is
    # quiet until a line is written, which the waiting request must return at once.
    store = api.service.store
    execution = store.create_execution("d", "exec_job", [])
    store.set_owner(execution.id, "alice")
    store.add_log(execution.id, "INFO", "first")
    threading.Timer(0.8, store.add_log, args=(execution.id, "WARN", "second")).start()
    with api.client("alice") as alice:
        start = time.monotonic()
        more = alice.get(f"/executions/{execution.id}/logs",
                         params={"from": 1, "timeout": "20s"}).json()  # fmt: skip
        waited = time.monotonic() - start
    assert [(x["level"], x["content"]) for x in more["logs"]] == [("WARN", "second")]
    assert more["total_results"] == 2 and 0.6 < waited < 10


def test_basic_auth_with_the_token_as_password(api: Api) -> None:
    good = base64.b64encode(f"alice:{api.tokens['alice']}".encode()).decode()
    wrong_user = base64.b64encode(f"bob:{api.tokens['alice']}".encode()).decode()

    def answer(credentials: str) -> int:
        headers = {"Authorization": f"Basic {credentials}"}
        return httpx.get(f"{api.url}/workflows", headers=headers).status_code

    assert answer(good) == 200 and answer(wrong_user) == 401


def test_a_revoked_token_is_refused_at_once(api: Api) -> None:
    (record,) = [t for t in api.service.list_tokens() if t.user == "bob"]
    with api.client("bob") as bob:
        assert bob.get("/workflows").status_code == 200
        api.service.revoke_token(record.id)
        assert bob.get("/workflows").status_code == 401


def test_triggers_past_the_burst_get_429_with_retry_after(api: Api) -> None:
    api.release.set()
    with api.client("bob") as bob:
        codes = [bob.post(f"/workflows/{WF}", json={"inputs": {"magnitude": 7}}).status_code
                 for _ in range(12)]  # fmt: skip
        assert codes[:8] == [201] * 8 and 429 in codes[8:]
        limited = bob.post(f"/workflows/{WF}", json={"inputs": {"magnitude": 7}})
        assert limited.status_code == 429 and int(limited.headers["retry-after"]) >= 1
    with api.client("alice") as alice:  # another token has its own bucket
        assert alice.post(f"/workflows/{WF}", json={"inputs": {"magnitude": 7}}).status_code == 201


def test_deployments_list_what_each_caller_may_trigger(api: Api) -> None:
    with api.client("bob") as bob, api.client("admin") as ops:
        (dep,) = bob.get("/deployments").json()["deployments"]
        assert dep["id"] == "d" and dep["workflows"] == [WF]
        (dep,) = ops.get("/deployments").json()["deployments"]
        assert set(dep["workflows"]) == {WF, "quake@d@private_job"}


def test_durations_and_level_masks() -> None:
    assert parse_duration("1m") == 60 and parse_duration("1m30s") == 90
    assert parse_duration("500ms") == 0.5 and parse_duration("2.5") == 2.5
    for bad in ("", "soon", "1x", "m1"):
        with pytest.raises(ValueError):
            parse_duration(bad)
    assert levels_of(0) == ("INFO", "WARN", "ERROR") and levels_of(9) == ("DEBUG", "ERROR")
    with pytest.raises(ValueError):
        levels_of(16)


def test_ssh_keys_are_made_per_user_encrypted_at_rest_and_others_are_refused(api: Api) -> None:
    alice, bob = api.client("alice"), api.client("bob")
    made = alice.post("/ssh_keys")
    assert made.status_code == 201
    key = made.json()
    assert key["public_key"].startswith("ssh-ed25519 ") and "PRIVATE" not in made.text
    assert [k["id"] for k in alice.get("/ssh_keys").json()["ssh_keys"]] == [key["id"]]
    assert bob.get("/ssh_keys").json()["ssh_keys"] == []
    assert bob.get(f"/ssh_keys/{key['id']}").status_code == 404
    assert alice.get(f"/ssh_keys/{key['id']}").json()["public_key"] == key["public_key"]
    refused = [a for a in api.service.audit_log() if a.action == "ssh_key.get"]
    assert [(a.user, a.subject, a.allowed) for a in refused] == [("bob", key["id"], False)]

    # The private key is in the database only sealed, and opens for its owner only.
    store = api.service.store
    private = store.ssh_private_key(key["id"], "alice")
    assert private.startswith(b"-----BEGIN OPENSSH PRIVATE KEY-----")
    db = (store.workspace / "state.db").read_bytes()
    wal = store.workspace / "state.db-wal"
    raw = db + (wal.read_bytes() if wal.exists() else b"")
    assert private not in raw and b"OPENSSH PRIVATE KEY" not in raw
    with pytest.raises(NotFound):
        store.ssh_private_key(key["id"], "bob")
    # A public key that ssh-keygen reads, matching the private one.
    from cryptography.hazmat.primitives import serialization as ser

    loaded = ser.load_ssh_private_key(private, password=None)
    public = loaded.public_key().public_bytes(ser.Encoding.OpenSSH, ser.PublicFormat.OpenSSH)
    assert key["public_key"].startswith(public.decode())


def test_a_wrong_key_encryption_key_is_a_clear_error(
    api: Api, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = api.client("alice").post("/ssh_keys").json()
    other = tmp_path / "other-kek"
    other.write_bytes(b"k" * 32)
    monkeypatch.setenv("TOSCA_KEK_FILE", str(other))
    with pytest.raises(StateError, match="does not decrypt"):
        api.service.store.ssh_private_key(key["id"], "alice")
