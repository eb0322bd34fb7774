"""pyslurm backend: the version gate, the fallback, and the calls against a stand-in module.

The real pyslurm cannot run here: PyPI has only pyslurm 25.11 (built for Slurm 25.11), the
local cluster is Debian's Slurm 22.05.
"""

from __future__ import annotations

import types
from typing import Any

import pytest

from orchestrator.jobs import JobStatus
from orchestrator.slurm import JobSpec, SlurmCLI, get_scheduler
from orchestrator.slurm.base import CommandResult
from orchestrator.slurm.pyslurm_backend import PySlurmScheduler, pyslurm_available


def fake_pyslurm(version: str) -> types.ModuleType:
    mod = types.ModuleType("pyslurm")
    mod.__version__ = version  # type: ignore[attr-defined]
    submitted: list[dict[str, Any]] = []

    class JobSubmitDescription:
        def __init__(self, **kw: Any) -> None:
            self.kw = kw

        def submit(self) -> int:
            submitted.append(self.kw)
            return 4242

    class _Job:
        def __init__(self, job_id: int, state: str = "RUNNING", name: str = "j") -> None:
            self.id, self.state, self.state_reason = job_id, state, None
            self.name, self.comment = name, f"tosca:{name}"
            self.exit_code, self.requeue_count, self.partition = 0, 0, "urgent"

        def cancel(self) -> None:
            raise RuntimeError("Invalid job id specified")

    class Jobs(dict[int, _Job]):
        @classmethod
        def load(cls) -> Jobs:
            return cls({4242: _Job(4242), 7: _Job(7, "OUT_OF_MEMORY"), 9: _Job(9, name="k")})

    mod.JobSubmitDescription = JobSubmitDescription  # type: ignore[attr-defined]
    mod.Jobs = Jobs  # type: ignore[attr-defined]
    mod.Job = _Job  # type: ignore[attr-defined]
    mod.submitted = submitted  # type: ignore[attr-defined]
    return mod


def test_gate_accepts_only_a_matching_major_minor() -> None:
    mod, why = pyslurm_available("22.05.8", lambda name: fake_pyslurm("22.5.1"))
    assert mod is not None and why == ""
    mod, why = pyslurm_available("22.05.8", lambda name: fake_pyslurm("25.11.0"))
    assert mod is None and "built for Slurm 25.11" in why and "22.05.8" in why


def test_gate_reports_an_import_failure() -> None:
    def broken(name: str) -> types.ModuleType:
        raise ImportError("libslurm.so.43: cannot open shared object file")

    mod, why = pyslurm_available("22.05.8", broken)
    assert mod is None and "libslurm.so.43" in why


def test_gate_on_this_machine_says_why_pyslurm_is_unusable() -> None:
    mod, why = pyslurm_available("22.05.8")
    assert mod is None and why  # not installed, or built for another Slurm


def test_get_scheduler_falls_back_to_the_cli(caplog: pytest.LogCaptureFixture) -> None:
    class VersionRunner:
        def run(self, argv: Any, **kw: Any) -> CommandResult:
            return CommandResult(tuple(argv), 0, "slurm-wlm 22.05.8\n", "")

    s = get_scheduler({"scheduler": "slurm", "slurm_backend": "pyslurm"}, runner=VersionRunner())
    assert isinstance(s, SlurmCLI)
    assert "pyslurm backend unavailable" in caplog.text


def test_backend_maps_spec_and_states_through_the_module() -> None:
    mod = fake_pyslurm("22.5.0")
    s = PySlurmScheduler(mod)
    assert s.submit(JobSpec(name="j", script="true", partition="urgent", deadline=60)) == "4242"
    kw = mod.submitted[0]  # type: ignore[attr-defined]
    assert kw["partitions"] == "urgent" and kw["deadline"] == "now+60seconds"
    assert "#!/bin/bash" in kw["script"]
    assert s.status(["4242", "7", "1"]) == {
        "4242": JobStatus.RUNNING, "7": JobStatus.FAILED, "1": JobStatus.LOST,
    }  # fmt: skip
    s.cancel("1")  # "Invalid job id" is not an error


def test_backend_finds_a_job_by_name_and_comment() -> None:
    s = PySlurmScheduler(fake_pyslurm("22.5.0"))
    assert s.find_job("j") == "4242"  # the newest of two with that name
    assert s.find_job("k", "tosca:k") == "9"
    assert s.find_job("k", "tosca:other") is None and s.find_job("none") is None
