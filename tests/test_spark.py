"""The Spark engine (peelrules/spark_engine.py, docs/scale.md): every shipped and generated table, every kind of
aggregate, gives the same values, counts, groups and Python types on Spark as on DuckDB; `peel evaluate --engine
spark` gives the same grades and report as the default; the bundle cache keeps the two engines apart; a missing
pyspark or Java is one line and exit 2; a table read from a Spark catalog (`--spark-table`) gives the aggregates
its files give; the reports say which engine computed an aggregate; a mean over a table whose plain sum depends on
the order of the additions is the same to the bit when Spark reads it as dozens of partitions, and so is the
trace; the Spark SQL a trace shows for a median or percentile gives its value to the bit; `peel verify` verifies a
Spark trace (with DuckDB, or Spark) and names what was changed in one, and says what to do with a trace that read
a catalog table; a real `peel evaluate --engine spark` process prints nothing on stderr (the one slow test: it
starts a JVM of its own).

One local Spark session (local[1]) for the module; the tests that need it are skipped, with the reason, when
pyspark or Java is not installed (`pip install '.[test,spark]'` and a JRE; .ci/run installs both)."""
from __future__ import annotations

import datetime as dt
import json
import math
import os
import re
import shutil
from pathlib import Path

import duckdb
import pytest
from click.testing import CliRunner

from peelrules import spark_engine
from peelrules.cli import main
from peelrules.tables import AllOf, Aggregate, AnyOf, Column, Compare, Not, TableDecl, TableEngine, TableError
from peelrules.verify import _aggregate_nodes

ROOT = Path(__file__).resolve().parent.parent
EVIDENCE = ROOT / "evidence"
LANCASHIRE = EVIDENCE / "lancashire-2022.yaml"
PERCENTS = (0, 10, 25, 50, 62.5, 90, 99.9, 100)


def needs_spark() -> None:
    why = spark_engine.problem()
    if why is not None:
        pytest.skip(f"Spark engine not available here: {why}")


@pytest.fixture(scope="module")
def spark(tmp_path_factory):
    needs_spark()
    warehouse = tmp_path_factory.mktemp("warehouse")  # catalog tables (saveAsTable) are written here
    session = spark_engine.session(spark_engine.SparkOptions(master="local[1]", conf=(
        ("spark.sql.shuffle.partitions", "1"), ("spark.default.parallelism", "1"),
        ("spark.driver.memory", "1g"), ("spark.sql.warehouse.dir", str(warehouse)))))
    yield session
    session.stop()
    spark_engine._SESSIONS.clear()


# ---------------------------------------------------------------------------------------------------- the tables

def lancashire() -> tuple[list[TableDecl], Path]:
    calls = TableDecl("contact.calls", "tables/lancashire-999-calls-2021.parquet",
                      (Column("call_id", "text"), Column("received_at", "timestamp"),
                       Column("answer_seconds", "number", "seconds"), Column("district", "text")))
    audit = TableDecl("fairness.stop_search_records", "tables/lancashire-stop-search-audit-2021.csv",
                      (Column("record_id", "text"), Column("searched_on", "date"), Column("district", "text"),
                       Column("object_of_search", "text"), Column("ethnic_minority", "flag"),
                       Column("reasonable_grounds", "flag")))
    return [calls, audit], EVIDENCE


# NULL cells (empty and quoted ""), a byte order mark, a quoted cell over two lines, a quoted delimiter, flags in
# any case, timestamps with and without seconds and with T, duplicates and ties for the percentiles
MIXED_CSV = ('\ufeffid,x,n,who,ok,day,at\n'
             '1,5,3,a,true,2021-01-01,2021-01-01 10:00\n'
             '2,,0,b,FALSE,2021-01-02,2021-01-01T10:00:30\n'
             '3,7,,,,2021-01-02,\n'
             '4,5,3,"a",True,,2021-03-01 00:00:00.250000\n'
             '5,-2.5,10,"",false,2021-02-28,2021-02-28 23:59:59\n'
             '6,1e3,2,"two\nlines",true,2021-01-01,2021-01-01 10:00\n'
             '7,.5,2,"x, y",,2021-01-03,2021-07-01 00:00\n'
             '\n'
             '8,0.1,1,b,true,2021-01-03,2021-07-01 12:00\n')
MIXED_COLS = (("id", "text"), ("x", "number"), ("n", "count"), ("who", "text"), ("ok", "flag"), ("day", "date"),
              ("at", "timestamp"))


def generated(folder: Path) -> list[TableDecl]:
    """Tables written for the test: CSV edge cases, a semicolon CSV, a glob of two files, Parquet of DuckDB's own
    types (integers, floats, decimals, dates, timestamps, NULLs) and a single-row table."""
    (folder / "mixed.csv").write_text(MIXED_CSV, encoding="utf-8")
    (folder / "semi.csv").write_text("k;v\nA;1.25\nB;2\nA;\nB;3.5\nA;10\n", encoding="utf-8")
    (folder / "parts").mkdir()
    (folder / "parts" / "p-1.csv").write_text("g,v\nx,1\ny,2\nx,3\n", encoding="utf-8")
    (folder / "parts" / "p-2.csv").write_text("g,v\ny,4\n,5\nx,\n", encoding="utf-8")
    (folder / "one.csv").write_text("v\n42\n", encoding="utf-8")
    con = duckdb.connect()
    con.execute(f"""COPY (SELECT i::VARCHAR AS id, CASE WHEN i % 7 = 0 THEN NULL ELSE (i * 37 % 101) / 4.0 END
                   AS x, (i % 5)::INTEGER AS n, (i % 3 = 0) AS ok, ['north', 'south', NULL][i % 3 + 1] AS area,
                   DATE '2021-01-01' + (i % 40)::INTEGER AS day,
                   TIMESTAMP '2021-01-01 00:00:00' + INTERVAL (i * 3607) SECOND AS at,
                   (i * 1.5)::DECIMAL(9, 2) AS price
                   FROM range(1, 2001) t(i)) TO '{folder / "gen.parquet"}' (FORMAT parquet)""")
    con.close()
    return [
        TableDecl("mixed", "mixed.csv", tuple(Column(n, t) for n, t in MIXED_COLS)),  # type: ignore[arg-type]
        TableDecl("semi", "semi.csv", (Column("k", "text"), Column("v", "number")), delimiter=";"),
        TableDecl("parts", "parts/p-*.csv", (Column("g", "text"), Column("v", "number"))),
        TableDecl("one", "one.csv", (Column("v", "number"),)),
        TableDecl("gen", "gen.parquet", (Column("id", "text"), Column("x", "number"), Column("n", "count"),
                                         Column("ok", "flag"), Column("area", "text"), Column("day", "date"),
                                         Column("at", "timestamp"), Column("price", "number"))),
    ]


