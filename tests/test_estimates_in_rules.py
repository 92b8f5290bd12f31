"""Estimates and peer comparisons in the rule language (issue 13): checker, both evaluators, traces, loader.

Expected values are worked out here from the formulas (normal interval p +/- 1.96 sqrt(p(1-p)/n); z against a
mean and sd computed in the test), never copied from the output they check.
"""
from __future__ import annotations

import json
import math
import random
import shutil
import statistics
from pathlib import Path

import jsonschema
import pytest
import yaml

import peelrules
from peelrules.compile import compile_program
from peelrules.diagnostics import PeelError
from peelrules.evaluate import Evaluator
from peelrules.fmt import format_source
from peelrules.report.schemas import trace_schema
from peelrules.report.text import explain
from peelrules.source import SourceFile
from peelrules.report.trace_json import trace_document
from peelrules.values import UNKNOWN

ROOT = Path(__file__).resolve().parent.parent
DVPO = ROOT / "evidence" / "comparators" / "dvpo-2021.yaml"

RULES = '''framework fw "F" {
  version "1"
  interval {method}
  small_sample below 30
}
evidence s {
  grounds: estimate "Records with reasonable grounds"
  audited: ratio "Audited records with reasonable grounds"
  rate:    comparator "DVPO applications per 1,000 DA offences" measure dvpo_applications_per_1000_da_offences
}
ladder l { inadequate when concerns >= 1  requires_improvement when unmet >= 1  good otherwise }
area a "A" {
  grade by l
  characteristic below "b" { when not significantly_below(s.grounds, 90%) }
  characteristic above "a" { when significantly_above(s.audited, 80%) and not small_sample(s.audited) }
  characteristic bounds "c" { when lower(s.audited) > 75% or upper(s.grounds) < 88% }
  cause_of_concern low "low" { when outlier(s.rate) is well_below }
  area_for_improvement z "z" { when peer_z(s.rate) < -1.5 or peer_rank(s.rate) >= 40 or small_sample(s.grounds) }
  area_for_improvement worse "worse" { when peer_worse(s.rate) }
  characteristic better "better" { when peer_better(s.rate) or not peer_worse(s.rate) }
}
'''


def _rules(tmp: Path, method: str = "normal") -> peelrules.Program:
    (tmp / "r.peel").write_text(RULES.replace("{method}", method), encoding="utf-8")
    return peelrules.load_rules(tmp / "r.peel")


def _bundle(tmp: Path, program: peelrules.Program, facts: dict, comparators: dict | None = None,
            force: str = "Lancashire Constabulary", name: str = "b.yaml") -> peelrules.Bundle:
    data: dict = {"force": force, "framework": "fw", "sources": {"r": {"title": "R"}}, "facts": facts}
    if comparators is not None:
        data["comparators"] = comparators
    (tmp / name).write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return peelrules.load_evidence(tmp / name, program)


def _copy_dvpo(tmp: Path) -> str:
    (tmp / "comparators").mkdir(exist_ok=True)
    shutil.copy(DVPO, tmp / "comparators" / "dvpo-2021.yaml")
    return "comparators/dvpo-2021.yaml"


def _outcomes(result) -> dict:  # type: ignore[no-untyped-def]
    return {o.key: o.outcome for a in result.areas for o in a.outcomes}


def _agree(program: peelrules.Program, bundle: peelrules.Bundle):  # type: ignore[no-untyped-def]
    expected = Evaluator(program).run(bundle)[0]
    got = compile_program(program).run(bundle)
    assert got == expected and repr(got) == repr(expected)
    return got


# ---------------------------------------------------------------- estimates

