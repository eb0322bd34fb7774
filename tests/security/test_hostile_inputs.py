"""Hostile-input corpus, end to end: real Ansible (warm worker and ansible-runner), a real job
on the local site and on the real test Slurm.

Every workflow input carries something that would execute if it were ever evaluated (shell
metacharacters, ``$(...)``, backticks, newlines, Jinja, option-looking values, a very long
value). Each must arrive as the literal string, in the playbook and in the job; nothing
may run; a canary secret (a secret-named input, and a ``TOSCA_SECRET_*`` variable of the
orchestrator) must appear nowhere: not in the workspace, not in ``ps`` output captured
during the run, not in the job's environment.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

pytestmark = [pytest.mark.integration]

TEMPLATE = Path(__file__).resolve().parent / "hostile"
CANARY = "Canary-Secret-7f3a91c2"
ENV_CANARY = "Env-Canary-5d2e8b41"


def corpus(pwn: Path) -> dict[str, str]:
    """One value per kind of attack; each would create a file under ``pwn`` if evaluated."""
    return {
        "n_shell": f"x; touch {pwn}/shell && echo | tee {pwn}/pipe > {pwn}/redirect",
        "n_subst": f"$(touch {pwn}/subst)",
        "n_tick": f"`touch {pwn}/tick`",
        "n_newline": f"line one\ntouch {pwn}/newline\n",
        "n_jinja": "{{ lookup('pipe', 'touch " + str(pwn) + "/jinja') }}{% raw %}",
        "n_option": f"-oProxyCommand=touch${{IFS}}{pwn}/option",
        "n_long": "L" * 20000,
    }


class PsRecorder:
    """Records every process's command line (``ps -eo args``) while a run goes on."""

    def __init__(self) -> None:
        self.seen: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def _loop(self) -> None:
        while not self._stop.is_set():
            out = subprocess.run(["ps", "-eww", "-o", "args"], capture_output=True, text=True)
            self.seen.append(out.stdout)
            time.sleep(0.05)

    def __enter__(self) -> PsRecorder:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def tosca(ws: Path, *args: str, env: dict[str, str], timeout: float = 180):
    argv = [sys.executable, "-m", "orchestrator.cli.main", *args, "--workspace", str(ws)]
    return subprocess.run(argv, capture_output=True, text=True, env=env, timeout=timeout)


def files_containing(root: Path, needle: str) -> list[str]:
    hits = []
    for path in root.rglob("*"):
        if path.is_file() and not path.is_symlink():
            with open(path, "rb") as handle:
                if needle.encode() in handle.read():
                    hits.append(str(path.relative_to(root)))
    return hits


