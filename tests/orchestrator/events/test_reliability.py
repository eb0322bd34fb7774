"""The event hooks' reliability on the real parts: triggers go to the real local Slurm,
feeds are served by a separate process, the listener is the real ``tosca events listen``
process (SIGKILLed and restarted).

- 1,000 alerts (agencies, formats, duplicates, updates, stale, malformed): exactly one
  urgent execution, one Slurm job, per real earthquake; every alert accounted for.
- The listener SIGKILLed at 12 points mid-stream (some at exact store transitions), then
  restarted: every message stored once, every earthquake run once, every job run once.
- A feed down for two minutes: the listener backs off, survives and catches up.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from orchestrator.events.listener import Listener
from orchestrator.events.processor import AlertProcessor
from orchestrator.events.rules import load_rules
from orchestrator.events.sources import Backoff, UsgsFeed
from orchestrator.service import Service
from tests.support.feeds import Report, mixed_stream, running_feeds, usgs_feature

ROOT = Path(__file__).resolve().parents[3]

TEMPLATE = """\
tosca_definitions_version: tosca_simple_yaml_1_3
description: Event-hook reliability topology (a PyCOMPSsJob on the local Slurm).
imports:
  - eflows4hpc
topology_template:
  inputs:
    event_file: {{type: string, default: none}}
  node_templates:
    hpc:
      type: eflows4hpc.nodes.Environment
      properties:
        scheduler: slurm
        login_host: localhost
        work_dir: {root}/site
    forecast:
      type: eflows4hpc.nodes.PyCOMPSsJob
      properties:
        application:
          command: {root}/forecast.py
          arguments: [{{get_input: event_file}}]
        submission_params:
          num_nodes: 1
      requirements:
        - environment: hpc
  policies:
    - urgent_forecast:
        type: eflows4hpc.policies.Urgency
        targets: [forecast]
        properties:
          level: urgent
  workflows:
    exec_job:
      inputs:
        event_file: {{type: string, required: false}}
      steps:
        submit:
          target: forecast
          activities:
            - call_operation: Runnable.submit
          on_success: [run]
        run:
          target: forecast
          activities:
            - call_operation: Runnable.run
"""

# The job: one line per run in a shared log, so a job run twice would show.
FORECAST = """\
import sys
with open({log!r}, "a") as out:
    out.write(sys.argv[-1] + "\\n")
"""

RULES = """\
rules:
  - name: med
    deployment: quakes
    urgency: urgent
    magnitude: {min: 6.0}
    region: {min_lat: 30, max_lat: 46, min_lon: -6, max_lon: 37}
    max_age: 1 h
    inputs:
      event_file: $event.file
