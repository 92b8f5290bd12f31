"""`peel diff`: exactly the bundles and areas whose judgment a rule change moves, with the rules behind it."""
from __future__ import annotations

import json
from pathlib import Path

from conftest import run_peel, write_bundle
from test_evaluate import base_evidence

DATA = Path(__file__).resolve().parent / "data"


def test_threshold_change_moves_exactly_the_affected_bundle(tmp_path) -> None:
    old = DATA / "mini.peel"
    new_dir = tmp_path / "new"
    new_dir.mkdir()
    text = old.read_text(encoding="utf-8")
    assert "characteristics < 80%" in text
    (new_dir / "mini.peel").write_text(text.replace("characteristics < 80%", "characteristics < 70%"))
    a = write_bundle(tmp_path, base_evidence(), "a.yaml")  # 4 of 4 met: good under both
    data = base_evidence()
    data["facts"]["calls.abandoned"]["value"] = 50  # 3 of 4 met: adequate under 80%, good under 70%
    b = write_bundle(tmp_path, data, "b.yaml")
    proc = run_peel("diff", "--old", str(old), "--new", str(new_dir), str(a), str(b), "--format", "json")
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert [(c["evidence"], c["area"], c["old"], c["new"], c["direction"]) for c in doc["changes"]] == \
        [(str(b), "contact", "adequate", "good", 1)]
    assert doc["up"] == 1 and doc["down"] == 0 and doc["moved"] == 1 and doc["bundles"] == 2
    text_out = run_peel("diff", "--old", str(old), "--new", str(new_dir), str(a), str(b)).stdout
    assert "contact: adequate -> good (up)" in text_out
    assert "1 of 4 area judgments moved in 2 bundle(s): 1 up, 0 down" in text_out


def test_rule_changes_without_grade_changes_are_listed(tmp_path) -> None:
    old = DATA / "mini.peel"
    new_dir = tmp_path / "new"
    new_dir.mkdir()
    text = old.read_text(encoding="utf-8")
    (new_dir / "mini.peel").write_text(text.replace("let abandon_limit = 10%", "let abandon_limit = 4%"))
    proc = run_peel("diff", "--old", str(old), "--new", str(new_dir), str(DATA / "mini-evidence.yaml"))
    assert proc.returncode == 0, proc.stderr
    assert "contact.few_abandoned: true -> false" in proc.stdout


def test_identical_rule_sets_move_nothing() -> None:
    proc = run_peel("diff", "--old", str(DATA / "mini.peel"), "--new", str(DATA / "mini.peel"),
                    str(DATA / "mini-evidence.yaml"))
    assert proc.returncode == 0
    assert proc.stdout.startswith("0 of 2 area judgments moved")
