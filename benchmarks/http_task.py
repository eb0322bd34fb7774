"""``@http`` task overhead and the earthquake chain, against the real seismic services.

1. Per call (the figure with a target): the services (``python -m
   workflows.earthquake.services``, its own uvicorn process on loopback) answer ``GET
   /events/{id}``; 1,000 calls as an ``@http`` task on the task runtime (submit, URL and
   ``produces`` templating, the pooled client, ``compss_wait_on``), one at a time, and 1,000
   bare ``httpx.Client.get`` calls of the same URL, interleaved in blocks of 50 in the same
   run. Target: the task at most 2 ms above the bare call at p50.
2. The whole chain on the demo's defaults (the Messina alert, 8 scenarios, 1800 s): the
   earthquake workflow run as a user runs it (``python -m workflows.runtime
   workflows.earthquake.workflow``), from its start to the first preliminary forecast line
   and to the end (numba's cache warmed by a first run, not timed).

Last output line: one JSON object.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from urgent_submit import pct

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the services helper lives with the tests

from tests.support.seismic_services import start_services  # noqa: E402

N = 1000
BLOCK = 50


def per_call(url: str, event_id: str) -> tuple[list[float], list[float]]:
    from workflows.runtime import (
        RuntimeConfig,
        compss_wait_on,
        http,
        start_runtime,
        stop_runtime,
        task,
    )

    @http(service_name="svc", request="GET", resource="events/{{event_id}}",
          produces='{"event": {"magnitude": "{{return_0}}"}}')  # fmt: skip
    @task(returns=1)
    def magnitude(event_id: str) -> float: ...

    start_runtime(RuntimeConfig(cpus=2, http_services={"svc": {"base_url": url}}))
    tasks, bare = [], []
    try:
        with httpx.Client() as client:
            for _ in range(5):  # warm both paths (connections, first import)
                compss_wait_on(magnitude(event_id))
                client.get(f"{url}/events/{event_id}").json()
            for _block in range(N // BLOCK):
                for _ in range(BLOCK):
                    t0 = time.perf_counter()
                    value = compss_wait_on(magnitude(event_id))
                    tasks.append(time.perf_counter() - t0)
                    assert value == 7.0
                for _ in range(BLOCK):
                    t0 = time.perf_counter()
                    body = client.get(f"{url}/events/{event_id}").json()
                    bare.append(time.perf_counter() - t0)
                    assert body["event"]["magnitude"] == 7.0
    finally:
        stop_runtime(wait=False)
    return tasks, bare


def chain(url: str, work: Path) -> dict[str, float]:
    alert = ROOT / "examples" / "events" / "messina_m7.json"
    argv = [sys.executable, "-m", "workflows.runtime", "workflows.earthquake.workflow",
            "--event", str(alert), "--services", url,
            "--scenarios", "8", "--duration", "1800"]  # fmt: skip
    subprocess.run(argv + ["--output", str(work / "warm")], cwd=ROOT, capture_output=True,
                   check=True, timeout=600)  # fmt: skip
    t0 = time.perf_counter()
    proc = subprocess.Popen(argv + ["--output", str(work / "timed")], cwd=ROOT,
                            stdout=subprocess.PIPE, text=True)  # fmt: skip
    first = None
    assert proc.stdout is not None
    for line in proc.stdout:
        if first is None and "preliminary forecast 1/" in line:
            first = time.perf_counter() - t0
    proc.wait(timeout=600)
    total = time.perf_counter() - t0
    if proc.returncode != 0 or first is None:
        raise SystemExit(f"the earthquake workflow failed ({proc.returncode})")
    return {"first_preliminary_s": round(first, 2), "final_s": round(total, 2)}


def main() -> int:
    work = Path(tempfile.mkdtemp(prefix="http-bench-"))
    svc = start_services(work / "state", work / "faults.json")
    try:
        alert = (ROOT / "examples" / "events" / "messina_m7.json").read_text()
        event_id = httpx.post(svc.url + "/events", content=alert, timeout=10).json()["event_id"]
        tasks, bare = per_call(svc.url, event_id)
        t50, b50 = statistics.median(tasks), statistics.median(bare)
        print(f"@http task: p50 {t50 * 1e3:.2f} ms, p99 {pct(tasks, 99) * 1e3:.2f} ms; "
              f"bare httpx: p50 {b50 * 1e3:.2f} ms, p99 {pct(bare, 99) * 1e3:.2f} ms; "
              f"overhead p50 {(t50 - b50) * 1e3:.2f} ms", flush=True)  # fmt: skip
        whole = chain(svc.url, work)
        print(f"alert -> first preliminary forecast {whole['first_preliminary_s']} s, "
              f"-> final products {whole['final_s']} s", flush=True)  # fmt: skip
    finally:
        svc.proc.kill()
        svc.proc.wait()
    result = {
        "calls": N,
        "http_task_p50_ms": round(t50 * 1e3, 3),
        "http_task_p99_ms": round(pct(tasks, 99) * 1e3, 3),
        "bare_httpx_p50_ms": round(b50 * 1e3, 3),
        "bare_httpx_p99_ms": round(pct(bare, 99) * 1e3, 3),
        "overhead_p50_ms": round((t50 - b50) * 1e3, 3),
        "target_overhead_p50_ms": 2.0,
        "met": (t50 - b50) * 1e3 <= 2.0,
        "chain_messina_8_scenarios": whole,
    }
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
