"""Ansible executor through ansible-runner: ONE ``ansible_runner.run`` per batch.

The warm executor (``orchestrator.executors.ansible``) is the fast default; this one is for
sites that want ansible-runner's artifacts (``<workdir>/ansible-runner/batch-N/artifacts``:
``stdout``, ``job_events/``, ``rc``, ``status``) and a fresh ``ansible-playbook`` process per
batch. Select it with ``tosca deploy --ansible runner`` or ``TOSCA_ANSIBLE=runner``.

One batch, one run:

* operations are grouped by (playbook, timeout); a group runs each play of its playbook ONCE
  over one inventory alias per operation, so Ansible runs the group's operations in
  parallel (forks) and a failed host stays with its own operation. Groups run one after the
  other inside the same ``ansible-playbook`` run (one generated ``main.yaml`` importing one
  rewritten copy of each group's playbook);
* an operation's inputs are host variables of its alias (an operation whose playbook declares
  a play variable of the same name gets its own group and play variables, so inputs win).
  Strings are marked ``!unsafe`` (never templated, as in the warm executor); ``Secret``
  values are never written to a file: the inventory holds an ``env`` lookup and the value
  travels in the ``ansible-playbook`` environment;
* with several groups, every play also targets a sentinel alias that skips every task:
  ``ansible-playbook`` stops the whole run after a play in which every host failed, and one
  failed group must not stop the others;
* each operation's outcome comes from the runner's event stream: its group's first play
  start fires ``on_started``; its task results form its log; a failed / unreachable task
  fails it with the task's message; outputs are ``set_stats`` data and the facts named in
  ``output_names``; ``on_finished`` fires as soon as its last play (or the play where it
  failed) ends;
* a group's ``timeout`` is the play's task timeout (Ansible fails the task); the whole run
  has a hard deadline; cancel and the deadline kill every process of the run, found by a
  marker in their environment (Ansible's task forks leave their process group).

Redaction: logs, errors and outputs are redacted unless ``debug``; events are redacted before
ansible-runner writes them to ``job_events/``, and the ``stdout`` and ``command`` artifacts
are redacted after the run.

The relative file references of an operation playbook (``templates/``, ``files/``,
``import_tasks``...) keep working: each rewritten copy lives in a directory of symbolic
links to the original playbook directory's entries.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import shutil
import signal
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from orchestrator.errors import ExecutionError
from orchestrator.executors.ansible import default_strategy, resolve_playbook
from orchestrator.executors.base import (
    CANCELLED,
    FAILED,
    SUCCEEDED,
    TIMED_OUT,
    FinishedCallback,
    OperationRequest,
    OperationResult,
    StartedCallback,
)
from orchestrator.executors.secrets import Secret, collect_secrets, redact
from orchestrator.transport.ssh import ansible_host_vars

__all__ = ["ENGINE_NAME", "AnsibleRunnerExecutor"]

ENGINE_NAME = "ansible-runner"

logger = logging.getLogger(__name__)

_SENTINEL = "tosca_sentinel"
_MARKER_ENV = "TOSCA_RUNNER_BATCH"
_PLAY_NAME = re.compile(r"^tosca:(g\d+):(\d+):")
# Hard deadline of a run beyond its operations' own timeouts (Ansible enforces those).
_KILL_GRACE_S = 10.0
_SCRUBBED_ARTIFACTS = ("stdout", "stderr", "command")
# mitogen pays ~1-2 s per run to start its interpreters and saves ~0.2 s per task: measured
# here, a run of 8 one-play operations costs the same with both; below that, ``linear``.
_MITOGEN_MIN_OPS = 8


class _Unsafe(str):
    """A string Ansible must never template (dumped as ``!unsafe``)."""


class _Dumper(yaml.SafeDumper):
    pass


_Dumper.add_representer(
    _Unsafe, lambda dumper, value: dumper.represent_scalar("!unsafe", str(value))
)


def _unsafe(value: Any) -> Any:
    """``value`` with every string wrapped as ``_Unsafe`` (keys stay plain)."""
    if isinstance(value, str):
        return _Unsafe(value)
    if isinstance(value, dict):
        return {str(k): _unsafe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_unsafe(v) for v in value]
    return value


def _strategy_env(strategy: str) -> dict[str, str]:
    """Environment selecting ``strategy`` (mitogen's plugins when it is a mitogen one)."""
    if strategy.startswith("mitogen"):
        try:
            # Deferred: optional package: mitogen is used when installed.
            import ansible_mitogen
        except ImportError:
            return {"ANSIBLE_STRATEGY": "linear"}
        path = os.path.join(os.path.dirname(ansible_mitogen.__file__), "plugins", "strategy")
        return {"ANSIBLE_STRATEGY_PLUGINS": path, "ANSIBLE_STRATEGY": strategy}
    return {"ANSIBLE_STRATEGY": strategy}


def _play_var_names(plays: list[dict[str, Any]]) -> set[str]:
    names: set[str] = set()
    for play in plays:
        if isinstance(play.get("vars"), dict):
            names |= set(play["vars"])
    return names


def _format_task(event: dict[str, Any], status: str) -> str:
    data = event.get("event_data") or {}
    res = data.get("res") or {}
    line = f"TASK [{data.get('task')}] {status}"
    for key in ("msg", "rc", "stdout", "stderr"):
        value = res.get(key) if isinstance(res, dict) else None
        if value not in (None, "", []):
            line += f"\n  {key}: {value}"
    return line


def _processes_with(marker: str) -> list[int]:
    """PIDs of live processes whose environment holds ``marker`` (Linux /proc)."""
    needle = f"{_MARKER_ENV}={marker}".encode()
    found = []
    for entry in Path("/proc").glob("[0-9]*/environ"):
        try:
            if needle in entry.read_bytes().split(b"\0"):
                found.append(int(entry.parent.name))
        except (OSError, ValueError):
            continue
    return found


def _kill_marked(marker: str) -> None:
    """SIGKILL every process of one run, orphaned task commands included."""
    for _ in range(3):  # a dying parent may still fork once
        pids = [p for p in _processes_with(marker) if p != os.getpid()]
        if not pids:
            return
        for pid in pids:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
        time.sleep(0.05)


@dataclass(eq=False)
class _Op:
    index: int
    request: OperationRequest
    secrets: set[str]
    alias: str = ""
    group: _Group | None = None
    started_at: float = 0.0
    started: bool = False
    status: str = SUCCEEDED
    error: str | None = None
    outputs: dict[str, Any] = field(default_factory=dict)
    log: list[str] = field(default_factory=list)
    result: OperationResult | None = None


@dataclass(eq=False)
class _Group:
    id: str
    playbook: Path
    plays: list[dict[str, Any]]
    ops: list[_Op]
    timeout: float | None
    play_vars: bool = False


class _Batch:
    """One run: its operations, their outcomes as events arrive, and the callbacks."""

    def __init__(
        self,
        executor: AnsibleRunnerExecutor,
        ops: list[_Op],
        groups: list[_Group],
        on_started: StartedCallback | None,
        on_finished: FinishedCallback | None,
        cancel: threading.Event | None,
    ) -> None:
        self.executor = executor
        self.ops = ops
        self.groups = {g.id: g for g in groups}
        self.by_alias = {op.alias: op for op in ops}
        self.on_started, self.on_finished, self.cancel = on_started, on_finished, cancel
        self.secrets: set[str] = set().union(*(op.secrets for op in ops)) if ops else set()
        self.current: tuple[_Group, int] | None = None
        self.marker = uuid.uuid4().hex
        self.deadline: float | None = None
        self.stopped: str | None = None  # CANCELLED / TIMED_OUT when the run is killed
        self.lock = threading.Lock()

    # -- ansible-runner callbacks ---------------------------------------------------------

    def event(self, event: dict[str, Any]) -> bool:
        """Record one runner event; redacts it in place before runner writes it to disk."""
        if self.secrets and not self.executor.debug:
            clean = json.loads(redact(json.dumps(event, default=str), self.secrets))
            event.clear()
            event.update(clean)
        kind = event.get("event", "")
        data = event.get("event_data") or {}
        with self.lock:
            if kind == "playbook_on_play_start":
                self._end_play()
                match = _PLAY_NAME.match(str(data.get("name") or data.get("play") or ""))
                if match and match.group(1) in self.groups:
                    group = self.groups[match.group(1)]
                    self.current = (group, int(match.group(2)))
                    for op in group.ops:
                        self._start(op)
            elif kind == "playbook_on_stats":
                self._end_play()
            elif kind.startswith("runner_on_") or kind.startswith("runner_item_on_"):
                self._task(kind, data, event)
        return True

    def cancelled(self) -> bool:
        """Polled by ansible-runner: kill the run on cancel or past its deadline."""
        if self.stopped is None:
            if self.cancel is not None and self.cancel.is_set():
                self.stopped = CANCELLED
            elif self.deadline is not None and time.monotonic() > self.deadline:
                self.stopped = TIMED_OUT
            if self.stopped is not None:
                _kill_marked(self.marker)
        return self.stopped is not None

    # -- internals --------------------------------------------------------------------------

    def _start(self, op: _Op) -> None:
        if op.started:
            return
        op.started, op.started_at = True, time.time()
        if self.on_started:
            self.on_started(op.request.step_id)

    def _task(self, kind: str, data: dict[str, Any], event: dict[str, Any]) -> None:
        op = self.by_alias.get(str(data.get("host", "")))
        if op is None or op.result is not None:
            return
        if kind.startswith("runner_item_on_"):
            return  # the loop's final runner_on_* event carries every item
        status = kind[len("runner_on_") :]
        res: dict[str, Any] = data["res"] if isinstance(data.get("res"), dict) else {}
        if status == "failed" and data.get("ignore_errors"):
            status = "ignored"
        if status == "ok":
            stats = res.get("ansible_stats")
            if isinstance(stats, dict) and isinstance(stats.get("data"), dict):
                op.outputs.update(stats["data"])
            facts = res.get("ansible_facts")
            if isinstance(facts, dict):
                for name in op.request.output_names:
                    if name in facts:
                        op.outputs[name] = facts[name]
        elif status in ("failed", "unreachable") and op.status == SUCCEEDED:
            if res.get("timedout"):
                op.status = TIMED_OUT
                op.error = f"operation timed out after {op.request.timeout}s"
                op.error += f" (task '{data.get('task')}')"
            else:
                op.status = FAILED
                op.error = f"task '{data.get('task')}' {status}: {res.get('msg', '')}".strip()
        if status in ("ok", "failed", "unreachable", "skipped", "ignored"):
            op.log.append(_format_task(event, status))

    def _end_play(self) -> None:
        """The current play ended: finish its operations that failed or are complete."""
        if self.current is None:
            return
        group, index = self.current
        self.current = None
        last = index == len(group.plays) - 1
        for op in group.ops:
            if last or op.status != SUCCEEDED:
                self.finish(op)

    def finish(self, op: _Op, status: str | None = None, error: str | None = None) -> None:
        if op.result is not None:
            return
        if status is not None and op.status == SUCCEEDED:
            op.status, op.error = status, error
        op.result = self.executor._result(op)
        if self.on_finished:
            self.on_finished(op.result)


class AnsibleRunnerExecutor:
    """Executor for playbook implementations through ansible-runner (module docstring).

    ``template_dir`` resolves relative playbook paths; ``forks`` bounds parallel operations in
    one play; ``strategy`` by default is ``mitogen_linear`` (when mitogen is importable) for
    runs of at least ``_MITOGEN_MIN_OPS`` operations and ``linear`` for smaller ones;
    ``debug`` leaves secrets in clear in logs. Runs are kept under each batch's
    ``<workdir>/ansible-runner/`` (a temporary directory, removed after the run, when the
    requests carry no workdir).
    """

    name = ENGINE_NAME

    def __init__(
        self,
        *,
        template_dir: str | os.PathLike[str] | None = None,
        strategy: str | None = None,
        forks: int = 20,
        debug: bool = False,
        env: dict[str, str] | None = None,
    ) -> None:
        self.template_dir = template_dir
        self.strategy = strategy  # None: chosen per run (see the class docstring)
        self.forks = forks
        self.debug = debug
        self.env = dict(env or {})
        self.runs = 0  # ansible-runner runs started (one per non-empty batch)
        self._lock = threading.Lock()
        self._plays: dict[Path, list[dict[str, Any]]] = {}

    def prestart(self) -> None:
        """Nothing to warm up: every batch starts its own ``ansible-playbook``."""

    def close(self) -> None:
        """Nothing to stop (runs end with their batch)."""

    def __enter__(self) -> AnsibleRunnerExecutor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- the Executor protocol ------------------------------------------------------------

    def run_batch(
        self,
        requests: Sequence[OperationRequest],
        on_started: StartedCallback | None = None,
        on_finished: FinishedCallback | None = None,
        cancel: threading.Event | None = None,
    ) -> list[OperationResult]:
        with self._lock:
            self.runs += 1
            number = self.runs
        ops: list[_Op] = []
        groups: dict[tuple[Any, ...], _Group] = {}
        batch = _Batch(self, [], [], on_started, on_finished, cancel)
        for index, request in enumerate(requests):
            secrets = collect_secrets(request.inputs) | collect_secrets(request.context)
            op = _Op(index, request, secrets, alias=f"op{index + 1}")
            ops.append(op)
            try:
                playbook = resolve_playbook(request.artifact, self.template_dir)
                plays = self._load_plays(playbook)
            except ExecutionError as exc:
                batch._start(op)
                batch.finish(op, FAILED, str(exc))
                continue
            alone = bool(_play_var_names(plays) & set(request.inputs))
            key: tuple[Any, ...] = ("alone", index) if alone else (playbook, request.timeout)
            if key not in groups:
                groups[key] = _Group(
                    f"g{len(groups) + 1}", playbook, plays, [], request.timeout, alone
                )
            groups[key].ops.append(op)
            op.group = groups[key]
        runnable = [op for op in ops if op.group is not None]
        if runnable:
            batch.ops = runnable
            batch.groups = {g.id: g for g in groups.values()}
            batch.by_alias = {op.alias: op for op in runnable}
            batch.secrets = set().union(*(op.secrets for op in runnable))
            self._run(batch, list(groups.values()), runnable, number)
        return [op.result for op in ops if op.result is not None]

    # -- one run ----------------------------------------------------------------------------

    def _load_plays(self, playbook: Path) -> list[dict[str, Any]]:
        if playbook not in self._plays:
            try:
                data = yaml.safe_load(playbook.read_text())
            except (OSError, yaml.YAMLError) as exc:
                raise ExecutionError(f"playbook {playbook}: cannot be read: {exc}") from exc
            if not isinstance(data, list) or not all(isinstance(p, dict) for p in data):
                raise ExecutionError(f"playbook {playbook}: not a list of plays")
            if any("import_playbook" in p for p in data):
                raise ExecutionError(
                    f"playbook {playbook}: import_playbook is not supported by the "
                    "ansible-runner executor"
                )
            self._plays[playbook] = data
        return self._plays[playbook]

    def _run(self, batch: _Batch, groups: list[_Group], ops: list[_Op], number: int) -> None:
        workdir = next((op.request.workdir for op in ops if op.request.workdir), None)
        temp = None
        if workdir:
            base = Path(workdir) / "ansible-runner"
            base.mkdir(parents=True, exist_ok=True)
            private = Path(tempfile.mkdtemp(prefix=f"batch-{number}-", dir=base))
        else:
            temp = private = Path(tempfile.mkdtemp(prefix="tosca-runner-"))
        try:
            env: dict[str, str] = {}
            env = self._write(private, batch, groups, ops)
            timeouts = [g.timeout for g in groups if g.timeout]
            hard = None
            if timeouts:
                hard = sum(t * max(1, len(g.plays)) for g in groups if (t := g.timeout))
                hard += _KILL_GRACE_S + 5.0 * len(groups)
                batch.deadline = time.monotonic() + hard
            self._invoke(private, batch, env, hard)
        finally:
            if any(op.status == TIMED_OUT for op in ops) or batch.stopped:
                _kill_marked(batch.marker)  # commands left behind by timed-out tasks
            self._scrub(private, batch.secrets if not self.debug else set(), env)
            if temp is not None:
                shutil.rmtree(temp, ignore_errors=True)

    def _invoke(
        self, private: Path, batch: _Batch, env: dict[str, str], hard: float | None
    ) -> None:
        # Deferred: ansible-runner only in the opt-in runner mode (CLI start-up).
        import ansible_runner

        status, rc, tail = "failed", None, ""
        try:
            runner = ansible_runner.run(
                private_data_dir=str(private),
                ident="run",
                playbook="main.yaml",
                inventory=str(private / "inventory" / "hosts.yaml"),
                envvars=env,
                forks=self.forks,
                quiet=True,
                suppress_env_files=True,
                # How often runner polls the cancel callback while Ansible is silent (5 s).
                settings={"pexpect_timeout": 0.2},
                event_handler=batch.event,
                cancel_callback=batch.cancelled,
                timeout=int(hard) + 1 if hard else None,
            )
            status, rc = runner.status, runner.rc
            with contextlib.suppress(OSError, AttributeError):
                text = (private / "artifacts" / "run" / "stdout").read_text(errors="replace")
                tail = "\n".join(text.strip().splitlines()[-20:])
        except Exception as exc:  # ansible-runner itself failed: every operation fails
            status, tail = "error", f"{type(exc).__name__}: {exc}"
            logger.warning("ansible-runner run failed: %s", exc)
        with batch.lock:
            # Operations still open here did not see their last play end: the run was
            # killed (cancel, deadline) or ansible-playbook / ansible-runner broke.
            for op in batch.ops:
                if op.result is not None:
                    continue
                if batch.stopped == CANCELLED:
                    batch.finish(op, CANCELLED, "operation cancelled")
                elif batch.stopped == TIMED_OUT or status == "timeout":
                    batch.finish(op, TIMED_OUT, f"operation timed out after {op.request.timeout}s")
                elif op.started and op.status == SUCCEEDED and status == "successful":
                    batch.finish(op)
                else:
                    if tail:
                        op.log.append(tail)
                    batch.finish(op, FAILED, f"ansible-runner run {status} (rc {rc})")

    def _write(
        self, private: Path, batch: _Batch, groups: list[_Group], ops: list[_Op]
    ) -> dict[str, str]:
        """The run's inventory and playbooks; returns the run's environment."""
        env: dict[str, str] = {
            "ANSIBLE_HOST_KEY_CHECKING": "True",
            "ANSIBLE_RETRY_FILES_ENABLED": "False",
            "ANSIBLE_DEPRECATION_WARNINGS": "False",
            "ANSIBLE_PYTHON_INTERPRETER": "auto_silent",
            "ANSIBLE_INVENTORY_ENABLED": "yaml",  # the only inventory source we write
            **_strategy_env(self._strategy_for(len(ops))),
            **self.env,
        }
        bindir = str(Path(sys.executable).parent)
        env["PATH"] = os.pathsep.join(p for p in (bindir, os.environ.get("PATH", "")) if p)
        env[_MARKER_ENV] = batch.marker
        secret_values: dict[str, str] = {}

        def value_of(key: str, value: Any) -> Any:
            """An input as written to a file: secrets (``Secret`` values and secret-named
            inputs) as an env lookup, never in the inventory; other strings unsafe."""
            if not collect_secrets({key: value}):
                return _unsafe(value)
            name = f"TOSCA_SECRET_VAR_{len(secret_values) + 1}"
            if isinstance(value, str):
                secret_values[name] = value.reveal() if isinstance(value, Secret) else value
                return f"{{{{ lookup('env', '{name}') }}}}"
            secret_values[name] = json.dumps(value, default=str)
            return f"{{{{ lookup('env', '{name}') | from_json }}}}"

        hosts: dict[str, Any] = {}
        for op in ops:
            hostvars = self._host_vars(op)
            if not (op.group and op.group.play_vars):
                hostvars.update({k: value_of(k, v) for k, v in _playbook_vars(op.request).items()})
            hosts[op.alias] = hostvars
        sentinel = len(groups) > 1
        if sentinel:
            hosts[_SENTINEL] = {
                "ansible_connection": "local",
                "ansible_python_interpreter": sys.executable,
            }
        (private / "inventory").mkdir(parents=True, exist_ok=True)
        inventory = {"all": {"hosts": hosts}}
        (private / "inventory" / "hosts.yaml").write_text(
            yaml.dump(inventory, Dumper=_Dumper, sort_keys=False)
        )
        project = private / "project"
        project.mkdir(exist_ok=True)
        main = []
        for group in groups:
            gdir = project / group.id
            gdir.mkdir()
            # Links to the playbook directory's entries: relative references still resolve.
            for entry in group.playbook.parent.iterdir():
                with contextlib.suppress(OSError):
                    (gdir / entry.name).symlink_to(entry)
            play_vars: dict[str, Any] = {}
            if group.play_vars:
                play_vars = {
                    k: value_of(k, v) for k, v in _playbook_vars(group.ops[0].request).items()
                }
            plays = [
                self._play(group, k, play, play_vars, sentinel)
                for k, play in enumerate(group.plays)
            ]
            name = f"__tosca_{group.id}.yaml"
            (gdir / name).unlink(missing_ok=True)
            (gdir / name).write_text(yaml.dump(plays, Dumper=_Dumper, sort_keys=False))
            main.append({"import_playbook": f"{group.id}/{name}"})
        (project / "main.yaml").write_text(yaml.dump(main, Dumper=_Dumper, sort_keys=False))
        env.update(secret_values)
        return env

    def _strategy_for(self, count: int) -> str:
        if self.strategy:
            return self.strategy
        return default_strategy() if count >= _MITOGEN_MIN_OPS else "linear"

    @staticmethod
    def _host_vars(op: _Op) -> dict[str, Any]:
        spec = op.request.host
        if spec.connection == "local":
            return {
                "ansible_connection": "local",
                "ansible_host": "127.0.0.1",
                "ansible_python_interpreter": sys.executable,
            }
        # The same hardened options as SshRunner and the warm worker (one function).
        hostvars: dict[str, Any] = dict(ansible_host_vars(spec))
        hostvars["ansible_python_interpreter"] = "auto_silent"
        return hostvars

    @staticmethod
    def _play(
        group: _Group, index: int, play: dict[str, Any], play_vars: dict[str, Any], sentinel: bool
    ) -> dict[str, Any]:
        """One play of a group's playbook, aimed at the group's aliases."""
        out = dict(play)
        label = play.get("name") or group.playbook.name
        out["name"] = f"tosca:{group.id}:{index}: {label}"
        aliases = [op.alias for op in group.ops] + ([_SENTINEL] if sentinel else [])
        out["hosts"] = ",".join(aliases)
        out["any_errors_fatal"] = False
        out.pop("max_fail_percentage", None)
        if group.timeout:
            out["timeout"] = int(group.timeout) + 1
        if play_vars:
            out["vars"] = {**(play.get("vars") or {}), **play_vars}
        if sentinel:
            skip = f"inventory_hostname != '{_SENTINEL}'"
            for section in ("pre_tasks", "tasks", "post_tasks"):
                if play.get(section):
                    out[section] = [{"block": play[section], "when": skip}]
            if play.get("roles"):
                out["roles"] = [
                    {**(r if isinstance(r, dict) else {"role": r}), "when": skip}
                    for r in play["roles"]
                ]
        return out

    def _scrub(self, private: Path, secrets: set[str], env: dict[str, str]) -> None:
        """Redact the artifacts ansible-runner wrote outside the event stream.

        ``command`` holds the whole environment of ``ansible-playbook`` (so every secret
        kept in an environment variable): only the variables this executor set are kept."""
        command = private / "artifacts" / "run" / "command"
        with contextlib.suppress(OSError, ValueError):
            data = json.loads(command.read_text())
            keep = {k for k in env if not k.startswith("TOSCA_SECRET_VAR_")}
            data["env"] = {k: v for k, v in (data.get("env") or {}).items() if k in keep}
            command.write_text(json.dumps(data))
        if not secrets:
            return
        for name in _SCRUBBED_ARTIFACTS:
            path = private / "artifacts" / "run" / name
            with contextlib.suppress(OSError):
                text = path.read_text(errors="replace")
                clean = redact(text, secrets)
                if clean != text:
                    path.write_text(clean)

    def _result(self, op: _Op) -> OperationResult:
        def hide(text: str) -> str:
            return text if self.debug else redact(text, op.secrets)

        outputs = op.outputs
        if op.secrets and not self.debug:
            outputs = json.loads(hide(json.dumps(outputs, default=str)))
        now = time.time()
        return OperationResult(
            step_id=op.request.step_id,
            status=op.status,
            outputs=outputs if op.status == SUCCEEDED else {},
            started_at=op.started_at or now,
            ended_at=now,
            log=hide("\n".join(op.log)),
            error=hide(op.error) if op.error else None,
        )


def _playbook_vars(request: OperationRequest) -> dict[str, Any]:
    """The operation's inputs plus ``tosca_*`` facts about where it runs (inputs win)."""
    context = request.context
    extra = {
        "tosca_node": request.node,
        "tosca_step_id": request.step_id,
        "tosca_workdir": request.workdir or "",
        "tosca_workspace": context.get("workspace", ""),
        "tosca_deployment_id": context.get("deployment_id", ""),
        "tosca_execution_id": context.get("execution_id", ""),
    }
    return {**extra, **request.inputs}
