"""Case-level tables in the product (docs/tables.md): `table` evidence items and aggregates in rule files, the
bundle's `tables:` section, values computed once per bundle and read by both evaluators, the SQL in every trace
format (pasted into a fresh DuckDB it gives the same numbers), table digests checked by `peel verify`."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import duckdb
import pytest
import yaml
from click.testing import CliRunner

import peelrules
from peelrules.cli import main as cli_main
from peelrules.compile import compile_program
from peelrules.diagnostics import PeelError
from peelrules.evaluate import Evaluator
from peelrules.fmt import format_source
from peelrules.lower import parse_source
from peelrules.source import SourceFile
from peelrules.unparse import unparse

from conftest import LANCASHIRE, ROOT

RULES = '''\
framework f "F" {
  version "1"
}

evidence calls {
  records: table "999 calls, one row a call" {
    answer_seconds: number unit "seconds"
    district:       text
    received_at:    timestamp
  }
  answered: percent "999 calls answered within 10 seconds" range 0% to 100%
}

let quick = 10

ladder standard {
  inadequate when concerns >= 1
  good       otherwise
}

area contact "Contact" {
  grade by standard

  characteristic answers "Calls are answered quickly" {
    when first_known(calls.answered >= 90%, share(calls.records where answer_seconds <= quick) >= 90%)
    cite "test"
  }

  characteristic tail "Few calls wait long" {
    when percentile(calls.records.answer_seconds, 90 where received_at >= 2021-07-01) <= 30
        and median(calls.records.answer_seconds) < mean(calls.records.answer_seconds) + 100
        and max(calls.records.answer_seconds) >= min(calls.records.answer_seconds)
    cite "test"
  }

  cause_of_concern wyre "Wyre's calls wait" {
    when count(calls.records where district == "Wyre" and not answer_seconds <= 10) > 1
    cite "test"
    recommendation "Answer Wyre's calls"
  }
}
'''

CSV = ("answer_seconds,district,received_at\n5,Wyre,2021-07-02 10:00:00\n12,Wyre,2021-07-03 10:00:00\n"
       "3,Fylde,2021-06-01 10:00:00\n,Wyre,2021-08-01 00:00:00\n40,Wyre,2021-09-01 00:00:00\n")

TABLE = {"file": "tables/calls.csv", "source": "force data extract, 2021",
         "columns": {"answer_seconds": {"type": "number", "unit": "seconds"}, "district": {"type": "text"},
                     "received_at": {"type": "timestamp"}}}


def bundle_data(table: dict | None = TABLE) -> dict:
    data: dict = {"force": "Test", "framework": "f", "sources": {"report": {"title": "R"}}, "facts": {}}
    if table is not None:
        data["tables"] = {"calls.records": table}
    return data


@pytest.fixture
def case(tmp_path: Path) -> Path:
    (tmp_path / "rules.peel").write_text(RULES, encoding="utf-8")
    (tmp_path / "tables").mkdir()
    (tmp_path / "tables" / "calls.csv").write_text(CSV, encoding="utf-8")
    (tmp_path / "evidence.yaml").write_text(yaml.safe_dump(bundle_data()), encoding="utf-8")
    return tmp_path


def load(folder: Path, data: dict | None = None, name: str = "evidence.yaml"):
    program = peelrules.load_rules(folder / "rules.peel")
    if data is not None:
        (folder / name).write_text(yaml.safe_dump(data), encoding="utf-8")
    return program, peelrules.load_evidence(folder / name, program)


def errors(folder: Path, data: dict) -> list:
    with pytest.raises(PeelError) as err:
        load(folder, data)
    return err.value.diagnostics


# ---------------------------------------------------------------- the language


def test_aggregates_resolve_to_the_keys_the_bundle_holds(case: Path) -> None:
    program = peelrules.load_rules(case / "rules.peel")
    assert program.decls["calls.records"].type == "table"
    assert [c.name for c in program.decls["calls.records"].columns] == ["answer_seconds", "district", "received_at"]
    from peelrules.aggregates import program_aggregates
    keys = [a.key for a in program_aggregates(program)]
    assert "share(calls.records where answer_seconds <= 10)" in keys  # the constant's value, in the key
    assert "percentile(calls.records.answer_seconds, 90 where received_at >= 2021-07-01T00:00:00)" in keys
    assert 'count(calls.records where (district == "Wyre" and not (answer_seconds <= 10)))' in keys


@pytest.mark.parametrize("when, code, words", [
    ("share(calls.records where answer_secs <= 10) > 0", "PR204", "did you mean 'answer_seconds'"),
    ('share(calls.records where district < "W") > 0', "PR204", "compare it with == or !="),
    ('share(calls.records where answer_seconds == "ten") > 0', "PR204", "cannot be compared"),
    ("mean(calls.records.district) > 0", "PR204", "mean needs a column of type number or count"),
    ("min(calls.records.received_at) > 0", "PR204", "reads a number or count column"),
    ("share(calls.records) > 0", "PR212", "share() needs a filter"),
    ("count(calls.records.district) > 0", "PR212", "counts rows"),
    ("mean(calls.records) > 0", "PR212", "reads a column"),
    ("count(calls.recrods) > 0", "PR203", "did you mean 'calls.records'"),
    ("percentile(calls.records.answer_seconds, 190) > 0", "PR212", "from 0 to 100"),
    ("calls.records > 0", "PR204", "is a table: read it through an aggregate"),
    ("count(calls.records where answer_seconds + 1 > 2) > 0", "PR204", "does not compare a column"),
    ("count(calls.records where received_at >= 2021-02-30) > 0", "PR104", "not a real date"),
    ("calls.answered > 2021-01-01", "PR204", "only in a table's filter"),
])
def test_the_checker_types_aggregates_against_the_declared_columns(tmp_path: Path, when: str, code: str,
                                                                    words: str) -> None:
    text = RULES.replace("when count(calls.records where district == \"Wyre\" and not answer_seconds <= 10) > 1",
                         f"when {when}")
    (tmp_path / "rules.peel").write_text(text, encoding="utf-8")
    with pytest.raises(PeelError) as err:
        peelrules.load_rules(tmp_path / "rules.peel")
    found = [d for d in err.value.diagnostics if d.code == code]
    assert found and any(words in d.message + (d.hint or "") for d in found), err.value.diagnostics
    assert all(d.span is not None and d.span.line > 0 for d in found)


def test_table_declarations_are_checked(tmp_path: Path) -> None:
    text = RULES.replace("    district:       text\n", "    district:       txt\n    district: text\n")
    (tmp_path / "rules.peel").write_text(text, encoding="utf-8")
    with pytest.raises(PeelError) as err:
        peelrules.load_rules(tmp_path / "rules.peel")
    codes = {d.code for d in err.value.diagnostics}
    assert {"PR209", "PR202"} <= codes


def test_tables_and_aggregates_format_and_unparse_round_trip() -> None:
    messy = RULES.replace("    answer_seconds: number unit \"seconds\"\n", "answer_seconds:number unit \"seconds\"  # s\n")
    src = SourceFile("t.peel", messy)
    text = format_source(src)
    assert format_source(SourceFile("t.peel", text)) == text
    assert "    answer_seconds: number unit \"seconds\"  # s\n" in text
    module = parse_source(SourceFile("t.peel", text))
    assert module == parse_source(src)
    area = next(i for i in module.items if hasattr(i, "rules"))
    for rule in area.rules:  # unparse gives text that parses back to the same expression
        assert rule.when is not None
        wrapped = parse_source(SourceFile("u.peel", f'let x = 1\nladder l {{ good when {unparse(rule.when)} otherwise }}'
                                          .replace(" otherwise", "\n good otherwise")))
        assert wrapped.items[1].rungs[0].condition == rule.when
    assert unparse(area.rules[2].when) == 'count(calls.records where district == "Wyre" and not answer_seconds <= 10) > 1'


# ---------------------------------------------------------------- the bundle


def test_aggregates_are_computed_once_per_bundle_and_both_engines_agree(case: Path) -> None:
    program, bundle = load(case)
    values = {k: r.value for k, r in bundle.aggregates.items()}
    assert values["share(calls.records where answer_seconds <= 10)"] == 2 / 5  # the empty cell counts against
    assert values["mean(calls.records.answer_seconds)"] == 15.0
    assert values['count(calls.records where (district == "Wyre" and not (answer_seconds <= 10)))'] == 2
    assert bundle.tables["calls.records"].rows == 5
    result, _ = Evaluator(program).run(bundle, trace=True)
    assert compile_program(program).run(bundle) == result
    contact = result.area("contact")
    assert contact.grade is not None and contact.grade.key == "inadequate"  # two of Wyre's calls wait
    # the report's own percentage comes first; the table decides only where it is absent
    data = bundle_data()
    data["facts"] = {"calls.answered": {"value": "95%", "source": "report:L1"}}
    program, stated = load(case, data)
    assert Evaluator(program).run(stated)[0] == compile_program(program).run(stated)
    outcomes = {o.key: o.outcome for o in Evaluator(program).run(stated)[0].area("contact").outcomes}
    assert outcomes["contact.answers"] is True


def test_without_the_table_every_aggregate_is_unknown(case: Path) -> None:
    program, bundle = load(case, bundle_data(None))
    assert bundle.aggregates == {} and bundle.tables == {}
    result, traces = Evaluator(program).run(bundle, trace=True)
    assert compile_program(program).run(bundle) == result
    assert result.area("contact").status.value == "undetermined"
    from peelrules.report.text import explain
    assert "= unknown (the evidence has no table calls.records)" in explain(traces)


def test_trace_formats_show_the_sql_and_the_pasted_sql_gives_the_same_numbers(case: Path, monkeypatch) -> None:
    monkeypatch.chdir(case)
    runner = CliRunner()
    outputs = {}
    for fmt in ("text", "json", "md", "html"):
        command = ["explain"] if fmt == "text" else ["evaluate", "--format", fmt]
        res = runner.invoke(cli_main, [*command, "evidence.yaml", "--rules", "rules.peel"])
        assert res.exit_code == 0, res.output
        outputs[fmt] = res.output
    doc = json.loads(outputs["json"])
    assert doc["inputs"]["tables"][0]["file"] == "tables/calls.csv"
    leaves = []
    stack = [r["when"] for a in doc["results"][0]["areas"] for r in a["rules"]]
    while stack:
        e = stack.pop()
        if "aggregate" in e:
            leaves.append(e)
        stack += e.get("children", [])
    assert len({e["aggregate"]["key"] for e in leaves}) == 7
    con = duckdb.connect()  # a fresh DuckDB, run from the bundle's folder, as the trace says
    for e in leaves:
        a = e["aggregate"]
        value, read, matched = con.execute(a["sql"]).fetchone()
        assert (value, read, matched) == (e["value"], a["rows_read"], a["rows_matched"]), a["key"]
        for fmt in ("text", "md", "html"):
            shown = a["sql"].replace("&", "&amp;").replace('"', "&quot;").replace("'", "&#x27;").replace("<", "&lt;") \
                .replace(">", "&gt;") if fmt == "html" else a["sql"]
            assert shown in outputs[fmt].replace("\\|", "|"), (fmt, a["key"])
    assert "of 5 rows matched" in outputs["text"]


def test_verify_checks_the_digests_of_table_files(case: Path, monkeypatch) -> None:
    monkeypatch.chdir(case)
    runner = CliRunner()
    assert runner.invoke(cli_main, ["evaluate", "evidence.yaml", "--rules", "rules.peel", "--format", "json",
                                    "--out", "trace.json"]).exit_code == 0
    assert runner.invoke(cli_main, ["verify", "trace.json"]).exit_code == 0
    (case / "tables" / "calls.csv").write_text(CSV.replace("40,Wyre", "4,Wyre"), encoding="utf-8")
    res = runner.invoke(cli_main, ["verify", "trace.json"])
    assert res.exit_code != 0
    assert "table tables/calls.csv: content changed" in res.output


def test_a_bad_cell_is_shown_at_its_line_and_column_of_the_csv(case: Path, monkeypatch) -> None:
    """The example of PR318 in docs/diagnostics.md."""
    monkeypatch.chdir(case)
    (case / "tables" / "calls.csv").write_text("answer_seconds,district,received_at\n5,Wyre,2021-07-02 10:00\n"
                                               'Fylde,"12s",2021-07-02\n', encoding="utf-8")
    table = dict(TABLE, columns={"district": {"type": "text"}, "answer_seconds": {"type": "number"},
                                 "received_at": {"type": "timestamp"}})
    (case / "evidence.yaml").write_text(yaml.safe_dump(bundle_data(table)), encoding="utf-8")
    res = CliRunner().invoke(cli_main, ["evaluate", "evidence.yaml", "--rules", "rules.peel"])
    assert res.exit_code == 2 and "Traceback" not in res.output
    assert "tables/calls.csv:3:1: error[PR318]: table 'calls.records' (wrong_type): column 'answer_seconds': " \
           "'Fylde' is not a number" in res.output
    assert "3 | Fylde,\"12s\",2021-07-02\n  | ^" in res.output
    assert "help: write a plain number such as 12" in res.output


@pytest.mark.parametrize("change, code, words", [
    (lambda d: d["tables"].update({"calls.other": TABLE}), "PR304", "is not a table the rule set declares"),
    (lambda d: d["tables"]["calls.records"]["columns"].pop("district"), "PR318", "has no column 'district'"),
    (lambda d: d["tables"]["calls.records"]["columns"].update({"district": {"type": "flag"}}), "PR318",
     "the rules read it as text"),
    (lambda d: d["tables"]["calls.records"].update({"file": "../calls.csv"}), "PR318", "(outside_folder)"),
    (lambda d: d["tables"]["calls.records"].update({"file": "tables/none.csv"}), "PR318", "(missing)"),
    (lambda d: d["tables"]["calls.records"]["columns"].update({"extra": {"type": "text"}}), "PR318",
     "(missing_column)"),
    (lambda d: d["tables"]["calls.records"].update({"delimiter": ":"}), "PR303", "delimiter"),
])
def test_bad_tables_are_refused_with_a_positioned_error(case: Path, change, code: str, words: str) -> None:
    data = bundle_data()
    data["tables"]["calls.records"] = json.loads(json.dumps(TABLE))
    change(data)
    found = [d for d in errors(case, data) if d.code == code]
    assert found and words in found[0].message, found
    assert found[0].span is not None and found[0].span.line > 0 and found[0].line_text


def test_a_symlinked_table_is_refused(case: Path) -> None:
    (case / "tables" / "link.csv").symlink_to(case / "tables" / "calls.csv")
    data = bundle_data(dict(TABLE, file="tables/link.csv"))
    assert any("(symlink)" in d.message for d in errors(case, data))


# ---------------------------------------------------------------- Lancashire


def test_lancashire_tables_give_the_reports_figures_and_the_same_grades(tmp_path: Path) -> None:
    program = peelrules.shipped_program("peel-2021-22") if hasattr(peelrules, "shipped_program") else None
    program = program or peelrules.load_rules(ROOT / "rules" / "peel-2021-22")
    bundle = peelrules.load_evidence(LANCASHIRE, program)
    values = {k: (r.value, r.rows_matched, r.rows_read) for k, r in bundle.aggregates.items()}
    assert values["share(contact.calls where answer_seconds <= 10)"] == (0.8181631578947368, 155451, 190000)
    assert values["count(fairness.stop_search_records where ethnic_minority == true)"] == (27, 27, 183)
    assert values["count(fairness.stop_search_records where (ethnic_minority == true and reasonable_grounds == true))"][0] == 21
    assert compile_program(program).run(bundle) == Evaluator(program).run(bundle)[0]
    # without the report's finding on 999 calls and its 21 of 27, the tables decide, the same way
    data = yaml.safe_load(LANCASHIRE.read_text(encoding="utf-8"))
    for fact in ("contact.emergency_answering", "fairness.stop_search_grounds_ethnic_minority"):
        del data["facts"][fact]
    shutil.copytree(ROOT / "evidence" / "tables", tmp_path / "tables")
    shutil.copytree(ROOT / "evidence" / "comparators", tmp_path / "comparators")  # and its comparator datasets
    shutil.copytree(ROOT / "evidence" / "sources", tmp_path / "sources")
    (tmp_path / "lancashire.yaml").write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    without = peelrules.load_evidence(tmp_path / "lancashire.yaml", program)
    before, after = Evaluator(program).run(bundle)[0], Evaluator(program).run(without)[0]
    assert [(a.name, a.grade) for a in after.areas] == [(a.name, a.grade) for a in before.areas]
    raised = {o.key: o.outcome for a in after.areas for o in a.outcomes}
    assert raised["responding_to_the_public.answer_999_calls"] is True
    assert raised["fairness_and_respect.explain_ethnic_minority_grounds"] is False  # 27 records: too few to tell
    assert compile_program(program).run(without) == after
