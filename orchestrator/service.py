"""The ONE facade the CLI, the REST API and the event hooks call.

``Service(workspace)`` offers:

    deploy(template, inputs, *, deployment_id, resume, dry_run, on_event, cancel) -> Outcome
    undeploy(deployment_id, *, on_event, cancel, forget) -> Outcome
    run_workflow(workflow, inputs, *, deployment_id, on_event, cancel, urgency) -> Outcome
    trigger(workflow, inputs, *, deployment_id, urgency) -> ExecutionRecord  (runs detached)
    start_workflow(workflow, inputs, *, deployment_id, urgency, on_event) -> WorkflowRun
                                              (runs in a thread of this process)
    resume_execution(execution_id, *, on_event, cancel) -> Outcome
    cancel_execution(execution_id) -> ExecutionRecord
    status(deployment_id) -> dict         outputs(deployment_id) -> dict
    execution(execution_id) -> dict       logs(execution_id, ...) -> list[LogRecord]
    list_deployments() / list_executions(deployment_id)

End users (the REST API; ``who`` is the ``Principal`` a token stands for):

    create_token / revoke_token / list_tokens / authenticate(token) -> Principal | None
    exposed_workflows(who)  trigger_as(who, workflow_id, inputs) -> WorkflowRun
    execution_as / cancel_as / logs_as(who, execution_id, ...)  (another user's: NotFound)
    executions_as(who, ...filters)  deployments_as(who)  audit_log()

Every method raises ``ToscaError`` subclasses only (``UsageError`` for bad input,
``StateError`` for a missing deployment...). Nothing here prints.

Heavy imports (the TOSCA loader, Ansible) happen inside methods, never at import time.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from orchestrator.engine.policies import EngineConfig
from orchestrator.errors import Forbidden, NotFound, StateError, ToscaError, UsageError
from orchestrator.executors.base import Executor
from orchestrator.redaction import is_secret_key
from orchestrator.state import (
    REDACTED,
    AuditRecord,
    DeploymentRecord,
    DeploymentStatus,
    ExecutionRecord,
    ExecutionStatus,
    LogRecord,
    SshKeyRecord,
    Store,
    TokenRecord,
)

if TYPE_CHECKING:
    from orchestrator.engine.runner import EngineEvent, RunResult
    from orchestrator.plan.model import Plan
    from orchestrator.tosca import ToscaModel

__all__ = [
    "ANSIBLE_ENGINES",
    "ExecutorFactory",
    "Outcome",
    "Principal",
    "Service",
    "WorkflowRun",
    "ansible_engine",
    "deployment_name",
]

# Builds the executors for one model: {"native": ..., "ansible": ...}. Tests inject fakes.
ExecutorFactory = Callable[["ToscaModel"], Mapping[str, Executor]]
EventCallback = Callable[["EngineEvent"], None]

_GENERIC_NAMES = {"topology", "tosca", "main", "template", "service", "deployment"}


ANSIBLE_ENGINES = ("warm", "runner")


def ansible_engine(choice: str | None = None) -> str:
    """The playbook executor to use: ``choice``, else ``$TOSCA_ANSIBLE``, else ``warm``."""
    value = (choice or os.environ.get("TOSCA_ANSIBLE") or "warm").strip().lower()
    if value not in ANSIBLE_ENGINES:
        raise UsageError(f"unknown Ansible executor '{value}' (one of: warm, runner)")
    return value


def deployment_name(template: str | Path) -> str:
    """Default deployment id for a template: its file stem, or its directory's name when
    the file has a generic name (``topology.yaml``), made safe for ids."""
    path = Path(template).resolve()
    if path.is_dir():
        stem = path.name
    else:
        stem = path.stem if path.stem.lower() not in _GENERIC_NAMES else path.parent.name
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", stem).strip("-.") or "deployment"


@dataclass
class Outcome:
    """What a deploy / undeploy / workflow run did."""

    deployment_id: str
    execution_id: str | None
    status: str
    result: RunResult | None = None
    plan: Plan | None = None
    outputs: dict[str, Any] = field(default_factory=dict)
    message: str = ""

    @property
    def ok(self) -> bool:
        return self.status in (ExecutionStatus.SUCCEEDED, "planned", "nothing to do")


class WorkflowRun:
    """A workflow started by ``Service.start_workflow``, running in a thread of this process.

    ``execution_id`` is known at once (the execution is recorded before the call returns).
    ``wait_job`` returns as soon as a submit step has RECORDED its job id (from then on a
    resume never submits it again): what an urgent trigger's caller waits for. ``wait``
    returns the ``Outcome``; an error raised by the run is raised again there.
    """

    def __init__(self, execution_id: str) -> None:
        self.execution_id = execution_id
        self.jobs: dict[str, str] = {}  # submit step id -> job id, in submission order
        self.created = True  # False: an idempotency key found an earlier execution
        self.cancel_event = threading.Event()
        self._job = threading.Event()
        self._done = threading.Event()
        self._outcome: Outcome | None = None
        self._error: BaseException | None = None
        self.thread: threading.Thread | None = None

    def _on_event(self, event: EngineEvent) -> None:
        if event.job_id is not None and event.step_id is not None:
            self.jobs.setdefault(event.step_id, event.job_id)
            self._job.set()

    def wait_job(self, timeout: float | None = None) -> str | None:
        """The first job id recorded, waiting up to ``timeout`` s; None if the run ended (or
        the time ran out) without one."""
        end = None if timeout is None else time.monotonic() + timeout
        while not self._job.is_set() and not self._done.is_set():
            left = None if end is None else end - time.monotonic()
            if left is not None and left <= 0:
                break
            self._job.wait(0.05 if left is None else min(left, 0.05))
        return next(iter(self.jobs.values()), None)

    def wait(self, timeout: float | None = None) -> Outcome:
        """The run's outcome; raises TimeoutError if it is still running after ``timeout``."""
        if not self._done.wait(timeout):
            raise TimeoutError(f"execution {self.execution_id} still runs")
        if self._error is not None:
            raise self._error
        assert self._outcome is not None
        return self._outcome

    def cancel(self) -> None:
        """Cancel the run (its jobs are cancelled, its steps marked)."""
        self.cancel_event.set()

    @property
    def done(self) -> bool:
        return self._done.is_set()


