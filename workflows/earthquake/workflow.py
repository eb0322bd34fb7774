"""The urgent earthquake workflow of HTTP-service tasks (UCIS4EQ style), feeding the tsunami
ensemble. Run it on the task runtime::

    python -m workflows.runtime workflows.earthquake.workflow --event ALERT --services URL \\
        --output DIR [--scenarios N] [--duration S] [--deadline S] [--bathymetry FILE]
        [--gpu auto|yes|no] [--call-timeout S]

Steps, each service call an ``@http`` task with ``time_out`` and
``on_failure="CANCEL_SUCCESSORS"`` (a failed or slow service cancels what depends on it and
the run stops with one clear line naming the service, never a hang):

1. register the alert (``POST /events``) -> event id;
2. in parallel: region selection (``GET /events/{id}/region``), source definition with the
   uncertainty ensemble (``POST /events/{id}/source``), resource planning (``POST
   /events/{id}/resources``: ensemble size, device, time limit from the urgency level, the
   deadline and the slots the runtime declares);
3. the tsunami ensemble (:func:`workflows.tsunami.forecast.run_ensemble`: GPU-constrained
   scenario tasks where GPUs are declared and the plan says so, CPU otherwise; each result
   folded into the preliminary products as it arrives);
4. the products, with their SHA-256, registered back (``POST /events/{id}/results``).

The services' base URL is ``--services`` (it becomes the runtime's ``http.services``
entry ``ucis4eq``). Exit status: 0 done, 2 bad arguments, 3 a service failed (named).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

from workflows.runtime import compss_wait_on, http, task
from workflows.runtime.exceptions import RuntimeTaskError

__all__ = ["SERVICE", "main"]

SERVICE = "ucis4eq"
DEFAULT_CALL_TIMEOUT_S = 20.0


def _say(message: str) -> None:
    sys.stdout.write(f"[earthquake] {message}\n")
    sys.stdout.flush()


class ServiceFailed(RuntimeError):
    """A service call failed or was cancelled; the message names the service."""


@http(service_name=SERVICE, request="POST", resource="events", payload="{{alert}}",
      payload_type="text/plain",
      produces='{"event_id": "{{return_0}}", "created": "{{return_1}}"}')  # fmt: skip
@task(returns=2, on_failure="CANCEL_SUCCESSORS", time_out=DEFAULT_CALL_TIMEOUT_S)
def register_event(alert: str) -> Any:
    """POST /events: the registered event's id."""


@http(service_name=SERVICE, request="GET", resource="events/{{event_id}}/region")
@task(returns=1, on_failure="CANCEL_SUCCESSORS", time_out=DEFAULT_CALL_TIMEOUT_S)
def select_region(event_id: str) -> Any:
    """GET /events/{id}/region: the computational domain."""


@http(service_name=SERVICE, request="POST", resource="events/{{event_id}}/source",
      payload='{"scenarios": {{scenarios}}, "seed": {{seed}}}')  # fmt: skip
@task(returns=1, on_failure="CANCEL_SUCCESSORS", time_out=DEFAULT_CALL_TIMEOUT_S)
def define_source(event_id: str, scenarios: int, seed: int) -> Any:
    """POST /events/{id}/source: mechanism, fault and the scenario ensemble."""


@http(service_name=SERVICE, request="POST", resource="events/{{event_id}}/resources",
      payload='{"urgency": "{{urgency}}", "scenarios": {{scenarios}}, '
              '"gpus": {{gpus}}, "cpus": {{cpus}}, "deadline_s": {{deadline}}, '
              '"duration_s": {{duration}}}')  # fmt: skip
@task(returns=1, on_failure="CANCEL_SUCCESSORS", time_out=DEFAULT_CALL_TIMEOUT_S)
def plan_resources(event_id: str, urgency: str, scenarios: int, gpus: int, cpus: int,
                   deadline: float, duration: float) -> Any:  # fmt: skip
    """POST /events/{id}/resources: ensemble size, device, time limit."""


@http(service_name=SERVICE, request="POST", resource="events/{{event_id}}/results",
      payload='{"run": "{{run}}", "products": {{products}}}',
      produces='{"registered": "{{return_0}}"}')  # fmt: skip
@task(returns=1, on_failure="CANCEL_SUCCESSORS", time_out=DEFAULT_CALL_TIMEOUT_S)
def register_results(event_id: str, run: str, products: list[dict[str, Any]]) -> Any:
    """POST /events/{id}/results: the products and their checksums."""


def _value(future: Any, what: str) -> Any:
    """The value of a service call, or ServiceFailed naming the service and why."""
    try:
        value = compss_wait_on(future)
    except RuntimeTaskError as exc:
        raise ServiceFailed(f"{what}: {exc}") from None
    if value is None:
        error = getattr(getattr(future, "task", None), "error", None) or "no answer"
        raise ServiceFailed(f"{what} failed: {error}")
    return value


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="workflows.earthquake.workflow", description=__doc__)
    p.add_argument("--event", required=True, help="alert file (USGS, EMSC, QuakeML, UCIS4EQ)")
    p.add_argument("--services", required=True, help="base URL of the services")
    p.add_argument("--output", required=True, help="directory for the products")
    p.add_argument("--scenarios", type=int, default=12, help="ensemble size asked for")
    p.add_argument("--duration", type=float, default=1800.0, help="simulated seconds")
    p.add_argument("--deadline", type=float, default=0.0, help="s; 0 = the urgency's default")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--bathymetry", default=None, help="grid; default: the domain's")
    p.add_argument("--gpu", choices=("auto", "yes", "no"), default="auto")
    p.add_argument("--call-timeout", type=float, default=DEFAULT_CALL_TIMEOUT_S,
                   help="seconds each service call may take")  # fmt: skip
    return p


