"""Slurm through slurmrestd (OpenAPI v0.0.38, Slurm 22.05+) over httpx with a JWT.

For orchestrators that do not run on the login node and may not SSH to it. The token comes
from a secret (``scontrol token username=U lifespan=S`` makes one); it is sent as
``X-SLURM-USER-TOKEN`` and never logged. Requests go through an ``httpx.Client`` so tests
can hand in ``httpx.MockTransport``. Without slurmdbd, slurmrestd has no accounting API: a
job the controller forgot is LOST after ``GET /job/{id}`` says it does not exist.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import httpx

from orchestrator.errors import SchedulerError
from orchestrator.jobs import JobStatus
from orchestrator.slurm.cli import check_job_id, job_info_from_json
from orchestrator.slurm.spec import ClusterInfo, JobInfo, JobSpec, PartitionInfo, render_script

__all__ = ["SlurmRest", "rest_job_body"]

logger = logging.getLogger(__name__)

API = "v0.0.38"


def rest_job_body(spec: JobSpec) -> dict[str, Any]:
    """The ``POST /job/submit`` body for ``spec``."""
    job: dict[str, Any] = {
        "name": spec.name,
        "current_working_directory": spec.workdir or "/tmp",
        # slurmrestd starts jobs with no environment at all: give them a usable PATH.
        "environment": {"PATH": "/usr/local/bin:/usr/bin:/bin"},
    }
    optional = {
        "partition": spec.partition,
        "qos": spec.qos,
        "nice": spec.nice,
        "reservation": spec.reservation,
        "time_limit": spec.time_limit,
        "nodes": spec.nodes,
        "tasks": spec.ntasks,
        "cpus_per_task": spec.cpus_per_task,
        "gres": spec.gres,
        "standard_output": spec.output,
        "standard_error": spec.error,
        "requeue": spec.requeue,
        "comment": spec.comment,
    }
    job.update({k: v for k, v in optional.items() if v is not None})
    if spec.dependencies:
        job["dependency"] = "afterok:" + ":".join(str(d) for d in spec.dependencies)
    if spec.deadline:
        job["deadline"] = f"now+{int(spec.deadline)}seconds"
    if spec.extra_args:
        raise SchedulerError("slurmrestd backend: extra sbatch flags cannot be sent over REST")
    # Exports go into the script (like the CLI backend) so both behave the same.
    return {"script": render_script(spec), "job": job}


class SlurmRest:
    """Scheduler backend over slurmrestd (see the module docstring)."""

    name = "restd"

    def __init__(
        self,
        base_url: str,
        user: str,
        token: str,
        *,
        timeout: float = 10.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._client = httpx.Client(
            base_url=f"{self.base_url}/slurm/{API}",
            headers={"X-SLURM-USER-NAME": user, "X-SLURM-USER-TOKEN": str(token)},
            timeout=timeout,
            transport=transport,
        )

    def close(self) -> None:
        self._client.close()

    def _call(self, method: str, path: str, json: Any = None) -> dict[str, Any]:
        try:
            resp = self._client.request(method, path, json=json)
        except httpx.HTTPError as exc:
            raise SchedulerError(f"slurmrestd at {self.base_url} unreachable: {exc}") from exc
        try:
            body = resp.json()
        except ValueError:
            body = {}
        if resp.status_code in (401, 403):
            raise SchedulerError(
                f"slurmrestd at {self.base_url} refused the token (HTTP {resp.status_code})"
            )
        errors = body.get("errors") or [] if isinstance(body, dict) else []
        if resp.status_code >= 400 and not errors:
            raise SchedulerError(f"slurmrestd {method} {path}: HTTP {resp.status_code}")
        if not isinstance(body, dict):
            raise SchedulerError(f"slurmrestd {method} {path}: unexpected answer")
        body["_status"] = resp.status_code
        return body

    @staticmethod
    def _errors(body: dict[str, Any]) -> str:
        return "; ".join(
            str(e.get("description") or e.get("error") or e) for e in body.get("errors") or []
        )

    def submit(self, spec: JobSpec) -> str:
        body = self._call("POST", "/job/submit", json=rest_job_body(spec))
        job_id = body.get("job_id")
        if job_id is None:
            raise SchedulerError(f"slurmrestd refused the job: {self._errors(body) or body}")
        return str(job_id)

    def status(self, job_ids: Sequence[str]) -> dict[str, JobStatus]:
        return {jid: info.status for jid, info in self.details(job_ids).items()}

    def details(self, job_ids: Sequence[str]) -> dict[str, JobInfo]:
        wanted = [str(j) for j in job_ids]
        if not wanted:
            return {}
        body = self._call("GET", "/jobs")
        if body.get("errors") and "jobs" not in body:
            raise SchedulerError(f"slurmrestd /jobs failed: {self._errors(body)}")
        found: dict[str, JobInfo] = {}
        for job in body.get("jobs") or []:
            info = job_info_from_json(job, source="restd")
            if info.job_id in wanted:
                found[info.job_id] = info
        for jid in wanted:
            if jid not in found:
                logger.warning("job %s: unknown to slurmrestd: LOST", jid)
                found[jid] = JobInfo(jid, JobStatus.LOST, source="none")
        return {j: found[j] for j in wanted}

    def find_job(self, name: str, comment: str | None = None) -> str | None:
        """The newest job the controller holds called ``name`` (with ``comment``), or None.
        slurmrestd only sees jobs the controller still holds (MinJobAge)."""
        body = self._call("GET", "/jobs")
        ids = [
            str(job.get("job_id"))
            for job in body.get("jobs") or []
            if job.get("name") == name
            and (comment is None or (job.get("comment") or "") == comment)
        ]
        return max(ids, key=lambda j: int(j) if j.isdigit() else 0) if ids else None

    def cancel(self, job_id: str) -> None:
        body = self._call("DELETE", f"/job/{check_job_id(job_id)}")
        errors = self._errors(body)
        if errors and "invalid job id" not in errors.lower() and "already" not in errors.lower():
            raise SchedulerError(f"slurmrestd could not cancel job {job_id}: {errors}")

    def cluster_info(self) -> ClusterInfo:
        ping = self._call("GET", "/ping")
        release = ping.get("meta", {}).get("Slurm", {}).get("release", "")
        parts = self._call("GET", "/partitions").get("partitions") or []
        nodes = self._call("GET", "/nodes").get("nodes") or []
        partitions = tuple(
            PartitionInfo(
                name=p.get("name", ""),
                default="default" in (p.get("flags") or []),
                priority_tier=int(p.get("priority_tier") or 1),
                state=str(p.get("state", "")),
                nodes=str(p.get("nodes", "")),
                total_cpus=int(p.get("total_cpus") or 0),
            )
            for p in parts
        )
        cpus = sum(int(n.get("cpus") or 0) for n in nodes)
        alloc = sum(int(n.get("alloc_cpus") or 0) for n in nodes)
        return ClusterInfo("restd", str(release), partitions, len(nodes), cpus, cpus - alloc)
