"""Runtime configuration: built once at the edge (launcher / first task), then passed down.

Sources, later wins: defaults < config file (YAML or JSON, ``--config`` or
``TOSCA_RUNTIME_CONFIG``) < environment (``TOSCA_RUNTIME_BACKEND``, ``TOSCA_RUNTIME_CPUS``,
``TOSCA_RUNTIME_MEMORY_MB``, ``TOSCA_RUNTIME_GPUS``, ``TOSCA_URGENCY``,
``TOSCA_RUNTIME_EVENTS``, ``TOSCA_RUNTIME_PYTHON_TASKS``) < explicit launcher options.

Config file layout (every key optional)::

    backend: local            # local | slurm | dry-run
    urgency: routine          # routine | high | urgent | emergency
    retries: 2                # resubmissions under RETRY (3 attempts in all)
    local:
      cpus: 8
      memory_mb: 16000
      gpus: [0, 1]            # ids exported to GPU tasks; fake ids are fine for tests
      python_tasks: auto      # auto | thread | process
    http:
      services:
        dls: {base_url: "http://127.0.0.1:8080/api", timeout: 10, headers: {}}
    slurm:
      shared_dir: /scratch/me/.runtime
      partitions: {routine: batch, urgent: urgent, emergency: urgent}
      qos: {emergency: high}
      extra_args: ["--account=proj"]
      poll_interval: 0.2
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from workflows.runtime.exceptions import TaskDefinitionError

__all__ = ["URGENCY_LEVELS", "RuntimeConfig", "SlurmConfig", "load_config", "urgency_rank"]

URGENCY_LEVELS = ("routine", "high", "urgent", "emergency")
BACKENDS = ("local", "slurm", "dry-run")


def urgency_rank(level: str) -> int:
    """Rank of an urgency level (routine 0 ... emergency 3); unknown levels are an error."""
    try:
        return URGENCY_LEVELS.index(level.lower())
    except ValueError:
        raise TaskDefinitionError(
            f"unknown urgency {level!r}; expected one of {', '.join(URGENCY_LEVELS)}"
        ) from None


@dataclass(frozen=True)
class SlurmConfig:
    """How the Slurm backend turns tasks into jobs."""

    shared_dir: str = ""
    partitions: dict[str, str] = field(default_factory=dict)
    qos: dict[str, str] = field(default_factory=dict)
    extra_args: tuple[str, ...] = ()
    poll_interval: float = 0.2
    python: str = ""


@dataclass(frozen=True)
class RuntimeConfig:
    """Typed runtime settings (see the module docstring for the file layout)."""

    backend: str = "local"
    urgency: str = "routine"
    retries: int = 2
    cpus: int = 0  # 0: os.cpu_count()
    memory_mb: int = 0  # 0: detected from /proc/meminfo
    gpus: tuple[str, ...] = ()
    python_tasks: str = "auto"
    events_path: str = ""
    http_services: dict[str, dict[str, Any]] = field(default_factory=dict)
    slurm: SlurmConfig = field(default_factory=SlurmConfig)

    def __post_init__(self) -> None:
        if self.backend not in BACKENDS:
            raise TaskDefinitionError(
                f"unknown backend {self.backend!r}; expected one of {', '.join(BACKENDS)}"
            )
        urgency_rank(self.urgency)
        if self.python_tasks not in ("auto", "thread", "process"):
            raise TaskDefinitionError(
                f"python_tasks must be auto, thread or process, not {self.python_tasks!r}"
            )

    def with_overrides(self, **changes: Any) -> RuntimeConfig:
        """Copy with the non-None ``changes`` applied."""
        return replace(self, **{k: v for k, v in changes.items() if v is not None})


def _parse_gpus(value: Any) -> tuple[str, ...]:
    if value is None or value == "":
        return ()
    if isinstance(value, int):
        return tuple(str(i) for i in range(value))
    if isinstance(value, str):
        return tuple(p.strip() for p in value.split(",") if p.strip())
    return tuple(str(v) for v in value)


def _read_file(path: str) -> dict[str, Any]:
    text = Path(path).read_text(encoding="utf-8")
    if path.endswith(".json"):
        data = json.loads(text)
    else:
        import yaml  # lazy: only when a YAML config is given

        data = yaml.safe_load(text) or {}
    if not isinstance(data, dict):
        raise TaskDefinitionError(f"{path}: the runtime configuration must be a mapping")
    return data


def load_config(path: str | None = None, env: dict[str, str] | None = None) -> RuntimeConfig:
    """Build the configuration from an optional file and the environment."""
    env = dict(os.environ) if env is None else env
    path = path or env.get("TOSCA_RUNTIME_CONFIG") or None
    data = _read_file(path) if path else {}
    local = data.get("local") or {}
    slurm = data.get("slurm") or {}
    http = data.get("http") or {}
    try:
        cfg = RuntimeConfig(
            backend=env.get("TOSCA_RUNTIME_BACKEND") or data.get("backend", "local"),
            urgency=(env.get("TOSCA_URGENCY") or data.get("urgency", "routine")).lower(),
            retries=int(data.get("retries", 2)),
            cpus=int(env.get("TOSCA_RUNTIME_CPUS") or local.get("cpus", 0)),
            memory_mb=int(env.get("TOSCA_RUNTIME_MEMORY_MB") or local.get("memory_mb", 0)),
            gpus=_parse_gpus(
                env["TOSCA_RUNTIME_GPUS"] if "TOSCA_RUNTIME_GPUS" in env else local.get("gpus")
            ),
            python_tasks=env.get("TOSCA_RUNTIME_PYTHON_TASKS") or local.get("python_tasks", "auto"),
            events_path=env.get("TOSCA_RUNTIME_EVENTS", ""),
            http_services=dict(http.get("services") or {}),
            slurm=SlurmConfig(
                shared_dir=str(slurm.get("shared_dir", "")),
                partitions=dict(slurm.get("partitions") or {}),
                qos=dict(slurm.get("qos") or {}),
                extra_args=tuple(slurm.get("extra_args") or ()),
                poll_interval=float(slurm.get("poll_interval", 0.2)),
                python=str(slurm.get("python", "")),
            ),
        )
    except (TypeError, ValueError) as exc:
        where = path or "environment"
        raise TaskDefinitionError(f"{where}: invalid runtime configuration: {exc}") from None
    return cfg