def test_85_2_percent_of_183_is_plus_or_minus_5_1_through_the_language(tmp_path: Path) -> None:
    program = _rules(tmp_path)
    bundle = _bundle(tmp_path, program, {"s.audited": {"k": 156, "n": 183, "source": "r:L1"}})
    trace = peelrules.explain(program, bundle)[1]
    leaves = [e for r in trace[0].rules for e in _walk(r.when) if e.estimate is not None and e.text.startswith("lower")]
    leaf = leaves[0].estimate
    p = 156 / 183
    assert round(p, 3) == 0.852
    half = 1.96 * math.sqrt(p * (1 - p) / 183)
    assert round(half, 3) == 0.051  # the report's +/- 5.1%
    assert leaf.method == "normal" and leaf.sample == 183 and leaf.small is False
    assert leaf.lower == pytest.approx(p - half, abs=1e-3) and leaf.upper == pytest.approx(p + half, abs=1e-3)
    assert round((leaf.upper - leaf.lower) / 2 * 100, 1) == 5.1


def _walk(e):  # type: ignore[no-untyped-def]
    if e is None:
        return
    yield e
    for c in e.children:
        yield from _walk(c)


@pytest.mark.parametrize("value,ci,expected", [
    ("85.2%", "5.1%", UNKNOWN),  # 80.1% to 90.3%: straddles 90%
    ("80%", "5%", True),  # 75% to 85%: wholly below 90%
    ("95%", "4%", False),  # 91% to 99%: none of it below
])
def test_significantly_below_is_three_valued(tmp_path: Path, value: str, ci: str, expected: object) -> None:
    program = _rules(tmp_path)
    bundle = _bundle(tmp_path, program, {"s.grounds": {"estimate": value, "ci": ci, "sample": 183, "source": "r:L1"}})
    result = _agree(program, bundle)
    below = expected if expected is UNKNOWN else (not expected)
    assert _outcomes(result)["a.below"] is below
    text = explain(peelrules.explain(program, bundle)[1])
    assert ("interval straddles the standard" in text) is (expected is UNKNOWN)


def test_interval_method_is_the_rule_sets(tmp_path: Path) -> None:
    """8 of 10: the normal interval reaches 55.2%, Wilson's 49.0% (computed here), so `lower > 50%` differs."""
    p, n, z = 0.8, 10, 1.959964
    normal_lo = p - z * math.sqrt(p * (1 - p) / n)
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    wilson_lo = centre - z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    got = {}
    for method in ("normal", "wilson"):
        folder = tmp_path / method
        folder.mkdir()
        program = _rules(folder, method)
        bundle = _bundle(folder, program, {"s.audited": {"k": 8, "n": 10, "source": "r:L1"}})
        trace = peelrules.explain(program, bundle)[1]
        leaf = next(e.estimate for r in trace[0].rules for e in _walk(r.when)
                    if e.estimate is not None and e.text.startswith("lower"))
        got[method] = leaf.lower
        assert leaf.method == method and leaf.small is True  # 10 is below the rule set's 30
        _agree(program, bundle)
    assert got["normal"] == pytest.approx(normal_lo, abs=1e-6)
    assert got["wilson"] == pytest.approx(wilson_lo, abs=1e-6)


# ---------------------------------------------------------------- peers

def _peer_expectation() -> tuple[float, str, int]:
    values = yaml.safe_load(DVPO.read_text(encoding="utf-8"))["values"]
    present = [v for v in values.values() if v is not None]
    mean, sd = statistics.mean(present), statistics.stdev(present)
    x = values["Lancashire Constabulary"]
    z = (x - mean) / sd
    band = "well_above" if z > 1 else "well_below" if z < -1 else "within"
    rank = 1 + sum(1 for v in present if v > x)
    return z, band, rank


def test_outlier_reads_the_bundles_comparator(tmp_path: Path) -> None:
    program = _rules(tmp_path)
    bundle = _bundle(tmp_path, program, {}, {"dvpo_applications_per_1000_da_offences": _copy_dvpo(tmp_path)})
    result = _agree(program, bundle)
    z, band, rank = _peer_expectation()
    peer = bundle.peers["s.rate"].comparison
    assert peer is not None and peer.scale == "raw"  # the illustrative values pass Shapiro-Wilk
    assert peer.z == pytest.approx(z) and peer.band == band and peer.rank == rank
    assert _outcomes(result)["a.low"] is (band == "well_below")
    doc = trace_document(program, [(bundle, peelrules.explain(program, bundle)[1])], None)
    jsonschema.validate(doc, trace_schema())
    [entry] = doc["inputs"]["comparators"]
    assert entry["measure"] == "dvpo_applications_per_1000_da_offences" and len(entry["sha256"]) == 64
    text = json.dumps(doc)
    assert '"band": "' + band + '"' in text and '"illustrative": true' in text and '"logs_used": false' in text


