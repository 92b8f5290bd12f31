"""Evidence is read with libyaml (PyYAML's C parser) where it is present, and with the pure-Python parser
otherwise: both must give the same data, the same position for every key, and the same refusals. Checked on
every YAML file of the repository (bundles, rule test cases, the hostile corpus) and on generated documents."""
from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings, strategies as st

from peelrules import evidence
from peelrules.diagnostics import PeelError
from peelrules.source import SourceFile

from conftest import ROOT

pytestmark = pytest.mark.skipif(not hasattr(yaml, "CSafeLoader"), reason="PyYAML was built without libyaml")

FILES = sorted(p for folder in ("evidence", "tests") for p in (ROOT / folder).rglob("*.y*ml")
               if p.suffix in (".yaml", ".yml"))


def outcome(text: str, loader: type, monkeypatch: pytest.MonkeyPatch) -> tuple:
    """What load_yaml gives with this parser: the data and positions, or the refusal's code, line and column."""
    monkeypatch.setattr(evidence, "YAML_LOADER", loader)
    try:
        raw, positions = evidence.load_yaml(SourceFile("case.yaml", text))
    except PeelError as err:
        d = err.diagnostics[0]
        return ("refused", d.code, d.span.line if d.span else None, d.span.column if d.span else None)
    return ("loaded", raw, {k: (s.line, s.column, s.end_line, s.end_column) for k, s in positions.items()})


def test_the_c_parser_is_used_where_present() -> None:
    assert evidence.YAML_LOADER.__mro__[1] is yaml.CSafeLoader


@pytest.mark.parametrize("path", FILES, ids=[str(p.relative_to(ROOT)) for p in FILES])
def test_both_parsers_agree_on_every_yaml_file(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        pytest.skip("not UTF-8: refused by read_source before any parser sees it")
    fast = outcome(text, evidence.YAML_LOADER, monkeypatch)
    plain = outcome(text, evidence._NoImplicit, monkeypatch)
    assert fast == plain


scalars = st.one_of(st.integers(-10**6, 10**6).map(str), st.sampled_from(["true", "null", "~", "1.5", "1e3", "-0",
                    "'quoted'", '"dq"', "plain text", "", "- x", "é ü", "a: b", "|\n  block", "[1, 2]", "{a: 1}",
                    "&a x", "*a", "!!str x", "'unclosed"]))  # a tab: libyaml reads it as space, PyYAML refuses it
keys = st.sampled_from(["force", "facts", "a", "b.c", "'q'", "ünï"])


@st.composite
def documents(draw: st.DrawFn, depth: int = 0) -> str:
    lines = []
    for _ in range(draw(st.integers(1, 4))):
        key = draw(keys)
        if depth < 3 and draw(st.booleans()):
            inner = draw(documents(depth + 1))
            lines.append(f"{key}:\n" + "\n".join("  " + line for line in inner.splitlines()))
        else:
            lines.append(f"{key}: {draw(scalars)}")
    return "\n".join(lines) + "\n"


@given(documents())
@settings(max_examples=200, deadline=None)
def test_both_parsers_agree_on_generated_documents(text: str) -> None:
    with pytest.MonkeyPatch.context() as monkeypatch:
        assert outcome(text, evidence.YAML_LOADER, monkeypatch) == outcome(text, evidence._NoImplicit, monkeypatch)
