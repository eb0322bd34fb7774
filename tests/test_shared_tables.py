"""Tables the task runtime keeps apart from the orchestrator (``workflows/`` never imports
``orchestrator/``) must say the same as the orchestrator's."""

from __future__ import annotations

from orchestrator.slurm.urgency import DEFAULT_LEVELS, LEVELS
from workflows.runtime.config import URGENCY_LEVELS, urgency_rank


def test_the_urgency_levels_are_the_same_and_in_the_same_order() -> None:
    assert URGENCY_LEVELS == LEVELS == tuple(DEFAULT_LEVELS)
    assert [urgency_rank(level) for level in LEVELS] == list(range(len(LEVELS)))


def test_the_slurm_states_the_runtime_reads_mean_the_same_to_the_orchestrator() -> None:
    # The runtime's Slurm backend starts a task's time_out when squeue says RUNNING and calls
    # a vanished job timed out when Slurm says TIMEOUT (workflows/runtime/backends/slurm.py).
    import inspect

    from orchestrator.jobs import JobStatus
    from orchestrator.slurm.states import SLURM_STATES
    from workflows.runtime.backends import slurm as runtime_slurm

    source = inspect.getsource(runtime_slurm)
    assert 'state == "RUNNING"' in source and 'startswith("TIMEOUT")' in source
    assert SLURM_STATES["RUNNING"] is JobStatus.RUNNING
    assert SLURM_STATES["TIMEOUT"] is JobStatus.TIMEOUT
