"""``DLSDAGRun`` family: Airflow DAG runs of the Data Logistics Service, or the built-in mover.

Native implementations (see ``orchestrator.executors.native``):

* ``submit`` -> ``{"TOSCA_JOB_ID", "dag_run_id"}``: ``POST {dls_api_url}/dags/{dag_id}/dagRuns``
  with basic auth and ``{"dag_run_id": "<login>-<uuid>", "conf": {...}}``;
* ``run`` -> ``{"TOSCA_JOB_STATUS", ...}``: ``GET .../dagRuns/{id}``, ``state`` mapped below;
* ``cancel``: ``PATCH .../dagRuns/{id}`` with ``{"state": "failed"}`` (Airflow has no cancel);
* ``start`` (``run_in_standard_mode``): submit, then poll ``run`` with back-off to the end.

Settings are the node's properties overridden by the operation's inputs (``exec_job`` passes
``user_id``, ``vault_id``, ``oid``, ``target_path``...). The DAG ``conf`` follows the upstream
pipelines: stage-in ``oid, target, host, login, vault_id``; stage-out ``mid, source, host,
port, login, vault_id, register``; image transfer ``image_id, target, host, port, login,
vault_id, url``; plus ``extra_conf``. The password comes from ``dls_api_password`` (a secret)
or ``dls_api_password_secret`` (a secret path); neither is ever logged, and the conf is
logged with ``vault_id`` hidden unless ``debug``.

Without ``dls_api_url`` (neither on the node, the inputs nor the environment) the same
operations run the built-in data mover synchronously in ``submit`` (the job id is local and
``run`` reports COMPLETED with the transfer's outputs).
"""

from __future__ import annotations

import json
import logging
import uuid
from pathlib import Path
from typing import Any

from orchestrator.core.paths import ALERTS_DIR
from orchestrator.errors import (
    JobError,
    UsageError,
)
from orchestrator.executors import datamover
from orchestrator.executors.native import NativeContext
from orchestrator.executors.native._http import ServiceClient, path_segment, submit_and_wait
from orchestrator.jobs import JobStatus

__all__ = ["AIRFLOW_STATES", "cancel", "run", "start", "submit"]

# Airflow DagRunState -> our vocabulary; anything else is UNKNOWN (bounded by the engine).
AIRFLOW_STATES: dict[str, JobStatus] = {
    "queued": JobStatus.QUEUED,
    "scheduled": JobStatus.QUEUED,
    "running": JobStatus.RUNNING,
    "restarting": JobStatus.REQUEUED,
    "up_for_retry": JobStatus.REQUEUED,
    "success": JobStatus.COMPLETED,
    "failed": JobStatus.FAILED,
}
_LOCAL_PREFIX = "local-"
_SERVICE = "DLS"


def _settings(ctx: NativeContext, inputs: dict[str, Any]) -> dict[str, Any]:
    merged = dict(ctx.context.get("node_properties") or {})
    merged.update({k: v for k, v in inputs.items() if v is not None})
    return merged


def _kind(ctx: NativeContext, s: dict[str, Any]) -> str:
    types = " ".join(
        str(t) for t in [ctx.context.get("node_type", ""), *(ctx.context.get("types") or [])]
    )
    if "StageIn" in types or ("oid" in s and "StageOut" not in types):
        return "stage_in"
    if "StageOut" in types or "source_path" in s:
        return "stage_out"
    if (
        "ImageTransfer" in types
        or "image_id" in s
        or "image" in (ctx.context.get("requirements") or {})
    ):
        return "image_transfer"
    return "generic"


def _api_url(ctx: NativeContext, s: dict[str, Any]) -> str | None:
    url = s.get("dls_api_url") or ctx.environment.get("dls_api_url")
    return str(url).rstrip("/") if url else None


def _login(ctx: NativeContext, s: dict[str, Any]) -> str:
    return str(s.get("user_id") or ctx.environment.get("user") or "tosca")


def _work_dir(ctx: NativeContext) -> Path:
    """The site work dir (same rule as environment/configure.yaml)."""
    env = ctx.environment
    if env.get("work_dir"):
        return Path(env["work_dir"]).expanduser()
    env_node = (ctx.context.get("requirements") or {}).get("environment", {}).get("node", "site")
    base = ctx.context.get("workspace") or str(ctx.workdir)
    return Path(base) / "sites" / str(env_node)


def _results_dir(ctx: NativeContext) -> Path:
    env = ctx.environment
    return Path(env["results_dir"]) if env.get("results_dir") else _work_dir(ctx) / "results"


