"""The CLI backend against the real local Slurm (scripts/slurm-up.sh): submit, batched status,
cancel, the sacct/scontrol fallbacks, and an emergency job preempting a node full of batch
jobs, which are requeued and complete later."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from pathlib import Path

import pytest

from orchestrator.jobs import JobStatus
from orchestrator.slurm import (
    JobSpec,
    LocalRunner,
    SlurmCLI,
    apply_urgency,
    get_scheduler,
    resolve_urgency,
)
from orchestrator.slurm.base import CommandResult
from tests.support.slurm_jobs import wait_for

pytestmark = [pytest.mark.integration, pytest.mark.slurm]


def test_submit_status_cancel_on_the_real_cluster(slurm_jobs, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    cli = get_scheduler({"scheduler": "slurm"})
    assert isinstance(cli, SlurmCLI)
    out = tmp_path / "ok.out"
    ok = slurm_jobs.add(cli.submit(JobSpec(
        name="ok", argv=["sh", "-c", 'echo "$MSG"'], env={"MSG": "quoted 'value'"},
        workdir=str(tmp_path), output=str(out))))  # fmt: skip
    bad = slurm_jobs.add(cli.submit(JobSpec(name="bad", script="exit 3", workdir=str(tmp_path))))
    slow = slurm_jobs.add(
        cli.submit(JobSpec(name="slow", script="sleep 60", workdir=str(tmp_path)))
    )
    st = wait_for(cli, [ok, bad], {JobStatus.COMPLETED, JobStatus.FAILED})
    assert st == {ok: JobStatus.COMPLETED, bad: JobStatus.FAILED}
    assert out.read_text() == "quoted 'value'\n"
    assert cli.details([bad])[bad].exit_code == 3
    assert wait_for(cli, [slow], {JobStatus.RUNNING})[slow] is JobStatus.RUNNING
    cli.cancel(slow)
    assert wait_for(cli, [slow], {JobStatus.CANCELLED})[slow] is JobStatus.CANCELLED
    cli.cancel(slow)  # idempotent
    info = cli.cluster_info()
    assert {p.name: p.priority_tier for p in info.partitions} == {"batch": 1, "urgent": 10}
    assert info.version.startswith("22.")


def test_refused_submission_says_why(slurm_cluster: str) -> None:
    from orchestrator.errors import SchedulerError

    with pytest.raises(SchedulerError, match="(?i)invalid partition"):
        SlurmCLI().submit(JobSpec(script="true", partition="no-such-partition"))


class ForgetfulRunner(LocalRunner):
    """The real commands, but squeue no longer lists the given jobs (as after MinJobAge)."""

    def __init__(self, hide: set[str]) -> None:
        self.hide = hide

    def run(self, argv: Sequence[str], *, input: str | None = None, timeout: float = 30.0,
            env: Mapping[str, str] | None = None) -> CommandResult:  # fmt: skip
        result = super().run(argv, input=input, timeout=timeout, env=env)
        if argv[0] == "squeue":
            import json

            data = json.loads(result.stdout)
            data["jobs"] = [j for j in data["jobs"] if str(j["job_id"]) not in self.hide]
            return CommandResult(result.argv, 0, json.dumps(data), "")
        return result


def test_a_job_gone_from_squeue_is_found_by_sacct_from_the_completion_log(
    slurm_jobs, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    cli = SlurmCLI()
    done = slurm_jobs.add(cli.submit(JobSpec(script="exit 0", workdir=str(tmp_path))))
    failed = slurm_jobs.add(cli.submit(JobSpec(script="exit 2", workdir=str(tmp_path))))
    wait_for(cli, [done, failed], {JobStatus.COMPLETED, JobStatus.FAILED})
    forgetful = SlurmCLI(ForgetfulRunner({done, failed, "999999"}))
    infos = forgetful.details([done, failed, "999999"])
    assert infos[done].source == "sacct" and infos[done].status is JobStatus.COMPLETED
    assert infos[failed].status is JobStatus.FAILED and infos[failed].exit_code == 2
    assert infos["999999"].status is JobStatus.LOST


def test_emergency_job_preempts_a_full_node_and_batch_jobs_complete_later(
    slurm_jobs,
    tmp_path: Path,  # type: ignore[no-untyped-def]
) -> None:
    cli = SlurmCLI()
    cpus = cli.cluster_info().cpus
    # Each batch job sleeps long on its first run, briefly once requeued.
    body = 'if [ "${SLURM_RESTART_COUNT:-0}" -gt 0 ]; then sleep 1; else sleep 120; fi'
    batch = [slurm_jobs.add(cli.submit(JobSpec(name=f"batch{i}", script=body,
             workdir=str(tmp_path), partition="batch"))) for i in range(cpus)]  # fmt: skip
    assert set(wait_for(cli, batch, {JobStatus.RUNNING}).values()) == {JobStatus.RUNNING}
    snapshot = cli.running_jobs()

    level = resolve_urgency("emergency", None)
    spec = apply_urgency(JobSpec(name="emergency", script="sleep 1", workdir=str(tmp_path),
                                 ntasks=cpus), level)  # fmt: skip
    assert spec.partition == "urgent"
    t0 = time.monotonic()
    urgent = slurm_jobs.add(cli.submit(spec))
    st = wait_for(cli, [urgent], {JobStatus.RUNNING, JobStatus.COMPLETED}, timeout=15)
    to_running = time.monotonic() - t0
    assert st[urgent] in (JobStatus.RUNNING, JobStatus.COMPLETED)
    assert to_running < 10.0, f"emergency job took {to_running:.1f} s to start"

    preempted = cli.preempted_since(snapshot)
    assert set(batch) <= set(preempted)
    assert set(cli.status(batch).values()) == {JobStatus.REQUEUED}
    assert wait_for(cli, [urgent], {JobStatus.COMPLETED})[urgent] is JobStatus.COMPLETED

    # Slurm restarts them once their old credentials expire (~6 s: cred_expire=5 here).
    final = wait_for(cli, batch, {JobStatus.COMPLETED}, timeout=60)
    assert set(final.values()) == {JobStatus.COMPLETED}, final  # nothing lost
    assert all(info.restarts >= 1 for info in cli.details(batch).values())
