"""AnsibleExecutor for real: ansible-core on localhost through the warm worker processes."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from orchestrator.executors.ansible import AnsibleExecutor, resolve_playbook
from orchestrator.executors.base import (
    CANCELLED,
    FAILED,
    SUCCEEDED,
    TIMED_OUT,
    OperationRequest,
    OperationResult,
)
from orchestrator.executors.secrets import Secret
from playbooks import PLAYBOOKS_DIR

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]

WRITE = """\
- hosts: all
  gather_facts: false
  tasks:
    - name: write
      shell: "echo '{{ node }} {{ inp }}' > '{{ out_dir }}/{{ node }}.txt' && echo 'out-{{ node }}'"
      register: work
    - set_stats:
        data: {out: "{{ work.stdout }}"}
    - set_fact:
        seen: "fact-{{ node }}"
"""
FAIL = """\
- hosts: all
  gather_facts: false
  tasks:
    - fail: {msg: "broken {{ node }}"}
    - set_stats: {data: {never: true}}
"""
SLEEP = """\
- hosts: all
  gather_facts: false
  tasks:
    - command: sleep 37.5
"""
SHADOW = """\
- hosts: all
  gather_facts: false
  vars: {inp: default-value}
  tasks:
    - set_stats: {data: {got: "{{ inp }}"}}
