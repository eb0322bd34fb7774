"""State: deployments, node instances and attributes, executions, steps and attempts,
events and logs, in one SQLite (WAL) file per workspace. See ``store.Store``."""

from orchestrator.redaction import REDACTED, Redactor, redact_structure
from orchestrator.state.store import (
    DB_NAME,
    AttemptRecord,
    AuditRecord,
    DeploymentRecord,
    DeploymentStatus,
    EventRecord,
    ExecutionRecord,
    ExecutionStatus,
    LogRecord,
    NodeRecord,
    SshKeyRecord,
    StepRecord,
    StepStatus,
    Store,
    TokenRecord,
)

DEFAULT_WORKSPACE = ".tosca"

__all__ = [
    "DB_NAME",
    "DEFAULT_WORKSPACE",
    "REDACTED",
    "AttemptRecord",
    "AuditRecord",
    "DeploymentRecord",
    "DeploymentStatus",
    "EventRecord",
    "ExecutionRecord",
    "ExecutionStatus",
    "LogRecord",
    "NodeRecord",
    "Redactor",
    "StepRecord",
    "StepStatus",
    "Store",
    "SshKeyRecord",
    "TokenRecord",
    "redact_structure",
]
