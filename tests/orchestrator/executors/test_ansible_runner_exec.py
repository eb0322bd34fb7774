"""AnsibleRunnerExecutor for real: ansible-runner and ansible-core on localhost, and through
``tosca deploy --ansible runner``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from orchestrator.executors.ansible_runner_exec import AnsibleRunnerExecutor
from orchestrator.executors.base import (
    CANCELLED,
    FAILED,
    SUCCEEDED,
    TIMED_OUT,
    OperationRequest,
    OperationResult,
)
from orchestrator.executors.secrets import Secret

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

ROOT = Path(__file__).resolve().parents[3]

WRITE = """\
- hosts: all
  gather_facts: false
  tasks:
    - name: write
      shell: "echo '{{ node }} {{ inp }}' > '{{ out_dir }}/{{ node }}.txt' && echo 'out-{{ node }}'"
      register: work
    - name: maybe fail
      fail: {msg: "broken {{ node }} {{ inp }}"}
      when: node.startswith('bad')
    - set_stats:
        data: {out: "{{ work.stdout }}"}
    - set_fact:
        seen: "fact-{{ node }}"
"""
# Two plays: the operation ends with its second play.
TWO_PLAYS = """\
- name: first half
  hosts: all
  gather_facts: false
  tasks:
    - set_fact: {half: "one-{{ node }}"}
- name: second half
  hosts: all
  gather_facts: false
  vars: {inp: default-value}
  tasks:
    - set_stats: {data: {got: "{{ inp }}", half: "{{ half }}"}}
"""
SLEEP = """\
- hosts: all
  gather_facts: false
  tasks:
    - command: sleep 41.5