def aggregates_for(decl: TableDecl) -> list[Aggregate]:
    """Every kind of aggregate the table's columns allow: counts and shares (a filter that matches nothing, too),
    mean, median, percentiles from 0 to 100, min and max, plain and under filters, and grouped by each column a
    table can be grouped by."""
    name = decl.name
    numbers = [c.name for c in decl.columns if c.type in ("number", "count")]
    ordered = [c.name for c in decl.columns if c.type in ("number", "count", "date", "timestamp")]
    groupable = [c.name for c in decl.columns if c.type in ("count", "text", "flag", "date")
                 and not c.name.endswith("id")][:3]  # not by an id: a group a row
    filters: list = []
    for c in decl.columns:
        if c.type in ("number", "count"):
            filters += [Compare(c.name, ">=", 2), Compare(c.name, "<", -1e9)]  # the second matches nothing
        elif c.type == "flag":
            filters += [Compare(c.name, "==", True), Not(Compare(c.name, "==", True))]
        elif c.type == "date":
            filters.append(Compare(c.name, ">", dt.date(2021, 1, 2)))
        elif c.type == "timestamp":
            filters.append(AllOf((Compare(c.name, ">=", dt.datetime(2021, 1, 1, 10)),
                                  Compare(c.name, "<", dt.datetime(2021, 7, 1, 6)))))
        elif not c.name.endswith("id"):
            filters.append(AnyOf((Compare(c.name, "==", "a"), Compare(c.name, "!=", "Wyre"))))
    filters = filters[:4]
    out = [Aggregate("count", name)]
    for f in filters:
        out += [Aggregate("count", name, where=f), Aggregate("share", name, where=f)]
    for col in numbers:
        out += [Aggregate("mean", name, col), Aggregate("median", name, col)]
        out += [Aggregate("percentile", name, col, percentile=p) for p in PERCENTS]
        for f in filters[:2]:
            out += [Aggregate("mean", name, col, where=f), Aggregate("median", name, col, where=f),
                    Aggregate("percentile", name, col, where=f, percentile=90)]
    for col in ordered:
        out += [Aggregate("min", name, col), Aggregate("max", name, col)]
        if filters:
            out.append(Aggregate("max", name, col, where=filters[0]))
    for g in groupable:
        out.append(Aggregate("count", name, group_by=g))
        if filters:
            out.append(Aggregate("share", name, where=filters[0], group_by=g))
        for col in numbers[:2]:
            out += [Aggregate("mean", name, col, group_by=g), Aggregate("median", name, col, group_by=g),
                    Aggregate("percentile", name, col, percentile=99.9, group_by=g)]
        if ordered:
            out.append(Aggregate("min", name, ordered[0], group_by=g))
    return out


def _typed(v: object) -> tuple[str, object]:
    return type(v).__name__, v


def assert_same(decls: list[TableDecl], folder: Path, spark, catalog: dict[str, str] | None = None,
                aggs: list[Aggregate] | None = None) -> int:
    """The aggregates (every kind the tables allow: aggregates_for) on DuckDB and on Spark are identical."""
    engine = TableEngine(decls, folder)
    aggs = aggs if aggs is not None else [a for d in decls for a in aggregates_for(d)]
    duck = engine.run(aggs)
    ours = spark_engine.SparkRunner(spark=spark, catalog=catalog or {}).run(engine, aggs)
    assert list(ours) == list(duck)
    for a in aggs:
        d, s = duck[a], ours[a]
        assert (_typed(s.value), s.rows_read, s.rows_matched) == (_typed(d.value), d.rows_read, d.rows_matched), \
            a.key()
        assert [(_typed(g.key), _typed(g.value), g.rows_read, g.rows_matched) for g in s.groups] == \
            [(_typed(g.key), _typed(g.value), g.rows_read, g.rows_matched) for g in d.groups], a.key()
        assert s.sql.startswith("SELECT ") and f"FROM `{a.table}`" in s.sql  # the Spark SQL, from the view
        assert (s.engine, d.engine) == ("spark", "duckdb")
    return len(aggs)


def test_lancashire_tables_give_identical_values(spark):
    decls, folder = lancashire()
    assert assert_same(decls, folder, spark) > 50


def test_generated_tables_give_identical_values(spark, tmp_path):
    decls = generated(tmp_path)
    assert assert_same(decls, tmp_path, spark) > 250  # every kind of aggregate on every column (267 here)
    engine = TableEngine(decls, tmp_path)  # the edge cases are really there: NULLs, empty filters, a lone row
    res = spark_engine.SparkRunner(spark=spark).run(engine, [
        Aggregate("count", "mixed", where=Compare("who", "!=", "a")), Aggregate("median", "one", "v"),
        Aggregate("share", "mixed", where=Compare("x", "<", -1e9)), Aggregate("mean", "semi", "v", where=Compare(
            "v", "<", -1e9)), Aggregate("count", "parts", group_by="g")])
    who, lone, none, empty, by_g = res.values()
    assert (who.value, lone.value, none.value, empty.value) == (4, 42.0, 0.0, None)  # "" is NULL, as DuckDB has it
    assert [(g.key, g.value) for g in by_g.groups] == [("x", 3), ("y", 2), (None, 1)]


def test_percentile_interpolation_is_duckdbs_to_the_bit(spark, tmp_path):
    """Ranks that fall between two values, where Spark's own PERCENTILE and DuckDB's QUANTILE_CONT round
    differently (Wyre's 99.9th percentile of answer times is one such): the engine's value is DuckDB's."""
    decls, folder = lancashire()
    calls = decls[0]
    p999 = Aggregate("percentile", calls.name, "answer_seconds", percentile=99.9, group_by="district")
    engine = TableEngine([calls], folder)
    duck = engine.run([p999])[p999]
    ours = spark_engine.SparkRunner(spark=spark).run(engine, [p999])[p999]
    raw = {r[0]: r[1] for r in spark.sql(f"SELECT district, PERCENTILE(answer_seconds, 0.999) FROM "
                                         f"`{calls.name}` GROUP BY district").collect()}
    differ = [g.key for g in duck.groups if raw[g.key] != g.value]
    assert differ  # Spark's interpolation alone would not do
    assert [(g.key, g.value) for g in ours.groups] == [(g.key, g.value) for g in duck.groups]
    assert_shown_sql_gives_the_values(spark, {p999: ours})  # and the trace's SQL gives the trace's values


