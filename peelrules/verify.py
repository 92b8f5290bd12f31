"""`peel verify`: re-run a recorded trace from its inputs and say exactly what differs, if anything."""
from __future__ import annotations

import json
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator

from . import __version__, explain, load_evidence, load_rules, shipped_program
from .loader import shipped_rule_sets
from .diagnostics import Code, Diagnostic, PeelError
from .source import Span
from .report.trace_json import TRACE_VERSION, dumps, trace_document

if TYPE_CHECKING:
    from .facts import Bundle
    from .program import Program
    from .tablefacts import EngineChoice


@dataclass(frozen=True)
class Difference:
    kind: str  # engine | trace_version | rules | evidence | table | result | area | moderation | rule | aggregate
    subject: str
    detail: str

    def __str__(self) -> str:
        return f"{self.kind} {self.subject}: {self.detail}"


def _digests(entries: list[dict[str, str]]) -> dict[str, str]:
    return {e["file"]: e["sha256"] for e in entries}


def _compare_files(kind: str, old: dict[str, str], new: dict[str, str]) -> list[Difference]:
    out = []
    for f in sorted(old.keys() | new.keys()):
        if f not in new:
            out.append(Difference(kind, f, "recorded, but not read now"))
        elif f not in old:
            out.append(Difference(kind, f, "read now, but not in the record"))
        elif old[f] != new[f]:
            out.append(Difference(kind, f, f"content changed (sha256 {old[f][:12]}… recorded, {new[f][:12]}… now)"))
    return out


def _compare_results(old: list[dict[str, Any]], new: list[dict[str, Any]]) -> list[Difference]:
    out = []
    new_by_file = {r["evidence"]: r for r in new}
    for rec in old:
        now = new_by_file.get(rec["evidence"])
        if now is None:
            continue
        areas_now = {a["area"]: a for a in now["areas"]}
        for a in rec["areas"]:
            b = areas_now.get(a["area"])
            if b is None:
                out.append(Difference("area", a["area"], "no longer in the rule set"))
                continue
            before = a["grade"] or a["status"]
            after = b["grade"] or b["status"]
            if before != after:
                out.append(Difference("area", a["area"], f"{before} recorded, {after} now ({rec['evidence']})"))
            if (a.get("final"), a.get("moderation")) != (b.get("final"), b.get("moderation")):
                was = a.get("moderation") or {}
                now_m = b.get("moderation") or {}
                out.append(Difference("moderation", a["area"], (
                    f"final {a.get('final')} recorded ({was.get('rationale') or 'no override'}), "
                    f"final {b.get('final')} now ({now_m.get('rationale') or 'no override'})")))
            rules_now = {r["rule"]: r for r in b["rules"]}
            for r in a["rules"]:
                s = rules_now.get(r["rule"])
                if s is None:
                    out.append(Difference("rule", r["rule"], "no longer in the rule set"))
                elif (r["outcome"], r["exceeded"]) != (s["outcome"], s["exceeded"]):
                    out.append(Difference("rule", r["rule"], f"{r['reading']} recorded, {s['reading']} now"))
    return out


def _aggregate_nodes(x: Any) -> Iterator[dict[str, Any]]:
    """Every expression node of a trace's results that shows an aggregate (with a `key`), in order."""
    if isinstance(x, dict):
        agg = x.get("aggregate")
        if isinstance(agg, dict) and isinstance(agg.get("key"), str):
            yield x
        for v in x.values():
            yield from _aggregate_nodes(v)
    elif isinstance(x, list):
        for v in x:
            yield from _aggregate_nodes(v)


def recorded_engine(recorded: dict[str, Any]) -> str | None:
    """What computed a trace's table aggregates: spark when its aggregates say so, else duckdb; None when the
    trace shows none."""
    engines = {n["aggregate"].get("engine", "duckdb") for n in _aggregate_nodes(recorded.get("results"))}
    return None if not engines else "spark" if "spark" in engines else "duckdb"


