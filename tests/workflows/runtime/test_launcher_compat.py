"""Launcher (our runcompss), pycompss alias, compat selection, dry-run, plain-import use."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from rt_helpers import REPO, read_events, run_launcher

PYCOMPSS_APP = """
import sys
from pycompss.api.task import task
from pycompss.api.parameter import FILE_OUT, INOUT
from pycompss.api.api import compss_wait_on, compss_wait_on_file, compss_barrier, TaskGroup
from pycompss.api.exceptions import COMPSsException
from pycompss.api.constraint import constraint
from pycompss.api.on_failure import on_failure

@task(returns=1)
def square(x):
    return x * x

@task(path=FILE_OUT)
def write(path, value):
    with open(path, "w") as fh:
        fh.write(str(value))

@task(acc=INOUT)
def push(acc, v):
    acc.append(v)

@task()
def stop():
    raise COMPSsException("enough")

values = [square(i) for i in range(5)]
acc = []
for v in values:
    push(acc, v)
write(sys.argv[1], compss_wait_on(values[-1]))
compss_wait_on_file(sys.argv[1])
try:
    with TaskGroup("g"):
        stop()
except COMPSsException as exc:
    print("caught", exc)
print("acc", compss_wait_on(acc))
"""


def test_pycompss_program_runs_unchanged(tmp_path):
    app = tmp_path / "app.py"
    app.write_text(PYCOMPSS_APP)
    out = tmp_path / "out.txt"
    proc = run_launcher(
        [
            "--events",
            str(tmp_path / "ev.jsonl"),
            "--graph",
            str(tmp_path / "g.json"),
            str(app),
            str(out),
        ],
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    assert out.read_text() == "16"
    assert "caught enough" in proc.stdout
    assert "acc [0, 1, 4, 9, 16]" in proc.stdout
    graph = json.loads((tmp_path / "g.json").read_text())
    assert len(graph["nodes"]) == 12
    assert {"submitted", "started", "finished", "failed"} <= {
        e["event"] for e in read_events(tmp_path / "ev.jsonl")
    }


def test_dotted_module_and_dry_run(tmp_path):
    pkg = tmp_path / "mypkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "flow.py").write_text(PYCOMPSS_APP.replace("sys.argv[1]", "sys.argv[1]"))
    out = tmp_path / "never.txt"
    proc = run_launcher(
        ["--backend", "dry-run", "mypkg.flow", str(out)],
        cwd=tmp_path,
        env={"PYTHONPATH": f"{REPO}{os.pathsep}{tmp_path}"},
    )
    assert proc.returncode == 0, proc.stderr
    assert "digraph tasks" in proc.stdout and "square#1" in proc.stdout
    assert not out.exists()  # nothing ran


def test_launcher_errors_are_clear(tmp_path):
    proc = run_launcher([str(tmp_path / "missing.py")], cwd=tmp_path)
    assert proc.returncode == 2 and "not found" in proc.stderr
    proc = run_launcher(["--config", str(tmp_path / "nope.yaml"), "x.py"], cwd=tmp_path)
    assert proc.returncode == 2 and "nope.yaml" in proc.stderr and "Traceback" not in proc.stderr


def test_tasks_work_on_plain_import_without_launcher(tmp_path):
    script = (
        "from workflows.runtime import task, compss_wait_on\n"
        "@task(returns=1)\ndef inc(x):\n    return x + 1\n"
        "@task(returns=1, time_out=5)\ndef inc_proc(x):\n    return x + 1\n"
        "print(compss_wait_on(inc_proc(inc(1))))\n"
        "inc(5)\n"  # drained at exit
    )
    proc = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "3"


FAKE_CONTEXT = "def in_pycompss():\n    return {flag}\n"


def _fake_pycompss(root, flag: bool):
    api = root / "pycompss" / "api"
    util = root / "pycompss" / "util"
    api.mkdir(parents=True)
    util.mkdir(parents=True)
    (root / "pycompss" / "__init__.py").write_text("")
    (api / "__init__.py").write_text("")
    (util / "__init__.py").write_text("")
    (util / "context.py").write_text(FAKE_CONTEXT.format(flag=flag))
    for mod, names in {
        "task": ["task"],
        "on_failure": ["on_failure"],
        "constraint": ["constraint"],
        "binary": ["binary"],
        "mpi": ["mpi"],
        "http": ["http"],
        "exceptions": ["COMPSsException"],
        "api": [
            "TaskGroup",
            "compss_barrier",
            "compss_barrier_group",
            "compss_cancel_group",
            "compss_open",
            "compss_wait_on",
            "compss_wait_on_file",
        ],
        "parameter": [
            "COLLECTION_IN",
            "COLLECTION_OUT",
            "FILE_IN",
            "FILE_INOUT",
            "FILE_OUT",
            "IN",
            "INOUT",
            "OUT",
        ],
    }.items():
        (api / f"{mod}.py").write_text("".join(f"{n} = 'real-{n}'\n" for n in names))


def _compat(root, extra_env=None):
    code = "import workflows.runtime.compat as c; print(c.IMPLEMENTATION, c.task)"
    env = {**os.environ, "PYTHONPATH": f"{REPO}{os.pathsep}{root}", **(extra_env or {})}
    env.pop("TOSCA_RUNTIME_IMPL", None) if not extra_env else None
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=30, env=env
    ).stdout.strip()


def test_compat_picks_real_pycompss_only_under_its_runtime(tmp_path):
    under = tmp_path / "under"
    _fake_pycompss(under, True)
    assert _compat(under) == "pycompss real-task"
    assert _compat(under, {"TOSCA_RUNTIME_IMPL": "ours"}).startswith("ours <function task")
    outside = tmp_path / "outside"
    _fake_pycompss(outside, False)  # installed but not launched by runcompss
    assert _compat(outside).startswith("ours")
    assert _compat(tmp_path / "none").startswith("ours")  # not installed at all
