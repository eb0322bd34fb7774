"""Urgent submit latency on the real local Slurm (scripts/slurm-up.sh must be running).

1. Through the service (the headline figure): a small template (a Slurm site, a PyCOMPSsJob
   running a trivial app, an ``eflows4hpc.policies.Urgency`` policy at ``urgent``, a custom
   workflow ``exec_job`` submit -> run) is deployed once into a fresh workspace; then 50
   triggers, each an in-process ``Service.start_workflow`` call (what a running orchestrator
   does on an alert: record the execution, plan, run the engine in a thread) timed until
   ``WorkflowRun.wait_job`` returns the job id Slurm gave (recorded in the state store). No
   Ansible on this path. Each execution is then cancelled (its job scancelled) before the
   next trigger. Targets: p50 <= 0.5 s, p99 <= 1.5 s.
2. Direct native (secondary): the same submit without the service and engine, a NativeContext
   and ``orchestrator.executors.native.pycompss.submit`` (scheduler choice, job building,
   urgency mapping, preemption snapshot, ``sbatch``).
3. Baseline in the same run: one bare ``sbatch --parsable`` (the floor any tool pays).
4. Emergency on a full node: the node's CPUs filled with batch jobs, then an emergency
   execution through the service; time from the trigger call to the job RUNNING (squeue
   polled every 20 ms), and the jobs it preempted (requeued).

Every job submitted is cancelled at the end. Last output line: one JSON object.
"""

from __future__ import annotations

import json
import os
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
WARMUP = 2

TEMPLATE = """\
tosca_definitions_version: tosca_simple_yaml_1_3
description: Urgent-submit benchmark, a PyCOMPSsJob on the local Slurm.
imports:
  - eflows4hpc
topology_template:
  node_templates:
    site:
      type: eflows4hpc.nodes.Environment
      properties:
        scheduler: slurm
        login_host: localhost
        work_dir: {work_dir}
    job:
      type: eflows4hpc.nodes.PyCOMPSsJob
      properties:
        application:
          command: {app}
        submission_params:
          num_nodes: 1
      requirements:
        - environment: site
  policies:
    - urgent_job:
        type: eflows4hpc.policies.Urgency
        targets: [job]
        properties:
          level: urgent
  workflows:
    exec_job:
      steps:
        submit:
          target: job
          activities:
            - call_operation: Runnable.submit
          on_success: [run]
        run:
          target: job
          activities:
            - call_operation: Runnable.run
"""


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
        "workspace": str(work / "ws-native"),
        "urgency": urgency,
        "idempotency_token": f"bench-{i:04d}:job.Runnable.submit:1",
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


def ms(values: list[float]) -> str:
    return f"p50 {statistics.median(values) * 1000:.1f} ms, p99 {pct(values, 99) * 1000:.1f} ms"


def bare_sbatch(submitted: list[str]) -> list[float]:
    baseline = []
    for _ in range(20):
        t0 = time.perf_counter()
        jid = subprocess.run(
            ["sbatch", "--parsable", "--hold", "-o", "/dev/null", "--wrap", "true"],
            capture_output=True,
            text=True,
            check=True,
            timeout=30,
        ).stdout.strip()
        baseline.append(time.perf_counter() - t0)
        submitted.append(jid)
    return baseline


def through_service(service: Any, submitted: list[str]) -> tuple[list[float], list[float]]:
    """(warm-up latencies, measured latencies) of trigger -> recorded job id."""
    warm, measured = [], []
    for i in range(WARMUP + N):
        t0 = time.perf_counter()
        run = service.start_workflow("exec_job", {}, deployment_id="bench")
        job_id = run.wait_job(timeout=30)
        elapsed = time.perf_counter() - t0
        if job_id is None:
            outcome = run.wait(60)
            raise SystemExit(f"trigger {i}: no job id ({outcome.status}: {outcome.result})")
        submitted.append(job_id)
        (warm if i < WARMUP else measured).append(elapsed)
        run.cancel()  # scancels the job; the execution ends 'cancelled'
        run.wait(60)
        k = i + 1 - WARMUP
        if k > 0 and k % 10 == 0:
            print(f"  {k}/{N} triggers, last {elapsed * 1000:.1f} ms (job {job_id})", flush=True)
    return warm, measured


def direct_native(work: Path, app: Path, submitted: list[str]) -> list[float]:
    latencies = []
    for i in range(N):
        ctx = ctx_for(work, app, "urgent", i)
        t0 = time.perf_counter()
        job_id = pycompss.submit(ctx, {"alpha": str(i)})["TOSCA_JOB_ID"]
        latencies.append(time.perf_counter() - t0)
        submitted.append(job_id)
        # Same conditions as the service path: the job leaves before the next trigger.
        subprocess.run(["scancel", job_id], capture_output=True, check=False, timeout=30)
    return latencies


