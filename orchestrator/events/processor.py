"""From one received alert message to at most one urgent run per earthquake.

Every message goes: stored as received (``receive``, before anyone acknowledges it) ->
parsed by :mod:`workflows.earthquake.alerts` (one parser per format in the project) ->
dropped when stale -> associated with an earthquake (a new one, or an existing one within
the time and distance window) -> matched against the rules -> runs started in-process with
``Service.start_workflow`` under an idempotency key ``quake:<earthquake>:<rule>:<n>`` ->
marked done with its outcome: ``accepted`` (a new earthquake), ``merged`` (into one already
known) or ``dropped`` (with the reason). A restart processes every message not done again;
the keys make that find the runs already started.

Updates (a later or other agency's report of an earthquake already run) follow the rule's
``on_update``: ``refine`` rewrites the run's event file (``$event.file``) with the newer
estimate, so steps that have not read it yet use it; ``rerun`` starts a refinement run (at
``rerun_urgency``, default high: never a second urgent run) when the magnitude moved by
``rerun_when.magnitude_change`` or the epicentre by ``rerun_when.km``, at most
``max_reruns`` times; ``ignore`` only records the report.
"""

from __future__ import annotations

import hashlib
import math
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from orchestrator.core.paths import ALERTS_DIR
from orchestrator.core.status import DeploymentStatus
from orchestrator.errors import ToscaError
from orchestrator.events.rules import Rule, RuleSet, duration, rules_from_policy
from orchestrator.state.store import QuakeRecord
from workflows.earthquake.alerts import AlertError, parse_alert

if TYPE_CHECKING:
    from orchestrator.service import Service, WorkflowRun

__all__ = ["EVENTS_OWNER", "MAX_PAYLOAD", "AlertProcessor", "Outcome", "distance_km"]

EVENTS_OWNER = "events"  # the user event-triggered executions run for
MAX_PAYLOAD = 1 << 20  # bigger messages are refused (stored truncated, dropped)
FUTURE_SLACK_S = 300.0  # an origin further in the future than this is nonsense
POLICY_TYPE = "eflows4hpc.policies.EventTrigger"


def distance_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    c = math.sin(p1) * math.sin(p2) + math.cos(p1) * math.cos(p2) * math.cos(
        math.radians(lon2 - lon1)
    )
    return 6371.0 * math.acos(max(-1.0, min(1.0, c)))


@dataclass
class Outcome:
    """What processing one message did; ``runs`` lists the runs it started or refined
    ({rule, kind, execution, created} or {rule, error})."""

    message_id: int
    source: str
    outcome: str
    reason: str
    quake_id: str | None = None
    event: dict[str, Any] | None = None
    runs: list[dict[str, Any]] = field(default_factory=list)
    handles: list[WorkflowRun] = field(default_factory=list, repr=False)

    def line(self) -> str:
        """The listener's one status line for this message."""
        ev = self.event or {}
        what = ""
        if ev:
            what = f" {ev.get('agency') or '?'} M{ev['magnitude']:.1f} {ev.get('place') or ''}"
            what = what.rstrip()
        return f"#{self.message_id} {self.source}{what}: {self.outcome}: {self.reason}"


