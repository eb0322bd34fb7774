"""``tosca remote ...``: an end user's client of a ``tosca serve`` (or any HPCWaaS-compatible)
REST API: list and trigger workflows, follow, cancel and read the logs of executions.

The API URL and token come from ``--url`` / ``--token``, else ``TOSCA_API_URL`` /
``TOSCA_API_TOKEN`` (upstream ``waas``' ``HW_ACCESS_TOKEN`` accepted), else the config file
(``$TOSCA_REMOTE_CONFIG`` or ``~/.config/tosca/remote.yaml``, keys ``url`` and ``token``).
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import typer

from orchestrator.cli.common import OutputFormat, emit_json, handle_errors, parse_kv
from orchestrator.errors import ServiceError, UsageError

__all__ = ["RemoteClient", "register", "settings"]

DEFAULT_URL = "http://127.0.0.1:9090"
FINAL = {"SUCCEEDED", "FAILED", "CANCELLED"}
URL_HELP = "API URL (else $TOSCA_API_URL, the config file, or http://127.0.0.1:9090)."
TOKEN_HELP = "API token (else $TOSCA_API_TOKEN / $HW_ACCESS_TOKEN or the config file)."


def _config_file() -> Path:
    given = os.environ.get("TOSCA_REMOTE_CONFIG")
    return Path(given) if given else Path.home() / ".config" / "tosca" / "remote.yaml"


def settings(url: str | None, token: str | None) -> tuple[str, str]:
    """The API URL and token from flags, environment or config file, in that order."""
    path = _config_file()
    config: dict[str, Any] = {}
    if path.is_file():
        # Deferred: YAML only when a config file exists (CLI start-up).
        import yaml  # config file only

        try:
            loaded = yaml.safe_load(path.read_text())
        except (OSError, yaml.YAMLError) as exc:
            raise UsageError(f"{path}: cannot read the remote config: {exc}") from None
        if loaded is not None and not isinstance(loaded, dict):
            raise UsageError(f"{path}: expected a mapping with 'url' and 'token'")
        config = loaded or {}
    env = os.environ
    url = url or env.get("TOSCA_API_URL") or config.get("url") or DEFAULT_URL
    token = token or env.get("TOSCA_API_TOKEN") or env.get("HW_ACCESS_TOKEN") or config.get("token")
    if not token:
        raise UsageError(
            "no API token: give --token, set TOSCA_API_TOKEN, or put 'token:' in "
            f"{path} (an operator makes one with `tosca tokens create --user YOU`)"
        )
    return str(url).rstrip("/"), str(token)


class RemoteClient:
    """The REST calls, with every failure as a one-line error naming the URL and call."""

    def __init__(self, url: str, token: str, timeout: float = 60.0) -> None:
        # Deferred: httpx only for `tosca remote` (CLI start-up).
        import httpx  # remote commands only

        self.url = url
        self._httpx = httpx
        self._client = httpx.Client(
            base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=timeout
        )

    def call(self, method: str, path: str, **kwargs: Any) -> Any:
        where = f"{method} {self.url}{path}"
        try:
            response = self._client.request(method, path, **kwargs)
        except self._httpx.HTTPError as exc:
            raise ServiceError(f"cannot reach the API ({where}): {exc}") from None
        if response.status_code >= 400:
            try:
                detail = response.json().get("detail", response.text)
            except ValueError:
                detail = response.text
            raise ServiceError(f"{where}: {response.status_code} {detail}")
        return response.json() if response.content else {}

    def close(self) -> None:
        self._client.close()


def _follow_logs(client: RemoteClient, execution_id: str, echo_lines: bool) -> str:
    """Long-poll the execution's logs (printing them when asked) until it ends: its status."""
    offset = 0
    while True:
        page = client.call(
            "GET", f"/executions/{execution_id}/logs",
            params={"from": offset, "size": 500, "timeout": "30s"},
        )  # fmt: skip
        for line in page.get("logs", []):
            if echo_lines:
                typer.echo(f"{line['timestamp']} {line['level']:<5} {line['content']}")
        offset += len(page.get("logs", []))
        status = str(client.call("GET", f"/executions/{execution_id}")["status"])
        if status in FINAL and offset >= int(page.get("total_results", offset)):
            return status
        if not page.get("logs"):
            time.sleep(0.2)


