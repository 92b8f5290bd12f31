"""A plain (non-editable) install into a fresh virtual environment works from any directory:
the grammar and the shipped rules travel inside the wheel."""
from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from conftest import LANCASHIRE, ROOT


def run(*args: object, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([str(a) for a in args], cwd=cwd, capture_output=True, text=True, timeout=900)


def test_wheel_installs_into_a_fresh_venv_and_runs_elsewhere(tmp_path: Path) -> None:
    # build from a clean copy: a stale build/ folder in the work tree must not leak into the wheel
    source = tmp_path / "source"
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(
        ".git", ".venv", "build", "dist", "*.egg-info", "__pycache__", ".hypothesis", "artifacts"))
    wheels = tmp_path / "wheels"
    built = run(sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", wheels, source, cwd=tmp_path)
    assert built.returncode == 0, built.stderr
    wheel = next(wheels.glob("peelrules-*.whl"))
    venv = tmp_path / "venv"
    assert run(sys.executable, "-m", "venv", venv, cwd=tmp_path).returncode == 0
    installed = run(venv / "bin" / "pip", "install", "-q", wheel, cwd=tmp_path)
    assert installed.returncode == 0, installed.stderr
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    check = run(venv / "bin" / "peel", "check", cwd=elsewhere)
    assert check.returncode == 0, check.stderr
    assert check.stdout.startswith("ok:")
    graded = run(venv / "bin" / "peel", "evaluate", LANCASHIRE, cwd=elsewhere)
    assert graded.returncode == 0, graded.stderr
    assert "Lancashire Constabulary" in graded.stdout
    here = run(venv / "bin" / "python", "-c", "import peelrules, sys; print(peelrules.__file__)", cwd=elsewhere)
    assert str(ROOT) not in here.stdout, "the test must exercise the installed copy"