class AlertProcessor:
    """Processes alert messages for one workspace. Thread-safe: messages are processed one
    at a time (association must see the earthquakes the previous message made).

    ``rules`` come from a rules file; with ``policies`` (default) the EventTrigger policies
    of the deployed templates are rules too. ``now`` is the clock ages are measured on (a
    replay of old alerts may pass the time they were received)."""

    def __init__(
        self,
        service: Service,
        rules: RuleSet | None = None,
        *,
        policies: bool = True,
        now: Callable[[], float] = time.time,
        log: Callable[[str], None] | None = None,
    ) -> None:
        self.service = service
        self.file_rules = rules or RuleSet()
        self.policies = policies
        self.now = now
        self.log = log or (lambda line: None)
        self._lock = threading.RLock()
        self._policy_cache: dict[tuple[str, float], list[Rule]] = {}

    # -- rules -------------------------------------------------------------------------------

    def rules(self) -> RuleSet:
        """The file's rules and, with ``policies``, the deployed templates' EventTriggers."""
        found = RuleSet(
            list(self.file_rules.rules),
            self.file_rules.default_association_s,
            self.file_rules.default_association_km,
        )
        if not self.policies:
            return found
        for dep in self.service.list_deployments():
            if dep.status != DeploymentStatus.DEPLOYED:
                continue
            key = (dep.id, dep.updated_at)
            if key not in self._policy_cache:
                self._policy_cache[key] = self._policy_rules(dep)
            found.rules.extend(self._policy_cache[key])
        return found

    def _policy_rules(self, dep: Any) -> list[Rule]:
        try:
            model = self.service._model_of(dep, None)
        except ToscaError as exc:
            self.log(f"deployment {dep.id}: its EventTrigger policies are not read ({exc})")
            return []
        rules = []
        for policy in model.policies_of_type(POLICY_TYPE):
            try:
                rule = rules_from_policy(dep.id, policy.name, dict(policy.properties))
            except ValueError as exc:
                self.log(f"deployment {dep.id}, policy {policy.name}: {exc}")
                continue
            if rule is not None:
                rules.append(rule)
        return rules

    # -- receiving ---------------------------------------------------------------------------

    def receive(
        self,
        source: str,
        payload: str | bytes,
        *,
        delivery: str | None = None,
        cursor: tuple[str, str] | None = None,
    ) -> int | None:
        """Store a message durably (then the caller may acknowledge it); None when
        ``delivery`` says it was received before."""
        if isinstance(payload, bytes):
            payload = payload.decode("utf-8", errors="replace")
        if len(payload) > MAX_PAYLOAD:
            payload = payload[:MAX_PAYLOAD]  # kept as evidence; fails to parse, is dropped
        return self.service.store.receive_alert(source, payload, delivery=delivery, cursor=cursor)

    def submit(self, source: str, payload: str | bytes, **kw: Any) -> Outcome | None:
        """Receive and process one message."""
        message_id = self.receive(source, payload, **kw)
        return None if message_id is None else self.process(message_id)

    def recover(self) -> list[Outcome]:
        """After a restart: take over the runs whose process is gone, then finish every
        message that was received but not processed to its end."""
        self.service.resume_orphans()
        return [self.process(m.id) for m in self.service.store.alert_messages(unfinished=True)]

    # -- processing --------------------------------------------------------------------------

    def process(self, message_id: int) -> Outcome:
        with self._lock:
            store = self.service.store
            msg = store.alert_message(message_id)
            if msg.state == "done":
                return Outcome(
                    msg.id, msg.source, msg.outcome or "dropped", msg.reason or "",
                    msg.quake_id, msg.event, msg.triggered,
                )  # fmt: skip
            outcome = self._process(msg)
            store.finish_alert(msg.id, outcome.outcome, outcome.reason, outcome.runs)
            return outcome

    def _process(self, msg: Any) -> Outcome:
        store = self.service.store

        def dropped(reason: str, event: dict[str, Any] | None = None) -> Outcome:
            return Outcome(msg.id, msg.source, "dropped", reason, event=event)

        try:
            parsed = parse_alert(msg.payload)
        except AlertError as exc:
            return dropped(f"malformed: {exc}")
        except (ValueError, TypeError, KeyError, AttributeError, RecursionError) as exc:
            return dropped(f"malformed: {type(exc).__name__}: {exc}")
        event = parsed.as_dict()
        if msg.state == "received":
            origin = parsed.time.timestamp()
            now = self.now()
            rules = self.rules()
            if origin - now > FUTURE_SLACK_S:
                return dropped(f"origin time {parsed.time.isoformat()} is in the future", event)
            max_age = max((r.max_age_s for r in rules.rules), default=None)
            if max_age is None:
                return dropped("no rules: nothing listens for earthquakes", event)
            if now - origin > max_age:
                return dropped(
                    f"stale: origin {duration(now - origin)} ago, older than every rule's "
                    f"max_age (longest {duration(max_age)})",
                    event,
                )
            rank = (parsed.updated or datetime.fromtimestamp(msg.received_at, UTC)).timestamp()
            association = store.associate_alert(
                msg.id,
                event,
                _report_key(event, msg.payload),
                origin_time=origin,
                rank=rank,
                window_s=rules.widest_window_s,
                choose=lambda quakes: _nearest(quakes, event, origin, rules),
            )
            if association.outcome == "duplicate":
                return dropped(f"duplicate of message #{association.duplicate_of}", event)
            outcome, quake_id, best_changed = (
                association.outcome, association.quake_id, association.best_changed,
            )  # fmt: skip
        else:  # associated before a restart: only the triggers remain to be done
            rules = self.rules()
            outcome, quake_id, best_changed = msg.outcome or "merged", msg.quake_id, True
        assert quake_id is not None
        return self._trigger(msg, event, outcome, quake_id, best_changed, rules)

    def _trigger(
        self,
        msg: Any,
        report: dict[str, Any],
        outcome: str,
        quake_id: str,
        best_changed: bool,
        rules: RuleSet,
    ) -> Outcome:
        store = self.service.store
        quake = store.quake(quake_id)
        best_msg = store.alert_message(quake.best_message)
        best = dict(best_msg.event or report)
        age = self.now() - quake.origin_time
        result = Outcome(msg.id, msg.source, outcome, "", quake_id, report)
        notes: list[str] = []
        misses: list[str] = []
        for rule in rules.rules:
            runs = store.keyed_executions(f"quake:{quake_id}:{rule.name}:")
            why = rule.mismatch(best, report, age)
            if why is not None:
                if runs:
                    notes.append(f"rule {rule.name} no longer matches ({why}); its run goes on")
                else:
                    misses.append(f"{rule.name}: {why}")
                continue
            mine = [r for r in runs if r[2].get("message") == msg.id]
            if mine:  # this message started them before a restart
                for _key, execution_id, detail in mine:
                    result.runs.append(_run_entry(rule, detail["kind"], execution_id, False))
                continue
            if not runs:
                self._start(result, rule, quake, best_msg, best, 0, "urgent", rule.urgency)
                store.set_quake_window(quake_id, rule.association_s, rule.association_km)
                continue
            last_key, last_execution, last = runs[-1]
            if rule.on_update == "ignore" or not best_changed:
                notes.append(f"rule {rule.name}: run {last_execution} goes on")
            elif rule.on_update == "refine":
                path = self._event_file(quake_id, len(runs) - 1, best_msg, refresh=True)
                result.runs.append(
                    {**_run_entry(rule, "refined", last_execution, False), "file": str(path)}
                )
            else:
                moved = distance_km(best["lat"], best["lon"], last["lat"], last["lon"])
                dmag = abs(float(best["magnitude"]) - float(last["magnitude"]))
                significant = dmag >= rule.rerun_magnitude_change or moved >= rule.rerun_km
                if not significant:
                    notes.append(f"rule {rule.name}: change too small for a rerun "
                                 f"(ΔM {dmag:.2f}, {moved:.0f} km)")  # fmt: skip
                elif len(runs) - 1 >= rule.max_reruns:
                    notes.append(f"rule {rule.name}: max_reruns ({rule.max_reruns}) reached")
                else:
                    self._start(result, rule, quake, best_msg, best, len(runs), "refinement",
                                rule.rerun_urgency)  # fmt: skip
        if outcome == "accepted" and not result.runs and misses:
            result.outcome = "dropped"
            result.reason = "outside every rule (" + "; ".join(misses) + ")"
            return result
        parts = [
            f"new earthquake {quake_id}"
            if outcome == "accepted"
            else f"into {quake_id} ({quake.reports} reports)"
        ]
        for run in result.runs:
            if "error" in run:
                parts.append(f"rule {run['rule']}: {run['error']}")
            elif run["kind"] == "refined":
                parts.append(f"refined execution {run['execution']} ({run['file']})")
            else:
                again = "" if run["created"] else " (already started)"
                parts.append(f"triggered {run['kind']} execution {run['execution']}{again}")
        result.reason = "; ".join(parts + notes)
        return result

    def _start(
        self,
        result: Outcome,
        rule: Rule,
        quake: QuakeRecord,
        best_msg: Any,
        best: dict[str, Any],
        number: int,
        kind: str,
        urgency: str | None,
    ) -> None:
        path = self._event_file(quake.id, number, best_msg)
        values = {**best, "id": quake.id, "report_id": best.get("event_id"), "file": str(path),
                  "format": best.get("source_format")}  # fmt: skip
        mech = best.get("mechanism") or {}
        values.update({k: mech.get(k) for k in ("strike", "dip", "rake")})
        inputs = {k: _input(v, values) for k, v in rule.inputs.items()}
        detail = {
            "quake": quake.id, "rule": rule.name, "kind": kind, "message": result.message_id,
            "magnitude": best["magnitude"], "lat": best["lat"], "lon": best["lon"],
        }  # fmt: skip
        try:
            handle = self.service.start_workflow(
                rule.workflow,
                inputs,
                deployment_id=rule.deployment,
                urgency=urgency,
                idempotency_key=f"quake:{quake.id}:{rule.name}:{number}",
                key_detail=detail,
                owner=EVENTS_OWNER,
            )
        except ToscaError as exc:
            result.runs.append({"rule": rule.name, "kind": kind, "error": str(exc)})
            return
        result.runs.append(_run_entry(rule, kind, handle.execution_id, handle.created))
        result.handles.append(handle)

    def _event_file(self, quake_id: str, number: int, msg: Any, refresh: bool = False) -> Path:
        """The alert a run reads (``$event.file``): the earthquake's best report as it was
        received, written atomically; ``refresh`` rewrites it with a newer estimate."""
        folder = self.service.workspace / ALERTS_DIR / quake_id
        existing = sorted(folder.glob(f"run-{number}.*")) if folder.is_dir() else []
        if existing:
            # The run was given this path: a refinement rewrites it in place (the readers
            # tell QuakeML from JSON by the content, not the name).
            path = existing[0]
            if not refresh:
                return path
        else:
            ext = ".xml" if msg.payload.lstrip().startswith("<") else ".json"
            path = folder / f"run-{number}{ext}"
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
        tmp.write_text(msg.payload, encoding="utf-8")
        os.replace(tmp, path)
        return path


