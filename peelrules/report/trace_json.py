"""The JSON trace: the versioned contract that every other view is derived from."""
from __future__ import annotations

import hashlib
import json
from typing import Any

from .. import __version__
from ..facts import Bundle
from ..findings import Finding, Moderation
from ..estimates import EstimateLeaf
from ..program import Program
from ..trace import AreaTrace, ExprTrace, RuleTrace, RungTrace
from .values import json_number, outcome_word, value_json

# 1.1: findings, moderation and final judgments; 1.2: estimates, peers, inputs.comparators;
# 1.3: computed numbers at report.values.JSON_DIGITS significant digits (0.801, not 0.8009999999999999), and
#      a peer comparison's `verdict` ("better" / "worse" for the measure's polarity, null within or neutral);
# 1.4: every expression node's `span` (file, line, column, end_line, end_column in the rule files);
# 1.5: `comparison` on overlaps(a, b) and significantly_changed/_lower/_higher(a, b): both estimates, the
#      two-proportion test's figures and its verdict (a trace without those functions is as in 1.4)
TRACE_VERSION = "1.5"


def estimate_json(e: EstimateLeaf) -> dict[str, Any]:
    return {"value": json_number(e.value), "lower": json_number(e.lower), "upper": json_number(e.upper),
            "method": e.method, "sample": e.sample, "small_sample": e.small, "small_sample_below": e.threshold,
            "standard": _number_or_null(e.standard), "verdict": e.verdict}


def _number_or_null(x: float | None) -> Any:
    return None if x is None else json_number(x)


def expr_json(t: ExprTrace) -> dict[str, Any]:
    out: dict[str, Any] = {"expr": t.text, "value": value_json(t.value), "span": t.span.to_json()}
    if t.fact is not None:
        f = t.fact
        out["fact"] = {"name": f.name, "present": f.present, "type": f.type, "description": f.description,
                       "source": ({"document": f.document, "line": f.line, "quote": f.quote}
                                  if f.present else None),
                       "status": f.status, "note": f.note}
    if t.aggregate is not None:
        a = t.aggregate
        out["aggregate"] = {"key": a.key, "table": a.table, "present": a.present, "sql": a.sql,
                            "rows_read": a.rows_read, "rows_matched": a.rows_matched, "files": list(a.files),
                            "source": a.source}
        if a.engine != "duckdb":  # a DuckDB run's trace is as it always was
            out["aggregate"]["engine"] = a.engine
        if a.catalog is not None:
            out["aggregate"]["catalog"] = a.catalog
    if t.estimate is not None:
        out["estimate"] = estimate_json(t.estimate)
    if t.comparison is not None:
        c = t.comparison
        out["comparison"] = {"test": c.test, "first": None if c.first is None else estimate_json(c.first),
                             "second": None if c.second is None else estimate_json(c.second),
                             "difference": _number_or_null(c.difference), "z": _number_or_null(c.z),
                             "p_value": _number_or_null(c.p_value), "critical": _number_or_null(c.critical),
                             "level": c.level, "verdict": c.verdict}
    if t.peer is not None:
        p = t.peer
        c = p.comparison
        out["peer"] = {"name": p.name, "measure": p.measure, "present": p.present, "file": p.file,
                       "sha256": p.sha256, "title": p.title, "unit": p.unit, "polarity": p.polarity,
                       "illustrative": p.illustrative, "source": p.source, "why": p.why,
                       "comparison": None if c is None else {
                           "force": c.force, "value": json_number(c.value), "forces": c.forces,
                           "missing": list(c.missing), "scale": c.scale, "logs_used": c.scale == "log",
                           "reason": c.reason, "mean": json_number(c.mean), "sd": json_number(c.sd),
                           "lower": json_number(c.lower), "upper": json_number(c.upper), "z": json_number(c.z),
                           "band": c.band, "verdict": c.verdict, "rank": c.rank}}
    if t.rule is not None:
        out["rule"] = t.rule
    if t.constant is not None:
        out["constant"] = t.constant
        out["written"] = t.written
    if t.counter is not None:
        out["counter"] = t.counter
    if t.taken is not None:
        out["taken"] = t.taken
    if t.finding_kind is not None:
        out["finding_kind"] = t.finding_kind
        out["findings"] = None if t.findings is None else [finding_json(f) for f in t.findings]
    if t.children:
        out["children"] = [expr_json(c) for c in t.children]
    return out


def finding_json(f: Finding) -> dict[str, Any]:
    return {"kind": f.kind, "text": f.text, "severe": f.severe, "grade": f.grade,
            "recommendations": list(f.recommendations), "note": f.note,
            "source": {"document": f.document, "line": f.line, "quote": f.quote}}


def moderation_json(m: Moderation | None) -> dict[str, Any] | None:
    if m is None:
        return None
    return {"final": m.final, "rationale": m.rationale,
            "source": {"document": m.document, "line": m.line, "quote": m.quote}}


