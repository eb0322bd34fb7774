"""The UCIS4EQ-style services (``python -m workflows.earthquake.services``) as a real uvicorn
process on loopback, with a faults file the tests write to inject failures."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Services:
    url: str
    state: Path
    faults: Path
    proc: subprocess.Popen[bytes]

    def fault(self, step: str, mode: str | None, delay: float = 0.0) -> None:
        current = json.loads(self.faults.read_text() or "{}") if self.faults.exists() else {}
        if mode is None:
            current.pop(step, None)
        else:
            current[step] = {"mode": mode, "delay": delay}
        self.faults.write_text(json.dumps(current))

    def get(self, path: str) -> Any:
        return httpx.get(self.url + path, timeout=10).json()


def start_services(state: Path, faults: Path, start_delay: float = 0.0) -> Services:
    url_file = state.parent / f"{state.name}.url"
    url_file.unlink(missing_ok=True)
    argv = [sys.executable, "-m", "workflows.earthquake.services", "--state", str(state),
            "--port-file", str(url_file), "--start-delay", str(start_delay)]  # fmt: skip
    proc = subprocess.Popen(argv, cwd=ROOT, env={**_env(), "UCIS4EQ_FAULTS": str(faults)},
                            stdout=subprocess.DEVNULL)  # fmt: skip
    end = time.monotonic() + 30 + start_delay
    while not url_file.exists():
        if time.monotonic() > end or proc.poll() is not None:
            proc.kill()
            raise RuntimeError("the seismic services did not start")
        time.sleep(0.05)
    return Services(url_file.read_text().strip(), state, faults, proc)


def _env() -> dict[str, str]:
    import os

    return dict(os.environ)


@contextmanager
def running_services(tmp_path: Path) -> Iterator[Services]:
    services = start_services(tmp_path / "state", tmp_path / "faults.json")
    try:
        yield services
    finally:
        services.proc.kill()
        services.proc.wait()