def _run_entry(rule: Rule, kind: str, execution_id: str, created: bool) -> dict[str, Any]:
    return {"rule": rule.name, "deployment": rule.deployment, "workflow": rule.workflow,
            "kind": kind, "execution": execution_id, "created": created}  # fmt: skip


def _input(value: Any, event: dict[str, Any]) -> Any:
    if isinstance(value, str) and value.startswith("$event."):
        return event.get(value[len("$event.") :])
    return value


def _report_key(event: dict[str, Any], payload: str) -> str:
    """One report of one agency: same format, agency, id and update time is the same report
    (the digest stands in for an id or update time the format lacks)."""
    ident = event.get("event_id") or ""
    updated = event.get("updated") or ""
    if not ident or not updated:
        updated = f"{updated}#{hashlib.sha256(payload.encode()).hexdigest()[:16]}"
    return f"{event['source_format']}:{event.get('agency', '')}:{ident}:{updated}"


def _nearest(
    quakes: list[QuakeRecord], event: dict[str, Any], origin: float, rules: RuleSet
) -> QuakeRecord | None:
    """The earthquake this report belongs to: within the window of the rule that fired for
    it (else the default window), the closest in distance."""
    best: tuple[float, QuakeRecord] | None = None
    for q in quakes:
        seconds = q.window_s or rules.default_association_s
        km = q.window_km or rules.default_association_km
        if abs(q.origin_time - origin) > seconds:
            continue
        d = distance_km(event["lat"], event["lon"], q.lat, q.lon)
        if d <= km and (best is None or d < best[0]):
            best = (d, q)
    return None if best is None else best[1]
