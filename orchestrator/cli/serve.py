"""``tosca serve [--host H] [--port 9090] [--workspace D]``: the REST API (HPCWaaS-compatible)
over the workspace, in this process, so triggers run in-process (no process per trigger)."""

from __future__ import annotations

import typer

from orchestrator.cli.common import handle_errors
from orchestrator.cli.progress import WORKSPACE_HELP, make_service

__all__ = ["register"]


def register(app: typer.Typer) -> None:
    @app.command("serve")
    def serve_cmd(
        host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on."),
        port: int = typer.Option(9090, "--port", help="Port (upstream HPCWaaS uses 9090)."),
        workspace: str | None = typer.Option(None, "--workspace", help=WORKSPACE_HELP),
        rate: float = typer.Option(20.0, "--rate", help="Triggers per second per token."),
        burst: int = typer.Option(300, "--burst", help="Triggers at once per token."),
        oidc_issuer: str | None = typer.Option(
            None, "--oidc-issuer", help="Also accept JWTs of this OIDC issuer (its URL)."
        ),
        oidc_audience: str = typer.Option("tosca", "--oidc-audience", help="Their 'aud'."),
        oidc_admin_group: str | None = typer.Option(
            None, "--oidc-admin-group", help="Members of this 'groups' entry are admins."
        ),
        event_rules: str | None = typer.Option(
            None, "--event-rules", help="Rules for alerts POSTed to /events (YAML)."
        ),
    ) -> None:
        """Serve the REST API: GET /workflows, POST /workflows/{id}, GET|DELETE
        /executions/{id}, GET /executions/{id}/logs, /deployments, POST|GET /events,
        /health; the OpenAPI document at /openapi.json."""
        with handle_errors():
            # Deferred: FastAPI and uvicorn only for `tosca serve` (CLI start-up).
            import uvicorn

            from orchestrator.api.app import RateLimit, create_app  # FastAPI: serve only
            from orchestrator.api.oidc import OidcVerifier  # PyJWT: serve only

            service = make_service(workspace)
            resumed = service.resume_orphans()
            for execution_id in resumed:
                typer.echo(f"resuming execution {execution_id}", err=True)
            oidc = None
            if oidc_issuer:
                oidc = OidcVerifier(oidc_issuer, oidc_audience, admin_group=oidc_admin_group)
            from orchestrator.events.processor import AlertProcessor  # serve only
            from orchestrator.events.rules import load_rules  # serve only

            events = AlertProcessor(service, load_rules(event_rules) if event_rules else None)
            api = create_app(service, rate_limit=RateLimit(rate, burst), oidc=oidc, events=events)
            typer.echo(f"serving {service.workspace} on http://{host}:{port}", err=True)
            uvicorn.run(api, host=host, port=port, log_level="warning", access_log=False)
