"""Golden outputs: the explanation text and the JSON trace of a fixed rule set and bundle.

Regenerate with `pytest --update-golden` only after reading the diff."""
from __future__ import annotations

from conftest import run_peel

MINI = "tests/data/mini.peel"
EVIDENCE = "tests/data/mini-evidence.yaml"


def test_explain_text(golden) -> None:
    proc = run_peel("explain", EVIDENCE, "--rules", MINI)
    assert proc.returncode == 0, proc.stderr
    golden("mini-explain.txt", proc.stdout)


def test_json_trace(golden) -> None:
    proc = run_peel("evaluate", EVIDENCE, "--rules", MINI, "--format", "json")
    assert proc.returncode == 0, proc.stderr
    golden("mini-trace.json", proc.stdout)


def test_summary_text(golden) -> None:
    proc = run_peel("evaluate", EVIDENCE, "--rules", MINI)
    assert proc.returncode == 0, proc.stderr
    golden("mini-summary.txt", proc.stdout)
