"""The progress display: plain lines off a terminal, a live footer on one."""

from __future__ import annotations

from orchestrator.cli.progress import Progress
from orchestrator.engine import EngineEvent


def _events() -> list[EngineEvent]:
    return [
        EngineEvent("e1", None, "running", "3 steps"),
        EngineEvent("e1", "a.Standard.create", "running", "attempt 1", "a", "create"),
        EngineEvent("e1", "a.Standard.create", "succeeded", "", "a", "create"),
        EngineEvent("e1", "job.Runnable.run", "job", "job 7 RUNNING", "job", "run"),
        EngineEvent("e1", "b.Standard.create", "failed", "disk full", "b", "create"),
        EngineEvent("e1", "c.Standard.create", "not_run", "dependency", "c", "create"),
    ]


def test_plain_lines(capsys):
    with Progress("deploy t", live=False) as progress:
        for event in _events():
            progress(event)
    out = capsys.readouterr().out.splitlines()
    assert out[0].endswith("deploy t: 3 steps")
    assert out[1].endswith("a.Standard.create started attempt 1")
    assert " a.Standard.create ok (" in out[2]
    assert out[3].endswith("job.Runnable.run job 7 RUNNING")
    assert "b.Standard.create FAILED" in out[4] and out[4].endswith(": disk full")
    assert out[5].endswith("c.Standard.create not run")
    assert progress.total == 3 and progress.counts == {"succeeded": 1, "failed": 1, "not_run": 1}


def test_live_footer_lists_running_steps():
    progress = Progress("deploy t", live=True, quiet=True)
    for event in _events()[:2]:
        progress(event)
    footer = str(progress._footer())
    assert footer.splitlines()[0] == "deploy t: 0/3 steps"
    assert "running a.Standard.create" in footer
