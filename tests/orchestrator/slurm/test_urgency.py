"""Urgency levels -> Slurm options per site."""

from __future__ import annotations

import pytest

from orchestrator.errors import UsageError
from orchestrator.slurm import JobSpec, apply_urgency, resolve_urgency


def test_defaults_send_urgent_and_emergency_to_the_urgent_partition() -> None:
    assert resolve_urgency("urgent", None).partition == "urgent"
    assert resolve_urgency("EMERGENCY", {}).partition == "urgent"
    assert resolve_urgency(None, None).level == "routine"
    assert resolve_urgency("routine", None).partition is None


def test_site_mapping_replaces_the_level_default() -> None:
    site = {
        "emergency": {"partition": "rt", "qos": "covid", "nice": 0, "reservation": "eq",
                      "time_limit": "45", "deadline": 900},
        "high": {"qos": "high"},
    }  # fmt: skip
    opts = resolve_urgency("emergency", site)
    assert (opts.partition, opts.qos, opts.reservation) == ("rt", "covid", "eq")
    assert (opts.time_limit, opts.deadline, opts.nice) == (45, 900, 0)
    assert resolve_urgency("high", site).qos == "high"
    assert resolve_urgency("urgent", site).partition == "urgent"  # unmapped level: default


def test_unknown_level_or_field_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="routine, high, urgent, emergency"):
        resolve_urgency("asap", None)
    with pytest.raises(UsageError, match="unknown field"):
        resolve_urgency("high", {"high": {"priority": 1}})


def test_apply_urgency_keeps_what_the_job_already_chose() -> None:
    spec = JobSpec(script="true", qos="mine", nice=0)
    out = apply_urgency(spec, resolve_urgency("emergency", {"emergency": {
        "partition": "urgent", "qos": "crisis", "nice": 10, "deadline": 60}}))  # fmt: skip
    assert (out.partition, out.qos, out.nice, out.deadline) == ("urgent", "mine", 0, 60)
