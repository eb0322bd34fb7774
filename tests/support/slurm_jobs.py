"""Waiting for jobs on the real test cluster (shared by the Slurm integration tests)."""

from __future__ import annotations

import time
from collections.abc import Sequence

from orchestrator.jobs import JobStatus
from orchestrator.slurm import SlurmCLI


def wait_for(
    cli: SlurmCLI, ids: Sequence[str], want: set[JobStatus], timeout: float = 20.0
) -> dict[str, JobStatus]:
    """Poll until every job is in one of ``want`` or ``timeout`` passes; the last statuses."""
    end = time.monotonic() + timeout
    while True:
        st = cli.status(ids)
        if all(s in want for s in st.values()) or time.monotonic() > end:
            return st
        time.sleep(0.1)