def test_outlier_is_unknown_without_the_comparator_or_the_forces_value(tmp_path: Path) -> None:
    program = _rules(tmp_path)
    none = _bundle(tmp_path, program, {})
    other = _bundle(tmp_path, program, {}, {"dvpo_applications_per_1000_da_offences": _copy_dvpo(tmp_path)},
                    force="Nowhere Police", name="c.yaml")
    for bundle in (none, other):
        result = _agree(program, bundle)
        assert _outcomes(result)["a.low"] is UNKNOWN
        assert "a.low" not in [o.key for a in result.areas for o in a.outcomes if o.outcome is True]
        text = explain(peelrules.explain(program, bundle)[1])
        assert "outlier(s.rate) = unknown" in text
    assert result.areas[0].missing == ("s.rate",) or "s.rate" in result.areas[0].missing


def _polarity_copies(tmp: Path) -> list[str]:
    """The DVPO comparator under each polarity, beside the bundles: comparators/<polarity>.yaml."""
    text = DVPO.read_text(encoding="utf-8")
    (tmp / "comparators").mkdir(exist_ok=True)
    out = []
    for polarity in ("higher_is_better", "higher_is_worse", "neutral"):
        (tmp / "comparators" / f"{polarity}.yaml").write_text(
            text.replace("polarity: higher_is_better", f"polarity: {polarity}"), encoding="utf-8")
        out.append(f"comparators/{polarity}.yaml")
    return out


def test_both_engines_agree_on_generated_bundles(tmp_path: Path) -> None:
    rng = random.Random(13)
    rel = _copy_dvpo(tmp_path)
    assert "polarity: higher_is_better" in DVPO.read_text(encoding="utf-8")
    files = [rel, *_polarity_copies(tmp_path)]
    forces = list(yaml.safe_load(DVPO.read_text(encoding="utf-8"))["values"]) + ["Nowhere Police"]
    for method in ("normal", "wilson"):
        folder = tmp_path / method
        folder.mkdir()
        shutil.copytree(tmp_path / "comparators", folder / "comparators")
        program = _rules(folder, method)
        for i in range(40):
            facts: dict = {}
            if rng.random() < 0.8:
                facts["s.grounds"] = {"estimate": f"{rng.uniform(50, 100):.1f}%", "ci": f"{rng.uniform(0, 15):.1f}%",
                                      "sample": rng.randint(1, 400), "source": "r:L1"}
            if rng.random() < 0.8:
                nn = rng.randint(0, 300)
                facts["s.audited"] = {"k": rng.randint(0, nn), "n": nn, "source": "r:L1"}
            comps = {"dvpo_applications_per_1000_da_offences": rng.choice(files)} if rng.random() < 0.7 else None
            bundle = _bundle(folder, program, facts, comps, force=rng.choice(forces), name=f"b{i}.yaml")
            _agree(program, bundle)


# ---------------------------------------------------------------- the language: fmt, errors

def test_fmt_round_trips_the_header_fields_and_measure(tmp_path: Path) -> None:
    text = RULES.replace("{method}", "wilson")
    once = format_source(SourceFile("r.peel", text))
    assert "  interval wilson\n" in once and "  small_sample below 30\n" in once
    assert "measure dvpo_applications_per_1000_da_offences" in once
    assert format_source(SourceFile("r.peel", once)) == once


def _errors(tmp: Path, text: str) -> list:
    (tmp / "r.peel").write_text(text, encoding="utf-8")
    with pytest.raises(PeelError) as err:
        peelrules.load_rules(tmp / "r.peel")
    return err.value.diagnostics


