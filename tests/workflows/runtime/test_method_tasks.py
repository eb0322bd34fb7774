"""Tasks that are methods of a class (PyCOMPSs): the object is INOUT by default, so its
changes are kept and calls on it run in order; ``target_direction=IN`` keeps it unchanged;
``@classmethod`` and ``@staticmethod`` tasks return values."""

from __future__ import annotations

import pytest

from workflows.runtime import (
    IN,
    RuntimeConfig,
    TaskDefinitionError,
    compss_wait_on,
    start_runtime,
    stop_runtime,
    task,
)


class Tally:
    def __init__(self) -> None:
        self.total = 0
        self.seen: list[int] = []

    @task()
    def add(self, k):
        self.total += k
        self.seen.append(k)

    @task(returns=1)
    def value(self):
        return self.total

    @task(target_direction=IN, returns=1)
    def doubled_but_kept(self):
        self.total *= 2  # IN: this change stays in the task
        return self.total

    @classmethod
    @task(returns=1)
    def label(cls, x):
        return f"{cls.__name__}:{x}"

    @staticmethod
    @task(returns=1)
    def square(x):
        return x * x


@pytest.fixture(params=["thread", "process"])
def mode_runtime(request, tmp_path):
    """The in-process path (objects shared) and worker processes (objects sent and back)."""
    rt = start_runtime(RuntimeConfig(cpus=2, python_tasks=request.param))
    yield request.param
    stop_runtime(wait=False)
    del rt


def test_method_tasks_keep_the_object_s_changes_in_call_order(mode_runtime):
    tally = Tally()
    for k in (1, 2, 3, 4):
        tally.add(k)
    assert compss_wait_on(tally.value()) == 10
    tally = compss_wait_on(tally)
    assert tally.total == 10 and tally.seen == [1, 2, 3, 4]


def test_target_direction_in_leaves_the_object_as_it_was(tmp_path):
    # In worker processes, as PyCOMPSs runs tasks: the task changes its own copy only. (On
    # the in-process thread path an IN object is shared, not copied; see the README.)
    start_runtime(RuntimeConfig(cpus=2, python_tasks="process"))
    try:
        tally = Tally()
        tally.add(5)
        assert compss_wait_on(tally.doubled_but_kept()) == 10
        assert compss_wait_on(tally.value()) == 5
        assert compss_wait_on(tally).total == 5
    finally:
        stop_runtime(wait=False)


def test_class_and_static_method_tasks(runtime):
    assert compss_wait_on(Tally.label(7)) == "Tally:7"
    assert compss_wait_on(Tally.square(9)) == 81
    assert compss_wait_on(Tally().square(3)) == 9


def test_a_bad_target_direction_is_refused():
    with pytest.raises(TaskDefinitionError, match="target_direction must be IN or INOUT"):

        class Bad:
            @task(target_direction="SIDEWAYS")
            def m(self):
                return None
