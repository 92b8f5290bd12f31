"""Issue 12, part 4: a mean over 10M rows gives the same bits on DuckDB and on Spark however Spark splits the rows.

    .venv/bin/python bench/spark_means.py [--rows 10000000] [--partitions 64] [--runs 3] [--markdown]

The table is bench/table_aggregates.py's 999-call table (generated from its fixed seed by DuckDB, Parquet):
answer_seconds to one decimal, district (14 values), emergency (a flag). Four aggregates: the mean, the mean of
emergency calls, the mean by district and the share answered within 10 seconds. Each is computed, in one process:

- as a plain `AVG` (what the engines did before): DuckDB on 1 and on 2 threads; Spark over the file as it reads
  it, and repartitioned into --partitions partitions (`repartition(N)`, `spark.sql.shuffle.partitions` N);
- as peel computes it (`tables.query`, the same tree on both engines: exact sums, docs/scale.md): DuckDB's
  TableEngine on 1 and on 2 threads; peel's Spark runner (`--engine spark`), which reads the file in many
  partitions here (`spark.sql.files.maxPartitionBytes` 1 MB) and groups into N; and peel's Spark query over the
  repartitioned view.

Each line is run --runs times (the repartition is redone every run, so rows land in partitions afresh): the value
printed is the first run's, "runs agree" says whether every run gave it, the time is the median (the Spark session
is started, and warmed up, first, and not timed). At the end: whether every peel line gives the same bits.
Nothing here asserts a time. See bench/README.md.
"""
from __future__ import annotations

import argparse
import math
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

sys.path.insert(0, str(Path(__file__).resolve().parent))
from table_aggregates import generate  # noqa: E402 - the same seeded table

from peelrules import spark_engine  # noqa: E402
from peelrules import tables as t  # noqa: E402

DECL = t.TableDecl("calls", "calls.parquet", (t.Column("answer_seconds", "number", "seconds"),
                                              t.Column("district", "text"), t.Column("emergency", "flag")))
AGGS = [t.Aggregate("mean", "calls", "answer_seconds"),
        t.Aggregate("mean", "calls", "answer_seconds", where=t.Compare("emergency", "==", True)),
        t.Aggregate("mean", "calls", "answer_seconds", group_by="district"),
        t.Aggregate("share", "calls", where=t.Compare("answer_seconds", "<=", 10))]
Values = tuple[str, ...]  # each aggregate's value(s), as repr: every bit shows


def shown(results: dict[t.Aggregate, Any]) -> Values:
    return tuple(repr([(g.key, g.value) for g in r.groups] if a.group_by else r.value) for a, r in results.items())


def plain(tree: Any) -> Any:
    """The query with each exact mean (tables.exact_mean_tree: `sum / POWER(2, 62) / NULLIF(COUNT(x), 0)`)
    replaced by a plain AVG of its column, under the same filter."""
    from sqlglot import exp

    def swap(node: exp.Expression) -> exp.Expression:
        if isinstance(node, exp.Div) and isinstance(node.this, exp.Div) and isinstance(node.expression, exp.Nullif):
            count = node.expression.this
            inner = count.this if isinstance(count, exp.Filter) else count
            avg: exp.Expression = exp.Avg(this=inner.this.copy())
            return exp.Filter(this=avg, expression=count.expression.copy()) if isinstance(count, exp.Filter) else avg
        return node
    swapped = tree.copy().transform(swap)
    assert "AVG" in swapped.sql() and "DECIMAL" not in swapped.sql()
    return swapped


def rows_values(rows: list[tuple[Any, ...]]) -> Values:
    decl = DECL
    return shown({a: t.AggregateResult(v, read, matched, "", groups)
                  for a, (v, read, matched, groups) in t.collect_rows(AGGS, rows, decl).items()})


def duckdb_lines(folder: Path) -> list[tuple[str, str, Callable[[], Values]]]:
    import duckdb

    reader = t.TableEngine([DECL], folder).validate("calls").reader()
    out: list[tuple[str, str, Callable[[], Values]]] = []
    for threads in (1, 2):
        def run_plain(threads: int = threads) -> Values:
            con = duckdb.connect(config={"threads": threads})
            try:
                return rows_values(con.execute(plain(t.query(AGGS, "duckdb", reader)).sql(dialect="duckdb"))
                                   .fetchall())
            finally:
                con.close()

        out.append(("plain AVG", f"DuckDB, {threads} thread{'s' if threads > 1 else ''}", run_plain))
    for threads in (1, 2):
        out.append(("peel", f"DuckDB TableEngine, {threads} thread{'s' if threads > 1 else ''}",
                    lambda threads=threads: shown(t.TableEngine([DECL], folder, threads=threads).run(AGGS))))
    return out