@pytest.mark.parametrize("old,new,code,col_of", [
    ("significantly_below(s.grounds, 90%)", "significantly_below(s.count, 90%)", "PR204", "s.count, 90%"),
    ("outlier(s.rate)", "outlier(s.grounds)", "PR204", "s.grounds) is"),
    ("interval {method}", "interval normall", "PR212", "interval normall"),
    ("outlier(s.rate) is well_below", 'outlier(s.rate) == "well_below"', "PR204", "outlier(s.rate) =="),
    ("outlier(s.rate) is well_below", "present(s.rate)", "PR204", "s.rate)"),
    ("outlier(s.rate) is well_below", "s.rate > 1", "PR204", "s.rate > 1"),
])
def test_misuse_is_a_checker_error_at_its_position(tmp_path: Path, old: str, new: str, code: str,
                                                   col_of: str) -> None:
    text = RULES.replace("evidence s {", "evidence s {\n  count: count \"n\"").replace(old, new)
    text = text.replace("{method}", "normal")
    diags = _errors(tmp_path, text)
    d = next(x for x in diags if x.code == code)
    line = text.splitlines()[d.span.line - 1]
    assert d.span.column == line.index(col_of) + 1
    assert d.hint


def test_small_sample_needs_a_threshold(tmp_path: Path) -> None:
    diags = _errors(tmp_path, RULES.replace("{method}", "normal").replace("  small_sample below 30\n", ""))
    assert [d.code for d in diags] == ["PR212", "PR212"]
    assert all("small_sample below" in d.hint for d in diags)


@pytest.mark.parametrize("path,word", [("comparators/missing.yaml", "not found"), ("../dvpo-2021.yaml", "outside"),
                                        ("/etc/passwd", "outside")])
def test_comparator_path_problems_are_loader_errors(tmp_path: Path, path: str, word: str) -> None:
    program = _rules(tmp_path)
    with pytest.raises(PeelError) as err:
        _bundle(tmp_path, program, {}, {"dvpo_applications_per_1000_da_offences": path})
    [d] = err.value.diagnostics
    lines = (tmp_path / "b.yaml").read_text(encoding="utf-8").splitlines()
    at = next(i for i, line in enumerate(lines, 1) if line.strip().startswith("dvpo_applications"))
    assert d.code == "PR319" and word in d.message and (d.span.line, d.span.column) == (at, 3) and d.hint


def test_a_fact_for_a_comparator_is_refused(tmp_path: Path) -> None:
    program = _rules(tmp_path)
    with pytest.raises(PeelError) as err:
        _bundle(tmp_path, program, {"s.rate": {"value": 1.2, "source": "r:L1"}})
    assert "comparators:" in err.value.diagnostics[0].message


# ---------------------------------------------------------------- Lancashire, through the shipped rules

LANCASHIRE = ROOT / "evidence" / "lancashire-2022.yaml"
LANCS = "Lancashire Constabulary"


@pytest.fixture(scope="module")
def lancashire() -> tuple:
    program = peelrules.load_rules(None)
    bundle = peelrules.load_evidence(LANCASHIRE, program)
    return program, bundle, peelrules.explain(program, bundle)[1]


def _exprs(traces) -> list:  # type: ignore[no-untyped-def]
    return [e for t in traces for r in t.rules for x in (r.when, r.exceeded_when) for e in _walk(x)]


