"""Bounded errors (issue 14 part 3): no message echoes a whole long value or line, at most `max_errors`
errors (and as many warnings) are printed before a count of the rest, and an empty path is a usage error."""
from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from peelrules.cli import main as peel_main
from peelrules.diagnostics import Diagnostic, Severity, quoted, render, render_all
from peelrules.source import Span

DATA = Path(__file__).resolve().parent / "data"
HEAD = (DATA / "mini-evidence.yaml").read_text(encoding="utf-8").split("facts:\n")[0] + "facts:\n"
RULES_HEAD = 'framework mini "Mini" {\n  version "1"\n}\n'
LONG = 200 * 1024  # a 200 KiB string


def peel(*args: str, cwd: Path) -> tuple[int, str, str]:
    """`peel ARGS` in process, in the folder `cwd` (the work fixture's, which is the working directory)."""
    assert Path.cwd() == cwd
    result = CliRunner().invoke(peel_main, list(args), prog_name="peel", catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture
def work(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    shutil.copy(DATA / "mini.peel", tmp_path / "mini.peel")
    shutil.copy(DATA / "mini-evidence.yaml", tmp_path / "mini-evidence.yaml")
    return tmp_path


def _caret_under(stderr: str, source_line: str, column: int, width: int) -> None:
    """The caret line of the (only) diagnostic points, in the shown stretch of the line, at the characters
    that stand at `column` of the real line."""
    lines = stderr.splitlines()
    i = next(n for n, line in enumerate(lines) if re.match(r"\d+ \| ", line))
    shown, carets = lines[i].split(" | ", 1)[1], lines[i + 1].split(" | ", 1)[1]
    at = len(carets) - len(carets.lstrip(" "))
    assert carets.strip(" ") == "^" * len(carets.strip(" ")) and carets.strip(" ")
    assert shown[at:at + width] == source_line[column - 1:column - 1 + width], (shown, carets)


def test_a_200_kib_value_is_quoted_cut_with_its_length(work: Path) -> None:
    line = f'  calls.abandoned: {{value: "{"a" * LONG}", source: "report:L4"}}'
    (work / "long.yaml").write_text(HEAD + line + "\n", encoding="utf-8")
    code, _, err = peel("evaluate", "long.yaml", "--rules", "mini.peel", cwd=work)
    assert code == 2
    assert "error[PR305]" in err
    assert len(err.encode("utf-8")) < 8 * 1024, len(err)
    assert f"'{'a' * 100}…' ({LONG:,} characters)" in err
    assert f"line 6 is {len(line):,} characters long" in err
    _caret_under(err, line, 3, 15)  # `calls.abandoned`, at the start of the line


@pytest.mark.parametrize("where", ["end", "middle"])
def test_the_caret_stays_under_its_column_in_a_cut_line(work: Path, where: str) -> None:
    """The error is far into a 200 KiB line: the line is shown as a window around the column."""
    long = f'note: "{"a" * LONG}"'
    parts = [long, "value: 5", 'source: "report:L4"', "bogus: 1"] if where == "end" else \
        [long, "bogus: 1", "value: 5", 'source: "report:L4"', long.replace("note", "n2")]
    line = "  calls.abandoned: {" + ", ".join(parts) + "}"
    (work / "late.yaml").write_text(HEAD + line + "\n", encoding="utf-8")
    code, _, err = peel("evaluate", "late.yaml", "--rules", "mini.peel", cwd=work)
    assert code == 2 and "error[PR303]" in err, err[:2000]
    assert len(err.encode("utf-8")) < 8 * 1024, len(err)
    column = line.index("bogus") + 1
    assert f"late.yaml:6:{column}:" in err
    _caret_under(err, line, column, 5)


def test_quoted_cuts_only_long_values() -> None:
    assert quoted("calls.abandoned") == "'calls.abandoned'"
    assert quoted(5) == "5"
    assert quoted("x" * 100) == "'" + "x" * 100 + "'"
    assert quoted("x" * 101) == "'" + "x" * 100 + "…' (101 characters)"
    assert quoted(list(range(1000))).endswith("… (4,890 characters)")
    assert quoted("a\nb") == "'a\\u000ab'"  # one line


def test_a_message_that_missed_quoted_is_still_cut() -> None:
    text = render(Diagnostic("PR305", "value " + "v" * 50_000, Span("f.yaml", 1, 1, 1, 2), "h" * 50_000,
                             line_text="x"))
    assert len(text) < 20_000
    assert "(50,006 characters in all)" in text and "(50,000 characters in all)" in text


def _rules_with_errors(work: Path, n: int) -> str:
    (work / "many.peel").write_text(RULES_HEAD + "".join(f"let k{i} = nope{i}\n" for i in range(n)),
                                    encoding="utf-8")
    return "many.peel"


def test_at_most_50_errors_are_printed_then_a_count(work: Path) -> None:
    code, _, err = peel("check", _rules_with_errors(work, 120), cwd=work)
    assert code == 1
    assert err.count("error[PR201]") == 50
    assert "and 70 more errors, not shown" in err
    assert "120 errors, 0 warnings." in err  # the total counts every error
    assert "'nope49'" in err and "'nope50'" not in err  # the first 50 by position


def test_the_error_limit_can_be_changed(work: Path) -> None:
    code, _, err = peel("--limit", "max_errors=5", "check", _rules_with_errors(work, 120), cwd=work)
    assert code == 1
    assert err.count("error[PR201]") == 5
    assert "and 115 more errors" in err


def test_evidence_errors_are_bounded_too(work: Path) -> None:
    facts = "".join(f'  nope.f{i}: {{value: 1, source: "report:L4"}}\n' for i in range(60))
    (work / "many.yaml").write_text(HEAD + facts, encoding="utf-8")
    code, _, err = peel("--limit", "max_errors=7", "evaluate", "many.yaml", "--rules", "mini.peel", cwd=work)
    assert code == 2
    assert err.count("error[PR304]") == 7
    assert "and 53 more errors" in err
    assert "60 errors." in err


def test_warnings_are_bounded_too(work: Path) -> None:
    decls = "".join(f'  x{i}: count "X {i}"\n' for i in range(60))
    (work / "warn.peel").write_text(RULES_HEAD + "evidence e {\n" + decls + "}\n", encoding="utf-8")
    code, out, err = peel("check", "warn.peel", cwd=work)
    assert code == 0 and out.startswith("ok:")
    assert err.count("warning[PR220]") == 50
    assert "and 10 more warnings, not shown" in err and "more error" not in err
    assert "0 errors, 60 warnings." in err


def test_errors_after_many_warnings_are_all_shown() -> None:
    """Errors and warnings are bounded apart: warnings earlier in the file do not push the errors out."""
    warnings = [Diagnostic("PR220", f"w{i}", Span("f.peel", i + 1, 1, i + 1, 2), severity=Severity.WARNING)
                for i in range(60)]
    errors = [Diagnostic("PR201", f"e{i}", Span("f.peel", 100 + i, 1, 100 + i, 2)) for i in range(3)]
    text = render_all(warnings + errors, 50)
    assert text.count("warning[PR220]") == 50 and text.count("error[PR201]") == 3
    assert text.endswith("... and 10 more warnings, not shown: at most 50 errors and 50 warnings are printed "
                         "(change it with --limit max_errors=N)")
    assert render_all(warnings + errors, 50) != render_all(warnings + errors)  # no limit: all 63
    assert render_all(warnings + errors).count("[PR") == 63


def test_json_output_of_check_keeps_every_diagnostic(work: Path) -> None:
    code, out, _ = peel("check", _rules_with_errors(work, 120), "--format", "json", cwd=work)
    assert code == 1
    assert len(json.loads(out)["diagnostics"]) == 120


@pytest.mark.parametrize("argv", [
    ["evaluate", ""], ["check", ""], ["fmt", ""], ["explain", ""], ["test", ""], ["verify", ""],
    ["evaluate", "mini-evidence.yaml", "--rules", ""], ["evaluate", "mini-evidence.yaml", "--out", ""],
    ["test", "--rules", "mini.peel", ""],
])
def test_an_empty_path_is_a_usage_error(work: Path, argv: list[str]) -> None:
    code, out, err = peel(*argv, cwd=work)
    assert code == 2, (out, err)
    assert "the path is empty" in err
    assert "Traceback" not in err and not out
