"""Deep checks (`peel check`): warnings expected on the lines marked `#! CODE` in tests/warnings/*.peel."""
from __future__ import annotations

from pathlib import Path

import pytest

import peelrules
from peelrules.lint import lint

from conftest import SHIPPED_RULES, run_peel
from test_check import expected

WARNINGS = Path(__file__).resolve().parent / "warnings"


@pytest.mark.parametrize("path", sorted(WARNINGS.glob("*.peel")), ids=lambda p: p.name)
def test_warning_corpus(path: Path) -> None:
    diags = lint(peelrules.load_rules(path))
    assert sorted((d.span.line, d.code) for d in diags) == expected(path)
    assert all(d.severity.value == "warning" and d.hint for d in diags)


def test_non_monotone_ladder_gives_a_concrete_example() -> None:
    diags = [d for d in lint(peelrules.load_rules(WARNINGS / "deep.peel")) if d.code == "PR222"]
    assert "with characteristics" in diags[0].message and "one more" in diags[0].message


def test_strict_turns_warnings_into_errors() -> None:
    path = str(WARNINGS / "deep.peel")
    assert run_peel("check", path).returncode == 0
    strict = run_peel("check", "--strict", path)
    assert strict.returncode == 1 and "error[PR226]" in strict.stderr


def _copy_rules(tmp_path: Path) -> Path:
    folder = tmp_path / "rules"
    folder.mkdir()
    for p in SHIPPED_RULES.glob("*.peel"):
        (folder / p.name).write_text(p.read_text(encoding="utf-8"), encoding="utf-8")
    return folder


def test_shipped_rules_pass_strict() -> None:
    proc = run_peel("check", "--strict", str(SHIPPED_RULES))
    assert proc.returncode == 0, proc.stderr


def test_removing_a_cite_or_adding_an_unreachable_rung_fails_strict(tmp_path) -> None:
    folder = _copy_rules(tmp_path)
    ladder = folder / "01-ladder.peel"
    text = ladder.read_text(encoding="utf-8")
    lines = text.splitlines()
    # just after the inadequate rung (which may span lines): before the first requires_improvement rung
    row = next(i for i, line in enumerate(lines) if line.strip().startswith("requires_improvement"))
    lines.insert(row, "  requires_improvement when concerns >= 2")
    ladder.write_text("\n".join(lines) + "\n", encoding="utf-8")
    proc = run_peel("check", "--strict", str(folder))
    assert proc.returncode == 1
    assert f"{ladder}:{row + 1}:3: error[PR221]" in proc.stderr
    ladder.write_text(text, encoding="utf-8")
    target = sorted(folder.glob("*-investigating-crime.peel"))[0]
    src = target.read_text(encoding="utf-8").splitlines()
    row = next(i for i, line in enumerate(src) if line.strip().startswith("cite "))
    del src[row]
    target.write_text("\n".join(src) + "\n", encoding="utf-8")
    proc = run_peel("check", "--strict", str(folder))
    assert proc.returncode == 1 and "error[PR227]" in proc.stderr
