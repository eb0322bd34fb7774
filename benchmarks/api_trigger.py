"""Trigger latency through the REST API against the in-process trigger, on the real local Slurm
(scripts/slurm-up.sh must be running).

A small template (Slurm site, a PyCOMPSsJob running a trivial app, an ``Urgency`` policy at
``urgent``, workflow ``exec_job`` exposed by ``hpcwaas-workflows``) is deployed once into a
fresh workspace. ``tosca serve`` runs over that workspace as its own process, as an operator
runs it (rate limit raised out of the way). Then, in the same run:

1. One at a time, interleaved (the clean comparison; the target): a trigger through
   ``POST /workflows/{id}`` timed to the ``201``, and to the Slurm job id (``?wait_job=30``);
   and the same trigger in-process, ``Service.trigger_as`` (what the server calls) timed to
   its return and to ``WorkflowRun.wait_job``. Each execution is cancelled before the next.
2. 200 concurrent triggers each way (an async httpx client; 200 threads in-process): no error
   allowed, p50 / p99 of trigger -> 201 and trigger -> job id, and the wall time of the burst.

Target: HTTP adds at most 10 ms at p50 over the in-process trigger (phase 1, trigger -> job
id). Every execution is cancelled and every job scancelled at the end. Last line: one JSON
object.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
from urgent_submit import TEMPLATE as URGENT_TEMPLATE
from urgent_submit import ms, pct

N_SEQUENTIAL = 40
N_CONCURRENT = 200
WARMUP = 3
TARGET_ADDED_P50_S = 0.010

# urgent_submit's template, its workflow exposed to the REST API.
TEMPLATE = URGENT_TEMPLATE.replace(
    "imports:\n", "metadata:\n  template_name: bench\n  hpcwaas-workflows: exec_job\nimports:\n", 1
)

WORKFLOW_ID = "bench@bench@exec_job"
FINAL = {"SUCCEEDED", "FAILED", "CANCELLED"}
SUBMITTED: list[str] = []  # every job id seen, scancelled at the end


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_server(workspace: Path, port: int, log: Path) -> subprocess.Popen[bytes]:
    limits = ["--rate", "100000", "--burst", "100000"]  # out of the way
    cmd = [sys.executable, "-m", "orchestrator.cli.main", "serve"]
    cmd += ["--workspace", str(workspace), "--port", str(port), *limits]
    proc = subprocess.Popen(cmd, stdout=log.open("wb"), stderr=subprocess.STDOUT)
    end = time.monotonic() + 60
    while time.monotonic() < end:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            time.sleep(0.1)
        if proc.poll() is not None:
            break
    proc.kill()
    raise SystemExit(f"tosca serve did not start; see {log}")


def http_trigger(client: httpx.Client, wait_job: bool) -> tuple[float, str, str | None]:
    t0 = time.perf_counter()
    params = {"wait_job": "30"} if wait_job else {}
    response = client.post(f"/workflows/{WORKFLOW_ID}", json={"inputs": {}}, params=params)
    elapsed = time.perf_counter() - t0
    if response.status_code != 201:
        raise SystemExit(f"trigger answered {response.status_code}: {response.text}")
    body = response.json()
    return elapsed, body["id"], body.get("job_id")


def sequential(service: Any, who: Any, client: httpx.Client) -> dict[str, list[float]]:
    out: dict[str, list[float]] = {
        "http_201": [],
        "http_job": [],
        "inproc_ret": [],
        "inproc_job": [],
    }
    for i in range(WARMUP + N_SEQUENTIAL):
        keep = i >= WARMUP
        # HTTP: 201 alone, then a second trigger waiting for the job id.
        t_201, eid, _ = http_trigger(client, wait_job=False)
        wait_until_job(service, eid)
        client.delete(f"/executions/{eid}")
        wait_final(client, eid)  # each trigger meets an idle server
        t_job, eid2, job = http_trigger(client, wait_job=True)
        if job is None:
            raise SystemExit(f"HTTP trigger {eid2}: no job id")
        SUBMITTED.append(job)
        client.delete(f"/executions/{eid2}")
        wait_final(client, eid2)  # the server idle again before the in-process trigger
        # In-process, the same calls the server makes.
        t0 = time.perf_counter()
        run = service.trigger_as(who, WORKFLOW_ID, {})
        t_ret = time.perf_counter() - t0
        job = run.wait_job(timeout=30)
        t_ijob = time.perf_counter() - t0
        if job is None:
            raise SystemExit(f"in-process trigger {run.execution_id}: no job id")
        SUBMITTED.append(job)
        run.cancel()
        run.wait(60)
        if keep:
            out["http_201"].append(t_201)
            out["http_job"].append(t_job)
            out["inproc_ret"].append(t_ret)
            out["inproc_job"].append(t_ijob)
    return out


def wait_until_job(service: Any, execution_id: str, timeout: float = 30) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        steps = service.execution(execution_id).get("steps", [])
        if any(s.get("job_id") for s in steps):
            return
        time.sleep(0.01)


def wait_final(client: httpx.Client, execution_id: str, timeout: float = 120) -> str:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        status = client.get(f"/executions/{execution_id}").json()["status"]
        if status in FINAL:
            return str(status)
        time.sleep(0.05)
    raise SystemExit(f"execution {execution_id} did not end")


async def http_burst(base: str, token: str) -> tuple[list[float], list[float], list[str], float]:
    limits = httpx.Limits(max_connections=N_CONCURRENT + 10, max_keepalive_connections=N_CONCURRENT)
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=base, headers=headers, limits=limits, timeout=120) as ac:

        async def one(wait_job: bool) -> tuple[float, str, str | None, int]:
            t0 = time.perf_counter()
            params = {"wait_job": "60"} if wait_job else {}
            r = await ac.post(f"/workflows/{WORKFLOW_ID}", json={"inputs": {}}, params=params)
            body = r.json() if r.status_code == 201 else {}
            return time.perf_counter() - t0, body.get("id", ""), body.get("job_id"), r.status_code

        t0 = time.perf_counter()
        # Half of the burst times the 201, half the job id: 200 triggers in flight at once.
        results = await asyncio.gather(*(one(k % 2 == 1) for k in range(N_CONCURRENT)))
        wall = time.perf_counter() - t0
    errors = [f"{code}" for (_, _, _, code) in results if code != 201]
    if errors:
        raise SystemExit(f"HTTP burst: {len(errors)} errors ({sorted(set(errors))})")
    missing = [r[1] for k, r in enumerate(results) if k % 2 and not r[2]]
    if missing:
        raise SystemExit(f"HTTP burst: {len(missing)} triggers without a job id")
    SUBMITTED.extend(str(r[2]) for r in results if r[2])
    t201 = [r[0] for k, r in enumerate(results) if k % 2 == 0]
    tjob = [r[0] for k, r in enumerate(results) if k % 2 == 1]
    return t201, tjob, [r[1] for r in results], wall


def inproc_burst(service: Any, who: Any) -> tuple[list[float], list[float], list[Any], float]:
    def one(k: int) -> tuple[float, Any]:
        t0 = time.perf_counter()
        run = service.trigger_as(who, WORKFLOW_ID, {})
        if k % 2 == 1:
            job = run.wait_job(timeout=180)
            if job is None:
                raise SystemExit(f"in-process burst: {run.execution_id} without a job id")
            SUBMITTED.append(job)
        return time.perf_counter() - t0, run

    t0 = time.perf_counter()
    with ThreadPoolExecutor(N_CONCURRENT) as pool:
        results = list(pool.map(one, range(N_CONCURRENT)))
    wall = time.perf_counter() - t0
    t_ret = [r[0] for k, r in enumerate(results) if k % 2 == 0]
    t_job = [r[0] for k, r in enumerate(results) if k % 2 == 1]
    return t_ret, t_job, [r[1] for r in results], wall


def main() -> int:
    ping = subprocess.run(["scontrol", "ping"], capture_output=True, text=True, timeout=30)
    if "is UP" not in ping.stdout:
        print("Slurm is not running: start it with scripts/slurm-up.sh", file=sys.stderr)
        return 1
    from orchestrator.service import Principal, Service

    work = Path(tempfile.mkdtemp(prefix="api-bench-"))
    app = work / "app.py"
    app.write_text("print('ok')\n")
    template = work / "bench.yaml"
    template.write_text(TEMPLATE.format(work_dir=work / "site", app=app))
    service = Service(work / "ws")
    server: subprocess.Popen[bytes] | None = None
    try:
        deployed = service.deploy(template, deployment_id="bench")
        if not deployed.ok:
            raise SystemExit(f"deploy failed: {deployed.status} {deployed.result}")
        _, token = service.create_token("bench")
        who = Principal("bench", "user")
        port = free_port()
        server = start_server(work / "ws", port, work / "serve.log")
        base = f"http://127.0.0.1:{port}"
        headers = {"Authorization": f"Bearer {token}"}
        with httpx.Client(base_url=base, headers=headers, timeout=120) as client:
            seq = sequential(service, who, client)
            print(f"one at a time ({N_SEQUENTIAL} each way, interleaved):")
            print(f"  HTTP trigger -> 201:          {ms(seq['http_201'])}")
            print(f"  HTTP trigger -> job id:       {ms(seq['http_job'])}")
            print(f"  in-process trigger returns:   {ms(seq['inproc_ret'])}")
            print(f"  in-process trigger -> job id: {ms(seq['inproc_job'])}", flush=True)

            if "--sequential-only" in sys.argv:
                return 0
            h201, hjob, http_ids, http_wall = asyncio.run(http_burst(base, token))
            print(f"{N_CONCURRENT} concurrent HTTP triggers in {http_wall:.2f} s: -> 201 "
                  f"{ms(h201)}; -> job id {ms(hjob)}", flush=True)  # fmt: skip
            for eid in http_ids:
                client.delete(f"/executions/{eid}")
            for eid in http_ids:
                wait_final(client, eid)
            iret, ijob, runs, in_wall = inproc_burst(service, who)
            print(f"{N_CONCURRENT} concurrent in-process triggers in {in_wall:.2f} s: returns "
                  f"{ms(iret)}; -> job id {ms(ijob)}", flush=True)  # fmt: skip
            for run in runs:
                run.cancel()
            for run in runs:
                run.wait(300)
    finally:
        if server is not None:
            server.terminate()
            server.wait(30)
        if SUBMITTED:
            subprocess.run(["scancel", *SUBMITTED], capture_output=True, check=False, timeout=60)
        service.close()

    added = statistics.median(seq["http_job"]) - statistics.median(seq["inproc_job"])
    added_201 = statistics.median(seq["http_201"]) - statistics.median(seq["inproc_ret"])
    print(
        f"target: HTTP adds <= {TARGET_ADDED_P50_S * 1000:.0f} ms at p50 (got "
        f"{added * 1000:.1f} ms to the job id, {added_201 * 1000:.1f} ms to the 201)"
    )
    r4 = lambda v: round(v, 4)  # noqa: E731
    result = {
        "benchmark": "api_trigger",
        "path": "POST /workflows/{id} on tosca serve (own process) vs Service.trigger_as",
        "sequential_triggers": N_SEQUENTIAL,
        "http_201_p50_s": r4(statistics.median(seq["http_201"])),
        "http_job_p50_s": r4(statistics.median(seq["http_job"])),
        "http_job_p99_s": r4(pct(seq["http_job"], 99)),
        "inproc_return_p50_s": r4(statistics.median(seq["inproc_ret"])),
        "inproc_job_p50_s": r4(statistics.median(seq["inproc_job"])),
        "inproc_job_p99_s": r4(pct(seq["inproc_job"], 99)),
        "http_added_p50_s": r4(added),
        "http_added_201_p50_s": r4(added_201),
        "target_added_p50_s": TARGET_ADDED_P50_S,
        "meets_target": added <= TARGET_ADDED_P50_S,
        "concurrent_triggers": N_CONCURRENT,
        "concurrent_errors": 0,
        "concurrent_http_201_p50_s": r4(statistics.median(h201)),
        "concurrent_http_201_p99_s": r4(pct(h201, 99)),
        "concurrent_http_job_p50_s": r4(statistics.median(hjob)),
        "concurrent_http_job_p99_s": r4(pct(hjob, 99)),
        "concurrent_http_wall_s": round(http_wall, 3),
        "concurrent_inproc_return_p50_s": r4(statistics.median(iret)),
        "concurrent_inproc_return_p99_s": r4(pct(iret, 99)),
        "concurrent_inproc_job_p50_s": r4(statistics.median(ijob)),
        "concurrent_inproc_job_p99_s": r4(pct(ijob, 99)),
        "concurrent_inproc_wall_s": round(in_wall, 3),
        "load_average_1m": round(os.getloadavg()[0], 2),
        "cpus": os.cpu_count(),
    }
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