"""


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("runner-template")
    (root / "playbooks").mkdir()
    for name, text in {"write.yaml": WRITE, "two.yaml": TWO_PLAYS, "sleep.yaml": SLEEP}.items():
        (root / "playbooks" / name).write_text(text)
    return root


def op(step: str, playbook: str, workdir: Path | None = None, **inputs: object) -> OperationRequest:
    node = step.split(".")[0]
    return OperationRequest(
        step,
        node,
        "Standard",
        step.split(".")[-1],
        playbook,
        dict(inputs),
        output_names=["seen"],
        workdir=str(workdir) if workdir else None,
    )


def _running(cmdline: str) -> list[str]:
    found = []
    for entry in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            text = entry.read_bytes().replace(b"\0", b" ").decode().strip()
        except OSError:
            continue
        if text == cmdline:
            found.append(entry.parent.name)
    return found


def test_one_run_per_batch_outputs_isolation_and_early_finish(project: Path, tmp_path: Path):
    """One batch = one ansible-runner run; set_stats and facts outputs; failures stay with
    their operation; an operation is reported as soon as its last play ends."""
    ex = AnsibleRunnerExecutor(template_dir=project)
    timeline: list[tuple[str, str, float]] = []
    finished: list[OperationResult] = []

    def started(step: str) -> None:
        timeline.append(("start", step, time.monotonic()))

    def done(result: OperationResult) -> None:
        timeline.append(("end", result.step_id, time.monotonic()))
        finished.append(result)

    requests = [
        op("a.Standard.create", "playbooks/write.yaml", tmp_path, node="a", inp="x",
           out_dir=str(tmp_path)),
        op("bad1.Standard.create", "playbooks/write.yaml", tmp_path, node="bad1", inp="x",
           out_dir=str(tmp_path)),
        op("c.Standard.create", "playbooks/write.yaml", tmp_path, node="c", inp="{{ 6 * 7 }}",
           out_dir=str(tmp_path)),
        op("t.Standard.create", "playbooks/two.yaml", tmp_path, node="t", inp="given"),
        op("m.Standard.create", "playbooks/missing.yaml", tmp_path),
    ]  # fmt: skip
    results = ex.run_batch(requests, started, done)
    assert ex.runs == 1
    assert [r.step_id for r in results] == [r.step_id for r in requests]
    a, bad, c, two, missing = results
    assert a.status == SUCCEEDED, a.log
    assert a.outputs == {"out": "out-a", "seen": "fact-a"}
    assert "TASK [write] ok" in a.log and a.started_at <= a.ended_at
    assert bad.status == FAILED and "broken bad1 x" in (bad.error or "")
    assert "out" not in bad.outputs
    # Input strings are data, never templates; the failed neighbour stopped nothing.
    assert c.status == SUCCEEDED and (tmp_path / "c.txt").read_text().split() == [
        "c",
        "{{",
        "6",
        "*",
        "7",
        "}}",
    ]
    # A later group (another playbook) still ran after a failure; inputs win over play vars.
    assert two.status == SUCCEEDED and two.outputs == {"got": "given", "half": "one-t"}
    assert missing.status == FAILED and "not found" in (missing.error or "")
    assert sorted(r.step_id for r in finished) == sorted(r.step_id for r in requests)
    # write.yaml's group is reported when its play ends, before two.yaml's group starts.
    when = {(kind, step): t for kind, step, t in timeline}
    assert when[("end", "a.Standard.create")] <= when[("start", "t.Standard.create")]
    # ansible-runner's artifacts are kept under the workdir.
    runs = list((tmp_path / "ansible-runner").glob("batch-*/artifacts/run"))
    assert len(runs) == 1 and (runs[0] / "job_events").is_dir()
    assert (runs[0] / "status").read_text() == "failed"  # one operation failed


def test_secrets_never_reach_logs_outputs_or_artifacts(project: Path, tmp_path: Path):
    ex = AnsibleRunnerExecutor(template_dir=project)
    secret = "s3cr3t-runner-value"
    ok, bad = ex.run_batch(
        [
            op(
                "p.Standard.create",
                "playbooks/write.yaml",
                tmp_path,
                node="p",
                inp=Secret(secret),
                out_dir=str(tmp_path),
            ),
            op(
                "bad2.Standard.create",
                "playbooks/write.yaml",
                tmp_path,
                node="bad2",
                inp=Secret(secret),
                out_dir=str(tmp_path),
            ),
        ]  # fmt: skip
    )
    assert ok.status == SUCCEEDED and bad.status == FAILED
    assert (tmp_path / "p.txt").read_text().split() == ["p", secret]  # really used
    assert "broken bad2 ***" in (bad.error or "")
    for result in (ok, bad):
        assert secret not in result.log + repr(result.outputs) + (result.error or "")
    leaked = [
        str(path)
        for path in (tmp_path / "ansible-runner").rglob("*")
        if path.is_file() and not path.is_symlink() and secret.encode() in path.read_bytes()
    ]
    assert not leaked, leaked


def test_cancel_and_timeout_kill_the_run(project: Path, tmp_path: Path):
    ex = AnsibleRunnerExecutor(template_dir=project)
    cancel = threading.Event()
    t0 = time.monotonic()
    (result,) = ex.run_batch(
        [op("s.Standard.create", "playbooks/sleep.yaml", tmp_path)],
        on_started=lambda step: threading.Timer(1.5, cancel.set).start(),  # mid-command
        cancel=cancel,
    )
    assert result.status == CANCELLED and time.monotonic() - t0 < 20
    slow = OperationRequest(
        "t.Standard.create", "t", "Standard", "create", "playbooks/sleep.yaml", timeout=2
    )
    t0 = time.monotonic()
    (timed,) = ex.run_batch([slow])
    assert timed.status == TIMED_OUT and time.monotonic() - t0 < 20, timed.error
    time.sleep(0.3)
    assert not _running("sleep 41.5"), "a cancelled / timed-out command was left running"


CHAIN_TEMPLATE = """\
tosca_definitions_version: tosca_simple_yaml_1_3
topology_template:
  node_templates:
    first:
      type: tosca.nodes.Root
      interfaces:
        Standard:
          create:
            implementation: playbooks/write.yaml
            inputs:
              node: first
              inp: {get_secret: "env:RUNNER_TEST_TOKEN"}
              out_dir: "OUT"
    second:
      type: tosca.nodes.Root
      requirements:
        - dependency: first
      interfaces:
        Standard:
          create:
            implementation: playbooks/write.yaml
            inputs:
              node: second
              inp: {get_operation_output: [first, Standard, create, out]}
              out_dir: "OUT"
  outputs:
    second_out:
      value: {get_operation_output: [second, Standard, create, out]}
