"""Slurm through pyslurm (the C API), used only when its version matches the cluster's.

pyslurm's major.minor follows Slurm's (pyslurm 25.11 is built for Slurm 25.11 and will not
even import against other ``libslurm`` versions). PyPI carries only 25.11; Debian 12 ships
Slurm 22.05, so on the bundled cluster this backend is unavailable and ``get_scheduler``
falls back to the CLI with a warning. The gate (``pyslurm_available``) is what is tested
here; the calls below follow the pyslurm >= 23.2 object API.
"""

from __future__ import annotations

import importlib
import logging
import re
from collections.abc import Callable, Sequence
from types import ModuleType
from typing import Any

from orchestrator.errors import SchedulerError
from orchestrator.jobs import JobStatus
from orchestrator.slurm.spec import ClusterInfo, JobInfo, JobSpec, render_script
from orchestrator.slurm.states import map_slurm_state, normalise_state

__all__ = ["PySlurmScheduler", "pyslurm_available"]

logger = logging.getLogger(__name__)


def _major_minor(text: str) -> tuple[int, int] | None:
    m = re.search(r"(\d+)\.(\d+)", text or "")
    return (int(m.group(1)), int(m.group(2))) if m else None


def pyslurm_available(
    slurm_version: str, importer: Callable[[str], ModuleType] = importlib.import_module
) -> tuple[ModuleType | None, str]:
    """``(module, "")`` when pyslurm imports and its major.minor equals ``slurm_version``'s;
    else ``(None, why)``."""
    try:
        mod = importer("pyslurm")
    except ImportError as exc:  # also raised when libslurm is missing or of another version
        return None, f"pyslurm cannot be imported ({exc})"
    version = str(getattr(mod, "__version__", ""))
    ours, theirs = _major_minor(version), _major_minor(slurm_version)
    if ours is None or theirs is None:
        return None, f"cannot compare pyslurm {version!r} with Slurm {slurm_version!r}"
    if ours != theirs:
        return None, (
            f"pyslurm {version} is built for Slurm {ours[0]}.{ours[1]}, the cluster runs "
            f"{slurm_version}"
        )
    return mod, ""


class PySlurmScheduler:
    """Scheduler backend over pyslurm (see the module docstring)."""

    name = "pyslurm"

    def __init__(self, module: ModuleType) -> None:
        self._ps: Any = module

    def submit(self, spec: JobSpec) -> str:
        desc = self._ps.JobSubmitDescription(
            name=spec.name,
            script=render_script(spec),
            working_directory=spec.workdir,
            partitions=spec.partition,
            qos=spec.qos,
            nice=spec.nice,
            reservations=spec.reservation,
            time_limit=spec.time_limit,
            nodes=spec.nodes,
            ntasks=spec.ntasks,
            cpus_per_task=spec.cpus_per_task,
            gres_per_node=spec.gres,
            standard_output=spec.output,
            standard_error=spec.error,
            dependencies=("afterok:" + ":".join(spec.dependencies)) if spec.dependencies else None,
            deadline=f"now+{spec.deadline}seconds" if spec.deadline else None,
        )
        try:
            return str(desc.submit())
        except Exception as exc:  # pyslurm.RPCError and friends
            raise SchedulerError(f"pyslurm submit failed: {exc}") from exc

    def status(self, job_ids: Sequence[str]) -> dict[str, JobStatus]:
        return {jid: info.status for jid, info in self.details(job_ids).items()}

    def details(self, job_ids: Sequence[str]) -> dict[str, JobInfo]:
        try:
            jobs = self._ps.Jobs.load()  # one RPC for all jobs
        except Exception as exc:
            raise SchedulerError(f"pyslurm could not load jobs: {exc}") from exc
        out: dict[str, JobInfo] = {}
        for raw in job_ids:
            jid = str(raw)
            job = jobs.get(int(jid)) if jid.isdigit() else None
            if job is None:
                out[jid] = JobInfo(jid, JobStatus.LOST, source="none")
                continue
            state, reason = str(job.state), getattr(job, "state_reason", None)
            out[jid] = JobInfo(
                jid,
                map_slurm_state(state, reason, jid),
                normalise_state(state),
                reason,
                getattr(job, "exit_code", None),
                int(getattr(job, "requeue_count", 0) or 0),
                getattr(job, "partition", None),
                source="pyslurm",
            )
        return out

    def find_job(self, name: str, comment: str | None = None) -> str | None:
        """The newest job the controller still holds with this name (and comment). Jobs
        that already left the controller's memory are not seen (no accounting query)."""
        try:
            jobs = self._ps.Jobs.load()
        except Exception as exc:
            raise SchedulerError(f"pyslurm could not load jobs: {exc}") from exc
        found = [
            int(job_id)
            for job_id, job in jobs.items()
            if getattr(job, "name", None) == name
            and (comment is None or getattr(job, "comment", None) == comment)
        ]
        return str(max(found)) if found else None

    def cancel(self, job_id: str) -> None:
        try:
            self._ps.Job(int(job_id)).cancel()
        except Exception as exc:
            if "invalid job id" in str(exc).lower() or "already" in str(exc).lower():
                return
            raise SchedulerError(f"pyslurm cancel {job_id} failed: {exc}") from exc

    def cluster_info(self) -> ClusterInfo:
        version = str(getattr(self._ps, "__version__", ""))
        return ClusterInfo("pyslurm", version)
