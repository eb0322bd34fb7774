"""Tables the task runtime keeps apart from the orchestrator (``workflows/`` never imports
``orchestrator/``) must say the same as the orchestrator's."""

from __future__ import annotations

from orchestrator.slurm.urgency import DEFAULT_LEVELS, LEVELS
from workflows.runtime.config import URGENCY_LEVELS, urgency_rank


def test_the_urgency_levels_are_the_same_and_in_the_same_order() -> None:
    assert URGENCY_LEVELS == LEVELS == tuple(DEFAULT_LEVELS)
    assert [urgency_rank(level) for level in LEVELS] == list(range(len(LEVELS)))
