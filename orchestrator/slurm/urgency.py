"""Urgency levels: how urgently a job must run, mapped per site to Slurm options.

Levels, least to most urgent: ``routine``, ``high``, ``urgent``, ``emergency``. A site (the
Environment node's ``urgency_levels`` property) maps each to partition / qos / nice /
reservation / time_limit (minutes) / deadline (seconds after submission). A level the site
does not map takes the default below: on the bundled local Slurm the ``urgent`` partition
(PriorityTier 10, preempt/partition_prio with REQUEUE) preempts ``batch`` jobs.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from orchestrator.errors import UsageError
from orchestrator.slurm.spec import JobSpec

__all__ = ["DEFAULT_LEVELS", "LEVELS", "UrgencyOptions", "apply_urgency", "resolve_urgency"]

LEVELS = ("routine", "high", "urgent", "emergency")

_FIELDS = ("partition", "qos", "nice", "reservation", "time_limit", "deadline")


@dataclass(frozen=True)
class UrgencyOptions:
    """Scheduler options of one urgency level on one site (None = scheduler default)."""

    level: str
    partition: str | None = None
    qos: str | None = None
    nice: int | None = None
    reservation: str | None = None
    time_limit: int | None = None
    deadline: int | None = None


DEFAULT_LEVELS: dict[str, dict[str, Any]] = {
    "routine": {},
    # No portable way to rank above routine without site policy: the site maps it (QOS, nice).
    "high": {},
    "urgent": {"partition": "urgent"},
    "emergency": {"partition": "urgent"},
}


def resolve_urgency(level: str | None, site_levels: Mapping[str, Any] | None) -> UrgencyOptions:
    """The options for ``level`` (default ``routine``) on a site; a site entry replaces the
    default of that level as a whole. Raises UsageError for an unknown level or field."""
    name = (level or "routine").strip().lower()
    if name not in LEVELS:
        raise UsageError(f"unknown urgency level {level!r}; expected one of {', '.join(LEVELS)}")
    site = dict(site_levels or {})
    entry = site.get(name)
    if entry is None:
        entry = DEFAULT_LEVELS[name]
    if not isinstance(entry, Mapping):
        raise UsageError(f"urgency level {name!r}: expected a mapping, got {entry!r}")
    unknown = set(entry) - set(_FIELDS)
    if unknown:
        raise UsageError(
            f"urgency level {name!r}: unknown field(s) {', '.join(sorted(unknown))}; "
            f"expected {', '.join(_FIELDS)}"
        )
    values = {k: v for k, v in entry.items() if v not in (None, "")}
    try:
        for key in ("nice", "time_limit", "deadline"):
            if key in values:
                values[key] = int(values[key])
    except (TypeError, ValueError) as exc:
        raise UsageError(f"urgency level {name!r}: {exc}") from exc
    if values.get("deadline") == 0:
        values.pop("deadline")
    return UrgencyOptions(level=name, **values)


def apply_urgency(spec: JobSpec, options: UrgencyOptions) -> JobSpec:
    """``spec`` with the level's options filled in where the spec left them unset."""
    return spec.with_defaults(
        partition=options.partition,
        qos=options.qos,
        nice=options.nice,
        reservation=options.reservation,
        time_limit=options.time_limit,
        deadline=options.deadline,
    )
