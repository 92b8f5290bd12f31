"""Issue 12's table targets: the aggregates a rule set reads, over a generated 999-call table of 1M and 10M rows,
computed by peelrules (tables.TableEngine: the table checked against its declaration, then every aggregate in one
DuckDB pass, as `peel evaluate` does) against a hand-written NumPy version of the same aggregates. Same run, ratios.

    .venv/bin/python bench/table_aggregates.py [--rows 1000000,10000000] [--runs 3] [--markdown] [--spark]

With --spark, one more line per size: the same aggregates through the Spark engine (`peel evaluate --engine
spark`; peelrules.spark_engine on a local[2] session), the session's start included, since a fresh `peel` run
pays it; its peak RSS is the Python process's only (the JVM's memory is not counted).

The table (generated from a fixed seed by DuckDB, written once into a temporary folder): answer_seconds (number,
log-normal, no NULLs), district (text, 14 values), emergency (flag). peel reads it as Parquet, the format a
data return of this size would come in; the NumPy baseline reads the same columns from .npy files (NumPy's own
format, district as small-integer codes): the fastest load NumPy has, so the baseline is not slowed by a parser.
Each measurement is a fresh process (`--worker`) that prints its time (after imports, loading and computing)
and its peak resident memory (VmHWM); the aggregate values of both are checked equal before any time is shown.
Nothing here asserts a time. See bench/README.md.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import math
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

DISTRICTS = 14
TARGET_RATIO = 2.0  # peel at most 2x NumPy at 10M rows
TARGET_MEMORY = 2 * 1024 ** 3  # peak memory under 2 GiB


def generate(folder: Path, rows: int, seed: int = 999) -> None:
    """calls.parquet and the .npy columns of the same rows."""
    import duckdb
    import numpy as np

    con = duckdb.connect()
    con.execute(f"SELECT setseed({(seed % 1000) / 1000})")
    con.execute(f"""CREATE TABLE calls AS SELECT
        round(exp(1.6 + 0.9 * sqrt(-2 * ln(1 - random())) * cos(2 * pi() * random())), 1) AS answer_seconds,
        'district_' || lpad(CAST(CAST(floor(random() * {DISTRICTS}) AS INTEGER) AS VARCHAR), 2, '0') AS district,
        random() < 0.3 AS emergency
        FROM range({rows})""")
    con.execute(f"COPY calls TO '{folder / 'calls.parquet'}' (FORMAT parquet)")
    cols = con.execute("SELECT answer_seconds, CAST(substr(district, 10) AS TINYINT) AS d, emergency FROM calls"
                       ).fetchnumpy()
    np.save(folder / "answer_seconds.npy", np.asarray(cols["answer_seconds"], dtype=np.float64))
    np.save(folder / "district.npy", np.asarray(cols["d"], dtype=np.int8))
    np.save(folder / "emergency.npy", np.asarray(cols["emergency"], dtype=np.bool_))
    con.close()


def peel_worker(folder: Path, spark: bool = False) -> dict[str, object]:
    from peelrules import tables as t

    decl = t.TableDecl("calls", "calls.parquet", (t.Column("answer_seconds", "number", "seconds"),
                                                  t.Column("district", "text"), t.Column("emergency", "flag")))
    within = t.Compare("answer_seconds", "<=", 10)
    aggs = [t.Aggregate("count", "calls"), t.Aggregate("share", "calls", where=within),
            t.Aggregate("mean", "calls", "answer_seconds"), t.Aggregate("median", "calls", "answer_seconds"),
            t.Aggregate("percentile", "calls", "answer_seconds", percentile=90),
            t.Aggregate("max", "calls", "answer_seconds"),
            t.Aggregate("mean", "calls", "answer_seconds", where=t.Compare("emergency", "==", True)),
            t.Aggregate("share", "calls", where=within, group_by="district")]
    start = time.perf_counter()
    engine = t.TableEngine([decl], folder)
    engine.validate("calls")
    if spark:
        from peelrules import spark_engine

        results = spark_engine.SparkRunner(spark_engine.SparkOptions(master="local[2]")).run(engine, aggs)
    else:
        results = engine.run(aggs)
    seconds = time.perf_counter() - start
    values: dict[str, object] = {}
    for a, r in results.items():
        values[a.key()] = [[g.key, g.value] for g in r.groups] if a.group_by else r.value
    return {"seconds": seconds, "values": values}


def numpy_worker(folder: Path) -> dict[str, object]:
    import numpy as np

    start = time.perf_counter()
    x = np.load(folder / "answer_seconds.npy")
    d = np.load(folder / "district.npy")
    e = np.load(folder / "emergency.npy")
    within = x <= 10
    n = len(x)
    in_d = np.bincount(d, minlength=DISTRICTS)
    within_d = np.bincount(d, weights=within, minlength=DISTRICTS)
    values = {
        "count(calls)": n,
        "share(calls where answer_seconds <= 10)": float(np.count_nonzero(within)) / n,
        "mean(calls.answer_seconds)": float(x.mean()),
        "median(calls.answer_seconds)": float(np.median(x)),
        "percentile(calls.answer_seconds, 90)": float(np.percentile(x, 90)),
        "max(calls.answer_seconds)": float(x.max()),
        "mean(calls.answer_seconds where emergency == true)": float(x[e].mean()),
        "share(calls where answer_seconds <= 10) by district":
            [[f"district_{i:02d}", float(within_d[i] / in_d[i])] for i in range(DISTRICTS) if in_d[i]],
    }
    seconds = time.perf_counter() - start
    return {"seconds": seconds, "values": values}


def peak_rss() -> int:
    """This process's peak resident memory: VmHWM (ru_maxrss would carry the parent's over fork and exec)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # KiB on Linux


