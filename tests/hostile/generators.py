"""Hostile inputs too big, too binary or too tied to the file system to check in: each generator writes its
input(s) into a fresh work folder at test time and returns the case(s) to run.

The work folder already holds copies of tests/data/mini.peel (`mini.peel`) and tests/data/mini-evidence.yaml
(`mini-evidence.yaml`); commands run with the work folder as the working directory, so names in messages are
the relative names given here. test_hostile.py runs every case as a real `peel` subprocess and checks the
exit code, the code and position in the message, the terminal hygiene of the output, and that no file was
created or changed.
"""
from __future__ import annotations

import os
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from peelrules.limits import DEFAULT_LIMITS

MINI = "mini.peel"
MINI_EVIDENCE = "mini-evidence.yaml"
HEADER = 'framework mini "Mini" {\n  version "1"\n}\n'
EVIDENCE_HEAD = ('force: Example Constabulary\nframework: mini\nsources:\n  report: {title: "Example report"}\n'
                 'facts:\n')

CLASSES = {
    1: "code execution via YAML tags",
    2: "alias bombs and cycles",
    3: "unbounded nesting",
    4: "oversized input",
    5: "number pathologies",
    6: "silent coercion",
    7: "duplicate keys and names",
    8: "encoding",
    9: "domain invariants",
    10: "structure",
    11: "files",
    12: "output and terminal",
    13: "determinism",
}


@dataclass
class Case:
    """One run of `peel` on hostile input, and what it must do."""

    id: str
    cls: int  # failure class, a key of CLASSES
    argv: list[str | bytes]  # the arguments after `peel`
    exit: int  # the documented exit code: 1 a failing check or test, 2 bad input (0 for accepted edge cases)
    code: str | None = None  # the diagnostic code the output must show
    at: str | None = None  # "line:col" that must follow the file name in the message
    name: str | bytes | None = None  # the file name the message must show (escaped for a terminal)
    out: Path | None = None  # a folder given to --out / --junit that must stay empty
    known: str | None = None  # a problem in a module this corpus may not fix: the case is expected to fail
    timeout: float = 60.0
    keep: list[str] = field(default_factory=list)  # paths outside the work folder that must keep their type


Generator = Callable[[Path], list[Case]]
GENERATORS: list[Generator] = []


def generator(fn: Generator) -> Generator:
    GENERATORS.append(fn)
    return fn


def generated_cases(work: Path) -> list[Case]:
    return [case for gen in GENERATORS for case in gen(work)]


def _evaluate(name: str | bytes, out: Path, rules: str = MINI) -> list[str | bytes]:
    return ["evaluate", name, "--rules", rules, "--out", str(out / "result.txt")]


def _outdir(work: Path, tag: str) -> Path:
    out = work.parent / f"out-{tag}"
    out.mkdir(exist_ok=True)
    return out


def _write(path: Path, data: bytes | str) -> None:
    path.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)


def _sparse(path: Path, size: int) -> None:
    with path.open("wb") as fh:
        fh.truncate(size)


# ---------------------------------------------------------------- evidence: sizes, nesting, numbers


@generator
def evidence_sizes(work: Path) -> list[Case]:
    out = _outdir(work, "evidence-sizes")
    _sparse(work / "over-5mb.yaml", 5_000_001)
    facts = "".join(f'  calls.f{i}: {{value: {i}, source: "report:L4"}}\n' for i in range(26_000))
    _write(work / "over-1mb.yaml", EVIDENCE_HEAD + facts)
    _write(work / "long-token.yaml", EVIDENCE_HEAD + '  calls.answering: {assessment: met, source: "report:L3", '
           'quote: "' + "a" * 1_100_000 + '"}\n')
    compact = ",".join(f'"c.f{i}":{{"value":1,"source":"report:L4"}}' for i in range(10_001))
    _write(work / "10001-facts.json", '{"force":"X","framework":"mini","sources":{"report":{"title":"R"}},'
           '"facts":{' + compact + "}}\n")
    return [
        Case("evidence-over-5mb", 4, _evaluate("over-5mb.yaml", out), 2, "PR404", out=out),
        Case("evidence-over-1mb", 4, _evaluate("over-1mb.yaml", out), 2, "PR404", out=out),
        Case("evidence-token-over-1mb", 4, _evaluate("long-token.yaml", out), 2, "PR404", out=out),
        Case("evidence-10001-facts", 4, _evaluate("10001-facts.json", out), 2, "PR404", "1:62", out=out),
    ]