def catalog_reads(recorded: dict[str, Any]) -> dict[str, tuple[str, list[str]]]:
    """The tables a trace's aggregates read from a Spark catalog: table -> (catalog table, the aggregates' keys)."""
    out: dict[str, tuple[str, list[str]]] = {}
    for n in _aggregate_nodes(recorded.get("results")):
        a = n["aggregate"]
        if isinstance(a.get("catalog"), str) and isinstance(a.get("table"), str):
            keys = out.setdefault(a["table"], (a["catalog"], []))[1]
            if a["key"] not in keys:
                keys.append(a["key"])
    return out


def catalog_problem(recorded: dict[str, Any], shown: str) -> str | None:
    """Why the trace cannot be verified from files (its aggregates read a Spark catalog table: which ones, and the
    command that can verify it), or None."""
    catalog = catalog_reads(recorded)
    if not catalog:
        return None
    what = "; ".join(f"table {name}, read from the Spark catalog table {target} by {', '.join(keys)}"
                     for name, (target, keys) in catalog.items())
    again = " ".join(f"--spark-table {name}={target}" for name, (target, _) in catalog.items())
    one = len(catalog) == 1
    return (f"{shown} cannot be verified from files: its aggregates read {'a ' if one else ''}Spark catalog "
            f"table{'' if one else 's'}, which only Spark can read again ({what}); verify it with Spark, in a "
            f"session whose catalog has {'that table' if one else 'those tables'}: peel verify --engine spark "
            f"{again} {shown}")


def _shown(v: Any) -> str:
    return json.dumps(v, allow_nan=True, sort_keys=True) if not isinstance(v, str) else repr(v)


def _sql_difference(old: Any, new: Any) -> str:
    if not isinstance(old, str) or not isinstance(new, str):
        return f"its SQL is {_shown(old)} recorded, {_shown(new)} now"
    at = next((i for i, (a, b) in enumerate(zip(old, new)) if a != b), min(len(old), len(new)))
    start = max(at - 20, 0)
    return (f"its SQL differs from the SQL a re-run writes, from character {at + 1}: recorded "
            f"{old[start:at + 40]!r}, now {new[start:at + 40]!r}")


def _compare_aggregates(old: list[dict[str, Any]], new: list[dict[str, Any]]) -> list[Difference]:
    """What differs in the aggregates the two traces show (each difference once per aggregate and bundle): the
    value, the SQL, the engine, the rows read and matched, the files or catalog table."""
    out: list[Difference] = []
    new_by_file = {r["evidence"]: r for r in new}
    for rec in old:
        now = new_by_file.get(rec["evidence"])
        if now is None:
            continue
        said: set[tuple[str, str]] = set()
        now_nodes: dict[str, list[dict[str, Any]]] = {}
        for n in _aggregate_nodes(now["areas"]):
            now_nodes.setdefault(n["aggregate"]["key"], []).append(n)
        seen: dict[str, int] = {}
        for n in _aggregate_nodes(rec["areas"]):
            key = n["aggregate"]["key"]
            i = seen[key] = seen.get(key, -1) + 1
            others = now_nodes.get(key, [])
            if i >= len(others):
                continue
            was, is_ = ({"value": x.get("value"), "engine": "duckdb", **x["aggregate"]} for x in (n, others[i]))
            for field in sorted(was.keys() | is_.keys(), key=lambda f: (f != "value", f)):
                a, b = was.get(field), is_.get(field)
                if dumps(a, allow_nan=True) == dumps(b, allow_nan=True) or (key, field) in said:
                    continue
                said.add((key, field))
                detail = _sql_difference(a, b) if field == "sql" else \
                    f"computed by {a} recorded, by {b} now" if field == "engine" else \
                    f"{field} {_shown(a)} recorded, {_shown(b)} now"
                out.append(Difference("aggregate", key, f"{detail} ({rec['evidence']})"))
    return out


