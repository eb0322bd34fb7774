"""Local backend: the node's cores, memory and GPUs, shared by a thread pool and worker
processes.

Where a task runs:

- ``@http`` tasks and ``@binary`` / ``@mpi`` tasks: a thread (the latter waits on its program,
  started in its own process group so that a time-out or cancel kills all of it);
- Python tasks: always a worker process when they have a ``time_out`` or belong to a
  ``TaskGroup`` (so they can really be killed); with ``python_tasks: auto`` (default) also
  when they have a ``@constraint`` (CPU-bound or GPU work); ``python_tasks: process`` sends
  every Python task to a worker, ``thread`` keeps the others on threads of this process (the
  fast in-process path, for I/O-bound and short tasks). GPU tasks get a fresh worker whose
  environment carries ``CUDA_VISIBLE_DEVICES``, ``COMPSS_BINDED_GPUS``, ``GPU_DEVICE_ORDINAL``.

Resources: every task takes its constraint (default 1 core; ``@http`` tasks none); a task
waits while the node lacks room and is rejected at submission if the node can never hold it.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import select
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from workflows.runtime.config import RuntimeConfig
from workflows.runtime.exceptions import ConstraintError
from workflows.runtime.execution import (
    HOST,
    failure,
    gpu_environment,
    kill_process_group,
    run_command,
    run_python,
)
from workflows.runtime.frames import read_frame, write_frame
from workflows.runtime.model import Constraint, Outcome, Task, TaskSpec

__all__ = ["LocalBackend", "detect_memory_mb"]

_DEFAULT = Constraint()
_NONE = Constraint(cpus=0)


def detect_memory_mb() -> int:
    """Total memory of this node in MB (from /proc/meminfo; 0 if unknown)."""
    try:
        with open("/proc/meminfo", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("MemTotal:"):
                    return int(line.split()[1]) // 1024
    except OSError:
        pass
    return 0


class _Worker:
    """One worker process, talking over two pipes; killed with its whole process group."""

    def __init__(self, env: dict[str, str] | None = None) -> None:
        to_child_r, self.wfd = os.pipe()
        self.rfd, from_child_w = os.pipe()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "workflows.runtime._worker", str(to_child_r), str(from_child_w)],
            pass_fds=(to_child_r, from_child_w),
            start_new_session=True,
            env={**os.environ, **(env or {})},
        )
        os.close(to_child_r)
        os.close(from_child_w)
        self.dead = False
        self.timed_out = False
        write_frame(self.wfd, pickle.dumps(list(sys.path)))

    def run(self, payload: bytes, timeout: float) -> Outcome | None:
        """Send one task; the Outcome, or None when the worker died or timed out (the caller
        looks at ``self.timed_out``)."""
        self.timed_out = False
        try:
            write_frame(self.wfd, payload)
        except OSError:
            self.kill()
            return None
        if timeout:
            ready, _, _ = select.select([self.rfd], [], [], timeout)
            if not ready:
                self.timed_out = True
                self.kill()
                return None
        try:
            frame = read_frame(self.rfd)
        except OSError:
            frame = None
        if frame is None:
            self.kill()
            return None
        result: Outcome = pickle.loads(frame)
        return result

    def kill(self) -> None:
        if not self.dead:
            self.dead = True
            kill_process_group(self.proc)
            for fd in (self.rfd, self.wfd):
                with contextlib.suppress(OSError):
                    os.close(fd)

    def close(self) -> None:
        """Stop an idle worker politely (EOF on its input), then for sure."""
        if self.dead:
            return
        with contextlib.suppress(OSError):
            os.close(self.wfd)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout=2)
        self.dead = True
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, 9)
        self.proc.wait()
        with contextlib.suppress(OSError):
            os.close(self.rfd)


class LocalBackend:
    """Runs tasks on this node (see the module docstring)."""

    name = "local"

    def __init__(self, config: RuntimeConfig) -> None:
        self.config = config
        self.host = HOST
        self.cpus = config.cpus or os.cpu_count() or 1
        self.memory_mb = config.memory_mb or detect_memory_mb()
        self.gpus = list(config.gpus)
        self.free_cpus = self.cpus
        self.free_memory = self.memory_mb
        self.free_gpus = list(self.gpus)
        self._threads = ThreadPoolExecutor(
            max_workers=max(32, 4 * self.cpus), thread_name_prefix="task"
        )
        self._idle: list[_Worker] = []
        self._all: set[_Worker] = set()
        self._wlock = threading.Lock()
        self._http: Any = None
        self._complete: Any = None
        self._closed = False

    def bind(self, complete: Any) -> None:
        self._complete = complete

    # ------------------------------------------------------------------ resources
    def requirement(self, spec: TaskSpec) -> Constraint:
        if spec.constraint is not None:
            return spec.constraint
        return _NONE if spec.kind == "http" else _DEFAULT

    def check(self, spec: TaskSpec) -> None:
        req = self.requirement(spec)
        problems = []
        if req.cpus > self.cpus:
            problems.append(f"{req.cpus} cores (node has {self.cpus})")
        if self.memory_mb and req.memory_mb > self.memory_mb:
            problems.append(f"{req.memory_mb} MB memory (node has {self.memory_mb} MB)")
        if req.gpus > len(self.gpus):
            problems.append(
                f"{req.gpus} GPU(s) (node declares {len(self.gpus)}: set TOSCA_RUNTIME_GPUS "
                "or local.gpus in the runtime configuration)"
            )
        if problems:
            raise ConstraintError(
                f"task {spec.name} can never run on the local node: it needs " + ", ".join(problems)
            )

    def try_acquire(self, task: Task) -> bool:
        req = self.requirement(task.spec)
        if req.cpus > self.free_cpus or req.gpus > len(self.free_gpus):
            return False
        if self.memory_mb and req.memory_mb > self.free_memory:
            return False
        self.free_cpus -= req.cpus
        self.free_memory -= req.memory_mb
        gpus = self.free_gpus[: req.gpus]
        del self.free_gpus[: req.gpus]
        task.resources = (req, gpus)
        return True

    def release(self, task: Task) -> None:
        granted = task.resources
        if granted is None:
            return
        task.resources = None
        req, gpus = granted
        self.free_cpus += req.cpus
        self.free_memory += req.memory_mb
        self.free_gpus.extend(gpus)

    def saturated(self) -> bool:
        return self.free_cpus <= 0 and not self.free_gpus

    # ------------------------------------------------------------------ running
    def _uses_process(self, task: Task) -> bool:
        spec = task.spec
        if spec.time_out or task.groups:  # must be killable, whatever the mode
            return True
        mode = self.config.python_tasks
        if mode != "auto":
            return mode == "process"
        return spec.constraint is not None

    def _env(self, task: Task) -> dict[str, str]:
        req, gpus = task.resources if task.resources else (_DEFAULT, [])
        env = {"COMPSS_NUM_THREADS": str(max(1, req.cpus))}
        if gpus:
            env.update(gpu_environment(gpus))
        return env

    def launch(self, task: Task, args: tuple, kwargs: dict, inout: tuple[str, ...]) -> None:
        kind = task.spec.kind
        if kind == "http":
            self._threads.submit(self._run_http, task, args, kwargs)
        elif kind in ("binary", "mpi"):
            self._threads.submit(self._run_command, task, args, kwargs)
        elif self._uses_process(task):
            self._threads.submit(self._run_in_worker, task, args, kwargs, inout)
        else:
            self._threads.submit(self._run_in_thread, task, args, kwargs, inout)
        return None

    def _report(self, task: Task, outcome: Outcome) -> None:
        self._complete(task, outcome)

    def _run_in_thread(self, task: Task, args: tuple, kwargs: dict, inout: tuple) -> None:
        self._report(task, run_python(task.spec, args, kwargs, inout))

    def _run_command(self, task: Task, args: tuple, kwargs: dict) -> None:
        def started(proc: subprocess.Popen[bytes]) -> None:
            task.handle = proc
            if task.cancel_requested:  # cancelled while starting
                kill_process_group(proc)

        outcome = run_command(
            task.spec,
            args,
            kwargs,
            env=self._env(task),
            timeout=task.spec.time_out,
            on_start=started,
            cancelled=lambda: task.cancel_requested,
        )
        task.handle = None
        self._report(task, outcome)

    def _run_http(self, task: Task, args: tuple, kwargs: dict) -> None:
        if self._http is None:
            from workflows.runtime.http_tasks import HttpCaller

            with self._wlock:
                if self._http is None:
                    self._http = HttpCaller(self.config.http_services)
        self._report(task, self._http.call(task.spec, args, kwargs))

    def _take_worker(self, env: dict[str, str], fresh: bool) -> _Worker:
        if not fresh:
            with self._wlock:
                if self._idle:
                    return self._idle.pop()
        worker = _Worker(env if fresh else None)
        with self._wlock:
            self._all.add(worker)
        return worker

    def _run_in_worker(self, task: Task, args: tuple, kwargs: dict, inout: tuple) -> None:
        import cloudpickle  # lazy: only programs with process tasks pay for it

        started = time.time()
        env = self._env(task)
        fresh = "CUDA_VISIBLE_DEVICES" in env  # CUDA reads it once per process
        try:
            payload = cloudpickle.dumps((task.spec, args, kwargs, inout, env))
        except Exception as exc:  # noqa: BLE001
            self._report(
                task,
                failure(f"cannot pickle the task: {exc!r}", started),
            )
            return
        worker = self._take_worker(env, fresh)
        task.handle = worker
        if task.cancel_requested:
            worker.kill()
        outcome = worker.run(payload, task.spec.time_out)
        task.handle = None
        if outcome is None:
            if task.cancel_requested:
                outcome = Outcome(ok=False, cancelled=True, error="cancelled", host=HOST)
            elif worker.timed_out:
                outcome = Outcome(
                    ok=False,
                    timed_out=True,
                    error=f"time_out of {task.spec.time_out:g} s expired; task process killed",
                    host=HOST,
                )
            else:
                code = worker.proc.poll()
                outcome = Outcome(
                    ok=False, error=f"task process died (exit status {code})", host=HOST
                )
            outcome.started, outcome.ended = started, time.time()
        with self._wlock:
            if worker.dead or fresh or self._closed:
                self._all.discard(worker)
                if not worker.dead:
                    worker.close()
            else:
                self._idle.append(worker)
        self._report(task, outcome)

    def cancel(self, task: Task) -> None:
        handle = task.handle
        if isinstance(handle, _Worker):
            handle.kill()
        elif isinstance(handle, subprocess.Popen):
            kill_process_group(handle)
        # A thread task cannot be interrupted: it ends on its own and is recorded cancelled.

    def shutdown(self) -> None:
        self._closed = True
        self._threads.shutdown(wait=True, cancel_futures=False)
        with self._wlock:
            workers, self._all, self._idle = list(self._all), set(), []
        for w in workers:
            w.close()
        if self._http is not None:
            self._http.close()