def test_lancashire_reads_stop_and_search_as_an_estimate_and_dvpo_among_all_forces(lancashire: tuple) -> None:
    program, bundle, traces = lancashire
    raw = yaml.safe_load(LANCASHIRE.read_text(encoding="utf-8"))
    stated = raw["facts"]["fairness.stop_search_reasonable_grounds"]
    estimates = {e.text: e.estimate for e in _exprs(traces) if e.estimate is not None}
    overall = next(v for k, v in estimates.items() if k.startswith("lower(fairness.stop_search_reasonable_grounds"))
    assert f"{overall.value:.1%}" == stated["estimate"] and overall.sample == stated["sample"]
    assert f"{(overall.upper - overall.lower) / 2:.1%}" == stated["ci"] and overall.method == "given"
    subgroup = next(v for k, v in estimates.items() if k.startswith("significantly_below("))
    k, n = (raw["facts"]["fairness.stop_search_grounds_ethnic_minority"][x] for x in ("k", "n"))
    assert subgroup.sample == n and subgroup.small is True and subgroup.method == "normal"
    assert subgroup.verdict == "interval straddles the standard"  # 21 of 27 spans the audit's lower bound
    assert subgroup.value == pytest.approx(k / n)
    [peer] = {e.peer.name: e.peer for e in _exprs(traces) if e.peer is not None}.values()
    z, band, rank = _peer_expectation()
    assert peer.illustrative and peer.comparison.band == band == "well_below" and peer.comparison.rank == rank
    outcomes = {o.key: o.outcome for a in peelrules.evaluate(program, bundle).areas for o in a.outcomes}
    assert outcomes["fairness_and_respect.explain_ethnic_minority_grounds"] is False


def test_lancashire_html_embeds_the_peer_chart_with_its_numbers(lancashire: tuple) -> None:
    import re
    import xml.etree.ElementTree as ET

    from peelrules.report import html as html_report
    from peelrules.report.chart import HIGHLIGHT

    program, bundle, traces = lancashire
    doc = html_report.document(program, [(bundle, traces)])
    svgs = re.findall(r"<svg\b.*?</svg>", doc, flags=re.S)
    assert len(svgs) == 1
    root = ET.fromstring(svgs[0])
    ids = {el.get("id"): el for el in root.iter() if el.get("id")}
    values = yaml.safe_load(DVPO.read_text(encoding="utf-8"))["values"]
    present = sorted(((f, v) for f, v in values.items() if v is not None), key=lambda fv: (-fv[1], fv[0]))
    prefix = next(i for i in ids if i.endswith("-mean"))[: -len("mean")]
    bars = sorted((i for i in ids if re.fullmatch(re.escape(prefix) + r"bar-\d+", i)), key=lambda i: int(i.rsplit("-", 1)[1]))
    assert len(bars) == len(present)
    def attrs(el) -> str:  # type: ignore[no-untyped-def]  # presentation attributes (the page's CSP: no style)
        return " ".join(f"{k}={v}" for x in el.iter() for k, v in x.attrib.items())

    style = {b: attrs(ids[b]) for b in bars}
    assert [b for b in bars if HIGHLIGHT in style[b]] == [f"{prefix}bar-{[f for f, _ in present].index(LANCS)}"]

    def height(el) -> float:  # type: ignore[no-untyped-def]
        nums = [float(x) for x in re.findall(r"-?\d+(?:\.\d+)?", next(p.get("d") for p in el.iter() if p.get("d")))]
        return nums[1]  # y of the line's first point (SVG y grows downwards)

    y_mean, y_lo, y_hi = (height(ids[prefix + k]) for k in ("mean", "sd-lower", "sd-upper"))
    assert y_hi < y_mean < y_lo and (y_lo - y_mean) == pytest.approx(y_mean - y_hi, rel=1e-3)  # raw: sd either side
    dotted = {k: attrs(ids[prefix + k]) for k in ("mean", "sd-lower", "sd-upper")}
    assert "dasharray" in dotted["sd-lower"] and "dasharray" in dotted["sd-upper"] and "dasharray" not in dotted["mean"]
    labels = {t for el in root.iter() if el.tag.endswith("text") for t in el.itertext()}
    assert all(any(f in t for t in labels) for f, _ in present)
    numbers = [v for _, v in present]
    mean, sd = statistics.mean(numbers), statistics.stdev(numbers)
    table = doc[doc.index('<table class="peer-numbers">'):]
    table = table[: table.index("</table>")]
    for shown in (f"{mean:.2f}", f"{mean - sd:.2f}", f"{mean + sd:.2f}", f"{values[LANCS]:.2f}",
                  f"{(values[LANCS] - mean) / sd:+.2f}", "well below", f"of {len(present)}"):
        assert shown in table
    assert "ILLUSTRATIVE" in doc and "url(" not in doc and "style=" not in svgs[0]


