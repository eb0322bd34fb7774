"""The wheel carries the TOSCA profile and the playbooks: an installed toolkit finds them."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.integration
@pytest.mark.slow
def test_installed_wheel_finds_profile_and_playbooks(tmp_path: Path) -> None:
    dist = tmp_path / "dist"
    build = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(dist), str(ROOT)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert build.returncode == 0, build.stderr
    wheel = next(dist.glob("*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    assert "tosca_types/eflows4hpc.yaml" in names
    assert any(n.startswith("playbooks/") and n.endswith(".yaml") for n in names)

    # Install the wheel alone into a target dir and run it from a directory with no checkout.
    target = tmp_path / "site"
    install = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "-q",
            "--no-deps",
            "--target",
            str(target),
            str(wheel),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert install.returncode == 0, install.stderr
    example = tmp_path / "tsunami"
    shutil.copytree(ROOT / "examples" / "tsunami", example)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {**os.environ, "PYTHONPATH": str(target), "PYTHONSAFEPATH": "1"}
    code = (
        "import orchestrator, tosca_types, playbooks, sys;"
        f"assert orchestrator.__file__.startswith({str(target)!r}), orchestrator.__file__;"
        "assert (tosca_types.PROFILE_DIR / 'eflows4hpc.yaml').is_file();"
        "assert (playbooks.PLAYBOOKS_DIR / 'environment' / 'configure.yaml').is_file();"
        "from orchestrator.cli.main import main; sys.argv = ['tosca', 'validate', sys.argv[1]];"
        "main()"
    )
    run = subprocess.run(
        [sys.executable, "-c", code, str(example)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=elsewhere,
        env=env,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert "valid" in run.stdout
