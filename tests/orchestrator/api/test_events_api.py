"""POST /events over a real uvicorn: an alert is stored before the answer, which says what
became of it; only admin and alerts tokens may post, and an alerts token may do nothing else."""

from __future__ import annotations

import json
import time
from pathlib import Path

from orchestrator.events.rules import parse_rules
from tests.support.api_server import WF, running_api
from tests.support.feeds import Report, quakeml, usgs_feature

RULES = parse_rules("""\
rules:
  - name: med
    deployment: d
    magnitude: {min: 6.5}
    inputs:
      magnitude: $event.magnitude
      label: $event.id
""")


def test_post_events_triggers_once_and_answers_the_outcome(tmp_path: Path) -> None:
    now = time.time()
    first = json.dumps(usgs_feature(Report("us1", now - 60, 38.2, 15.6, 10, 7.1)))
    second = quakeml(Report("ingv1", now - 58, 38.25, 15.62, 9, 7.0, "INGV"))
    with running_api(tmp_path, rules=RULES) as api, api.client("agency") as agency:
        r1 = agency.post("/events", content=first, headers={"Content-Type": "application/json"})
        assert r1.status_code == 202, r1.text
        body = r1.json()
        assert body["outcome"] == "accepted" and body["earthquake"].startswith("eq-")
        (run,) = body["executions"]
        assert run["kind"] == "urgent" and run["created"]
        execution = api.service.execution(run["execution"])
        assert execution["inputs"]["magnitude"] == 7.1
        assert execution["inputs"]["label"] == body["earthquake"]
        r2 = agency.post("/events", content=second, headers={"Content-Type": "application/xml"})
        assert r2.status_code == 202 and r2.json()["outcome"] == "merged"
        assert r2.json()["earthquake"] == body["earthquake"]
        r3 = agency.post("/events", content=b"{broken")
        assert r3.status_code == 202 and r3.json()["outcome"] == "dropped"
        assert r3.json()["reason"].startswith("malformed: ")
        # Stored before the answer: every message is in the workspace already.
        assert [m.id for m in api.service.store.alert_messages()] == [
            r1.json()["message"], r2.json()["message"], r3.json()["message"]]  # fmt: skip
        assert len([e for e in api.service.list_executions() if e.workflow == "exec_job"]) == 1
        # An alerts token can do nothing else.
        assert agency.get("/workflows").status_code == 403
        assert agency.post(f"/workflows/{WF}", json={"inputs": {"magnitude": 7}}).status_code == 403
        assert agency.get("/events").status_code == 403
        with api.client("alice") as alice:
            assert alice.post("/events", content=first).status_code == 403
        with api.client("admin") as admin:
            listed = admin.get("/events").json()["events"]
            assert [e["outcome"] for e in listed] == ["accepted", "merged", "dropped"]
        too_big = b" " * (1 << 20 + 1)
        assert agency.post("/events", content=too_big).status_code == 413