"""


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("template")
    for name, text in {"write.yaml": WRITE, "fail.yaml": FAIL, "sleep.yaml": SLEEP}.items():
        (root / "playbooks").mkdir(exist_ok=True)
        (root / "playbooks" / name).write_text(text)
    (root / "playbooks" / "shadow.yaml").write_text(SHADOW)
    return root


@pytest.fixture(scope="module")
def executor(project: Path):
    with AnsibleExecutor(template_dir=project, max_workers=2) as ex:
        ex.prestart()
        yield ex


def op(step: str, playbook: str, **inputs: object) -> OperationRequest:
    node = step.split(".")[0]
    return OperationRequest(
        step, node, "Standard", step.split(".")[-1], playbook, dict(inputs), output_names=["seen"]
    )


def test_outputs_facts_and_chaining(executor: AnsibleExecutor, tmp_path: Path):
    first = executor.run_batch(
        [
            op(
                "a.Standard.create",
                "playbooks/write.yaml",
                node="a",
                inp="start",
                out_dir=str(tmp_path),
            )
        ]
    )[0]
    assert first.status == SUCCEEDED, first.error
    assert first.outputs == {"out": "out-a", "seen": "fact-a"}
    second = executor.run_batch(
        [
            op(
                "b.Standard.create",
                "playbooks/write.yaml",
                node="b",
                inp=first.outputs["out"],
                out_dir=str(tmp_path),
            )
        ]
    )[0]
    assert second.status == SUCCEEDED
    assert (tmp_path / "b.txt").read_text().split() == ["b", "out-a"]
    assert "TASK [write] ok" in second.log and second.started_at <= second.ended_at


def test_failure_is_isolated_and_results_keep_order(executor: AnsibleExecutor, tmp_path: Path):
    started: list[str] = []
    finished: list[OperationResult] = []
    requests = [
        op(
            f"n{i}.Standard.start",
            "playbooks/fail.yaml" if i % 3 == 0 else "playbooks/write.yaml",
            node=f"n{i}",
            inp="x",
            out_dir=str(tmp_path),
        )
        for i in range(7)
    ]
    results = executor.run_batch(requests, started.append, finished.append)
    assert [r.step_id for r in results] == [r.step_id for r in requests]
    for i, result in enumerate(results):
        if i % 3 == 0:
            assert result.status == FAILED
            assert f"broken n{i}" in (result.error or "") and "never" not in result.outputs
        else:
            assert result.status == SUCCEEDED and result.outputs["out"] == f"out-n{i}"
            assert (tmp_path / f"n{i}.txt").exists()
    assert sorted(started) == sorted(r.step_id for r in requests)
    assert sorted(r.step_id for r in finished) == sorted(started)


def test_playbook_resolution(project: Path, tmp_path: Path):
    assert resolve_playbook("playbooks/write.yaml", project) == project / "playbooks/write.yaml"
    bundled = resolve_playbook("environment/configure.yaml", project)
    assert bundled == PLAYBOOKS_DIR / "environment" / "configure.yaml"
    # A template's own file wins over the bundled one of the same relative path.
    (tmp_path / "environment").mkdir()
    (tmp_path / "environment" / "configure.yaml").write_text(WRITE)
    assert (
        resolve_playbook("environment/configure.yaml", tmp_path).parent == tmp_path / "environment"
    )


def test_missing_playbook_fails_clearly(executor: AnsibleExecutor):
    result = executor.run_batch([op("m.Standard.create", "playbooks/nope.yaml")])[0]
    assert result.status == FAILED and "playbook 'playbooks/nope.yaml' not found" in result.error


def test_bundled_environment_configure(executor: AnsibleExecutor, tmp_path: Path):
    request = OperationRequest(
        "env.Standard.configure",
        "env",
        "Standard",
        "configure",
        "environment/configure.yaml",
        {
            "scheduler": "local",
            "login_host": "localhost",
            "work_dir": "",
            "results_dir": "",
            "pycompss_modules": ["COMPSs/3.3", "python"],
        },
        context={"workspace": str(tmp_path)},
    )
    result = executor.run_batch([request])[0]
    assert result.status == SUCCEEDED, result.log
    site = tmp_path / "sites" / "env"
    assert result.outputs["work_dir"] == str(site) and site.is_dir()
    assert result.outputs["results_dir"] == str(site / "results") and (site / "results").is_dir()
    assert result.outputs["pycompss_modules"] == "COMPSs/3.3,python"
    assert result.outputs["cluster_login_host"] == "localhost"


def test_inputs_win_over_play_vars(executor: AnsibleExecutor):
    result = executor.run_batch([op("s.Standard.create", "playbooks/shadow.yaml", inp="given")])
    assert result[0].outputs["got"] == "given"


def test_secret_inputs_are_redacted(executor: AnsibleExecutor, tmp_path: Path):
    request = op(
        "p.Standard.create",
        "playbooks/write.yaml",
        node="p",
        inp=Secret("s3cr3t-value"),
        out_dir=str(tmp_path),
    )
    result = executor.run_batch([request])[0]
    assert result.status == SUCCEEDED
    assert (tmp_path / "p.txt").read_text().split() == ["p", "s3cr3t-value"]  # really used
    assert "s3cr3t-value" not in result.log + repr(result.outputs)


def test_cancel_and_timeout(project: Path, tmp_path: Path):
    with AnsibleExecutor(template_dir=project, max_workers=2) as ex:
        cancel = threading.Event()
        t0 = time.monotonic()
        result = ex.run_batch(
            [op("c.Standard.create", "playbooks/sleep.yaml")],
            on_started=lambda step: threading.Timer(1.0, cancel.set).start(),  # mid-command
            cancel=cancel,
        )[0]
        assert result.status == CANCELLED and time.monotonic() - t0 < 20
        slow = OperationRequest(
            "t.Standard.create", "t", "Standard", "create", "playbooks/sleep.yaml", timeout=2
        )
        fast = op(
            "f.Standard.create", "playbooks/write.yaml", node="f", inp="x", out_dir=str(tmp_path)
        )
        t0 = time.monotonic()
        timed, ok = ex.run_batch([slow, fast])
        assert timed.status == TIMED_OUT and time.monotonic() - t0 < 20
        assert ok.status == SUCCEEDED  # the executor recovered after killing a worker
    time.sleep(0.5)
    assert not _running("sleep 37.5"), "a cancelled / timed-out command was left running"


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


def test_early_worker_is_adopted(project: Path, tmp_path: Path):
    from orchestrator.executors import ansible as module

    module.start_early()
    early = module._early
    assert early is not None
    with AnsibleExecutor(template_dir=project) as ex:
        result = ex.run_batch(
            [
                op(
                    "e.Standard.create",
                    "playbooks/write.yaml",
                    node="e",
                    inp="x",
                    out_dir=str(tmp_path),
                )
            ]
        )[0]
        assert result.status == SUCCEEDED
        assert module._early is None and early in ex._pool.idle  # the same warm process


def test_concurrent_batches_share_plays(executor: AnsibleExecutor, tmp_path: Path):
    """Ops handed over in several small batches at once run as few plays, not one each."""
    before = executor._dispatcher.jobs
    results: list[OperationResult] = []

    def batch(k: int) -> None:
        reqs = [
            op(f"c{k}_{i}.Standard.start", "playbooks/write.yaml", node=f"c{k}_{i}", inp="x",
               out_dir=str(tmp_path))
            for i in range(3)
        ]  # fmt: skip
        results.extend(executor.run_batch(reqs))

    threads = [threading.Thread(target=batch, args=(k,)) for k in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == 18 and all(r.status == SUCCEEDED for r in results)
    assert executor._dispatcher.jobs - before <= 4  # 6 batches, at most 2 workers x 2 waves