class Service:
    """See the module docstring. ``executors`` overrides how executors are built (tests);
    ``ansible`` picks the playbook executor: ``warm`` (default) or ``runner``
    (ansible-runner, one run per batch); default ``$TOSCA_ANSIBLE`` else ``warm``;
    ``kill_after_transitions`` is a TEST-ONLY fault injection: the process SIGKILLs itself
    right after that many committed state transitions (used by the resume tests)."""

    def __init__(
        self,
        workspace: str | os.PathLike[str] = ".tosca",
        *,
        executors: ExecutorFactory | None = None,
        config: EngineConfig | None = None,
        debug: bool = False,
        kill_after_transitions: int | None = None,
        ansible: str | None = None,
    ) -> None:
        self.workspace = Path(workspace).resolve()
        self._executor_factory = executors
        self.ansible = ansible_engine(ansible)
        self.config = config or EngineConfig()
        self.debug = debug
        self._kill_after = kill_after_transitions
        self._store: Store | None = None

    @property
    def store(self) -> Store:
        if self._store is None:
            self._store = Store(self.workspace)
            if self._kill_after:
                limit = self._kill_after

                def hook(count: int) -> None:
                    if count >= limit:
                        os.kill(os.getpid(), signal.SIGKILL)

                self._store.transition_hook = hook
        return self._store

    def close(self) -> None:
        if self._store is not None:
            self._store.close()
            self._store = None

    def start_ansible_early(self, template: str | Path) -> bool:
        """Start the warm Ansible worker now if ``template`` looks like it runs playbooks,
        so Ansible's start-up (~1-2 s) overlaps parsing and planning. Returns whether one
        was started; a wrong guess only costs time."""
        if self._executor_factory is not None or self.ansible != "warm":
            return False
        # Deferred: Ansible only when a template uses it (face start-up).
        from orchestrator.executors.ansible import likely_uses_ansible, start_early

        if not likely_uses_ansible(str(template)):
            return False
        start_early()
        return True

    # -- model and plans ------------------------------------------------------------------

    @staticmethod
    def load(template: str | Path, inputs: Mapping[str, Any] | None = None) -> ToscaModel:
        # Deferred: tosca-parser loads on first use, not when a face imports the service.
        from orchestrator.tosca import load

        path = Path(template)
        if not path.exists():
            raise UsageError(f"{template}: no such file or directory")
        return load(path, dict(inputs or {}))

    @staticmethod
    def plan(model: ToscaModel, workflow: str, inputs: Mapping[str, Any] | None = None) -> Plan:
        # Deferred: the plan builder loads on first use, not when a face imports the service.
        from orchestrator.plan import build_plan

        return build_plan(model, workflow, dict(inputs or {}))

    @classmethod
    def plan_template(
        cls,
        template: str | Path,
        workflow: str = "install",
        inputs: Mapping[str, Any] | None = None,
    ) -> Plan:
        """Load ``template`` and build ``workflow``'s plan (``tosca plan``). Inputs naming an
        input of the custom workflow go to the workflow, the others to the topology."""
        # Deferred: tosca-parser loads on first use, not when a face imports the service.
        from orchestrator.tosca import type_inputs

        given = dict(inputs or {})
        model = cls.load(template)
        wf = model.workflows.get(workflow)
        wf_inputs = {k: given.pop(k) for k in list(given) if wf is not None and k in wf.inputs}
        if given:
            model.input_values = type_inputs(model, given)
        return cls.plan(model, workflow, wf_inputs)

    def site_properties(self, source: str, node: str, keys: tuple[str, ...]) -> dict[str, Any]:
        """Evaluated ``keys`` of Environment ``node`` in deployment (or template file)
        ``source``; absent properties are left out."""
        # Deferred: tosca-parser and the engine load on first use (face start-up).
        from orchestrator.engine.model_binding import ENVIRONMENT
        from orchestrator.tosca import ModelEvalContext
        from orchestrator.tosca import functions as fn

        if Path(source).is_file():
            model = self.load(source, {})
        else:
            dep = self.store.find_deployment(source) if self.store.path.exists() else None
            if dep is None:
                raise UsageError(
                    f"'{source}' is neither a deployment in {self.workspace} nor a file"
                )
            model = self.load(dep.template, dict(dep.inputs))
        if node not in model.nodes:
            known = ", ".join(sorted(model.nodes))
            raise UsageError(f"no node '{node}' in {source} (nodes: {known})")
        template = model.nodes[node]
        if not template.is_a(ENVIRONMENT):
            raise UsageError(f"node '{node}' is a {template.type}, not an {ENVIRONMENT}")
        ctx = ModelEvalContext(model, node)
        return {
            key: fn.evaluate(template.properties[key], ctx)
            for key in keys
            if template.properties.get(key) is not None
        }

    @staticmethod
    def _check_required(model: ToscaModel, workflow: str, plan: Plan) -> None:
        """Refuse to record an execution whose required workflow inputs are missing."""
        # Deferred: tosca-parser loads on first use, not when a face imports the service.
        from orchestrator.tosca.loader import check_required_workflow_inputs

        check_required_workflow_inputs(model, workflow, plan.inputs)

    def _deployment(self, deployment_id: str | None) -> DeploymentRecord:
        """The named deployment, or the only one in the workspace."""
        if deployment_id:
            return self.store.get_deployment(deployment_id)
        deployments = self.store.list_deployments() if self.store.path.exists() else []
        if len(deployments) == 1:
            return deployments[0]
        if not deployments:
            raise StateError(f"no deployment in workspace {self.workspace}")
        names = ", ".join(d.id for d in deployments)
        raise UsageError(f"several deployments in {self.workspace} ({names}): name one")

    def _deployable(self, deployment_id: str | None) -> DeploymentRecord:
        """A deployment custom workflows may run on: one that is deployed."""
        dep = self._deployment(deployment_id)
        if dep.status != DeploymentStatus.DEPLOYED:
            raise UsageError(
                f"deployment '{dep.id}' is {dep.status}, not deployed: finish it first "
                "('tosca deploy --resume')"
            )
        return dep

    def _model_of(self, dep: DeploymentRecord, extra: Mapping[str, Any] | None) -> ToscaModel:
        """Reload a deployment's template with its recorded inputs (secrets given again)."""
        inputs = {**dep.inputs, **dict(extra or {})}
        missing = sorted(k for k, v in inputs.items() if v == REDACTED)
        if missing:
            raise UsageError(
                f"deployment '{dep.id}': secret input(s) {', '.join(missing)} are not stored; "
                "give them again with -i NAME=VALUE"
            )
        return self.load(dep.template, inputs)

    # -- running --------------------------------------------------------------------------

    def deploy(
        self,
        template: str | Path,
        inputs: Mapping[str, Any] | None = None,
        *,
        deployment_id: str | None = None,
        resume: bool = False,
        dry_run: bool = False,
        on_event: EventCallback | None = None,
        cancel: threading.Event | None = None,
    ) -> Outcome:
        """Run ``install`` for ``template``. ``resume`` finishes the deployment's unfinished
        (killed, failed or cancelled) install without re-running what succeeded."""
        dep_id = deployment_id or deployment_name(template)
        existing = self.store.find_deployment(dep_id) if not dry_run else None
        if resume and existing is not None:
            given = dict(inputs or {})
            model = self._model_of(existing, given)
            last = self.store.latest_execution(dep_id, "install")
            if last is not None and last.status != ExecutionStatus.SUCCEEDED:
                return self._resume(model, last, on_event, cancel, override_cancel=True)
            if last is not None:
                if existing.status != DeploymentStatus.DEPLOYED:
                    # Killed after the execution finished but before the deployment was
                    # marked deployed: finish that bookkeeping now.
                    self.store.set_deployment_outputs(dep_id, last.outputs)
                    self.store.set_deployment_status(dep_id, DeploymentStatus.DEPLOYED)
                return Outcome(
                    dep_id,
                    last.id,
                    "nothing to do",
                    outputs=last.outputs,
                    message=f"deployment '{dep_id}' is already deployed",
                )
        model = self.load(template, inputs)
        plan = self.plan(model, "install")
        if dry_run:
            return Outcome(
                dep_id, None, "planned", plan=plan, message=f"{len(plan.steps)} steps would run"
            )
        if existing is not None:
            last = self.store.latest_execution(dep_id)
            if last is not None and last.status not in ExecutionStatus.FINAL:
                raise UsageError(
                    f"deployment '{dep_id}' has an unfinished execution {last.id} "
                    f"({last.workflow}): use 'tosca deploy --resume' or "
                    f"'tosca executions cancel {last.id}'"
                )
        self.store.create_deployment(
            dep_id, str(Path(template).resolve()), dict(model.input_values)
        )
        self.store.init_nodes(dep_id, {n.name: n.type for n in model.nodes.values()})
        return self._start(model, plan, dep_id, {}, on_event, cancel)

    def undeploy(
        self,
        deployment_id: str | None = None,
        *,
        inputs: Mapping[str, Any] | None = None,
        on_event: EventCallback | None = None,
        cancel: threading.Event | None = None,
        forget: bool = False,
        resume: bool = False,
    ) -> Outcome:
        """Run ``uninstall``; with ``forget`` (and success) drop the deployment's records.
        ``resume`` finishes an interrupted uninstall instead of starting a new one."""
        dep = self._deployment(deployment_id)
        model = self._model_of(dep, inputs)
        last = self.store.latest_execution(dep.id)
        busy = last is not None and last.status not in ExecutionStatus.FINAL
        if busy and not resume and last is not None and self.store.owner_alive(last):
            raise UsageError(f"deployment '{dep.id}' is busy: execution {last.id} runs")
        self.store.set_deployment_status(dep.id, DeploymentStatus.UNDEPLOYING)
        if resume and last is not None and last.workflow in ("uninstall", "undeploy"):
            if last.status != ExecutionStatus.SUCCEEDED:
                outcome = self._resume(model, last, on_event, cancel, override_cancel=True)
            else:
                self.store.set_deployment_status(dep.id, DeploymentStatus.UNDEPLOYED)
                outcome = Outcome(dep.id, last.id, "nothing to do", message="already undeployed")
        else:
            plan = self.plan(model, "uninstall")
            outcome = self._start(model, plan, dep.id, {}, on_event, cancel)
        if outcome.ok and forget:
            self.store.delete_deployment(dep.id)
        return outcome

    def run_workflow(
        self,
        workflow: str,
        inputs: Mapping[str, Any] | None = None,
        *,
        deployment_id: str | None = None,
        on_event: EventCallback | None = None,
        cancel: threading.Event | None = None,
        urgency: str | None = None,
    ) -> Outcome:
        """Run a custom workflow (e.g. ``exec_job``) of a deployed template and wait.
        ``urgency`` (routine, high, urgent, emergency) overrides the template's policy."""
        dep = self._deployable(deployment_id)
        model = self._model_of(dep, None)
        plan = self.plan(model, workflow, inputs)
        self._check_required(model, workflow, plan)
        return self._start(model, plan, dep.id, dict(plan.inputs), on_event, cancel, urgency)

    def trigger(
        self,
        workflow: str,
        inputs: Mapping[str, Any] | None = None,
        *,
        deployment_id: str | None = None,
        urgency: str | None = None,
    ) -> ExecutionRecord:
        """Start a custom workflow in a detached process and return its execution at once.

        The execution is recorded first (so it is visible and cancellable immediately);
        the process runs ``tosca executions resume ID``; its output goes to
        ``<workspace>/executions/<id>/engine.log``.
        """
        dep = self._deployable(deployment_id)
        model = self._model_of(dep, None)
        plan = self.plan(model, workflow, inputs)
        self._check_required(model, workflow, plan)
        execution, _ = self._record_execution(model, plan, dep.id, dict(plan.inputs), urgency)
        workdir = self._workdir(execution.id)
        # The store keeps secret-named inputs redacted: the detached process gets their clear
        # values on its stdin (never in its argv or environment, which `ps` shows).
        secrets = {k: v for k, v in plan.inputs.items() if is_secret_key(k)}
        argv = [sys.executable, "-m", "orchestrator.cli.main", "executions", "resume"]
        argv += [execution.id, "--workspace", str(self.workspace), "--quiet"]
        if secrets:
            argv.append("--secret-inputs-stdin")
        log_fd = os.open(workdir / "engine.log", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        with os.fdopen(log_fd, "ab") as logfile:
            proc = subprocess.Popen(  # noqa: S603 - fixed argv, no shell
                argv,
                stdin=subprocess.PIPE if secrets else subprocess.DEVNULL,
                # Our own process: it keeps TOSCA_SECRET_* (get_secret resolves from them).
                env={**os.environ, "TOSCA_ANSIBLE": self.ansible},
                stdout=logfile,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # survives the caller; Ctrl-C of the caller spares it
                close_fds=True,
            )
        if proc.stdin is not None:
            with proc.stdin:
                proc.stdin.write(json.dumps(secrets, default=str).encode())
        return execution

    def start_workflow(
        self,
        workflow: str,
        inputs: Mapping[str, Any] | None = None,
        *,
        deployment_id: str | None = None,
        urgency: str | None = None,
        on_event: EventCallback | None = None,
        idempotency_key: str | None = None,
        key_detail: Mapping[str, Any] | None = None,
        owner: str | None = None,
    ) -> WorkflowRun:
        """Start a custom workflow in a thread of this process and return at once.

        The in-process trigger of a running orchestrator (the REST API and the event hooks
        use it): no process is spawned, the deployment's model is reused from the loader's
        cache, so ``WorkflowRun.wait_job`` returns the job id within a few tens of ms of the
        scheduler's answer. Bad input raises here, before anything runs.

        With ``idempotency_key``, a second start with the same key (from any process, after
        any restart) starts nothing: it returns a finished handle on the first execution
        (``created`` False, its recorded job ids in ``jobs``). ``owner`` records the user the
        execution runs for (``resume_orphans`` takes over owned executions whose process is
        gone), in the same transaction as the execution.
        """
        dep = self._deployable(deployment_id)
        model = self._model_of(dep, None)
        plan = self.plan(model, workflow, inputs)
        self._check_required(model, workflow, plan)
        execution, created = self._record_execution(
            model,
            plan,
            dep.id,
            dict(plan.inputs),
            urgency,
            key=idempotency_key,
            detail=key_detail,
            owner=owner,
        )
        handle = WorkflowRun(execution.id)
        if not created:
            handle.created = False
            handle.jobs = {s.step_id: s.job_id for s in self.store.steps(execution.id) if s.job_id}
            handle._job.set()
            handle._done.set()
            return handle

        def events(event: EngineEvent) -> None:
            handle._on_event(event)
            if on_event is not None:
                on_event(event)

        def main() -> None:
            try:
                handle._outcome = self._run(
                    model, plan, dep.id, execution.id, events, handle.cancel_event
                )
            except BaseException as exc:  # handed to wait(): a thread must not swallow it
                handle._error = exc
            finally:
                handle._done.set()

        handle.thread = threading.Thread(
            target=main, name=f"workflow:{execution.id[:8]}", daemon=True
        )
        handle.thread.start()
        return handle

    def resume_execution(
        self,
        execution_id: str,
        *,
        inputs: Mapping[str, Any] | None = None,
        on_event: EventCallback | None = None,
        cancel: threading.Event | None = None,
    ) -> Outcome:
        """Run (or finish) a recorded execution: what ``trigger`` and ``--resume`` use.

        ``inputs`` gives secret values again: those of the deployment's template, and the
        execution's own secret-named workflow inputs (stored redacted)."""
        execution = self.store.get_execution(execution_id)
        dep = self.store.get_deployment(execution.deployment_id)
        given = dict(inputs or {})
        redacted = {k for k, v in execution.inputs.items() if v == REDACTED}
        secrets = {k: given.pop(k) for k in list(given) if k in redacted}
        model = self._model_of(dep, given)
        return self._resume(model, execution, on_event, cancel, secret_inputs=secrets)

    def _resume(
        self,
        model: ToscaModel,
        execution: ExecutionRecord,
        on_event: EventCallback | None,
        cancel: threading.Event | None,
        *,
        cancel_now: bool = False,
        override_cancel: bool = False,
        secret_inputs: Mapping[str, Any] | None = None,
    ) -> Outcome:
        """Run a recorded execution to its end. ``cancel_now`` runs it only to cancel it
        (jobs cancelled, steps marked); ``override_cancel`` drops an earlier cancel request
        (an explicit ``deploy --resume``); ``secret_inputs`` are the clear values of the
        inputs the store keeps redacted."""
        workflow_inputs = {**execution.inputs, **dict(secret_inputs or {})}
        missing = sorted(k for k, v in workflow_inputs.items() if v == REDACTED)
        if missing and not cancel_now:  # cancelling needs job ids, not the secrets
            raise UsageError(
                f"execution {execution.id} has secret inputs that are not stored "
                f"({', '.join(missing)}): give them again with -i NAME=VALUE "
                "(or start a new execution)"
            )
        plan = self.plan(model, execution.workflow, workflow_inputs)
        recorded = {s.step_id for s in self.store.steps(execution.id)}
        if recorded != {s.id for s in plan.steps}:
            raise StateError(
                f"execution {execution.id}: the template changed since it started "
                "(its steps differ); cancel it and start a new one"
            )
        if override_cancel and execution.cancel_requested:
            self.store.clear_cancel(execution.id)
        elif cancel_now:
            cancel = cancel or threading.Event()
            cancel.set()
        elif execution.cancel_requested and execution.status in ExecutionStatus.FINAL:
            return Outcome(
                execution.deployment_id,
                execution.id,
                execution.status,
                message="execution was cancelled",
            )
        return self._run(model, plan, execution.deployment_id, execution.id, on_event, cancel)

    def _record_execution(
        self,
        model: ToscaModel,
        plan: Plan,
        dep_id: str,
        inputs: dict[str, Any],
        urgency: str | None = None,
        *,
        key: str | None = None,
        detail: Mapping[str, Any] | None = None,
        owner: str | None = None,
    ) -> tuple[ExecutionRecord, bool]:
        """Record the execution (with its idempotency key and owner when given): (record,
        created), created False when the key had already recorded one."""
        # Deferred: the engine loads on first use, not when a face imports the service.
        from orchestrator.engine.model_binding import ModelBinding

        steps = [
            {
                "id": s.id,
                "activity": s.activity,
                "node": s.node,
                "interface": s.interface,
                "operation": s.operation,
            }
            for s in plan.steps
        ]
        if urgency is not None:
            # Deferred: the Slurm layer loads on first use, not when a face imports the service.
            from orchestrator.slurm.urgency import LEVELS

            if urgency not in LEVELS:
                raise UsageError(f"unknown urgency '{urgency}' (one of {', '.join(LEVELS)})")
        urgency = urgency or ModelBinding(model).urgency()
        return self.store.create_keyed_execution(
            dep_id,
            plan.workflow,
            steps,
            key=key,
            detail=dict(detail or {}),
            owner=owner,
            inputs=inputs,
            urgency=urgency,
        )

    def _start(
        self,
        model: ToscaModel,
        plan: Plan,
        dep_id: str,
        inputs: dict[str, Any],
        on_event: EventCallback | None,
        cancel: threading.Event | None,
        urgency: str | None = None,
    ) -> Outcome:
        execution, _ = self._record_execution(model, plan, dep_id, inputs, urgency)
        return self._run(model, plan, dep_id, execution.id, on_event, cancel)

    def _workdir(self, execution_id: str) -> Path:
        executions = self.workspace / "executions"
        executions.mkdir(parents=True, exist_ok=True, mode=0o700)
        workdir = executions / execution_id
        workdir.mkdir(exist_ok=True, mode=0o700)
        return workdir

    def _run(
        self,
        model: ToscaModel,
        plan: Plan,
        dep_id: str,
        execution_id: str,
        on_event: EventCallback | None,
        cancel: threading.Event | None,
    ) -> Outcome:
        # Deferred: the engine loads on first use, not when a face imports the service.
        from orchestrator.engine.model_binding import ModelBinding
        from orchestrator.engine.runner import Engine

        execution = self.store.get_execution(execution_id)
        if plan.workflow in ("install", "deploy"):
            self.store.set_deployment_status(dep_id, DeploymentStatus.DEPLOYING)
        binding = ModelBinding(model, workspace=self.workspace, urgency=execution.urgency)
        executors = self._executors(model, plan)
        if "ansible" in executors:  # which Ansible engine ran this execution, on record
            engine_name = executors["ansible"].name
            self.store.add_log(execution.id, "INFO", f"ansible executor: {engine_name}")
        try:
            engine = Engine(
                plan,
                self.store,
                execution.id,
                binding,
                executors,
                config=self.config,
                on_event=on_event,
                cancel=cancel,
                workdir=str(self._workdir(execution.id)),
            )
            result = engine.run()
        finally:
            for executor in executors.values():
                executor.close()
        self._after_run(dep_id, plan.workflow, result)
        return Outcome(
            dep_id, execution.id, result.status, result=result, plan=plan, outputs=result.outputs
        )

    def _after_run(self, dep_id: str, workflow: str, result: RunResult) -> None:
        ok = result.status == ExecutionStatus.SUCCEEDED
        if workflow in ("install", "deploy"):
            after: dict[str, DeploymentStatus] = {
                ExecutionStatus.SUCCEEDED: DeploymentStatus.DEPLOYED,
                ExecutionStatus.CANCELLED: DeploymentStatus.CANCELLED,
            }
            status = after.get(result.status, DeploymentStatus.FAILED)
            if ok:  # outputs first: a deployment marked deployed always has its outputs
                self.store.set_deployment_outputs(dep_id, result.outputs)
            self.store.set_deployment_status(dep_id, status)
        elif workflow in ("uninstall", "undeploy"):
            self.store.set_deployment_status(
                dep_id, DeploymentStatus.UNDEPLOYED if ok else DeploymentStatus.FAILED
            )
        elif ok and result.outputs:
            self.store.set_deployment_outputs(dep_id, result.outputs)

    def _executors(self, model: ToscaModel, plan: Plan) -> dict[str, Executor]:
        if self._executor_factory is not None:
            return dict(self._executor_factory(model))
        # Deferred: each executor loads only when a template needs it.
        from orchestrator.executors.native import NativeExecutor

        executors: dict[str, Executor] = {"native": NativeExecutor(debug=self.debug)}
        needs_ansible = any(
            s.implementation is not None and not s.implementation.is_native for s in plan.steps
        )
        if needs_ansible and self.ansible == "runner":
            # Deferred: each executor loads only when a template needs it.
            from orchestrator.executors.ansible_runner_exec import AnsibleRunnerExecutor

            executors["ansible"] = AnsibleRunnerExecutor(
                template_dir=model.base_dir, debug=self.debug
            )
        elif needs_ansible:
            # Deferred: each executor loads only when a template needs it.
            from orchestrator.executors.ansible import AnsibleExecutor

            ansible = AnsibleExecutor(template_dir=model.base_dir, debug=self.debug)
            ansible.prestart()  # overlap Ansible's start-up with the first native steps
            executors["ansible"] = ansible
        return executors

    # -- queries --------------------------------------------------------------------------

    def cancel_execution(self, execution_id: str) -> ExecutionRecord:
        """Cancel an execution, from any process.

        A running execution's process sees the flag within a fraction of a second and
        cancels its running operations and jobs. An execution nobody runs (killed, or
        triggered but not started) is cancelled here: its submitted jobs are cancelled
        through their ``Runnable.cancel`` and its steps marked cancelled.
        """
        record = self.store.request_cancel(execution_id)
        if record.status in ExecutionStatus.FINAL or self.store.owner_alive(record):
            return record
        try:
            dep = self.store.get_deployment(record.deployment_id)
            model = self._model_of(dep, None)
            self._resume(model, record, None, threading.Event(), cancel_now=True)
        except StateError:
            pass  # another process claimed it meanwhile: it will see the flag
        except ToscaError as exc:  # template gone or unloadable: record the cancel only
            self.store.finish_execution(
                record.id, ExecutionStatus.CANCELLED, error=f"cancelled ({exc})"
            )
        return self.store.get_execution(record.id)

    def list_deployments(self) -> list[DeploymentRecord]:
        return self.store.list_deployments()

    def list_executions(self, deployment_id: str | None = None) -> list[ExecutionRecord]:
        return self.store.list_executions(deployment_id)

    def status(self, deployment_id: str | None = None) -> dict[str, Any]:
        """The deployment, its nodes (state, attributes) and its latest execution."""
        dep = self._deployment(deployment_id)
        last = self.store.latest_execution(dep.id)
        return {
            "deployment": dep.id,
            "template": dep.template,
            "status": dep.status,
            "inputs": dep.inputs,
            "nodes": [
                {"name": n.name, "type": n.type, "state": n.state, "attributes": n.attributes}
                for n in self.store.nodes(dep.id)
            ],
            "last_execution": self.execution(last.id) if last else None,
        }

    def outputs(self, deployment_id: str | None = None) -> dict[str, Any]:
        return dict(self._deployment(deployment_id).outputs)

    def execution(self, execution_id: str) -> dict[str, Any]:
        """An execution with its steps and attempts counts (JSON-able)."""
        ex = self.store.get_execution(execution_id)
        return {
            "id": ex.id,
            "deployment": ex.deployment_id,
            "workflow": ex.workflow,
            "status": ex.status,
            "inputs": ex.inputs,
            "urgency": ex.urgency,
            "outputs": ex.outputs,
            "error": ex.error,
            "cancel_requested": ex.cancel_requested,
            "created_at": ex.created_at,
            "started_at": ex.started_at,
            "ended_at": ex.ended_at,
            "steps": [
                {
                    "id": s.step_id,
                    "node": s.node,
                    "operation": s.operation,
                    "status": s.status,
                    "attempts": s.attempts,
                    "job_id": s.job_id,
                    "error": s.error,
                    "started_at": s.started_at,
                    "ended_at": s.ended_at,
                }
                for s in self.store.steps(ex.id)
            ],
        }

    def resolve_execution(
        self, execution_id: str | None, deployment_id: str | None = None
    ) -> ExecutionRecord:
        """An execution by id (prefix allowed), else the latest of the deployment."""
        if execution_id:
            return self.store.get_execution(execution_id)
        dep = self._deployment(deployment_id)
        last = self.store.latest_execution(dep.id)
        if last is None:
            raise StateError(f"deployment '{dep.id}' has no execution")
        return last

    def logs(
        self,
        execution_id: str,
        *,
        after_id: int = 0,
        limit: int = -1,
        levels: tuple[str, ...] = ("DEBUG", "INFO", "WARN", "ERROR"),
    ) -> list[LogRecord]:
        return self.store.logs(execution_id, after_id=after_id, limit=limit, levels=levels)

    # -- end users: tokens, exposed workflows, owned executions (the REST API) -------------

    def create_token(
        self, user: str, role: str = "user", expires_in: float | None = None
    ) -> tuple[TokenRecord, str]:
        """A new API token: its record and its text, which is shown this once only."""
        record, token = self.store.create_token(user, role, expires_in)
        self.store.audit(OPERATOR, "token.create", record.id, True, f"user={user} role={role}")
        return record, token

    def revoke_token(self, token_id: str) -> TokenRecord:
        try:
            record = self.store.revoke_token(token_id)
        except StateError as exc:
            raise NotFound(str(exc)) from None
        self.store.audit(OPERATOR, "token.revoke", token_id, True, f"user={record.user}")
        return record

    def list_tokens(self) -> list[TokenRecord]:
        return self.store.list_tokens()

    def authenticate(self, token: str) -> Principal | None:
        """Who ``token`` belongs to, or None (unknown, revoked or expired)."""
        record = self.store.verify_token(token)
        return Principal(record.user, record.role) if record else None

    def create_ssh_key_as(self, who: Principal) -> SshKeyRecord:
        """A new ed25519 key pair for ``who``: the public key is returned (to install on the
        user's HPC account); the private key is kept encrypted and never returned."""
        # Deferred: cryptography only when a key is made (CLI start-up).
        from cryptography.hazmat.primitives import serialization as ser  # ssh keys only
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

        private = Ed25519PrivateKey.generate()
        public = private.public_key().public_bytes(ser.Encoding.OpenSSH, ser.PublicFormat.OpenSSH)
        pem = private.private_bytes(ser.Encoding.PEM, ser.PrivateFormat.OpenSSH, ser.NoEncryption())
        record = self.store.add_ssh_key(who.user, f"{public.decode()} tosca-{who.user}", pem)
        self.store.audit(who.user, "ssh_key.create", record.id, True)
        return record

    def ssh_keys_as(self, who: Principal) -> list[SshKeyRecord]:
        """``who``'s SSH keys (public parts only)."""
        return self.store.ssh_keys_of(who.user)

    def ssh_key_as(self, who: Principal, key_id: str) -> SshKeyRecord:
        """One of ``who``'s keys; another user's key is NotFound (and audited)."""
        try:
            record = self.store.get_ssh_key(key_id)
            if record.user == who.user:
                return record
        except NotFound:
            pass
        self.store.audit(who.user, "ssh_key.get", key_id, False)
        raise NotFound(f"no SSH key '{key_id}'")

    def audit_log(self, limit: int = 1000) -> list[AuditRecord]:
        return self.store.audit_log(limit)

    def exposed_workflows(self, who: Principal) -> list[dict[str, Any]]:
        """The workflows ``who`` may trigger, as upstream HPCWaaS lists them (plus their
        typed input definitions). A deployment exposes the workflows its template names in
        metadata ``hpcwaas-workflows``; ``hpcwaas-authorized-users`` (template or workflow
        metadata) restricts who may trigger them, absent meaning any authenticated user."""
        found = []
        for dep in self.store.list_deployments():
            if dep.status != DeploymentStatus.DEPLOYED:
                continue
            try:
                model = self._model_of(dep, None)
            except ToscaError:
                continue  # template gone or needs secrets given again: nothing to offer
            for name in _tag_list(model.metadata.get(EXPOSED_TAG)):
                wf = model.workflows.get(name)
                if wf is not None and _may_trigger(who, model, wf.metadata):
                    found.append(_workflow_entry(model, dep.id, name))
        return found

    def trigger_as(
        self,
        who: Principal,
        workflow_id: str,
        inputs: Mapping[str, Any] | None = None,
        *,
        urgency: str | None = None,
    ) -> WorkflowRun:
        """Start exposed workflow ``workflow_id`` (``app@deployment@workflow``, or
        ``deployment@workflow``) for ``who``, in-process; the execution is theirs.
        ``NotFound`` for a workflow that is not exposed, ``Forbidden`` for one they may not
        trigger (and for an urgency override by a non-admin), ``UsageError`` for bad inputs."""
        parts = workflow_id.split("@")
        if len(parts) < 2 or not all(parts):
            raise NotFound(f"no workflow '{workflow_id}' (ids look like app@deployment@workflow)")
        dep_id, name = parts[-2], parts[-1]
        dep = self.store.find_deployment(dep_id)
        model = None
        if dep is not None and dep.status == DeploymentStatus.DEPLOYED:
            model = self._model_of(dep, None)
        if model is None or name not in _tag_list(model.metadata.get(EXPOSED_TAG)):
            raise NotFound(f"no workflow '{workflow_id}'")
        wf = model.workflows.get(name)
        if wf is None:
            raise NotFound(f"no workflow '{workflow_id}'")
        if not _may_trigger(who, model, wf.metadata):
            self.store.audit(who.user, "trigger", workflow_id, False, "not an authorized user")
            raise Forbidden(f"user '{who.user}' may not trigger workflow '{workflow_id}'")
        if urgency is not None and not who.is_admin:
            self.store.audit(who.user, "trigger", workflow_id, False, "urgency override")
            raise Forbidden("only an admin may override a workflow's urgency")
        handle = self.start_workflow(name, inputs, deployment_id=dep_id, urgency=urgency)
        self.store.set_owner(handle.execution_id, who.user)
        self.store.audit(who.user, "trigger", workflow_id, True, handle.execution_id)
        return handle

    def resume_orphans(self) -> list[str]:
        """Resume, in threads of this process, the API-triggered executions whose process
        is gone (a restarted ``tosca serve``): their recorded jobs are monitored again, not
        submitted again. Returns their ids."""
        owners = self.store.owners()
        resumed = []
        for ex in self.store.list_executions():
            if ex.id not in owners or ex.status in ExecutionStatus.FINAL:
                continue
            if self.store.owner_alive(ex):
                continue
            thread = threading.Thread(
                target=self._resume_quietly, args=(ex.id,), name=f"resume:{ex.id[:8]}",
                daemon=True,
            )  # fmt: skip
            thread.start()
            resumed.append(ex.id)
        return resumed

    def _resume_quietly(self, execution_id: str) -> None:
        try:
            self.resume_execution(execution_id)
        except ToscaError as exc:  # recorded on the execution where it can be; shown here
            print(f"error: resuming {execution_id}: {exc}", file=sys.stderr)

    def _owned(self, who: Principal, execution_id: str, action: str) -> ExecutionRecord:
        """The execution if ``who`` owns it (or is an admin); else ``NotFound``, the same
        answer as for an execution that does not exist, and the attempt is audited."""
        try:
            record = self.store.get_execution(execution_id)
        except StateError:
            raise NotFound(f"no execution '{execution_id}'") from None
        if not who.is_admin and self.store.owner_of(record.id) != who.user:
            self.store.audit(who.user, action, execution_id, False, "not the owner")
            raise NotFound(f"no execution '{execution_id}'")
        return record

    def execution_as(self, who: Principal, execution_id: str) -> dict[str, Any]:
        """An execution ``who`` may see, in the REST API's shape: upstream's ``id``,
        ``status`` (upper case) and ``outputs``, then the steps with their jobs."""
        record = self._owned(who, execution_id, "get")
        return _api_execution(self.execution(record.id), self.store.owner_of(record.id))

    def cancel_as(self, who: Principal, execution_id: str) -> dict[str, Any]:
        record = self._owned(who, execution_id, "cancel")
        self.cancel_execution(record.id)
        self.store.audit(who.user, "cancel", record.id, True)
        return _api_execution(self.execution(record.id), self.store.owner_of(record.id))

    def logs_as(
        self,
        who: Principal,
        execution_id: str,
        *,
        offset: int = 0,
        size: int = -1,
        levels: tuple[str, ...] = ("INFO", "WARN", "ERROR"),
        timeout: float = 0.0,
    ) -> tuple[list[LogRecord], int]:
        """Log lines ``offset``.. of an execution ``who`` may see, and the total at those
        levels. With ``timeout``, waits up to that long for a first new line (long poll);
        returns early when the execution has ended."""
        record = self._owned(who, execution_id, "logs")
        end = time.monotonic() + max(timeout, 0.0)
        while True:
            lines, total = self.store.logs_page(record.id, offset=offset, size=size, levels=levels)
            if lines or time.monotonic() >= end:
                return lines, total
            if self.store.get_execution(record.id).status in ExecutionStatus.FINAL:
                return lines, total
            time.sleep(min(0.2, max(end - time.monotonic(), 0.0)))

    def executions_as(
        self,
        who: Principal,
        *,
        workflow: str | None = None,
        status: str | None = None,
        user: str | None = None,
        since: float | None = None,
    ) -> list[dict[str, Any]]:
        """The executions ``who`` may see (their own; an admin all), newest last, filtered
        by workflow name, status (either spelling), owner and creation time."""
        owners = self.store.owners()
        found = []
        for ex in self.store.list_executions():
            owner = owners.get(ex.id)
            if not who.is_admin and owner != who.user:
                continue
            if workflow is not None and ex.workflow != workflow:
                continue
            if user is not None and owner != user:
                continue
            if since is not None and ex.created_at < since:
                continue
            shown = _api_status(ex.status, ex.cancel_requested)
            if status is not None and status.lower() not in (ex.status, shown.lower()):
                continue
            found.append(
                {"id": ex.id, "status": shown, "deployment": ex.deployment_id,
                 "workflow": ex.workflow, "user": owner, "urgency": ex.urgency,
                 "created_at": ex.created_at, "ended_at": ex.ended_at}
            )  # fmt: skip
        return found

    def products_as(
        self, who: Principal, execution_id: str
    ) -> tuple[Path | None, list[dict[str, Any]]]:
        """The products of ``who``'s execution: (the directory its ``products`` output
        names, the files there that a browser may show); (None, []) without one."""
        ex = self._owned(who, execution_id, "products")
        folder = self.store.get_execution(ex.id).outputs.get("products")
        if not isinstance(folder, str) or not folder:
            folder = self.outputs(ex.deployment_id).get("products")
        path = Path(str(folder)) if isinstance(folder, str) and folder else None
        if path is None or not path.is_dir():
            return None, []
        files = [
            {"name": f.name, "bytes": f.stat().st_size}
            for f in sorted(path.iterdir())
            if f.is_file() and not f.is_symlink() and f.suffix.lower() in PRODUCT_SUFFIXES
        ]
        return path, files

    def deployments_as(self, who: Principal) -> list[dict[str, Any]]:
        """Deployments and the workflows each exposes to ``who`` (an admin sees every
        deployment; a user those exposing something to them)."""
        exposed: dict[str, list[str]] = {}
        for wf in self.exposed_workflows(who):
            exposed.setdefault(wf["environment_id"], []).append(wf["id"])
        return [
            {"id": d.id, "status": d.status, "template": Path(d.template).name,
             "workflows": exposed.get(d.id, []), "updated_at": d.updated_at}
            for d in self.store.list_deployments()
            if who.is_admin or d.id in exposed
        ]  # fmt: skip


# -- helpers of the end-user section ----------------------------------------------------------

# What the dashboard may fetch of an execution's products (never scripts or archives).
PRODUCT_SUFFIXES = {".png", ".json", ".csv", ".geojson", ".txt", ".nc"}
OPERATOR = "operator"  # who the audit log names for actions taken on this machine's CLI
EXPOSED_TAG = "hpcwaas-workflows"  # upstream's Alien4Cloud application tag, as TOSCA metadata
USERS_TAG = "hpcwaas-authorized-users"


@dataclass(frozen=True)
class Principal:
    """An authenticated caller of the REST API."""

    user: str
    role: str = "user"

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


def _tag_list(value: Any) -> list[str]:
    """A metadata tag's names: a comma-separated string (upstream's form) or a list."""
    if value is None:
        return []
    items = value if isinstance(value, list) else str(value).split(",")
    return [str(item).strip() for item in items if str(item).strip()]


def _may_trigger(who: Principal, model: ToscaModel, wf_metadata: Mapping[str, Any]) -> bool:
    if who.is_admin:
        return True
    tag = wf_metadata.get(USERS_TAG, model.metadata.get(USERS_TAG))
    return tag is None or who.user in _tag_list(tag)


def _workflow_entry(model: ToscaModel, deployment_id: str, name: str) -> dict[str, Any]:
    app = str(model.metadata.get("template_name") or deployment_id).replace("@", "-")
    wf = model.workflows[name]
    inputs = {
        key: {"type": d.type, "required": d.required,
              "default": REDACTED if is_secret_key(key) and d.default is not None else d.default,
              "description": d.description}
        for key, d in wf.inputs.items()
    }  # fmt: skip
    return {
        "id": f"{app}@{deployment_id}@{name}",
        "name": name,
        "application_id": app,
        "environment_id": deployment_id,
        "environment_name": deployment_id,
        "description": wf.description,
        "inputs": inputs,
    }


def _api_status(status: str, cancel_requested: bool) -> str:
    """Upstream's execution status words. Every non-final one ends in "ING": the upstream
    ``waas`` CLI follows an execution while its status does."""
    if status not in ExecutionStatus.FINAL and cancel_requested:
        return "CANCELLING"
    return status.upper()


def _api_execution(detail: dict[str, Any], owner: str | None) -> dict[str, Any]:
    return {
        "id": detail["id"],
        "status": _api_status(detail["status"], detail["cancel_requested"]),
        "outputs": detail["outputs"],
        "deployment": detail["deployment"],
        "workflow": detail["workflow"],
        "user": owner,
        "urgency": detail["urgency"],
        "error": detail["error"],
        "created_at": detail["created_at"],
        "started_at": detail["started_at"],
        "ended_at": detail["ended_at"],
        "steps": [
            {k: s[k] for k in ("id", "node", "operation", "status", "attempts", "job_id", "error")}
            for s in detail["steps"]
        ],
    }
