"""The engine: runs a plan (ordering, batching, job protocol, retries, cancel, resume)."""

from orchestrator.engine.binding import Binding, PlainBinding, RunState, short_interface
from orchestrator.engine.policies import EngineConfig, PollPolicy, RetryPolicy
from orchestrator.engine.runner import (
    JOB_ID,
    JOB_STATUS,
    Engine,
    EngineEvent,
    RunResult,
    StepOutcome,
)

__all__ = [
    "JOB_ID",
    "JOB_STATUS",
    "Binding",
    "Engine",
    "EngineConfig",
    "EngineEvent",
    "PlainBinding",
    "PollPolicy",
    "RetryPolicy",
    "RunResult",
    "RunState",
    "StepOutcome",
    "short_interface",
]