def test_the_language_server_describes_the_new_words() -> None:
    pytest.importorskip("pygls")
    from peelrules.lower import parse_source
    from peelrules.lsp import Index, hover_text
    from peelrules.symbols import Scope, Symbol
    from peelrules.vocabulary import FUNCTIONS, OUTLIER_BANDS

    module = parse_source(SourceFile("r.peel", RULES.replace("{method}", "wilson")))
    ix = Index.build([module])
    for func in ("significantly_below", "significantly_above", "small_sample", "outlier", "peer_z", "peer_rank",
                 "peer_better", "peer_worse"):
        text = hover_text(ix, Symbol("function", func))
        assert FUNCTIONS[func].partition(": ")[2] in text
    band = ix.resolve(next(x for x in _names_in(module) if x.parts == ("well_below",)).parts, Scope(area="a"))
    assert band is not None and OUTLIER_BANDS["well_below"] in hover_text(ix, band)
    framework = next(i for i in module.items if type(i).__name__ == "Framework")
    text = hover_text(ix, Symbol("framework", framework.name, framework))
    assert "interval: wilson" in text and "small_sample below 30" in text
    decl = next(i for i in module.items if getattr(i, "type", None) == "comparator")
    assert "measure: dvpo_applications_per_1000_da_offences" in hover_text(ix, Symbol("evidence", decl.name, decl))


def _names_in(module):  # type: ignore[no-untyped-def]
    from peelrules import nodes as nd

    for item in module.items:
        for rule in getattr(item, "rules", ()):
            for x in nd.walk(rule.when):
                if isinstance(x, nd.Name):
                    yield x


def test_verify_notices_a_changed_comparator_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from peelrules.verify import verify

    monkeypatch.chdir(tmp_path)
    program = _rules(tmp_path)
    rel = _copy_dvpo(tmp_path)
    bundle = _bundle(tmp_path, program, {}, {"dvpo_applications_per_1000_da_offences": rel})
    doc = json.loads(json.dumps(trace_document(program, [(bundle, peelrules.explain(program, bundle)[1])],
                                               str(tmp_path / "r.peel"))))
    assert verify(doc)[0] == []
    path = tmp_path / rel
    path.write_text(path.read_text(encoding="utf-8").replace("illustrative: true", "illustrative: false"),
                    encoding="utf-8")
    diffs = verify(doc)[0]
    assert any(d.kind == "comparator" and "content changed" in d.detail for d in diffs)


def test_a_problem_inside_a_comparator_file_is_reported_at_its_line(tmp_path: Path) -> None:
    program = _rules(tmp_path)
    rel = _copy_dvpo(tmp_path)
    path = tmp_path / rel
    lines = path.read_text(encoding="utf-8").splitlines()
    at = next(i for i, line in enumerate(lines) if line.startswith("  Lancashire Constabulary:"))
    lines[at] = "  Lancashire Constabulary: very low"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(PeelError) as err:
        _bundle(tmp_path, program, {}, {"dvpo_applications_per_1000_da_offences": rel})
    [d] = err.value.diagnostics
    assert d.code == "PR303" and Path(d.span.file).name == "dvpo-2021.yaml" and d.span.line == at + 1


def test_a_measure_no_rule_reads_is_refused_with_the_rule_sets_measures(tmp_path: Path) -> None:
    program = _rules(tmp_path)
    with pytest.raises(PeelError) as err:
        _bundle(tmp_path, program, {}, {"dvpo_rate": _copy_dvpo(tmp_path)})
    [d] = err.value.diagnostics
    assert d.code == "PR319" and "dvpo_applications_per_1000_da_offences" in d.hint


# ---------------------------------------------------------------- float noise in the JSON trace (issue 13)

def _floats(doc: object):  # type: ignore[no-untyped-def]
    if isinstance(doc, float):
        yield doc
    elif isinstance(doc, dict):
        for v in doc.values():
            yield from _floats(v)
    elif isinstance(doc, list):
        for v in doc:
            yield from _floats(v)


