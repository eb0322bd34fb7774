"""Shared fixtures for tests that use the real local services.

The CI (``make test``) starts Slurm (scripts/slurm-up.sh) and sshd (scripts/sshd-up.sh)
before pytest: a test marked ``slurm`` or ``ssh`` that finds its service down FAILS with the
command to run, it is never skipped.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def sample_data(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Generated data files in the formats of ``../shared/data`` (see tests/support/sample_data.py):
    ``strait_nc`` (GEBCO-style NetCDF), ``japan_asc`` (ESRI ASCII), ``pois`` (HySEA points),
    ``tas`` / ``pr`` / ``areacella`` / ``sftlf`` (CMIP6-style)."""
    from tests.support import sample_data as gen

    root = tmp_path_factory.mktemp("sample_data")
    return {
        "strait_nc": gen.write_gebco_like(root / "strait_15s.nc"),
        "japan_asc": gen.write_esri_ascii(root / "japan_1m.asc"),
        "pois": gen.write_pois(root / "strait_pois.dat"),
        **gen.write_cmip_like(root / "climate"),
    }


SSHD_STATE = Path("/var/lib/tosca-test")  # written by scripts/sshd-up.sh
SSHD_PORT = 2222
SSHD_USER = "toscauser"


def _run(argv: list[str], timeout: float = 10.0) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False)


@pytest.fixture(scope="session")
def slurm_cluster() -> str:
    """Asserts the local Slurm is up and idle-capable; returns the node name."""
    if shutil.which("scontrol") is None:
        pytest.fail("Slurm is not installed: run `make services` (scripts/slurm-up.sh)")
    ping = _run(["scontrol", "ping"])
    if "is UP" not in ping.stdout:
        pytest.fail("the local Slurm is not running: run scripts/slurm-up.sh (or `make services`)")
    node = _run(["sinfo", "-h", "-o", "%n"]).stdout.split()
    if not node:
        pytest.fail("the local Slurm has no node: run scripts/slurm-up.sh")
    return node[0]


class JobTracker:
    """Remembers job ids submitted by a test and cancels them all at teardown."""

    def __init__(self) -> None:
        self.ids: list[str] = []

    def add(self, job_id: str) -> str:
        self.ids.append(str(job_id))
        return str(job_id)

    def cancel_all(self) -> None:
        if self.ids:
            _run(["scancel", *self.ids])


@pytest.fixture
def slurm_jobs(slurm_cluster: str) -> Iterator[JobTracker]:
    """Track Slurm jobs a test submits; they are scancelled afterwards, whatever happens."""
    tracker = JobTracker()
    try:
        yield tracker
    finally:
        tracker.cancel_all()


@pytest.fixture(scope="session")
def sshd_site() -> dict[str, object]:
    """The loopback sshd of scripts/sshd-up.sh: address, port, user, key and host key."""
    key = SSHD_STATE / "id_ed25519"
    host_pub = SSHD_STATE / "ssh_host_ed25519_key.pub"
    if not key.exists() or not host_pub.exists():
        pytest.fail("the test sshd is not set up: run scripts/sshd-up.sh (or `make services`)")
    probe = _run(["ssh-keyscan", "-p", str(SSHD_PORT), "-T", "3", "127.0.0.1"])
    if not probe.stdout.strip():
        pytest.fail(f"no sshd on 127.0.0.1:{SSHD_PORT}: run scripts/sshd-up.sh")
    return {
        "address": "127.0.0.1",
        "port": SSHD_PORT,
        "user": SSHD_USER,
        "key": str(key),
        "host_key": host_pub.read_text().strip(),
    }
