"""The microservices of an urgent seismic response (in the style of UCIS4EQ), one ASGI app.

=====================================  =====================================================
``POST /events`` (body: an alert)      register it (USGS, EMSC, QuakeML or UCIS4EQ): 201
                                       ``{event_id, created, event}``; the same alert again
                                       (format, agency, id) answers 200 with the same id
``GET /events``, ``/events/{id}``      what is registered
``GET /events/{id}/region``            the computational domain covering the epicentre
                                       (smallest of the catalogue's boxes), its bathymetry,
                                       points of interest and default mechanism; 404 with
                                       "no computational domain covers ..." when none does
``POST /events/{id}/source``           fault parameters and the uncertainty ensemble: body
                                       ``{scenarios, seed}``; the alert's focal mechanism
                                       when it has one, else the domain's documented
                                       regional default, else a thrust (the worst case)
``POST /events/{id}/resources``        ensemble size, device and time limit: body
                                       ``{urgency, scenarios, gpus, cpus, deadline_s,
                                       duration_s}``
``POST /events/{id}/results``          register products: ``{run, products: [{name, path,
                                       sha256, bytes}]}``; ``GET`` lists them, ``GET
                                       /results`` all of them
``GET /health``                        ``{status, events}``
=====================================  =====================================================

State lives in SQLite under ``state_dir`` (see :mod:`.store`). ``faults_file`` (tests
only; ``UCIS4EQ_FAULTS``) is a JSON file ``{step: {"mode": "500"|"slow"|"malformed",
"delay": s}}`` read on every request, with steps register, region, source, resources,
results.
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path
from typing import Any

from fastapi import Body, FastAPI, HTTPException, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response

from workflows.earthquake.alerts import AlertError, Mechanism, parse_alert
from workflows.earthquake.services.store import ServiceStore

__all__ = ["DEFAULT_DOMAINS", "LEVEL_PLANS", "create_app", "load_domains", "plan_resources"]

DEFAULT_DOMAINS = Path(__file__).with_name("domains.json")

# Per urgency level: the deadline for the whole ensemble when the caller gives none, and
# the longest wall time a job may ask for (minutes). Higher urgency: tighter deadline.
LEVEL_PLANS = {
    "emergency": {"deadline_s": 600.0, "max_wall_min": 30},
    "urgent": {"deadline_s": 900.0, "max_wall_min": 60},
    "high": {"deadline_s": 1800.0, "max_wall_min": 120},
    "routine": {"deadline_s": 3600.0, "max_wall_min": 240},
}
# Cell updates per second of one CPU core and of one GPU (benchmarks/tsunami_solver.py on
# the reference machines: 74 M/s on 2 cores, 7.8 G/s on an H100), with a margin of 2.
CPU_RATE = 37e6 / 2
GPU_RATE = 7.8e9 / 2


def load_domains(path: str | Path = DEFAULT_DOMAINS) -> list[dict[str, Any]]:
    doc = json.loads(Path(path).read_text(encoding="utf-8"))
    domains = doc.get("domains") if isinstance(doc, dict) else None
    if not isinstance(domains, list) or not domains:
        raise ValueError(f'{path}: a domain catalogue is {{"domains": [...]}}')
    for d in domains:
        for key in ("name", "min_lon", "max_lon", "min_lat", "max_lat"):
            if key not in d:
                raise ValueError(f"{path}: domain {d.get('name', '?')!r} lacks {key!r}")
    return domains


def _covering(domains: list[dict[str, Any]], lon: float, lat: float) -> dict[str, Any] | None:
    lon = (lon + 180.0) % 360.0 - 180.0
    inside = [
        d for d in domains
        if d["min_lon"] <= lon <= d["max_lon"] and d["min_lat"] <= lat <= d["max_lat"]
    ]  # fmt: skip
    area = lambda d: (d["max_lon"] - d["min_lon"]) * (d["max_lat"] - d["min_lat"])  # noqa: E731
    return min(inside, key=area) if inside else None


def plan_resources(
    *,
    urgency: str,
    scenarios: int,
    gpus: int,
    cpus: int,
    deadline_s: float | None,
    duration_s: float,
    cells: int,
    max_depth_m: float = 3000.0,
    resolution_m: float = 1500.0,
) -> dict[str, Any]:
    """How many scenarios fit the deadline on what the site declares, on which device, with
    which job time limit. A scenario costs cells x steps cell updates, steps from the CFL
    condition (dt = 0.5 dx / sqrt(g h_max)); half the deadline is the compute budget (the
    rest: queue, staging, products)."""
    level = LEVEL_PLANS.get(urgency)
    if level is None:
        raise ValueError(f"unknown urgency {urgency!r} (one of {', '.join(LEVEL_PLANS)})")
    if scenarios < 1 or duration_s <= 0 or cells < 1:
        raise ValueError("scenarios >= 1, duration_s > 0 and cells >= 1 are needed")
    deadline = float(deadline_s or level["deadline_s"])
    dt = 0.5 * resolution_m / math.sqrt(9.81 * max_depth_m)
    updates = cells * math.ceil(duration_s / dt)
    device = "gpu" if gpus > 0 else "cpu"
    slots = gpus if gpus > 0 else max(1, cpus)
    rate = GPU_RATE if gpus > 0 else CPU_RATE
    per_scenario_s = updates / rate
    budget = deadline / 2
    fits = max(1, int(budget * slots / per_scenario_s))
    chosen = min(scenarios, fits)
    waves = math.ceil(chosen / slots)
    estimate_s = waves * per_scenario_s
    wall_min = min(level["max_wall_min"], max(5, math.ceil(estimate_s * 3 / 60)))
    return {
        "urgency": urgency, "device": device, "slots": slots, "scenarios": chosen,
        "requested_scenarios": scenarios, "trimmed": chosen < scenarios,
        "per_scenario_s": round(per_scenario_s, 3), "estimate_s": round(estimate_s, 2),
        "deadline_s": deadline, "time_limit_min": wall_min,
    }  # fmt: skip


def create_app(
    state_dir: str | Path,
    *,
    domains_file: str | Path = DEFAULT_DOMAINS,
    faults_file: str | Path | None = None,
) -> FastAPI:
    store = ServiceStore(state_dir)
    domains = load_domains(domains_file)
    app = FastAPI(title="UCIS4EQ-style urgent seismic services", version="1.0")

    def fault(step: str) -> Response | None:
        """Test-only failure injection (see the module docstring)."""
        if not faults_file or not Path(faults_file).exists():
            return None
        spec = (json.loads(Path(faults_file).read_text() or "{}") or {}).get(step)
        if not spec:
            return None
        mode = spec.get("mode")
        if mode == "slow":
            time.sleep(float(spec.get("delay", 5)))
            return None
        if mode == "500":
            return PlainTextResponse("injected failure", status_code=500)
        if mode == "malformed":
            return Response('{"event_id": ', media_type="application/json")
        return None

    def event_of(event_id: str) -> dict[str, Any]:
        found = store.event(event_id)
        if found is None:
            raise HTTPException(404, f"no event {event_id!r}")
        return found

    @app.get("/health")
    def health() -> dict[str, Any]:
        return {"status": "ok", "events": len(store.events())}

    @app.post("/events")
    async def register(request: Request) -> Response:
        injected = fault("register")
        if injected is not None:
            return injected
        text = (await request.body()).decode("utf-8", errors="replace")
        try:
            event = parse_alert(text)
        except AlertError as exc:
            raise HTTPException(422, f"not an alert: {exc}") from None
        key = f"{event.source_format}:{event.agency}:{event.event_id}"
        event_id, created = store.register(key, event.as_dict(), text)
        body = {"event_id": event_id, "created": created, "event": event.as_dict()}
        return JSONResponse(body, status_code=201 if created else 200)

    @app.get("/events")
    def list_events() -> dict[str, Any]:
        return {"events": store.events()}

    @app.get("/events/{event_id}")
    def get_event(event_id: str) -> dict[str, Any]:
        found = event_of(event_id)
        return {"id": found["id"], "event": found["event"], "created_at": found["created_at"]}

    def region_for(event: dict[str, Any]) -> dict[str, Any]:
        domain = _covering(domains, float(event["lon"]), float(event["lat"]))
        if domain is None:
            names = ", ".join(d["name"] for d in domains)
            raise HTTPException(
                404,
                f"no computational domain covers M{event['magnitude']:.1f} at "
                f"{event['lat']:.2f}N {event['lon']:.2f}E (domains: {names})",
            )
        return {"covered": True, "domain": domain["name"], **domain}

    @app.get("/events/{event_id}/region")
    def region(event_id: str) -> Response:
        injected = fault("region")
        if injected is not None:
            return injected
        found = event_of(event_id)
        answer = region_for(found["event"])
        store.save_step(event_id, "region", answer)
        return JSONResponse(answer)

    @app.post("/events/{event_id}/source")
    def source(event_id: str, body: dict[str, Any] | None = Body(default=None)) -> Response:
        # Deferred import: the ensemble pulls in numpy, which only this service needs.
        from workflows.tsunami.ensemble import DEFAULT_MECHANISM, build_scenarios

        injected = fault("source")
        if injected is not None:
            return injected
        body = body or {}
        found = event_of(event_id)
        event = parse_alert(found["alert"])
        n, seed = int(body.get("scenarios", 12)), int(body.get("seed", 0))
        if not 1 <= n <= 1000:
            raise HTTPException(422, "scenarios must be between 1 and 1000")
        if event.mechanism is not None:
            origin = "the alert's focal mechanism (CMT)"
            default = DEFAULT_MECHANISM
        else:
            domain = _covering(domains, event.lon, event.lat) or {}
            mech = domain.get("default_mechanism")
            if mech:
                default = Mechanism(float(mech["strike"]), float(mech["dip"]), float(mech["rake"]))
                origin = f"regional default of {domain['name']}: {mech.get('source', '')}"
            else:
                default = DEFAULT_MECHANISM
                origin = "generic default: a 30-degree thrust (the worst case for uplift)"
        scenarios = build_scenarios(event, n, seed=seed, default_mechanism=default)
        best = scenarios[0]
        answer = {
            "mechanism_source": origin,
            "mechanism": {k: getattr(best.faults[0], k) for k in ("strike", "dip", "rake")},
            "magnitude": event.magnitude,
            "relation": best.relation,
            "fault": best.faults[0].as_dict(),
            "seed": seed,
            "scenarios": [s.as_dict() for s in scenarios],
        }
        store.save_step(event_id, "source", answer)
        return JSONResponse(answer)

    @app.post("/events/{event_id}/resources")
    def resources(event_id: str, body: dict[str, Any] | None = Body(default=None)) -> Response:
        injected = fault("resources")
        if injected is not None:
            return injected
        body = body or {}
        found = event_of(event_id)
        domain = region_for(found["event"])
        arcmin = float(domain.get("resolution_arcmin", 1.0))
        cells = int((3.0 * 60 / arcmin) * (2.5 * 60 / arcmin))  # the forecast's 3 x 2.5 degree grid
        try:
            answer = plan_resources(
                urgency=str(body.get("urgency", "urgent")),
                scenarios=int(body.get("scenarios", 12)),
                gpus=int(body.get("gpus", 0)),
                cpus=int(body.get("cpus", 1)),
                deadline_s=float(body["deadline_s"]) if body.get("deadline_s") else None,
                duration_s=float(body.get("duration_s", 1800)),
                cells=cells,
                resolution_m=1852.0 * arcmin,
            )
        except (TypeError, ValueError) as exc:
            raise HTTPException(422, str(exc)) from None
        store.save_step(event_id, "resources", answer)
        return JSONResponse(answer)

    @app.post("/events/{event_id}/results", status_code=201)
    def add_results(event_id: str, body: dict[str, Any] = Body(...)) -> Response:
        injected = fault("results")
        if injected is not None:
            return injected
        event_of(event_id)
        products = body.get("products")
        if not isinstance(products, list) or not all(
            isinstance(p, dict) and {"name", "path", "sha256", "bytes"} <= set(p) for p in products
        ):
            raise HTTPException(422, "products: a list of {name, path, sha256, bytes}")
        store.add_results(event_id, str(body.get("run", "")), products)
        return JSONResponse({"event_id": event_id, "registered": len(products)}, 201)

    @app.get("/events/{event_id}/results")
    def get_results(event_id: str) -> dict[str, Any]:
        event_of(event_id)
        return {"results": store.results(event_id)}

    @app.get("/results")
    def all_results() -> dict[str, Any]:
        return {"results": store.results()}

    app.state.store = store
    return app