def emergency(service: Any, cli: SlurmCLI, work: Path, submitted: list[str]) -> dict[str, Any]:
    """Fill the node with batch jobs, trigger an emergency execution, time it to RUNNING."""
    body = 'if [ "${SLURM_RESTART_COUNT:-0}" -gt 0 ]; then sleep 1; else sleep 300; fi'
    blockers = [
        cli.submit(JobSpec(name="batch", script=body, workdir=str(work), partition="batch"))
        for _ in range(cli.cluster_info().cpus)
    ]
    submitted += blockers
    end = time.monotonic() + 60
    while set(cli.status(blockers).values()) != {JobStatus.RUNNING}:
        if time.monotonic() > end:
            raise SystemExit("batch jobs did not start; is the node busy with other jobs?")
        time.sleep(0.1)
    t0 = time.perf_counter()
    run = service.start_workflow("exec_job", {}, deployment_id="bench", urgency="emergency")
    ejob = run.wait_job(timeout=30)
    t_submit = time.perf_counter() - t0
    if ejob is None:
        raise SystemExit(f"emergency trigger: no job id ({run.wait(60).status})")
    submitted.append(ejob)
    while cli.status([ejob])[ejob] not in (JobStatus.RUNNING, JobStatus.COMPLETED):
        if time.perf_counter() - t0 > 60:
            raise SystemExit("emergency job did not start within 60 s")
        time.sleep(0.02)
    to_running = time.perf_counter() - t0
    outcome = run.wait(120)
    preempted = cli.preempted_since({b: 0 for b in blockers})
    print(
        f"emergency job {ejob}: job id after {t_submit * 1000:.1f} ms, RUNNING after "
        f"{to_running:.2f} s, execution {outcome.status}, preempted {preempted}",
        flush=True,
    )
    return {
        "emergency_trigger_to_job_id_s": round(t_submit, 4),
        "emergency_submit_to_running_s": round(to_running, 3),
        "emergency_preempted_jobs": len(preempted),
        "emergency_execution_status": outcome.status,
    }


def main() -> int:
    ping = subprocess.run(["scontrol", "ping"], capture_output=True, text=True, timeout=30)
    if "is UP" not in ping.stdout:
        print("Slurm is not running: start it with scripts/slurm-up.sh", file=sys.stderr)
        return 1
    from orchestrator.service import Service

    cli = SlurmCLI()
    submitted: list[str] = []
    work = Path(tempfile.mkdtemp(prefix="urgent-bench-"))
    app = work / "app.py"
    app.write_text("print('ok')\n")
    template = work / "urgent.yaml"
    template.write_text(TEMPLATE.format(work_dir=work / "site", app=app))
    service = Service(work / "ws")
    try:
        baseline = bare_sbatch(submitted)
        print(f"bare sbatch: {ms(baseline)}", flush=True)
        t0 = time.perf_counter()
        deployed = service.deploy(template, deployment_id="bench")
        if not deployed.ok:
            raise SystemExit(f"deploy failed: {deployed.status} {deployed.result}")
        print(f"deployed once in {time.perf_counter() - t0:.2f} s", flush=True)
        warm, latencies = through_service(service, submitted)
        print(f"through the service ({N} triggers): {ms(latencies)}; warm-up {ms(warm)}")
        native = direct_native(work, app, submitted)
        print(f"direct native submit ({N}): {ms(native)}", flush=True)
        urgent = emergency(service, cli, work, submitted)
    finally:
        if submitted:
            subprocess.run(["scancel", *submitted], capture_output=True, check=False, timeout=60)
        service.close()

    p50, p99 = statistics.median(latencies), pct(latencies, 99)
    base50 = statistics.median(baseline)
    print(f"targets: p50 <= 0.5 s (got {p50:.3f} s), p99 <= 1.5 s (got {p99:.3f} s)")
    result = {
        "benchmark": "urgent_submit",
        "path": "in-process Service.start_workflow -> engine -> native pycompss.submit -> sbatch"
        " -> job id recorded (no Ansible)",
        "triggers": N,
        "submit_p50_s": round(p50, 4),
        "submit_p99_s": round(p99, 4),
        "target_p50_s": 0.5,
        "target_p99_s": 1.5,
        "meets_targets": p50 <= 0.5 and p99 <= 1.5,
        "direct_native_p50_s": round(statistics.median(native), 4),
        "direct_native_p99_s": round(pct(native, 99), 4),
        "baseline_bare_sbatch_p50_s": round(base50, 4),
        "ratio_to_bare_sbatch_p50": round(p50 / base50, 2),
        **urgent,
        "load_average_1m": round(os.getloadavg()[0], 2),
        "cpus": os.cpu_count(),
    }
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