def _bits(v: object) -> object:
    return v.hex() if isinstance(v, float) else v


def assert_shown_sql_gives_the_values(spark, results: dict) -> None:
    """Each result's SQL, run in the session (where the runner registered the views), gives its value, groups
    and counts, to the bit."""
    for a, r in results.items():
        rows = [tuple(x) for x in spark.sql(r.sql).collect()]
        if a.group_by is None:
            assert [(_bits(x[0]), x[1], x[2]) for x in rows] == [(_bits(r.value), r.rows_read, r.rows_matched)], \
                a.key()
        else:
            assert [(x[0], _bits(x[1]), x[2], x[3]) for x in rows] == \
                [(g.key, _bits(g.value), g.rows_read, g.rows_matched) for g in r.groups], a.key()


def test_the_shown_sql_of_a_percentile_gives_the_traces_value_to_the_bit(spark, tmp_path, monkeypatch):
    """The Spark SQL a trace shows for a median or percentile gives the trace's value to the bit when run, with
    the fused interpolation a DuckDB build may use and with the plain one: tables.quantile_interpolate's example
    (rank 12217.77 of 12231 values, 125.8 then 126.1), where the two differ, with tables._FUSED as this DuckDB
    has it and as the other kind of build has it; and a Parquet DECIMAL column (its scale kept), grouped, a count
    column under a filter, an empty filter, a lone value."""
    from peelrules import tables

    (tmp_path / "tie.csv").write_text("x\n" + "125.8\n" * 12218 + "126.1\n" * 13, encoding="utf-8")
    tie = TableDecl("tie", "tie.csv", (Column("x", "number"),))
    decls = [tie, *generated(tmp_path)]
    engine = TableEngine(decls, tmp_path)
    p999 = Aggregate("percentile", "tie", "x", percentile=99.9)
    aggs = [p999, Aggregate("percentile", "gen", "price", percentile=62.5, group_by="area"),
            Aggregate("median", "gen", "n", where=Compare("ok", "==", True)),
            Aggregate("percentile", "gen", "x", percentile=10, where=Compare("x", "<", -1.0)),
            Aggregate("median", "one", "v")]
    ours = spark_engine.SparkRunner(spark=spark).run(engine, aggs)
    duck = engine.run(aggs)
    assert [(_bits(ours[a].value), ours[a].groups) for a in aggs] == [(_bits(duck[a].value), duck[a].groups)
                                                                      for a in aggs]
    assert "ROUND(" in ours[aggs[1]].sql and "* 100.0D" in ours[aggs[1]].sql  # the decimal's scale: 2 places
    assert_shown_sql_gives_the_values(spark, ours)
    assert [ours[a].value is None for a in aggs[2:]] == [False, True, False]
    tables.quantile_interpolate(0.0, 0.0, 0.0)  # tables._FUSED, as this DuckDB has it
    monkeypatch.setattr(tables, "_FUSED", not tables._FUSED)
    other = spark_engine.SparkRunner(spark=spark).run(engine, [p999])
    assert_shown_sql_gives_the_values(spark, other)
    assert other[p999].value != ours[p999].value  # the two interpolations differ here, and each SQL gives its own
    assert ("REFLECT('java.lang.Math', 'fma'" in ours[p999].sql) is not tables._FUSED


# ------------------------------------------------------------------------------- means over many partitions

SPLIT_ROWS = 200_000
SPLIT_BYTES = "48k"  # spark.sql.files.maxPartitionBytes: Spark reads the file as dozens of partitions


@pytest.fixture(scope="module")
def order_sensitive(tmp_path_factory) -> tuple[Path, list[float]]:
    """A folder with split.parquet, 200,000 rows in row groups of 2,000 (so that Spark can split the file): `x`,
    call times to one decimal (2 rows in 3) among values of up to 10^8 either side of zero, whose floating-point
    sum depends on the order of the additions; `district` (four values) and `slow` (x above 20); and the x values."""
    import random

    folder = tmp_path_factory.mktemp("split")
    r = random.Random(2021)
    xs = [r.uniform(-1e8, 1e8) if i % 3 == 0 else round(r.lognormvariate(1.6, 0.9), 1) for i in range(SPLIT_ROWS)]
    con = duckdb.connect()
    con.execute("CREATE TABLE t AS SELECT x, ['north', 'south', 'east', 'west'][(i - 1) % 4 + 1] AS district, "
                "x > 20 AS slow FROM (SELECT unnest(?) AS x, generate_subscripts(?, 1) AS i)", [xs, xs])
    con.execute(f"COPY t TO '{folder / 'split.parquet'}' (FORMAT parquet, ROW_GROUP_SIZE 2000)")
    con.close()
    return folder, xs


SPLIT = TableDecl("calls.split", "split.parquet", (Column("x", "number", "seconds"), Column("district", "text"),
                                                   Column("slow", "flag")))


@pytest.fixture
def split_spark(spark):
    """The session reading a file as many partitions, and grouping into 8 (shuffle partitions); as it was after."""
    settings = {"spark.sql.files.maxPartitionBytes": SPLIT_BYTES, "spark.sql.shuffle.partitions": "8"}
    before = {k: spark.conf.get(k) for k in settings}
    for k, v in settings.items():
        spark.conf.set(k, v)
    yield spark
    for k, v in before.items():
        spark.conf.set(k, v)


