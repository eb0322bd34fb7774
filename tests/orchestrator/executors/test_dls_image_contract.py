"""Contract tests: dls.py and image.py against a real HTTP server in its own process."""

from __future__ import annotations

import hashlib
import threading
from pathlib import Path
from typing import Any

import pytest
from mock_services import MockServices, image_bytes

from orchestrator.errors import JobError, ServiceError
from orchestrator.executors.base import SUCCEEDED, OperationRequest
from orchestrator.executors.native import NativeContext, NativeExecutor, dls, image
from orchestrator.executors.secrets import Secret

pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]


def ctx_for(
    tmp_path: Path, props: dict[str, Any], env: dict[str, Any], **extra: Any
) -> NativeContext:
    context = {
        "node_properties": props,
        "requirements": {
            "environment": {
                "node": "site",
                "type": "eflows4hpc.nodes.Environment",
                "properties": env,
            }
        },
        "workspace": str(tmp_path),
        **extra,
    }
    return NativeContext("n.Runnable.submit", "n", "Runnable", "submit", context, tmp_path)


STAGE_IN = {
    "dag_id": "taskflow_example",
    "oid": "dataset-42",
    "target_path": "/data/in",
    "user_id": "alice",
    "vault_id": "users/alice",
    "dls_api_username": "airflow",
    "dls_api_password": Secret("pa55word"),
}


def test_dls_submit_poll_complete_with_conf_and_auth(services: MockServices, tmp_path: Path):
    services.configure(auth=["airflow", "pa55word"], dag_polls=1)
    ctx = ctx_for(
        tmp_path,
        STAGE_IN,
        {"dls_api_url": services.dls_url, "login_host": "hpc.example"},
        node_type="eflows4hpc.nodes.DLSDAGStageInData",
    )
    out = dls.submit(ctx, {})
    run_id = out["TOSCA_JOB_ID"]
    assert run_id.startswith("alice-") and len(run_id) > 20
    statuses = [dls.run(ctx, {"TOSCA_JOB_ID": run_id})["TOSCA_JOB_STATUS"] for _ in range(3)]
    assert statuses == ["QUEUED", "RUNNING", "COMPLETED"]
    post = [r for r in services.requests() if r["method"] == "POST"][0]
    assert post["path"] == "/api/v1/dags/taskflow_example/dagRuns" and post["user"] == "airflow"
    assert post["body"]["dag_run_id"] == run_id
    assert post["body"]["conf"] == {
        "oid": "dataset-42",
        "target": "/data/in",
        "host": "hpc.example",
        "login": "alice",
        "vault_id": "users/alice",
    }
    assert "pa55word" not in ctx.log_text and "users/alice" not in ctx.log_text


def test_dls_stage_out_and_image_transfer_conf(services: MockServices, tmp_path: Path):
    env = {"dls_api_url": services.dls_url, "login_host": "hpc", "ssh_port": 2222}
    out_props = {
        "dag_id": "taskflow_stageout",
        "mid": "m1",
        "source_path": "/r",
        "register": True,
        "user_id": "bob",
        "vault_id": "v",
    }
    dls.submit(ctx_for(tmp_path, out_props, env), {})
    img_props = {
        "dag_id": "transfer_image",
        "image_id": "img-1",
        "target_path": "/img",
        "url": "http://x/y.sif",
        "user_id": "bob",
        "vault_id": "v",
    }
    dls.submit(
        ctx_for(tmp_path, img_props, env, node_type="eflows4hpc.nodes.DLSDAGImageTransfer"), {}
    )
    confs = [r["body"]["conf"] for r in services.requests() if r["method"] == "POST"]
    assert confs[0] == {
        "mid": "m1",
        "source": "/r",
        "host": "hpc",
        "port": 2222,
        "login": "bob",
        "vault_id": "v",
        "register": True,
    }
    assert confs[1] == {
        "image_id": "img-1",
        "target": "/img",
        "host": "hpc",
        "port": 2222,
        "login": "bob",
        "vault_id": "v",
        "url": "http://x/y.sif",
    }


def test_dls_failures_and_cancel(services: MockServices, tmp_path: Path):
    env = {"dls_api_url": services.dls_url}
    ctx = ctx_for(tmp_path, STAGE_IN, env)
    services.configure(auth=["airflow", "other"])
    with pytest.raises(ServiceError, match="HTTP 401") as err:
        dls.submit(ctx, {})
    assert "pa55word" not in str(err.value)
    services.configure(dag_final="failed", dag_polls=0)
    run_id = dls.submit(ctx, {})["TOSCA_JOB_ID"]
    assert dls.run(ctx, {"TOSCA_JOB_ID": run_id})["TOSCA_JOB_STATUS"] == "FAILED"
    services.configure(dag_polls=100)
    run_id = dls.submit(ctx, {})["TOSCA_JOB_ID"]
    dls.cancel(ctx, {"TOSCA_JOB_ID": run_id})
    assert dls.run(ctx, {"TOSCA_JOB_ID": run_id})["TOSCA_JOB_STATUS"] == "FAILED"
    patch = [r for r in services.requests() if r["method"] == "PATCH"][0]
    assert patch["body"] == {"state": "failed"} and patch["path"].endswith(run_id)


