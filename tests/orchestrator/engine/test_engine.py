"""Engine behaviour over plain plans and the fake executor (no Ansible, no Slurm)."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from orchestrator.engine import (
    Engine,
    EngineConfig,
    PlainBinding,
    PollPolicy,
    RetryPolicy,
    RunState,
)
from orchestrator.executors.base import OperationRequest
from orchestrator.executors.fake import FakeExecutor
from orchestrator.plan.model import CALL_OPERATION, SET_STATE, Implementation, Plan, Step
from orchestrator.state import Store

PLAYBOOK = Implementation("op.yaml")
NATIVE = Implementation("native://tests.fake:op")


def op(node: str, operation: str, deps: tuple[str, ...] = (), impl=PLAYBOOK, **kw: Any) -> Step:
    interface = kw.pop("interface", "Standard")
    return Step(
        id=f"{node}.{interface}.{operation}",
        activity=CALL_OPERATION,
        node=node,
        interface=interface,
        operation=operation,
        depends_on=deps,
        implementation=impl,
        **kw,
    )


def run(
    tmp_path,
    steps: list[Step],
    *,
    ansible: FakeExecutor | None = None,
    native: FakeExecutor | None = None,
    binding: PlainBinding | None = None,
    config: EngineConfig | None = None,
    cancel: threading.Event | None = None,
    store: Store | None = None,
    execution_id: str | None = None,
    workflow: str = "install",
):
    store = store or Store(tmp_path / "ws")
    plan = Plan(workflow, steps)
    if execution_id is None:
        store.create_deployment("d", "t.yaml", {})
        execution_id = store.create_execution(
            "d", "install", [{"id": s.id, "activity": s.activity, "node": s.node} for s in steps]
        ).id
    events: list = []
    engine = Engine(
        plan,
        store,
        execution_id,
        binding or PlainBinding(),
        {"ansible": ansible or FakeExecutor(), "native": native or FakeExecutor()},
        config=config or EngineConfig(cancel_check_interval=0.05),
        on_event=events.append,
        cancel=cancel,
    )
    return engine.run(), store, execution_id, events


def test_chain_runs_in_order_and_outputs_feed_later_inputs(tmp_path):
    ansible = FakeExecutor(
        {
            "a.Standard.create": lambda r: {"path": "/tmp/a"},
            "b.Standard.create": lambda r: {"got": r.inputs["src"]},
        }
    )
    steps = [
        op("a", "create"),
        op(
            "b",
            "create",
            ("a.Standard.create",),
            inputs={"src": lambda st: st.attribute("a", "path")},
        ),
    ]
    result, store, eid, _ = run(tmp_path, steps, ansible=ansible)
    assert result.status == "succeeded"
    assert ansible.ran == ["a.Standard.create", "b.Standard.create"]
    assert store.attributes("d")["b"]["got"] == "/tmp/a"
    assert [s.status for s in store.steps(eid)] == ["succeeded", "succeeded"]


def test_ready_ansible_steps_share_one_batch_natives_run_concurrently(tmp_path):
    ansible = FakeExecutor()
    started: list[float] = []

    def slow(r: OperationRequest) -> dict:
        started.append(time.monotonic())
        time.sleep(0.3)
        return {}

    native = FakeExecutor(default=slow)
    steps = [op(f"n{i}", "create") for i in range(5)] + [
        op(f"x{i}", "create", impl=NATIVE) for i in range(3)
    ]
    t0 = time.monotonic()
    result, *_ = run(tmp_path, steps, ansible=ansible, native=native)
    assert result.status == "succeeded"
    assert sorted(ansible.batches[0]) == sorted(f"n{i}.Standard.create" for i in range(5))
    assert len(ansible.batches) == 1
    assert max(started) - min(started) < 0.25  # three 0.3 s natives overlapped
    assert time.monotonic() - t0 < 0.85


def test_failure_marks_dependents_not_run_and_independent_branch_finishes(tmp_path):
    def boom(r):
        raise RuntimeError("disk full\nline2")

    ansible = FakeExecutor({"a.Standard.create": boom})
    steps = [
        op("a", "create"),
        op("a", "configure", ("a.Standard.create",)),
        op("a", "start", ("a.Standard.configure",)),
        op("b", "create"),
        op("b", "start", ("b.Standard.create",)),
    ]
    result, store, eid, _ = run(tmp_path, steps, ansible=ansible)
    assert result.status == "failed"
    statuses = {s.step_id: s.status for s in store.steps(eid)}
    assert statuses == {
        "a.Standard.create": "failed",
        "a.Standard.configure": "not_run",
        "a.Standard.start": "not_run",
        "b.Standard.create": "succeeded",
        "b.Standard.start": "succeeded",
    }
    [failed] = result.failed
    assert failed.node == "a" and failed.operation == "create"
    assert "disk full" in failed.output_tail
    assert store.get_execution(eid).status == "failed"


def test_on_failure_branch_runs_only_when_source_fails(tmp_path):
    ansible = FakeExecutor({"job.Standard.run": lambda r: (_ for _ in ()).throw(ValueError())})
    steps = [
        op("job", "run", on_failure=("job.Standard.cleanup",)),
        op("job", "cleanup"),
        op("job", "report", ("job.Standard.run",)),
    ]
    result, store, eid, _ = run(tmp_path, steps, ansible=ansible)
    statuses = {s.step_id: s.status for s in store.steps(eid)}
    assert statuses["job.Standard.cleanup"] == "succeeded"
    assert statuses["job.Standard.report"] == "not_run"
    assert result.status == "failed"


def test_on_failure_branch_not_taken_on_success(tmp_path):
    steps = [op("job", "run", on_failure=("job.Standard.cleanup",)), op("job", "cleanup")]
    result, store, eid, _ = run(tmp_path, steps)
    assert result.status == "succeeded"
    assert {s.step_id: s.status for s in store.steps(eid)}["job.Standard.cleanup"] == "not_run"


def test_retry_policy_records_every_attempt(tmp_path):
    calls = {"n": 0}

    def flaky(r):
        calls["n"] += 1
        if calls["n"] < 3:
            raise RuntimeError(f"try {calls['n']}")
        return {"ok": True}

    native = FakeExecutor({"a.Standard.create": flaky})
    cfg = EngineConfig(retry=RetryPolicy(max_attempts=3, delay=0.01), cancel_check_interval=0.05)
    result, store, eid, events = run(
        tmp_path, [op("a", "create", impl=NATIVE)], native=native, config=cfg
    )
    assert result.status == "succeeded"
    attempts = store.attempts(eid, "a.Standard.create")
    assert [a.status for a in attempts] == ["failed", "failed", "succeeded"]
    assert attempts[0].error == "try 1" and attempts[1].error == "try 2"
    assert len({a.token for a in attempts}) == 3
    assert any(e.status == "retrying" for e in events)


def test_ansible_retry_goes_into_a_later_batch(tmp_path):
    calls = {"n": 0}

    def flaky(r):
        calls["n"] += 1
        if calls["n"] == 1:
            raise RuntimeError("transient")
        return {}

    ansible = FakeExecutor({"a.Standard.create": flaky})
    cfg = EngineConfig(retry=RetryPolicy(max_attempts=2, delay=0.01), cancel_check_interval=0.05)
    result, store, eid, _ = run(tmp_path, [op("a", "create")], ansible=ansible, config=cfg)
    assert result.status == "succeeded"
    assert ansible.batches == [["a.Standard.create"], ["a.Standard.create"]]


def test_set_state_steps_set_node_states(tmp_path):
    steps = [
        Step("a.state.creating", SET_STATE, node="a", target_state="creating"),
        op("a", "create", ("a.state.creating",)),
        Step(
            "a.state.created",
            SET_STATE,
            node="a",
            target_state="created",
            depends_on=("a.Standard.create",),
        ),
    ]
    result, store, eid, _ = run(tmp_path, steps, workflow="exec_job")
    assert result.status == "succeeded"
    assert {n.name: n.state for n in store.nodes("d")} == {"a": "created"}
    node_events = [e.status for e in store.events(eid) if e.kind == "node"]
    assert node_events == ["creating", "created"]


def _job_steps(run_impl=NATIVE) -> list[Step]:
    return [
        op("job", "submit", impl=NATIVE, interface="Runnable"),
        op("job", "run", ("job.Runnable.submit",), impl=run_impl, interface="Runnable"),
    ]


def _cancel_binding(cancelled: list) -> PlainBinding:
    return PlainBinding(
        cancel_steps={"job": op("job", "cancel", impl=NATIVE, interface="Runnable")}
    )


def test_job_protocol_polls_with_backoff_until_completed(tmp_path):
    answers = iter(["QUEUED", "RUNNING", "RUNNING", "COMPLETED"])
    seen: list[Any] = []

    def poll(r):
        seen.append((time.monotonic(), r.inputs["TOSCA_JOB_ID"]))
        return {"TOSCA_JOB_STATUS": next(answers)}

    native = FakeExecutor(
        {"job.Runnable.submit": lambda r: {"TOSCA_JOB_ID": "42"}, "job.Runnable.run": poll}
    )
    cfg = EngineConfig(
        poll=PollPolicy(initial=0.02, factor=2, maximum=0.05), cancel_check_interval=0.05
    )
    result, store, eid, events = run(tmp_path, _job_steps(), native=native, config=cfg)
    assert result.status == "succeeded"
    assert [j for _, j in seen] == ["42"] * 4
    gaps = [b[0] - a[0] for a, b in zip(seen, seen[1:], strict=False)]
    assert gaps[0] >= 0.02 and gaps[1] >= 0.04
    assert store.steps(eid)[0].job_id == "42"
    assert [e.message for e in events if e.status == "job"] == [
        "job 42 QUEUED",
        "job 42 RUNNING",
        "job 42 COMPLETED",
    ]


@pytest.mark.parametrize("final", ["FAILED", "TIMEOUT", "CANCELLED", "LOST"])
def test_job_terminal_failure_fails_the_step(tmp_path, final):
    native = FakeExecutor(
        {
            "job.Runnable.submit": lambda r: {"TOSCA_JOB_ID": "7"},
            "job.Runnable.run": lambda r: {"TOSCA_JOB_STATUS": final},
        }
    )
    result, store, eid, _ = run(tmp_path, _job_steps(), native=native)
    assert result.status == "failed"
    assert f"ended {final}" in (result.failed[0].error or "")


def test_job_timeout_cancels_the_job(tmp_path):
    cancelled: list[str] = []
    native = FakeExecutor(
        {
            "job.Runnable.submit": lambda r: {"TOSCA_JOB_ID": "9"},
            "job.Runnable.run": lambda r: {"TOSCA_JOB_STATUS": "RUNNING"},
            "job.Runnable.cancel": lambda r: cancelled.append(r.inputs["TOSCA_JOB_ID"]) or {},
        }
    )
    binding = PlainBinding(
        cancel_steps={"job": op("job", "cancel", impl=NATIVE, interface="Runnable")},
        job_timeouts={"job": 0.3},
    )
    cfg = EngineConfig(poll=PollPolicy(initial=0.05, maximum=0.05), cancel_check_interval=0.05)
    t0 = time.monotonic()
    result, store, eid, _ = run(tmp_path, _job_steps(), native=native, binding=binding, config=cfg)
    assert time.monotonic() - t0 < 2
    assert result.status == "failed"
    assert cancelled == ["9"]
    assert "time limit" in (result.failed[0].error or "")
    assert store.attempts(eid, "job.Runnable.run")[0].status == "timed_out"


def test_unknown_status_tolerated_only_for_a_bounded_time(tmp_path):
    answers = iter(["UNKNOWN", "weird", "RUNNING", "COMPLETED"])
    native = FakeExecutor(
        {
            "job.Runnable.submit": lambda r: {"TOSCA_JOB_ID": "1"},
            "job.Runnable.run": lambda r: {"TOSCA_JOB_STATUS": next(answers)},
        }
    )
    cfg = EngineConfig(
        poll=PollPolicy(initial=0.01, maximum=0.01, unknown_grace=5), cancel_check_interval=0.05
    )
    result, *_ = run(tmp_path, _job_steps(), native=native, config=cfg)
    assert result.status == "succeeded"

    native = FakeExecutor(
        {
            "job.Runnable.submit": lambda r: {"TOSCA_JOB_ID": "1"},
            "job.Runnable.run": lambda r: {"TOSCA_JOB_STATUS": "???"},
        }
    )
    cfg = EngineConfig(
        poll=PollPolicy(initial=0.02, maximum=0.02, unknown_grace=0.2), cancel_check_interval=0.05
    )
    t0 = time.monotonic()
    result, *_ = run(tmp_path / "2", _job_steps(), native=native, config=cfg)
    assert result.status == "failed" and time.monotonic() - t0 < 2
    assert "unknown" in (result.failed[0].error or "")


def test_cancel_event_cancels_running_job_and_pending_steps(tmp_path):
    cancelled: list[str] = []
    cancel = threading.Event()
    native = FakeExecutor(
        {
            "job.Runnable.submit": lambda r: {"TOSCA_JOB_ID": "5"},
            "job.Runnable.run": lambda r: {"TOSCA_JOB_STATUS": "RUNNING"},
            "job.Runnable.cancel": lambda r: cancelled.append(r.inputs["TOSCA_JOB_ID"]) or {},
        }
    )
    binding = PlainBinding(
        cancel_steps={"job": op("job", "cancel", impl=NATIVE, interface="Runnable")}
    )
    steps = [*_job_steps(), op("after", "create", ("job.Runnable.run",))]
    threading.Timer(0.3, cancel.set).start()
    cfg = EngineConfig(poll=PollPolicy(initial=0.05, maximum=0.05), cancel_check_interval=0.05)
    result, store, eid, _ = run(
        tmp_path, steps, native=native, binding=binding, cancel=cancel, config=cfg
    )
    assert result.status == "cancelled"
    assert cancelled == ["5"]
    statuses = {s.step_id: s.status for s in store.steps(eid)}
    assert statuses == {
        "job.Runnable.submit": "succeeded",
        "job.Runnable.run": "cancelled",
        "after.Standard.create": "cancelled",
    }
    assert store.get_execution(eid).status == "cancelled"


def test_cancel_flag_in_store_is_seen_by_the_running_engine(tmp_path):
    store = Store(tmp_path / "ws")
    store.create_deployment("d", "t.yaml", {})
    steps = [op("a", "create", impl=NATIVE), op("b", "create", ("a.Standard.create",))]
    eid = store.create_execution(
        "d", "install", [{"id": s.id, "activity": s.activity} for s in steps]
    ).id
    other = Store(tmp_path / "ws")  # another process's view of the same workspace
    threading.Timer(0.2, lambda: other.request_cancel(eid)).start()
    native = FakeExecutor(delay=2.0)
    t0 = time.monotonic()
    result, store, _, _ = run(tmp_path, steps, native=native, store=store, execution_id=eid)
    assert time.monotonic() - t0 < 1.5
    assert result.status == "cancelled"
    assert [s.status for s in store.steps(eid)] == ["cancelled", "cancelled"]


def test_secrets_are_redacted_from_logs_and_state(tmp_path):
    binding = PlainBinding()
    binding.redactor.add("hunter2-secret")

    def leaky(r):
        raise RuntimeError(f"login failed with {r.inputs['password']}")

    native = FakeExecutor({"a.Standard.create": leaky})
    steps = [op("a", "create", impl=NATIVE, inputs={"password": "hunter2-secret"})]
    result, store, eid, _ = run(tmp_path, steps, native=native, binding=binding)
    assert native.calls[0].inputs["password"] == "hunter2-secret"  # the operation gets it
    dump = "".join(p.read_bytes().decode("latin-1") for p in (tmp_path / "ws").glob("state.db*"))
    assert "hunter2-secret" not in dump
    assert "***" in (store.attempts(eid)[0].error or "")


def test_input_evaluation_error_is_a_step_failure(tmp_path):
    from orchestrator.errors import ToscaError

    def bad(state: RunState):
        raise ToscaError("no attribute 'x' on node 'a'")

    steps = [op("a", "create", inputs={"v": bad})]
    result, store, eid, _ = run(tmp_path, steps)
    assert result.status == "failed"
    assert "no attribute" in (store.steps(eid)[0].error or "")


def test_topology_outputs_recorded_on_success(tmp_path):
    ansible = FakeExecutor({"a.Standard.create": lambda r: {"url": "http://x"}})
    binding = PlainBinding(topology_outputs={"endpoint": lambda st: st.attribute("a", "url")})
    result, store, eid, _ = run(tmp_path, [op("a", "create")], ansible=ansible, binding=binding)
    assert result.outputs == {"endpoint": "http://x"}
    assert store.get_execution(eid).outputs == {"endpoint": "http://x"}


def test_declarative_workflows_set_lifecycle_states(tmp_path):
    def boom(r):
        raise RuntimeError("no")

    ansible = FakeExecutor({"b.Standard.configure": boom})
    steps = [
        op("a", "create"),
        op("a", "start", ("a.Standard.create",)),
        op("b", "create"),
        op("b", "configure", ("b.Standard.create",)),
    ]
    result, store, eid, _ = run(tmp_path, steps, ansible=ansible)
    assert {n.name: n.state for n in store.nodes("d")} == {"a": "started", "b": "error"}
    a_states = [e.status for e in store.events(eid) if e.kind == "node" and e.subject == "a"]
    assert a_states == ["creating", "created", "starting", "started"]


def test_a_crashing_executor_fails_the_step_and_keeps_state_consistent(tmp_path):
    class Broken(FakeExecutor):
        def run_batch(self, requests, on_started=None, on_finished=None, cancel=None):
            raise KeyError("bug in executor")

    steps = [op("a", "create", impl=NATIVE), op("b", "create")]
    result, store, eid, _ = run(tmp_path, steps, native=Broken(), ansible=Broken())
    assert result.status == "failed"
    statuses = {s.step_id: s.status for s in store.steps(eid)}
    assert statuses == {"a.Standard.create": "failed", "b.Standard.create": "failed"}
    assert "bug in executor" in (result.outcomes["a.Standard.create"].error or "")
