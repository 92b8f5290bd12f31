"""`peel verify`: a recorded trace re-runs to the same bytes; any change of input is named."""
from __future__ import annotations

import copy
import json
import shutil
from pathlib import Path

import pytest
from conftest import LANCASHIRE, run_peel

from peelrules.verify import _aggregate_nodes

DATA = Path(__file__).resolve().parent / "data"


def _record(tmp_path: Path, *extra: str) -> tuple[Path, Path]:
    evidence = tmp_path / "bundle.yaml"
    shutil.copy(DATA / "mini-evidence.yaml", evidence)
    trace = tmp_path / "t.json"
    proc = run_peel("evaluate", str(evidence), "--rules", str(DATA / "mini.peel"), "--format", "json",
                    "--out", str(trace), *extra)
    assert proc.returncode == 0, proc.stderr
    return evidence, trace


def test_unchanged_inputs_verify(tmp_path) -> None:
    _, trace = _record(tmp_path)
    proc = run_peel("verify", str(trace))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.startswith("verified:")


def test_edited_fact_is_named_with_the_areas_it_moves(tmp_path) -> None:
    evidence, trace = _record(tmp_path)
    text = evidence.read_text(encoding="utf-8")
    evidence.write_text(text.replace("audit.triage_tool: {value: true", "audit.triage_tool: {value: false"))
    proc = run_peel("verify", str(trace))
    assert proc.returncode == 1
    assert f"evidence {evidence}: content changed" in proc.stdout
    assert "area contact: good recorded, inadequate now" in proc.stdout
    assert "rule contact.no_triage: not raised recorded, raised now" in proc.stdout


def test_a_comment_change_is_reported_even_with_the_same_result(tmp_path) -> None:
    evidence, trace = _record(tmp_path)
    evidence.write_text(evidence.read_text(encoding="utf-8") + "# a new comment\n", encoding="utf-8")
    proc = run_peel("verify", str(trace))
    assert proc.returncode == 1
    assert "content changed" in proc.stdout and "area " not in proc.stdout


def test_engine_version_change_is_named(tmp_path) -> None:
    _, trace = _record(tmp_path)
    doc = json.loads(trace.read_text(encoding="utf-8"))
    doc["engine"]["version"] = "0.0.1"
    trace.write_text(json.dumps(doc), encoding="utf-8")
    proc = run_peel("verify", str(trace))
    assert proc.returncode == 1 and "engine peelrules: version 0.0.1 recorded" in proc.stdout


def test_shipped_lancashire_round_trip(tmp_path) -> None:
    trace = tmp_path / "t.json"
    assert run_peel("evaluate", str(LANCASHIRE), "--format", "json", "--out", str(trace)).returncode == 0
    assert run_peel("verify", str(trace)).returncode == 0