@generator
def evidence_nesting(work: Path) -> list[Case]:
    out = _outdir(work, "evidence-nesting")
    _write(work / "deep-flow.json", "[" * 100_000 + "]" * 100_000 + "\n")
    _write(work / "deep-mapping.json", '{"a":' * 100_000 + "1" + "}" * 100_000 + "\n")
    _write(work / "deep-block.yaml", EVIDENCE_HEAD + "  calls.abandoned:\n    value:\n      " + "- " * 10_000 + "5\n")
    return [
        Case("evidence-deep-flow-100k", 3, _evaluate("deep-flow.json", out), 2, "PR404", "1:33", out=out),
        Case("evidence-deep-mapping-100k", 3, _evaluate("deep-mapping.json", out), 2, "PR404", "1:161", out=out),
        Case("evidence-deep-block-10k", 3, _evaluate("deep-block.yaml", out), 2, "PR404", "8", out=out),
    ]


@generator
def evidence_numbers(work: Path) -> list[Case]:
    out = _outdir(work, "evidence-numbers")
    _write(work / "int-100k.yaml", EVIDENCE_HEAD + "  calls.abandoned: {value: " + "9" * 100_000 +
           ', source: "report:L4"}\n')
    _write(work / "float-100k.yaml", EVIDENCE_HEAD + "  calls.abandoned: {value: 1." + "0" * 100_000 +
           ', source: "report:L4"}\n')
    _write(work / "source-100k.yaml", EVIDENCE_HEAD + '  calls.abandoned: {value: 5, source: "report:L' +
           "9" * 100_000 + '"}\n')
    _write(work / "percent-100k.yaml", EVIDENCE_HEAD + '  calls.answered_in_10s: {value: "1' + "0" * 100_000 +
           '%", source: "report:L4"}\n')
    return [
        Case("evidence-int-100k-digits", 5, _evaluate("int-100k.yaml", out), 2, "PR404", "6:28", out=out),
        Case("evidence-float-100k-digits", 5, _evaluate("float-100k.yaml", out), 2, "PR404", "6:28", out=out),
        Case("evidence-source-line-100k-digits", 5, _evaluate("source-100k.yaml", out), 2, "PR303", "6:31",
             out=out),
        Case("evidence-percent-100k-digits", 5, _evaluate("percent-100k.yaml", out), 2, "PR306", "6:3", out=out),
    ]


# ---------------------------------------------------------------- evidence: encodings


@generator
def evidence_encodings(work: Path) -> list[Case]:
    out = _outdir(work, "evidence-encodings")
    text = (work / MINI_EVIDENCE).read_text(encoding="utf-8")
    dup = EVIDENCE_HEAD + '  calls.abandoned: {value: 5, source: "report:L4"}\n' \
                          '  calls.abandoned: {value: 6, source: "report:L4"}\n'
    files = {
        "utf16.yaml": text.encode("utf-16"),
        "utf16le-no-bom.yaml": text.encode("utf-16-le"),
        "utf32.yaml": text.encode("utf-32"),
        "latin1.yaml": text.replace("Example", "Éxample").encode("latin-1"),
        "nul.yaml": text.replace("Example report", "Example\x00report").encode(),
        "ansi-escape.yaml": text.replace("promptly", "promptly\x1b[2J\x1b[31m").encode(),
        "random-bytes.yaml": random.Random(1234).randbytes(4096),
        "cr-only.yaml": dup.replace("\n", "\r").encode(),
        "crlf.yaml": dup.replace("\n", "\r\n").encode(),
        "mixed-breaks.yaml": dup.replace("\n", "\r", 3).replace("\n", "\r\n", 2).encode(),
        "double-bom.yaml": b"\xef\xbb\xbf\xef\xbb\xbf" + text.encode(),
        "vertical-tab.yaml": text.replace("report:L3", "report:L3\x0b").encode(),
    }
    for name, data in files.items():
        _write(work / name, data)
    return [
        Case("evidence-utf16", 8, _evaluate("utf16.yaml", out), 2, "PR401", out=out),
        Case("evidence-utf16le-no-bom", 8, _evaluate("utf16le-no-bom.yaml", out), 2, "PR403", "1:2", out=out),
        Case("evidence-utf32", 8, _evaluate("utf32.yaml", out), 2, "PR401", out=out),
        Case("evidence-latin1", 8, _evaluate("latin1.yaml", out), 2, "PR401", out=out),
        Case("evidence-nul", 8, _evaluate("nul.yaml", out), 2, "PR403", "4:29", out=out),
        Case("evidence-ansi-escape", 8, _evaluate("ansi-escape.yaml", out), 2, "PR403", "6:84", out=out),
        Case("evidence-random-bytes", 8, _evaluate("random-bytes.yaml", out), 2, "PR401", out=out),
        Case("evidence-cr-line-endings", 8, _evaluate("cr-only.yaml", out), 2, "PR302", "7:3", out=out),
        Case("evidence-crlf-line-endings", 8, _evaluate("crlf.yaml", out), 2, "PR302", "7:3", out=out),
        Case("evidence-mixed-line-endings", 8, _evaluate("mixed-breaks.yaml", out), 2, "PR302", "7:3", out=out),
        Case("evidence-double-bom", 8, _evaluate("double-bom.yaml", out), 2, "PR403", "1:1", out=out),
        Case("evidence-vertical-tab", 8, _evaluate("vertical-tab.yaml", out), 2, "PR403", "6:68", out=out),
    ]


