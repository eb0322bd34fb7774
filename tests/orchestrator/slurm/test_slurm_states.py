"""The Slurm state table and the parsers of sbatch / sacct answers."""

from __future__ import annotations

import pytest

from orchestrator.errors import SchedulerError
from orchestrator.jobs import JobStatus
from orchestrator.slurm.base import CommandResult
from orchestrator.slurm.cli import job_info_from_json, parse_sacct, parse_sbatch
from orchestrator.slurm.states import SLURM_STATES, map_slurm_state, normalise_state

# Every state the issue names, with what the job protocol must make of it.
EXPECTED = {
    "PENDING": JobStatus.QUEUED,
    "CONFIGURING": JobStatus.QUEUED,
    "RUNNING": JobStatus.RUNNING,
    "COMPLETING": JobStatus.RUNNING,
    "COMPLETED": JobStatus.COMPLETED,
    "FAILED": JobStatus.FAILED,
    "CANCELLED": JobStatus.CANCELLED,
    "TIMEOUT": JobStatus.TIMEOUT,
    "NODE_FAIL": JobStatus.FAILED,
    "OUT_OF_MEMORY": JobStatus.FAILED,
    "PREEMPTED": JobStatus.REQUEUED,
    "REQUEUED": JobStatus.REQUEUED,
    "SUSPENDED": JobStatus.SUSPENDED,
    "BOOT_FAIL": JobStatus.FAILED,
    "DEADLINE": JobStatus.TIMEOUT,
    "SPECIAL_EXIT": JobStatus.FAILED,
}


@pytest.mark.parametrize(("state", "expected"), sorted(EXPECTED.items()))
def test_every_issue_state_is_mapped_explicitly(state: str, expected: JobStatus) -> None:
    assert state in SLURM_STATES
    assert map_slurm_state(state) is expected


def test_terminal_states_end_polling_and_live_ones_keep_it() -> None:
    for state, status in SLURM_STATES.items():
        if state in ("PENDING", "RUNNING", "SUSPENDED", "PREEMPTED", "REQUEUED", "CONFIGURING"):
            assert not status.is_terminal, state
        if state in ("COMPLETED", "FAILED", "TIMEOUT", "NODE_FAIL", "OUT_OF_MEMORY", "DEADLINE"):
            assert status.is_terminal, state


def test_unknown_state_is_unknown_with_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    assert map_slurm_state("WIBBLE", job_id="42") is JobStatus.UNKNOWN
    assert "unmapped Slurm state" in caplog.text and "42" in caplog.text


def test_decorated_and_list_states_are_normalised() -> None:
    assert normalise_state("CANCELLED by 1000") == "CANCELLED"
    assert normalise_state("completed+") == "COMPLETED"
    assert normalise_state(["RUNNING", "COMPLETING"]) == "COMPLETING"
    assert map_slurm_state(["PENDING", "REQUEUED"]) is JobStatus.REQUEUED
    assert map_slurm_state("CANCELLED by 0") is JobStatus.CANCELLED


def test_pending_that_can_never_start_fails_and_requeued_pending_is_requeued() -> None:
    assert map_slurm_state("PENDING", "DependencyNeverSatisfied") is JobStatus.FAILED
    assert map_slurm_state("PENDING", "Priority") is JobStatus.QUEUED
    assert map_slurm_state("PENDING", "BeginTime", restarts=1) is JobStatus.REQUEUED


def test_parse_sbatch_accepts_cluster_suffix_and_rejects_errors() -> None:
    assert parse_sbatch(CommandResult(("sbatch",), 0, "1234\n", "")) == "1234"
    assert parse_sbatch(CommandResult(("sbatch",), 0, "77;tosca\n", "")) == "77"
    with pytest.raises(SchedulerError, match="invalid partition"):
        parse_sbatch(CommandResult(("sbatch",), 1, "", "sbatch: error: invalid partition"))
    with pytest.raises(SchedulerError, match="no job id"):
        parse_sbatch(CommandResult(("sbatch",), 0, "hello\n", ""))


def test_parse_sacct_last_record_wins_and_steps_are_ignored() -> None:
    text = "5|PREEMPTED|0:0\n5.batch|CANCELLED|0:15\n6|FAILED|2:0\n5|COMPLETED|0:0\n"
    infos = parse_sacct(text, ["5", "6"])
    assert infos["5"].status is JobStatus.COMPLETED
    assert infos["6"].status is JobStatus.FAILED and infos["6"].exit_code == 2


def test_parse_sacct_preempted_and_forgotten_is_a_failure_not_an_endless_poll() -> None:
    infos = parse_sacct("9|PREEMPTED|0:0\n", ["9"])
    assert infos["9"].status is JobStatus.FAILED and infos["9"].reason == "preempted"


def test_job_json_exit_code_is_decoded_from_the_wait_status() -> None:
    info = job_info_from_json(
        {"job_id": 7, "job_state": "FAILED", "exit_code": 3 << 8, "restart_cnt": 0}, "squeue"
    )
    assert info.exit_code == 3 and info.status is JobStatus.FAILED
    killed = job_info_from_json({"job_id": 8, "job_state": "CANCELLED", "exit_code": 15}, "x")
    assert killed.exit_code == 128 + 15
