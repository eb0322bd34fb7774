"""The seismic services over a real uvicorn process: idempotent registration, the covering
domain or a clear "no domain" answer, the source and its ensemble (CMT, regional default,
generic default), resource plans, and a registry that survives a restart."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from tests.support.feeds import Report, ucis4eq, usgs_feature
from tests.support.seismic_services import running_services, start_services
from workflows.earthquake.services.app import plan_resources

pytestmark = pytest.mark.integration
EXAMPLES = Path(__file__).resolve().parents[3] / "examples" / "events"


def test_the_chain_of_services_on_the_messina_alert(tmp_path: Path) -> None:
    alert = (EXAMPLES / "messina_m7.json").read_text()
    with running_services(tmp_path) as svc, httpx.Client(base_url=svc.url, timeout=10) as c:
        first = c.post("/events", content=alert)
        assert first.status_code == 201 and first.json()["created"]
        again = c.post("/events", content=alert)  # the same alert: the same event
        assert again.status_code == 200 and again.json()["event_id"] == first.json()["event_id"]
        eid = first.json()["event_id"]
        region = c.get(f"/events/{eid}/region").json()
        assert region["domain"] == "messina-strait" and region["bathymetry"] == "generated"
        assert {p["name"] for p in region["pois"]} >= {"Messina", "Reggio Calabria"}
        source = c.post(f"/events/{eid}/source", json={"scenarios": 6, "seed": 1}).json()
        assert source["mechanism_source"] == "the alert's focal mechanism (CMT)"
        assert source["mechanism"] == {"strike": 20.0, "dip": 35.0, "rake": -90.0}
        assert len(source["scenarios"]) == 6 and source["relation"].startswith("Wells")
        assert 30 < source["fault"]["length_km"] < 60  # an M7.0 normal fault (W&C 1994)
        plan = c.post(f"/events/{eid}/resources",
                      json={"urgency": "emergency", "scenarios": 6, "cpus": 2}).json()  # fmt: skip
        assert plan["device"] == "cpu" and plan["slots"] == 2 and plan["scenarios"] == 6
        assert plan["deadline_s"] == 600 and plan["time_limit_min"] <= 30
        gpu = c.post(f"/events/{eid}/resources", json={"scenarios": 6, "gpus": 1}).json()
        assert gpu["device"] == "gpu" and gpu["per_scenario_s"] < plan["per_scenario_s"]
        bad = c.post(f"/events/{eid}/resources", json={"urgency": "asap"})
        assert bad.status_code == 422 and "unknown urgency" in bad.text
        products = [{"name": "max_height.png", "path": "/x/max_height.png", "sha256": "ab" * 32,
                     "bytes": 10}]  # fmt: skip
        assert (
            c.post(f"/events/{eid}/results", json={"run": "j1", "products": products}).status_code
            == 201
        )  # noqa: E501
        assert c.post(f"/events/{eid}/results", json={"products": [{"name": 1}]}).status_code == 422
        assert c.get(f"/events/{eid}/results").json()["results"][0]["sha256"] == "ab" * 32
        assert c.post("/events", content="{not an alert").status_code == 422
        assert c.get("/events/nope/region").status_code == 404


def test_no_domain_is_a_clear_answer_and_defaults_are_named(tmp_path: Path) -> None:
    with running_services(tmp_path) as svc, httpx.Client(base_url=svc.url, timeout=10) as c:
        japan = json.dumps(usgs_feature(Report("usjp", 1.79e9, 38.3, 142.4, 20, 9.0)))
        pacific = c.post("/events", content=japan).json()["event_id"]
        answer = c.get(f"/events/{pacific}/region")
        assert answer.status_code == 404
        assert "no computational domain covers M9.0 at 38.30N 142.40E" in answer.json()["detail"]
        # An alert without a mechanism: the domain's documented regional default.
        alert = json.dumps(ucis4eq(Report("ign-crete", 1.79e9, 35.0, 25.5, 15, 7.5, "IGN")))
        crete = c.post("/events", content=alert).json()["event_id"]
        source = c.post(f"/events/{crete}/source", json={"scenarios": 2}).json()
        assert source["mechanism_source"].startswith("regional default of hellenic-arc")
        assert source["mechanism"]["rake"] == 90.0 and source["mechanism"]["dip"] == 20.0
        nowhere = c.post(f"/events/{pacific}/source", json={"scenarios": 2}).json()
        assert nowhere["mechanism_source"].startswith("generic default")


def test_a_restarted_service_keeps_its_registry(tmp_path: Path) -> None:
    alert = (EXAMPLES / "ionian_m65_quakeml.xml").read_text()
    svc = start_services(tmp_path / "state", tmp_path / "faults.json")
    try:
        eid = httpx.post(svc.url + "/events", content=alert, timeout=10).json()["event_id"]
        products = [{"name": "summary.json", "path": "/p", "sha256": "cd" * 32, "bytes": 3}]
        httpx.post(f"{svc.url}/events/{eid}/results", json={"run": "1", "products": products},
                   timeout=10)  # fmt: skip
    finally:
        svc.proc.kill()
        svc.proc.wait()
    again = start_services(tmp_path / "state", tmp_path / "faults.json")
    try:
        assert again.get(f"/events/{eid}")["event"]["agency"] == "INGV"
        assert [r["name"] for r in again.get("/results")["results"]] == ["summary.json"]
        second = httpx.post(again.url + "/events", content=alert, timeout=10).json()
        assert second == {**second, "event_id": eid, "created": False}
    finally:
        again.proc.kill()
        again.proc.wait()


def test_resource_plans_trim_the_ensemble_to_the_deadline() -> None:
    cells = 180 * 150
    roomy = plan_resources(urgency="urgent", scenarios=64, gpus=0, cpus=2, deadline_s=None,
                           duration_s=1800, cells=cells)  # fmt: skip
    tight = plan_resources(urgency="urgent", scenarios=64, gpus=0, cpus=2, deadline_s=2.0,
                           duration_s=1800, cells=cells)  # fmt: skip
    assert roomy["scenarios"] == 64 and not roomy["trimmed"]
    assert 1 <= tight["scenarios"] < 64 and tight["trimmed"]
    assert tight["estimate_s"] <= 1.0 + tight["per_scenario_s"]
    with pytest.raises(ValueError, match="unknown urgency"):
        plan_resources(urgency="asap", scenarios=1, gpus=0, cpus=1, deadline_s=None,
                       duration_s=1, cells=1)  # fmt: skip
