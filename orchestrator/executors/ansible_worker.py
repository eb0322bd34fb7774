"""A warm Ansible process that runs operation playbooks on request (``python -m`` entry point).

Ansible's start-up (imports, plugin loading, inventory) costs ~1 s here, and a fresh
mitogen connection another ~0.5 s; paying that per operation is what makes one-process-per-
operation orchestrators slow. This worker pays it once: it loads Ansible, then reads jobs
from stdin and runs each through Ansible's own ``TaskQueueManager`` (real plays, real
modules, the ``mitogen_linear`` strategy when available), streaming one JSON event per line.

Tasks run in this process, one at a time, in the main thread (``ansible_inprocess``), not
in a fork per (host, task); ``TOSCA_ANSIBLE_FORK_TASKS=1`` restores Ansible's forks. With
mitogen, the local target interpreter boots in the background while Ansible loads, and a
throw-away play warms everything up before ``ready`` is sent (``mitogen_tuning``). At the
end of its input the worker cleans up (Ansible's temporary files, mitogen's processes) and
exits.

Protocol (JSON lines; requests on stdin, events on the file descriptor named by argv[1]):

    -> {"cmd": "run", "job": N, "strategy": "...", "forks": F,
        "ops": [{"step_id", "playbook", "inputs", "host", "outputs", "timeout", "play_vars"}]}
    <- {"ev": "ready"}                                   once, after start-up
    <- {"ev": "start", "job", "step_id"}                 when the op's first play starts
    <- {"ev": "task", "job", "step_id", "task", "status", "res"}   per task result
    <- {"ev": "done", "job", "results": [{"step_id", "status", "outputs", "error"}]}

The ops of one job share a playbook: they run as ONE play over one inventory alias per op,
so a failed host never stops the others (in-process, hosts take their turn per task). Inputs
are host variables of the op's alias (or play variables when ``play_vars`` is true, for a
single op whose playbook declares a variable of the same name). Anything Ansible prints goes
to stderr; the event channel carries only this protocol.
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import gc
import json
import os
import signal
import sys
import tempfile
import time
from collections.abc import Callable
from typing import Any

_WARM_UP_PLAYBOOK = """\
- hosts: all
  gather_facts: false
  tasks:
    - command: "true"
"""


def _unsafe(value: Any) -> Any:
    """An input value marked unsafe: Ansible never templates it, whatever its version (a
    ``{{ lookup('pipe', ...) }}`` in an input stays text; 2.17 / 2.18 would run it)."""
    # Deferred: ansible-core loads after the worker set its environment.
    from ansible.utils.unsafe_proxy import wrap_var

    return wrap_var(value)


_PRELOAD_ACTIONS = (
    "ansible.builtin.command",
    "ansible.builtin.shell",
    "ansible.builtin.normal",
    "ansible.builtin.set_stats",
    "ansible.builtin.set_fact",
    "ansible.builtin.debug",
    "ansible.builtin.fail",
    "ansible.builtin.assert",
    "ansible.builtin.copy",
    "ansible.builtin.template",
    "ansible.builtin.file",
)

# Result keys worth keeping in an operation's log and for its outputs.
_KEEP = (
    "msg",
    "timedout",
    "rc",
    "stdout",
    "stderr",
    "ansible_stats",
    "ansible_facts",
    "changed",
    "skipped",
)


def _strategy_setup(strategy: str) -> str:
    """Point Ansible at mitogen's strategy plugins when requested and importable."""
    if strategy.startswith("mitogen"):
        try:
            # Deferred: optional package: mitogen is used when installed.
            import ansible_mitogen
        except ImportError:
            return "linear"
        path = os.path.join(os.path.dirname(ansible_mitogen.__file__), "plugins", "strategy")
        os.environ["ANSIBLE_STRATEGY_PLUGINS"] = path
    return strategy


