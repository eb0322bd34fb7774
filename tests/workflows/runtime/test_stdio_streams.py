"""Standard-stream parameters of @binary / @mpi tasks (PyCOMPSs' ``StdIOStream`` and the
``FILE_*_STD*`` aliases): the file is the program's stdin / stdout / stderr, not an
argument; an OUT stream is truncated, an INOUT one appended to; ``Prefix`` is glued to an
argument. Real programs (cat, echo, sh) run by the local backend."""

from __future__ import annotations

import stat

import pytest

from workflows.runtime import (
    FILE_IN,
    FILE_OUT,
    TaskDefinitionError,
    binary,
    compss_wait_on_file,
    mpi,
    task,
)
from workflows.runtime.parameter import (
    FILE_IN_STDIN,
    FILE_INOUT_STDOUT,
    FILE_OUT_STDERR,
    FILE_OUT_STDOUT,
    STDOUT,
    Prefix,
    StdIOStream,
    Type,
)


@binary(binary="cat")
@task(source=FILE_IN_STDIN, copy=FILE_OUT_STDOUT)
def cat(source, copy):
    pass


@binary(binary="echo")
@task(log=FILE_INOUT_STDOUT)
def log_line(word, log):
    pass


@binary(binary="sh", args="-c {{script}}")
@task(out=FILE_OUT_STDOUT, err=FILE_OUT_STDERR)
def shell(script, out, err):
    pass


@binary(binary="echo")
@task(data={Type: FILE_IN, Prefix: "--input="}, out={Type: FILE_OUT, StdIOStream: STDOUT})
def with_prefix(flag, data, out):
    pass


def test_stdin_and_stdout_files(runtime, tmp_path):
    source = tmp_path / "in.txt"
    source.write_text("line one\nline two\n")
    copy = tmp_path / "copy.txt"
    copy.write_text("old content that must go\n")  # OUT: truncated
    cat(str(source), str(copy))
    compss_wait_on_file(str(copy))
    assert copy.read_text() == "line one\nline two\n"


def test_inout_stdout_appends_in_call_order(runtime, tmp_path):
    log = tmp_path / "log.txt"
    log.write_text("start\n")
    for word in ("alpha", "beta", "gamma"):
        log_line(word, str(log))
    compss_wait_on_file(str(log))
    assert log.read_text() == "start\nalpha\nbeta\ngamma\n"


def test_stderr_goes_to_its_file_and_stdout_to_its_own(runtime, tmp_path):
    out, err = tmp_path / "out.txt", tmp_path / "err.txt"
    shell("echo to-out; echo to-err >&2", str(out), str(err))
    compss_wait_on_file(str(out))
    compss_wait_on_file(str(err))
    assert out.read_text() == "to-out\n" and err.read_text() == "to-err\n"


def test_dict_form_with_prefix_and_stream(runtime, tmp_path):
    data = tmp_path / "d.nc"
    data.write_text("x")
    out = tmp_path / "argv.txt"
    with_prefix("-v", str(data), str(out))
    compss_wait_on_file(str(out))
    # The stream parameter is not an argument; the prefixed one is glued to its value.
    assert out.read_text() == f"-v --input={data}\n"


def test_mpi_task_stdout_file(runtime, tmp_path):
    # A stand-in launcher with mpirun's interface: drops "-np N" and runs the program once.
    runner = tmp_path / "fake-mpirun"
    runner.write_text('#!/bin/sh\nshift 2\nexec "$@"\n')
    runner.chmod(runner.stat().st_mode | stat.S_IEXEC)

    @mpi(runner=str(runner), binary="echo", processes=2)
    @task(out=FILE_OUT_STDOUT)
    def hello(word, out):
        pass

    out = tmp_path / "mpi.txt"
    hello("ranks", str(out))
    compss_wait_on_file(str(out))
    assert out.read_text() == "ranks\n"


def test_a_bad_stream_name_is_a_definition_error():
    with pytest.raises(TaskDefinitionError, match="StdIOStream must be STDIN, STDOUT or STDERR"):

        @binary(binary="echo")
        @task(out={Type: FILE_OUT, StdIOStream: "STDWHATEVER"})
        def bad(out):
            pass


def test_stream_files_are_not_arguments_on_the_command_line():
    from workflows.runtime.execution import build_command

    assert build_command(cat.spec, ("/a", "/b"), {}) == ["cat"]
    assert build_command(with_prefix.spec, ("-v", "/d", "/o"), {}) == ["echo", "-v", "--input=/d"]
