"""``find_job``: how a resumed submit finds the job of its interrupted attempt, on the real
local Slurm (squeue first, then the job-completion log once the controller forgot the job)
and on the local backend."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Sequence
from pathlib import Path

import pytest

from orchestrator.jobs import JobStatus
from orchestrator.slurm import CommandResult, JobSpec, LocalRunner, LocalScheduler, SlurmCLI


class Forgetful(LocalRunner):
    """squeue that no longer lists some jobs (as after MinJobAge); counts the calls."""

    def __init__(self, hide: set[str]) -> None:
        self.hide = hide
        self.calls: list[str] = []

    def run(self, argv: Sequence[str], **kw):  # type: ignore[no-untyped-def, override]
        self.calls.append(argv[0])
        result = super().run(argv, **kw)
        if argv[:2] == ["squeue", "--json"] and result.returncode == 0:
            data = json.loads(result.stdout)
            data["jobs"] = [j for j in data["jobs"] if str(j["job_id"]) not in self.hide]
            return CommandResult(result.argv, 0, json.dumps(data), "")
        return result


@pytest.mark.integration
@pytest.mark.slurm
def test_find_job_in_squeue_then_in_the_completion_log(slurm_jobs, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    cli = SlurmCLI()
    name = f"find-{uuid.uuid4().hex[:12]}"
    spec = JobSpec(name=name, script="exit 0", workdir=str(tmp_path), comment="tosca:t1")
    jid = slurm_jobs.add(cli.submit(spec))
    assert cli.find_job(name, "tosca:t1") == jid
    assert cli.find_job(name, "tosca:other") is None  # same name, another attempt's marker
    assert cli.find_job(name + "-x") is None
    end = time.monotonic() + 30
    while cli.status([jid])[jid] is not JobStatus.COMPLETED and time.monotonic() < end:
        time.sleep(0.2)
    forgetful = Forgetful({jid})
    assert SlurmCLI(forgetful).find_job(name, "tosca:t1") == jid
    assert forgetful.calls[0] == "squeue" and set(forgetful.calls[1:]) == {"sacct"}


def test_local_find_job_by_name_and_marker(tmp_path: Path) -> None:
    sched = LocalScheduler(tmp_path / "jobs")
    assert sched.find_job("a") is None
    jid = sched.submit(JobSpec(name="a", argv=["true"], comment="tosca:1"))
    sched.submit(JobSpec(name="b", argv=["true"], comment="tosca:2"))
    assert sched.find_job("a", "tosca:1") == jid and sched.find_job("a") == jid
    assert sched.find_job("a", "tosca:2") is None
