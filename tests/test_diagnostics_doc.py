"""docs/diagnostics.md is executable: every code has a section, and every example does what the page says.

Each `## PRnnn: title` section holds labelled fenced blocks: **Bad**, **Message**, **Fixed** and, for the
quote check, **Document** `name` (a file saved beside the evidence). The kind of example decides how it
is run, in a fresh folder that is also the working directory (so messages name `rules/example.peel`,
`evidence.yaml` or `cases/example.yaml`, as shown on the page):

- ```peel: saved as rules/example.peel beside PRELUDE (rules/00-prelude.peel); load_rules, then lint.
- ```yaml: an evidence file, loaded against tests/data/mini.peel; or, in a section marked
  `<!-- rule test case file -->`, a rule test case file run with run_tests.
- ```text of `$ peel ...` lines: commands, run in order with click's test runner in a folder holding
  rules/00-prelude.peel and copies of tests/data/mini.peel and tests/data/mini-evidence.yaml (same paths).

In examples, `<U+200E>` stands for that (invisible) character.

The bad example must produce the section's code (lint's codes as warnings, all others as errors),
and every line of the **Message** block must appear in the real output ("..." marks a trimmed line or a
left-out stretch). The fixed example must produce neither that code nor any error. A section marked
`<!-- not executable -->` is skipped; only the codes in NOT_EXECUTABLE may be.
"""
from __future__ import annotations

import re
import shlex
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from click.testing import CliRunner

import peelrules
from peelrules.audit import audit
from peelrules.loader import read_source
from peelrules.cli import main as cli_main
from peelrules.diagnostics import CODES, Diagnostic, PeelError, Severity, render_all
from peelrules.lint import lint
from peelrules.ruletests import run_tests

from conftest import ROOT, code_uses

DOC = ROOT / "docs" / "diagnostics.md"
MINI = ROOT / "tests" / "data" / "mini.peel"
MINI_EVIDENCE = ROOT / "tests" / "data" / "mini-evidence.yaml"

# The rule examples are checked with this file beside them; the page states it verbatim.
PRELUDE = '''\
framework peel_2021_22 "PEEL Assessment Framework 2021/22" {
  version "2021/22"
}

evidence calls {
  answered: percent "999 calls answered within 10 seconds" range 0% to 100%
  answering: assessment "999 calls are answered promptly"
  abandoned: count "101 calls abandoned"
  offered: count "101 calls offered"
}

ladder standard {
  inadequate           when concerns >= 1
  requires_improvement when improvements >= 2
  adequate             when met < characteristics
  good                 otherwise
}
'''

# Sections that cannot be shown by an example today; keep this to the minimum.
NOT_EXECUTABLE: set[str] = {"PR405",  # a worker process killed mid-batch (tests/test_batch.py)
                             "PR318"}  # needs rules declaring a table (tests/test_aggregates.py runs it)
# The checks of lint.py, reach.py and audit.py are the only warnings.
WARNING_CODES = {code for module in ("lint.py", "reach.py", "audit.py")
                 for code in code_uses(ROOT / "peelrules" / module)}

HEADING = re.compile(r"^## (PR\d{3}): (\S.*)$", re.M)
LABEL = re.compile(r"^\*\*(Bad|Fixed|Message|Document)\*\*(.*)$")
FENCE = re.compile(r"^```(\w*)\s*$")


@dataclass
class Block:
    label: str
    lang: str
    body: str
    note: str = ""


@dataclass
class Section:
    code: str
    title: str
    text: str
    blocks: list[Block] = field(default_factory=list)

    def labelled(self, label: str) -> list[Block]:
        return [b for b in self.blocks if b.label == label]

    @property
    def executable(self) -> bool:
        return "<!-- not executable -->" not in self.text

    @property
    def kind(self) -> str:
        langs = {b.lang for b in self.labelled("Bad") + self.labelled("Fixed")}
        assert len(langs) == 1, f"{self.code}: bad and fixed examples use one kind of block, not {langs}"
        lang = langs.pop()
        if lang == "yaml" and "<!-- rule test case file -->" in self.text:
            return "case"
        if lang == "text":
            return "command"
        return lang


