"""PyCOMPSsJob native submit / run / cancel on the local backend and on the real local Slurm."""

from __future__ import annotations

import os
import stat
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from orchestrator.errors import JobError
from orchestrator.executors.native import NativeContext, pycompss
from orchestrator.jobs import JobStatus
from orchestrator.slurm import SlurmCLI

APP = """\
import os, sys
print("args=" + " ".join(sys.argv[1:]))
for name in ("alpha", "beta", "gamma", "num_nodes"):
    print(f"{name}={os.environ.get(name)}")
print("to stderr", file=sys.stderr)
sys.exit(int(os.environ.get("EXIT", "0")))
"""


def make_ctx(tmp_path: Path, env: dict[str, Any], props: dict[str, Any] | None = None,
             urgency: str | None = None, node: str = "job") -> NativeContext:  # fmt: skip
    app = tmp_path / "app.py"
    app.write_text(APP)
    node_props = {
        "submission_params": {"num_nodes": 1, "qos": "debug"},
        "application": {"command": str(app), "arguments": ["--event", "ev 1.json"]},
        **(props or {}),
    }
    context: dict[str, Any] = {
        "node_properties": node_props,
        "requirements": {"environment": {"node": "site", "type": "eflows4hpc.nodes.Environment",
                                         "properties": env}},
        "execution_id": "exec-1234567890",
        "workspace": str(tmp_path / "ws"),
    }  # fmt: skip
    if urgency:
        context["urgency"] = urgency
    return NativeContext(
        step_id=f"{node}.Runnable.submit", node=node, interface="Runnable", operation="submit",
        context=context, workdir=tmp_path / "exec",
    )  # fmt: skip


def poll(ctx: NativeContext, job_id: str, until: set[str], timeout: float = 30.0) -> dict[str, Any]:
    end = time.monotonic() + timeout
    while True:
        out = pycompss.run(ctx, {"TOSCA_JOB_ID": job_id})
        if out["TOSCA_JOB_STATUS"] in until or time.monotonic() > end:
            return out
        time.sleep(0.1)


INPUTS = {"alpha": "1", "PyCOMPSs_alpha": "2", "job_PyCOMPSs_alpha": "3",
          "beta": "b", "PyCOMPSs_beta": "B", "gamma": {"k": [1, 2]}}  # fmt: skip


def test_export_env_precedence() -> None:
    env = pycompss.export_env("job", {**INPUTS, "other_PyCOMPSs_beta": "no", "TOSCA_JOB_ID": "1"})
    assert env["alpha"] == "3" and env["beta"] == "B" and env["gamma"] == '{"k": [1, 2]}'
    assert "TOSCA_JOB_ID" not in env and env.get("other_PyCOMPSs_beta") == "no"


def test_build_job_overrides_and_urgency(tmp_path: Path) -> None:
    ctx = make_ctx(tmp_path, {"scheduler": "slurm", "urgency_levels": {
        "emergency": {"partition": "rt", "time_limit": 30, "reservation": "quake"}}},
        props={"application": {"command": "workflows.tsunami.forecast", "arguments": "--x 1",
               "container_opts": {"container_image": "img.sif"}}},
        urgency="emergency")  # fmt: skip
    spec, enqueue = pycompss.build_job(
        ctx, {"qos": "urgent_qos", "num_nodes": 2, "extra_compss_opts": "--lang=python -d"}, True
    )
    assert (spec.partition, spec.reservation, spec.time_limit) == ("rt", "quake", 30)
    assert spec.qos == "urgent_qos" and spec.nodes == 2
    assert spec.argv is not None and list(spec.argv[1:]) == [
        "-m", "workflows.runtime", "--events", str(pycompss.job_dir(ctx) / "task-events.jsonl"),
        "workflows.tsunami.forecast", "--x", "1"]  # fmt: skip
    assert enqueue is not None
    assert "--qos=urgent_qos" in enqueue and "--num_nodes=2" in enqueue
    assert "--queue=rt" in enqueue and "--exec_time=30" in enqueue
    assert "--container_image=img.sif" in enqueue and enqueue[-3:] == [
        "workflows.tsunami.forecast", "--x", "1"]  # fmt: skip
    assert enqueue[enqueue.index("--lang=python") + 1] == "-d"


