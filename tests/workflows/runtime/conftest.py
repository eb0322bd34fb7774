"""Fixtures of the task-runtime tests: a fresh local runtime per test."""

from __future__ import annotations

import pytest

from workflows.runtime import RuntimeConfig, start_runtime, stop_runtime


@pytest.fixture
def runtime(tmp_path):
    """A local runtime with 2 cores, 2 resubmissions under RETRY and an event log."""
    rt = start_runtime(RuntimeConfig(cpus=2, retries=2, events_path=str(tmp_path / "ev.jsonl")))
    yield rt
    stop_runtime(wait=False)