def test_means_are_identical_however_the_rows_are_split(split_spark, order_sensitive):
    """A mean (and a share) over a table whose plain floating-point sum depends on the order of the additions is
    the same to the bit on DuckDB (one thread or two) and on Spark reading the file as dozens of partitions:
    the exact sum rounded once, divided by the count, as math.fsum(values) / len(values) gives it; plain AVG
    gives a different number on each."""
    spark = split_spark
    folder, xs = order_sensitive
    chunks = [xs[i:i + 3125] for i in range(0, len(xs), 3125)]
    assert len({sum(xs), sum(reversed(xs)), sum(sum(c) for c in chunks)}) > 1  # the order matters here
    north, slow = Compare("district", "==", "north"), Compare("slow", "==", True)
    aggs = [Aggregate("mean", SPLIT.name, "x"), Aggregate("mean", SPLIT.name, "x", where=north),
            Aggregate("mean", SPLIT.name, "x", group_by="district"), Aggregate("share", SPLIT.name, where=slow),
            Aggregate("share", SPLIT.name, where=slow, group_by="district")]
    engine = TableEngine([SPLIT], folder)
    ours = spark_engine.SparkRunner(spark=spark).run(engine, aggs)
    assert spark.table(f"`{SPLIT.name}`").rdd.getNumPartitions() >= 16  # the view the runner read: split up
    shown = {a: (repr(r.value), [(g.key, repr(g.value), g.rows_matched) for g in r.groups]) for a, r in ours.items()}
    for threads in (1, 2):
        duck = TableEngine([SPLIT], folder, threads=threads).run(aggs)
        assert {a: (repr(r.value), [(g.key, repr(g.value), g.rows_matched) for g in r.groups])
                for a, r in duck.items()} == shown
    north_xs = xs[::4]  # the rows of the north: 1, 5, 9, ...
    assert (ours[aggs[0]].value, ours[aggs[1]].value) == (math.fsum(xs) / len(xs), math.fsum(north_xs) / len(north_xs))
    raw = spark.sql(f"SELECT AVG(x) FROM `{SPLIT.name}`").collect()[0][0]
    con = duckdb.connect(config={"threads": 1})
    plain = con.execute(f"SELECT AVG(x) FROM '{folder / 'split.parquet'}'").fetchone()[0]
    con.close()
    assert raw != plain  # what a plain AVG would have given: Spark's and DuckDB's differ


def test_a_mean_spark_cannot_sum_exactly_is_the_same_overflow(spark, tmp_path):
    (tmp_path / "t.csv").write_text("x\n1e18\n1e19\n1e19\n", encoding="utf-8")
    decl = TableDecl("t", "t.csv", (Column("x", "number"),))
    with pytest.raises(spark_engine.t.TableError) as err:
        spark_engine.SparkRunner(spark=spark).run(TableEngine([decl], tmp_path), [Aggregate("mean", "t", "x")])
    assert (err.value.kind, err.value.table) == ("overflow", "t") and "'x'" in err.value.message


def contact_rules(tables: str, when: str) -> str:
    """A one-area rule set over the table declarations `tables` (of evidence `calls`) whose one cause of concern is
    raised `when`: requires improvement if it is, else good."""
    return f'''\
framework f "F" {{
  version "1"
}}

evidence calls {{
{tables}
}}

ladder standard {{
  requires_improvement when concerns >= 1
  good                 otherwise
}}

area contact "Contact" {{
  grade by standard

  cause_of_concern waits "Calls wait" {{
    when {when}
    cite "test"
    recommendation "Answer sooner"
  }}
}}
'''


SPLIT_RULES = contact_rules('''\
  split: table "calls" {
    x:        number unit "seconds"
    district: text
    slow:     flag
  }''', "mean(calls.split.x) >= THRESHOLD or share(calls.split where slow == true) > 0.5")


def test_a_trace_over_a_split_table_is_the_same_with_either_engine(split_spark, order_sensitive, tmp_path,
                                                                   monkeypatch):
    """`peel evaluate` over the order-sensitive table, with the threshold of a mean at the larger of Spark's and
    DuckDB's plain AVG (so that plain means would grade differently): the same grade, the same text, and the same
    JSON trace but for the SQL, with either engine."""
    monkeypatch.chdir(tmp_path)
    shutil.copy(order_sensitive[0] / "split.parquet", tmp_path)
    spark_avg = split_spark.read.parquet(str(tmp_path / "split.parquet")).selectExpr("AVG(x)").collect()[0][0]
    duck_avg = duckdb.connect(config={"threads": 1}).execute("SELECT AVG(x) FROM 'split.parquet'").fetchone()[0]
    assert spark_avg != duck_avg
    (tmp_path / "rules.peel").write_text(SPLIT_RULES.replace("THRESHOLD", repr(max(spark_avg, duck_avg))),
                                         encoding="utf-8")
    bundle = {"force": "Test", "framework": "f", "sources": {"report": {"title": "R"}}, "facts": {},
              "tables": {SPLIT.name: {"file": "split.parquet", "source": "generated", "columns": {
                  "x": {"type": "number", "unit": "seconds"}, "district": {"type": "text"}, "slow": {"type": "flag"}}}}}
    (tmp_path / "evidence.yaml").write_text(json.dumps(bundle), encoding="utf-8")
    runner = CliRunner()
    out = {}
    for engine in ("duckdb", "spark"):
        for fmt in ("text", "json"):
            got = runner.invoke(main, ["--no-cache", "evaluate", "evidence.yaml", "--rules", "rules.peel",
                                       "--engine", engine, "--format", fmt])
            assert got.exit_code == 0, got.output
            out[engine, fmt] = got.output
    assert out["spark", "text"] == out["duckdb", "text"]
    duck, ours = (json.loads(out[e, "json"]) for e in ("duckdb", "spark"))
    assert without_sql(ours) == without_sql(duck)
    assert "mean(calls.split.x)" in out["duckdb", "json"]


# ----------------------------------------------------------------------------------------------------- the CLI

def without_sql(node: object, sqls: list[str] | None = None, engines: set | None = None) -> object:
    """A JSON trace without what differs by engine: each aggregate's SQL (collected into `sqls`) and engine (into
    `engines`; None for DuckDB, which writes none), and the digest of the results that holds them."""
    if isinstance(node, dict):
        if "sql" in node and isinstance(node["sql"], str):
            if sqls is not None:
                sqls.append(node["sql"])
            if engines is not None:
                engines.add(node.get("engine"))  # an aggregate: says so when Spark computed it
        return {k: without_sql(v, sqls, engines) for k, v in node.items()
                if k not in ("sql", "result_sha256") and not (k == "engine" and isinstance(v, str))}
    if isinstance(node, list):
        return [without_sql(v, sqls, engines) for v in node]
    return node



