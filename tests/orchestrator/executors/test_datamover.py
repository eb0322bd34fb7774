"""Built-in data mover: local and HTTP stage-in, stage-out, checksums, atomicity, via dls.py."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from mock_services import MockServices, image_bytes

from orchestrator.errors import ExecutionError
from orchestrator.executors import datamover
from orchestrator.executors.native import NativeContext, dls


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sums(directory: Path) -> dict[str, str]:
    lines = (directory / "SHA256SUMS").read_text().splitlines()
    return {name: digest for digest, name in (line.split("  ") for line in lines)}


def test_stage_in_local_file_and_tree(tmp_path: Path):
    src = tmp_path / "src"
    (src / "sub").mkdir(parents=True)
    (src / "a.nc").write_bytes(b"A" * 5000)
    (src / "sub" / "b.txt").write_bytes(b"bee")
    tree = datamover.stage_in(str(src), tmp_path / "site" / "in")
    dest = tmp_path / "site" / "in"
    assert (dest / "sub" / "b.txt").read_bytes() == b"bee"
    assert tree.files == {"a.nc": sha(b"A" * 5000), "sub/b.txt": sha(b"bee")}
    assert sums(dest) == tree.files and tree.bytes == 5003
    single = datamover.stage_in(f"file://{src / 'a.nc'}", dest)  # existing dir: keep the name
    assert single.destination == str(dest / "a.nc") and single.files == {"a.nc": sha(b"A" * 5000)}
    assert not [p for p in dest.rglob(".*") if p.name != "SHA256SUMS"]  # no temp files left


def test_generated_means_nothing_to_copy(tmp_path: Path):
    moved = datamover.stage_in("generated", tmp_path / "bathy")
    assert moved.generated and moved.files == {} and (tmp_path / "bathy").is_dir()


def test_missing_source_and_bad_scheme(tmp_path: Path):
    with pytest.raises(ExecutionError, match="does not exist"):
        datamover.stage_in(str(tmp_path / "nope"), tmp_path / "x")
    with pytest.raises(ExecutionError, match="unsupported source scheme 'ftp://'"):
        datamover.stage_in("ftp://host/file", tmp_path / "x")


@pytest.mark.integration
def test_stage_in_http_with_checksum(services: MockServices, tmp_path: Path):
    data = image_bytes(3 * 1024 * 1024 + 17)
    url = f"{services.url}/images/download/data.bin"
    moved = datamover.stage_in(f"{url}#sha256={sha(data)}", tmp_path / "in" / "data.bin")
    assert (tmp_path / "in" / "data.bin").read_bytes() == data and moved.bytes == len(data)
    assert sums(tmp_path / "in") == {"data.bin": sha(data)}
    with pytest.raises(ExecutionError, match="checksum mismatch"):
        datamover.stage_in(f"{url}#sha256={'0' * 64}", tmp_path / "bad" / "data.bin")
    assert not (tmp_path / "bad" / "data.bin").exists()  # nothing half-written left in place
    assert list((tmp_path / "bad").iterdir()) == []


def test_stage_out_directory(tmp_path: Path):
    results = tmp_path / "work" / "run1"
    results.mkdir(parents=True)
    (results / "max_height.nc").write_bytes(b"\x00\x01" * 100)
    moved = datamover.stage_out(results, tmp_path / "results" / "run1")
    assert (tmp_path / "results" / "run1" / "max_height.nc").read_bytes() == b"\x00\x01" * 100
    assert sums(tmp_path / "results" / "run1") == moved.files


def test_dls_without_url_uses_the_mover(tmp_path: Path):
    src = tmp_path / "event.json"
    src.write_text('{"mag": 8.1}')
    context = {
        "node_properties": {"dag_id": "taskflow_example", "oid": str(src), "target_path": "in"},
        "requirements": {"environment": {"node": "site", "properties": {}}},
        "workspace": str(tmp_path / "ws"),
    }
    ctx = NativeContext("s.Runnable.submit", "s", "Runnable", "submit", context, tmp_path)
    out = dls.submit(ctx, {})
    landed = tmp_path / "ws" / "sites" / "site" / "in"
    assert out["TOSCA_JOB_ID"].startswith("local-") and out["staged_path"] == str(
        landed / "event.json"
    )
    assert (landed / "event.json").read_text() == '{"mag": 8.1}'
    assert out["checksums"] == {"event.json": sha(b'{"mag": 8.1}')}
    assert dls.run(ctx, {"TOSCA_JOB_ID": out["TOSCA_JOB_ID"]})["TOSCA_JOB_STATUS"] == "COMPLETED"
    assert "sha256 verified" in ctx.log_text