def worker(kind: str, folder: Path) -> None:
    out = numpy_worker(folder) if kind == "numpy" else peel_worker(folder, spark=kind == "spark")
    out["max_rss_bytes"] = peak_rss()
    print(json.dumps(out, sort_keys=True))


def measure(kind: str, folder: Path) -> dict[str, object]:
    done = subprocess.run([sys.executable, __file__, "--worker", kind, str(folder)], capture_output=True,
                          text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"{kind} worker failed:\n{done.stderr}")
    return json.loads(done.stdout)


def same(a: object, b: object) -> bool:
    """Equal, numbers to 1e-9 relative (a mean's sum is added up in another order)."""
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, (int, float)) and isinstance(b, (int, float)) and not isinstance(a, bool):
        return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)
    return a == b


@dataclasses.dataclass
class Measured:
    rows: int
    parquet_bytes: int
    aggregates: int
    peel: float  # seconds, median
    numpy: float
    peel_rss: int  # bytes, the largest of the runs
    numpy_rss: int
    spark: float | None = None  # seconds, median, with --spark
    spark_rss: int | None = None

    @property
    def ratio(self) -> float:
        return self.peel / self.numpy

    @property
    def met(self) -> bool | None:
        """The target, at 10M rows and more; None below."""
        if self.rows < 10_000_000:
            return None
        return self.ratio <= TARGET_RATIO and self.peel_rss < TARGET_MEMORY


def compare(rows: int, runs: int, spark: bool = False) -> Measured:
    """Generate the table, check that peel and NumPy give the same values, then time both in turn."""
    with tempfile.TemporaryDirectory(prefix="peel-bench-tables-") as tmp:
        folder = Path(tmp)
        generate(folder, rows)
        size = (folder / "calls.parquet").stat().st_size
        kinds = ("peel", "numpy", "spark") if spark else ("peel", "numpy")
        first = {k: measure(k, folder) for k in kinds}  # untimed, and the values compared
        pv, nv = first["peel"]["values"], first["numpy"]["values"]
        assert isinstance(pv, dict) and isinstance(nv, dict)
        differ = sorted(k for k in set(pv) | set(nv) if not same(pv.get(k), nv.get(k)))
        if differ:
            raise SystemExit(f"{rows:,} rows: peel and NumPy disagree on {differ}")
        sv = first["spark"]["values"] if spark else pv
        assert isinstance(sv, dict)
        off = {k: (pv.get(k), sv.get(k)) for k in sorted(set(pv) | set(sv)) if pv.get(k) != sv.get(k)}
        if off:  # to the bit, means too (docs/scale.md; bench/spark_means.py)
            raise SystemExit(f"{rows:,} rows: the Spark and DuckDB engines disagree: {off}")
        done: dict[str, list[dict[str, object]]] = {k: [] for k in kinds}
        for _ in range(runs):
            for k in kinds:  # in turn, so that a busy moment falls on all
                done[k].append(measure(k, folder))
    med = {k: statistics.median(float(r["seconds"]) for r in v) for k, v in done.items()}  # type: ignore[arg-type]
    rss = {k: max(int(r["max_rss_bytes"]) for r in v) for k, v in done.items()}  # type: ignore[call-overload]
    return Measured(rows, size, len(nv), med["peel"], med["numpy"], rss["peel"], rss["numpy"], med.get("spark"),
                    rss.get("spark"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", default="1000000,10000000", help="table sizes, comma-separated")
    parser.add_argument("--runs", type=int, default=3, help="fresh processes of each, medians taken")
    parser.add_argument("--markdown", action="store_true", help="print the table as Markdown")
    parser.add_argument("--spark", action="store_true", help="also time the Spark engine (needs pyspark and Java)")
    parser.add_argument("--worker", nargs=2, metavar=("KIND", "FOLDER"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args.worker[0], Path(args.worker[1]))
        return
    head = ("workload", "peel median", "NumPy median", "ratio", "peel peak RSS", "NumPy peak RSS",
            "target (10M: <= 2x, < 2 GiB)")
    lines = []
    for rows in [int(r) for r in args.rows.split(",")]:
        m = compare(rows, args.runs, args.spark)
        lines.append((f"{rows:,} rows ({m.parquet_bytes / 1e6:.0f} MB Parquet), {m.aggregates} aggregates",
                      f"{m.peel * 1000:,.0f} ms", f"{m.numpy * 1000:,.0f} ms", f"{m.ratio:.1f}x",
                      f"{m.peel_rss / 2 ** 20:,.0f} MiB", f"{m.numpy_rss / 2 ** 20:,.0f} MiB",
                      {None: "", True: "ok", False: "MISSED"}[m.met]))
        if m.spark is not None and m.spark_rss is not None:
            lines.append((f"{rows:,} rows, --engine spark (local[2], session start included)",
                          f"{m.spark * 1000:,.0f} ms", f"{m.numpy * 1000:,.0f} ms", f"{m.spark / m.numpy:.1f}x",
                          f"{m.spark_rss / 2 ** 20:,.0f} MiB (+ JVM)", f"{m.numpy_rss / 2 ** 20:,.0f} MiB",
                          "(cost reported)"))
    if args.markdown:
        print("| " + " | ".join(head) + " |")
        print("|---|---:|---:|---:|---:|---:|---|")
        for line in lines:
            print("| " + " | ".join(line) + " |")
    else:
        widths = [max(len(str(r[i])) for r in [head, *lines]) for i in range(len(head))]
        for r in [head, *lines]:
            print("  ".join(str(c).ljust(w) for c, w in zip(r, widths)).rstrip())


if __name__ == "__main__":
    main()
