"""Dry-run backend: records the task graph, runs nothing.

Every task "succeeds" at once with ``None`` for each returned value, so the program's
control flow is followed as far as it does not depend on computed values.
"""

from __future__ import annotations

import time
from typing import Any

from workflows.runtime.config import RuntimeConfig
from workflows.runtime.execution import HOST
from workflows.runtime.model import Outcome, Task, TaskSpec

__all__ = ["DryRunBackend"]


class DryRunBackend:
    name = "dry-run"

    def __init__(self, config: RuntimeConfig) -> None:
        self.config = config
        self.host = HOST

    def bind(self, complete: Any) -> None:
        self._complete = complete

    def check(self, spec: TaskSpec) -> None:
        return None

    def try_acquire(self, task: Task) -> bool:
        return True

    def release(self, task: Task) -> None:
        return None

    def saturated(self) -> bool:
        return False

    def launch(self, task: Task, args: tuple, kwargs: dict, inout: tuple[str, ...]) -> Outcome:
        now = time.time()
        return Outcome(
            ok=True, values=(None,) * task.spec.returns, host=self.host, started=now, ended=now
        )

    def cancel(self, task: Task) -> None:
        return None

    def shutdown(self) -> None:
        return None
