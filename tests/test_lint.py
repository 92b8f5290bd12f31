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


_LADDERS = '''framework f "F" { }
evidence c { a: flag "A" }
let k = 2
ladder refs {
  inadequate when concerns >= 1 or x.r1
  requires_improvement when not (x.r2 or improvements > k) and unmet / (characteristics - met) >= 1
  adequate when x.r3 and met / characteristics < 75%
  outstanding when exceeded * 2 >= characteristics and innovative - severe != 0
  good otherwise
}
ladder flipped {
  good when met == characteristics or -improvements < -3
  inadequate when severe + concerns >= 2
  outstanding when exceeded >= 1 and (innovative >= 1 or secondary == 0)
  requires_improvement otherwise
}
area x "X" {
  grade by refs
  characteristic r1 "R1" { when c.a }
  characteristic r2 "R2" { when c.a }
  area_for_improvement r3 "R3" { when c.a }
}
area y "Y" {
  grade by flipped
  characteristic r "R" { when c.a }
}
'''


def test_compiled_ladder_checks_agree_with_climbing_every_point(tmp_path) -> None:
    """ladder_grid evaluates the rungs over the whole grid at once; climbing each point through the interpreter
    must give the same rungs fired and the same first non-monotone example."""
    from peelrules.analysis import collect_refs
    from peelrules.evaluate import EMPTY_BUNDLE, Env, Evaluator
    from peelrules.ladder_grid import explore
    from peelrules.lint import MAX_CHARACTERISTICS, MAX_IMPROVEMENTS, MAX_LADDER_RULES, _climb_grid

    path = tmp_path / "ladders.peel"
    path.write_text(_LADDERS, encoding="utf-8")
    programs = [peelrules.load_rules(path), peelrules.load_rules(WARNINGS / "deep.peel")]
    checked = examples = 0
    for program in programs:
        ev = Evaluator(program)
        base = Env(EMPTY_BUNDLE, program.const_values, {}, {}, False)
        for lad in {a.ladder.name: a.ladder for a in program.areas if a.ladder is not None}.values():
            refs: set[str] = set()
            for r in lad.rungs:
                if r.condition is not None:
                    collect_refs(r.condition, set(), refs, set())
            explored = sorted(refs)[:MAX_LADDER_RULES]
            compiled = explore(lad, program.const_values, explored, refs, lambda e: ev.eval(e, base)[0],
                               MAX_CHARACTERISTICS, MAX_IMPROVEMENTS)
            assert compiled == _climb_grid(program, ev, lad, refs, explored), lad.name
            checked += 1
            examples += compiled[1] is not None
    assert checked == 4 and examples >= 2


def test_grid_size_is_the_number_of_points_on_the_grid() -> None:
    from peelrules import lint as lint_module

    assert lint_module._GRID_SIZE == sum(1 for _ in lint_module.counter_grid())