# ---------------------------------------------------------------- files


@generator
def special_files(work: Path) -> list[Case]:
    out = _outdir(work, "files")
    os.symlink("loop-b.yaml", work / "loop-a.yaml")
    os.symlink("loop-a.yaml", work / "loop-b.yaml")
    os.symlink("no-such-target.yaml", work / "dangling.yaml")
    os.mkfifo(work / "fifo.yaml")
    (work / "folder.yaml").mkdir()
    long_path = "/".join(["d" * 200] * 30) + "/x.yaml"  # about 6,000 characters, more than PATH_MAX
    return [
        Case("file-symlink-loop", 11, _evaluate("loop-a.yaml", out), 2, "PR401", name="loop-a.yaml", out=out),
        Case("file-dangling-symlink", 11, _evaluate("dangling.yaml", out), 2, "PR401", name="dangling.yaml",
             out=out),
        Case("file-fifo", 11, _evaluate("fifo.yaml", out), 2, "PR401", name="fifo.yaml", out=out, timeout=30),
        Case("file-dev-zero", 11, _evaluate("/dev/zero", out), 2, "PR401", name="/dev/zero", out=out, timeout=30,
             keep=["/dev/zero"]),
        Case("file-dev-null", 11, _evaluate("/dev/null", out), 2, "PR401", name="/dev/null", out=out,
             keep=["/dev/null"]),
        Case("file-directory", 11, _evaluate("folder.yaml", out), 2, "PR401", name="folder.yaml", out=out),
        Case("file-missing", 11, _evaluate("no-such-file.yaml", out), 2, "PR401", name="no-such-file.yaml",
             out=out),
        Case("file-path-too-long", 11, _evaluate(long_path, out), 2, "PR401", name=long_path, out=out),
        Case("file-name-too-long", 11, _evaluate("n" * 300 + ".yaml", out), 2, "PR401", name="n" * 300, out=out),
        Case("file-fifo-explain", 11, ["explain", "fifo.yaml", "--rules", MINI], 2, "PR401", name="fifo.yaml",
             timeout=30),
    ]


@generator
def cited_documents(work: Path) -> list[Case]:
    """A bundle's `sources.report.file` pointing somewhere odd: the quote check skips what it cannot read."""
    os.mkfifo(work / "doc-fifo.txt")
    os.symlink("doc-loop-b.txt", work / "doc-loop-a.txt")
    os.symlink("doc-loop-a.txt", work / "doc-loop-b.txt")
    cases = []
    for tag, target in [("fifo", "doc-fifo.txt"), ("symlink-loop", "doc-loop-a.txt"), ("dev-zero", "/dev/zero"),
                        ("name-too-long", "x" * 5000), ("nul-in-name", "doc\\0.txt")]:
        name = f"cites-{tag}.yaml"
        _write(work / name, EVIDENCE_HEAD.replace('{title: "Example report"}',
                                                  f'{{title: "Example report", file: "{target}"}}') +
               '  calls.answering: {assessment: met, source: "report:L3", quote: "answered promptly"}\n')
        if tag == "nul-in-name":  # "\0" makes a NUL: refused like any control character in evidence text
            cases.append(Case(f"evidence-cites-{tag}", 8, ["evaluate", name, "--rules", MINI], 2, "PR403", "4:43",
                              name=name))
        else:
            cases.append(Case(f"evidence-cites-{tag}", 11, ["evaluate", name, "--rules", MINI], 0, timeout=30))
    return cases


