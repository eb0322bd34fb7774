"""The alert processor over a real workspace store and engine, with fake jobs (fast): one
earthquake from many agencies is one run; updates refine, rerun or are ignored as the rule
says; everything dropped says why; a restart at any step neither loses nor doubles."""

from __future__ import annotations

import itertools
import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from orchestrator.events.processor import AlertProcessor
from orchestrator.events.rules import parse_rules
from orchestrator.executors.fake import FakeExecutor
from orchestrator.service import Service
from tests.support.feeds import MALFORMED, Report, emsc_message, quakeml, ucis4eq, usgs_feature

TEMPLATE = """\
tosca_definitions_version: tosca_simple_yaml_1_3
node_types:
  test.nodes.Job:
    derived_from: tosca.nodes.Root
    interfaces:
      Runnable:
        type: tosca.interfaces.node.lifecycle.Runnable
        submit: native://orchestrator.executors.fake:submit
        run: native://orchestrator.executors.fake:run
topology_template:
  node_templates:
    job:
      type: test.nodes.Job
  workflows:
    exec_job:
      inputs:
        event_file: {type: string, required: false}
        magnitude: {type: float, required: false}
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

RULES = """\
rules:
  - name: med
    deployment: d
    urgency: urgent
    magnitude: {{min: 6.5}}
    region: {{min_lat: 30, max_lat: 46, min_lon: -6, max_lon: 37}}
    on_update: {on_update}
    max_reruns: 1
    inputs:
      event_file: $event.file
      magnitude: $event.magnitude