def _configure(url: str, timeout: float) -> Any:
    """Point the runtime's ``http.services`` entry at the services; returns the runtime."""
    from workflows.runtime.core import get_runtime

    runtime = get_runtime()
    runtime.config.http_services[SERVICE] = {"base_url": url.rstrip("/"), "timeout": timeout}
    for fn in (register_event, select_region, define_source, plan_resources, register_results):
        if timeout:
            fn.spec.time_out = timeout  # type: ignore[attr-defined]
    return runtime


def _products(out: Path) -> list[dict[str, Any]]:
    found = []
    for path in sorted(p for p in out.iterdir() if p.is_file()):
        data = path.read_bytes()
        found.append({"name": path.name, "path": str(path),
                      "sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)})  # fmt: skip
    return found


def run(args: argparse.Namespace) -> dict[str, Any]:
    from workflows.earthquake.alerts import load_alert
    from workflows.tsunami.ensemble import Scenario
    from workflows.tsunami.forecast import prepare_inputs, run_ensemble
    from workflows.tsunami.okada import Fault

    started = time.perf_counter()
    if args.scenarios < 1 or args.duration <= 0:
        raise ValueError("--scenarios must be >= 1 and --duration > 0")
    alert = Path(args.event).read_text(encoding="utf-8")
    event = load_alert(args.event)  # a bad alert stops here, before any call
    runtime = _configure(args.services, args.call_timeout)
    _say(f"alert {event.event_id}: M{event.magnitude:.1f} at {event.lat:.3f}N "
         f"{event.lon:.3f}E, {event.depth_km:.0f} km; services at {args.services}")  # fmt: skip
    event_id, _created = register_event(alert)
    gpus = len(runtime.config.gpus)
    cpus = runtime.config.cpus or os.cpu_count() or 1
    region = select_region(event_id)
    source = define_source(event_id, args.scenarios, args.seed)
    plan = plan_resources(event_id, runtime.config.urgency, args.scenarios, gpus, cpus,
                          args.deadline, args.duration)  # fmt: skip
    event_id = _value(event_id, "event registration (POST /events)")
    _say(f"registered as event {event_id}")
    region = _value(region, "region selection (GET /events/{id}/region)")
    source = _value(source, "source definition (POST /events/{id}/source)")
    plan = _value(plan, "resource planning (POST /events/{id}/resources)")
    _say(f"domain {region['domain']} ({region.get('description', '')}); source: "
         f"{source['mechanism_source']}; plan: {plan['scenarios']} scenarios on "
         f"{plan['slots']} {plan['device'].upper()} slot(s), time limit "
         f"{plan['time_limit_min']} min")  # fmt: skip
    scenarios = [
        Scenario(
            s["index"],
            s["weight"],
            s["magnitude"],
            tuple(Fault(**f) for f in s["faults"]),
            s["relation"],
        )  # fmt: skip
        for s in source["scenarios"][: plan["scenarios"]]
    ]
    if len(scenarios) < len(source["scenarios"]):
        weight = 1.0 / len(scenarios)
        scenarios = [Scenario(s.index, weight, s.magnitude, s.faults, s.relation)
                     for s in scenarios]  # fmt: skip
    out = Path(args.output).resolve()
    bathymetry = args.bathymetry
    if not bathymetry and region.get("bathymetry") not in (None, "", "generated"):
        bathymetry = str(region["bathymetry"])
    bathy, bathy_path, pois = prepare_inputs(event, out, bathymetry, region.get("pois_file"))
    gpu = args.gpu if plan["device"] == "gpu" else "no"
    summary = run_ensemble(event, scenarios, bathy, bathy_path, pois, out, args.duration,
                           gpu=gpu, started=started)  # fmt: skip
    products = _products(out)
    run_id = os.environ.get("SLURM_JOB_ID") or os.environ.get("TOSCA_JOB_ID") or str(os.getpid())
    try:
        registered = _value(register_results(event_id, run_id, products),
                            "results registry (POST /events/{id}/results)")  # fmt: skip
        _say(f"{registered} products registered for event {event_id}")
    except ServiceFailed as exc:
        _say(f"WARNING: the products are in {out} but were not registered: {exc}")
    summary["event_id"] = event_id
    summary["domain"] = region["domain"]
    summary["plan"] = plan
    (out / "earthquake.json").write_text(json.dumps(
        {"event_id": event_id, "domain": region["domain"], "plan": plan,
         "mechanism_source": source["mechanism_source"]}, indent=2))  # fmt: skip
    return summary


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        summary = run(args)
    except ServiceFailed as exc:
        sys.stderr.write(f"[earthquake] error: a service failed: {exc}\n")
        return 3
    except (ValueError, OSError, RuntimeError) as exc:
        sys.stderr.write(f"[earthquake] error: {exc}\n")
        return 2
    done, total = summary["scenarios_done"], summary["scenarios_total"]
    _say(f"forecast final: {done}/{total} scenarios, highest level "
         f"{summary['highest_level'].upper()}, {summary['elapsed_s']:.1f} s")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