"""


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    root = tmp_path_factory.mktemp("events-reliability")
    (root / "rules.yaml").write_text(RULES)
    (root / "forecast.py").write_text(FORECAST.format(log=str(root / "runs.log")))
    (root / "quakes.yaml").write_text(TEMPLATE.format(root=root))
    yield root


def deploy(root: Path, workspace: Path) -> Service:
    service = Service(workspace)
    outcome = service.deploy(root / "quakes.yaml", deployment_id="quakes")
    assert outcome.ok, outcome.result
    return service


def wait_final(service: Service, timeout: float = 120.0) -> list[dict]:
    end = time.monotonic() + timeout
    while True:
        runs = [service.execution(e.id) for e in service.list_executions()
                if e.workflow == "exec_job"]  # fmt: skip
        if all(r["status"] in ("succeeded", "failed", "cancelled") for r in runs):
            return runs
        if time.monotonic() > end:
            pytest.fail(f"runs not finished: {[(r['id'], r['status']) for r in runs]}")
        time.sleep(0.2)


def job_ids(run: dict) -> list[str]:
    return [s["job_id"] for s in run["steps"] if s.get("job_id")]


@pytest.mark.integration
@pytest.mark.slurm
def test_a_thousand_alerts_one_run_and_one_job_per_earthquake(site: Path, slurm_jobs) -> None:  # type: ignore[no-untyped-def]
    workspace = site / "ws-replay"
    service = deploy(site, workspace)
    log = site / "runs.log"
    log.unlink(missing_ok=True)
    try:
        payloads, quakes = mixed_stream(1000, 50, time.time())
        proc = AlertProcessor(service, load_rules(site / "rules.yaml"))
        outcomes = [proc.submit("replay", p) for p in payloads]
        assert all(o is not None for o in outcomes)
        for o in outcomes:
            for h in o.handles:
                job = h.wait_job(60)
                assert job is not None
                slurm_jobs.add(job)
        runs = wait_final(service)
        counts = service.store.alert_counts()
        # Nothing lost: every alert in is accepted, merged or dropped with a reason.
        assert sum(counts.values()) == 1000 == len(service.store.alert_messages())
        assert counts["accepted"] == len(quakes) == len(service.store.quakes())
        dropped = [o for o in outcomes if o.outcome == "dropped"]
        assert all(o.reason for o in dropped)
        kinds = {o.reason.split(":")[0].split(" ")[0] for o in dropped}
        assert kinds == {"malformed", "duplicate", "stale"}
        malformed = sum(o.reason.startswith("malformed") for o in dropped)
        assert malformed >= 50  # about a tenth of the stream
        # Exactly one urgent execution, one job, one job run per earthquake.
        assert len(runs) == len(quakes)
        assert {r["urgency"] for r in runs} == {"urgent"}
        assert all(len(job_ids(r)) == 1 for r in runs)
        assert len({j for r in runs for j in job_ids(r)}) == len(quakes)
        lines = log.read_text().splitlines()
        assert len(lines) == len(quakes) == len(set(lines))
    finally:
        service.close()


def _listen(workspace: Path, rules: Path, url: str, kill_after: int | None = None):
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    if kill_after is not None:
        env["TOSCA_TEST_KILL_AFTER_TRANSITIONS"] = str(kill_after)
    argv = [sys.executable, "-m", "orchestrator.cli.main", "events", "listen",
            "--source", f"emsc:{url}", "--rules", str(rules), "--no-policies",
            "--workspace", str(workspace)]  # fmt: skip
    return subprocess.Popen(argv, cwd=ROOT, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)  # fmt: skip


@pytest.mark.integration
@pytest.mark.slurm
@pytest.mark.slow
def test_listener_killed_at_twelve_points_loses_and_doubles_nothing(site: Path) -> None:
    workspace = site / "ws-kill"
    service = deploy(site, workspace)
    service.close()
    log = site / "runs.log"
    log.unlink(missing_ok=True)
    rng = random.Random(11)
    payloads, quakes = mixed_stream(240, 12, time.time(), seed=3)
    batches = [payloads[i::12] for i in range(12)]
    outputs: list[str] = []
    with running_feeds() as feeds:
        published = 0
        for point in range(12):
            for p in batches[point]:
                feeds.publish_emsc(p)
                published += 1
            # Half the kills land on an exact store transition (inside receive, associate,
            # trigger or finish), half at a random moment.
            exact = rng.randint(3, 60) if point % 2 == 0 else None
            listener = _listen(workspace, site / "rules.yaml", feeds.sse_url, exact)
            try:
                listener.wait(timeout=rng.uniform(0.8, 2.5))
            except subprocess.TimeoutExpired:
                listener.send_signal(signal.SIGKILL)
            listener.wait()
            outputs.append(listener.stdout.read() if listener.stdout else "")
            assert listener.returncode == -signal.SIGKILL, outputs[-1]
        # The kills landed mid-stream: most killed listeners had handled some alerts.
        busy = [o for o in outputs if any(x.startswith("#") for x in o.splitlines())]
        assert len(busy) >= 8, outputs
        # A last listener, left alone, catches up; Ctrl-C stops it cleanly.
        listener = _listen(workspace, site / "rules.yaml", feeds.sse_url)
        seen: list[str] = []
        reader = threading.Thread(target=lambda: seen.extend(listener.stdout or []), daemon=True)
        reader.start()
        check = Service(workspace)
        try:
            end = time.monotonic() + 60
            while not any(x.startswith("listening on") for x in seen):
                assert time.monotonic() < end and listener.poll() is None, seen
                time.sleep(0.05)
            end = time.monotonic() + 120
            while time.monotonic() < end:
                messages = check.store.alert_messages()
                if len(messages) == published and all(m.state == "done" for m in messages):
                    break
                time.sleep(0.2)
            runs = wait_final(check)
            listener.send_signal(signal.SIGINT)
            listener.wait(timeout=30)
            reader.join(10)
            out = "".join(seen)
            assert listener.returncode == 0, out
            assert "stopped after" in out and "Traceback" not in out
            messages = check.store.alert_messages()
            # Every message of the stream stored exactly once (its SSE id), all processed.
            deliveries = [m.delivery for m in messages]
            assert len(deliveries) == published == len(set(deliveries))
            assert all(m.state == "done" and m.outcome for m in messages)
            counts = check.store.alert_counts()
            assert sum(counts.values()) == published
            # Every earthquake run once, each job submitted and run once.
            assert len(check.store.quakes()) == len(quakes)
            assert len(runs) == len(quakes)
            assert all(len(job_ids(r)) == 1 for r in runs)
            lines = log.read_text().splitlines()
            assert len(lines) == len(quakes) == len(set(lines))
        finally:
            if listener.poll() is None:
                listener.kill()
            check.close()


@pytest.mark.integration
@pytest.mark.slurm
@pytest.mark.slow
def test_a_feed_down_for_two_minutes_then_back(site: Path, slurm_jobs) -> None:  # type: ignore[no-untyped-def]
    workspace = site / "ws-down"
    service = deploy(site, workspace)
    lines: list[str] = []
    stop = threading.Event()
    now = time.time()
    a = usgs_feature(Report("usA", now - 60, 38.2, 15.6, 10, 7.1))
    b = usgs_feature(Report("usB", now - 30, 36.0, 25.0, 12, 6.8))
    with running_feeds() as feeds:
        feeds.publish_usgs(a)
        feed = UsgsFeed(feeds.usgs_url, poll=0.5, timeout=2.0, log=lines.append,
                        cursor=service.store.cursor, save_cursor=service.store.save_cursor,
                        backoff=Backoff(base=0.5, cap=20.0))  # fmt: skip
        proc = AlertProcessor(service, load_rules(site / "rules.yaml"))
        jobs: list[str] = []
        listener = Listener(proc, [feed], out=lines.append,
                            on_job=lambda o, x, job, s: jobs.append(job or ""))  # fmt: skip
        thread = threading.Thread(target=listener.run, args=(stop,), daemon=True)
        thread.start()
        try:
            end = time.monotonic() + 30
            while not jobs and time.monotonic() < end:
                time.sleep(0.1)
            assert len(jobs) == 1 and jobs[0]
            feeds.kill()  # down: connection refused for two minutes
            time.sleep(120)
            failures = [x for x in lines if "retrying in" in x]
            # Backed off: a poll every 0.5 s would have failed ~240 times.
            assert 4 <= len(failures) <= 20, failures
            assert all("ConnectError" in x for x in failures)
            delays = [float(x.split("retrying in ")[1].split(" s")[0]) for x in failures]
            assert max(delays) > 8
            feeds.start()  # back, with A (unchanged) and a new earthquake B
            feeds.publish_usgs(a)
            feeds.publish_usgs(b)
            end = time.monotonic() + 40
            while len(jobs) < 2 and time.monotonic() < end:
                time.sleep(0.1)
            assert len(jobs) == 2 and all(jobs)
            assert any("back after" in x for x in lines)
            for job in jobs:
                slurm_jobs.add(job)
        finally:
            stop.set()
            thread.join(5)
        assert thread.is_alive() is False
        runs = wait_final(service)
        assert len(runs) == 2  # A was seen again after the outage: not run again
        counts = service.store.alert_counts()
        assert counts == {"accepted": 2}, counts
        assert json.loads(service.store.cursor(feed.name) or "{}").get("etag")
    service.close()
