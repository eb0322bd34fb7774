"""``tosca events listen|replay|list`` and ``tosca events rules validate``: the emergency
event hooks (see ``orchestrator.events``)."""

from __future__ import annotations

import json
import os
import sys
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from orchestrator.cli.common import OutputFormat, emit_json, handle_errors
from orchestrator.cli.progress import WORKSPACE_HELP, make_service
from orchestrator.errors import UsageError

if TYPE_CHECKING:
    from orchestrator.events.processor import AlertProcessor
    from orchestrator.service import Service

__all__ = ["register"]


def _echo(line: str) -> None:
    typer.echo(line)
    sys.stdout.flush()


def _processor(
    service: Service, rules: str | None, policies: bool, now: Any = None
) -> AlertProcessor:
    # Deferred: the event hooks load only for `tosca events` (CLI start-up).
    from orchestrator.events.processor import AlertProcessor
    from orchestrator.events.rules import load_rules

    ruleset = load_rules(rules) if rules else None
    kw = {"now": now} if now is not None else {}
    processor = AlertProcessor(
        service, ruleset, policies=policies, log=lambda line: typer.echo(line, err=True), **kw
    )
    if not processor.rules().rules:
        raise UsageError(
            "no rules: give --rules FILE, or deploy a template with an "
            "eflows4hpc.policies.EventTrigger policy"
        )
    return processor


def _parse_time(text: str) -> float:
    try:
        t = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise UsageError(
            f"--now {text!r}: give an ISO 8601 time, e.g. 2026-09-21T07:10:00Z"
        ) from None
    return (t if t.tzinfo else t.replace(tzinfo=UTC)).timestamp()


