"""The engine: runs one execution of a plan, persisting every transition first.

Contract (``Engine.run``):

* Steps run in dependency order (``graphlib.TopologicalSorter``); independent branches run
  concurrently. Every Ansible step that is ready when a batch starts goes into ONE executor
  call (one ansible-runner run); native steps run concurrently in threads.
* A step's inputs are evaluated just before it runs, so functions see the attributes and
  operation outputs of earlier steps. Operation outputs are written to the node's
  attributes in the same transaction that closes the attempt.
* ``Runnable.run`` steps are polled with back-off until the job reaches a terminal status,
  the overall job timeout, the bounded UNKNOWN grace, or cancellation; on timeout and on
  cancellation the node's ``Runnable.cancel`` is called with the job id.
* A failed step marks its dependents ``not_run`` (unless they are its ``on_failure``
  handlers, which then run); independent branches finish. Cancellation (the ``cancel``
  event, set on SIGINT, or the store's cancel flag set by ``tosca executions cancel`` from
  another process) stops dispatching, cancels running operations and submitted jobs, and
  leaves every step in a final, consistent state.
* Resume: running the engine again on the same execution skips steps recorded
  ``succeeded`` and re-runs the rest. A step found ``running`` (the previous process died
  during it) is re-run with the SAME idempotency token (``context["idempotency_token"]``,
  ``context["resumed"] = True``), so a submit can find the job it may already have created
  instead of creating another; a submit whose job id was already recorded is not re-run.
  Other operations are re-run: they must be idempotent.
"""

from __future__ import annotations

import logging
import os
import queue
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from graphlib import CycleError, TopologicalSorter
from typing import Any

from orchestrator.engine.binding import Binding, RunState, short_interface
from orchestrator.engine.policies import EngineConfig, JobWatch
from orchestrator.errors import PlanError, ToscaError
from orchestrator.executors.base import (
    CANCELLED,
    FAILED,
    SUCCEEDED,
    TIMED_OUT,
    Executor,
    OperationRequest,
    OperationResult,
)
from orchestrator.jobs import JobStatus
from orchestrator.plan.model import CALL_OPERATION, DELEGATE, INLINE, SET_STATE, Plan, Step
from orchestrator.redaction import is_secret_key
from orchestrator.state.store import AttemptEnd, ExecutionStatus, StepStatus, Store

__all__ = [
    "Engine",
    "EngineEvent",
    "RunResult",
    "StepOutcome",
    "JOB_ID",
    "JOB_STATUS",
    "LIFECYCLE_STATES",
]

log = logging.getLogger(__name__)

# Node states set around the operations of the declarative workflows (install/uninstall):
# (state while it runs, state once it succeeded). A failed operation leaves the node in
# ERROR_STATE. Custom workflows set states with their own set_state steps.
LIFECYCLE_STATES = {
    ("Standard", "create"): ("creating", "created"),
    ("Standard", "configure"): ("configuring", "configured"),
    ("Standard", "start"): ("starting", "started"),
    ("Standard", "stop"): ("stopping", "stopped"),
    ("Standard", "delete"): ("deleting", "deleted"),
    ("Runnable", "submit"): ("submitting", "submitted"),
    ("Runnable", "run"): ("executing", "executed"),
}
ERROR_STATE = "error"
DECLARATIVE = frozenset({"install", "deploy", "uninstall", "undeploy"})

JOB_ID = "TOSCA_JOB_ID"
JOB_STATUS = "TOSCA_JOB_STATUS"
TAIL_LINES = 20


@dataclass(frozen=True)
class EngineEvent:
    """A progress notification (also persisted as events / logs in the store)."""

    execution_id: str
    step_id: str | None
    status: str
    message: str = ""
    node: str | None = None
    operation: str | None = None
    ts: float = field(default_factory=time.time)
    job_id: str | None = None  # set on the "job" event of a submit whose job id was recorded


@dataclass
class StepOutcome:
    step_id: str
    status: str
    outputs: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    output_tail: str = ""
    node: str | None = None
    operation: str | None = None


@dataclass
class RunResult:
    """How an execution ended. ``failed`` lists failed steps with their output tails."""

    execution_id: str
    status: str
    outcomes: dict[str, StepOutcome]
    outputs: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    duration: float = 0.0

    @property
    def failed(self) -> list[StepOutcome]:
        return [o for o in self.outcomes.values() if o.status == StepStatus.FAILED]

    def count(self, status: str) -> int:
        return sum(1 for o in self.outcomes.values() if o.status == status)


