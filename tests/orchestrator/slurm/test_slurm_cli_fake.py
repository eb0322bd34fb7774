"""The CLI backend against a scripted CommandRunner: argv, batching, lookup order, errors."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence

import pytest

from orchestrator.errors import SchedulerError
from orchestrator.jobs import JobStatus
from orchestrator.slurm import JobSpec, LocalRunner, SlurmCLI
from orchestrator.slurm.base import CommandResult
from orchestrator.slurm.cli import sbatch_args
from orchestrator.slurm.spec import render_script

Handler = Callable[[list[str], str | None], CommandResult]


class FakeRunner:
    """Answers each command with the first handler whose program matches; records calls."""

    def __init__(self, handlers: dict[str, Handler]) -> None:
        self.handlers = handlers
        self.calls: list[tuple[list[str], str | None]] = []

    def run(
        self,
        argv: Sequence[str],
        *,
        input: str | None = None,
        timeout: float = 30.0,
        env: Mapping[str, str] | None = None,
    ) -> CommandResult:
        args = list(argv)
        self.calls.append((args, input))
        return self.handlers[args[0]](args, input)

    def programs(self) -> list[str]:
        return [c[0][0] for c in self.calls]


def ok(stdout: str = "", rc: int = 0, stderr: str = "") -> Handler:
    return lambda argv, inp: CommandResult(tuple(argv), rc, stdout, stderr)


def squeue_json(*jobs: dict[str, object]) -> str:
    return json.dumps({"jobs": list(jobs)})


def test_submit_sends_flags_and_script_on_stdin() -> None:
    runner = FakeRunner({"sbatch": ok("321\n")})
    spec = JobSpec(
        name="tsunami",
        argv=["python", "-m", "workflows.runtime", "app.py", "--x", "a b"],
        env={"A": "it's"},
        partition="urgent",
        nice=0,
        time_limit=30,
        deadline=600,
        dependencies=["5", "6"],
        workdir="/w",
    )
    assert SlurmCLI(runner).submit(spec) == "321"
    argv, script = runner.calls[0]
    assert "--parsable" in argv and "--partition=urgent" in argv and "--nice=0" in argv
    assert "--time=30" in argv and "--deadline=now+600seconds" in argv
    assert "--dependency=afterok:5:6" in argv and "--chdir=/w" in argv
    assert script is not None and "export A='it'\"'\"'s'" in script
    assert script.rstrip().endswith("exec python -m workflows.runtime app.py --x 'a b'")


def test_status_of_many_jobs_is_one_squeue_call() -> None:
    jobs = [{"job_id": i, "job_state": "RUNNING", "restart_cnt": 0} for i in range(1, 30)]
    runner = FakeRunner({"squeue": ok(squeue_json(*jobs))})
    result = SlurmCLI(runner).status([str(i) for i in range(1, 30)])
    assert set(result.values()) == {JobStatus.RUNNING} and len(result) == 29
    assert runner.programs() == ["squeue"]


def test_vanished_job_goes_to_sacct_then_scontrol_before_lost() -> None:
    runner = FakeRunner(
        {
            "squeue": ok(squeue_json({"job_id": 1, "job_state": "PENDING"})),
            # accounting disabled: the db query fails, the completion log answers for job 2
            "sacct": lambda argv, inp: (
                CommandResult(tuple(argv), 1, "", "Slurm accounting storage is disabled")
                if "--allocations" in argv
                else CommandResult(tuple(argv), 0, "2|COMPLETED|0:0\n", "")
            ),
            "scontrol": lambda argv, inp: (
                CommandResult(tuple(argv), 0, "JobId=3 JobState=TIMEOUT Reason=TimeLimit", "")
                if argv[-1] == "3"
                else CommandResult(tuple(argv), 1, "", "Invalid job id specified")
            ),
        }
    )
    cli = SlurmCLI(runner)
    result = cli.details(["1", "2", "3", "4"])
    assert result["1"].status is JobStatus.QUEUED and result["1"].source == "squeue"
    assert result["2"].status is JobStatus.COMPLETED and result["2"].source == "sacct"
    assert result["3"].status is JobStatus.TIMEOUT and result["3"].source == "scontrol"
    assert result["4"].status is JobStatus.LOST
    assert runner.programs() == ["squeue", "sacct", "sacct", "scontrol", "scontrol"]
    sacct_calls = [c[0] for c in runner.calls if c[0][0] == "sacct"]
    assert "--jobs=2,3,4" in sacct_calls[0]  # one sacct call for every missing id
    # The working sacct mode is remembered: the next lookup makes one sacct call only.
    runner.calls.clear()
    cli.details(["2"])
    assert runner.programs() == ["squeue", "sacct"]


def test_cancel_is_idempotent_but_real_errors_raise() -> None:
    done = FakeRunner({"scancel": ok(rc=1, stderr="scancel: error: Invalid job id specified")})
    SlurmCLI(done).cancel("9")
    broken = FakeRunner({"scancel": ok(rc=1, stderr="Access/permission denied")})
    with pytest.raises(SchedulerError, match="permission denied"):
        SlurmCLI(broken).cancel("9")


def test_squeue_failure_is_a_scheduler_error() -> None:
    runner = FakeRunner({"squeue": ok(rc=1, stderr="slurm_load_jobs error: Unable to contact")})
    with pytest.raises(SchedulerError, match="Unable to contact"):
        SlurmCLI(runner).status(["1"])


def test_local_runner_maps_timeout_and_missing_program() -> None:
    runner = LocalRunner()
    with pytest.raises(SchedulerError, match="did not answer in 0.2 s"):
        runner.run(["sleep", "5"], timeout=0.2)
    with pytest.raises(SchedulerError, match="not found"):
        runner.run(["no-such-sbatch-here"])


def test_jobspec_needs_exactly_one_body_and_env_names_are_checked() -> None:
    with pytest.raises(ValueError):
        JobSpec(name="x")
    with pytest.raises(ValueError):
        JobSpec(name="x", script="true", argv=["true"])
    with pytest.raises(ValueError, match="not valid"):
        render_script(JobSpec(script="true", env={"A-B": "1"}))
    assert sbatch_args(JobSpec(script="true", requeue=False))[-1] == "--no-requeue"


def test_running_jobs_asks_for_two_columns_of_running_jobs_and_parses_them() -> None:
    out = "583                 0                   \n90_3                2   \n\n"
    runner = FakeRunner({"squeue": lambda a, i: CommandResult(tuple(a), 0, out, "")})
    assert SlurmCLI(runner).running_jobs() == {"583": 0, "90_3": 2}
    argv = runner.calls[0][0]
    assert "--states=RUNNING" in argv and "--json" not in argv


def test_sbatch_args_carry_the_comment() -> None:
    assert "--comment=tosca:e1:s:1" in sbatch_args(JobSpec(argv=["true"], comment="tosca:e1:s:1"))