def test_not_a_trace_is_bad_input(tmp_path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("{not json", encoding="utf-8")
    proc = run_peel("verify", str(bad))
    assert proc.returncode == 2 and "PR313" in proc.stderr and "Traceback" not in proc.stderr
    bad.write_text("{}", encoding="utf-8")
    assert run_peel("verify", str(bad)).returncode == 2


def _strip_expr_spans(x):  # type: ignore[no-untyped-def]
    if isinstance(x, dict):
        return {k: _strip_expr_spans(v) for k, v in x.items() if not (k == "span" and "expr" in x)}
    return [_strip_expr_spans(v) for v in x] if isinstance(x, list) else x


def test_a_trace_of_version_1_3_is_named_and_said_to_agree_apart_from_spans(tmp_path) -> None:
    """Trace version 1.4 added each expression's span: a 1.3 trace of the same run differs only by those (1.5 adds
    nothing to a trace of rules that compare no two estimates)."""
    from peelrules.report.trace_json import dumps, sha256

    _, trace = _record(tmp_path)
    doc = json.loads(trace.read_text(encoding="utf-8"))
    assert doc["trace_version"] == "1.5"
    doc["results"] = _strip_expr_spans(doc["results"])
    doc["trace_version"], doc["result_sha256"] = "1.3", sha256(dumps(doc["results"]))
    trace.write_text(json.dumps(doc), encoding="utf-8")
    proc = run_peel("verify", str(trace))
    assert proc.returncode == 1
    assert ("trace_version 1.3: this engine writes 1.5; 1.4 added the span of each expression: apart from those, "
            "a re-run gives the recorded results exactly") in proc.stdout
    doc["results"][0]["areas"][0]["rules"][0]["when"]["expr"] += " "  # and one that differs otherwise
    trace.write_text(json.dumps(doc), encoding="utf-8")
    proc = run_peel("verify", str(trace))
    assert proc.returncode == 1 and "trace_version 1.3: this engine writes 1.5\n" in proc.stdout


def test_a_trace_of_version_1_4_is_said_to_agree_apart_from_the_version(tmp_path) -> None:
    """Trace version 1.5 added the comparison of two estimates: a 1.4 trace of rules without them differs only by
    its version; one that differs otherwise is a plain difference."""
    _, trace = _record(tmp_path)
    doc = json.loads(trace.read_text(encoding="utf-8"))
    doc["trace_version"] = "1.4"
    trace.write_text(json.dumps(doc), encoding="utf-8")
    proc = run_peel("verify", str(trace))
    assert proc.returncode == 1
    assert ("trace_version 1.4: this engine writes 1.5; 1.5 added the comparison of two estimates") in proc.stdout
    doc["results"][0]["areas"][0]["rules"][0]["when"]["expr"] += " "
    trace.write_text(json.dumps(doc), encoding="utf-8")
    proc = run_peel("verify", str(trace))
    assert proc.returncode == 1 and "trace_version 1.4: this engine writes 1.5\n" in proc.stdout


def test_a_moved_expression_span_is_a_difference(tmp_path) -> None:
    _, trace = _record(tmp_path)
    doc = json.loads(trace.read_text(encoding="utf-8"))
    doc["results"][0]["areas"][0]["rules"][0]["when"]["span"]["line"] += 1
    trace.write_text(json.dumps(doc), encoding="utf-8")
    proc = run_peel("verify", str(trace))
    assert proc.returncode == 1 and "the trace details differ" in proc.stdout


def test_a_malformed_area_or_a_nan_is_told_not_a_crash(tmp_path) -> None:
    _, trace = _record(tmp_path)
    doc = json.loads(trace.read_text(encoding="utf-8"))
    area = doc["results"][0]["areas"][0]
    for broken in ({}, {**area, "rules": [{}]}, {**area, "moderation": "x"}):
        doc["results"][0]["areas"][0] = broken
        trace.write_text(json.dumps(doc), encoding="utf-8")
        proc = run_peel("verify", str(trace))
        assert proc.returncode == 2 and "PR313" in proc.stderr and "internal error" not in proc.stderr
    doc["results"][0]["areas"][0] = {**area, "note": float("nan")}  # json writes NaN, and reads it back
    trace.write_text(json.dumps(doc), encoding="utf-8")
    proc = run_peel("verify", str(trace))
    assert proc.returncode == 1 and "the trace details differ" in proc.stdout and not proc.stderr


@pytest.fixture(scope="module")
def lancashire_trace(tmp_path_factory) -> dict:
    trace = tmp_path_factory.mktemp("lancashire") / "t.json"
    assert run_peel("evaluate", str(LANCASHIRE), "--format", "json", "--out", str(trace)).returncode == 0
    return json.loads(trace.read_text(encoding="utf-8"))


def test_a_changed_aggregate_value_or_sql_is_named(tmp_path, lancashire_trace) -> None:
    """A value changed too little to move a grade, and a changed SQL: each named, with the bundle."""
    doc = copy.deepcopy(lancashire_trace)
    share = next(n for n in _aggregate_nodes(doc["results"]) if n["aggregate"]["key"].startswith("share("))
    count = next(n for n in _aggregate_nodes(doc["results"]) if n["aggregate"]["key"].startswith("count("))
    was = share["value"]
    share["value"] = changed = round(was + 1e-6, 12)
    count["aggregate"]["sql"] = count["aggregate"]["sql"].replace("COUNT(*) AS rows_read", "COUNT(1) AS rows_read")
    trace = tmp_path / "t.json"
    trace.write_text(json.dumps(doc), encoding="utf-8")
    proc = run_peel("verify", str(trace))
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert f"aggregate {share['aggregate']['key']}: value {changed} recorded, {was} now ({LANCASHIRE})" in proc.stdout
    assert (f"aggregate {count['aggregate']['key']}: its SQL differs from the SQL a re-run writes, from character "
            f"{count['aggregate']['sql'].index('COUNT(1)') + 7}") in proc.stdout
    assert "area " not in proc.stdout and "trace details differ" not in proc.stdout


def test_a_trace_that_read_a_catalog_table_says_what_to_run(tmp_path, lancashire_trace) -> None:
    """Aggregates read from a Spark catalog table (as a Spark run with --spark-table writes them: no files) cannot
    be re-read from files: peel names the tables, catalog tables and aggregates, and the command (exit 2)."""
    doc = copy.deepcopy(lancashire_trace)
    for n in _aggregate_nodes(doc["results"]):
        a = n["aggregate"]
        a["engine"] = "spark"
        if a["table"] == "contact.calls":
            a["catalog"], a["files"] = "peel.calls_2021", []
    trace = tmp_path / "t.json"
    trace.write_text(json.dumps(doc), encoding="utf-8")
    proc = run_peel("verify", str(trace))
    assert proc.returncode == 2 and "Traceback" not in proc.stderr and not proc.stdout
    assert (f"peel: {trace} cannot be verified from files: its aggregates read a Spark catalog table, which only "
            "Spark can read again (table contact.calls, read from the Spark catalog table peel.calls_2021 by "
            "share(contact.calls where answer_seconds <= 10)") in proc.stderr
    assert proc.stderr.rstrip().endswith(
        f"peel verify --engine spark --spark-table contact.calls=peel.calls_2021 {trace}")


def test_verify_refuses_a_catalog_trace_without_a_spark_engine(lancashire_trace) -> None:
    """From Python too (the CLI says so before it calls verify): a catalog table is not re-read from files."""
    from peelrules.diagnostics import PeelError
    from peelrules.verify import verify

    doc = copy.deepcopy(lancashire_trace)
    for n in _aggregate_nodes(doc["results"]):
        if n["aggregate"]["table"] == "contact.calls":
            n["aggregate"].update(engine="spark", catalog="peel.calls_2021", files=[])
    assert verify(copy.deepcopy(lancashire_trace))[0] == []  # the trace as written verifies
    with pytest.raises(PeelError) as err:
        verify(doc, trace_name="t.json")
    (d,) = err.value.diagnostics
    assert d.code == "PR318" and d.message.startswith("t.json cannot be verified from files") and \
        d.message.endswith("peel verify --engine spark --spark-table contact.calls=peel.calls_2021 t.json")


def test_spark_options_that_do_not_fit_the_trace_are_usage_errors(tmp_path, lancashire_trace) -> None:
    trace = tmp_path / "t.json"
    trace.write_text(json.dumps(lancashire_trace), encoding="utf-8")
    proc = run_peel("verify", "--engine", "spark", str(trace))
    assert proc.returncode == 2 and "were computed by DuckDB" in proc.stderr and "without --engine spark" in proc.stderr
    proc = run_peel("verify", "--spark-table", "contact.calls=db.t", str(trace))
    assert proc.returncode == 2 and "--spark-table needs --engine spark" in proc.stderr