def rule_json(r: RuleTrace) -> dict[str, Any]:
    return {
        "rule": r.key, "kind": r.kind, "title": r.title, "cite": r.cite,
        "recommendation": r.recommendation, "severe": r.severe,
        "outcome": value_json(r.outcome), "reading": outcome_word(r.kind, r.outcome),
        "exceeded": value_json(r.exceeded),
        "span": r.span.to_json(),
        "when": expr_json(r.when) if r.when else None,
        "exceeded_when": expr_json(r.exceeded_when) if r.exceeded_when else None,
    }


def rung_json(r: RungTrace) -> dict[str, Any]:
    return {"grade": r.grade, "otherwise": r.otherwise, "value": value_json(r.value),
            "condition": expr_json(r.condition) if r.condition else None, "span": r.span.to_json()}


def area_json(t: AreaTrace) -> dict[str, Any]:
    r = t.result
    return {
        "area": r.name, "title": r.title, "question": t.question,
        "status": r.status.value,
        "grade": r.grade.key if r.grade is not None else None,
        "ladder": r.ladder, "rung": r.rung,
        "counters": {k: value_json(v) for k, v in r.counters.items()},
        "missing_evidence": list(r.missing), "note": r.note,
        "final": t.moderation.final if t.moderation is not None else r.judgment,
        "moderation": moderation_json(t.moderation),
        "findings": None if t.findings is None else [finding_json(f) for f in t.findings],
        **({"findings_in_part": True} if t.findings_in_part else {}),
        "secondary_sources": list(t.secondary),
        "rungs": [rung_json(x) for x in t.rungs],
        "rules": [rule_json(x) for x in t.rules],
    }


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def trace_document(program: Program, runs: list[tuple[Bundle, tuple[AreaTrace, ...]]],
                   rule_set: str | None = None) -> dict[str, Any]:
    """The whole record of a run. `rule_set` is the rule folder as given (None: the shipped rules), so
    `peel verify` can re-run it; `result_sha256` is the digest of the canonical JSON of `results`."""
    fw = program.framework
    results = [
        {"evidence": b.file, "force": b.force, "areas": [area_json(t) for t in traces],
         "context": context_json(program, b)}
        for b, traces in runs
    ]
    return {
        "trace_version": TRACE_VERSION,
        "engine": {"name": "peelrules", "version": __version__},
        "framework": {"id": fw.name, "title": fw.title, "version": fw.version},
        "inputs": {
            "rule_set": rule_set,
            "rules": sorted(({"file": s.name, "sha256": s.sha256 or sha256(s.text)} for s in program.sources),
                            key=lambda d: d["file"]),
            "evidence": sorted(({"file": b.file, "sha256": b.sha256} for b, _ in runs), key=lambda d: d["file"]),
            **({"tables": tables} if (tables := table_inputs(runs)) else {}),
            **({"comparators": comps} if (comps := comparator_inputs(runs)) else {}),
        },
        "result_sha256": sha256(dumps(results)),
        "results": results,
    }


def table_inputs(runs: list[tuple[Bundle, tuple[AreaTrace, ...]]]) -> list[dict[str, Any]]:
    """Every file of every bundle's tables, with its digest, for `peel verify` (docs/tables.md)."""
    out = {f.path: {"file": f.path, "sha256": f.sha256, "bytes": f.bytes, "table": name, "evidence": b.file}
           for b, _ in runs for name, tb in b.tables.items() for f in tb.files}
    return [out[k] for k in sorted(out)]


def comparator_inputs(runs: list[tuple[Bundle, tuple[AreaTrace, ...]]]) -> list[dict[str, Any]]:
    """Every comparator file a bundle gives the rules, with its digest, for `peel verify` (docs/statistics.md)."""
    out = {p.path: {"file": p.path, "sha256": p.sha256, "measure": p.measure, "evidence": b.file}
           for b, _ in runs for p in b.peers.values()}
    return [out[k] for k in sorted(out)]


def context_json(program: Program, bundle: Bundle) -> list[dict[str, Any]]:
    """Facts declared `context only`: recorded with their source, shown to readers, never judged."""
    out = []
    for name, fact in bundle.facts.items():
        if fact.decl.context_only:
            out.append({"name": name, "value": value_json(fact.value), "type": fact.decl.type,
                        "description": fact.decl.description,
                        "source": {"document": fact.document, "line": fact.line, "quote": fact.quote},
                        "note": fact.note})
    return out


def dumps(doc: Any, *, allow_nan: bool = False) -> str:
    """Canonical JSON: sorted keys, two-space indent, UTF-8 text, final newline. `allow_nan`: for recorded
    results read back from a file (Python's json reads a NaN; peelrules never writes one)."""
    return json.dumps(doc, sort_keys=True, indent=2, ensure_ascii=False, allow_nan=allow_nan) + "\n"
