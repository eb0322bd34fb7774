"""``ImageCreation``: build a container image with the eFlows4HPC Image Creation service.

Native implementations (see ``orchestrator.executors.native``):

* ``submit`` -> ``{"TOSCA_JOB_ID"}``: ``POST {service_url}/build/`` with ``{machine, workflow,
  step_id, force}``, answer ``{id}``;
* ``run`` -> ``{"TOSCA_JOB_STATUS", "build_status", ...}``: ``GET /build/{id}``; on FINISHED the
  image is streamed from ``GET /images/download/{filename}`` into ``<site work dir>/images``
  (atomically, sha256 recorded) and ``image_id`` / ``image_file`` are output;
* ``cancel``: the service has no cancel endpoint; the build is left to finish (logged);
* ``start`` (``run_in_standard_mode``, the default): submit, then poll ``run`` to the end.

Settings: node properties overridden by inputs; ``service_url`` defaults to the environment's
``image_service_url``, ``machine`` to its ``image_creation_machine``. Credentials
(``username`` / ``password`` or ``password_secret``) are never logged.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from orchestrator.errors import JobError, UsageError
from orchestrator.executors.native import NativeContext
from orchestrator.executors.native._http import ServiceClient, path_segment, submit_and_wait
from orchestrator.jobs import JobStatus

__all__ = ["BUILD_STATES", "cancel", "run", "start", "submit"]

# Image Creation service build status -> our vocabulary.
BUILD_STATES: dict[str, JobStatus] = {
    "PENDING": JobStatus.QUEUED,
    "STARTED": JobStatus.RUNNING,
    "BUILDING": JobStatus.RUNNING,
    "CONVERTING": JobStatus.RUNNING,
    "FINISHED": JobStatus.COMPLETED,
    "FAILED": JobStatus.FAILED,
}
_SERVICE = "image creation service"
_MACHINE_DEFAULTS = {
    "platform": "linux/amd64",
    "architecture": "x86_64",
    "container_engine": "singularity",
    "mpi": "",
    "gpu": "",
}


def _settings(ctx: NativeContext, inputs: dict[str, Any]) -> dict[str, Any]:
    merged = dict(ctx.context.get("node_properties") or {})
    merged.update({k: v for k, v in inputs.items() if v is not None})
    return merged


def _client(ctx: NativeContext, s: dict[str, Any]) -> ServiceClient:
    url = s.get("service_url") or ctx.environment.get("image_service_url")
    if not url:
        raise UsageError(
            "image creation: no service_url on the node and no image_service_url on its site"
        )
    password = s.get("password")
    if not password and s.get("password_secret"):
        password = ctx.secret(str(s["password_secret"]))
    if password:
        ctx.hide(str(password))
    return ServiceClient(
        _SERVICE,
        str(url),
        username=s.get("username") or None,
        password=str(password) if password else None,
        timeout=float(s.get("http_timeout", 30)),
    )


def build_request(ctx: NativeContext, s: dict[str, Any]) -> dict[str, Any]:
    """The POST /build/ body: machine from the node, else the site, else defaults."""
    machine = dict(_MACHINE_DEFAULTS)
    machine.update(ctx.environment.get("image_creation_machine") or {})
    machine.update(s.get("machine") or {})
    for key in ("workflow", "step_id"):
        if not s.get(key):
            raise UsageError(f"image creation: property {key} is required")
    return {
        "machine": {k: machine.get(k, "") for k in _MACHINE_DEFAULTS},
        "workflow": s["workflow"],
        "step_id": s["step_id"],
        "force": bool(s.get("force", False)),
    }


def submit(ctx: NativeContext, inputs: dict[str, Any]) -> dict[str, Any]:
    """Request a build; outputs ``TOSCA_JOB_ID`` (the build id)."""
    s = _settings(ctx, inputs)
    body = build_request(ctx, s)
    with _client(ctx, s) as client:
        answer = client.json("POST", "build/", body, required=("id",))
    build_id = str(answer["id"])
    ctx.log(
        logging.INFO, f"image build {build_id} requested for {body['workflow']}/{body['step_id']}"
    )
    return {"TOSCA_JOB_ID": build_id}


def _images_dir(ctx: NativeContext, s: dict[str, Any]) -> Path:
    if s.get("images_dir"):
        return Path(str(s["images_dir"]))
    env = ctx.environment
    if env.get("work_dir"):
        return Path(env["work_dir"]) / "images"
    env_node = (ctx.context.get("requirements") or {}).get("environment", {}).get("node", "site")
    base = ctx.context.get("workspace") or str(ctx.workdir)
    return Path(base) / "sites" / str(env_node) / "images"


def run(ctx: NativeContext, inputs: dict[str, Any]) -> dict[str, Any]:
    """One poll; downloads the image when the build is FINISHED."""
    s = _settings(ctx, inputs)
    build_id = inputs.get("TOSCA_JOB_ID")
    if not build_id:
        raise JobError("image creation: run needs TOSCA_JOB_ID (the output of submit)")
    with _client(ctx, s) as client:
        answer = client.json("GET", f"build/{path_segment(build_id)}", required=("status",))
        raw = str(answer["status"]).upper()
        status = BUILD_STATES.get(raw, JobStatus.UNKNOWN)
        outputs: dict[str, Any] = {"TOSCA_JOB_STATUS": status.value, "build_status": raw}
        if answer.get("message"):
            outputs["message"] = str(answer["message"])
        if status is JobStatus.UNKNOWN:
            ctx.log(logging.WARNING, f"image build {build_id}: unmapped status '{raw}'")
        if status is JobStatus.COMPLETED:
            filename = answer.get("filename")
            if not filename or "/" in str(filename) or str(filename).startswith("."):
                raise JobError(f"image build {build_id} FINISHED without a valid filename")
            destination = _images_dir(ctx, s) / str(filename)
            size, digest = client.download(f"images/download/{path_segment(filename)}", destination)
            ctx.log(logging.INFO, f"image {filename}: {size} bytes, sha256 {digest}")
            outputs.update(
                image_id=str(answer.get("image_id") or ""),
                image_file=str(destination),
                image_sha256=digest,
            )
    return outputs


def cancel(ctx: NativeContext, inputs: dict[str, Any]) -> dict[str, Any]:
    """The service cannot cancel a build: say so, and leave it."""
    ctx.log(
        logging.WARNING,
        f"image build {inputs.get('TOSCA_JOB_ID')}: the service has no cancel; left to finish",
    )
    return {}


def start(ctx: NativeContext, inputs: dict[str, Any]) -> dict[str, Any]:
    """Standard mode: submit, then poll until the build ends and the image is downloaded."""
    timeout = float(_settings(ctx, inputs).get("timeout", 3600))
    # No cancel: the service cannot stop a build.
    return submit_and_wait(ctx, inputs, submit=submit, run=run, timeout=timeout)
