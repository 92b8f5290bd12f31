"""The examples in docs/evidence.md, docs/language.md and docs/statistics.md marked `<!-- example: bundle -->` or
`<!-- example: rules -->` are loaded as they stand: bundles against the shipped rules, rule sets on their own."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

import peelrules

from conftest import ROOT

_MARKED = re.compile(r"<!-- example: (bundle|rules) -->\n```(?:yaml|peel)\n(.*?)\n```", re.S)


def _examples() -> list[tuple[str, str, str]]:
    out = []
    for doc in ("evidence.md", "language.md", "statistics.md"):
        text = (ROOT / "docs" / doc).read_text(encoding="utf-8")
        out += [(f"{doc}#{i + 1}", kind, body) for i, (kind, body) in enumerate(_MARKED.findall(text))]
    return out


EXAMPLES = _examples()


def test_the_docs_mark_examples() -> None:
    kinds = [k for _, k, _ in EXAMPLES]
    assert kinds.count("bundle") >= 3 and kinds.count("rules") >= 1


@pytest.mark.parametrize("name, kind, body", EXAMPLES, ids=[e[0] for e in EXAMPLES])
def test_example_loads(shipped, tmp_path: Path, name: str, kind: str, body: str) -> None:
    if kind == "bundle":
        path = tmp_path / "example.yaml"
        path.write_text(body + "\n", encoding="utf-8")
        bundle = peelrules.load_evidence(path, shipped)
        result, _ = peelrules.explain(shipped, bundle)
        assert result.areas
    else:
        (tmp_path / "rules").mkdir()
        (tmp_path / "rules" / "example.peel").write_text(body + "\n", encoding="utf-8")
        program = peelrules.load_rules(tmp_path / "rules")
        assert program.areas