def test_missing_command_and_missing_job_id_are_job_errors(tmp_path: Path) -> None:
    ctx = make_ctx(tmp_path, {"scheduler": "local"}, props={"application": {}})
    with pytest.raises(JobError, match="application.command is required"):
        pycompss.submit(ctx, {})
    with pytest.raises(JobError, match="TOSCA_JOB_ID"):
        pycompss.run(ctx, {})


def test_local_site_end_to_end_with_logs(tmp_path: Path) -> None:
    ctx = make_ctx(tmp_path, {"scheduler": "local"})
    job_id = pycompss.submit(ctx, INPUTS)["TOSCA_JOB_ID"]
    out = poll(ctx, job_id, {"COMPLETED", "FAILED"})
    assert out["TOSCA_JOB_STATUS"] == "COMPLETED"
    stdout = Path(out["TOSCA_JOB_STDOUT"]).read_text()
    assert "args=--event ev 1.json" in stdout and "alpha=3" in stdout and "beta=B" in stdout
    assert Path(out["TOSCA_JOB_STDOUT"]).parent == tmp_path / "exec" / "logs"
    assert "to stderr" in Path(out["TOSCA_JOB_STDERR"]).read_text()
    assert "alpha=3" in ctx.log_text  # the tail reached the execution's log


def test_local_site_failure_and_cancel(tmp_path: Path) -> None:
    ctx = make_ctx(tmp_path, {"scheduler": "local"})
    failed = pycompss.submit(ctx, {"EXIT": "4"})["TOSCA_JOB_ID"]
    out = poll(ctx, failed, {"COMPLETED", "FAILED"})
    assert out["TOSCA_JOB_STATUS"] == "FAILED" and out["TOSCA_JOB_EXIT_CODE"] == 4
    ctx2 = make_ctx(tmp_path, {"scheduler": "local"}, props={"application": {
        "command": "-c", "arguments": ["import time; time.sleep(60)"]}})  # fmt: skip
    ctx2.context["node_properties"]["application"]["command"] = str(tmp_path / "sleep.py")
    (tmp_path / "sleep.py").write_text("import time\ntime.sleep(60)\n")
    job = pycompss.submit(ctx2, {})["TOSCA_JOB_ID"]
    assert poll(ctx2, job, {"RUNNING"})["TOSCA_JOB_STATUS"] == "RUNNING"
    assert pycompss.cancel(ctx2, {"TOSCA_JOB_ID": job})["TOSCA_JOB_STATUS"] == "CANCELLED"
    assert pycompss.run(ctx2, {"TOSCA_JOB_ID": job})["TOSCA_JOB_STATUS"] == "CANCELLED"


