"""Slurm through its commands: ``sbatch --parsable``, ``squeue --json``, ``sacct``, ``scontrol``,
``scancel``, ``sinfo --json``. The default backend; works on the login node itself or, with
an ``SshRunner``, from anywhere that can SSH to it.

Status lookup order for a batch of ids: one ``squeue --json`` (the controller keeps finished
jobs for ``MinJobAge``); ids it no longer lists go to one ``sacct`` call (with slurmdbd; or
``sacct --completion``, which reads ``jobcomp/filetxt`` on clusters without accounting), then
``scontrol show job`` each; only then is a job LOST.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Sequence
from typing import Any

from orchestrator.errors import SchedulerError
from orchestrator.jobs import JobStatus
from orchestrator.slurm.spec import ClusterInfo, JobInfo, JobSpec, PartitionInfo, render_script
from orchestrator.slurm.states import map_slurm_state, normalise_state
from orchestrator.transport.runners import CommandResult, CommandRunner, LocalRunner, output_tail

__all__ = ["SlurmCLI", "sbatch_args"]

logger = logging.getLogger(__name__)

_JOB_ID = re.compile(r"^(\d+(?:_\d+)?)(?:;\S+)?$")


# A Slurm job id: 123, an array task 123_4, a heterogeneous component 123+1, a step 123.0.
_VALID_JOB_ID = re.compile(r"\d{1,12}([_+]\d{1,9})?(\.\d{1,9})?")


def check_job_id(job_id: object) -> str:
    """``job_id`` as text when it is a Slurm job id; ``SchedulerError`` otherwise (a value
    that came back from a step's outputs must not become an option of scancel / scontrol)."""
    text = str(job_id)
    if not _VALID_JOB_ID.fullmatch(text):
        raise SchedulerError(f"{text[:40]!r} is not a Slurm job id")
    return text


def sbatch_args(spec: JobSpec) -> list[str]:
    """The ``sbatch`` flags for ``spec`` (the script itself goes to stdin)."""
    args = ["--parsable", f"--job-name={spec.name}"]
    options: list[tuple[str, object]] = [
        ("--chdir", spec.workdir),
        ("--partition", spec.partition),
        ("--qos", spec.qos),
        ("--reservation", spec.reservation),
        ("--time", spec.time_limit),
        ("--nodes", spec.nodes),
        ("--ntasks", spec.ntasks),
        ("--cpus-per-task", spec.cpus_per_task),
        ("--gres", spec.gres),
        ("--output", spec.output),
        ("--error", spec.error),
        ("--comment", spec.comment),
    ]
    args += [f"{flag}={value}" for flag, value in options if value not in (None, "")]
    if spec.nice is not None:
        args.append(f"--nice={int(spec.nice)}")
    if spec.deadline:
        args.append(f"--deadline=now+{int(spec.deadline)}seconds")
    if spec.dependencies:
        args.append("--dependency=afterok:" + ":".join(str(d) for d in spec.dependencies))
    if spec.requeue is not None:
        args.append("--requeue" if spec.requeue else "--no-requeue")
    args += [str(a) for a in spec.extra_args]
    return args


class SlurmCLI:
    """Scheduler backend over the Slurm commands (see the module docstring)."""

    name = "cli"

    def __init__(self, runner: CommandRunner | None = None, timeout: float = 30.0) -> None:
        self.runner = runner or LocalRunner()
        self.timeout = timeout
        self._sacct_mode: str | None = None  # "db" | "completion" | "none", found on first use

    # -- the one place commands run -------------------------------------------------------------
    def _run(self, argv: Sequence[str], input: str | None = None) -> CommandResult:
        return self.runner.run(argv, input=input, timeout=self.timeout)

    # -- submit ----------------------------------------------------------------------------------
    def submit(self, spec: JobSpec) -> str:
        result = self._run(["sbatch", *sbatch_args(spec)], input=render_script(spec))
        return parse_sbatch(result)

    # -- status ----------------------------------------------------------------------------------
    def status(self, job_ids: Sequence[str]) -> dict[str, JobStatus]:
        return {jid: info.status for jid, info in self.details(job_ids).items()}

    def details(self, job_ids: Sequence[str]) -> dict[str, JobInfo]:
        wanted = [str(j) for j in job_ids]
        if not wanted:
            return {}
        found = self._squeue(wanted)
        missing = [j for j in wanted if j not in found]
        if missing:
            found.update(self._sacct(missing))
            for jid in [j for j in missing if j not in found]:
                info = self._scontrol(jid)
                found[jid] = info or JobInfo(jid, JobStatus.LOST, source="none")
                if info is None:
                    logger.warning("job %s: unknown to squeue, sacct and scontrol: LOST", jid)
        return {j: found[j] for j in wanted}

    def _squeue(self, wanted: list[str]) -> dict[str, JobInfo]:
        # squeue --json (22.05) lists every job the controller holds: filter here.
        result = self._run(["squeue", "--json"])
        if result.returncode != 0:
            raise SchedulerError(f"squeue failed: {output_tail(result)}")
        try:
            jobs = json.loads(result.stdout).get("jobs", [])
        except json.JSONDecodeError as exc:
            raise SchedulerError(f"squeue --json answered non-JSON: {exc}") from exc
        wanted_set = set(wanted)
        out: dict[str, JobInfo] = {}
        for job in jobs:
            info = job_info_from_json(job, source="squeue")
            if info.job_id in wanted_set:
                out[info.job_id] = info
        return out

    def find_job(self, name: str, comment: str | None = None) -> str | None:
        """The newest job called ``name`` (and carrying ``comment``, when the controller still
        knows it): one ``squeue``, then the accounting / job-completion records. None if no
        source knows such a job. What a resumed submit uses to never submit twice."""
        result = self._run(["squeue", "--json"])
        if result.returncode != 0:
            raise SchedulerError(f"squeue failed: {output_tail(result)}")
        try:
            jobs = json.loads(result.stdout).get("jobs", [])
        except json.JSONDecodeError as exc:
            raise SchedulerError(f"squeue --json answered non-JSON: {exc}") from exc
        named = {str(j.get("job_id")): j for j in jobs if j.get("name") == name}
        live = [
            jid
            for jid, j in named.items()
            if comment is None or (j.get("comment") or "") == comment
        ]
        if live:
            return max(live, key=_id_order)
        other = set(named)  # same name, another marker: not ours, even in the records below
        # Gone from the controller (MinJobAge): the job-completion log / accounting keep the
        # name (not the comment), which is why the name carries the tag too.
        base = [
            "sacct",
            "--noheader",
            "--parsable2",
            "--format=JobID,JobName",
            "--starttime=now-7days",
        ]
        modes = [self._sacct_mode] if self._sacct_mode else ["db", "completion"]
        for mode in modes:
            if mode == "none":
                return None
            extra = ["--allocations", "--allusers"] if mode == "db" else ["--completion"]
            found = self._run([*base, *extra])
            if found.returncode == 0:
                self._sacct_mode = mode
                ids = [
                    parts[0]
                    for parts in (ln.split("|") for ln in found.stdout.splitlines())
                    if len(parts) >= 2
                    and parts[1] == name
                    and "." not in parts[0]
                    and parts[0] not in other
                ]
                return max(ids, key=_id_order) if ids else None
        self._sacct_mode = "none"
        return None

    def running_jobs(self) -> dict[str, int]:
        """Every RUNNING job the controller holds -> its restart count (one ``squeue``).

        Taken just before an urgent submission, it tells afterwards which jobs the urgent job
        preempted (their restart count went up): see ``preempted_since``. It is on the urgent
        path, so it asks for two columns of running jobs only: ``squeue --json`` would list
        every job the controller still holds (MinJobAge), ~0.6 MB on a busy node."""
        result = self._run(
            ["squeue", "--noheader", "--states=RUNNING", "--Format=JobID,RestartCnt"]
        )
        if result.returncode != 0:
            raise SchedulerError(f"squeue failed: {output_tail(result)}")
        out = {}
        for line in result.stdout.splitlines():
            parts = line.split()
            if len(parts) >= 2 and parts[1].isdigit():
                out[parts[0]] = int(parts[1])
        return out

    def preempted_since(self, snapshot: dict[str, int]) -> list[str]:
        """Jobs of a ``running_jobs`` snapshot that have been requeued since (preempted)."""
        if not snapshot:
            return []
        now = self.details(list(snapshot))
        return sorted((j for j, info in now.items() if info.restarts > snapshot[j]), key=_id_order)

    def _sacct(self, ids: list[str]) -> dict[str, JobInfo]:
        base = ["sacct", "--noheader", "--parsable2", "--format=JobID,State,ExitCode"]
        modes = [self._sacct_mode] if self._sacct_mode else ["db", "completion"]
        for mode in modes:
            if mode == "none":
                return {}
            extra = ["--allocations"] if mode == "db" else ["--completion"]
            result = self._run([*base, *extra, f"--jobs={','.join(ids)}"])
            if result.returncode == 0:
                self._sacct_mode = mode
                return parse_sacct(result.stdout, ids)
            logger.debug("sacct (%s) failed: %s", mode, output_tail(result))
        self._sacct_mode = "none"
        return {}

    def _scontrol(self, job_id: str) -> JobInfo | None:
        result = self._run(["scontrol", "--oneliner", "show", "job", check_job_id(job_id)])
        if result.returncode != 0:
            return None
        fields = dict(re.findall(r"(\w+)=(\S*)", result.stdout))
        if "JobState" not in fields:
            return None
        state = fields["JobState"]
        reason = fields.get("Reason")
        restarts = int(fields.get("Restarts", "0") or 0)
        return JobInfo(
            job_id,
            map_slurm_state(state, reason, job_id, restarts),
            raw_state=normalise_state(state),
            reason=reason,
            exit_code=_exit_code(fields.get("ExitCode")),
            restarts=restarts,
            partition=fields.get("Partition"),
            source="scontrol",
        )

    # -- cancel ----------------------------------------------------------------------------------
    def cancel(self, job_id: str) -> None:
        result = self._run(["scancel", check_job_id(job_id)])
        if result.returncode != 0:
            text = result.stderr.lower()
            if "invalid job id" in text or "already completing or completed" in text:
                return
            raise SchedulerError(f"scancel {job_id} failed: {output_tail(result)}")

    # -- cluster ---------------------------------------------------------------------------------
    def cluster_version(self) -> str:
        """The Slurm release of the commands ("22.05.8")."""
        out = self._run(["sinfo", "--version"]).stdout.split()
        return out[-1] if out else ""

    def cluster_info(self) -> ClusterInfo:
        version = self.cluster_version()
        nodes_out = self._run(["sinfo", "--json"])
        parts_out = self._run(["scontrol", "--oneliner", "show", "partition"])
        if nodes_out.returncode != 0 or parts_out.returncode != 0:
            raise SchedulerError(
                f"sinfo/scontrol failed: {output_tail(nodes_out)} {output_tail(parts_out)}"
            )
        nodes = json.loads(nodes_out.stdout).get("nodes", [])
        partitions = []
        for line in parts_out.stdout.splitlines():
            f = dict(re.findall(r"(\w+)=(\S*)", line))
            if "PartitionName" in f:
                partitions.append(
                    PartitionInfo(
                        name=f["PartitionName"],
                        default=f.get("Default") == "YES",
                        priority_tier=int(f.get("PriorityTier", "1")),
                        state=f.get("State", ""),
                        nodes=f.get("Nodes", ""),
                        total_cpus=int(f.get("TotalCPUs", "0")),
                    )
                )
        cpus = sum(int(n.get("cpus", 0)) for n in nodes)
        alloc = sum(int(n.get("alloc_cpus", 0)) for n in nodes)
        return ClusterInfo("cli", version, tuple(partitions), len(nodes), cpus, cpus - alloc)


def parse_sbatch(result: CommandResult) -> str:
    """The job id from ``sbatch --parsable`` ("123" or "123;cluster"), else SchedulerError."""
    if result.returncode != 0:
        raise SchedulerError(f"sbatch refused the job: {output_tail(result)}")
    for line in reversed(result.stdout.strip().splitlines()):
        m = _JOB_ID.match(line.strip())
        if m:
            return m.group(1)
    raise SchedulerError(f"sbatch printed no job id: {result.stdout.strip()[:200]!r}")


def parse_sacct(text: str, ids: Sequence[str]) -> dict[str, JobInfo]:
    """``sacct --parsable2`` lines ``JobID|State|ExitCode``; the last line of a job wins
    (the job completion log has one line per run of a requeued job)."""
    wanted = set(ids)
    out: dict[str, JobInfo] = {}
    for line in text.splitlines():
        parts = line.split("|")
        if len(parts) < 3 or parts[0] not in wanted:
            continue  # steps (123.batch) and other jobs
        jid, state = parts[0], parts[1]
        status = map_slurm_state(state, None, jid)
        out[jid] = JobInfo(
            jid, status, normalise_state(state), exit_code=_exit_code(parts[2]), source="sacct"
        )
    # The controller forgot the job and the last record says PREEMPTED: it was not requeued.
    for jid, info in out.items():
        if info.raw_state == "PREEMPTED":
            out[jid] = JobInfo(
                jid, JobStatus.FAILED, info.raw_state, "preempted", info.exit_code, source="sacct"
            )
    return out


def job_info_from_json(job: dict[str, Any], source: str) -> JobInfo:
    """A JobInfo from one job of ``squeue --json`` / slurmrestd ``/jobs`` (v0.0.38+)."""
    jid = str(job.get("job_id", ""))
    if job.get("array_task_id") not in (None, "", {}) and isinstance(job["array_task_id"], int):
        jid = f"{job.get('array_job_id')}_{job['array_task_id']}"
    state = job.get("job_state", "")
    reason = job.get("state_reason")
    restarts = int(job.get("restart_cnt") or 0)
    return JobInfo(
        jid,
        map_slurm_state(state, reason, jid, restarts),
        raw_state=normalise_state(state),
        reason=reason if reason and reason != "None" else None,
        exit_code=_json_exit_code(job.get("exit_code")),
        restarts=restarts,
        partition=job.get("partition"),
        source=source,
    )


def _json_exit_code(value: Any) -> int | None:
    if isinstance(value, int):
        # Slurm 22.05 reports the raw wait status: exit code << 8, or the signal number.
        return value >> 8 if value & 0x7F == 0 else 128 + (value & 0x7F)
    if isinstance(value, dict):  # newer Slurm: {"status": [...], "return_code": {"number": N}}
        rc = value.get("return_code")
        if isinstance(rc, dict):
            rc = rc.get("number")
        return int(rc) if isinstance(rc, int) else None
    return None


def _exit_code(text: str | None) -> int | None:
    if not text:
        return None
    head = text.split(":", 1)[0]
    return int(head) if head.isdigit() else None


def _id_order(job_id: str) -> tuple[int, str]:
    head = job_id.split("_", 1)[0]
    return (int(head) if head.isdigit() else 0, job_id)
