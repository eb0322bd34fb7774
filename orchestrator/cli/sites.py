"""``tosca sites trust|list``: the SSH host keys the toolkit trusts for remote sites.

::

    tosca sites trust HOST [--port N] [--fingerprint SHA256:...] [--workspace D]
    tosca sites trust DEPLOYMENT_OR_TEMPLATE NODE [--fingerprint SHA256:...]
    tosca sites list [-o text|json] [--workspace D]

``trust`` fetches the host keys of a login node (``ssh-keyscan``), shows their fingerprints
and records them in the known_hosts file the toolkit manages (``<workspace>/ssh/known_hosts``,
or the site's own ``known_hosts`` property) through ``orchestrator.transport.ssh.trust_host``.
With ``--fingerprint`` only the key with that fingerprint is trusted, and a host that offers
no such key is refused (nothing written): compare it with what the site's admins publish.
A site is named by its Environment node in a deployment (or a template file): its
``login_host``, ``ssh_port`` and ``known_hosts`` properties are used.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import subprocess
from dataclasses import dataclass
from pathlib import Path

import typer

from orchestrator.cli.common import OutputFormat, emit_json, handle_errors
from orchestrator.cli.progress import WORKSPACE_HELP, workspace_default
from orchestrator.errors import UsageError

__all__ = ["KnownKey", "fingerprint", "known_keys", "register", "scan", "site_target"]

_LOCAL = {"", "localhost"}


@dataclass(frozen=True)
class KnownKey:
    """One host key line: host pattern, key type, base64 key, and its SHA256 fingerprint."""

    host: str
    key_type: str
    key: str

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.key)

    @property
    def key_line(self) -> str:
        return f"{self.key_type} {self.key}"


def fingerprint(key_b64: str) -> str:
    """``SHA256:...`` of a base64 public key blob, as ``ssh-keygen -l`` prints it."""
    try:
        blob = base64.b64decode(key_b64, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise UsageError(f"not a base64 SSH public key: {key_b64[:20]}...") from exc
    return "SHA256:" + base64.b64encode(hashlib.sha256(blob).digest()).decode().rstrip("=")


def _parse(lines: list[str]) -> list[KnownKey]:
    keys = []
    for line in lines:
        parts = line.split()
        if len(parts) >= 3 and not line.startswith(("#", "@")):
            keys.append(KnownKey(parts[0], parts[1], parts[2]))
    return keys


def known_keys(path: Path) -> list[KnownKey]:
    """The keys a known_hosts file holds (none if it does not exist)."""
    if not path.exists():
        return []
    return _parse(path.read_text().splitlines())


def scan(address: str, port: int, timeout: float = 10.0) -> list[KnownKey]:
    """The host keys ``address:port`` offers (``ssh-keyscan``); UsageError if none."""
    try:
        proc = subprocess.run(
            ["ssh-keyscan", "-p", str(port), "-T", str(int(timeout)), address],
            capture_output=True,
            text=True,
            timeout=timeout + 5,
            check=False,
        )
    except FileNotFoundError as exc:
        raise UsageError("ssh-keyscan is not installed (package openssh-client)") from exc
    except subprocess.TimeoutExpired as exc:
        raise UsageError(f"{address}:{port} did not answer in {timeout:g} s") from exc
    keys = _parse(proc.stdout.splitlines())
    if not keys:
        raise UsageError(f"{address}:{port} offered no SSH host key (is sshd listening there?)")
    return keys


def site_target(workspace: Path, source: str, node: str) -> tuple[str, int, Path | None]:
    """(login host, SSH port, site known_hosts file or None) of Environment ``node`` in a
    deployment of ``workspace`` or in a template file ``source``."""
    # Deferred: the service pulls in tosca-parser and the engine (CLI start-up).
    from orchestrator.service import Service

    service = Service(workspace)
    try:
        props = service.site_properties(source, node, ("login_host", "ssh_port", "known_hosts"))
    finally:
        service.close()
    login = str(props.get("login_host") or "")
    if login in _LOCAL:
        raise UsageError(f"site '{node}' runs on this host (login_host '{login}'): no SSH to trust")
    known = Path(str(props["known_hosts"])).expanduser() if props.get("known_hosts") else None
    return login, int(props.get("ssh_port") or 22), known


def _pattern(address: str, port: int) -> str:
    return address if port == 22 else f"[{address}]:{port}"


def trust(
    workspace: Path,
    address: str,
    port: int,
    pin: str | None,
    known_hosts: Path | None = None,
) -> tuple[Path, list[KnownKey]]:
    """Trust the keys of ``address:port`` (only the one matching ``pin`` when given) into
    ``known_hosts`` (default: the workspace's managed file). Returns the file and the keys."""
    # Deferred: ssh helpers only for `tosca sites trust` (CLI start-up).
    from orchestrator.transport.ssh import known_hosts_path, trust_host

    path = known_hosts or known_hosts_path(workspace)
    offered = scan(address, port)
    if pin:
        wanted = pin if pin.startswith("SHA256:") else f"SHA256:{pin}"
        match = [k for k in offered if k.fingerprint == wanted]
        if not match:
            shown = ", ".join(f"{k.key_type} {k.fingerprint}" for k in offered)
            raise UsageError(
                f"{_pattern(address, port)} offers no key with fingerprint {wanted} "
                f"(it offers {shown}): NOT trusted. The host may not be the one you expect."
            )
        trust_host(path, address, port, key_line=match[0].key_line)
        return path, match[:1]
    lines = trust_host(path, address, port)
    return path, _parse(lines)


def register(app: typer.Typer) -> None:
    sites = typer.Typer(help="SSH trust of remote sites (login nodes).", no_args_is_help=True)

    @sites.command("trust")
    def trust_cmd(
        target: str = typer.Argument(..., help="HOST, or a deployment id / template file."),
        node: str | None = typer.Argument(None, help="Environment node (with a deployment)."),
        port: int | None = typer.Option(None, "--port", "-p", help="SSH port of HOST."),
        pin: str | None = typer.Option(
            None, "--fingerprint", help="Trust only the key with this SHA256:... fingerprint."
        ),
        workspace: str | None = typer.Option(None, "--workspace", help=WORKSPACE_HELP),
        output: OutputFormat = typer.Option(OutputFormat.text, "-o", "--output"),
    ) -> None:
        """Fetch a site's host keys, show their fingerprints, and trust them."""
        with handle_errors():
            ws = Path(workspace or workspace_default()).resolve()
            site_file: Path | None = None
            if node is not None:
                address, site_port, site_file = site_target(ws, target, node)
                site_port = port or site_port
            else:
                address, site_port = target, port or 22
            path, keys = trust(ws, address, site_port, pin, site_file)
            if output == OutputFormat.json:
                emit_json(
                    {
                        "host": _pattern(address, site_port),
                        "known_hosts": str(path),
                        "keys": [{"type": k.key_type, "fingerprint": k.fingerprint} for k in keys],
                    }
                )
                return
            typer.echo(f"trusted {_pattern(address, site_port)} in {path}:")
            for k in keys:
                typer.echo(f"  {k.key_type:<22} {k.fingerprint}")
            if not pin:
                typer.echo(
                    "  check these fingerprints with the site's published ones "
                    "(or pin one with --fingerprint)"
                )

    @sites.command("list")
    def list_cmd(
        workspace: str | None = typer.Option(None, "--workspace", help=WORKSPACE_HELP),
        output: OutputFormat = typer.Option(OutputFormat.text, "-o", "--output"),
    ) -> None:
        """List the hosts (and key fingerprints) the workspace trusts."""
        # Deferred: ssh helpers only for `tosca sites known-hosts` (CLI start-up).
        from orchestrator.transport.ssh import known_hosts_path

        with handle_errors():
            path = known_hosts_path(Path(workspace or workspace_default()).resolve())
            keys = known_keys(path)
            rows = [
                {"host": k.host, "type": k.key_type, "fingerprint": k.fingerprint} for k in keys
            ]
            if output == OutputFormat.json:
                emit_json({"known_hosts": str(path), "hosts": rows})
                return
            if not rows:
                typer.echo(f"no trusted host yet ({path}); add one with 'tosca sites trust HOST'")
                return
            width = max(len(r["host"]) for r in rows)
            for r in rows:
                typer.echo(f"{r['host']:<{width}}  {r['type']:<22} {r['fingerprint']}")

    app.add_typer(sites, name="sites")
