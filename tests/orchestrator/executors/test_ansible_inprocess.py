"""Tasks run inside the warm worker (ansible_inprocess) behave as with a fork per task.

The same batches run through two executors, one with the default in-process tasks and one
with ``TOSCA_ANSIBLE_FORK_TASKS=1`` (Ansible's own fork per (host, task)); results, outputs
and logs must match. Also checks the mitogen start-up settings (mitogen_tuning) on the
worker's real process tree.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from orchestrator.executors.ansible import AnsibleExecutor, _descendants
from orchestrator.executors.base import FAILED, SUCCEEDED, OperationRequest, OperationResult

pytestmark = [pytest.mark.integration, pytest.mark.timeout(240)]

# Several hosts share each task object in one play: the arguments, the `when`, the loop,
# the retries and `ignore_errors` must be evaluated for each host on its own.
RICH = """\
- hosts: all
  gather_facts: false
  tasks:
    - name: "write for {{ node }}"
      shell: "echo '{{ node }}' > '{{ out_dir }}/{{ node }}.txt' && echo 'out-{{ node }}'"
      register: work
    - name: "only for odd {{ node }}"
      command: "echo odd-{{ node }}"
      register: odd
      when: (node[-1] | int) % 2 == 1
    - name: "loop for {{ node }}"
      command: "echo {{ item }}-{{ node }}"
      loop: [a, b]
      register: looped
    - name: "retry for {{ node }}"
      shell: >-
        echo x >> '{{ out_dir }}/{{ node }}.count'
        && test $(wc -l < '{{ out_dir }}/{{ node }}.count') -ge 2
      register: counted
      retries: 3
      delay: 0
      until: counted.rc == 0
    - name: "may fail {{ node }}"
      command: /bin/false
      ignore_errors: "{{ node == 'h2' }}"
    - set_stats:
        data:
          out: "{{ work.stdout }}"
          odd: "{{ odd.stdout | default('skipped') }}"
          looped: "{{ looped.results | map(attribute='stdout') | list }}"
          attempts: "{{ counted.attempts }}"
"""


BAD_THROTTLE = """\
- hosts: all
  gather_facts: false
  tasks:
    - command: "true"
      throttle: "{{ 'many' }}"
"""


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("inprocess-template")
    (root / "rich.yaml").write_text(RICH)
    (root / "throttle.yaml").write_text(BAD_THROTTLE)
    return root


@pytest.fixture(scope="module")
def in_process(project: Path) -> Iterator[AnsibleExecutor]:
    with AnsibleExecutor(template_dir=project, max_workers=1) as ex:
        yield ex


@pytest.fixture(scope="module")
def forked(project: Path) -> Iterator[AnsibleExecutor]:
    env = {"TOSCA_ANSIBLE_FORK_TASKS": "1"}
    with AnsibleExecutor(template_dir=project, max_workers=1, env=env) as ex:
        yield ex


def _batch(out_dir: Path) -> list[OperationRequest]:
    out_dir.mkdir(parents=True, exist_ok=True)
    return [
        OperationRequest(
            f"h{i}.Standard.create",
            f"h{i}",
            "Standard",
            "create",
            "rich.yaml",
            {"node": f"h{i}", "out_dir": str(out_dir)},
        )
        for i in range(1, 4)
    ]


def _comparable(result: OperationResult) -> tuple[str, dict[str, object], str, str | None]:
    # Timings and temporary paths differ between runs; everything else must not.
    log = re.sub(r"/tmp/\S+", "TMP", result.log)
    return result.status, result.outputs, log, result.error


def test_in_process_matches_fork_per_task(
    in_process: AnsibleExecutor, forked: AnsibleExecutor, tmp_path: Path
) -> None:
    mine = in_process.run_batch(_batch(tmp_path / "in"))
    theirs = forked.run_batch(_batch(tmp_path / "fork"))
    assert [_comparable(r) for r in mine] == [_comparable(r) for r in theirs]
    h1, h2, h3 = mine
    # Each host got its own templating of the shared tasks.
    assert h2.status == SUCCEEDED and h2.outputs == {
        "out": "out-h2",
        "odd": "skipped",
        "looped": ["a-h2", "b-h2"],
        "attempts": 2,
    }
    # (Ansible templates a task's name once per task, for callbacks: the same in both.)
    assert "stdout: out-h2" in h2.log and "out-h1" not in h2.log and "out-h3" not in h2.log
    assert "] ignored\n  msg: non-zero return code" in h2.log
    for failed, node in ((h1, "h1"), (h3, "h3")):
        assert failed.status == FAILED
        assert failed.error is not None and "failed: non-zero return code" in failed.error
        assert failed.outputs == {}  # set_stats never ran
        assert (tmp_path / "in" / f"{node}.txt").read_text().strip() == node


def test_bad_throttle_fails_as_with_forks(
    in_process: AnsibleExecutor, forked: AnsibleExecutor
) -> None:
    request = OperationRequest("t.Standard.create", "t", "Standard", "create", "throttle.yaml")
    mine = in_process.run_batch([request])[0]
    theirs = forked.run_batch([request])[0]
    assert mine.status == theirs.status == FAILED
    assert mine.error == theirs.error
    assert mine.error is not None and "throttle" in mine.error


def _targets(worker_pid: int) -> list[int]:
    """mitogen target interpreters under a worker (their argv[0] names mitogen)."""
    found = []
    for pid in _descendants(worker_pid):
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        if b"(mitogen:" in cmdline.split(b"\0")[0]:
            found.append(pid)
    return found


def _allowed_cpus(pid: int) -> str:
    status = Path(f"/proc/{pid}/status").read_text()
    return re.search(r"Cpus_allowed_list:\s*(\S+)", status).group(1)  # type: ignore[union-attr]


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs Linux /proc")
def test_one_local_interpreter_and_no_cpu_pinning(in_process: AnsibleExecutor, tmp_path: Path):
    result = in_process.run_batch(_batch(tmp_path)[:1])[0]
    assert result.status == FAILED  # h1 fails its last task, but it ran them all
    worker = next(iter(in_process._pool.idle))
    time.sleep(0.2)
    # The interpreter booted ahead of time is the one the tasks used (equal stacks), and
    # its fork parent: no second interpreter was started for the first task.
    targets = _targets(worker.proc.pid)
    assert 1 <= len(targets) <= 2, targets
    if (os.cpu_count() or 1) > 1:
        mine = _allowed_cpus(os.getpid())
        for pid in [worker.proc.pid, *_descendants(worker.proc.pid)]:
            try:
                assert _allowed_cpus(pid) == mine, f"pid {pid} was pinned"
            except FileNotFoundError:
                continue  # a short-lived child that ended meanwhile