def test_evaluate_with_spark_gives_the_default_grades_and_report(spark, tmp_path, monkeypatch):
    monkeypatch.setenv("PEEL_CACHE_DIR", str(tmp_path / "cache"))
    runner = CliRunner()
    default = runner.invoke(main, ["evaluate", str(LANCASHIRE)])
    assert default.exit_code == 0, default.output
    with_spark = runner.invoke(main, ["evaluate", "--engine", "spark", str(LANCASHIRE)])
    assert with_spark.exit_code == 0, with_spark.output
    assert with_spark.output == default.output  # the same grades, counters and text report
    # the JSON traces: the same results everywhere but the SQL, which is Spark's, read from the cache or not
    docs = {}
    for engine in ("duckdb", "spark", "duckdb"):
        got = runner.invoke(main, ["evaluate", "--engine", engine, "--format", "json", str(LANCASHIRE)])
        assert got.exit_code == 0, got.output
        docs.setdefault(engine, []).append(got.output)
    assert docs["duckdb"][0] == docs["duckdb"][1]  # the default, cached, is untouched by a Spark run
    duck, ours = (json.loads(docs[e][0]) for e in ("duckdb", "spark"))
    sqls: dict[str, list[str]] = {"duckdb": [], "spark": []}
    engines: dict[str, set] = {"duckdb": set(), "spark": set()}
    assert without_sql(ours, sqls["spark"], engines["spark"]) == without_sql(duck, sqls["duckdb"], engines["duckdb"])
    assert engines == {"duckdb": {None}, "spark": {"spark"}}
    assert sqls["spark"] and all("`" in s and "READ_" not in s for s in sqls["spark"])
    assert all("READ_PARQUET" in s or "READ_CSV" in s for s in sqls["duckdb"])


def test_missing_pyspark_is_one_line_and_exit_2(monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "pyspark" else real(name, *a))
    got = CliRunner().invoke(main, ["evaluate", "--engine", "spark", str(LANCASHIRE)])
    assert got.exit_code == 2
    lines = got.output.strip().splitlines()
    assert len(lines) == 1 and "pyspark" in lines[0] and "peelrules[spark]" in lines[0]
    assert "Traceback" not in got.output and got.exception is None or isinstance(got.exception, SystemExit)


def test_missing_java_is_one_line_and_exit_2(monkeypatch):
    if spark_engine.problem() is not None and "pyspark" in (spark_engine.problem() or ""):
        import importlib.util

        real = importlib.util.find_spec
        monkeypatch.setattr(importlib.util, "find_spec",
                            lambda name, *a: object() if name == "pyspark" else real(name, *a))
    monkeypatch.delenv("JAVA_HOME", raising=False)
    monkeypatch.delenv("SPARK_REMOTE", raising=False)
    monkeypatch.setattr(shutil, "which", lambda name, *a, **k: None)
    got = CliRunner().invoke(main, ["evaluate", "--engine", "spark", str(LANCASHIRE)])
    assert got.exit_code == 2
    lines = got.output.strip().splitlines()
    assert len(lines) == 1 and "Java" in lines[0] and "Traceback" not in got.output


def test_default_engine_needs_neither_pyspark_nor_java(monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "pyspark" else real(name, *a))
    monkeypatch.setattr(shutil, "which", lambda name, *a, **k: None)
    got = CliRunner().invoke(main, ["--no-cache", "evaluate", str(LANCASHIRE)])
    assert got.exit_code == 0, got.output
    assert "Lancashire" in got.output


# -------------------------------------------------------------------------------- catalog tables (--spark-table)

CATALOG = {"contact.calls": "peel.calls_2021", "fairness.stop_search_records": "peel.stop_search_2021"}


@pytest.fixture(scope="module")
def catalog(spark):
    """The Lancashire tables as tables of Spark's catalog, in the session's temporary warehouse: the 999 calls as
    Spark reads the Parquet file (its own column types), the audit as the engine reads the CSV (cast to the
    declared types); the first 1,000 calls as a table of their own; and two tables that do not fit."""
    decls, folder = lancashire()
    spark.sql("CREATE DATABASE IF NOT EXISTS peel")
    spark.read.parquet(str(folder / decls[0].path_or_glob)).write.saveAsTable(CATALOG["contact.calls"])
    checked = TableEngine(decls, folder).validate(decls[1])
    spark_engine._reader(spark, checked)[0].write.saveAsTable(CATALOG["fairness.stop_search_records"])
    spark.sql("CREATE TABLE peel.calls_first_1000 USING parquet AS "
              "SELECT * FROM peel.calls_2021 ORDER BY call_id LIMIT 1000")
    spark.sql("CREATE TABLE peel.calls_no_district USING parquet AS "
              "SELECT call_id, received_at, answer_seconds FROM peel.calls_2021")
    spark.sql("CREATE TABLE peel.calls_text_seconds USING parquet AS "
              "SELECT call_id, received_at, CAST(answer_seconds AS STRING) AS answer_seconds, district "
              "FROM peel.calls_2021")
    # NaN and infinity in two calls' answer_seconds (a DOUBLE, as in the file), saved as a catalog table
    from pyspark.sql import functions as F

    first = [r.call_id for r in spark.table(CATALOG["contact.calls"]).orderBy("call_id").limit(2).collect()]
    seconds = F.col("answer_seconds").cast("DOUBLE")
    (spark.table(CATALOG["contact.calls"])
     .withColumn("answer_seconds", F.when(F.col("call_id") == first[0], F.lit(float("nan")))
                 .when(F.col("call_id") == first[1], F.lit(float("inf"))).otherwise(seconds))
     .write.saveAsTable("peel.calls_not_finite"))
    yield dict(CATALOG)
    spark.sql("DROP DATABASE peel CASCADE")


def _spark_tables(mapping: dict[str, str]) -> list[str]:
    return [x for name, table in mapping.items() for x in ("--spark-table", f"{name}={table}")]


def test_catalog_tables_give_the_aggregates_of_the_files(spark, catalog):
    """Every kind of aggregate: DuckDB over the files, Spark over the catalog tables, identical."""
    decls, folder = lancashire()
    assert assert_same(decls, folder, spark, catalog) > 50


def test_evaluate_with_spark_tables_gives_the_aggregates_of_the_files(spark, catalog, tmp_path, monkeypatch):
    monkeypatch.setenv("PEEL_CACHE_DIR", str(tmp_path / "cache"))
    runner = CliRunner()
    files = runner.invoke(main, ["evaluate", "--engine", "spark", "--format", "json", str(LANCASHIRE)])
    assert files.exit_code == 0, files.output
    ours = runner.invoke(main, ["evaluate", "--engine", "spark", "--format", "json", *_spark_tables(catalog),
                                str(LANCASHIRE)])
    assert ours.exit_code == 0, ours.output
    by_files, by_catalog = json.loads(files.output), json.loads(ours.output)
    leaves: list[dict] = []

    def strip(node: object) -> object:
        if isinstance(node, dict):
            if isinstance(node.get("aggregate"), dict):
                leaves.append(node["aggregate"])
            return {k: strip(v) for k, v in node.items() if k not in ("files", "catalog", "result_sha256")}
        if isinstance(node, list):
            return [strip(v) for v in node]
        return node

    assert "tables" not in by_catalog["inputs"]  # no file was read, so none is digested
    del by_files["inputs"]["tables"]
    assert strip(by_catalog) == strip(by_files)  # values, rows, groups and the Spark SQL: the same
    read = [a for a in leaves if a.get("catalog")]
    assert read and {a["catalog"] for a in read} <= set(catalog.values()) and all(a["files"] == [] for a in read)
    # the catalog table is really read, and never served from a cache: a table of 1,000 calls gives 1,000 rows
    fewer = runner.invoke(main, ["evaluate", "--engine", "spark", "--format", "json", "--spark-table",
                                 "contact.calls=peel.calls_first_1000", str(LANCASHIRE)])
    assert fewer.exit_code == 0, fewer.output
    rows = {a["rows_read"] for a in _aggregates(json.loads(fewer.output)) if a["table"] == "contact.calls"}
    assert rows == {1000}
    text = runner.invoke(main, ["evaluate", "--engine", "spark", *_spark_tables(catalog), str(LANCASHIRE)])
    assert text.exit_code == 0 and text.output == runner.invoke(main, ["evaluate", str(LANCASHIRE)]).output


