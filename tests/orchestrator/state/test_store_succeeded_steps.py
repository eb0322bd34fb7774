"""``Store.succeeded_steps``: what the engine loads at start (earlier operation outputs) in one
query, oldest execution first, so later outputs win."""

from __future__ import annotations

from pathlib import Path

from orchestrator.state import Store
from orchestrator.state.store import AttemptEnd

STEPS = [
    {"id": "submit", "activity": "call_operation", "node": "job", "interface": "Runnable",
     "operation": "submit"},
    {"id": "run", "activity": "call_operation", "node": "job", "interface": "Runnable",
     "operation": "run"},
]  # fmt: skip


def _execution(store: Store, dep: str, job: str | None) -> str:
    eid = store.create_execution(dep, "exec_job", STEPS, inputs={}).id
    if job is not None:
        n = store.start_attempt(eid, "submit")
        end = AttemptEnd("succeeded", outputs={"TOSCA_JOB_ID": job}, step_status="succeeded")
        store.finish_attempt(eid, "submit", n, end)
    return eid


def test_succeeded_steps_oldest_first_only_succeeded_only_this_deployment(tmp_path: Path) -> None:
    with Store(tmp_path) as store:
        for dep in ("d", "other"):
            store.create_deployment(dep, "/t.yaml", {})
            store.init_nodes(dep, {"job": "t"})
        _execution(store, "d", "1")
        _execution(store, "d", None)  # nothing succeeded
        _execution(store, "other", "99")
        _execution(store, "d", "2")
        recs = store.succeeded_steps("d")
        assert [(r.step_id, r.outputs["TOSCA_JOB_ID"]) for r in recs] == [
            ("submit", "1"), ("submit", "2")]  # fmt: skip


def test_succeeded_steps_is_one_query_however_many_executions(tmp_path: Path) -> None:
    with Store(tmp_path) as store:
        store.create_deployment("d", "/t.yaml", {})
        store.init_nodes("d", {"job": "t"})
        for _ in range(50):
            _execution(store, "d", None)
        _execution(store, "d", "7")
        reads = []
        original = store._read

        def counting(sql, params=()):  # type: ignore[no-untyped-def]
            reads.append(sql)
            return original(sql, params)

        store._read = counting  # type: ignore[method-assign]
        recs = store.succeeded_steps("d")
        assert len(reads) == 1 and [r.outputs for r in recs] == [{"TOSCA_JOB_ID": "7"}]
