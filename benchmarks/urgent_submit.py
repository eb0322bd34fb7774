"""Urgent submit latency on the real local Slurm (scripts/slurm-up.sh must be running).

1. 50 triggers -> job id: each goes through the in-process chain a trigger of a deployed
   urgent workflow takes today (no service facade / REST API yet): a NativeContext for the
   PyCOMPSsJob ``Runnable.submit`` step, then ``orchestrator.executors.native.pycompss.submit``
   (scheduler choice, job building, urgency mapping, preemption snapshot, ``sbatch``), until
   ``TOSCA_JOB_ID`` comes back. No Ansible on this path. Targets: p50 <= 0.5 s, p99 <= 1.5 s.
   Baseline in the same run: one bare ``sbatch --parsable`` (the floor any tool pays).
2. Emergency on a full node: the node's CPUs filled with batch jobs, then an emergency job
   through the same path; time from the submit call to RUNNING (squeue polled every 20 ms).

Every job submitted is cancelled at the end. Last output line: one JSON object.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from orchestrator.executors.native import NativeContext, pycompss
from orchestrator.jobs import JobStatus
from orchestrator.slurm import JobSpec, SlurmCLI

N = 50


def ctx_for(work: Path, app: Path, urgency: str, i: int) -> NativeContext:
    context: dict[str, Any] = {
        "node_properties": {
            "submission_params": {"num_nodes": 1, "qos": "debug"},
            "application": {"command": str(app), "arguments": ["--event", f"ev{i}.json"]},
        },
        "requirements": {
            "environment": {
                "node": "site",
                "type": "eflows4hpc.nodes.Environment",
                "properties": {"scheduler": "slurm"},
            }
        },
        "execution_id": f"bench-{i:04d}",
        "workspace": str(work / "ws"),
        "urgency": urgency,
    }
    return NativeContext(
        step_id="job.Runnable.submit",
        node="job",
        interface="Runnable",
        operation="submit",
        context=context,
        workdir=work / f"exec{i}",
    )


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    k = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[k]


def main() -> int:
    if "is UP" not in subprocess.run(["scontrol", "ping"], capture_output=True, text=True).stdout:
        print("Slurm is not running: start it with scripts/slurm-up.sh", file=sys.stderr)
        return 1
    cli = SlurmCLI()
    submitted: list[str] = []
    work = Path(tempfile.mkdtemp(prefix="urgent-bench-"))
    app = work / "app.py"
    app.write_text("print('ok')\n")
    try:
        baseline = []
        for _ in range(20):
            t0 = time.perf_counter()
            jid = subprocess.run(
                ["sbatch", "--parsable", "--hold", "-o", "/dev/null", "--wrap", "true"],
                capture_output=True,
                text=True,
                check=True,
            ).stdout.strip()
            baseline.append(time.perf_counter() - t0)
            submitted.append(jid)
        print(f"bare sbatch: p50 {statistics.median(baseline) * 1000:.1f} ms", flush=True)

        latencies = []
        for i in range(N):
            ctx = ctx_for(work, app, "urgent", i)
            t0 = time.perf_counter()
            job_id = pycompss.submit(ctx, {"alpha": str(i)})["TOSCA_JOB_ID"]
            latencies.append(time.perf_counter() - t0)
            submitted.append(job_id)
            if (i + 1) % 10 == 0:
                print(f"{i + 1}/{N} triggers, last {latencies[-1] * 1000:.1f} ms", flush=True)
        subprocess.run(["scancel", *submitted], capture_output=True, check=False)

        # Emergency on a node full of batch jobs.
        blockers = [
            cli.submit(JobSpec(name="batch", script="sleep 300", workdir=str(work)))
            for _ in range(cli.cluster_info().cpus)
        ]
        submitted += blockers
        end = time.monotonic() + 30
        while set(cli.status(blockers).values()) != {JobStatus.RUNNING}:
            if time.monotonic() > end:
                raise SystemExit("batch jobs did not start; is the node busy with other jobs?")
            time.sleep(0.1)
        ectx = ctx_for(work, app, "emergency", 999)
        t0 = time.perf_counter()
        ejob = pycompss.submit(ectx, {})["TOSCA_JOB_ID"]
        t_submit = time.perf_counter() - t0
        submitted.append(ejob)
        while cli.status([ejob])[ejob] not in (JobStatus.RUNNING, JobStatus.COMPLETED):
            if time.perf_counter() - t0 > 60:
                raise SystemExit("emergency job did not start within 60 s")
            time.sleep(0.02)
        to_running = time.perf_counter() - t0
        preempted = cli.preempted_since({b: 0 for b in blockers})
        print(
            f"emergency job {ejob}: submitted in {t_submit * 1000:.1f} ms, RUNNING after "
            f"{to_running:.2f} s, preempted {preempted}",
            flush=True,
        )
    finally:
        if submitted:
            subprocess.run(["scancel", *submitted], capture_output=True, check=False)

    p50, p99 = statistics.median(latencies), pct(latencies, 99)
    result = {
        "benchmark": "urgent_submit",
        "path": "in-process trigger -> native pycompss.submit -> sbatch (no Ansible)",
        "triggers": N,
        "submit_p50_s": round(p50, 4),
        "submit_p99_s": round(p99, 4),
        "target_p50_s": 0.5,
        "target_p99_s": 1.5,
        "meets_targets": p50 <= 0.5 and p99 <= 1.5,
        "baseline_bare_sbatch_p50_s": round(statistics.median(baseline), 4),
        "ratio_to_bare_sbatch_p50": round(p50 / statistics.median(baseline), 2),
        "emergency_submit_to_running_s": round(to_running, 3),
        "emergency_preempted_jobs": len(preempted),
    }
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