class _Worker:
    def __init__(self, channel: Any, strategy: str) -> None:
        self.channel = channel
        self.strategy = _strategy_setup(strategy)
        os.environ.setdefault("ANSIBLE_DEPRECATION_WARNINGS", "False")
        os.environ.setdefault("ANSIBLE_HOST_KEY_CHECKING", "True")
        os.environ.setdefault("ANSIBLE_RETRY_FILES_ENABLED", "False")
        # Deferred: ansible-core loads after the worker set its environment.
        from ansible import context
        from ansible.module_utils.common.collections import ImmutableDict
        from ansible.plugins.loader import init_plugin_loader
        from ansible.utils.display import Display

        init_plugin_loader([])
        context.CLIARGS = ImmutableDict(
            connection="local",
            module_path=[],
            forks=20,
            become=None,
            become_method=None,
            become_user=None,
            check=False,
            diff=False,
            verbosity=0,
            syntax=False,
            start_at_task=None,
        )
        if os.environ["ANSIBLE_DEPRECATION_WARNINGS"].lower() in ("0", "false", "no"):
            # Third-party strategies (mitogen) trigger a deprecation notice on every play whose
            # caller lookup walks the stack (~20 ms a play); they are disabled anyway.
            Display.deprecated = lambda *a, **k: None  # type: ignore[method-assign]
        self.in_process = os.environ.get("TOSCA_ANSIBLE_FORK_TASKS", "").lower() not in (
            "1",
            "true",
            "yes",
        )
        if self.in_process:
            # Tasks run here, not in a fork each (see ansible_inprocess): ~2.5x cheaper.
            # Deferred: patches ansible-core, which loads after the worker set its environment.
            from orchestrator.executors import ansible_inprocess

            ansible_inprocess.install()
        if self.strategy.startswith("mitogen"):
            self._tune_mitogen()  # first: the target interpreter boots during what follows
        # Deferred: ansible-core loads after the worker set its environment.
        from ansible.executor.task_queue_manager import TaskQueueManager
        from ansible.inventory.manager import InventoryManager
        from ansible.parsing.dataloader import DataLoader
        from ansible.vars.manager import VariableManager

        self.TaskQueueManager = TaskQueueManager
        self.Callback = _build_callback_class()
        self.loader = DataLoader()
        self.inventory = InventoryManager(loader=self.loader, sources=[])
        self.vm = VariableManager(loader=self.loader, inventory=self.inventory)
        self.counter = 0
        self.quiet = False
        self.tqm: Any = None

    def _tune_mitogen(self) -> None:
        """No CPU pinning, no minifying, local imports for the local interpreter, and that
        interpreter booting while this process finishes loading Ansible (mitogen_tuning)."""
        # Deferred: imports mitogen, which loads after the worker set its environment.
        from orchestrator.executors import mitogen_tuning

        settings: list[Callable[[], object]] = [
            mitogen_tuning.no_cpu_pinning,
            mitogen_tuning.no_minify,
            lambda: mitogen_tuning.local_imports(sys.executable),
        ]
        if self.in_process:  # a fork per task must not inherit a half-made connection
            settings.append(self._preconnect)
        for setting in settings:
            try:
                setting()
            except Exception as exc:  # other ansible-mitogen internals: keep its defaults
                print(f"mitogen setting skipped: {exc!r}", file=sys.stderr)

    def _preconnect(self) -> None:
        # Deferred: ansible-core and mitogen load after the worker set its environment.
        from orchestrator.executors import ansible_inprocess, mitogen_tuning

        thread = mitogen_tuning.preconnect_local(sys.executable)
        if thread is not None:
            ansible_inprocess.wait_before_next_task(thread.join)

    # -- protocol -------------------------------------------------------------------------

    def emit(self, **event: Any) -> None:
        if self.quiet:
            return
        self.channel.write(json.dumps(event, default=str) + "\n")
        self.channel.flush()

    def warm_up(self) -> None:
        """Run one throw-away local play so the first real operation finds the strategy,
        the connection (mitogen's local interpreter) and the common modules already loaded."""
        # First: it needs no connection, so it overlaps the target interpreter's boot.
        self._preload_plugins()
        with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as handle:
            handle.write(_WARM_UP_PLAYBOOK)
        try:
            op = {"step_id": "warm-up", "playbook": handle.name, "inputs": {}, "host": {}}
            self.run_job({"job": 0, "ops": [op]}, emit=False)
        finally:
            os.unlink(handle.name)
        # Keep the warmed-up heap out of the collector: full collections no longer walk it,
        # and forks (one per task when tasks are not run in-process) share it copy-on-write.
        gc.freeze()

    def _preload_plugins(self) -> None:
        """Import the common action / connection plugins here, once, before the first
        operation needs them (with a fork per task, each fork would import them again)."""
        # Deferred: ansible-core loads after the worker set its environment.
        from ansible.plugins.loader import action_loader, connection_loader

        for name in _PRELOAD_ACTIONS:
            with contextlib.suppress(Exception):
                action_loader.get(name, class_only=True)
        for name in ("local", "ssh", "mitogen_local", "mitogen_ssh"):
            with contextlib.suppress(Exception):
                connection_loader.get(name, class_only=True)

    def serve(self) -> None:
        self.warm_up()
        self.emit(ev="ready", pid=os.getpid(), strategy=self.strategy)
        for line in sys.stdin:
            if not line.strip():
                continue
            request = json.loads(line)
            if request.get("cmd") == "run":
                self.run_job(request)
        if self.tqm is not None:
            self.tqm.cleanup()
        self.loader.cleanup_all_tmp_files()

    # -- one job --------------------------------------------------------------------------

    def _add_host(self, op: dict[str, Any]) -> str:
        self.counter += 1
        alias = f"op{self.counter}"
        self.inventory.add_host(alias, group="all")
        host = self.inventory.get_host(alias)
        spec = op.get("host") or {}
        if spec.get("connection", "local") == "local":
            host.set_variable("ansible_connection", "local")
            host.set_variable("ansible_host", "127.0.0.1")
            host.set_variable("ansible_python_interpreter", sys.executable)
        else:
            # The same hardened options as SshRunner (strict, managed known_hosts only, no
            # shared ControlMaster): one function decides them for every path.
            # Deferred: host set-up only when a remote host is added.
            from orchestrator.core import HostSpec
            from orchestrator.transport.ssh import ansible_host_vars

            hostspec = HostSpec(**spec)  # the parent sent dataclasses.asdict(HostSpec)
            for key, value in ansible_host_vars(hostspec).items():
                host.set_variable(key, value)
            host.set_variable("ansible_python_interpreter", "auto_silent")
        if not op.get("play_vars"):
            for key, value in (op.get("inputs") or {}).items():
                host.set_variable(key, _unsafe(value))
        return alias

    def run_job(self, request: dict[str, Any], emit: bool = True) -> None:
        # Deferred: ansible-core loads after the worker set its environment.
        from ansible.playbook import Playbook

        job = request["job"]
        self.quiet = not emit
        ops: list[dict[str, Any]] = request["ops"]
        strategy = _strategy_setup(request.get("strategy") or self.strategy)
        aliases = {self._add_host(op): op for op in ops}
        state: dict[str, dict[str, Any]] = {
            a: {"status": "ok", "outputs": {}, "error": None} for a in aliases
        }
        playbook = ops[0]["playbook"]
        callback = self.Callback(self, job, aliases, state)
        init = getattr(callback, "_init_callback_methods", None)
        if init is not None:  # ansible-core >= 2.19 dispatches only to implemented methods
            init()
        if self.tqm is None:
            # One TaskQueueManager for the worker's life (its result queue and thread are
            # reused); Ansible forks a process per task anyway.
            self.tqm = self.TaskQueueManager(
                inventory=self.inventory,
                variable_manager=self.vm,
                loader=self.loader,
                passwords={},
                forks=1,
            )
        tqm = self.tqm
        tqm._forks = max(1, min(int(request.get("forks") or 20), len(ops)))
        tqm._callback_plugins = [callback]
        try:
            plays = Playbook.load(playbook, variable_manager=self.vm, loader=self.loader)
            # Playbook.load restores the loader's previous base directory when done, and
            # dynamic includes (include_tasks, include_vars...) resolve against it at run
            # time: point it at this playbook's folder, as ansible-playbook does.
            self.loader.set_basedir(os.path.dirname(os.path.abspath(playbook)))
            started = False
            for play in plays.get_plays():
                live = [a for a in aliases if state[a]["status"] == "ok"]
                if not live:
                    break
                play.hosts = live
                play.strategy = strategy
                play.any_errors_fatal = False
                timeout = max((op.get("timeout") or 0) for op in ops)
                if timeout:
                    play.timeout = int(timeout) + 1
                if len(ops) == 1 and ops[0].get("play_vars"):
                    play.vars.update(
                        {k: _unsafe(v) for k, v in (ops[0].get("inputs") or {}).items()}
                    )
                if not started:
                    for alias in aliases:
                        self.emit(ev="start", job=job, step_id=aliases[alias]["step_id"])
                    started = True
                tqm.clear_failed_hosts()
                tqm.run(play)
        except Exception as exc:  # a playbook that does not load fails every op of the job
            for alias in aliases:
                if state[alias]["status"] == "ok":
                    state[alias].update(status="failed", error=f"{type(exc).__name__}: {exc}")
        results = []
        for alias, op in aliases.items():
            st = state[alias]
            results.append(
                {
                    "step_id": op["step_id"],
                    "status": st["status"],
                    "outputs": st["outputs"],
                    "error": st["error"],
                }
            )
            self.inventory._inventory.remove_host(self.inventory.get_host(alias))
            self.vm.clear_facts(alias)
        # One message: the parent frees this worker before it reports the operations, so a
        # dependent operation submitted from a finish callback finds it idle.
        self.emit(ev="done", job=job, results=results)
        self.quiet = False


