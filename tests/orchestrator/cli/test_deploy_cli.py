"""The deploy-side CLI end to end, as subprocesses, on a template of native test operations:
deploy / status / outputs / logs / executions / workflows run + trigger / cancel (Ctrl-C and
``tosca executions cancel`` from another process) / undeploy / resume after a failure."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
TEMPLATE = HERE / "resume_template"
STEP_NODES = ("base", "left", "right", "top")


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TOSCA_")}
    env["PYTHONPATH"] = os.pathsep.join([str(HERE), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    return env


class Cli:
    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.ws = tmp / "ws"

    def argv(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "orchestrator.cli.main", *args, "--workspace", str(self.ws)]

    def __call__(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        return subprocess.run(self.argv(*args), capture_output=True, text=True,
                              timeout=timeout, env=_env(), cwd=self.tmp)  # fmt: skip

    def popen(self, *args: str) -> subprocess.Popen[str]:
        return subprocess.Popen(
            self.argv(*args),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=_env(),
            cwd=self.tmp,
        )

    def deploy(self, *extra: str) -> subprocess.CompletedProcess[str]:
        return self("deploy", str(TEMPLATE), "-i", f"counter={self.tmp / 'counter'}",
                    "-i", f"jobs_dir={self.tmp / 'jobs'}", *extra)  # fmt: skip

    def json(self, *args: str):
        proc = self(*args, "-o", "json")
        assert proc.returncode == 0, proc.stderr
        return json.loads(proc.stdout)


def _wait_for(predicate: Callable[[], bool], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.1)


def _lines(path: Path) -> list[str]:
    return path.read_text().splitlines() if path.exists() else []


@pytest.fixture
def deployed(tmp_path) -> Cli:
    cli = Cli(tmp_path)
    proc = cli.deploy()
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return cli


def test_deploy_prints_progress_and_summary_then_status_outputs_logs(deployed):
    cli = deployed
    status = cli.json("status", "resume_template")
    assert status["status"] == "deployed"
    states = {n["name"]: n["state"] for n in status["nodes"]}
    assert states == {"base": "started", "left": "started", "right": "started",
                      "job": "executed", "top": "started"}  # fmt: skip
    assert status["nodes"][1]["attributes"]["value"] == "left-start"
    assert cli.json("outputs") == {"left_echo": "base-start", "job_id": "1"}
    text = cli("outputs").stdout
    assert "left_echo: base-start" in text
    logs = cli("logs").stdout
    assert "left.Standard.configure did its work (echo=base-start)" in logs
    assert "job 1: COMPLETED" in logs
    [execution] = cli.json("executions", "list")
    assert execution["workflow"] == "install" and execution["status"] == "succeeded"
    info = cli.json("executions", "status", execution["id"][:6])
    assert [s["status"] for s in info["steps"]] == ["succeeded"] * 14
    assert "deployment resume_template: deployed" in cli("status").stdout


def test_deploy_output_is_plain_lines_with_a_summary(tmp_path):
    proc = Cli(tmp_path).deploy()
    assert proc.returncode == 0
    lines = proc.stdout.splitlines()
    assert any("base.Standard.create ok" in line for line in lines)
    assert any("job.Runnable.run job 1 COMPLETED" in line for line in lines)
    assert "deploy resume_template: succeeded" in lines[-3]
    assert lines[-1] == "  output job_id = 1"
    assert "\x1b[" not in proc.stdout  # no terminal control codes when not a TTY


def test_failed_deploy_names_the_step_then_resume_with_a_fixed_input(tmp_path):
    cli = Cli(tmp_path)
    proc = cli.deploy("-i", "fail_node=right")
    assert proc.returncode == 3
    assert "failed: right.Standard.configure (node right, operation configure)" in proc.stderr
    assert "failed on purpose" in proc.stderr
    assert "1 failed, 4 not run" in proc.stdout
    status = cli.json("status")[0]
    assert status["status"] == "failed"
    states = {n["name"]: n["state"] for n in status["nodes"]}
    assert states["right"] == "error" and states["left"] == "started" and states["top"] == "initial"
    refused = cli("workflows", "run", "exec_job")
    assert refused.returncode == 2 and "not deployed" in refused.stderr
    fixed = cli.deploy("--resume", "-i", "fail_node=")
    assert fixed.returncode == 0, fixed.stdout + fixed.stderr
    effects = [line.split()[0] for line in _lines(tmp_path / "counter")]
    assert sorted(effects) == sorted(
        f"{n}.Standard.{op}" for n in STEP_NODES for op in ("create", "configure", "start")
    )
    assert len(_lines(tmp_path / "jobs" / "submissions")) == 1


def test_workflows_run_success_and_failure_branch(deployed):
    cli = deployed
    ok = cli("workflows", "run", "exec_job", "-i", "duration=0.2")
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "workflow exec_job on resume_template: succeeded" in ok.stdout
    assert "output job_id = 2" in ok.stdout
    job_state = {n["name"]: n["state"] for n in cli.json("status")[0]["nodes"]}["job"]
    assert job_state == "executed"
    bad = cli("workflows", "run", "exec_job", "-i", "final=FAILED", "-i", "duration=0.1",
              "--urgency", "emergency")  # fmt: skip
    assert bad.returncode == 3
    assert "failed: run.2 (node job, operation run): job 3 ended FAILED" in bad.stderr
    assert "report_failure ok" in bad.stdout  # the on_failure branch ran
    assert "report_failure" in [line.split()[0] for line in _lines(cli.tmp / "counter")]
    assert cli.json("executions", "status")["urgency"] == "emergency"
    assert "report_failure did its work (echo=None) urgency=emergency" in cli("logs").stdout
    wrong = cli("workflows", "run", "exec_job", "--urgency", "asap")
    assert wrong.returncode == 2 and "unknown urgency 'asap'" in wrong.stderr
    listed = cli("workflows", "list").stdout
    assert "exec_job (inputs: final, duration)" in listed
    usage = cli("workflows", "run", "nope")
    assert usage.returncode != 0 and "unknown workflow 'nope'" in usage.stderr
    assert "Traceback" not in usage.stderr


def test_ctrl_c_cancels_the_running_job_and_leaves_consistent_state(deployed):
    cli = deployed
    proc = cli.popen("workflows", "run", "exec_job", "-i", "duration=60")
    submissions = cli.tmp / "jobs" / "submissions"
    _wait_for(lambda: len(_lines(submissions)) == 2)
    time.sleep(0.3)  # let the poll loop start
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, out + err
    assert "cancelling" in err
    assert _lines(cli.tmp / "jobs" / "cancellations") == ["2"]
    info = cli.json("executions", "status")
    assert info["status"] == "cancelled"
    assert {s["status"] for s in info["steps"]} <= {"succeeded", "cancelled", "not_run"}
    assert {s["id"]: s["status"] for s in info["steps"]}["run.2"] == "cancelled"


def test_trigger_then_cancel_from_another_process(deployed):
    cli = deployed
    trig = cli("workflows", "trigger", "exec_job", "-i", "duration=60")
    assert trig.returncode == 0, trig.stderr
    execution = trig.stdout.strip()
    submissions = cli.tmp / "jobs" / "submissions"
    _wait_for(lambda: len(_lines(submissions)) == 2)
    _wait_for(lambda: cli.json("executions", "status", execution)["steps"][4]["status"]
              == "running")  # fmt: skip
    cancel = cli("executions", "cancel", execution, "--wait", "--timeout", "30")
    assert cancel.returncode == 0, cancel.stdout + cancel.stderr
    assert f"execution {execution}: cancelled" in cancel.stdout
    assert _lines(cli.tmp / "jobs" / "cancellations") == ["2"]
    follow = cli("logs", execution, "--follow", timeout=30)
    assert "cancelling job 2" in follow.stdout


def test_undeploy_runs_stop_and_delete_in_reverse_order(deployed):
    cli = deployed
    proc = cli("undeploy", "-q")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    effects = [line.split()[0] for line in _lines(cli.tmp / "counter")][12:]
    assert sorted(effects) == sorted(f"{n}.Standard.{op}" for n in STEP_NODES
                                     for op in ("stop", "delete"))  # fmt: skip
    assert effects.index("top.Standard.delete") < effects.index("base.Standard.stop")
    status = cli.json("status")[0]
    assert status["status"] == "undeployed"
    assert {n["state"] for n in status["nodes"] if n["name"] != "job"} == {"deleted"}


def test_dry_run_records_nothing(tmp_path):
    cli = Cli(tmp_path)
    proc = cli.deploy("--dry-run")
    assert proc.returncode == 0 and "dry run: nothing was executed" in proc.stdout
    assert not (tmp_path / "counter").exists()
    assert cli("status").stdout.startswith("no deployment")


def test_bad_input_is_one_line_not_a_traceback(tmp_path):
    cli = Cli(tmp_path)
    proc = cli("deploy", str(tmp_path / "missing.yaml"))
    assert proc.returncode == 2
    assert proc.stderr.startswith("error: ") and "Traceback" not in proc.stderr
    proc = cli("executions", "cancel", "nope")
    assert proc.returncode == 1 and "no execution 'nope'" in proc.stderr


def _start_and_kill_while_polling(cli: Cli) -> str:
    """Start a deploy whose job runs 3 s, SIGKILL it while it polls; return the execution."""
    import sqlite3

    proc = cli.popen("deploy", str(TEMPLATE), "-i", f"counter={cli.tmp / 'counter'}",
                     "-i", f"jobs_dir={cli.tmp / 'jobs'}", "-i", "job_duration=3")  # fmt: skip

    def polling() -> bool:
        if not (cli.ws / "state.db").exists():
            return False
        with sqlite3.connect(cli.ws / "state.db") as con:
            try:
                row = con.execute(
                    "SELECT status FROM steps WHERE step_id='job.Runnable.run'"
                ).fetchone()
            except sqlite3.OperationalError:  # schema not created yet
                return False
        return row is not None and row[0] == "running"

    try:
        _wait_for(polling)
        time.sleep(0.3)
    finally:
        proc.kill()
        proc.communicate(timeout=10)
    assert len(_lines(cli.tmp / "jobs" / "submissions")) == 1
    return cli.json("executions", "list")[0]["id"]


def test_timed_kill_while_polling_then_resume_reuses_the_job(tmp_path):
    cli = Cli(tmp_path)
    _start_and_kill_while_polling(cli)
    resumed = cli.deploy("--resume", "-i", "job_duration=3")
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert "output job_id = 1" in resumed.stdout
    assert len(_lines(tmp_path / "jobs" / "submissions")) == 1  # never submitted twice


def test_cancel_of_a_killed_execution_cancels_its_job(tmp_path):
    cli = Cli(tmp_path)
    execution = _start_and_kill_while_polling(cli)
    cancel = cli("executions", "cancel", execution)
    assert cancel.returncode == 0, cancel.stderr
    assert "(cancelled)" in cancel.stdout
    assert _lines(tmp_path / "jobs" / "cancellations") == ["1"]
    info = cli.json("executions", "status", execution)
    assert info["status"] == "cancelled"
    assert "running" not in {s["status"] for s in info["steps"]}


def test_killed_undeploy_is_finished_by_undeploy_resume(deployed):
    cli = deployed
    env = {**_env(), "TOSCA_TEST_KILL_AFTER_TRANSITIONS": "12"}
    killed = subprocess.run(cli.argv("undeploy", "-q"), capture_output=True, text=True,
                            timeout=60, env=env, cwd=cli.tmp)  # fmt: skip
    assert killed.returncode == -signal.SIGKILL
    partial = [line.split()[0] for line in _lines(cli.tmp / "counter")][12:]
    assert 0 < len(partial) < 8
    finished = cli("undeploy", "--resume", "-q")
    assert finished.returncode == 0, finished.stdout + finished.stderr
    effects = [line.split()[0] for line in _lines(cli.tmp / "counter")][12:]
    assert sorted(effects) == sorted(f"{n}.Standard.{op}" for n in STEP_NODES
                                     for op in ("stop", "delete"))  # fmt: skip
    assert cli.json("status")[0]["status"] == "undeployed"
    assert len(cli.json("executions", "list")) == 2  # the uninstall was resumed, not redone