def spark_lines(folder: Path, spark: Any, partitions: int) -> list[tuple[str, str, Callable[[], Values]]]:
    def over(tree: Any, repartition: bool = True) -> Values:
        df = spark.read.parquet(str(folder / "calls.parquet"))
        (df.repartition(partitions) if repartition else df).createOrReplaceTempView("calls")
        return rows_values([tuple(r) for r in spark.sql(tree.sql(dialect="spark")).collect()])

    engine = t.TableEngine([DECL], folder)
    reads = spark.read.parquet(str(folder / "calls.parquet")).rdd.getNumPartitions()
    return [
        ("plain AVG", f"Spark, file read as {reads} partitions", lambda: over(plain(t.query(AGGS, "spark")), False)),
        ("plain AVG", f"Spark, repartition({partitions})", lambda: over(plain(t.query(AGGS, "spark")))),
        ("peel", f"Spark runner (--engine spark), file read as {reads} partitions",
         lambda: shown(spark_engine.SparkRunner(spark=spark).run(engine, AGGS))),
        ("peel", f"Spark, peel's query over repartition({partitions})", lambda: over(t.query(AGGS, "spark"))),
    ]


def exact_mean(folder: Path) -> float:
    """The mean of the doubles of answer_seconds, computed exactly (fractions) and rounded once."""
    from fractions import Fraction

    import numpy as np

    xs = np.load(folder / "answer_seconds.npy").tolist()
    return float(Fraction(sum(map(Fraction, xs)), len(xs)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--partitions", type=int, default=64)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--markdown", action="store_true", help="print the table as Markdown")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="peel-bench-means-") as tmp:
        folder = Path(tmp)
        generate(folder, args.rows)
        spark = spark_engine.session(spark_engine.SparkOptions(master="local[2]", conf=(
            ("spark.sql.shuffle.partitions", str(args.partitions)), ("spark.sql.files.maxPartitionBytes", "1m"),
            ("spark.driver.memory", "2g"))))
        lines = duckdb_lines(folder) + spark_lines(folder, spark, args.partitions)
        lines[-2][2]()  # warm the JVM up, untimed
        rows = []
        for kind, where, run in lines:
            got, seconds = [], []
            for _ in range(args.runs):
                start = time.perf_counter()
                got.append(run())
                seconds.append(time.perf_counter() - start)
            rows.append((kind, where, got[0], all(g == got[0] for g in got), statistics.median(seconds)))
        spark.stop()
        exact = exact_mean(folder)
    peel = {r[2] for r in rows if r[0] == "peel"}
    plains = {r[2] for r in rows if r[0] == "plain AVG"}
    head = ("how", "where", "mean", "mean (emergency)", "share within 10 s", "runs agree", "median time")
    table = [(k, w, v[0], v[1], v[3], "yes" if agree else "NO", f"{s * 1000:,.0f} ms") for k, w, v, agree, s in rows]
    if args.markdown:
        print("| " + " | ".join(head) + " |")
        print("|---|---|---:|---:|---:|---|---:|")
        for line in table:
            print("| " + " | ".join(line) + " |")
    else:
        widths = [max(len(str(r[i])) for r in [head, *table]) for i in range(len(head))]
        for r in [head, *table]:
            print("  ".join(str(c).ljust(w) for c, w in zip(r, widths)).rstrip())
    ulps = abs(float(rows[-1][2][0]) - exact) / math.ulp(exact)
    print(f"\nThe exact mean of the doubles, rounded once: {exact!r} (peel's mean is {ulps:.0f} ulp from it).")
    print(f"{args.rows:,} rows, {args.runs} runs of each. peel's lines: "
          f"{'identical, every aggregate (the mean by district too)' if len(peel) == 1 else 'NOT IDENTICAL'}; "
          f"plain AVG lines: {len(plains)} different result{'s' if len(plains) != 1 else ''}.")
    sys.exit(0 if len(peel) == 1 else 1)


if __name__ == "__main__":
    main()
