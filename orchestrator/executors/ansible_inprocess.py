"""Run Ansible tasks inside the warm worker process instead of a fork per (host, task).

Ansible's strategies hand every (host, task) to ``StrategyBase._queue_task``, which forks a
``WorkerProcess`` that runs ``TaskExecutor(...).run()`` and sends the result back through
the strategy's final queue. With a warm worker whose heap is large, the fork, the child's
fresh mitogen connection to the multiplexer and the result's trip back cost more than the
task itself: an operation of two tasks (``shell`` + ``set_stats``) took ~110 ms with a fork
per task, ~45 ms in-process (measured, one worker, local connection). ``install()``
replaces ``_queue_task`` in this process with one that runs the same ``TaskExecutor`` here,
in the calling (main) thread, and sends its result through the same final queue, so the
strategy, the callbacks, ``register``, ``set_stats``, failures, ``ignore_errors`` and
``until`` / retries see exactly what a worker fork would have sent.

What a fork gave for free is done explicitly:

* the task is post-validated (templated in place) by ``TaskExecutor``, and a strategy passes
  the SAME task object for every host: each run gets its own copy (``Task.copy``, parents
  included, like the fork's private copy);
* the task timeout is Ansible's own ``SIGALRM``-based one, which needs the main thread:
  tasks run in the thread that runs the strategy, the worker's main thread;
* nothing is left behind for the next task: the host object is not touched (the fork
  cleared its own copy), the connection is closed at the end of each task as in the fork
  (with mitogen, the multiplexer keeps the target interpreter warm, so reconnecting costs
  under a millisecond; keeping the binding open measured no faster).

Operations therefore run one task at a time per worker process; the executor runs big batches
over two worker processes to use two cores.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

__all__ = ["install", "installed", "wait_before_next_task"]

logger = logging.getLogger(__name__)

_installed = False
# Called (once each) before the next task runs: start-up work running in the background
# that a task must not overlap (see mitogen_tuning.preconnect_local).
_before_next_task: list[Callable[[], None]] = []


def wait_before_next_task(wait: Callable[[], None]) -> None:
    """Run ``wait`` (e.g. a background thread's ``join``) before the next task starts."""
    _before_next_task.append(wait)


def installed() -> bool:
    """Whether ``install()`` replaced the strategies' task queueing in this process."""
    return _installed


def _run_task(
    strategy: Any, host: Any, task: Any, task_vars: dict[str, Any], play_context: Any
) -> None:
    """What ``WorkerProcess._run`` does in its fork, here: run the task, send its result."""
    # Deferred: ansible-core loads only in the worker process, never in the CLI.
    from ansible._internal import _task
    from ansible.executor.task_executor import TaskExecutor
    from ansible.executor.task_result import _RawTaskResult
    from ansible.plugins.loader import get_plugin_loader_namespace

    # The executor templates the task (and its parent blocks) in place: work on a copy, as
    # the fork did, so the next host gets the task untouched.
    own = task.copy(exclude_tasks=True)
    with _task.TaskContext(own):
        return_data = TaskExecutor(
            host,
            own,
            task_vars,
            play_context,
            strategy._loader,
            get_plugin_loader_namespace(),
            strategy._final_q,
            strategy._variable_manager,
        ).run()
    strategy._final_q.send_task_result(
        _RawTaskResult(host=host, task=own, return_data=return_data, task_fields=own.dump_attrs())
    )


def _queue_task(
    self: Any, host: Any, task: Any, task_vars: dict[str, Any], play_context: Any
) -> None:
    """``StrategyBase._queue_task`` without the fork (see the module docstring)."""
    # Deferred: ansible-core loads only in the worker process, never in the CLI.
    from ansible._internal._templating._engine import TemplateEngine
    from ansible.errors import AnsibleError

    # As Ansible does: a bad `throttle` fails here (one task at a time honours any value).
    try:
        int(TemplateEngine(loader=self._loader, variables=task_vars).template(task.throttle))
    except Exception as ex:
        raise AnsibleError(
            "Failed to convert the throttle value to an integer.", obj=task.throttle
        ) from ex
    # The strategy looks the task up by (host, uuid) when the result comes back.
    self._queued_task_cache[(host.name, task._uuid)] = {
        "host": host,
        "task": task,
        "task_vars": task_vars,
        "play_context": play_context,
    }
    while _before_next_task:
        _before_next_task.pop(0)()
    self._tqm.send_callback("v2_runner_on_start", host, task)
    self._pending_results += 1
    try:
        _run_task(self, host, task, task_vars, play_context)
    except (EOFError, OSError) as exc:  # the final queue is gone: an abort, as in Ansible
        self._pending_results -= 1  # no result will come
        logger.debug("in-process task not reported: %s", exc)
    except Exception as exc:  # anything else becomes the task's failure, never a hang
        # Deferred: ansible-core loads only in the worker process, never in the CLI.
        from ansible._internal._errors import _error_utils
        from ansible.executor.task_result import _RawTaskResult

        result = _error_utils.result_dict_from_exception(exc)
        self._final_q.send_task_result(
            _RawTaskResult(host=host, task=task, return_data=result, task_fields={})
        )


def install() -> None:
    """Make every strategy in this process run its tasks in-process. Idempotent."""
    global _installed
    if _installed:
        return
    # Deferred: ansible-core loads only in the worker process, never in the CLI.
    from ansible.plugins.strategy import StrategyBase

    StrategyBase._queue_task = _queue_task  # type: ignore[method-assign]
    _installed = True