def _blocks(text: str) -> list[Block]:
    """Fenced blocks that follow a **Label** line; unlabelled blocks (explanations) are ignored."""
    out: list[Block] = []
    lines = text.split("\n")
    label: tuple[str, str] | None = None
    i = 0
    while i < len(lines):
        m = LABEL.match(lines[i])
        fence = FENCE.match(lines[i])
        if m:
            label = (m.group(1), m.group(2).strip())
        elif fence:
            end = next(j for j in range(i + 1, len(lines)) if lines[j].startswith("```"))
            if label is not None:
                out.append(Block(label[0], fence.group(1), "\n".join(lines[i + 1:end]) + "\n", label[1]))
            label = None
            i = end
        i += 1
    return out


def _sections() -> dict[str, Section]:
    text = DOC.read_text(encoding="utf-8")
    heads = list(HEADING.finditer(text))
    out: dict[str, Section] = {}
    for h, nxt in zip(heads, heads[1:] + [None]):
        body = text[h.end():nxt.start() if nxt else len(text)]
        assert h.group(1) not in out, f"two sections for {h.group(1)}"
        out[h.group(1)] = Section(h.group(1), h.group(2), body, _blocks(body))
    return out


SECTIONS = _sections()


# ---------------------------------------------------------------- the page as a whole


def test_every_code_has_a_section() -> None:
    missing = set(CODES) - set(SECTIONS)  # the package emits no other code (tests/test_codes.py)
    assert not missing, f"docs/diagnostics.md has no section for {sorted(missing)}"
    unknown = set(SECTIONS) - set(CODES)
    assert not unknown, f"sections for codes that do not exist: {sorted(unknown)}"
    assert list(SECTIONS) == sorted(SECTIONS), "sections are in code order"


def test_index_links_every_section() -> None:
    text = DOC.read_text(encoding="utf-8")
    for code, sec in SECTIONS.items():
        anchor = re.sub(r"[^a-z0-9 -]", "", f"{code}: {sec.title}".lower()).replace(" ", "-")
        assert f"[{code}](#{anchor})" in text, f"the index has no link to {code} (#{anchor})"


def test_every_section_explains_and_has_examples() -> None:
    for code, sec in SECTIONS.items():
        assert "**What it means.**" in sec.text, code
        assert "**Error or warning:**" in sec.text, code
        severity = re.search(r"\*\*Error or warning:\*\* (.*)", sec.text).group(1)  # type: ignore[union-attr]
        assert ("warning" in severity) == (code in WARNING_CODES), f"{code}: {severity}"
        for label in ("Bad", "Message", "Fixed"):
            assert sec.labelled(label), f"{code} has no **{label}** block"


def test_only_marked_sections_are_skipped() -> None:
    assert {c for c, s in SECTIONS.items() if not s.executable} == NOT_EXECUTABLE


def test_prelude_and_mini_declarations_are_stated() -> None:
    text = DOC.read_text(encoding="utf-8")
    assert f"```peel\n{PRELUDE}```" in text, "the prelude on the page differs from PRELUDE"
    mini = MINI.read_text(encoding="utf-8")
    shown = re.search(r"declares this evidence:\n\n```peel\n(.*?)```", text, re.S)
    assert shown, "the page shows the evidence declarations of tests/data/mini.peel"
    for line in shown.group(1).splitlines():
        assert line in mini, f"not in tests/data/mini.peel: {line!r}"


def test_sample_message_at_the_top_is_real() -> None:
    text = DOC.read_text(encoding="utf-8")
    sample = re.search(r"A message looks like this:\n\n```text\n(.*?)```", text, re.S)
    assert sample
    assert sample.group(1) in SECTIONS["PR201"].labelled("Message")[0].body


# ---------------------------------------------------------------- running the examples


def _check_rules(folder: Path, snippet: str, with_lint: bool) -> list[Diagnostic]:
    folder.mkdir()
    (folder / "00-prelude.peel").write_text(PRELUDE, encoding="utf-8")
    (folder / "example.peel").write_text(snippet, encoding="utf-8")
    try:
        program = peelrules.load_rules(folder.name)
    except PeelError as err:
        return err.diagnostics
    return lint(program) if with_lint else []


@pytest.fixture(scope="module")
def mini() -> peelrules.Program:
    return peelrules.load_rules(MINI)


def _check_evidence(tmp: Path, sec: Section, body: str, program: peelrules.Program) -> list[Diagnostic]:
    for doc in sec.labelled("Document"):
        name = re.fullmatch(r"`([\w.-]+)`.*", doc.note)
        assert name, f"{sec.code}: name the document file, as in **Document** `report.txt`"
        (tmp / name.group(1)).write_text(_chars(doc.body), encoding="utf-8")
    (tmp / "evidence.yaml").write_text(body, encoding="utf-8")
    try:
        bundle = peelrules.load_evidence("evidence.yaml", program)
    except PeelError as err:
        return err.diagnostics
    return audit(program, bundle, read_source(Path("evidence.yaml")))  # as `peel check EVIDENCE` does