def dag_conf(ctx: NativeContext, s: dict[str, Any]) -> dict[str, Any]:
    """The DAG run ``conf`` for this node's kind (upstream key names)."""
    env = ctx.environment
    host = s.get("host") or env.get("login_host") or "localhost"
    common = {"host": host, "login": _login(ctx, s), "vault_id": s.get("vault_id", "")}
    kind = _kind(ctx, s)
    if kind == "stage_in":
        conf = {"oid": s.get("oid", ""), "target": s.get("target_path", ""), **common}
    elif kind == "stage_out":
        conf = {
            "mid": s.get("mid", ""),
            "source": s.get("source_path", ""),
            "port": env.get("ssh_port", 22),
            "register": bool(s.get("register", False)),
            **common,
        }
    elif kind == "image_transfer":
        image = (ctx.context.get("requirements") or {}).get("image") or {}
        attrs = image.get("attributes") or {}
        conf = {
            "image_id": s.get("image_id") or attrs.get("image_id", ""),
            "target": s.get("target_path", ""),
            "port": env.get("ssh_port", 22),
            "url": s.get("url", ""),
            **common,
        }
    else:
        conf = dict(common)
    conf.update(s.get("extra_conf") or {})
    return conf


def _client(ctx: NativeContext, s: dict[str, Any], url: str) -> ServiceClient:
    password = s.get("dls_api_password")
    if not password and s.get("dls_api_password_secret"):
        password = ctx.secret(str(s["dls_api_password_secret"]))
    if password:
        ctx.hide(str(password))
    return ServiceClient(
        _SERVICE,
        url,
        username=s.get("dls_api_username") or None,
        password=str(password) if password else None,
        timeout=float(s.get("http_timeout", 30)),
    )


def _log_conf(ctx: NativeContext, s: dict[str, Any], conf: dict[str, Any]) -> None:
    shown = dict(conf)
    if not s.get("debug") and shown.get("vault_id"):
        shown["vault_id"] = "***"
    ctx.log(logging.INFO, f"DAG {s.get('dag_id')} conf {json.dumps(shown, sort_keys=True)}")


def submit(ctx: NativeContext, inputs: dict[str, Any]) -> dict[str, Any]:
    """Start the transfer; outputs ``TOSCA_JOB_ID`` (the DAG run id, or a local id)."""
    s = _settings(ctx, inputs)
    url = _api_url(ctx, s)
    if url is None:
        return _move(ctx, s)
    dag_id = s.get("dag_id")
    if not dag_id:
        raise UsageError("DLS: property dag_id is required")
    conf = dag_conf(ctx, s)
    _log_conf(ctx, s, conf)
    run_id = f"{_login(ctx, s)}-{uuid.uuid4()}"
    with _client(ctx, s, url) as client:
        answer = client.json(
            "POST", f"dags/{path_segment(dag_id)}/dagRuns", {"dag_run_id": run_id, "conf": conf}
        )
    run_id = str(answer.get("dag_run_id") or run_id)
    ctx.log(logging.INFO, f"DAG run {run_id} submitted")
    return {"TOSCA_JOB_ID": run_id, "dag_run_id": run_id}


def _run_path(s: dict[str, Any], run_id: str) -> str:
    return f"dags/{path_segment(s.get('dag_id'))}/dagRuns/{path_segment(run_id)}"


def _job_id(inputs: dict[str, Any]) -> str:
    job_id = inputs.get("TOSCA_JOB_ID")
    if not job_id:
        raise JobError("DLS: run/cancel needs TOSCA_JOB_ID (the output of submit)")
    return str(job_id)


def run(ctx: NativeContext, inputs: dict[str, Any]) -> dict[str, Any]:
    """One poll: outputs ``TOSCA_JOB_STATUS`` (and ``dag_state``)."""
    s = _settings(ctx, inputs)
    job_id = _job_id(inputs)
    if job_id.startswith(_LOCAL_PREFIX):
        # The built-in mover finished inside submit (or raised there).
        return {"TOSCA_JOB_STATUS": JobStatus.COMPLETED.value, "dag_state": "success"}
    url = _api_url(ctx, s)
    if url is None:
        raise JobError(f"DLS: job {job_id} is a DAG run but no dls_api_url is configured")
    with _client(ctx, s, url) as client:
        answer = client.json(
            "GET",
            f"dags/{path_segment(s.get('dag_id'))}/dagRuns/{path_segment(job_id)}",
            required=("state",),
        )
    state = str(answer["state"]).lower()
    status = AIRFLOW_STATES.get(state, JobStatus.UNKNOWN)
    if status is JobStatus.UNKNOWN:
        ctx.log(logging.WARNING, f"DAG run {job_id}: unmapped Airflow state '{state}'")
    return {"TOSCA_JOB_STATUS": status.value, "dag_state": state}


def cancel(ctx: NativeContext, inputs: dict[str, Any]) -> dict[str, Any]:
    """Mark the DAG run failed (Airflow's way to stop it)."""
    s = _settings(ctx, inputs)
    job_id = _job_id(inputs)
    url = _api_url(ctx, s)
    if job_id.startswith(_LOCAL_PREFIX) or url is None:
        return {}
    with _client(ctx, s, url) as client:
        client.json(
            "PATCH",
            f"dags/{path_segment(s.get('dag_id'))}/dagRuns/{path_segment(job_id)}",
            {"state": "failed"},
        )
    ctx.log(logging.INFO, f"DAG run {job_id} marked failed (cancelled)")
    return {}