def register(app: typer.Typer) -> None:
    remote = typer.Typer(help="Client of a REST API (tosca serve, HPCWaaS).", no_args_is_help=True)
    workflows = typer.Typer(help="Workflows you may trigger.", no_args_is_help=True)
    executions = typer.Typer(help="Your executions.", no_args_is_help=True)
    remote.add_typer(workflows, name="workflows")
    remote.add_typer(executions, name="executions")
    ssh_keys = typer.Typer(help="Your SSH keys for the HPC site.", no_args_is_help=True)
    remote.add_typer(ssh_keys, name="ssh-keys")
    app.add_typer(remote, name="remote")

    def client_for(url: str | None, token: str | None) -> RemoteClient:
        return RemoteClient(*settings(url, token))

    @workflows.command("list")
    def list_cmd(
        url: str | None = typer.Option(None, "--url", help=URL_HELP),
        token: str | None = typer.Option(None, "--token", help=TOKEN_HELP),
        output: OutputFormat = typer.Option(OutputFormat.text, "-o", "--output"),
    ) -> None:
        """List the workflows you may trigger (id, description, inputs)."""
        with handle_errors():
            found = client_for(url, token).call("GET", "/workflows")["workflows"]
            if output == OutputFormat.json:
                emit_json(found)
                return
            for wf in found:
                names = ", ".join(f"{k}: {v.get('type', '?')}" for k, v in wf["inputs"].items())
                typer.echo(f"{wf['id']}  {(wf.get('description') or '').strip()}")
                if names:
                    typer.echo(f"    inputs: {names}")

    @workflows.command("trigger")
    def trigger_cmd(
        workflow_id: str = typer.Argument(..., help="application@deployment@workflow"),
        inputs: list[str] = typer.Option([], "-i", "--input", help="Input key=value."),
        follow: bool = typer.Option(False, "-f", "--follow", help="Wait for the end."),
        logs: bool = typer.Option(False, "-l", "--logs", help="With -f, print the logs."),
        url: str | None = typer.Option(None, "--url", help=URL_HELP),
        token: str | None = typer.Option(None, "--token", help=TOKEN_HELP),
        output: OutputFormat = typer.Option(OutputFormat.text, "-o", "--output"),
    ) -> None:
        """Trigger a workflow; prints the execution id (with -f, waits and exits non-zero
        unless it SUCCEEDED)."""
        with handle_errors():
            client = client_for(url, token)
            body = {"inputs": parse_kv(inputs)}
            execution_id = client.call("POST", f"/workflows/{workflow_id}", json=body)["id"]
            status = _follow_logs(client, execution_id, logs) if follow else None
            if output == OutputFormat.json:
                emit_json({"id": execution_id, **({"status": status} if status else {})})
            else:
                typer.echo(execution_id if status is None else f"{execution_id} {status}")
            if status is not None and status != "SUCCEEDED":
                raise typer.Exit(1)

    @executions.command("status")
    def status_cmd(
        execution_id: str = typer.Argument(...),
        url: str | None = typer.Option(None, "--url", help=URL_HELP),
        token: str | None = typer.Option(None, "--token", help=TOKEN_HELP),
        output: OutputFormat = typer.Option(OutputFormat.text, "-o", "--output"),
    ) -> None:
        """An execution's status, its steps and job ids, and its outputs."""
        with handle_errors():
            ex = client_for(url, token).call("GET", f"/executions/{execution_id}")
            if output == OutputFormat.json:
                emit_json(ex)
                return
            typer.echo(
                f"{ex['id']} {ex['status']} ({ex.get('workflow')} on {ex.get('deployment')})"
            )
            for step in ex.get("steps", []):
                if step.get("operation"):
                    job = f" job {step['job_id']}" if step.get("job_id") else ""
                    typer.echo(f"  {step['id']}: {step['status']}{job}")
            for name, value in (ex.get("outputs") or {}).items():
                typer.echo(f"  output {name} = {value}")
            if ex.get("error"):
                typer.echo(f"  error: {ex['error']}")

    @executions.command("cancel")
    def cancel_cmd(
        execution_id: str = typer.Argument(...),
        url: str | None = typer.Option(None, "--url", help=URL_HELP),
        token: str | None = typer.Option(None, "--token", help=TOKEN_HELP),
    ) -> None:
        """Cancel an execution (its jobs are cancelled)."""
        with handle_errors():
            client_for(url, token).call("DELETE", f"/executions/{execution_id}")
            typer.echo(f"cancel requested for {execution_id}")

    @executions.command("logs")
    def logs_cmd(
        execution_id: str = typer.Argument(...),
        follow: bool = typer.Option(False, "-f", "--follow", help="Until the execution ends."),
        url: str | None = typer.Option(None, "--url", help=URL_HELP),
        token: str | None = typer.Option(None, "--token", help=TOKEN_HELP),
    ) -> None:
        """An execution's log lines (with -f, as they come, until it ends)."""
        with handle_errors():
            client = client_for(url, token)
            if follow:
                _follow_logs(client, execution_id, echo_lines=True)
                return
            page = client.call("GET", f"/executions/{execution_id}/logs",
                               params={"from": 0, "size": 10000, "timeout": "0s"})  # fmt: skip
            for line in page.get("logs", []):
                typer.echo(f"{line['timestamp']} {line['level']:<5} {line['content']}")

    @ssh_keys.command("key-gen")
    def key_gen_cmd(
        url: str | None = typer.Option(None, "--url", help=URL_HELP),
        token: str | None = typer.Option(None, "--token", help=TOKEN_HELP),
        output: OutputFormat = typer.Option(OutputFormat.text, "-o", "--output"),
    ) -> None:
        """Make a key pair on the server; prints the public key to add to your HPC account's
        ~/.ssh/authorized_keys (the private key never leaves the server)."""
        with handle_errors():
            key = client_for(url, token).call("POST", "/ssh_keys")
            if output == OutputFormat.json:
                emit_json(key)
                return
            typer.echo(key["public_key"])
            typer.echo(f"key {key['id']}: add this line to ~/.ssh/authorized_keys", err=True)

    @ssh_keys.command("list")
    def keys_list_cmd(
        url: str | None = typer.Option(None, "--url", help=URL_HELP),
        token: str | None = typer.Option(None, "--token", help=TOKEN_HELP),
        output: OutputFormat = typer.Option(OutputFormat.text, "-o", "--output"),
    ) -> None:
        """Your SSH keys (public parts)."""
        with handle_errors():
            keys = client_for(url, token).call("GET", "/ssh_keys")["ssh_keys"]
            if output == OutputFormat.json:
                emit_json(keys)
                return
            for key in keys:
                typer.echo(f"{key['id']}  {key['public_key']}")