def _as_spark(program: Program, bundle: Bundle) -> Bundle:
    """The bundle as the Spark engine gives it: the same aggregates (identical by construction, docs/scale.md),
    each with the Spark SQL that engine shows and its name."""
    from .aggregates import program_aggregates, to_aggregate
    from .spark_engine import as_spark
    from .tables import parquet_scales

    if not bundle.aggregates:
        return bundle
    aggs = {a.key: to_aggregate(a, program.decls) for a in program_aggregates(program) if a.key in bundle.aggregates}
    scales = {name: parquet_scales([Path(f.path) for f in tb.files]) for name, tb in bundle.tables.items()}
    return replace(bundle, aggregates={k: as_spark(aggs[k], r, scales.get(aggs[k].table, {}))
                                       for k, r in bundle.aggregates.items()})


def _without_expr_spans(x: Any) -> Any:
    """A trace's results as trace version 1.3 wrote them: without the `span` of each expression node (1.4)."""
    if isinstance(x, dict):
        return {k: _without_expr_spans(v) for k, v in x.items() if not (k == "span" and "expr" in x)}
    if isinstance(x, list):
        return [_without_expr_spans(v) for v in x]
    return x


def _area_well_formed(a: object) -> bool:
    """An area of a recorded result, with what _compare_results reads of it and of its rules."""
    return (isinstance(a, dict) and isinstance(a.get("area"), str) and "grade" in a and "status" in a
            and isinstance(a.get("moderation"), (dict, type(None))) and isinstance(a.get("rules"), list)
            and all(isinstance(r, dict) and isinstance(r.get("rule"), str) and "outcome" in r and "exceeded" in r
                    and "reading" in r for r in a["rules"]))


def _well_formed(doc: object) -> bool:
    """The parts of a trace that verify reads, with the types it reads them as."""
    if not isinstance(doc, dict) or not isinstance(doc.get("inputs"), dict):
        return False
    inputs = doc["inputs"]
    files_ok = all(isinstance(inputs.get(k), list) and all(
        isinstance(e, dict) and isinstance(e.get("file"), str) and isinstance(e.get("sha256"), str)
        for e in inputs[k]) for k in ("rules", "evidence"))
    results = doc.get("results")
    results_ok = isinstance(results, list) and all(
        isinstance(r, dict) and isinstance(r.get("evidence"), str) and isinstance(r.get("areas"), list)
        and all(_area_well_formed(a) for a in r["areas"]) for r in results)
    engine = doc.get("engine", {})
    return (files_ok and results_ok and isinstance(inputs.get("rule_set"), (str, type(None)))
            and isinstance(engine, dict))


def check_trace(recorded: Any, trace_name: str = "the trace") -> None:
    """Refuse (PR313) what is not a trace verify can read."""
    if not _well_formed(recorded):
        raise PeelError([Diagnostic(Code.PR313, f"'{trace_name}' is not a peelrules trace (its inputs or results "
                                    "are missing or malformed)", Span(trace_name, 1, 1, 1, 2),
                                    "give a file written by `peel evaluate --format json`")])


def evidence_paths(recorded: dict[str, Any], evidence: list[Path] | None = None) -> list[Path]:
    """The bundles a re-run reads: those given, else those of the recorded results, else of its inputs."""
    order = [r["evidence"] for r in recorded["results"]]
    return evidence if evidence else [Path(p) for p in (order or [e["file"] for e in recorded["inputs"]["evidence"]])]