def _aggregates(doc: object) -> list[dict]:
    return [n["aggregate"] for n in _aggregate_nodes(doc)]


def test_a_table_read_from_the_catalog_needs_no_file(spark, catalog, lancashire_copy, tmp_path, monkeypatch):
    monkeypatch.setenv("PEEL_CACHE_DIR", str(tmp_path / "cache"))
    (lancashire_copy.parent / "tables" / "lancashire-999-calls-2021.parquet").unlink()
    runner = CliRunner()
    without = runner.invoke(main, ["evaluate", "--engine", "spark", str(lancashire_copy)])
    assert without.exit_code == 2 and "PR318" in without.output  # the file is missing
    got = runner.invoke(main, ["evaluate", "--engine", "spark", *_spark_tables(catalog), str(lancashire_copy)])
    assert got.exit_code == 0, got.output
    assert "good" in got.output


@pytest.mark.parametrize("table, said", [
    ("peel.no_such_table", "peel.no_such_table: Spark's catalog has no such table"),
    ("peel.calls_no_district", "column 'district': the catalog table has no column 'district' (it has call_id, "
                               "received_at, answer_seconds)"),
    ("peel.calls_text_seconds", "(wrong_type): peel.calls_text_seconds: column 'answer_seconds': the catalog "
                                "table's column is string, not a number column"),
    ("peel.calls_not_finite", "(wrong_type): peel.calls_not_finite: column 'answer_seconds': 2 rows hold NaN or "
                              "infinity, such as inf\n"),
])
def test_a_catalog_table_that_does_not_fit_is_a_precise_error(spark, catalog, tmp_path, monkeypatch, table, said):
    monkeypatch.setenv("PEEL_CACHE_DIR", str(tmp_path / "cache"))
    got = CliRunner().invoke(main, ["evaluate", "--engine", "spark", "--spark-table", f"contact.calls={table}",
                                    str(LANCASHIRE)])
    assert got.exit_code == 2, got.output
    assert "error[PR318]: table 'contact.calls'" in got.output and said in got.output
    assert "Traceback" not in got.output and "Py4J" not in got.output


def test_a_catalog_tables_values_are_checked_as_a_files_are(spark, catalog, tmp_path):
    """A count below zero, a floating-point number that is NaN or infinite, a table with no rows: refused as in a
    Parquet file (tests/test_tables.py), naming the catalog table, the column, how many rows and a bad value. A
    column without one (NULL cells, a DECIMAL) is read."""
    from pyspark.sql import functions as F

    rows = [("a", 1.5, 2.5, 3), ("b", float("nan"), 1.0, -2), ("c", float("-inf"), 2.0, -5), ("d", None, None, None),
            ("e", 4.0, 3.0, 0)]
    df = spark.createDataFrame(rows, "id STRING, x DOUBLE, d DOUBLE, n INT")
    df.withColumn("d", F.col("d").cast("DECIMAL(9, 2)")).write.saveAsTable("peel.bad_values")
    df.where("false").write.saveAsTable("peel.no_rows")

    def run(table: str, *cols: Column) -> TableError | None:
        decl = TableDecl("t", "absent.csv", (Column("id", "text"), *cols))
        try:
            spark_engine.SparkRunner(spark=spark, catalog={"t": table}).run(
                TableEngine([decl], tmp_path), [Aggregate("count", "t")])
        except TableError as err:
            return err
        return None

    number, count, decimal = Column("x", "number"), Column("n", "count"), Column("d", "number")
    err = run("peel.bad_values", number, count)
    assert err is not None and (err.file, err.column, err.kind, err.table) == ("peel.bad_values", "x", "wrong_type",
                                                                               "t")
    assert err.message == "2 rows hold NaN or infinity, such as -inf"
    err = run("peel.bad_values", count)
    assert err is not None and (err.column, err.message) == ("n", "2 rows hold a negative count, such as -5")
    assert "write a whole number of zero or more" in err.hint
    assert run("peel.bad_values", decimal) is None  # a DECIMAL holds no NaN; NULL cells are not bad
    err = run("peel.no_rows", number)
    assert err is not None and (err.file, err.kind, err.message) == ("peel.no_rows", "header_only",
                                                                    "the table has no rows")


def test_pysparks_query_loggers_are_quiet_while_peel_runs_its_queries(spark):
    import logging

    from pyspark.logger import PySparkLogger

    seen: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            seen.append(record)

    logger = PySparkLogger.getLogger("SQLQueryContextLogger")
    keep = Keep()
    logger.addHandler(keep)
    try:
        with spark_engine.quiet_python_loggers():
            with pytest.raises(Exception):
                spark.sql("SELECT * FROM peel_no_such_view").collect()
        assert seen == [] and logger.disabled is False  # quiet inside, as it was after
        with pytest.raises(Exception):
            spark.sql("SELECT * FROM peel_no_such_view").collect()
        assert seen  # pyspark logs it otherwise (on stderr, as JSON)
    finally:
        logger.removeHandler(keep)


# ------------------------------------------------------------------ the options: usage, settings, the engine choice