def _alert_payloads(path: Path) -> list[tuple[str, str]]:
    """(delivery key, payload) of every alert in a file: one alert, a JSON array of
    alerts, a GeoJSON FeatureCollection (one per feature) or JSON Lines (one per line)."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        raise UsageError(f"{path}: cannot read ({exc.strerror})") from None
    name = str(path)
    if path.suffix.lower() in (".jsonl", ".ndjson"):
        return [
            (f"{name}:{i + 1}", line) for i, line in enumerate(text.splitlines()) if line.strip()
        ]
    if not text.lstrip().startswith("<"):
        try:
            doc = json.loads(text)
        except ValueError:
            doc = None
        if isinstance(doc, list):
            return [(f"{name}[{i}]", json.dumps(item)) for i, item in enumerate(doc)]
        if isinstance(doc, dict) and doc.get("type") == "FeatureCollection":
            features = doc.get("features")
            if isinstance(features, list) and len(features) > 1:
                return [(f"{name}[{i}]", json.dumps(f)) for i, f in enumerate(features)]
    return [(name, text)]


def register(app: typer.Typer) -> None:
    events = typer.Typer(
        help="Emergency event hooks: earthquake alerts -> urgent runs.", no_args_is_help=True
    )
    app.add_typer(events, name="events")
    rules_app = typer.Typer(help="Event rules files.", no_args_is_help=True)
    events.add_typer(rules_app, name="rules")

    @events.command("listen")
    def listen_cmd(
        source: list[str] = typer.Option(
            [], "--source", "-s", help="usgs:URL, emsc:URL (ws:// or http:// SSE) or dir:PATH."
        ),
        rules: str | None = typer.Option(None, "--rules", "-r", help="Rules file (YAML)."),
        poll: float = typer.Option(30.0, "--poll", help="Seconds between polls of a feed."),
        no_policies: bool = typer.Option(
            False, "--no-policies", help="Ignore the deployed templates' EventTrigger policies."
        ),
        workspace: str | None = typer.Option(None, "--workspace", help=WORKSPACE_HELP),
    ) -> None:
        """Listen for alerts until Ctrl-C; one status line per alert."""
        # Deferred: the event hooks load only for `tosca events` (CLI start-up).
        from orchestrator.cli.progress import cancel_on_sigint
        from orchestrator.events.listener import Listener
        from orchestrator.events.sources import parse_source

        with handle_errors():
            if not source:
                raise UsageError("give at least one --source (usgs:URL, emsc:URL, dir:PATH)")
            if poll <= 0:
                raise UsageError("--poll must be a positive number of seconds")
            service = make_service(workspace)
            processor = _processor(service, rules, not no_policies)
            store = service.store
            log = lambda line: _echo(line)  # noqa: E731
            sources = [
                parse_source(s, poll=poll, log=log, cursor=store.cursor,
                             save_cursor=store.save_cursor)
                for s in source
            ]  # fmt: skip
            listener = Listener(processor, sources, out=log)
            names = ", ".join(s.name for s in sources)
            _echo(f"listening on {names}; {len(processor.rules().rules)} rules; Ctrl-C stops")
            with cancel_on_sigint(quiet=True) as stop:
                thread = threading.Thread(target=listener.run, args=(stop,), daemon=True)
                thread.start()
                while thread.is_alive():
                    thread.join(0.5)
            _echo(f"stopped after {listener.outcomes} alerts")
            # Every alert and transition is committed already. Leave without interpreter
            # finalisation: source and run threads may still be inside httpx or sqlite3,
            # and tearing the interpreter down under them can crash it (seen: SIGSEGV).
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(0)

    @events.command("replay")
    def replay_cmd(
        files: list[Path] = typer.Argument(..., help="Alert files (JSON, QuakeML, JSON Lines)."),
        rules: str | None = typer.Option(None, "--rules", "-r", help="Rules file (YAML)."),
        now: str | None = typer.Option(
            None, "--now", help="Judge ages as if it were this time (ISO 8601), for old alerts."
        ),
        wait: bool = typer.Option(False, "--wait", help="Wait for the started runs to end."),
        no_policies: bool = typer.Option(False, "--no-policies"),
        workspace: str | None = typer.Option(None, "--workspace", help=WORKSPACE_HELP),
        output: OutputFormat = typer.Option(OutputFormat.text, "-o", "--output"),
    ) -> None:
        """Feed alert files through the hooks, as a listener would receive them."""
        with handle_errors():
            clock = None
            if now is not None:
                fixed = _parse_time(now)
                clock = lambda: fixed  # noqa: E731
            service = make_service(workspace)
            processor = _processor(service, rules, not no_policies, clock)
            processor.recover()
            outcomes = []
            for path in files:
                for _delivery, payload in _alert_payloads(path):
                    outcome = processor.submit(f"replay:{path.name}", payload)
                    if outcome is None:
                        continue
                    outcomes.append(outcome)
                    if output == OutputFormat.text:
                        _echo(outcome.line())
            handles = [h for o in outcomes for h in o.handles]
            for handle in handles:
                job = handle.wait_job(120)
                if output == OutputFormat.text:
                    _echo(f"execution {handle.execution_id} job {job or '-'}")
            if wait:
                for handle in handles:
                    result = handle.wait()
                    if output == OutputFormat.text:
                        _echo(f"execution {handle.execution_id}: {result.status}")
            counts: dict[str, int] = {}
            for o in outcomes:
                counts[o.outcome] = counts.get(o.outcome, 0) + 1
            if output == OutputFormat.json:
                emit_json({
                    "counts": counts,
                    "outcomes": [_outcome_json(o) for o in outcomes],
                })  # fmt: skip
            else:
                summary = ", ".join(f"{n} {k}" for k, n in sorted(counts.items()))
                _echo(f"{len(outcomes)} alerts: {summary or 'none'}")
            service.close()

    @events.command("list")
    def list_cmd(
        limit: int = typer.Option(50, "--limit", "-n", help="The last N alerts."),
        workspace: str | None = typer.Option(None, "--workspace", help=WORKSPACE_HELP),
        output: OutputFormat = typer.Option(OutputFormat.text, "-o", "--output"),
    ) -> None:
        """The alerts received, with their outcome, earthquake and runs."""
        with handle_errors():
            service = make_service(workspace)
            messages = service.store.alert_messages(limit=limit)
            if output == OutputFormat.json:
                emit_json({
                    "alerts": [_message_json(m) for m in messages],
                    "earthquakes": [q.__dict__ for q in service.store.quakes()],
                    "counts": service.store.alert_counts(),
                })  # fmt: skip
                return
            for m in messages:
                ev = m.event or {}
                when = datetime.fromtimestamp(m.received_at, UTC).strftime("%Y-%m-%d %H:%M:%S")
                what = f"M{ev['magnitude']:.1f} {ev.get('agency', '')}" if ev else "-"
                typer.echo(f"#{m.id:<5} {when} {m.source[:40]:<40} {what:<12} "
                           f"{m.outcome or m.state}: {m.reason or ''}")  # fmt: skip

    @rules_app.command("validate")
    def validate_cmd(
        file: Path = typer.Argument(..., help="Rules file (YAML)."),
    ) -> None:
        """Check a rules file; every problem is shown at its file:line."""
        # Deferred: the event hooks load only for `tosca events` (CLI start-up).
        from orchestrator.events.rules import load_rules

        with handle_errors():
            ruleset = load_rules(file)
            for rule in ruleset.rules:
                typer.echo(f"{rule.name}: {rule.deployment}/{rule.workflow}"
                           f" urgency {rule.urgency or 'template'} ({rule.origin})")  # fmt: skip
            typer.echo(f"{file}: {len(ruleset.rules)} rules, valid")


def _outcome_json(o: Any) -> dict[str, Any]:
    return {
        "message": o.message_id,
        "source": o.source,
        "outcome": o.outcome,
        "reason": o.reason,
        "earthquake": o.quake_id,
        "runs": o.runs,
    }


def _message_json(m: Any) -> dict[str, Any]:
    return {
        "id": m.id,
        "source": m.source,
        "received_at": m.received_at,
        "state": m.state,
        "outcome": m.outcome,
        "reason": m.reason,
        "earthquake": m.quake_id,
        "event": m.event,
        "runs": m.triggered,
    }
