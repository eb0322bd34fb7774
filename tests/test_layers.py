"""Imports between the orchestrator's layers point one way (scripts/check_layers.py)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _checker():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location(
        "check_layers", ROOT / "scripts" / "check_layers.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["check_layers"] = module
    spec.loader.exec_module(module)
    return module


def test_no_import_points_up_the_layer_order() -> None:
    assert _checker().check_orchestrator() == []


def test_the_task_runtime_has_no_import_cycle() -> None:
    assert _checker().runtime_cycles() == []


def test_the_checker_sees_a_deferred_upward_import(tmp_path: Path) -> None:
    checker = _checker()
    # A deferred import inside a function still counts: transport must not know executors.
    (tmp_path / "orchestrator" / "transport").mkdir(parents=True)
    probe = tmp_path / "orchestrator" / "transport" / "probe.py"
    probe.write_text("def f():\n    from orchestrator.executors import base\n")
    (tmp_path / "orchestrator" / "plan.py").write_text("from orchestrator.tosca import x\n")
    problems = checker.check_orchestrator(tmp_path)
    assert len(problems) == 1 and "transport/probe.py:2" in problems[0], problems
    assert "(transport) imports orchestrator.executors (executors), a layer above" in problems[0]


def test_every_deferred_import_in_the_orchestrator_says_why() -> None:
    assert _checker().unexplained_deferred_imports() == []


def test_the_checker_sees_a_deferred_import_without_a_reason(tmp_path: Path) -> None:
    checker = _checker()
    (tmp_path / "orchestrator").mkdir()
    (tmp_path / "orchestrator" / "probe.py").write_text(
        "def bare():\n"
        "    import json\n"
        "    import os\n"
        "\n"
        "def explained():\n"
        "    # Deferred: start-up time.\n"
        "    import json\n"
        "    import os\n"
        "    import sys  # optional\n"
    )
    problems = checker.unexplained_deferred_imports(tmp_path)
    assert [p.split(": import")[0] for p in problems] == [
        "orchestrator/probe.py:2",
        "orchestrator/probe.py:3",
    ], problems