def _build_callback_class() -> type:
    # Deferred: ansible-core loads after the worker set its environment.
    from ansible.plugins.callback import CallbackBase

    class Callback(CallbackBase):  # type: ignore[misc]
        """Turns Ansible's per-host results into per-operation events."""

        CALLBACK_VERSION = 2.0
        CALLBACK_NAME = "tosca_worker"

        def __init__(self, worker: _Worker, job: int, aliases: dict, state: dict) -> None:
            super().__init__()
            self.worker, self.job, self.aliases, self.state = worker, job, aliases, state

        def _result(self, result: Any, status: str) -> None:
            alias = result._host.get_name()
            op = self.aliases.get(alias)
            if op is None:
                return
            raw = result._result
            res = {k: raw[k] for k in _KEEP if k in raw}
            st = self.state[alias]
            stats = raw.get("ansible_stats")
            if status == "ok" and isinstance(stats, dict):
                st["outputs"].update(stats.get("data") or {})
            facts = raw.get("ansible_facts")
            if status == "ok" and isinstance(facts, dict):
                for name in op.get("outputs") or ():
                    if name in facts:
                        st["outputs"][name] = facts[name]
            if status == "failed" and raw.get("timedout"):
                status = "timed_out"  # Ansible's own task timeout (the op's timeout)
            if status in ("failed", "unreachable", "timed_out") and st["status"] == "ok":
                st["status"] = status
                st["error"] = f"task '{result.task_name}' {status}: {raw.get('msg', '')}".strip()
            self.worker.emit(
                ev="task",
                job=self.job,
                step_id=op["step_id"],
                task=result.task_name,
                status=status,
                res=res,
            )

        def v2_runner_on_ok(self, result: Any) -> None:
            self._result(result, "ok")

        def v2_runner_on_failed(self, result: Any, ignore_errors: bool = False) -> None:
            self._result(result, "ignored" if ignore_errors else "failed")

        def v2_runner_on_unreachable(self, result: Any) -> None:
            self._result(result, "unreachable")

        def v2_runner_on_skipped(self, result: Any) -> None:
            self._result(result, "skipped")

    return Callback