def start(ctx: NativeContext, inputs: dict[str, Any]) -> dict[str, Any]:
    """Standard mode: submit, then poll until the DAG run ends (cancelled on ctx.cancel)."""
    timeout = float(_settings(ctx, inputs).get("timeout", 3600))
    return submit_and_wait(ctx, inputs, submit=submit, run=run, cancel=cancel, timeout=timeout)


def _inside(base: Path, value: str, what: str) -> Path:
    """``value`` (relative to ``base``, or absolute) resolved; it must stay inside ``base``.

    Inputs choose these paths: ``..`` or an absolute path elsewhere would let a workflow
    input write anywhere the orchestrator can (or publish any file it can read)."""
    root = base.resolve()
    path = Path(value)
    resolved = (path if path.is_absolute() else root / path).resolve()
    if resolved != root and root not in resolved.parents:
        raise UsageError(f"data mover: {what} {value!r} is outside {root}: refused")
    return resolved


# Directories that hold credentials wherever they are (home directories of other users too).
_SENSITIVE = frozenset(
    {".ssh", ".gnupg", ".aws", ".azure", ".kube", ".docker", ".netrc", ".git-credentials",
     ".pgpass", ".vault-token", ".password-store", ".config"}
)  # fmt: skip


def _local_source_allowed(ctx: NativeContext, source: str) -> None:
    """Refuse a local stage-in source outside the site's ``data_roots`` (or, without them, in
    a hidden directory such as ``~/.ssh`` or inside the workspace)."""
    local = datamover.local_source(source)
    if local is None or source.strip().lower() == datamover.GENERATED:
        return
    if str(local).startswith("~"):
        raise UsageError(f"data mover: source {source!r}: '~' is not expanded; give a full path")
    resolved = local.resolve()
    roots = [Path(str(r)).resolve() for r in ctx.environment.get("data_roots") or []]
    if roots:
        if not any(resolved == r or r in resolved.parents for r in roots):
            raise UsageError(
                f"data mover: source {source!r} is outside the site's data_roots "
                f"({', '.join(map(str, roots))}): refused"
            )
        return
    home = Path.home().resolve()
    hidden = [part for part in resolved.parts if part in _SENSITIVE]
    if home in resolved.parents:
        first = resolved.relative_to(home).parts[0]
        if first.startswith("."):  # ~/.cache, ~/.local/share... : the user's own settings
            hidden.append(first)
    workspace = ctx.context.get("workspace")
    in_workspace = workspace is not None and (
        resolved == Path(workspace).resolve() or Path(workspace).resolve() in resolved.parents
    )
    if in_workspace and workspace is not None:
        alerts = Path(workspace).resolve() / ALERTS_DIR
        in_workspace = alerts not in resolved.parents  # received alerts are public data
    if hidden or in_workspace:
        why = f"hidden directory {hidden[0]!r}" if hidden else "the toolkit's workspace"
        raise UsageError(
            f"data mover: source {source!r} is inside {why}: refused (list the directory in "
            "the site's data_roots to allow it)"
        )


def _move(ctx: NativeContext, s: dict[str, Any]) -> dict[str, Any]:
    """The built-in data mover (no dls_api_url)."""
    kind = _kind(ctx, s)
    work = _work_dir(ctx)
    work.mkdir(parents=True, exist_ok=True)
    if kind == "stage_in":
        destination = _inside(work, str(s.get("target_path") or "input"), "target_path")
        destination.mkdir(parents=True, exist_ok=True)  # upstream `target` is a directory
        _local_source_allowed(ctx, str(s.get("oid", "")))
        moved = datamover.stage_in(str(s.get("oid", "")), destination, cancel=ctx.cancel)
    elif kind == "stage_out":
        source = _inside(work, str(s.get("source_path", "")), "source_path")
        results = _results_dir(ctx)
        results.mkdir(parents=True, exist_ok=True)
        target = str(s.get("target_path") or source.name)
        destination = _inside(results, target, "target_path")
        moved = datamover.stage_out(source, destination, cancel=ctx.cancel)
    elif kind == "image_transfer":
        url = s.get("url") or ""
        destination = _inside(work, str(s.get("target_path") or "images"), "target_path")
        destination.mkdir(parents=True, exist_ok=True)
        _local_source_allowed(ctx, str(url))
        moved = datamover.stage_in(str(url), destination, cancel=ctx.cancel)
    else:
        raise UsageError("data mover: cannot tell a stage-in, stage-out or image transfer apart")
    note = " (generated by the application: nothing to copy)" if moved.generated else ""
    ctx.log(
        logging.INFO,
        f"data mover {kind}: {moved.source} -> {moved.destination}, {len(moved.files)} "
        f"file(s), {moved.bytes} bytes, sha256 verified{note}",
    )
    job_id = f"{_LOCAL_PREFIX}{uuid.uuid4()}"
    outputs: dict[str, Any] = {"TOSCA_JOB_ID": job_id, **moved.as_outputs()}
    if kind == "image_transfer":
        outputs["image_path"] = moved.destination
    return outputs