def test_json_trace_shows_stated_bounds_without_float_noise(tmp_path: Path) -> None:
    """85.2% +/- 5.1% has the lower bound 80.1%: 0.852 - 0.051 is 0.8009999999999999 in floats; the engine settles
    a computed bound to 12 significant digits, so the JSON trace shows 0.801 and the rules compared 0.801."""
    from peelrules.report.values import JSON_DIGITS

    assert 0.852 - 0.051 != 0.801  # the noise this test is about
    program = _rules(tmp_path)
    bundle = _bundle(tmp_path, program, {
        "s.grounds": {"estimate": "85.2%", "ci": "5.1%", "sample": 183, "source": "r:L1"},
        "s.audited": {"k": 21, "n": 27, "source": "r:L1"}},
        {"dvpo_applications_per_1000_da_offences": _copy_dvpo(tmp_path)})
    result = _agree(program, bundle)
    traces = peelrules.explain(program, bundle)[1]
    doc = trace_document(program, [(bundle, traces)], None)
    jsonschema.validate(doc, trace_schema())
    text = json.dumps(doc)
    assert '"lower": 0.801,' in text and "0.8009999" not in text
    for x in _floats(doc):
        digits = len(repr(abs(x)).replace(".", "").lstrip("0").split("e")[0])
        assert digits <= JSON_DIGITS, x
    # the outcomes in the document are those the engines decided
    shown = {r["rule"]: r["outcome"] for a in doc["results"][0]["areas"] for r in a["rules"]}
    from peelrules.report.values import value_json
    assert shown == {o.key: value_json(o.outcome) for a in result.areas for o in a.outcomes}
    leaf = next(e.estimate for t in traces for r in t.rules for e in _walk(r.when)
                if e.estimate is not None and e.estimate.method == "given")
    assert leaf.lower == 0.801  # the number decided on is the number shown


@pytest.mark.parametrize("method", ["normal", "wilson"])
def test_a_rule_compares_the_bound_the_trace_shows(tmp_path: Path, method: str) -> None:
    """`lower(x) >= 80.1%` on 85.2% +/- 5.1%: true, as the source means, in both evaluators (with the full float
    0.8009999999999999 it would be false); one point above the bound it is false."""
    assert not 0.852 - 0.051 >= 0.801  # what float arithmetic alone would decide
    (tmp_path / "r.peel").write_text(RULES.replace("{method}", method).replace(
        'characteristic bounds "c" { when lower(s.audited) > 75% or upper(s.grounds) < 88% }',
        'characteristic bounds "c" { when lower(s.grounds) >= 80.1% }\n'
        '  characteristic above_bound "d" { when lower(s.grounds) >= 80.2% }'), encoding="utf-8")
    program = peelrules.load_rules(tmp_path / "r.peel")
    bundle = _bundle(tmp_path, program, {"s.grounds": {"estimate": "85.2%", "ci": "5.1%", "sample": 183,
                                                       "source": "r:L1"}})
    outcomes = _outcomes(_agree(program, bundle))
    assert outcomes["a.bounds"] is True and outcomes["a.above_bound"] is False


# ---------------------------------------------------------------- polarity: peer_better(x), peer_worse(x)

def _placed(tmp: Path, polarity: str, value: float) -> tuple[str, list[float]]:
    """A comparator with the given polarity where Lancashire has `value`; and the forces' values."""
    raw = yaml.safe_load(DVPO.read_text(encoding="utf-8"))
    raw["polarity"] = polarity
    raw["values"]["Lancashire Constabulary"] = value
    (tmp / "comparators").mkdir(exist_ok=True)
    name = f"comparators/{polarity}-{value}.yaml"
    (tmp / name).write_text(yaml.safe_dump(raw, sort_keys=False), encoding="utf-8")
    return name, [v for v in raw["values"].values() if v is not None]