@generator
def rule_folders(work: Path) -> list[Case]:
    out = _outdir(work, "rule-folders")
    mini = (work / MINI).read_text(encoding="utf-8")
    folders = {}
    for tag in ("fifo", "loop", "dir", "dangling", "empty", "unreadable-name", "dup"):
        folders[tag] = work / f"rules-{tag}"
        folders[tag].mkdir()
        if tag not in ("empty",):
            _write(folders[tag] / "mini.peel", mini)
    os.mkfifo(folders["fifo"] / "zz.peel")
    os.symlink("zz.peel", folders["loop"] / "zz.peel")
    (folders["dir"] / "zz.peel").mkdir()
    os.symlink("gone.peel", folders["dangling"] / "zz.peel")
    _write(folders["unreadable-name"] / b"\xff\xfe.peel".decode("utf-8", "surrogateescape"),
           "let x = 1\nlet x = 2\n")
    _write(folders["dup"] / "zz.peel", 'area contact "Contact again" {\n  ungraded\n}\n')
    ev = MINI_EVIDENCE
    return [
        Case("rules-folder-with-fifo", 11, _evaluate(ev, out, "rules-fifo"), 2, "PR401",
             name="rules-fifo/zz.peel", out=out, timeout=30),
        Case("rules-folder-with-symlink-loop", 11, _evaluate(ev, out, "rules-loop"), 2, "PR401",
             name="rules-loop/zz.peel", out=out),
        Case("rules-folder-with-folder", 11, _evaluate(ev, out, "rules-dir"), 2, "PR401",
             name="rules-dir/zz.peel", out=out),
        Case("rules-folder-with-dangling-link", 11, _evaluate(ev, out, "rules-dangling"), 2, "PR401",
             name="rules-dangling/zz.peel", out=out),
        Case("rules-folder-empty", 10, _evaluate(ev, out, "rules-empty"), 2, "PR402", name="rules-empty",
             out=out),
        Case("rules-folder-undecodable-name", 8, ["check", "rules-unreadable-name"], 1, "PR202", "2:5",
             name=b"rules-unreadable-name/\xff\xfe.peel"),
        Case("rules-dup-area-across-files", 7, ["check", "rules-dup"], 1, "PR202", "1:6", name="rules-dup/zz.peel"),
        Case("rules-dev-zero", 11, _evaluate(ev, out, "/dev/zero"), 2, "PR401", name="/dev/zero", out=out,
             timeout=30),
        Case("check-fifo", 11, ["check", "rules-fifo/zz.peel"], 2, "PR401", name="rules-fifo/zz.peel",
             timeout=30),
    ]


@generator
def case_folders(work: Path) -> list[Case]:
    """`peel test` walks folders for *.yaml: a pipe or a loop among them must be refused, not waited on."""
    out = _outdir(work, "case-folders")
    folder = work / "cases-fifo"
    folder.mkdir()
    os.mkfifo(folder / "case.yaml")
    loop = work / "cases-loop"
    loop.mkdir()
    os.symlink("case.yaml", loop / "case.yaml")
    cycle = work / "cycle"  # links to itself and to its parent: a folder walk must not follow them
    cycle.mkdir()
    os.symlink(".", cycle / "self")
    os.symlink("..", cycle / "up")
    _write(cycle / "bad.yaml", "evidence: [\n")
    _write(cycle / "bad.peel", "area {\n")
    return [
        Case("test-folder-linked-to-itself", 11, ["test", "cycle", "--rules", MINI, "--junit", str(out / "j.xml")],
             2, "PR301", "2:1", name="cycle/bad.yaml", out=out),
        Case("fmt-folder-linked-to-itself", 11, ["fmt", "cycle"], 2, "PR101", "1:6", name="cycle/bad.peel"),
        Case("test-folder-with-fifo", 11, ["test", "cases-fifo", "--rules", MINI, "--junit", str(out / "j.xml")],
             2, "PR401", name="cases-fifo/case.yaml", out=out, timeout=30),
        Case("test-folder-with-symlink-loop", 11, ["test", "cases-loop", "--rules", MINI, "--junit",
                                                   str(out / "j.xml")], 2, "PR401", name="cases-loop/case.yaml",
             out=out),
    ]


