"""Event hooks: from an alert received by the listener to the Slurm job id, on the real local
Slurm (scripts/slurm-up.sh must be running), beside a bare ``sbatch`` in the same run.

1. Baseline: 50 bare ``sbatch --parsable --hold --wrap true`` (the floor any tool pays).
2. Listener (the headline figure): the urgent_submit topology (a PyCOMPSsJob on the Slurm
   site, Urgency policy ``urgent``) deployed once, a rules file pointing at it, and the
   in-process ``Listener`` on an EMSC-style server-sent-event stream served by a separate
   process. 50 distinct earthquakes are published one at a time; for each, the time from
   the listener receiving the message (before it is stored) to the recorded job id (after
   message stored, parsed, associated, matched, execution recorded under its idempotency
   key, engine, sbatch). Each job is cancelled before the next event.
   Targets: p50 <= 100 ms, p99 <= 500 ms.
3. Polling: a USGS feed polled every 1, 2 and 5 s; 6 events per interval published at
   random moments; the time from the feed publishing an event to its job id. Expected about
   interval/2 + the listener latency (a poll's wait is uniform over the interval).

Last output line: one JSON object.
"""

from __future__ import annotations

import json
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from urgent_submit import TEMPLATE, ms, pct

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the feed server and alert builders live with the tests

from tests.support.feeds import Report, emsc_message, running_feeds, usgs_feature  # noqa: E402

N = 50
WARMUP = 3
POLL_INTERVALS = (1.0, 2.0, 5.0)
PER_INTERVAL = 6

RULES = """\
rules:
  - name: bench
    deployment: bench
    urgency: urgent
    magnitude: {min: 6.0}
    max_age: 1 h
"""


def bare_sbatch(submitted: list[str]) -> list[float]:
    times = []
    for _ in range(N):
        t0 = time.perf_counter()
        jid = subprocess.run(
            ["sbatch", "--parsable", "--hold", "-o", "/dev/null", "--wrap", "true"],
            capture_output=True, text=True, check=True, timeout=30,
        ).stdout.strip()  # fmt: skip
        times.append(time.perf_counter() - t0)
        submitted.append(jid.split(";")[0])
    return times