@pytest.mark.parametrize("args, said", [
    (["--spark-table", "contact.calls=db.calls"], "peel: --spark-table needs --engine spark"),
    (["--spark-master", "local[2]", "--spark-conf", "spark.executor.memory=1g"],
     "peel: --spark-master, --spark-conf need --engine spark"),
    (["--engine", "spark", "--spark-table", "calls=db.calls_2022"],
     f"peel: --spark-table calls=db.calls_2022: {LANCASHIRE} has no table 'calls' (its tables: contact.calls, "
     "fairness.stop_search_records); name the table as the bundle's `tables:` section does, e.g. "
     "--spark-table contact.calls=db.calls_2022"),
    (["--engine", "spark", "--spark-table", "contact.calls=a", "--spark-table", "contact.calls=b"],
     "peel: --spark-table maps table 'contact.calls' more than once"),
    (["--engine", "spark", "--spark-table", "contact.calls=db.calls", str(EVIDENCE / "cleveland-2022.yaml")],
     "peel: --spark-table maps the tables of one bundle, and 2 bundles were given"),
])
def test_spark_options_that_do_not_fit_are_one_line_and_exit_2(args, said):
    """No Spark is started for any of these (they need neither pyspark nor Java)."""
    got = CliRunner().invoke(main, ["evaluate", *args, str(LANCASHIRE)])
    assert got.exit_code == 2, got.output
    assert got.output.strip().startswith(said) and len(got.output.strip().splitlines()) == 1, got.output


def test_a_bundle_without_tables_says_so():
    bundle = EVIDENCE / "cleveland-2022.yaml"
    got = CliRunner().invoke(main, ["evaluate", "--engine", "spark", "--spark-table", "contact.calls=db.c",
                                    str(bundle)])
    assert got.exit_code == 2
    assert f"{bundle} declares no tables (under `tables:`)" in got.output


@pytest.mark.parametrize("args, said", [
    (["--spark-table", "contact.calls"], "is not TABLE=CATALOG_TABLE"),
    (["--spark-table", "=db.calls"], "is not TABLE=CATALOG_TABLE"),
    (["--spark-conf", "executor.memory=4g"], "'executor.memory' is not a Spark setting"),
    (["--spark-conf", "spark.executor.memory"], "is not KEY=VALUE"),
])
def test_malformed_pairs_are_usage_errors(args, said):
    got = CliRunner().invoke(main, ["evaluate", "--engine", "spark", *args, str(LANCASHIRE)])
    assert got.exit_code == 2
    assert said in got.output and ("--spark-table" in got.output or "--spark-conf" in got.output)


def test_settings_put_the_users_last_and_keep_the_jvm_quiet(monkeypatch):
    monkeypatch.delenv("PEEL_SPARK_MASTER", raising=False)
    monkeypatch.delenv("SPARK_REMOTE", raising=False)
    monkeypatch.delenv("MASTER", raising=False)
    log = f"-Dlog4j2.configurationFile={spark_engine.LOG_CONFIG.as_uri()}"
    assert spark_engine.LOG_CONFIG.is_file()
    got = dict(spark_engine.settings(spark_engine.SparkOptions()))
    assert got["spark.master"] == "local[*]" and got["spark.driver.extraJavaOptions"] == log
    got = dict(spark_engine.settings(spark_engine.SparkOptions(master="spark://head:7077", conf=(
        ("spark.ui.enabled", "true"), ("spark.driver.extraJavaOptions", "-Dx=1")))))
    assert got["spark.master"] == "spark://head:7077" and got["spark.ui.enabled"] == "true"
    assert got["spark.driver.extraJavaOptions"] == f"{log} -Dx=1"
    mine = "-Dlog4j2.configurationFile=file:/etc/spark/log4j2.properties"
    got = dict(spark_engine.settings(spark_engine.SparkOptions(conf=(("spark.driver.extraJavaOptions", mine),))))
    assert got["spark.driver.extraJavaOptions"] == mine  # a configuration of the user's own is kept as given
    assert "spark.driver.extraJavaOptions" not in dict(spark_engine.settings(spark_engine.SparkOptions(quiet=False)))
    monkeypatch.setenv("PEEL_SPARK_MASTER", "yarn")
    assert dict(spark_engine.settings(spark_engine.SparkOptions()))["spark.master"] == "yarn"
    assert dict(spark_engine.settings(spark_engine.SparkOptions(master="local[2]")))["spark.master"] == "local[2]"
    connect = dict(spark_engine.settings(spark_engine.SparkOptions(master="sc://host:15002", conf=(
        ("spark.sql.shuffle.partitions", "4"),))))
    # over Spark Connect only the session's own settings: a static one (the UI, the name) makes pyspark warn
    assert connect == {"spark.sql.session.timeZone": "UTC", "spark.sql.shuffle.partitions": "4"}


def test_the_engine_choice_reaches_the_spark_runner():
    from peelrules.evidence import table_runner
    from peelrules.tablefacts import EngineChoice

    runner = table_runner(EngineChoice("spark", "local[2]", (("spark.executor.memory", "1g"),),
                                       (("contact.calls", "db.calls"),)))
    assert runner.options == spark_engine.SparkOptions(master="local[2]", conf=(("spark.executor.memory", "1g"),))
    assert runner.catalog == {"contact.calls": "db.calls"}
    assert table_runner("duckdb") is None and table_runner(EngineChoice()) is None
    assert not EngineChoice("spark", catalog=(("a", "b"),)).cacheable and EngineChoice("spark").cacheable
    with pytest.raises(ValueError):
        EngineChoice("duckdb", catalog=(("contact.calls", "db.calls"),))
    with pytest.raises(ValueError):
        EngineChoice("sqlite")


# ----------------------------------------------------------------------- the reports name the engine

def _report(fmt: str, *args: str) -> str:
    got = CliRunner().invoke(main, ["evaluate", "--format", fmt, *args, str(LANCASHIRE)])
    assert got.exit_code == 0, got.output
    return got.output


@pytest.mark.parametrize("fmt", ["html", "md"])
def test_a_duckdb_report_says_duckdb_computed_the_tables(fmt):
    out = _report(fmt)
    assert "DuckDB computed these: run the SQL with duckdb in the evidence" in out
    assert "DuckDB, run in " in out
    assert "Spark" not in out


@pytest.mark.parametrize("fmt", ["html", "md"])
def test_a_spark_report_says_spark_computed_the_tables(spark, catalog, fmt, tmp_path, monkeypatch):
    monkeypatch.setenv("PEEL_CACHE_DIR", str(tmp_path / "cache"))
    out = _report(fmt, "--engine", "spark")
    assert "Spark computed these: the SQL is Spark SQL, to run in a Spark session" in out
    assert "Spark SQL, over the view" in out and "lancashire-999-calls-2021.parquet" in out
    assert "duckdb" not in out.lower()
    out = _report(fmt, "--engine", "spark", *_spark_tables(catalog))
    assert "Spark SQL, over the view `contact.calls` of catalog table peel.calls_2021" in \
        re.sub(r"\\(.)", r"\1", out)  # Markdown's escapes undone
    assert "duckdb" not in out.lower()