# ---------------------------------------------------------------- rule files


def _rules(n_bytes: int) -> str:
    """Valid-looking rules, one characteristic after another, to about n_bytes."""
    out = [HEADER, 'evidence e {\n  a: count "A"\n}\nladder l {\n  good otherwise\n}\narea a "A" {\n  grade by l\n']
    size, i = sum(map(len, out)), 0
    while size < n_bytes:
        rule = f'  characteristic c{i} "C {i}" {{\n    when e.a > {i}\n    cite "x"\n  }}\n'
        out.append(rule)
        size += len(rule)
        i += 1
    return "".join(out) + "}\n"


@generator
def rule_sizes(work: Path) -> list[Case]:
    limit = DEFAULT_LIMITS.max_rule_set_bytes  # one file over it, and two files each under it but over it together
    _write(work / "over-set-limit.peel", _rules(limit + 50_000))
    two = work / "rules-two-halves"
    two.mkdir()
    _write(two / "a.peel", _rules(limit // 2 + 50_000))
    _write(two / "b.peel", _rules(limit // 2 + 50_000).replace(HEADER, ""))
    many = work / "rules-1001-files"
    many.mkdir()
    for i in range(1001):
        _write(many / f"{i:04d}.peel", f"let k{i} = {i}\n")
    _sparse(work / "over-5mb.peel", 5_000_001)
    _write(work / "long-line.peel", HEADER + "let x = " + " + ".join(["1"] * 40_000) + "\n")
    _write(work / "20k-digits.peel", HEADER + "let x = " + "9" * 19_990 + "\n")
    _write(work / "100k-digits.peel", HEADER + "let x = " + "9" * 100_000 + "\n")
    return [
        Case("rules-over-set-limit", 4, ["check", "over-set-limit.peel"], 2, "PR404", name="over-set-limit.peel"),
        Case("rules-set-over-limit", 4, ["check", "rules-two-halves"], 2, "PR404", name="rules-two-halves"),
        Case("rules-1001-files", 4, ["check", "rules-1001-files"], 2, "PR404", name="rules-1001-files"),
        Case("rules-over-5mb", 4, ["check", "over-5mb.peel"], 2, "PR404", name="over-5mb.peel"),
        Case("rules-long-line", 4, ["check", "long-line.peel"], 2, "PR404", "4:20000"),
        Case("rules-long-line-fmt", 4, ["fmt", "long-line.peel"], 2, "PR404", "4:20000"),
        Case("rules-number-20k-digits", 5, ["check", "20k-digits.peel"], 2, "PR404", "4:9"),
        Case("rules-number-100k-digits", 5, ["check", "100k-digits.peel"], 2, "PR404", "4:20000"),
    ]


@generator
def rule_nesting(work: Path) -> list[Case]:
    _write(work / "deep-minus-lines.peel", HEADER + "let x = " + "-\n" * 200_000 + "1\n")
    _write(work / "deep-not-lines.peel", HEADER + "let x = " + "not\n" * 100_000 + "true\n")
    _write(work / "deep-parens-lines.peel", HEADER + "let x = (" + "(\n" * 100_000 + "1" + ")\n" * 100_000 + ") +\n")
    _write(work / "deep-calls-lines.peel", HEADER + "let x = " + "first_known(\n" * 20_000 + "1" + ")\n" * 20_000)
    return [
        Case("rules-deep-minus-over-lines", 3, ["check", "deep-minus-lines.peel"], 2, "PR404", "103:1"),
        Case("rules-deep-not-over-lines", 3, ["check", "deep-not-lines.peel"], 2, "PR404", "103:1"),
        Case("rules-deep-parens-over-lines", 3, ["check", "deep-parens-lines.peel"], 1, "PR103"),
        Case("rules-deep-calls-over-lines", 3, ["fmt", "deep-calls-lines.peel"], 2, "PR404"),
    ]


@generator
def rule_encodings(work: Path) -> list[Case]:
    text = (work / MINI).read_text(encoding="utf-8")
    files = {
        "nul.peel": text.replace('version "1"', 'version "1\x00"').encode(),
        "ansi-escape.peel": text.replace('"Contact"', '"\x1b]0;owned\x07Contact"').encode(),
        "utf16.peel": text.encode("utf-16"),
        "latin1.peel": text.replace("Mini framework", "Míni framework").encode("latin-1"),
        "random-bytes.peel": random.Random(4321).randbytes(2048),
        "cr-only.peel": (HEADER + "let x = 1\nlet x = 2\n").replace("\n", "\r").encode(),
        "del-char.peel": (HEADER + "let x\x7f = 1\n").encode(),
    }
    for name, data in files.items():
        _write(work / name, data)
    return [
        Case("rules-nul", 8, ["check", "nul.peel"], 2, "PR403", "4:13"),
        Case("rules-ansi-escape", 8, ["check", "ansi-escape.peel"], 2, "PR403", "31:14"),
        Case("rules-ansi-escape-fmt", 8, ["fmt", "ansi-escape.peel"], 2, "PR403", "31:14"),
        Case("rules-utf16", 8, ["check", "utf16.peel"], 2, "PR401"),
        Case("rules-latin1", 8, ["check", "latin1.peel"], 2, "PR401"),
        Case("rules-latin1-fmt", 8, ["fmt", "latin1.peel"], 2, "PR401"),
        Case("rules-random-bytes", 8, ["check", "random-bytes.peel"], 2, "PR401"),
        Case("rules-cr-line-endings", 8, ["check", "cr-only.peel"], 1, "PR202", "5:5"),
        Case("rules-del-character", 8, ["check", "del-char.peel"], 2, "PR403", "4:6"),
    ]


@generator
def lint_bomb(work: Path) -> list[Case]:
    """A few kilobytes whose deep checks take minutes: each local ladder reads four rules, and lint tries
    every counter value on its grid with every combination of those rules."""
    areas = []
    for i in range(10):
        rules = "".join(f'  characteristic c{j} "C" {{\n    when e.a > {j}\n    cite "x"\n  }}\n' for j in range(4))
        ladder = (f"  ladder l{i} {{\n    inadequate when concerns >= 1\n    adequate when c0 and c1 and c2 and c3\n"
                  f"    good otherwise\n  }}\n")
        areas.append(f'area a{i} "A" {{\n  grade by l{i}\n{ladder}{rules}}}\n')
    _write(work / "lint-bomb.peel", HEADER + 'evidence e {\n  a: count "A"\n}\n' + "".join(areas))
    return [Case("rules-lint-bomb", 4, ["check", "lint-bomb.peel"], 0, timeout=20)]


@generator
def many_warnings(work: Path) -> list[Case]:
    """Within every limit (985 KB), yet 42,000 warnings: each one splits the whole file again for its line."""
    _write(work / "chained-lets.peel", HEADER + "let k0 = 1\n" +
           "".join(f"let k{i} = k{i - 1} + 1\n" for i in range(1, 42_000)))
    return [Case("rules-42k-warnings", 4, ["check", "chained-lets.peel"], 0, timeout=30)]


# ---------------------------------------------------------------- output and terminal


@generator
def outputs(work: Path) -> list[Case]:
    out = _outdir(work, "outputs")
    ev = MINI_EVIDENCE
    (work / "sub").mkdir()
    os.link(work / ev, work / "hard-link.yaml")
    os.symlink("out-loop-b.json", work / "out-loop-a.json")
    os.symlink("out-loop-a.json", work / "out-loop-b.json")
    rules = work / "rules-out"
    rules.mkdir()
    _write(rules / "mini.peel", (work / MINI).read_text(encoding="utf-8"))
    cases_dir = work / "cases-out"
    cases_dir.mkdir()
    _write(cases_dir / "case.yaml", f"evidence: ../{ev}\nexpect: {{contact: good}}\n")
    _write(work / "case.yaml", f"evidence: {ev}\nexpect: {{contact: good}}\n")
    _write(work / "bad.yaml", "force: [\n")
    return [
        Case("out-is-the-evidence", 12, ["evaluate", ev, "--rules", MINI, "--out", ev], 2, "PR401", name=ev),
        Case("out-is-the-evidence-spelt-otherwise", 12, ["evaluate", ev, "--rules", MINI, "--out", f"sub/../{ev}"],
             2, "PR401", name=f"sub/../{ev}"),
        Case("out-is-a-hard-link-to-the-evidence", 12, ["evaluate", ev, "--rules", MINI, "--out",
                                                       "hard-link.yaml"], 2, "PR401", name="hard-link.yaml"),
        Case("out-is-the-rule-file", 12, ["evaluate", ev, "--rules", MINI, "--out", MINI], 2, "PR401", name=MINI),
        Case("out-into-the-rule-folder", 12, ["evaluate", ev, "--rules", "rules-out", "--out",
                                              "rules-out/mini.peel"], 2, "PR401", name="rules-out/mini.peel"),
        Case("out-is-dev-null", 12, ["evaluate", ev, "--rules", MINI, "--out", "/dev/null"], 2, "PR401",
             name="/dev/null", keep=["/dev/null"]),
        Case("out-is-a-folder", 12, ["evaluate", ev, "--rules", MINI, "--out", "sub"], 2, "PR401", name="sub"),
        Case("out-in-a-missing-folder", 12, ["evaluate", ev, "--rules", MINI, "--out", "missing/x.json"], 2,
             "PR401", name="missing"),
        Case("out-is-a-symlink-loop", 12, ["evaluate", ev, "--rules", MINI, "--out", "out-loop-a.json"], 2,
             "PR401", name="out-loop-a.json"),
        Case("junit-is-the-case-file", 12, ["test", "case.yaml", "--rules", MINI, "--junit", "case.yaml"], 2,
             "PR401", name="case.yaml"),
        Case("junit-into-the-case-folder", 12, ["test", "cases-out", "--rules", MINI, "--junit",
                                                "cases-out/case.yaml"], 2, "PR401", name="cases-out/case.yaml"),
        Case("out-after-bad-evidence", 12, ["evaluate", "bad.yaml", "--rules", MINI, "--format", "json", "--out",
                                            str(out / "trace.json")], 2, "PR301", "2:1", name="bad.yaml", out=out),
    ]


@generator
def hostile_names(work: Path) -> list[Case]:
    """File names that try to write to the terminal: every message shows them escaped."""
    out = _outdir(work, "names")
    bad = "force: [\n"  # unfinished: every name below is shown in a PR301 message
    names: list[tuple[str, str | bytes]] = [
        ("escape", "\x1b[2J\x1b[31mred.yaml"),
        ("osc-title", "\x1b]0;owned\x07.yaml"),
        ("newline", "ok.yaml\nerror[PR999]: forged.yaml"),
        ("carriage-return", "real.yaml\rforged.yaml"),
        ("tab", "a\tb.yaml"),
        ("bidi", "report\u202eLMAY.yaml"),
        ("line-separator", "a\u2028b.yaml"),
        ("undecodable", b"\xff\xfe\x9b31m.yaml"),
        ("dash", "--rules.yaml"),
    ]
    cases = []
    for tag, name in names:
        path = os.fsencode(name) if isinstance(name, str) else name
        with open(os.path.join(os.fsencode(work), path), "wb") as fh:
            fh.write(bad.encode())
        argv: list[str | bytes] = ["evaluate", "--rules", MINI, "--out", str(out / "r.txt"), "--", path]
        cases.append(Case(f"name-{tag}", 12, argv, 2, "PR301", "2:1", name=path, out=out))
        if tag in ("escape", "newline"):
            rule = path[:-5] + b".peel"
            with open(os.path.join(os.fsencode(work), rule), "wb") as fh:
                fh.write(b"area {\n")
            cases.append(Case(f"name-{tag}-rules", 12, ["check", rule], 1, "PR101", "1:6", name=rule))
    _write(work / "bad.yaml", bad)
    cases += [
        # click.echo strips CSI sequences (ESC [ ... m) when the output is not a terminal, but not the others
        Case("area-argument-with-escape", 12, ["explain", MINI_EVIDENCE, "\x1b]0;owned\x07contact", "--rules",
                                               MINI], 2, "PR307", name=None),
        Case("why-not-argument-with-escape", 12, ["explain", MINI_EVIDENCE, "contact", "--rules", MINI,
                                                  "--why-not", "\x1b]0;owned\x07good"], 2, "PR201", name=None),
    ]
    return cases


# ---------------------------------------------------------------- traces


@generator
def traces(work: Path) -> list[Case]:
    _write(work / "deep-trace.json", "[" * 100_000 + "]" * 100_000)
    _sparse(work / "over-5mb-trace.json", 5_000_001)
    return [
        Case("trace-deep-100k", 3, ["verify", "deep-trace.json"], 2, None, name="deep-trace.json"),
        Case("trace-over-5mb", 4, ["verify", "over-5mb-trace.json"], 2, "PR404", name="over-5mb-trace.json"),
    ]