def quake(i: int) -> Report:
    """Distinct earthquakes: 300 km apart, so none is associated with another."""
    return Report(f"bench{i:04d}-{random.randrange(10**6)}", time.time() - 30,
                  -60 + (i % 40) * 3.0, -170 + (i // 40) * 20.0, 10, 7.0)  # fmt: skip


class Jobs:
    """Collects the listener's job callbacks."""

    def __init__(self) -> None:
        self.cond = threading.Condition()
        self.got: list[tuple[str | None, float, float]] = []  # job, seconds, wall time

    def __call__(self, outcome: Any, execution: str, job: str | None, seconds: float) -> None:
        with self.cond:
            self.got.append((job, seconds, time.time()))
            self.cond.notify_all()

    def wait(self, count: int, timeout: float = 30.0) -> tuple[str | None, float, float]:
        with self.cond:
            if not self.cond.wait_for(lambda: len(self.got) >= count, timeout):
                raise SystemExit(f"no job id within {timeout} s for event {count}")
            return self.got[count - 1]


def listener_latency(service: Any, rules: Any, submitted: list[str]) -> list[float]:
    from orchestrator.events.listener import Listener
    from orchestrator.events.processor import AlertProcessor
    from orchestrator.events.sources import EmscStream

    jobs = Jobs()
    with running_feeds() as feeds:
        stream = EmscStream(feeds.sse_url, log=lambda line: None, cursor=service.store.cursor)
        listener = Listener(AlertProcessor(service, rules, policies=False), [stream],
                            out=lambda line: None, on_job=jobs)  # fmt: skip
        stop = threading.Event()
        thread = threading.Thread(target=listener.run, args=(stop,), daemon=True)
        thread.start()
        time.sleep(1.0)  # connected
        latencies = []
        for i in range(WARMUP + N):
            feeds.publish_emsc(emsc_message(quake(i)))
            job, seconds, _ = jobs.wait(i + 1)
            if job is None:
                raise SystemExit(f"event {i}: the run ended without a job")
            submitted.append(job)
            subprocess.run(["scancel", job], capture_output=True, check=False, timeout=30)
            if i >= WARMUP:
                latencies.append(seconds)
        stop.set()
        stream.close()
        thread.join(5)
    return latencies


def polling_latency(service: Any, rules: Any, submitted: list[str]) -> dict[str, list[float]]:
    from orchestrator.events.listener import Listener
    from orchestrator.events.processor import AlertProcessor
    from orchestrator.events.sources import UsgsFeed

    results: dict[str, list[float]] = {}
    offset = 1000
    rng = random.Random(5)
    for interval in POLL_INTERVALS:
        jobs = Jobs()
        with running_feeds() as feeds:
            store = service.store
            feed = UsgsFeed(feeds.usgs_url, poll=interval, log=lambda line: None,
                            cursor=store.cursor, save_cursor=store.save_cursor)  # fmt: skip
            listener = Listener(AlertProcessor(service, rules, policies=False), [feed],
                                out=lambda line: None, on_job=jobs)  # fmt: skip
            stop = threading.Event()
            thread = threading.Thread(target=listener.run, args=(stop,), daemon=True)
            thread.start()
            time.sleep(interval + 0.5)
            values = []
            for k in range(PER_INTERVAL):
                time.sleep(rng.uniform(0, interval))
                published = feeds.publish_usgs(usgs_feature(quake(offset)))
                offset += 1
                job, _seconds, wall = jobs.wait(k + 1, timeout=interval * 3 + 30)
                if job is not None:
                    submitted.append(job)
                    subprocess.run(["scancel", job], capture_output=True, check=False, timeout=30)
                values.append(wall - published)
            stop.set()
            thread.join(interval + 5)
        results[f"{interval:g}s"] = values
        median = statistics.median(values)
        print(f"poll every {interval:g} s: publish -> job id median {median:.2f} s "
              f"(max {max(values):.2f} s)", flush=True)  # fmt: skip
    return results


def main() -> int:
    ping = subprocess.run(["scontrol", "ping"], capture_output=True, text=True, timeout=30)
    if "is UP" not in ping.stdout:
        print("Slurm is not running: start it with scripts/slurm-up.sh", file=sys.stderr)
        return 1
    from orchestrator.events.rules import parse_rules
    from orchestrator.service import Service

    submitted: list[str] = []
    work = Path(tempfile.mkdtemp(prefix="event-bench-"))
    app = work / "app.py"
    app.write_text("print('ok')\n")
    template = work / "urgent.yaml"
    template.write_text(TEMPLATE.format(work_dir=work / "site", app=app))
    rules = parse_rules(RULES)
    service = Service(work / "ws")
    try:
        baseline = bare_sbatch(submitted)
        print(f"bare sbatch ({N}): {ms(baseline)}", flush=True)
        deployed = service.deploy(template, deployment_id="bench")
        if not deployed.ok:
            raise SystemExit(f"deploy failed: {deployed.status} {deployed.result}")
        latencies = listener_latency(service, rules, submitted)
        print(f"alert received -> job id ({N} events): {ms(latencies)}", flush=True)
        polling = polling_latency(service, rules, submitted)
    finally:
        if submitted:
            subprocess.run(["scancel", *submitted], capture_output=True, check=False, timeout=60)
        service.close()
    p50, p99 = statistics.median(latencies), pct(latencies, 99)
    base50 = statistics.median(baseline)
    result = {
        "events": N,
        "path": "SSE message -> store -> parse -> associate -> rules -> start_workflow -> sbatch",
        "alert_to_job_p50_s": round(p50, 4),
        "alert_to_job_p99_s": round(p99, 4),
        "target_p50_s": 0.1,
        "target_p99_s": 0.5,
        "met": p50 <= 0.1 and p99 <= 0.5,
        "baseline_bare_sbatch_p50_s": round(base50, 4),
        "baseline_bare_sbatch_p99_s": round(pct(baseline, 99), 4),
        "ratio_to_bare_sbatch_p50": round(p50 / base50, 2),
        "publish_to_job_median_s_by_poll_interval": {
            k: round(statistics.median(v), 3) for k, v in polling.items()
        },
    }
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