"""


def test_cli_deploy_with_ansible_runner_chains_outputs(project: Path, tmp_path: Path):
    (tmp_path / "playbooks").mkdir()
    (tmp_path / "playbooks" / "write.yaml").write_text(WRITE)
    out = tmp_path / "out"
    out.mkdir()
    (tmp_path / "chain.yaml").write_text(CHAIN_TEMPLATE.replace("OUT", str(out)))
    workspace = tmp_path / "ws"
    secret = "tok-runner-0123456789"
    env = {**os.environ, "RUNNER_TEST_TOKEN": secret, "TOSCA_ANSIBLE": "warm"}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH")) if p)

    def tosca(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "orchestrator.cli.main", *args, "--workspace", str(workspace)],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=90,
        )

    deployed = tosca("deploy", "chain.yaml", "--ansible", "runner", "-o", "json")
    assert deployed.returncode == 0, deployed.stdout + deployed.stderr
    assert (out / "first.txt").read_text().split() == ["first", secret]
    assert (out / "second.txt").read_text().split() == ["second", "out-first"]
    outputs = tosca("outputs", "-o", "json")
    assert json.loads(outputs.stdout)["second_out"] == "out-second"
    logs = tosca("logs")
    assert "ansible executor: ansible-runner" in logs.stdout  # the engine is on record
    assert secret not in deployed.stdout + deployed.stderr + logs.stdout
    # One run per batch: two dependent operations, two runs, artifacts kept; no secret
    # in the state store or the artifacts.
    runs = sorted(workspace.glob("executions/*/ansible-runner/batch-*/artifacts/run"))
    assert len(runs) == 2
    for path in [workspace / "state.db", *workspace.rglob("*")]:
        if path.is_file() and not path.is_symlink():
            assert secret.encode() not in path.read_bytes(), path
    bad = tosca("deploy", "chain.yaml", "--ansible", "nope", "-n", "other")
    assert bad.returncode != 0 and "unknown Ansible executor 'nope'" in bad.stdout + bad.stderr


# -- a remote site over SSH: the loopback sshd of scripts/sshd-up.sh -------------------------

SSHD_DIR = Path(os.environ.get("TOSCA_SSHD_DIR", "/var/lib/tosca-test"))
SSHD_PORT = int(os.environ.get("TOSCA_SSHD_PORT", "2222"))
SSHD_USER = os.environ.get("TOSCA_SSHD_USER", "toscauser")
WHOAMI = """\
- hosts: all
  gather_facts: false
  tasks:
    - command: id -un
      register: who
    - set_stats:
        data: {user: "{{ who.stdout }}", greeting: "{{ greeting }}"}
"""


@pytest.mark.ssh
def test_ssh_site_with_trusted_key_and_unknown_key_refused(tmp_path: Path):
    from orchestrator.core import HostSpec
    from orchestrator.transport.ssh import trust_host

    if not (SSHD_DIR / "ssh_host_ed25519_key.pub").exists():
        pytest.fail("the loopback sshd is not set up: run scripts/sshd-up.sh")
    playbook = tmp_path / "whoami.yaml"
    playbook.write_text(WHOAMI)
    trusted, empty = tmp_path / "known_hosts", tmp_path / "known_hosts_empty"
    key = (SSHD_DIR / "ssh_host_ed25519_key.pub").read_text().split()
    trust_host(trusted, "127.0.0.1", SSHD_PORT, f"{key[0]} {key[1]}")
    empty.write_text("")

    def request(step: str, known_hosts: Path) -> OperationRequest:
        host = HostSpec(
            name="site", connection="ssh", address="127.0.0.1", port=SSHD_PORT, user=SSHD_USER,
            private_key_file=str(SSHD_DIR / "id_ed25519"), known_hosts_file=str(known_hosts),
        )  # fmt: skip
        return OperationRequest(
            step, "site", "Standard", "configure", str(playbook), {"greeting": "hello"}, host=host
        )

    ex = AnsibleRunnerExecutor()
    ok, refused = ex.run_batch(
        [request("a.Standard.configure", trusted), request("b.Standard.configure", empty)]
    )
    assert ex.runs == 1
    assert ok.status == SUCCEEDED, ok.log
    assert ok.outputs == {"user": SSHD_USER, "greeting": "hello"}
    assert refused.status == FAILED
    assert "unreachable" in (refused.error or "") and "host key" in (refused.error or "")