@pytest.mark.parametrize("polarity", ["higher_is_better", "higher_is_worse", "neutral"])
@pytest.mark.parametrize("value", [0.5, 6.5, 14.0])  # well below, within, well above the illustrative peers
def test_peer_better_and_worse_read_the_band_with_the_polarity(tmp_path: Path, polarity: str, value: float) -> None:
    program = _rules(tmp_path)
    rel, present = _placed(tmp_path, polarity, value)
    bundle = _bundle(tmp_path, program, {}, {"dvpo_applications_per_1000_da_offences": rel})
    peer = bundle.peers["s.rate"].comparison
    assert peer is not None
    on = [math.log(v) for v in present] if peer.scale == "log" else present  # the scale Shapiro-Wilk chose
    x = math.log(value) if peer.scale == "log" else value
    z = (x - statistics.mean(on)) / statistics.stdev(on)
    assert peer.z == pytest.approx(z)
    side = "above" if z > 1 else "below" if z < -1 else None
    good_side = {"higher_is_better": "above", "higher_is_worse": "below"}.get(polarity)
    if polarity == "neutral":
        better = worse = UNKNOWN
    else:
        better, worse = side is not None and side == good_side, side is not None and side != good_side
    result = _agree(program, bundle)
    outcomes = _outcomes(result)
    assert outcomes["a.worse"] is worse
    assert outcomes["a.better"] is (UNKNOWN if polarity == "neutral" else (better or not worse))
    text = explain(peelrules.explain(program, bundle)[1])
    band = {"above": "well above average", "below": "well below average", None: "within the normal range"}[side]
    word = None if better is UNKNOWN or side is None else "better" if better else "worse"
    assert (f"{band} ({word})" if word else f"{band};") in text
    assert ("(worse)" in text or "(better)" in text) is (word is not None)
    doc = trace_document(program, [(bundle, peelrules.explain(program, bundle)[1])], None)
    jsonschema.validate(doc, trace_schema())
    assert f'"verdict": {json.dumps(word)}' in json.dumps(doc)


def test_polarity_functions_are_checked(tmp_path: Path) -> None:
    base = RULES.replace("{method}", "normal")
    for old, new, col_of in [("peer_worse(s.rate)", "peer_worse(s.grounds)", "s.grounds)"),
                             ("peer_worse(s.rate)", "peer_worse(s.rate) > 1", "peer_worse(s.rate) >"),
                             ("peer_worse(s.rate)", "peer_worse(s.rate, s.rate)", "peer_worse(s.rate, s.rate)")]:
        text = base.replace(old, new, 1)
        diags = _errors(tmp_path, text)
        d = diags[0]
        line = text.splitlines()[d.span.line - 1]
        assert d.code in ("PR204", "PR212") and d.span.column == line.index(col_of) + 1 and d.hint, d


def test_an_estimate_may_give_its_standard_error(tmp_path: Path) -> None:
    """`se: "2.6%"` instead of `ci:`: the 95% interval, +/- 1.96 se (5.096%, within 0.001 point), read by the rules
    and shown as any estimate's; ci and se together, or neither, is an error at the fact."""
    program = _rules(tmp_path)
    bundle = _bundle(tmp_path, program, {"s.grounds": {"estimate": "85.2%", "se": "2.6%", "sample": 183,
                                                       "source": "r:L1"}})
    est = bundle.facts["s.grounds"].value
    assert abs(est.ci - 0.05096) < 1e-5 and est.sample == 183
    assert _outcomes(_agree(program, bundle))["a.below"] is UNKNOWN  # 80.1% to 90.3%: straddles 90%
    for code, shape in (("PR303", {"estimate": "85.2%", "se": "2.6%", "ci": "5.1%", "sample": 183}),
                        ("PR303", {"estimate": "85.2%", "sample": 183}),
                        ("PR306", {"estimate": "85.2%", "se": "260%", "sample": 183})):  # out of range
        with pytest.raises(PeelError) as err:
            _bundle(tmp_path, program, {"s.grounds": {**shape, "source": "r:L1"}}, name="bad.yaml")
        d = err.value.diagnostics[0]
        assert d.code == code and d.span is not None and d.span.file.endswith("bad.yaml"), d
