"""Native test operations for the CLI and resume tests (imported as ``resume_ops``).

Every operation leaves a trace a test can count:

* ``op`` fails when ``inputs["fail"]`` names its node and it is ``configure``; else it
  appends ``<step>`` to ``inputs["counter"]`` once per idempotency token: an attempt
  interrupted by a kill and re-run with the same token does not add a second line (that is
  how an idempotent operation uses the token); every call also appends to ``<counter>.calls``.
* ``submit`` / ``run`` / ``cancel`` drive a file-based fake scheduler in
  ``inputs["jobs_dir"]``: one JSON file per job holding the submit token. On a resumed
  attempt ``submit`` first looks the token up and returns the existing job. Every real
  submission appends a line to ``<jobs_dir>/submissions``.
* With ``$RESUME_OPS_KILL_IN_SUBMIT`` naming a file that does not exist yet, ``submit``
  creates that file and SIGKILLs its own process right after creating the job, before
  returning its id: the "job submitted, id never recorded" case.
"""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from pathlib import Path
from typing import Any


def _append(path: str | Path, line: str) -> None:
    with open(path, "a") as fh:
        fh.write(line + "\n")
        fh.flush()
        os.fsync(fh.fileno())


def op(ctx: Any, inputs: dict[str, Any]) -> dict[str, Any]:
    counter = Path(inputs["counter"])
    token = ctx.context["idempotency_token"]
    _append(f"{counter}.calls", f"{ctx.step_id} {token}")
    if float(inputs.get("sleep", 0)):
        time.sleep(float(inputs["sleep"]))
    if inputs.get("fail") and inputs["fail"] == ctx.node and ctx.operation == "configure":
        ctx.log("INFO", "about to fail")
        raise RuntimeError(f"{ctx.step_id} failed on purpose")
    done = counter.read_text().split("\n") if counter.exists() else []
    if not any(line.endswith(f" {token}") for line in done):
        _append(counter, f"{ctx.step_id} {token}")
    urgency = ctx.context.get("urgency")
    ctx.log("INFO", f"{ctx.step_id} did its work (echo={inputs.get('echo')}) urgency={urgency}")
    return {"value": f"{ctx.node}-{ctx.operation}", "echo": inputs.get("echo")}


def _job_file(jobs: Path, job_id: str) -> Path:
    return jobs / f"{job_id}.json"


def submit(ctx: Any, inputs: dict[str, Any]) -> dict[str, Any]:
    jobs = Path(inputs["jobs_dir"])
    jobs.mkdir(parents=True, exist_ok=True)
    token = ctx.context["idempotency_token"]
    if ctx.context.get("resumed"):
        for f in sorted(jobs.glob("*.json")):
            if json.loads(f.read_text())["token"] == token:
                ctx.log("INFO", f"found job {f.stem} submitted before the interruption")
                return {"TOSCA_JOB_ID": f.stem}
    # Submitting is one atomic act, as sbatch is: the job file appears whole or not at all
    # (written aside, then hard-linked into place; the link fails if that id is taken).
    staged = jobs / f".submit-{os.getpid()}-{threading.get_ident()}"
    staged.write_text(
        json.dumps(
            {
                "token": token,
                "submitted_at": time.time(),
                "duration": float(inputs.get("duration", 0.3)),
                "state": "QUEUED",
            }
        )
    )
    n = 1
    while True:
        try:
            os.link(staged, _job_file(jobs, str(n)))
            break
        except FileExistsError:
            n += 1
    staged.unlink()
    _append(jobs / "submissions", f"{n} {token}")
    marker = os.environ.get("RESUME_OPS_KILL_IN_SUBMIT")
    if marker and not Path(marker).exists():
        Path(marker).write_text("killed")
        os.kill(os.getpid(), signal.SIGKILL)
    return {"TOSCA_JOB_ID": str(n)}


def run(ctx: Any, inputs: dict[str, Any]) -> dict[str, Any]:
    f = _job_file(Path(inputs["jobs_dir"]), str(inputs["TOSCA_JOB_ID"]))
    job = json.loads(f.read_text())
    if job["state"] == "CANCELLED":
        return {"TOSCA_JOB_STATUS": "CANCELLED"}
    if time.time() - job["submitted_at"] >= job["duration"]:
        return {"TOSCA_JOB_STATUS": inputs.get("final", "COMPLETED")}
    return {"TOSCA_JOB_STATUS": "RUNNING"}


def cancel(ctx: Any, inputs: dict[str, Any]) -> dict[str, Any]:
    f = _job_file(Path(inputs["jobs_dir"]), str(inputs["TOSCA_JOB_ID"]))
    job = json.loads(f.read_text())
    job["state"] = "CANCELLED"
    f.write_text(json.dumps(job))
    _append(Path(inputs["jobs_dir"]) / "cancellations", str(inputs["TOSCA_JOB_ID"]))
    return {}