def _check_case(tmp: Path, body: str, program: peelrules.Program) -> list[Diagnostic]:
    shutil.copy(MINI_EVIDENCE, tmp / "mini-evidence.yaml")
    (tmp / "cases").mkdir()
    (tmp / "cases" / "example.yaml").write_text(body, encoding="utf-8")
    results, _, problems = run_tests(program, [Path("cases")])
    return problems + [d for r in results for d in r.errors]


def _run_commands(tmp: Path, body: str) -> tuple[int, str]:
    """Run each `$ peel ...` line; the worst exit status and all that was written to stderr."""
    lines = body.splitlines()
    assert lines and all(line.startswith("$ peel ") for line in lines), f"one `$ peel ...` a line: {body!r}"
    (tmp / "rules").mkdir()
    (tmp / "rules" / "00-prelude.peel").write_text(PRELUDE, encoding="utf-8")
    (tmp / "tests" / "data").mkdir(parents=True)
    shutil.copy(MINI, tmp / "tests" / "data" / "mini.peel")
    shutil.copy(MINI_EVIDENCE, tmp / "tests" / "data" / "mini-evidence.yaml")
    status, err = 0, []
    for line in lines:
        result = CliRunner().invoke(cli_main, shlex.split(line[2:])[1:])
        assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
        status = max(status, result.exit_code)
        err.append(result.stderr)
    return status, "".join(err)


def _chars(text: str) -> str:
    """`<U+200E>` -> the character itself, so invisible characters can be shown on the page."""
    return re.sub(r"<U\+([0-9A-F]{4,6})>", lambda m: chr(int(m.group(1), 16)), text)


def _assert_message_shown(code: str, message: str, actual: str) -> None:
    """Every line of the page's message is in the real output; a line ending in '...' was trimmed there."""
    real = actual.splitlines()
    for line in message.splitlines():
        if line.strip() in ("", "..."):
            continue
        if line.endswith("..."):
            prefix = line[:-3]
            assert any(r.startswith(prefix) for r in real), f"{code}: no line starts {prefix!r} in\n{actual}"
        else:
            assert line in real, f"{code}: the page shows {line!r}, which is not in the real output:\n{actual}"
    assert re.search(rf"(error|warning)\[{code}\]", message), f"{code}: the message shown has the code"


EXECUTABLE = sorted(code for code, sec in SECTIONS.items() if sec.executable)


@pytest.mark.parametrize("code", EXECUTABLE)
def test_example(code: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mini: peelrules.Program) -> None:
    sec = SECTIONS[code]
    kind = sec.kind
    want = Severity.WARNING if code in WARNING_CODES else Severity.ERROR
    message = "\n".join(b.body for b in sec.labelled("Message"))
    for i, block in enumerate(sec.labelled("Bad") + sec.labelled("Fixed")):
        bad = block.label == "Bad"
        tmp = tmp_path / f"{block.label.lower()}{i}"
        tmp.mkdir()
        monkeypatch.chdir(tmp)
        if kind == "command":
            status, out = _run_commands(tmp, block.body)
            if bad:
                assert f"{want.value}[{code}]" in out, f"{code}: {block.body!r} gives\n{out}"
                _assert_message_shown(code, message, out)
            else:
                assert f"[{code}]" not in out and "error[" not in out and status == 0, out
            continue
        if kind == "peel":
            # Lint only adds warnings: a fixed example of an error code needs no deep checks.
            diags = _check_rules(tmp / "rules", _chars(block.body), with_lint=bad or code in WARNING_CODES)
        elif kind == "yaml":
            diags = _check_evidence(tmp, sec, _chars(block.body), mini)
        elif kind == "case":
            diags = _check_case(tmp, _chars(block.body), mini)
        else:
            raise AssertionError(f"{code}: unknown kind of example {kind!r}")
        shown = render_all(diags)
        if bad:
            assert any(d.code == code and d.severity is want for d in diags), \
                f"{code}: the bad example should give {want.value}[{code}], but gives\n{shown}"
            _assert_message_shown(code, message, shown)
        else:
            assert not [d for d in diags if d.code == code or d.severity is Severity.ERROR], \
                f"{code}: the fixed example should give no {code} and no error, but gives\n{shown}"
