"""Where an operation or a command runs: this host, or a site login node over SSH."""

from __future__ import annotations

import re
from dataclasses import dataclass

from orchestrator.errors import UsageError

__all__ = ["HostSpec"]


@dataclass(frozen=True)
class HostSpec:
    """Where an operation runs: the orchestrator host, or a site login node over SSH."""

    name: str = "localhost"
    connection: str = "local"  # "local" | "ssh"
    address: str | None = None
    port: int = 22
    user: str | None = None
    private_key_file: str | None = None
    known_hosts_file: str | None = None

    def __post_init__(self) -> None:
        # user and address reach an ssh argv and Ansible's inventory: a value that starts
        # with '-' would be read as an option (``-oProxyCommand=...``), so refuse it here,
        # where every HostSpec is made, before any command line exists.
        for name in ("name", "address", "user"):
            value = getattr(self, name)
            if value is not None and not _SAFE_HOST_FIELD.fullmatch(str(value)):
                raise UsageError(
                    f"host {name} {str(value)[:80]!r} is not valid: it must not start with '-' "
                    "nor contain spaces, quotes, '@', '/' or control characters"
                )
        if not isinstance(self.port, int) or not 0 < self.port < 65536:
            raise UsageError(f"host port {self.port!r} is not a TCP port (1-65535)")


# A host name, an IPv4 / IPv6 address (brackets allowed) or a login name; never an option.
_SAFE_HOST_FIELD = re.compile(r"[A-Za-z0-9_\[:][A-Za-z0-9_.:%\[\]-]{0,252}")
