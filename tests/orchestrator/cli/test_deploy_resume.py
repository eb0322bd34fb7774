"""Resume after SIGKILL: a real ``tosca deploy`` process is killed at many points, then
``tosca deploy --resume`` must finish without re-running finished operations and without
submitting the job twice.

Kill points come from the test-only hook ``TOSCA_TEST_KILL_AFTER_TRANSITIONS=N`` (the
process SIGKILLs itself right after its N-th committed state transition), spread over every
transition of a full deploy, plus a kill inside ``submit`` after the job was created but
before its id could be recorded.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
TEMPLATE = HERE / "resume_template"
OPERATION_STEPS = [
    f"{node}.Standard.{op}"
    for node in ("base", "left", "right", "top")
    for op in ("create", "configure", "start")
]
ALL_STEPS = 14  # 12 Standard operations + job submit + job run


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TOSCA_")}
    env["PYTHONPATH"] = os.pathsep.join([str(HERE), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    env.update(extra)
    return env


def _deploy(tmp: Path, *args: str, timeout: float = 90, **env: str) -> subprocess.CompletedProcess:
    argv = [
        sys.executable, "-m", "orchestrator.cli.main", "deploy", str(TEMPLATE),
        "--workspace", str(tmp / "ws"), "-i", f"counter={tmp / 'counter'}",
        "-i", f"jobs_dir={tmp / 'jobs'}", "-i", "job_duration=0.3", *args,
    ]  # fmt: skip
    return subprocess.run(argv, capture_output=True, text=True, timeout=timeout,
                          env=_env(**env), cwd=tmp)  # fmt: skip


def _lines(path: Path) -> list[str]:
    return path.read_text().splitlines() if path.exists() else []


def _succeeded_steps(ws: Path) -> set[str]:
    db = ws / "state.db"
    if not db.exists():
        return set()
    with sqlite3.connect(db) as con:
        try:
            rows = con.execute("SELECT step_id FROM steps WHERE status='succeeded'").fetchall()
        except sqlite3.OperationalError:  # killed before the schema was committed
            return set()
    return {r[0] for r in rows}


def _calls(tmp: Path) -> Counter[str]:
    return Counter(line.split()[0] for line in _lines(tmp / "counter.calls"))


def _check_complete(tmp: Path) -> None:
    effects = Counter(line.split()[0] for line in _lines(tmp / "counter"))
    assert effects == Counter(OPERATION_STEPS), effects  # every operation exactly once
    # The job was submitted once: one job exists (the submissions log is written just after
    # the job, so a kill in between leaves the job without its log line).
    jobs = sorted(p.name for p in (tmp / "jobs").glob("*.json"))
    assert jobs == ["1.json"], jobs
    with sqlite3.connect(tmp / "ws" / "state.db") as con:
        status = con.execute("SELECT status FROM deployments").fetchone()[0]
        steps = con.execute(
            "SELECT s.status FROM steps s JOIN executions e ON e.id = s.execution_id"
            " WHERE e.id = (SELECT id FROM executions ORDER BY created_at DESC LIMIT 1)"
        ).fetchall()
    assert status == "deployed"
    assert [s[0] for s in steps] == ["succeeded"] * ALL_STEPS


def _kill_and_resume(tmp: Path, kill_at: int) -> bool:
    """Kill a deploy after ``kill_at`` transitions, resume it; False if it was not killed."""
    first = _deploy(tmp, "-q", TOSCA_TEST_KILL_AFTER_TRANSITIONS=str(kill_at))
    if first.returncode == 0:
        return False
    assert first.returncode == -signal.SIGKILL, first.stderr
    done_before = _succeeded_steps(tmp / "ws")
    calls_before = _calls(tmp)
    second = _deploy(tmp, "--resume", "-q")
    assert second.returncode == 0, second.stdout + second.stderr
    calls_after = _calls(tmp)
    for step in done_before & set(OPERATION_STEPS):
        # A finished operation is never run again.
        assert calls_after[step] == calls_before[step] == 1, (step, kill_at)
    _check_complete(tmp)
    return True


def _transitions_of_full_deploy(tmp: Path) -> int:
    """How many state transitions a full deploy commits, counted in-process with the same
    service the CLI uses (kill points beyond it would not kill)."""
    from orchestrator.service import Service

    sys.path.insert(0, str(HERE))
    try:
        service = Service(tmp / "count-ws")
        seen: list[int] = []
        service.store.transition_hook = seen.append
        outcome = service.deploy(
            TEMPLATE,
            {
                "counter": str(tmp / "count-c"),
                "jobs_dir": str(tmp / "count-jobs"),
                "job_duration": 0.3,
            },
        )
        assert outcome.ok
        service.close()
    finally:
        sys.path.remove(str(HERE))
    return len(seen)


def test_resume_after_kill_inside_submit_does_not_submit_twice(tmp_path):
    marker = tmp_path / "killed-in-submit"
    first = _deploy(tmp_path, "-q", RESUME_OPS_KILL_IN_SUBMIT=str(marker))
    assert first.returncode == -signal.SIGKILL and marker.exists()
    assert len(_lines(tmp_path / "jobs" / "submissions")) == 1  # the job exists...
    with sqlite3.connect(tmp_path / "ws" / "state.db") as con:  # ...its id was never recorded
        row = con.execute(
            "SELECT status, job_id FROM steps WHERE step_id='job.Runnable.submit'"
        ).fetchone()
    assert row == ("running", None)
    second = _deploy(tmp_path, "--resume")
    assert second.returncode == 0, second.stdout + second.stderr
    _check_complete(tmp_path)
    with sqlite3.connect(tmp_path / "ws" / "state.db") as con:
        attempts = con.execute(
            "SELECT status, token FROM attempts WHERE step_id='job.Runnable.submit' ORDER BY number"
        ).fetchall()
    # The resumed attempt reused the interrupted attempt's idempotency token.
    assert [a[0] for a in attempts] == ["interrupted", "succeeded"]
    assert attempts[0][1] == attempts[1][1]
    assert "output job_id = 1" in second.stdout


def test_resume_after_kill_at_a_few_points(tmp_path):
    for kill_at in (3, 12, 25):
        case = tmp_path / str(kill_at)
        case.mkdir()
        assert _kill_and_resume(case, kill_at), f"deploy finished before transition {kill_at}"


@pytest.mark.slow
def test_resume_after_kill_at_every_stage(tmp_path):
    total = _transitions_of_full_deploy(tmp_path)
    # At least 20 kill points spread over the whole deploy (every transition when few).
    points = sorted({round(1 + i * (total - 1) / 21) for i in range(22)})
    killed = 0
    for kill_at in points:
        case = tmp_path / f"k{kill_at}"
        case.mkdir()
        killed += _kill_and_resume(case, kill_at)
    assert killed >= 20, (killed, total)


def test_resume_of_a_finished_deploy_does_nothing(tmp_path):
    assert _deploy(tmp_path, "-q").returncode == 0
    again = _deploy(tmp_path, "--resume")
    assert again.returncode == 0 and "already deployed" in again.stdout
    _check_complete(tmp_path)


ANSIBLE_TEMPLATE = HERE / "ansible_template"
ANSIBLE_EFFECTS = ["first-create", "first-configure", "second-create", "second-configure"]


def _deploy_ansible(tmp: Path, *args: str, **env: str) -> subprocess.CompletedProcess:
    argv = [
        sys.executable, "-m", "orchestrator.cli.main", "deploy", str(ANSIBLE_TEMPLATE),
        "--workspace", str(tmp / "ws"), "-i", f"counter={tmp / 'counter'}", "-q", *args,
    ]  # fmt: skip
    return subprocess.run(argv, capture_output=True, text=True, timeout=180,
                          env=_env(**env), cwd=tmp)  # fmt: skip


@pytest.mark.integration
def test_resume_with_the_ansible_executor(tmp_path):
    """Playbook operations through the real batched Ansible executor, killed mid-deploy.

    A deploy of this chain commits about 25 transitions; 9 and 16 fall after the first and
    the third operation started (asserted below, so a changed count cannot go unnoticed)."""
    for kill_at in (9, 16):
        case = tmp_path / f"k{kill_at}"
        case.mkdir()
        first = _deploy_ansible(case, TOSCA_TEST_KILL_AFTER_TRANSITIONS=str(kill_at))
        assert first.returncode == -signal.SIGKILL, first.stderr
        done = _succeeded_steps(case / "ws")
        assert 0 < len(done) < 4  # killed in the middle of the chain
        second = _deploy_ansible(case, "--resume")
        assert second.returncode == 0, second.stdout + second.stderr
        effects = [line.split()[0] for line in _lines(case / "counter")]
        assert effects == ANSIBLE_EFFECTS, (kill_at, effects)  # each playbook ran once
        assert "output second_result = second-configure-done" in second.stdout