# ------------------------------------------------------------------------- a real process: stderr is clean

def test_a_real_spark_run_prints_nothing_on_stderr(tmp_path):
    """The one slow test: `peel evaluate --engine spark` as a process of its own (a JVM of its own; a fresh cache,
    so that Spark really runs). Spark's log4j lines, its log level banner and the JVM's warnings stay off stderr,
    and nothing of the JVM's reaches stdout."""
    needs_spark()
    from conftest import run_peel

    env = dict(os.environ, PEEL_CACHE_DIR=str(tmp_path / "cache"))
    got = run_peel("evaluate", "--engine", "spark", "--spark-master", "local[1]", "--spark-conf",
                   "spark.sql.shuffle.partitions=1", "--format", "json", str(LANCASHIRE), env=env)
    assert got.returncode == 0, got.stderr
    assert got.stderr == ""
    aggs = _aggregates(json.loads(got.stdout))  # stdout is the JSON trace alone
    assert aggs and {a["engine"] for a in aggs if a["present"]} == {"spark"}


# ------------------------------------------------------------------------------------- peel verify, Spark traces

TIE_RULES = contact_rules('''\
  tie: table "calls" {
    x:    number unit "seconds"
    late: flag
  }
  priced: table "priced calls" {
    price: number
  }''', "percentile(calls.tie.x, 99.9) > 126 or median(calls.tie.x) > 200 or share(calls.tie where late == true) > 0.5"
                          "\n      or percentile(calls.priced.price, 37.5) > 1000")


def test_peel_verify_verifies_a_spark_trace_and_names_what_was_changed(spark, tmp_path, monkeypatch):
    """A Spark trace (a percentile where Spark's PERCENTILE and DuckDB's interpolation differ, a median, a share, a
    percentile of a Parquet DECIMAL column) verifies, with DuckDB by default and with --engine spark; a changed
    value, SQL or grade is named (exit 1)."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PEEL_CACHE_DIR", str(tmp_path / "cache"))
    (tmp_path / "tie.csv").write_text("x,late\n" + "125.8,false\n" * 12218 + "126.1,true\n" * 13, encoding="utf-8")
    duckdb.execute(f"COPY (SELECT (i * 1.37)::DECIMAL(9, 2) AS price FROM range(1, 12) t(i)) TO "
                   f"'{tmp_path / 'priced.parquet'}' (FORMAT parquet)")
    (tmp_path / "rules.peel").write_text(TIE_RULES, encoding="utf-8")
    bundle = {"force": "Test", "framework": "f", "sources": {"report": {"title": "R"}}, "facts": {},
              "tables": {"calls.tie": {"file": "tie.csv", "source": "generated", "columns": {
                  "x": {"type": "number", "unit": "seconds"}, "late": {"type": "flag"}}},
                         "calls.priced": {"file": "priced.parquet", "source": "generated", "columns": {
                             "price": {"type": "number"}}}}}
    (tmp_path / "evidence.yaml").write_text(json.dumps(bundle), encoding="utf-8")
    runner = CliRunner()
    got = runner.invoke(main, ["--no-cache", "evaluate", "evidence.yaml", "--rules", "rules.peel", "--engine",
                               "spark", "--format", "json", "--out", "trace.json"])
    assert got.exit_code == 0, got.output
    doc = json.loads((tmp_path / "trace.json").read_text(encoding="utf-8"))
    p999 = next(n for n in _aggregate_nodes(doc) if n["aggregate"]["key"].startswith("percentile(calls.tie"))
    assert p999["aggregate"]["engine"] == "spark" and "ELEMENT_AT(" in p999["aggregate"]["sql"]
    priced = next(n for n in _aggregate_nodes(doc) if n["aggregate"]["key"].startswith("percentile(calls.priced"))
    assert "* 100.0D" in priced["aggregate"]["sql"]  # the DECIMAL's scale, which DuckDB must find alike
    for args in ([], ["--engine", "spark"]):
        got = runner.invoke(main, ["--no-cache", "verify", *args, "trace.json"])
        assert (got.exit_code, got.output.split(" — ")[0]) == (0, "verified: trace.json"), got.output
    area = doc["results"][0]["areas"][0]
    changes = {"value": (p999, "value", 126.0), "sql": (p999["aggregate"], "sql",
                                                        p999["aggregate"]["sql"].replace("0.999D", "0.999")),
               "grade": (area, "grade", "good" if area["grade"] != "good" else "inadequate")}
    said = {"value": f"aggregate percentile(calls.tie.x, 99.9): value 126.0 recorded, {p999['value']} now",
            "sql": "aggregate percentile(calls.tie.x, 99.9): its SQL differs from the SQL a re-run writes",
            "grade": f"area contact: {changes['grade'][2]} recorded, {area['grade']} now"}
    for what, (node, key, value) in changes.items():
        was, node[key] = node[key], value
        (tmp_path / "changed.json").write_text(json.dumps(doc), encoding="utf-8")
        node[key] = was
        got = runner.invoke(main, ["verify", "changed.json"])
        assert got.exit_code == 1 and said[what] in got.output, (what, got.output)


def test_peel_verify_of_a_trace_that_read_a_catalog_table(spark, catalog, tmp_path, monkeypatch):
    """A trace whose aggregates read catalog tables cannot be re-read from files: peel says which tables, which
    catalog tables and the command to run (exit 2, no traceback); with --engine spark it verifies, reading the
    catalog tables the trace names."""
    monkeypatch.setenv("PEEL_CACHE_DIR", str(tmp_path / "cache"))
    runner = CliRunner()
    trace = tmp_path / "trace.json"
    got = runner.invoke(main, ["evaluate", "--engine", "spark", "--format", "json", "--out", str(trace),
                               "--spark-table", "contact.calls=peel.calls_2021", str(LANCASHIRE)])
    assert got.exit_code == 0, got.output
    got = runner.invoke(main, ["verify", str(trace)])
    assert got.exit_code == 2 and "Traceback" not in got.output
    assert "table contact.calls, read from the Spark catalog table peel.calls_2021 by share(contact.calls" in \
        got.output and f"peel verify --engine spark --spark-table contact.calls=peel.calls_2021 {trace}" in got.output
    got = runner.invoke(main, ["verify", "--engine", "spark", str(trace)])
    assert (got.exit_code, got.output.split(" — ")[0]) == (0, f"verified: {trace}"), got.output
