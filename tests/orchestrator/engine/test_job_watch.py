"""The job-polling policy on its own: every decision of ``JobWatch`` without a job or engine."""

from __future__ import annotations

from orchestrator.core.status import OperationStatus
from orchestrator.engine.policies import JobWatch, PollPolicy
from orchestrator.jobs import JobStatus

POLICY = PollPolicy(initial=1.0, factor=2.0, maximum=4.0, unknown_grace=10.0)


def test_back_off_while_the_job_runs_then_success_keeps_the_outputs() -> None:
    watch = JobWatch("7", POLICY, started=0.0, timeout=100.0)
    delays = [watch.after(JobStatus.RUNNING, t).delay for t in (0.0, 1.0, 3.0, 7.0, 11.0)]
    assert delays == [1.0, 2.0, 4.0, 4.0, 4.0]
    done = watch.after(JobStatus.COMPLETED, 15.0)
    assert done.status is OperationStatus.SUCCEEDED and done.keep_outputs and not done.cancel_reason


def test_a_terminal_failure_names_the_state() -> None:
    verdict = JobWatch("7", POLICY, 0.0, 100.0).after(JobStatus.TIMEOUT, 5.0)
    assert verdict.status is OperationStatus.FAILED and verdict.error == "job 7 ended TIMEOUT"
    assert verdict.cancel_reason is None


def test_unknown_is_tolerated_for_the_grace_period_only_and_a_known_answer_resets_it() -> None:
    watch = JobWatch("7", POLICY, 0.0, 1000.0)
    assert watch.after(JobStatus.UNKNOWN, 0.0).status is None
    assert watch.after(JobStatus.UNKNOWN, 9.0).status is None
    assert watch.after(JobStatus.RUNNING, 9.5).status is None  # known again: the clock resets
    assert watch.after(JobStatus.UNKNOWN, 12.0).status is None
    verdict = watch.after(JobStatus.UNKNOWN, 22.5, error="squeue timed out")
    assert verdict.status is OperationStatus.FAILED and verdict.cancel_reason
    assert verdict.error == "job 7: status unknown for 10s (squeue timed out)"


def test_the_deadline_cancels_the_job_before_a_poll_would_pass_it() -> None:
    watch = JobWatch("7", POLICY, started=100.0, timeout=10.0)
    assert watch.after(JobStatus.RUNNING, 100.0).delay == 1.0
    verdict = watch.after(JobStatus.QUEUED, 108.5)  # next delay (2 s) would end past 110
    assert verdict.status is OperationStatus.TIMED_OUT and verdict.cancel_reason == "timeout"
    assert "exceeded its time limit (10s)" in (verdict.error or "")


def test_status_of_accepts_any_case_and_refuses_what_is_not_a_status() -> None:
    assert JobWatch.status_of("completed") is JobStatus.COMPLETED
    assert JobWatch.status_of("BOGUS") is None and JobWatch.status_of(None) is None