def _tail(text: str, lines: int = TAIL_LINES) -> str:
    return "\n".join((text or "").rstrip().splitlines()[-lines:])


_LEVEL_WORDS = ("DEBUG", "INFO", "WARNING", "WARN", "ERROR", "CRITICAL")


def _log_entries(text: str) -> list[tuple[str, str]]:
    """Split an operation log into ``(level, content)`` entries: native operations write
    lines ``LEVEL message`` (a message may span lines); other text is one INFO entry."""
    entries: list[tuple[str, str]] = []
    for line in text.splitlines():
        word, _, rest = line.partition(" ")
        if word in _LEVEL_WORDS:
            entries.append((word, rest))
        elif entries:
            entries[-1] = (entries[-1][0], entries[-1][1] + "\n" + line)
        elif line.strip():
            entries.append(("INFO", line))
    return entries


def _is_op(step: Step, interface: str, operation: str) -> bool:
    return short_interface(step.interface) == interface and step.operation == operation


@dataclass
class _Work:
    """One operation step on its way through the engine."""

    step: Step
    inputs: dict[str, Any]
    token: str | None = None  # set when resuming an interrupted attempt
    attempt: int = 0  # attempts made in this run
    number: int = 0  # store attempt number of the current attempt
    started: float = 0.0
    logged: bool = False  # its log was forwarded to the store as it came