def verify(recorded: Any, rules: Path | None = None, evidence: list[Path] | None = None,
           trace_name: str = "the trace", engine: EngineChoice | None = None
           ) -> tuple[list[Difference], dict[str, Any]]:
    """Re-run the recorded evaluation (or with the given rules / evidence) and list every difference. The table
    aggregates are computed by `engine`; by default by DuckDB, and written as the trace's engine writes them: a
    Spark trace's are given the Spark SQL and engine name the Spark engine gives them (their values are the same
    by construction, docs/scale.md). A trace whose aggregates read a Spark catalog table can be re-run only by
    Spark reading it: without `engine`, such a trace is refused (PR318, catalog_problem's words)."""
    check_trace(recorded, trace_name)
    why = catalog_problem(recorded, trace_name) if engine is None else None
    if why is not None:
        raise PeelError([Diagnostic(Code.PR318, why, None, "re-run it with a Spark engine (engine=...), as "
                                    "`peel verify --engine spark` does")])
    inputs = recorded["inputs"]
    rule_set = inputs.get("rule_set")
    recorded_results = recorded["results"]
    diffs: list[Difference] = []
    version = recorded.get("trace_version")
    if version != TRACE_VERSION:
        diffs.append(Difference("trace_version", str(version), f"this engine writes {TRACE_VERSION}"))
    version_was = (recorded.get("engine") or {}).get("version")
    if version_was != __version__:
        diffs.append(Difference("engine", "peelrules", f"version {version_was} recorded, {__version__} now"))
    rules_path = rules if rules is not None else (Path(rule_set) if rule_set else None)
    if rules_path is None:  # the shipped rule set of the recorded framework
        fw = (recorded.get("framework") or {}).get("id")
        program = next((shipped_program(n) for n in shipped_rule_sets() if shipped_program(n).framework.name == fw),
                       None) or load_rules(None)
    else:
        program = load_rules(rules_path)
    as_spark = engine is None and recorded_engine(recorded) == "spark"
    runs = []
    for p in evidence_paths(recorded, evidence):
        bundle = load_evidence(p, program, engine=engine or "duckdb")
        if as_spark:
            bundle = _as_spark(program, bundle)
        runs.append((bundle, explain(program, bundle)[1]))
    doc = trace_document(program, runs, str(rules_path) if rules_path is not None else None)
    diffs += _compare_files("rules", _digests(inputs["rules"]), _digests(doc["inputs"]["rules"]))
    diffs += _compare_files("evidence", _digests(inputs["evidence"]), _digests(doc["inputs"]["evidence"]))
    recorded_tables = inputs.get("tables") if isinstance(inputs.get("tables"), list) else []
    diffs += _compare_files("table", _digests([e for e in recorded_tables if isinstance(e, dict)
                                               and isinstance(e.get("file"), str) and isinstance(e.get("sha256"), str)]),
                            _digests(doc["inputs"].get("tables", [])))
    recorded_comparators = inputs.get("comparators") if isinstance(inputs.get("comparators"), list) else []
    diffs += _compare_files("comparator", _digests([e for e in recorded_comparators if isinstance(e, dict)
                                                    and isinstance(e.get("file"), str)
                                                    and isinstance(e.get("sha256"), str)]),
                            _digests(doc["inputs"].get("comparators", [])))
    diffs += _compare_results(recorded_results, doc["results"])
    diffs += _compare_aggregates(recorded_results, doc["results"])
    if version == "1.3" and len(diffs) == 1 and dumps(recorded_results, allow_nan=True) == dumps(
            _without_expr_spans(doc["results"])):
        diffs[0] = Difference("trace_version", "1.3", f"this engine writes {TRACE_VERSION}; 1.4 added the span of "
                              "each expression: apart from those, a re-run gives the recorded results exactly")
    if version == "1.4" and len(diffs) == 1 and dumps(recorded_results, allow_nan=True) == dumps(doc["results"]):
        diffs[0] = Difference("trace_version", "1.4", f"this engine writes {TRACE_VERSION}; 1.5 added the "
                              "comparison of two estimates (overlaps, significantly_changed and the like): apart "
                              "from the version, a re-run gives the recorded results exactly")
    if not diffs and dumps(recorded_results, allow_nan=True) != dumps(doc["results"]):
        diffs.append(Difference("result", "trace", "the same grades and outcomes, but the trace details differ"))
    if recorded.get("result_sha256") and recorded["result_sha256"] != doc["result_sha256"] and not diffs:
        diffs.append(Difference("result", "result_sha256", "the recorded digest does not match the recorded results"))
    return diffs, doc