@pytest.mark.integration
@pytest.mark.slurm
def test_slurm_site_end_to_end(slurm_jobs, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    ctx = make_ctx(tmp_path, {"scheduler": "slurm"})
    job_id = slurm_jobs.add(pycompss.submit(ctx, {**INPUTS, "num_nodes": 1})["TOSCA_JOB_ID"])
    assert job_id.isdigit()
    out = poll(ctx, job_id, {"COMPLETED", "FAILED"})
    assert out["TOSCA_JOB_STATUS"] == "COMPLETED", out
    stdout = Path(out["TOSCA_JOB_STDOUT"]).read_text()
    assert "alpha=3" in stdout and "num_nodes=1" in stdout and "args=--event ev 1.json" in stdout


@pytest.mark.integration
@pytest.mark.slurm
def test_emergency_submission_preempts_and_records_it(slurm_jobs, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from orchestrator.slurm import JobSpec

    cli = SlurmCLI()
    cpus = cli.cluster_info().cpus
    batch = [slurm_jobs.add(cli.submit(JobSpec(name="fill", script="sleep 120",
             workdir=str(tmp_path)))) for _ in range(cpus)]  # fmt: skip
    end = time.monotonic() + 20
    while set(cli.status(batch).values()) != {JobStatus.RUNNING} and time.monotonic() < end:
        time.sleep(0.1)
    ctx = make_ctx(tmp_path, {"scheduler": "slurm"}, urgency="emergency")
    ctx.context["node_properties"]["submission_params"]["extra_compss_opts"] = ""
    job_id = slurm_jobs.add(pycompss.submit(ctx, {})["TOSCA_JOB_ID"])
    out = poll(ctx, job_id, {"RUNNING", "COMPLETED", "FAILED"}, timeout=15)
    assert out["TOSCA_JOB_STATUS"] in ("RUNNING", "COMPLETED")
    assert cli.details([job_id])[job_id].partition == "urgent"
    # One CPU is enough for the urgent job: at least one batch job was requeued for it.
    assert out["TOSCA_PREEMPTED_JOBS"] and set(out["TOSCA_PREEMPTED_JOBS"]) <= set(batch)
    assert "preempted (requeued) jobs" in ctx.log_text


FAKE_ENQUEUE = """#!/bin/bash
# Stand-in for COMPSs' enqueue_compss: records its flags, submits the app with sbatch.
printf '%s\\n' "$@" > "$FAKE_ENQUEUE_LOG"
args=(); for a in "$@"; do case "$a" in --*) ;; *) args+=("$a");; esac; done
id=$(sbatch --parsable --output=/dev/null --wrap "$(printf '%q ' python3 "${args[@]}")") || exit 1
echo "Submitted batch job $id"
"""


@pytest.mark.integration
@pytest.mark.slurm
def test_site_with_compss_submits_through_enqueue_compss(
    slurm_jobs,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,  # type: ignore[no-untyped-def]
) -> None:
    bindir = tmp_path / "bin"
    bindir.mkdir()
    fake = bindir / "enqueue_compss"
    fake.write_text(FAKE_ENQUEUE)
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{bindir}:{os.environ['PATH']}")
    monkeypatch.setenv("FAKE_ENQUEUE_LOG", str(tmp_path / "flags.txt"))
    ctx = make_ctx(tmp_path, {"scheduler": "slurm", "compss_available": True}, urgency="urgent")
    job_id = slurm_jobs.add(pycompss.submit(ctx, {"qos": "rt", "alpha": "x"})["TOSCA_JOB_ID"])
    flags = (tmp_path / "flags.txt").read_text().splitlines()
    assert "--qos=rt" in flags and "--queue=urgent" in flags and "--num_nodes=1" in flags
    assert flags[-3:] == [str(tmp_path / "app.py"), "--event", "ev 1.json"]
    out = poll(ctx, job_id, {"COMPLETED", "FAILED"})
    assert out["TOSCA_JOB_STATUS"] == "COMPLETED"


# -- idempotent submit: a resumed submit finds the job of the interrupted attempt ----------------
TOKEN = "exec-1234567890:job.Runnable.submit:1"


def _with_token(ctx: NativeContext, token: str, resumed: bool) -> NativeContext:
    ctx.context.update(idempotency_token=token, resumed=resumed)
    return ctx


def test_resumed_submit_on_a_local_site_returns_the_job_already_submitted(tmp_path: Path) -> None:
    site = {"scheduler": "local", "work_dir": str(tmp_path / "site")}
    # The interrupted attempt: its job was submitted, but its id never reached the state.
    first = pycompss.submit(_with_token(make_ctx(tmp_path, site), TOKEN, False), {})
    again = _with_token(make_ctx(tmp_path, site), TOKEN, True)
    assert pycompss.submit(again, {}) == first
    assert "not submitting again" in again.log_text
    jobs = list((tmp_path / "site" / "jobs").glob("local-*"))
    assert len(jobs) == 1 and (jobs[0] / "comment").read_text() == f"tosca:{TOKEN}"
    # A resumed attempt whose predecessor died before submitting does submit (once).
    other = _with_token(make_ctx(tmp_path, site), TOKEN.replace(":1", ":2"), True)
    new_id = pycompss.submit(other, {})["TOSCA_JOB_ID"]
    assert new_id != first["TOSCA_JOB_ID"]
    assert len(list((tmp_path / "site" / "jobs").glob("local-*"))) == 2
    poll(other, new_id, {"COMPLETED", "FAILED"})


@pytest.mark.integration
@pytest.mark.slurm
def test_resumed_submit_on_slurm_never_submits_twice(slurm_jobs, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    import json
    import subprocess

    token = f"exec-{uuid.uuid4().hex}:job.Runnable.submit:1"
    ctx = _with_token(make_ctx(tmp_path, {"scheduler": "slurm"}), token, False)
    spec, _ = pycompss.build_job(ctx, {}, False)
    first = slurm_jobs.add(pycompss.submit(ctx, {})["TOSCA_JOB_ID"])
    again = _with_token(make_ctx(tmp_path, {"scheduler": "slurm"}), token, True)
    assert slurm_jobs.add(pycompss.submit(again, {})["TOSCA_JOB_ID"]) == first
    listed = json.loads(subprocess.run(["squeue", "--json"], capture_output=True, text=True,
                                       timeout=30, check=True).stdout)["jobs"]  # fmt: skip
    mine = [j for j in listed if j["name"] == spec.name]
    assert [str(j["job_id"]) for j in mine] == [first]
    assert mine[0]["comment"] == f"tosca:{token}"


# -- live output: job stdout and task-runtime events forwarded poll by poll ----------------------
TASKS_APP = """\
import time
from pycompss.api.task import task
from pycompss.api.api import compss_wait_on


@task(returns=1)
def simulate(i):
    time.sleep(0.1)
    return i * i


print("first line", flush=True)
time.sleep(1.5)  # a poll happens here: the first line is forwarded before the job ends
values = compss_wait_on([simulate(i) for i in range(3)])
for i, value in enumerate(values):
    print(f"scenario {i} done: {value}")
"""


def test_run_forwards_new_stdout_lines_and_task_events_once(tmp_path: Path) -> None:
    ctx = make_ctx(tmp_path, {"scheduler": "local"})
    app = tmp_path / "tasks_app.py"
    app.write_text(TASKS_APP)
    ctx.context["node_properties"]["application"] = {"command": str(app)}
    job_id = pycompss.submit(ctx, {})["TOSCA_JOB_ID"]
    spec_events = pycompss.job_dir(ctx) / pycompss.EVENTS_FILE
    polls: list[str] = []
    end = time.monotonic() + 60
    while True:
        run_ctx = make_ctx(tmp_path, {"scheduler": "local"})  # a fresh context per poll
        out = pycompss.run(run_ctx, {"TOSCA_JOB_ID": job_id})
        polls.append(run_ctx.log_text)
        if out["TOSCA_JOB_STATUS"] != "RUNNING" or time.monotonic() > end:
            break
        time.sleep(0.3)
    assert out["TOSCA_JOB_STATUS"] == "COMPLETED", polls
    text = "\n".join(polls)
    # Forwarded while the job still ran, and each line exactly once.
    first = next(i for i, p in enumerate(polls) if f"job {job_id} | first line" in p)
    assert first < len(polls) - 1
    assert text.count("| first line") == 1 and text.count("| scenario 2 done: 4") == 1
    finished = [ln for ln in text.splitlines() if "task simulate#" in ln and "finished" in ln]
    assert len(finished) == 3 and all(" in 0." in ln for ln in finished), finished
    assert spec_events.exists() and out["TOSCA_JOB_EVENTS"].endswith("task-events.jsonl")
    assert "stdout:\n" not in text  # no second copy of stdout as a tail at the end


def test_format_task_event() -> None:
    line = '{"event": "finished", "task_id": 3, "name": "forecast.simulate", "host": "vm", '
    assert pycompss.format_task_event(line + '"duration": 4.21, "attempts": 1}') == (
        20, "task forecast.simulate#3 finished on vm in 4.2 s")  # fmt: skip
    level, text = pycompss.format_task_event(
        '{"event": "failed", "task_id": 4, "name": "s", "attempt": 2, "timed_out": true, '
        '"duration": 1.0, "error": "time_out 1 s"}'
    )
    assert level == 30 and text == "task s#4 timed out in 1.0 s (attempt 2): time_out 1 s"
    assert pycompss.format_task_event("not json")[1] == "task event: not json"
