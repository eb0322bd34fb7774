"""The SQLite state store: records, transactions, concurrency, redaction."""

from __future__ import annotations

import multiprocessing
import os
import sqlite3

import pytest

from orchestrator.errors import StateError
from orchestrator.state import REDACTED, Redactor, Store, redact_structure
from orchestrator.state.store import AttemptEnd


def _steps(*ids: str) -> list[dict]:
    return [{"id": i, "activity": "call_operation", "node": i.split(".")[0]} for i in ids]


def test_schema_is_wal_and_records_round_trip(tmp_path):
    store = Store(tmp_path)
    mode = sqlite3.connect(tmp_path / "state.db").execute("PRAGMA journal_mode").fetchone()[0]
    assert mode == "wal"
    dep = store.create_deployment(
        "d1", "/t/topo.yaml", {"n": 3, "db_password": "pw"}, secret_inputs=["vault_id"]
    )
    assert dep.inputs == {"n": 3, "db_password": REDACTED}
    store.init_nodes("d1", {"env": "eflows4hpc.nodes.Environment"})
    store.set_attributes("d1", "env", {"workdir": "/w", "facts": {"a": [1, 2]}})
    store.set_node_state("d1", "env", "configured")
    [node] = store.nodes("d1")
    assert (node.name, node.state, node.attributes["facts"]) == ("env", "configured", {"a": [1, 2]})
    ex = store.create_execution(
        "d1",
        "install",
        _steps("env.Standard.configure"),
        inputs={"vault_id": "v-123"},
        urgency="high",
        secret_inputs=["vault_id"],
    )
    assert ex.status == "pending" and ex.inputs == {"vault_id": REDACTED}
    assert store.get_execution(ex.id[:6]).id == ex.id  # unique prefix
    assert [s.status for s in store.steps(ex.id)] == ["pending"]


def test_attempt_lifecycle_is_atomic_with_attributes(tmp_path):
    store = Store(tmp_path)
    store.create_deployment("d", "t", {})
    eid = store.create_execution("d", "install", _steps("job.Runnable.submit")).id
    n = store.start_attempt(eid, "job.Runnable.submit")
    [att] = store.attempts(eid)
    assert (att.number, att.status, att.token) == (1, "running", f"{eid}:job.Runnable.submit:1")
    assert store.steps(eid)[0].status == "running"
    store.set_job_id(eid, "job.Runnable.submit", n, "123")
    store.finish_attempt(
        eid,
        "job.Runnable.submit",
        n,
        AttemptEnd(
            "succeeded",
            outputs={"TOSCA_JOB_ID": "123"},
            log="ok",
            attributes=("job", {"TOSCA_JOB_ID": "123"}),
        ),
    )
    step = store.steps(eid)[0]
    assert (step.status, step.job_id, step.outputs) == ("succeeded", "123", {"TOSCA_JOB_ID": "123"})
    assert store.attributes("d") == {"job": {"TOSCA_JOB_ID": "123"}}
    kinds = [(e.kind, e.status) for e in store.events(eid)]
    assert kinds == [("execution", "pending"), ("step", "running"), ("step", "succeeded")]


def test_claim_refuses_a_live_owner_and_cancel_is_a_flag(tmp_path):
    store = Store(tmp_path)
    store.create_deployment("d", "t", {})
    eid = store.create_execution("d", "install", _steps("a.x")).id
    store.claim_execution(eid, os.getppid())  # a live process that is not us
    with pytest.raises(StateError, match="being run by process"):
        store.claim_execution(eid, os.getpid())
    # A dead owner (pid far beyond pid_max) can be taken over: that is resume.
    store2 = Store(tmp_path)
    eid2 = store2.create_execution("d", "install", _steps("a.x")).id
    store2.claim_execution(eid2, 2**22 + 12345)
    store2.claim_execution(eid2, os.getpid())
    assert store2.get_execution(eid2).owner_pid == os.getpid()
    # A cancel request is a flag the owner polls; nobody owns a fresh execution.
    eid3 = store.create_execution("d", "install", _steps("a.x")).id
    record = store.request_cancel(eid3)
    assert record.cancel_requested and record.status == "pending"
    assert not store.owner_alive(record)
    assert store.owner_alive(store.get_execution(eid))
    store.clear_cancel(eid3)
    assert not store.cancel_requested(eid3)


def test_logs_filter_by_level_and_paginate(tmp_path):
    store = Store(tmp_path)
    store.create_deployment("d", "t", {})
    eid = store.create_execution("d", "install", _steps("a.x")).id
    for i, level in enumerate(["INFO", "DEBUG", "warning", "ERROR"]):
        store.add_log(eid, level, f"line {i}", step_id="a.x")
    assert [r.level for r in store.logs(eid)] == ["INFO", "DEBUG", "WARN", "ERROR"]
    assert [r.content for r in store.logs(eid, levels=["ERROR", "WARN"])] == ["line 2", "line 3"]
    first = store.logs(eid, limit=2)
    assert [r.content for r in store.logs(eid, after_id=first[-1].id)] == ["line 2", "line 3"]


def _writer(path: str, dep: str, n: int) -> None:
    store = Store(path)
    store.create_deployment(dep, "t", {})
    eid = store.create_execution(dep, "install", _steps("a.x")).id
    for i in range(n):
        store.add_log(eid, "INFO", f"{dep} {i}")
        store.set_attributes(dep, "a", {"i": i})


def test_several_processes_write_at_once(tmp_path):
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_writer, args=(str(tmp_path), f"d{k}", 60)) for k in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    store = Store(tmp_path)
    assert len(store.list_deployments()) == 4
    for k in range(4):
        assert store.attributes(f"d{k}") == {"a": {"i": 59}}
        [ex] = store.list_executions(f"d{k}")
        assert len(store.logs(ex.id)) == 60


def test_transition_hook_counts_committed_writes(tmp_path):
    store = Store(tmp_path)
    seen: list[int] = []
    store.transition_hook = seen.append
    store.create_deployment("d", "t", {})
    eid = store.create_execution("d", "install", _steps("a.x")).id
    store.heartbeat(eid)  # heartbeats do not count: kill points must be deterministic
    store.start_attempt(eid, "a.x")
    assert seen == [1, 2, 3]


def test_redaction_helpers():
    assert redact_structure({"user": "u", "api_key": "k", "nested": [{"token": "t"}]}) == {
        "user": "u",
        "api_key": REDACTED,
        "nested": [{"token": REDACTED}],
    }
    assert redact_structure({"TOSCA_JOB_ID": "1"}) == {"TOSCA_JOB_ID": "1"}
    r = Redactor()
    r.add("s3cr3t-value")
    r.add("ab")  # too short to redact safely
    assert r.text("pw=s3cr3t-value ab") == f"pw={REDACTED} ab"
    assert r.value({"out": ["x s3cr3t-value"]}) == {"out": [f"x {REDACTED}"]}


def _open_after(path: str, barrier) -> None:
    barrier.wait()
    Store(path)


def test_many_processes_open_a_new_workspace_at_the_same_moment(tmp_path):
    # Switching a new database to WAL takes an exclusive lock that SQLite refuses at once
    # (no busy wait); every opener must still get the store.
    ctx = multiprocessing.get_context("fork")
    for round_ in range(10):
        path = tmp_path / f"w{round_}"
        barrier = ctx.Barrier(8)
        procs = [ctx.Process(target=_open_after, args=(str(path), barrier)) for _ in range(8)]
        for p in procs:
            p.start()
        for p in procs:
            p.join(60)
        assert [p.exitcode for p in procs] == [0] * 8