@pytest.mark.parametrize(
    "scheduler, ansible",
    [
        ("local", "warm"),
        ("local", "runner"),
        pytest.param("slurm", "warm", marks=pytest.mark.slurm),
    ],
)
def test_every_input_arrives_literally_and_no_secret_leaks(
    tmp_path: Path, scheduler: str, ansible: str, request: pytest.FixtureRequest
) -> None:
    if scheduler == "slurm":
        request.getfixturevalue("slurm_cluster")
    pwn, out, ws = tmp_path / "pwn", tmp_path / "out", tmp_path / "ws"
    pwn.mkdir()
    out.mkdir()
    app = tmp_path / "app.py"
    shutil.copy(TEMPLATE / "app.py", app)
    env = {**os.environ, "TOSCA_ANSIBLE": ansible, "TOSCA_SECRET_CANARY": ENV_CANARY}
    args = {
        "arg_shell": f"a; touch {pwn}/arg_shell",
        "arg_option": f"-oProxyCommand=touch {pwn}/arg_option",
        "arg_jinja": "{{ lookup('pipe', 'touch " + str(pwn) + "/arg_jinja') }}",
    }
    deploy_inputs = tmp_path / "deploy.yaml"
    deploy_inputs.write_text(json.dumps({"app": str(app), "scheduler": scheduler, **args}))
    done = tosca(ws, "deploy", str(TEMPLATE), "--inputs", str(deploy_inputs), "-q", env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    values = corpus(pwn)
    # Secrets go in a file, never on the command line (where `ps` would show them).
    run_inputs = tmp_path / "run.json"
    run_inputs.write_text(
        json.dumps({**values, "out_dir": str(out), "api_password": CANARY, "declared_token": "t0k"})
    )
    with PsRecorder() as ps:
        run = tosca(ws, "workflows", "run", "exec", "--inputs", str(run_inputs), env=env)
    assert run.returncode == 0, run.stdout + run.stderr

    # The playbook saw each value as written, and the secret as its clear value.
    for name, value in values.items():
        assert (out / name).read_text() == value, name
    assert (out / "api_password").read_text() == CANARY
    # The job: literal argv, workflow inputs in its environment, secrets only where declared.
    job = json.loads((out / "job.json").read_text())
    assert job["argv"] == list(args.values())
    for name, value in values.items():
        assert job["env"][name] == value, name
    assert "api_password" not in job["env"]
    assert job["env"].get("declared_token") == "t0k"  # export_secrets: [declared_token]
    assert not any(ENV_CANARY in v for v in job["env"].values())
    assert not any(k.startswith("TOSCA_SECRET") for k in job["env"])
    # Nothing executed.
    assert sorted(p.name for p in pwn.iterdir()) == []
    # The canaries appear nowhere: workspace (state, logs, job scripts, runner artifacts),
    # the CLI's own output, or any process's command line during the run.
    assert files_containing(ws, CANARY) == []
    assert files_containing(ws, ENV_CANARY) == []
    assert CANARY not in run.stdout + run.stderr
    assert not any(CANARY in snapshot or ENV_CANARY in snapshot for snapshot in ps.seen)
    assert len(ps.seen) > 5
    # A shared login node: the workspace and its database are private to their user.
    assert ws.stat().st_mode & 0o777 == 0o700
    assert (ws / "state.db").stat().st_mode & 0o777 == 0o600
    assert all(p.stat().st_mode & 0o077 == 0 for p in (ws / "executions").iterdir())


def test_non_utf8_and_oversized_inputs_get_a_clear_error(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    app = tmp_path / "app.py"
    shutil.copy(TEMPLATE / "app.py", app)
    env = {**os.environ}
    assert tosca(ws, "deploy", str(TEMPLATE), "-i", f"app={app}", "-q", env=env).returncode == 0
    base = [sys.executable, "-m", "orchestrator.cli.main", "workflows", "run", "exec"]
    base += ["--workspace", str(ws)]
    given = {**corpus(tmp_path), "out_dir": str(tmp_path), "api_password": "x"}

    def with_inputs(values: dict[str, str]) -> list[str]:
        argv = list(base)
        for name, value in values.items():
            argv += ["-i", f"{name}={value}"]
        return argv

    argv = with_inputs(given)
    bad = os.fsencode("n_shell=") + b"\xff\xfe"
    proc = subprocess.run([os.fsencode(a) for a in argv] + [b"-i", bad], capture_output=True)
    text = proc.stdout.decode(errors="replace") + proc.stderr.decode(errors="replace")
    assert proc.returncode == 2, text
    assert "Traceback" not in text
    assert "n_shell" in text and "UTF-8" in text
    # Same in an inputs file.
    inputs = tmp_path / "bad.yaml"
    inputs.write_bytes(b"n_shell: \xff\xfe\n")
    proc2 = subprocess.run([*argv, "--inputs", str(inputs)], capture_output=True, text=True)
    assert proc2.returncode == 2 and "not UTF-8" in proc2.stderr, proc2.stderr
    assert "Traceback" not in proc2.stdout + proc2.stderr
    # A required input left out is refused before anything is recorded.
    short = with_inputs({k: v for k, v in given.items() if k != "n_long"})
    proc3 = subprocess.run(short, capture_output=True, text=True)
    assert proc3.returncode == 2 and "required input(s) not given: n_long" in proc3.stderr
    assert "execution" not in proc3.stdout