def _become_subreaper() -> None:
    """Adopt orphaned descendants (Linux): a command left running by a timed-out task is
    re-parented here instead of to init, so the executor's kill of this tree reaches it."""
    with contextlib.suppress(Exception):
        ctypes.CDLL(None, use_errno=True).prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER


def _terminate_descendants() -> None:
    """SIGTERM every live process under this one (Linux /proc; nothing elsewhere)."""
    # Deferred: executors.ansible starts this worker; importing it at the top would load it twice.
    from orchestrator.executors.ansible import _descendants

    for pid in _descendants(os.getpid()):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGTERM)


def main() -> None:
    channel = os.fdopen(int(sys.argv[1]), "w", buffering=1)
    strategy = sys.argv[2] if len(sys.argv) > 2 else "linear"
    # Anything Ansible prints must not corrupt the event channel: stdout goes to stderr.
    os.dup2(2, 1)
    _become_subreaper()
    t0 = time.monotonic()
    worker = _Worker(channel, strategy)
    print(f"ansible worker ready in {time.monotonic() - t0:.2f}s", file=sys.stderr)
    worker.serve()
    sys.stdout.flush()
    sys.stderr.flush()
    # Every job is finished: mitogen's multiplexer and target interpreters hold nothing
    # worth a graceful shutdown (~0.1 s, which the executor waits for at the end of every
    # deployment). Then the exit handlers run (mitogen's finds its processes gone), and the
    # process ends without tearing its large heap down object by object.
    _terminate_descendants()
    atexit._run_exitfuncs()
    os._exit(0)


if __name__ == "__main__":
    main()