"""


def _service(workspace: Path, template: Path) -> Service:
    ids = itertools.count(100)
    fake = FakeExecutor({
        "native://orchestrator.executors.fake:submit": lambda r: {"TOSCA_JOB_ID": str(next(ids))},
        "native://orchestrator.executors.fake:run": lambda r: {"TOSCA_JOB_STATUS": "COMPLETED"},
    })  # fmt: skip
    return Service(workspace, executors=lambda model: {"native": fake})


@pytest.fixture
def deployed(tmp_path: Path) -> Iterator[tuple[Service, Path]]:
    template = tmp_path / "job.yaml"
    template.write_text(TEMPLATE)
    service = _service(tmp_path / "ws", template)
    assert service.deploy(template, deployment_id="d").ok
    try:
        yield service, template
    finally:
        service.close()


def processor(service: Service, on_update: str = "refine") -> AlertProcessor:
    return AlertProcessor(service, parse_rules(RULES.format(on_update=on_update)))


NOW = time.time()
QUAKE = Report("us7000abcd", NOW - 120, 38.2, 15.6, 10.0, 6.9, updated=NOW - 100)


def runs_of(service: Service) -> list[dict]:
    return [e for e in (service.execution(x.id) for x in service.list_executions())
            if e["workflow"] == "exec_job"]  # fmt: skip


def test_one_earthquake_from_four_agencies_and_formats_is_one_urgent_run(deployed) -> None:
    service, _ = deployed
    proc = processor(service)
    emsc = Report("20261204_0000001", QUAKE.origin + 3, 38.25, 15.5, 12.0, 7.0, "EMSC",
                  updated=NOW - 90)  # fmt: skip
    ingv = Report("ingv-1", QUAKE.origin - 2, 38.1, 15.7, 9.0, 6.8, "INGV", updated=NOW - 80)
    ign = Report("ign-uuid-1", QUAKE.origin + 1, 38.3, 15.6, 11.0, 6.9, "IGN")
    outcomes = [
        proc.submit("test", json.dumps(usgs_feature(QUAKE))),
        proc.submit("test", json.dumps(emsc_message(emsc))),
        proc.submit("test", quakeml(ingv)),
        proc.submit("test", json.dumps(ucis4eq(ign))),
    ]
    assert [o.outcome for o in outcomes] == ["accepted", "merged", "merged", "merged"]
    assert len({o.quake_id for o in outcomes}) == 1
    (run,) = outcomes[0].runs
    assert run["kind"] == "urgent" and run["created"]
    assert outcomes[0].handles[0].wait_job(10) == "100"
    (execution,) = runs_of(service)
    assert execution["urgency"] == "urgent"
    assert execution["inputs"]["magnitude"] == 6.9
    event_file = Path(execution["inputs"]["event_file"])
    assert event_file.parent.name == outcomes[0].quake_id
    # refine (the default): each newer report rewrote the run's event file in place; IGN's
    # has no update time, so it ranks by when it was received: the newest.
    assert all("refined execution" in o.reason for o in outcomes[1:])
    assert "ign-uuid-1" in event_file.read_text()


def test_everything_dropped_says_why_and_nothing_is_lost(deployed) -> None:
    service, _ = deployed
    proc = processor(service)
    first = json.dumps(usgs_feature(QUAKE))
    payloads = [first, first, *MALFORMED,
                json.dumps(usgs_feature(Report("old", NOW - 3 * 3600, 38, 15, 10, 7.5))),
                json.dumps(usgs_feature(Report("small", NOW - 60, 20, 120, 10, 5.0))),
                json.dumps(usgs_feature(Report("far", NOW - 60, -20, 150, 10, 8.0))),
                json.dumps(usgs_feature(Report("soon", NOW + 3600, 38, 15, 10, 7.0)))]  # fmt: skip
    outcomes = [proc.submit("test", p) for p in payloads]
    assert all(o is not None for o in outcomes)
    reasons = [o.reason for o in outcomes if o.outcome == "dropped"]
    assert outcomes[1].reason == f"duplicate of message #{outcomes[0].message_id}"
    assert sum(r.startswith("malformed: ") for r in reasons) == len(MALFORMED)
    assert any(r.startswith("stale: origin 3") and " h ago, older than" in r for r in reasons)
    assert any("outside every rule (med: magnitude 5 < 6.5)" in r for r in reasons)
    assert any("outside the region" in r for r in reasons)
    assert any("in the future" in r for r in reasons)
    counts = service.store.alert_counts()
    assert counts == {"accepted": 1, "dropped": len(payloads) - 1}
    assert sum(counts.values()) == len(payloads)
    assert len(runs_of(service)) == 1


def test_rerun_starts_one_refinement_when_the_magnitude_moves(deployed) -> None:
    service, _ = deployed
    proc = processor(service, "rerun")
    proc.submit("test", json.dumps(usgs_feature(QUAKE)))
    small = Report(QUAKE.ident, QUAKE.origin, 38.2, 15.6, 10, 7.0, updated=NOW - 50)
    big = Report(QUAKE.ident, QUAKE.origin, 38.2, 15.6, 10, 7.6, updated=NOW - 40)
    bigger = Report(QUAKE.ident, QUAKE.origin, 38.2, 15.6, 10, 8.2, updated=NOW - 30)
    o_small = proc.submit("test", json.dumps(usgs_feature(small)))
    o_big = proc.submit("test", json.dumps(usgs_feature(big)))
    o_bigger = proc.submit("test", json.dumps(usgs_feature(bigger)))
    assert "change too small" in o_small.reason and not o_small.runs
    assert o_big.runs[0]["kind"] == "refinement"
    assert "max_reruns (1) reached" in o_bigger.reason
    urgencies = sorted(e["urgency"] for e in runs_of(service))
    assert urgencies == ["high", "urgent"]  # never a second urgent run


def test_ignore_only_records_the_update(deployed) -> None:
    service, _ = deployed
    proc = processor(service, "ignore")
    proc.submit("test", json.dumps(usgs_feature(QUAKE)))
    later = Report(QUAKE.ident, QUAKE.origin, 38.2, 15.6, 10, 7.9, updated=NOW - 10)
    outcome = proc.submit("test", json.dumps(usgs_feature(later)))
    assert outcome.outcome == "merged" and not outcome.runs and "goes on" in outcome.reason
    assert len(runs_of(service)) == 1


def test_a_rules_association_window_splits_what_the_default_would_merge(deployed) -> None:
    service, _ = deployed
    narrow = parse_rules(
        RULES.format(on_update="refine").replace(
            "    max_reruns: 1\n", "    max_reruns: 1\n    association: {seconds: 30, km: 20}\n"
        )
    )
    proc = AlertProcessor(service, narrow)
    a = proc.submit("test", json.dumps(usgs_feature(QUAKE)))
    # 50 km away, 60 s later: the default window (120 s, 100 km) would merge it.
    b = proc.submit(
        "test", json.dumps(usgs_feature(Report("other", QUAKE.origin + 60, 38.65, 15.6, 10, 6.8)))
    )
    assert a.outcome == "accepted" and b.outcome == "accepted" and a.quake_id != b.quake_id
    assert len(runs_of(service)) == 2


def test_a_restart_after_association_triggers_once(deployed) -> None:
    service, template = deployed
    proc = processor(service)
    message = proc.receive("test", json.dumps(usgs_feature(QUAKE)))
    assert message is not None
    # The process dies after the message was associated, before its run started...
    store = service.store
    event = json.loads(json.dumps(usgs_feature(QUAKE)))
    from workflows.earthquake.alerts import parse_alert

    parsed = parse_alert(event).as_dict()
    store.associate_alert(message, parsed, "k", origin_time=QUAKE.origin, rank=0,
                          window_s=120, choose=lambda quakes: None)  # fmt: skip
    # ...and a new process picks it up: one run.
    again = _service(service.workspace, template)
    try:
        first = AlertProcessor(again, parse_rules(RULES.format(on_update="refine"))).recover()
        assert [o.outcome for o in first] == ["accepted"] and first[0].runs[0]["created"]
        # Killed again after the run was recorded but before the message was marked done:
        with again.store._write() as cur:
            cur.execute("UPDATE alert_messages SET state='associated' WHERE id=?", (message,))
        second = AlertProcessor(again, parse_rules(RULES.format(on_update="refine"))).recover()
        assert second[0].runs == [{**first[0].runs[0], "created": False}]
        assert len(runs_of(again)) == 1
    finally:
        again.close()


def test_two_processes_on_one_workspace_start_one_run(deployed) -> None:
    service, template = deployed
    other = _service(service.workspace, template)
    reports = [Report(f"r{i}", QUAKE.origin + i, 38.2 + i / 100, 15.6, 10, 7.0, f"A{i}")
               for i in range(12)]  # fmt: skip
    procs = [processor(service), processor(other)]
    errors: list[BaseException] = []

    def feed(k: int) -> None:
        try:
            for r in reports[k::2]:
                procs[k].submit("test", json.dumps(usgs_feature(r)))
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=feed, args=(k,)) for k in (0, 1)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    try:
        assert not errors
        assert len(service.store.quakes()) == 1
        assert len(runs_of(service)) == 1
        assert service.store.alert_counts() == {"accepted": 1, "merged": 11}
    finally:
        other.close()