@pytest.mark.parametrize(
    ("mode", "message"),
    [("bad_json", "non-JSON"), ("error500", "HTTP 500"), ("missing_state", "lacks state")],
)
def test_dls_bad_responses(services: MockServices, tmp_path: Path, mode: str, message: str):
    ctx = ctx_for(tmp_path, STAGE_IN, {"dls_api_url": services.dls_url})
    run_id = dls.submit(ctx, {})["TOSCA_JOB_ID"]
    services.configure(dag_mode=mode)
    with pytest.raises(ServiceError, match=message) as err:
        dls.run(ctx, {"TOSCA_JOB_ID": run_id})
    assert "DLS" in str(err.value) and services.dls_url in str(err.value)


def test_dls_unknown_state_is_unknown(services: MockServices, tmp_path: Path):
    ctx = ctx_for(tmp_path, STAGE_IN, {"dls_api_url": services.dls_url})
    run_id = dls.submit(ctx, {})["TOSCA_JOB_ID"]
    services.configure(dag_mode="unknown_state")
    assert dls.run(ctx, {"TOSCA_JOB_ID": run_id})["TOSCA_JOB_STATUS"] == "UNKNOWN"
    assert "unmapped Airflow state 'exploded'" in ctx.log_text


def test_dls_unreachable_is_a_service_error(tmp_path: Path):
    ctx = ctx_for(tmp_path, STAGE_IN, {"dls_api_url": "http://127.0.0.1:9/api/v1"})
    with pytest.raises(ServiceError, match="cannot reach"):
        dls.submit(ctx, {})


IMAGE = {
    "workflow": "tsunami",
    "step_id": "forecast",
    "force": False,
    "username": "builder",
    "password": Secret("imgpass"),
}


def test_image_build_poll_download(services: MockServices, tmp_path: Path):
    services.configure(auth=["builder", "imgpass"], build_polls=3)
    env = {
        "image_service_url": services.url,
        "work_dir": str(tmp_path / "site"),
        "image_creation_machine": {
            "platform": "linux/arm64",
            "architecture": "aarch64",
            "container_engine": "docker",
            "mpi": "openmpi@4",
            "gpu": "",
        },
    }
    ctx = ctx_for(tmp_path, IMAGE, env)
    build_id = image.submit(ctx, {})["TOSCA_JOB_ID"]
    seen = []
    while True:
        out = image.run(ctx, {"TOSCA_JOB_ID": build_id})
        seen.append(out["build_status"])
        if out["TOSCA_JOB_STATUS"] in ("COMPLETED", "FAILED"):
            break
    assert seen == [
        "PENDING",
        "STARTED",
        "BUILDING",
        "BUILDING",
        "BUILDING",
        "CONVERTING",
        "FINISHED",
    ]
    data = image_bytes(3 * 1024 * 1024 + 17)
    path = Path(out["image_file"])
    assert path.parent == tmp_path / "site" / "images" and path.read_bytes() == data
    assert out["image_sha256"] == hashlib.sha256(data).hexdigest()
    assert out["image_id"].startswith("tsunami-")
    post = [r for r in services.requests() if r["path"] == "/build/"][0]
    assert post["body"] == {
        "machine": env["image_creation_machine"],
        "workflow": "tsunami",
        "step_id": "forecast",
        "force": False,
    }


@pytest.mark.parametrize(
    ("mode", "message"),
    [("bad_json", "non-JSON"), ("error500", "HTTP 503"), ("missing_id", "lacks id")],
)
def test_image_bad_responses(services: MockServices, tmp_path: Path, mode: str, message: str):
    services.configure(build_mode=mode)
    ctx = ctx_for(tmp_path, IMAGE, {"image_service_url": services.url})
    with pytest.raises(ServiceError, match=message) as err:
        image.submit(ctx, {})
    assert "image creation service" in str(err.value) and "imgpass" not in str(err.value)


def test_standard_mode_through_the_executor(services: MockServices, tmp_path: Path):
    """start = submit + poll, through NativeExecutor; a failed build fails the operation."""
    services.configure(build_polls=1)
    context = {
        "node_properties": IMAGE,
        "workspace": str(tmp_path),
        "requirements": {
            "environment": {"node": "site", "properties": {"image_service_url": services.url}}
        },
    }
    ok = OperationRequest(
        "img.Standard.start",
        "img",
        "Standard",
        "start",
        "native://orchestrator.executors.native.image:start",
        {},
        context=context,
        timeout=30,
    )
    result = NativeExecutor().run_batch([ok])[0]
    assert result.status == SUCCEEDED, result.error
    assert Path(result.outputs["image_file"]).is_file()
    services.configure(build_final="FAILED", build_polls=0)
    failed = NativeExecutor().run_batch([ok])[0]
    assert failed.status == "failed" and "FAILED" in (failed.error or "")
    assert "imgpass" not in failed.log + (failed.error or "")


def test_standard_mode_cancel_marks_the_dag_run_failed(services: MockServices, tmp_path: Path):
    services.configure(dag_polls=1000)
    ctx = ctx_for(tmp_path, {**STAGE_IN, "timeout": 30}, {"dls_api_url": services.dls_url})
    threading.Timer(0.5, ctx.cancel.set).start()
    with pytest.raises(JobError, match="cancelled"):
        dls.start(ctx, {})
    assert any(r["method"] == "PATCH" for r in services.requests())
