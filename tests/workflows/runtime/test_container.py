"""``@container`` on @binary / @mpi tasks: the command line the engine runs, executed through
a stand-in engine (an executable named docker / singularity on PATH that records its argv
and runs the inner command); a missing engine is a clear failure at task start. No real
Docker or Singularity is installed on the test machines, so the real-engine run is not
tested here."""

from __future__ import annotations

import os
import stat

import pytest

from workflows.runtime import (
    TaskDefinitionError,
    TaskFailedError,
    binary,
    compss_wait_on,
    compss_wait_on_file,
    container,
    mpi,
    task,
)
from workflows.runtime.parameter import FILE_OUT_STDOUT

IMAGE = "registry.example.org/eflows4hpc/hysea:1.2"

STAND_IN = """#!/bin/sh
printf '%s\\n' "$@" > "$ENGINE_RECORD"
while [ "$#" -gt 0 ] && [ "$1" != "$ENGINE_IMAGE" ]; do shift; done
shift
exec "$@"
"""


@container(engine="DOCKER", image=IMAGE, options="--gpus all")
@binary(binary="echo")
@task(out=FILE_OUT_STDOUT, on_failure="FAIL")
def in_docker(word, out):
    pass


@container(engine="SINGULARITY", image=IMAGE, options="--nv")
@binary(binary="echo")
@task(out=FILE_OUT_STDOUT, on_failure="FAIL")
def in_singularity(word, out):
    pass


@pytest.fixture
def engines(tmp_path, monkeypatch):
    bindir = tmp_path / "bin"
    bindir.mkdir()
    for name in ("docker", "singularity"):
        path = bindir / name
        path.write_text(STAND_IN)
        path.chmod(path.stat().st_mode | stat.S_IEXEC)
    record = tmp_path / "argv.txt"
    monkeypatch.setenv("PATH", f"{bindir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("ENGINE_RECORD", str(record))
    monkeypatch.setenv("ENGINE_IMAGE", IMAGE)
    return record


def test_docker_command_line_and_run(runtime, engines, tmp_path):
    out = tmp_path / "out.txt"
    in_docker("hello", str(out))
    compss_wait_on_file(str(out))
    assert out.read_text() == "hello\n"
    cwd = os.getcwd()
    assert engines.read_text().split("\n")[:-1] == [
        "run", "-i", "--rm", "-v", f"{cwd}:{cwd}", "-w", cwd, "--gpus", "all", IMAGE,
        "echo", "hello",
    ]  # fmt: skip


def test_singularity_command_line_and_run(runtime, engines, tmp_path):
    out = tmp_path / "out.txt"
    in_singularity("there", str(out))
    compss_wait_on_file(str(out))
    assert out.read_text() == "there\n"
    assert engines.read_text().split("\n")[:-1] == ["exec", "--nv", IMAGE, "echo", "there"]


def test_each_mpi_rank_runs_in_the_container(runtime, engines, tmp_path):
    runner = tmp_path / "fake-mpirun"
    runner.write_text('#!/bin/sh\nshift 2\nexec "$@"\n')
    runner.chmod(runner.stat().st_mode | stat.S_IEXEC)

    @container(engine="SINGULARITY", image=IMAGE)
    @mpi(runner=str(runner), binary="echo", processes=4)
    @task(out=FILE_OUT_STDOUT)
    def ranks(word, out):
        pass

    from workflows.runtime.execution import build_command

    assert build_command(ranks.spec, ("x", "/o"), {}) == [
        str(runner), "-np", "4", "singularity", "exec", IMAGE, "echo", "x",
    ]  # fmt: skip
    out = tmp_path / "mpi.txt"
    ranks("mpi", str(out))
    compss_wait_on_file(str(out))
    assert out.read_text() == "mpi\n"


def test_a_missing_engine_fails_at_task_start_with_a_clear_error(runtime, monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))  # no docker here
    out = tmp_path / "never.txt"
    in_docker("x", str(out))
    with pytest.raises(TaskFailedError, match=r"DOCKER engine \('docker'\) is not on PATH"):
        compss_wait_on_file(str(out))


def test_container_on_a_python_task_is_refused_at_start(runtime):
    @container(engine="DOCKER", image=IMAGE)
    @task(returns=1, on_failure="FAIL")
    def py(x):
        return x

    with pytest.raises(TaskFailedError, match="not supported yet"):
        compss_wait_on(py(1))


def test_unknown_engine_or_missing_image_are_definition_errors():
    with pytest.raises(TaskDefinitionError, match="not one of DOCKER, SINGULARITY, UDOCKER"):
        container(engine="PODMAN", image=IMAGE)
    with pytest.raises(TaskDefinitionError, match="needs image="):
        container(engine="DOCKER")