class Engine:
    """Runs ``plan`` as execution ``execution_id`` (already created in ``store``).

    ``executors`` maps ``"native"`` and ``"ansible"`` to ``Executor`` objects; a step goes
    to ``native`` when ``Implementation.is_native``. ``on_event`` receives progress events
    (from several threads: it must be thread-safe and quick). ``cancel`` may be set from
    outside (SIGINT handler) to cancel the execution.
    """

    def __init__(
        self,
        plan: Plan,
        store: Store,
        execution_id: str,
        binding: Binding,
        executors: Mapping[str, Executor],
        *,
        config: EngineConfig | None = None,
        on_event: Callable[[EngineEvent], None] | None = None,
        cancel: threading.Event | None = None,
        workdir: str | None = None,
    ) -> None:
        self.plan = plan
        self.store = store
        self.execution_id = execution_id
        self.binding = binding
        self.executors = dict(executors)
        self.config = config or EngineConfig()
        self.on_event = on_event
        self.cancel = cancel or threading.Event()
        self.workdir = workdir
        self.state = RunState()
        self._steps = {s.id: s for s in plan.steps}
        self._outcomes: dict[str, StepOutcome] = {}
        self._queue: queue.Queue[tuple[str, Any]] = queue.Queue()
        self._ansible_ready: list[_Work] = []
        self._delayed: list[tuple[float, _Work]] = []
        self._batches_in_flight = 0
        self._in_flight = 0
        self._emit_lock = threading.Lock()
        self._jobs_cancelled: set[str] = set()
        self._resume: dict[str, tuple[str, str | None]] = {}  # step -> (token, job id)
        self._deployment_id = ""
        self._auto_states = plan.workflow in DECLARATIVE

    # -- public -----------------------------------------------------------------------------

    def run(self) -> RunResult:
        t0 = time.time()
        execution = self.store.get_execution(self.execution_id)
        self._deployment_id = execution.deployment_id
        self.store.claim_execution(self.execution_id, os.getpid())
        # The plan holds the clear workflow inputs of this run; the store only their redacted
        # form (a secret-named input must reach operations as its value, not as "***").
        self._load_state({**execution.inputs, **self.plan.inputs})
        sorter, failure_sources = self._graph()
        self._failure_sources = failure_sources
        pool = ThreadPoolExecutor(self.config.max_workers, thread_name_prefix="step")
        self._pool = pool
        self._emit(None, ExecutionStatus.RUNNING, f"{len(self._steps)} steps")
        last_beat = last_cancel_check = time.monotonic()
        try:
            while sorter.is_active():
                # Steps settled without running (set_state, not_run...) free their
                # dependents at once: keep dispatching until nothing new is ready.
                ready = sorter.get_ready()
                while ready:
                    for sid in ready:
                        self._dispatch(sid, sorter)
                    ready = sorter.get_ready()
                self._start_due_retries()
                self._flush_ansible()
                try:
                    kind, payload = self._queue.get(timeout=self.config.cancel_check_interval)
                except queue.Empty:
                    pass
                else:
                    self._handle(kind, payload, sorter)
                    while True:
                        try:
                            kind, payload = self._queue.get_nowait()
                        except queue.Empty:
                            break
                        self._handle(kind, payload, sorter)
                now = time.monotonic()
                if now - last_cancel_check >= self.config.cancel_check_interval:
                    last_cancel_check = now
                    if not self.cancel.is_set() and self.store.cancel_requested(self.execution_id):
                        self._emit(None, "cancelling", "cancel requested")
                        self.cancel.set()
                if now - last_beat >= self.config.heartbeat_interval:
                    last_beat = now
                    self.store.heartbeat(self.execution_id)
        finally:
            pool.shutdown(wait=True)
        if self.cancel.is_set():
            self._cancel_submitted_jobs()
        return self._finish(t0)

    # -- set-up -----------------------------------------------------------------------------

    def _load_state(self, workflow_inputs: dict[str, Any]) -> None:
        dep = self._deployment_id
        self.state.attributes = self.store.attributes(dep)
        self.state.node_states = {n.name: n.state for n in self.store.nodes(dep)}
        self.state.workflow_inputs = dict(workflow_inputs)
        for name, value in workflow_inputs.items():  # secret-named: blanked from every log
            if is_secret_key(name) and isinstance(value, str):
                self.binding.redactor.add(value)
        # Operation outputs of every earlier execution of this deployment, oldest first.
        for rec in self.store.succeeded_steps(dep):
            if rec.node and rec.operation:
                key = (rec.node, short_interface(rec.interface), rec.operation)
                self.state.operation_outputs[key] = rec.outputs
        for rec in self.store.steps(self.execution_id):
            if rec.step_id not in self._steps:
                continue
            if rec.status == StepStatus.SUCCEEDED:
                self._outcomes[rec.step_id] = StepOutcome(
                    rec.step_id,
                    StepStatus.SUCCEEDED,
                    rec.outputs,
                    node=rec.node,
                    operation=rec.operation,
                )
            elif rec.status == StepStatus.RUNNING and rec.attempts:
                last = self.store.attempts(self.execution_id, rec.step_id)[-1]
                self._resume[rec.step_id] = (last.token, last.job_id)
                self.store.finish_attempt(
                    self.execution_id,
                    rec.step_id,
                    last.number,
                    AttemptEnd(
                        "interrupted",
                        error="orchestrator stopped during this attempt",
                        step_status=StepStatus.PENDING,
                    ),
                )

    def _graph(self) -> tuple[TopologicalSorter[str], dict[str, set[str]]]:
        sorter: TopologicalSorter[str] = TopologicalSorter()
        failure_sources: dict[str, set[str]] = {}
        for step in self.plan.steps:
            for dep in step.depends_on:
                if dep not in self._steps:
                    raise PlanError(f"step '{step.id}' depends on unknown step '{dep}'")
            sorter.add(step.id, *step.depends_on)
            for target in step.on_failure:
                if target not in self._steps:
                    raise PlanError(f"step '{step.id}' on_failure names unknown step '{target}'")
                failure_sources.setdefault(target, set()).add(step.id)
                sorter.add(target, step.id)
        try:
            sorter.prepare()
        except CycleError as exc:
            raise PlanError(f"plan has a cycle: {' -> '.join(exc.args[1])}") from exc
        return sorter, failure_sources

    # -- dispatch ---------------------------------------------------------------------------

    def _dispatch(self, sid: str, sorter: TopologicalSorter[str]) -> None:
        step = self._steps[sid]
        done = self._outcomes.get(sid)
        if done is not None and done.status == StepStatus.SUCCEEDED:
            self._emit(sid, "skipped", "already done")  # resume: finished earlier
            sorter.done(sid)
            return
        if self.cancel.is_set():
            self._settle(sorter, step, StepStatus.CANCELLED, "cancelled")
            return
        reason = self._blocked(step)
        if reason is not None:
            self._settle(sorter, step, StepStatus.NOT_RUN, reason)
            return
        if step.activity == SET_STATE:
            state = step.target_state or ""
            if step.node:
                self.state.node_states[step.node] = state
            self._settle(sorter, step, StepStatus.SUCCEEDED, None, node_state=state)
            return
        if step.activity == DELEGATE:
            self._log("WARN", f"delegate activity of step {sid} has nothing to run", sid)
            self._settle(sorter, step, StepStatus.SUCCEEDED, None)
            return
        if step.activity == INLINE:
            self._settle(
                sorter,
                step,
                StepStatus.FAILED,
                f"inline workflow '{step.workflow}' was not expanded by the planner",
            )
            return
        if step.activity != CALL_OPERATION or step.implementation is None:
            # An operation declared without an implementation has nothing to run.
            self._settle(sorter, step, StepStatus.SUCCEEDED, None)
            return
        resumed = self._resume.get(sid)
        if resumed and resumed[1] and _is_op(step, "Runnable", "submit"):
            # The job id was recorded before the previous process died: never submit again.
            self._record_resumed_submit(step, resumed)
            self._settle_outcome(
                sorter,
                StepOutcome(
                    sid,
                    StepStatus.SUCCEEDED,
                    {JOB_ID: resumed[1]},
                    node=step.node,
                    operation=step.operation,
                ),
            )
            return
        try:
            inputs = self.binding.evaluate_inputs(step, self.state)
            if _is_op(step, "Runnable", "run"):
                inputs.setdefault(JOB_ID, self._job_id(step))
        except ToscaError as exc:
            self._fail_unstarted(sorter, step, str(exc))
            return
        work = _Work(step, inputs, token=resumed[0] if resumed else None)
        if resumed and _is_op(step, "Runnable", "submit"):
            self._log(
                "WARN",
                f"{sid} was interrupted before its job id was recorded: submitting again with "
                f"idempotency token {resumed[0]} (the implementation looks it up first)",
                sid,
            )
        key = self._executor_key(step)
        if key not in self.executors:
            self._fail_unstarted(sorter, step, f"no '{key}' executor configured")
            return
        states = self._lifecycle(step)
        if states and step.node and self.state.node_states.get(step.node) != states[0]:
            self.store.set_node_state(self._deployment_id, step.node, states[0], self.execution_id)
            self.state.node_states[step.node] = states[0]
        self._in_flight += 1
        if _is_op(step, "Runnable", "run"):
            self._pool.submit(self._guard, self._poll_job, work)
        elif key == "native":
            self._pool.submit(self._guard, self._run_single, work)
        else:
            self._ansible_ready.append(work)

    def _blocked(self, step: Step) -> str | None:
        """Why ``step`` must not run (a dependency did not succeed / branch not taken)."""
        for dep in step.depends_on:
            outcome = self._outcomes.get(dep)
            if outcome is None or outcome.status != StepStatus.SUCCEEDED:
                return f"dependency {dep} did not succeed"
        sources = self._failure_sources.get(step.id)
        if sources and not any(
            self._outcomes.get(s, StepOutcome(s, "")).status == StepStatus.FAILED for s in sources
        ):
            return "on_failure branch not taken"
        return None

    def _lifecycle(self, step: Step) -> tuple[str, str] | None:
        if not self._auto_states or not step.node or step.relationship:
            return None
        return LIFECYCLE_STATES.get((short_interface(step.interface), step.operation or ""))

    def _executor_key(self, step: Step) -> str:
        impl = step.implementation
        return "native" if impl is not None and impl.is_native else "ansible"

    def _job_id(self, step: Step) -> Any:
        node = step.node or ""
        job = self.state.operation_output(node, "Runnable", "submit", JOB_ID)
        if job is None:
            job = self.state.attribute(node, JOB_ID)
        if job is None:
            raise ToscaError(f"no {JOB_ID} for node '{node}': its submit has not run")
        return job

    def _request(self, work: _Work) -> OperationRequest:
        step = work.step
        token = work.token or f"{self.execution_id}:{step.id}:{work.number}"
        context = self.binding.request_context(step, self.state)
        context.update(
            deployment_id=self._deployment_id,
            execution_id=self.execution_id,
            workspace=str(self.store.workspace),
            idempotency_token=token,
            resumed=work.token is not None,
            attempt=work.number,
        )
        impl = step.implementation
        timeout = impl.timeout if impl is not None and impl.timeout else None
        return OperationRequest(
            step_id=step.id,
            node=step.node or "",
            interface=step.interface or "",
            operation=step.operation or "",
            artifact=self.binding.artifact(step),
            inputs=work.inputs,
            output_names=self.binding.output_names(step),
            host=self.binding.host(step),
            timeout=timeout or self.config.operation_timeout,
            workdir=self.workdir,
            context=context,
        )

    def _begin(self, work: _Work) -> OperationRequest:
        """Record the attempt (before acting) and build its request."""
        work.attempt += 1
        token = work.token
        work.number = self.store.start_attempt(self.execution_id, work.step.id, token)
        work.started = time.time()
        self._emit(
            work.step.id,
            StepStatus.RUNNING,
            f"attempt {work.number}" + (" (resumed)" if token else ""),
        )
        return self._request(work)

    # -- running ----------------------------------------------------------------------------

    def _guard(self, fn: Callable[[_Work], None], work: _Work) -> None:
        try:
            fn(work)
        except Exception as exc:  # a bug or a store failure must not hang the engine
            log.exception("step %s crashed", work.step.id)
            self._crashed(work, exc)

    def _crashed(self, work: _Work, exc: BaseException) -> None:
        """Record a step whose handling raised, best effort, and report it failed."""
        error = f"internal error: {type(exc).__name__}: {exc}"
        try:
            self.store.set_step_status(self.execution_id, work.step.id, StepStatus.FAILED,
                                       error=self.binding.redactor.text(error))  # fmt: skip
        except Exception:  # the store itself is failing: the outcome still ends the step
            log.exception("cannot record the failure of %s", work.step.id)
        self._queue.put(
            (
                "outcome",
                StepOutcome(
                    work.step.id,
                    StepStatus.FAILED,
                    error=error,
                    node=work.step.node,
                    operation=work.step.operation,
                ),
            )
        )

    def _run_single(self, work: _Work) -> None:
        """Native step: attempts with the retry policy, in a worker thread."""
        executor = self.executors[self._executor_key(work.step)]
        while True:
            request = self._begin(work)
            try:
                result = executor.run_batch([request], cancel=self.cancel)[0]
            except ToscaError as exc:
                result = OperationResult(work.step.id, FAILED, error=str(exc))
            retry_in = self._conclude(work, result)
            if retry_in is None:
                return
            if self.cancel.wait(retry_in):
                self.store.set_step_status(
                    self.execution_id,
                    work.step.id,
                    StepStatus.CANCELLED,
                    error="cancelled before retry",
                )
                self._queue.put(
                    (
                        "outcome",
                        StepOutcome(
                            work.step.id, StepStatus.CANCELLED, error="cancelled before retry"
                        ),
                    )
                )
                return

    def _conclude(self, work: _Work, result: OperationResult) -> float | None:
        """Record one attempt's result; return the delay before a retry, or None if final."""
        step = work.step
        redact = self.binding.redactor
        outputs = dict(result.outputs or {})
        log_text = redact.text(result.log)
        error = redact.text(result.error) if result.error else None
        ok = result.status == SUCCEEDED
        policy = self.config.retry
        retry = (
            not ok
            and result.status == FAILED
            and work.attempt < policy.max_attempts
            and not self.cancel.is_set()
        )
        if ok:
            step_status = StepStatus.SUCCEEDED
        elif retry:
            step_status = StepStatus.PENDING
        elif result.status == CANCELLED or self.cancel.is_set():
            step_status = StepStatus.CANCELLED
        else:
            step_status = StepStatus.FAILED
        if result.status == TIMED_OUT and not error:
            error = "operation timed out"
        attrs = None
        if ok and step.node:  # stored redacted; the in-memory run state keeps clear values
            attrs = (step.node, redact.value(self._attribute_updates(step, outputs)))
        states = self._lifecycle(step)
        node_state = None
        if states and step.node:
            if ok:
                node_state = (step.node, states[1])
            elif step_status == StepStatus.FAILED:
                node_state = (step.node, ERROR_STATE)
        end = AttemptEnd(
            result.status,
            outputs=redact.value(outputs),
            log=log_text,
            error=error,
            started_at=result.started_at or None,
            ended_at=result.ended_at or None,
            step_status=step_status,
            attributes=attrs,
            node_state=node_state,
        )
        self.store.finish_attempt(self.execution_id, step.id, work.number, end)
        if ok and _is_op(step, "Runnable", "submit") and outputs.get(JOB_ID) is not None:
            job_id = str(outputs[JOB_ID])
            self.store.set_job_id(self.execution_id, step.id, work.number, job_id)
            # Recorded: from now on a resume never submits it again. Tell waiters at once.
            self._emit(step.id, "job_submitted", f"job {job_id} submitted", job_id=job_id)
        if log_text and not work.logged:
            self._log("DEBUG", log_text, step.id)
        if retry:
            delay = policy.delay_before(work.attempt + 1)
            self._emit(
                step.id, "retrying", f"attempt {work.number} failed: {error}; retry in {delay:.1f}s"
            )
            return delay
        self._queue.put(
            (
                "outcome",
                StepOutcome(
                    step.id,
                    step_status,
                    outputs,
                    error,
                    _tail(log_text or error or ""),
                    step.node,
                    step.operation,
                ),
            )
        )
        return None

    def _flush_ansible(self) -> None:
        """Start one batch with every ready Ansible step, if a batch slot is free."""
        if not self._ansible_ready or self._batches_in_flight >= self.config.max_ansible_batches:
            return
        batch, self._ansible_ready = self._ansible_ready, []
        if self.cancel.is_set():
            for work in batch:
                self.store.set_step_status(
                    self.execution_id, work.step.id, StepStatus.CANCELLED, error="cancelled"
                )
                self._queue.put(
                    ("outcome", StepOutcome(work.step.id, StepStatus.CANCELLED, error="cancelled"))
                )
            return
        requests = [self._begin(work) for work in batch]
        self._batches_in_flight += 1
        self._pool.submit(self._run_batch, batch, requests)

    def _run_batch(self, batch: list[_Work], requests: list[OperationRequest]) -> None:
        by_id = {w.step.id: w for w in batch}
        concluded: set[str] = set()
        lock = threading.Lock()

        def finished(result: OperationResult) -> None:
            with lock:
                if result.step_id in concluded or result.step_id not in by_id:
                    return
                concluded.add(result.step_id)
            self._after_batch_result(by_id[result.step_id], result)

        try:
            results = self.executors["ansible"].run_batch(
                requests, on_finished=finished, cancel=self.cancel
            )
        except Exception as exc:  # ExecutionError, or a broken executor
            log.warning("ansible batch failed: %s", exc)
            results = [OperationResult(r.step_id, FAILED, error=str(exc)) for r in requests]
        finally:
            self._queue.put(("batch_done", None))
        for result in results:
            finished(result)
        for work in batch:  # an executor that forgot a request: fail it, never hang
            finished(OperationResult(work.step.id, FAILED, error="executor returned no result"))

    def _after_batch_result(self, work: _Work, result: OperationResult) -> None:
        try:
            retry_in = self._conclude(work, result)
        except Exception as exc:
            log.exception("recording %s failed", work.step.id)
            self._crashed(work, exc)
            return
        if retry_in is not None:
            self._queue.put(("retry", (time.monotonic() + retry_in, work)))

    def _start_due_retries(self) -> None:
        now = time.monotonic()
        due = [w for t, w in self._delayed if t <= now or self.cancel.is_set()]
        self._delayed = [(t, w) for t, w in self._delayed if t > now and not self.cancel.is_set()]
        self._ansible_ready.extend(due)

    # -- job protocol -----------------------------------------------------------------------

    def _poll_job(self, work: _Work) -> None:
        """``Runnable.run``: poll with back-off until terminal / timeout / cancel."""
        step = work.step
        executor = self.executors[self._executor_key(step)]
        record = next(
            (r for r in self.store.steps(self.execution_id) if r.step_id == step.id), None
        )
        request = self._begin(work)
        job_id = work.inputs.get(JOB_ID)
        first_start = record.started_at if record and record.started_at else work.started
        timeout = self.binding.job_timeout(step) or self.config.poll.timeout
        watch = JobWatch(job_id, self.config.poll, first_start, timeout)
        last_status: JobStatus | None = None
        logs: list[str] = []
        while True:
            try:
                answer = executor.run_batch([request], cancel=self.cancel)[0]
            except ToscaError as exc:
                answer = OperationResult(step.id, FAILED, error=str(exc))
            if answer.log:
                logs.append(answer.log)
                self._forward_poll_log(step.id, answer.log)
            status = JobStatus.UNKNOWN
            if answer.status == SUCCEEDED:
                raw = answer.outputs.get(JOB_STATUS)
                parsed = watch.status_of(raw)
                if parsed is None:
                    log.warning("job %s: unknown status %r", job_id, raw)
                status = parsed or JobStatus.UNKNOWN
            elif not self.cancel.is_set():
                # A failing poll is treated like an unknown answer: tolerated for a while.
                log.warning("job %s: poll failed: %s", job_id, answer.error)
            if status != last_status:
                last_status = status
                self._emit(step.id, "job", f"job {job_id} {status.value}")
                self._log("INFO", f"job {job_id}: {status.value}", step.id)
            verdict = watch.after(status, time.time(), answer.error)
            if verdict.cancel_reason:
                self._cancel_job(step.node or "", job_id, verdict.cancel_reason)
            if verdict.status is not None:
                outputs = answer.outputs if verdict.keep_outputs else {}
                result = OperationResult(
                    step.id, verdict.status, outputs=outputs, error=verdict.error
                )
                break
            if self.cancel.wait(verdict.delay):
                self._cancel_job(step.node or "", job_id, "execution cancelled")
                result = OperationResult(step.id, CANCELLED, error=f"job {job_id} cancelled")
                break
        result.log = "\n".join(logs)
        result.started_at, result.ended_at = work.started, time.time()
        work.attempt = self.config.retry.max_attempts  # polling is never retried as a whole
        work.logged = True  # each poll's lines are in the execution's logs already
        self._conclude(work, result)

    def _forward_poll_log(self, step_id: str, text: str) -> None:
        """One poll's log (a job's new output lines, task events...) into the execution's
        logs, one record per line with its level, and to ``on_event`` as ``output`` events:
        ``tosca workflows run`` shows the application's progress while the job runs."""
        entries = _log_entries(self.binding.redactor.text(text))
        try:
            self.store.add_logs(self.execution_id, entries, step_id=step_id)
        except Exception:  # the job goes on; its full log is kept with the attempt anyway
            log.exception("cannot record the output of %s", step_id)
        for _, content in entries:
            for line in content.splitlines():
                if line.strip():
                    self._emit(step_id, "output", line)

    def _cancel_job(self, node: str, job_id: Any, reason: str) -> None:
        """Call the node's ``Runnable.cancel`` for ``job_id`` (best effort, logged)."""
        if node in self._jobs_cancelled or job_id is None:
            return
        self._jobs_cancelled.add(node)
        cancel_step = self.binding.cancel_step(node)
        if cancel_step is None or cancel_step.implementation is None:
            self._log(
                "WARN", f"node {node} has no Runnable.cancel: job {job_id} left running", None
            )
            return
        try:
            inputs = self.binding.evaluate_inputs(cancel_step, self.state)
        except ToscaError as exc:
            self._log("ERROR", f"cannot cancel job {job_id}: {exc}", cancel_step.id)
            return
        inputs.setdefault(JOB_ID, job_id)
        work = _Work(cancel_step, inputs, number=0)
        request = self._request(work)
        executor = self.executors.get(self._executor_key(cancel_step))
        if executor is None:
            return
        self._log("WARN", f"cancelling job {job_id} of node {node} ({reason})", cancel_step.id)
        try:
            res = executor.run_batch([request], cancel=threading.Event())[0]
        except ToscaError as exc:
            res = OperationResult(cancel_step.id, FAILED, error=str(exc))
        level = "INFO" if res.status == SUCCEEDED else "ERROR"
        detail = "" if res.status == SUCCEEDED else f": {res.error}"
        self._log(level, f"cancel of job {job_id}: {res.status}{detail}", cancel_step.id)

    def _cancel_submitted_jobs(self) -> None:
        """After a cancel: cancel jobs that were submitted but whose run never finished."""
        for step in self.plan.steps:
            if not _is_op(step, "Runnable", "submit") or not step.node:
                continue
            job = self.state.operation_output(step.node, "Runnable", "submit", JOB_ID)
            runs = [
                s for s in self.plan.steps if s.node == step.node and _is_op(s, "Runnable", "run")
            ]
            finished = any(
                self._outcomes.get(r.id, StepOutcome(r.id, "")).status == StepStatus.SUCCEEDED
                for r in runs
            )
            if job is not None and not finished:
                self._cancel_job(step.node, job, "execution cancelled")

    def _record_resumed_submit(self, step: Step, resumed: tuple[str, str | None]) -> None:
        number = self.store.start_attempt(self.execution_id, step.id, resumed[0])
        outputs = {JOB_ID: resumed[1]}
        end = AttemptEnd(
            SUCCEEDED,
            outputs=outputs,
            log="job id recorded before the interruption; not submitted again",
            attributes=(step.node, outputs) if step.node else None,
        )
        self.store.finish_attempt(self.execution_id, step.id, number, end)
        self._emit(
            step.id, "job_submitted", f"job {resumed[1]} (recorded earlier)", job_id=resumed[1]
        )

    # -- outcomes ---------------------------------------------------------------------------

    def _handle(self, kind: str, payload: Any, sorter: TopologicalSorter[str]) -> None:
        if kind == "outcome":
            self._in_flight -= 1
            self._settle_outcome(sorter, payload)
        elif kind == "retry":
            self._delayed.append(payload)
        elif kind == "batch_done":
            self._batches_in_flight -= 1

    def _settle(
        self,
        sorter: TopologicalSorter[str],
        step: Step,
        status: str,
        error: str | None,
        node_state: str | None = None,
    ) -> None:
        """Finish a step that ran no operation (set_state, not_run, cancelled...)."""
        self.store.set_step_status(
            self.execution_id,
            step.id,
            status,
            error=error,
            node_state=(step.node, node_state) if step.node and node_state else None,
        )
        self._settle_outcome(
            sorter,
            StepOutcome(step.id, status, error=error, node=step.node, operation=step.operation),
        )

    def _fail_unstarted(self, sorter: TopologicalSorter[str], step: Step, error: str) -> None:
        """A step that failed before its operation could start still gets an attempt row."""
        number = self.store.start_attempt(self.execution_id, step.id)
        self.store.finish_attempt(
            self.execution_id,
            step.id,
            number,
            AttemptEnd(FAILED, error=self.binding.redactor.text(error)),
        )
        self._settle_outcome(
            sorter,
            StepOutcome(
                step.id,
                StepStatus.FAILED,
                error=error,
                output_tail=error,
                node=step.node,
                operation=step.operation,
            ),
        )

    def _settle_outcome(self, sorter: TopologicalSorter[str], outcome: StepOutcome) -> None:
        step = self._steps[outcome.step_id]
        outcome.node, outcome.operation = step.node, step.operation
        self._outcomes[outcome.step_id] = outcome
        states = self._lifecycle(step)
        if states and step.node and outcome.status == StepStatus.SUCCEEDED:
            self.state.node_states[step.node] = states[1]
        elif states and step.node and outcome.status == StepStatus.FAILED:
            self.state.node_states[step.node] = ERROR_STATE
        if outcome.status == StepStatus.SUCCEEDED and step.node and step.operation:
            key = (step.node, short_interface(step.interface), step.operation)
            self.state.operation_outputs[key] = dict(outcome.outputs)
            updates = self._attribute_updates(step, outcome.outputs)
            if updates:
                self.state.attributes.setdefault(step.node, {}).update(updates)
        message = outcome.error or ""
        self._emit(outcome.step_id, outcome.status, message)
        if outcome.status == StepStatus.FAILED:
            self._log("ERROR", f"step {outcome.step_id} failed: {outcome.error}", outcome.step_id)
        sorter.done(outcome.step_id)

    @staticmethod
    def _attribute_updates(step: Step, outputs: Mapping[str, Any]) -> dict[str, Any]:
        """Operation outputs become node attributes: same name, plus TOSCA output mappings
        (``outputs: {name: [SELF, attribute]}``); a submit's job id is also ``job_id``."""
        updates = dict(outputs)
        if _is_op(step, "Runnable", "submit") and JOB_ID in outputs:
            updates.setdefault("job_id", outputs[JOB_ID])  # the eFlows4HPC job attribute
        for name, mapping in (step.outputs or {}).items():
            if name in outputs and isinstance(mapping, list | tuple) and len(mapping) >= 2:
                updates[str(mapping[-1])] = outputs[name]
        return updates

    def _finish(self, t0: float) -> RunResult:
        statuses = {o.status for o in self._outcomes.values()}
        if self.cancel.is_set() or StepStatus.CANCELLED in statuses:
            status = ExecutionStatus.CANCELLED
        elif StepStatus.FAILED in statuses:
            status = ExecutionStatus.FAILED
        else:
            status = ExecutionStatus.SUCCEEDED
        outputs: dict[str, Any] = {}
        error: str | None = None
        if status == ExecutionStatus.SUCCEEDED:
            try:
                outputs = self.binding.redactor.value(self.binding.outputs(self.state))
            except ToscaError as exc:
                error = f"outputs: {exc}"
                self._log("ERROR", error, None)
        failed = [o for o in self._outcomes.values() if o.status == StepStatus.FAILED]
        if failed:
            first = failed[0]
            error = f"{first.step_id}: {first.error}"
        elif status == ExecutionStatus.CANCELLED:
            error = "cancelled"
        self.store.finish_execution(self.execution_id, status, error=error, outputs=outputs)
        self._emit(None, status, error or "")
        return RunResult(
            self.execution_id, status, dict(self._outcomes), outputs, error, time.time() - t0
        )

    # -- events and logs --------------------------------------------------------------------

    def _emit(
        self, step_id: str | None, status: str, message: str, job_id: str | None = None
    ) -> None:
        if self.on_event is None:
            return
        step = self._steps.get(step_id) if step_id else None
        event = EngineEvent(
            self.execution_id,
            step_id,
            status,
            message,
            step.node if step else None,
            step.operation if step else None,
            job_id=job_id,
        )
        with self._emit_lock:
            try:
                self.on_event(event)
            except Exception:  # a display problem must never stop a deployment
                log.exception("progress callback failed")

    def _log(self, level: str, content: str, step_id: str | None) -> None:
        self.store.add_log(
            self.execution_id, level, self.binding.redactor.text(content), step_id=step_id
        )
