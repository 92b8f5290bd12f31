"""The table aggregates on Spark: the same queries as the DuckDB engine, the same results (docs/scale.md).

`SparkRunner.run(engine, aggregates)` takes a `tables.TableEngine` (which has already checked the tables' files
against their declarations with DuckDB) and computes the aggregates with Spark SQL instead of DuckDB:

- each table's files are read with the declared schema (a CSV as text, every cell then cast to its declared type
  after an empty cell, quoted or not, is made NULL; a Parquet file column by column, cast to the declared type)
  and registered as a temporary view named as the rules name the table (`contact.calls`);
- the query is `tables.query(aggregates, "spark")`: one pass per table, GROUPING SETS for grouped aggregates;
- the rows are read by `tables.collect_rows`, as DuckDB's are, so values have the same Python types;
- median and percentile: Spark's `PERCENTILE(x, q)` interpolates as `(hi_rank - pos) * lo + (pos - lo_rank) *
  hi`, DuckDB's `QUANTILE_CONT` as `lo * (1 - d) + hi * d` (fused on some builds), which can differ in the last
  bit. Where the rank is not a
  whole number, a second pass fetches the two closest values exactly (`PERCENTILE_DISC`, the SQL standard's
  discrete percentile, at a fraction chosen to land on each rank) and they are interpolated DuckDB's way
  (`tables.quantile_interpolate`), so the value is DuckDB's to the bit.

Each result's `sql` is the Spark SQL for that aggregate alone (`shown_sql`: `tables.standalone_tree(a, "spark")`,
or for a median or percentile `quantile_tree`, which gives DuckDB's value to the bit), reading from the view. A
table mapped to a catalog table (`SparkRunner.catalog`) is read from the catalog instead of its files: its
columns are found by name, checked against the declared types and cast to them.

The session: the active one when peelrules runs inside a Spark application; else one built from `SparkOptions`:
master `options.master`, else PEEL_SPARK_MASTER, else Spark Connect when SPARK_REMOTE is set, else MASTER, else
`local[*]` (a master `sc://...` is a Spark Connect server: then no JVM runs here, nothing of SparkContext is
used, only session settings are sent, and the server must accept a connection at once). Quiet (the default): the
JVM logs errors only (spark-log4j2.properties beside this module, passed with -Dlog4j2.configurationFile unless
the settings name a log4j configuration of their own), its own output goes to a temporary file instead of the
terminal (its last lines are in the error when Spark does not start: `jvm_output`), and pyspark's Python loggers
of failed queries are silenced while peelrules runs its queries, whose errors it reports itself. pyspark is
imported only here, and only when a run needs it.

Pure: errors are raised (SparkUnavailable when pyspark or Java is missing; TableError when Spark cannot read a
table), nothing is printed.
"""
from __future__ import annotations

import contextlib
import math
import os
import re
import shutil
import socket
import subprocess
import tempfile
import threading
from dataclasses import dataclass, field, replace
from decimal import Decimal
from pathlib import Path
from typing import IO, Any, Iterator, Mapping, Sequence

from . import tables as t
from .tablefacts import AggregateResult

NAME = "spark"
# Spark SQL types for the declared column types: timestamps without a time zone, as DuckDB's TIMESTAMP
SPARK_TYPES: dict[str, str] = {"number": "DOUBLE", "count": "BIGINT", "text": "STRING", "flag": "BOOLEAN",
                               "date": "DATE", "timestamp": "TIMESTAMP_NTZ"}
# the Spark types a catalog table's column may have for each declared type (pyspark.sql.types class names); a
# TIMESTAMP (with the session's time zone, UTC) is read as the wall-clock time in UTC
CATALOG_TYPES: dict[str, tuple[str, ...]] = {
    "number": ("ByteType", "ShortType", "IntegerType", "LongType", "FloatType", "DoubleType", "DecimalType"),
    "count": ("ByteType", "ShortType", "IntegerType", "LongType"),
    "text": ("StringType", "VarcharType", "CharType"),
    "flag": ("BooleanType",),
    "date": ("DateType",),
    "timestamp": ("TimestampNTZType", "TimestampType"),
}
INSTALL_HINT = "install it with `pip install 'peelrules[spark]'` (Spark also needs Java 17 or later), or use " \
               "--engine duckdb"
LOG_CONFIG = Path(__file__).with_name("spark-log4j2.properties")
QUIET_PY_LOGGERS = ("SQLQueryContextLogger", "DataFrameQueryContextLogger")  # pyspark.errors' loggers


class SparkUnavailable(Exception):
    """pyspark, or the Java it runs on, is not installed; the message is one line that says what to do."""


@dataclass(frozen=True)
class SparkOptions:
    """How to get a session when none is active. master None: PEEL_SPARK_MASTER, else SPARK_REMOTE (Spark
    Connect), else MASTER, else local[*]; a master `sc://host:port` is a Spark Connect server. conf: settings
    (name, value), applied after peelrules' own (so they win). quiet: errors only, and the JVM's own output
    kept off the terminal (the module docstring)."""

    master: str | None = None
    app_name: str = "peelrules"
    conf: tuple[tuple[str, str], ...] = ()
    quiet: bool = True


def _connect_url(options: SparkOptions) -> str | None:
    """The Spark Connect server the session is to use, or None for a session with a JVM of its own."""
    master = options.master or os.environ.get("PEEL_SPARK_MASTER")
    if master:
        return master if master.startswith("sc://") else None
    return os.environ.get("SPARK_REMOTE") or None


def problem(options: SparkOptions | None = None) -> str | None:
    """Why the Spark engine cannot run here (one line), or None. Does not start Spark."""
    import importlib.util

    if importlib.util.find_spec("pyspark") is None:
        return f"the Spark engine needs pyspark, which is not installed: {INSTALL_HINT}"
    url = _connect_url(options or SparkOptions())
    if url:  # Spark Connect: the server runs the JVM; the client needs packages of its own
        missing = _missing_connect_packages()
        if missing:
            return (f"Spark Connect ({url}) needs {', '.join(missing)}, which {'is' if len(missing) == 1 else 'are'} "
                    "not installed: install them with `pip install 'peelrules[spark]'`, or use --engine duckdb")
        return None
    java_home = os.environ.get("JAVA_HOME")
    java = Path(java_home) / "bin" / "java" if java_home else None
    if not (java is not None and java.is_file()) and shutil.which("java") is None:
        return ("the Spark engine needs Java (17 or later), which is not installed or not on PATH: install a JRE "
                "(e.g. apt-get install default-jre-headless) or set JAVA_HOME, or use --engine duckdb")
    return None


def _missing_connect_packages() -> list[str]:
    """The packages of pyspark's `connect` extra (as its own metadata lists them) that are not installed. Asked
    before pyspark.sql.connect is imported: that import checks them too, but when the main module has no file
    (`python -c`) it exits the process without a word."""
    from importlib import metadata

    try:
        wanted = metadata.requires("pyspark") or []
    except metadata.PackageNotFoundError:  # pyspark from a Spark distribution's python/ folder: it checks itself
        return []
    missing = []
    for req in wanted:
        name, _, marker = req.partition(";")
        found = re.match(r"[A-Za-z0-9._-]+", name.strip())
        if found is None or not re.search(r"""extra\s*==\s*["']connect["']""", marker):
            continue
        try:
            metadata.distribution(found.group(0))
        except metadata.PackageNotFoundError:
            missing.append(found.group(0))
    return missing


def settings(options: SparkOptions) -> list[tuple[str, str]]:
    """The settings a session is built with (without Spark Connect's URL): the master, the application's name, no
    web UI or progress bars, the UTC session time zone, the quiet log configuration, then `options.conf`. Over
    Spark Connect only the session's own (the time zone, then `options.conf`): the rest are the server's, and a
    Connect session cannot change them."""
    out: dict[str, str] = {}
    connect = _connect_url(options)
    if connect is None:  # a JVM of its own (a master sc://... or SPARK_REMOTE is a Connect server's)
        out["spark.master"] = options.master or os.environ.get("PEEL_SPARK_MASTER") or \
            os.environ.get("MASTER", "local[*]")
        out.update({"spark.app.name": options.app_name, "spark.ui.enabled": "false",
                    "spark.ui.showConsoleProgress": "false"})
    out["spark.sql.session.timeZone"] = "UTC"
    out.update(dict(options.conf))
    if options.quiet and connect is None:
        java = out.get("spark.driver.extraJavaOptions", "")
        if "log4j2.configurationFile" not in java and "log4j.configuration" not in java:
            out["spark.driver.extraJavaOptions"] = \
                f"-Dlog4j2.configurationFile={LOG_CONFIG.as_uri()} {java}".strip()
    return list(out.items())


_SESSIONS: dict[SparkOptions, Any] = {}
_LOCK = threading.Lock()
_JVM_OUTPUT: list[IO[bytes]] = []  # the temporary file the quiet JVM writes its stdout and stderr to


def jvm_output(lines: int = 20) -> list[str]:
    """The last lines the JVM of a quiet session wrote (empty when there is none)."""
    if not _JVM_OUTPUT:
        return []
    f = _JVM_OUTPUT[-1]
    try:
        f.flush()
        f.seek(0)
        text = f.read().decode("utf-8", "replace")
    except (OSError, ValueError):
        return []
    return text.splitlines()[-lines:]


@contextlib.contextmanager
def quiet_python_loggers() -> Iterator[None]:
    """pyspark logs every failed query as JSON on stderr (pyspark.errors); peelrules reports those errors itself,
    so the loggers are off while it runs its queries."""
    from pyspark.logger import PySparkLogger

    loggers = [PySparkLogger.getLogger(n) for n in QUIET_PY_LOGGERS]
    before = [lg.disabled for lg in loggers]
    for lg in loggers:
        lg.disabled = True
    try:
        yield
    finally:
        for lg, was in zip(loggers, before):
            lg.disabled = was


def _start(options: SparkOptions) -> Any:
    """A new session: a Spark Connect client (no JVM here: nothing of SparkContext is touched), or a session with
    a JVM of its own, which when quiet is launched with the JVM's output going to a temporary file (as `pyspark`
    would launch it otherwise) and logs errors only."""
    from pyspark import SparkConf, SparkContext
    from pyspark.sql import SparkSession

    url = _connect_url(options)
    if url is not None:
        _reach(url)
    if url is not None or not options.quiet or SparkContext._active_spark_context is not None:
        builder = SparkSession.builder if url is None else SparkSession.builder.remote(url)
        for k, v in settings(options):
            builder = builder.config(k, v)
        spark = builder.getOrCreate()
    else:
        from pyspark.java_gateway import launch_gateway

        conf = SparkConf()
        for k, v in settings(options):
            conf.set(k, v)
        out = tempfile.TemporaryFile(prefix="peel-spark-")
        _JVM_OUTPUT.append(out)
        gateway = launch_gateway(conf, popen_kwargs={"stdout": out, "stderr": subprocess.STDOUT})
        SparkContext(conf=conf, gateway=gateway)
        spark = SparkSession.builder.getOrCreate()
    if options.quiet and url is None:  # over Spark Connect the log is the server's
        spark.sparkContext.setLogLevel("ERROR")
    return spark


CONNECT_PORT = 15002  # a Spark Connect URL's port when it names none
CONNECT_TIMEOUT = 10.0  # seconds


def _reach(url: str) -> None:
    """Raise ConnectionError unless the Spark Connect server of `url` (sc://host[:port][/;param=value...]) accepts
    a connection: pyspark's client would retry a server that does not answer for many minutes, without a word."""
    from urllib.parse import urlsplit

    try:
        where = urlsplit("http://" + url[len("sc://"):].split("/")[0])
        host, port = where.hostname or "localhost", where.port or CONNECT_PORT
    except ValueError:
        raise ConnectionError(f"{url} is not a Spark Connect URL (sc://host:port)") from None
    try:
        socket.create_connection((host, port), timeout=CONNECT_TIMEOUT).close()
    except OSError as err:
        raise ConnectionError(f"the Spark Connect server {host}:{port} cannot be reached "
                              f"({err.strerror or err})") from None


def session(options: SparkOptions = SparkOptions()) -> Any:
    """The active SparkSession, else one built from the options (once per process)."""
    why = problem(options)
    if why is not None:
        raise SparkUnavailable(why)
    from pyspark.sql import SparkSession

    active = SparkSession.getActiveSession()
    if active is not None:
        return active
    with _LOCK:
        existing = _SESSIONS.get(options)
        if existing is not None:
            return existing
        try:
            spark = _start(options)
        except Exception as err:  # noqa: BLE001 - a JVM that does not start, a master that cannot be reached
            connect = _connect_url(options) is not None  # the JVM is the server's: no output of it here
            said = [] if connect else [ln.strip() for ln in jvm_output()
                                       if ln.strip() and not ln.startswith("WARNING: Using incubator")]
            java = f"; Java said: {said[-1][:300]}" if said else ""
            runs = "the Spark Connect server" if connect else "the Java installation"
            raise SparkUnavailable(f"Spark did not start: {_first_line(err)}{java} (check the master "
                                   f"(--spark-master, PEEL_SPARK_MASTER, SPARK_REMOTE), the settings and {runs}, "
                                   "or use --engine duckdb)") from None
        _SESSIONS[options] = spark
        return spark


def _first_line(err: BaseException) -> str:
    text = str(err).strip().splitlines()
    return text[0][:300] if text else type(err).__name__


def view_name(table: str) -> str:
    """The temporary view a table is read from: its name as one quoted identifier (`contact.calls`)."""
    return "`" + table.replace("`", "``") + "`"


def _reader(spark: Any, checked: t.ValidatedTable) -> tuple[Any, dict[str, int]]:
    """A DataFrame of the table's files with exactly the declared columns and types, and the scale of each
    `number` column a Parquet file stores as DECIMAL: DuckDB keeps a decimal's scale in median and percentile (the
    interpolated value cut towards zero to that many places), so Spark must too (_exact_quantiles)."""
    from pyspark.sql import functions as F

    r = checked.resolved
    paths = [str(p) for p in r.files]
    if r.format == "csv":
        schema = ", ".join(f"`{c.name}` STRING" for c in checked.header)
        df = (spark.read.schema(schema)
              .option("header", "true").option("sep", r.decl.delimiter).option("quote", '"')
              .option("escape", '"').option("multiLine", "true").option("encoding", "UTF-8")
              .option("mode", "FAILFAST").csv(paths))
        cols = [F.expr(f"CAST(NULLIF(`{c.name}`, '') AS {SPARK_TYPES[c.type]})").alias(c.name)
                for c in checked.header]
        return df.select(*cols), {}
    from pyspark.sql.types import DecimalType

    df = spark.read.parquet(*paths)
    stored = {f.name: f.dataType for f in df.schema}
    scales = {c.name: stored[c.name].scale for c in checked.header
              if c.type == "number" and isinstance(stored.get(c.name), DecimalType)}
    return df.select(*[F.col(f"`{c.name}`").cast(SPARK_TYPES[c.type]).alias(c.name) for c in checked.header]), scales


def _catalog_reader(spark: Any, name: str, target: str, decl: t.TableDecl) -> tuple[Any, dict[str, int]]:
    """A DataFrame of a catalog table with exactly the declared columns (found by name, as Spark finds them,
    without regard to case), cast to the declared types, and the scales of its DECIMAL `number` columns (as
    _reader). Refused with a TableError naming the catalog table: a table the catalog does not have, a declared
    column it does not have, a column of a type that is not the declared type's. Its other columns are left out."""
    from pyspark.sql import functions as F
    from pyspark.sql.types import DecimalType

    if not spark.catalog.tableExists(target):
        raise t.TableError(target, None, None, "Spark's catalog has no such table",
                           "check the catalog table's name (`SHOW TABLES IN db` in Spark SQL lists a database's "
                           "tables; write db.table or catalog.db.table)", "missing", table=name)
    df = spark.table(target)
    fields = {f.name.lower(): f for f in df.schema.fields}
    missing = [c.name for c in decl.columns if c.name.lower() not in fields]
    if missing:
        has = ", ".join(f.name for f in df.schema.fields)
        raise t.TableError(target, None, missing[0], f"the catalog table has no column{'s' if len(missing) > 1 else ''}"
                           f" {', '.join(repr(m) for m in missing)} (it has {has})",
                           "map a catalog table that has the declared columns, or rename them in a view",
                           "missing_column", table=name)
    scales: dict[str, int] = {}
    floating: set[str] = set()
    for c in decl.columns:
        stored = fields[c.name.lower()].dataType
        if type(stored).__name__ not in CATALOG_TYPES[c.type]:
            raise t.TableError(target, None, c.name, f"the catalog table's column is {stored.simpleString()}, "
                               f"not a {c.type} column",
                               f"declare the column with the type its values have, or map a view that casts it to "
                               f"{SPARK_TYPES[c.type]}", "wrong_type", table=name)
        if c.type == "number" and isinstance(stored, DecimalType):
            scales[c.name] = stored.scale
        if type(stored).__name__ in ("FloatType", "DoubleType"):
            floating.add(c.name)
    cols = [F.col(f"`{fields[c.name.lower()].name}`").cast(SPARK_TYPES[c.type]).alias(c.name) for c in decl.columns]
    df = df.select(*cols)
    _check_catalog_values(df, name, target, decl, floating)
    return df, scales


def _check_catalog_values(df: Any, name: str, target: str, decl: t.TableDecl, floating: set[str]) -> None:
    """Refuse a catalog table with no rows, or with a bad value (tables.bad_value_checks: NaN or infinity in a
    floating-point number column, a negative count), as a file is refused: one pass over the table, counting the
    rows and, per column that can hold a bad value, the rows that do and the least bad value."""
    from pyspark.sql import functions as F

    e = t._exp()
    checks = t.bad_value_checks(decl.columns, floating)
    aggs: list[Any] = [e.Count(this=e.Star())]
    for c, bad in checks:
        aggs += [e.Filter(this=e.Count(this=e.Star()), expression=e.Where(this=bad)),
                 e.Filter(this=e.Min(this=t._col(c.name)), expression=e.Where(this=bad.copy()))]
    got = df.agg(*(F.expr(a.sql(dialect="spark")) for a in aggs)).collect()[0]
    if got[0] == 0:
        raise t.no_rows_error(target, table=name)
    for i, (c, _) in enumerate(checks):
        n, value = got[1 + 2 * i], got[2 + 2 * i]
        if n:
            raise t.bad_value_error(target, None, c, (int(n), value), table=name)


@dataclass
class SparkRunner:
    """Runs a TableEngine's aggregates on Spark (see the module docstring). `catalog` maps a table's name to a
    catalog table (`db.calls`) to read instead of its files (the files are then not read, and need not exist)."""

    options: SparkOptions = SparkOptions()
    catalog: Mapping[str, str] = field(default_factory=dict)
    spark: Any = None  # a session to use; None: session(options)
    name: str = NAME

    def run(self, engine: t.TableEngine, aggregates: Sequence[t.Aggregate]) -> dict[t.Aggregate, AggregateResult]:
        aggs = engine.checked(aggregates)
        try:
            spark = self.spark if self.spark is not None else session(self.options)
        except SparkUnavailable as err:
            first = engine.tables[aggs[0].table] if aggs else None
            raise t.TableError(first.path_or_glob if first else "", None, None, str(err),
                               "see docs/scale.md", "engine", table=first.name if first else None) from None
        out: dict[t.Aggregate, AggregateResult] = {}
        with quiet_python_loggers() if self.options.quiet else contextlib.nullcontext():
            for name, table_aggs in t.by_table(aggs).items():
                out.update(self._table(spark, engine, name, table_aggs))
        return {a: out[a] for a in aggs}

    def _table(self, spark: Any, engine: t.TableEngine, name: str,
               table_aggs: list[t.Aggregate]) -> dict[t.Aggregate, AggregateResult]:
        decl = engine.tables[name]
        shown = self.catalog.get(name) or decl.path_or_glob or name
        try:
            if name in self.catalog:
                df, scales = _catalog_reader(spark, name, self.catalog[name], decl)
            else:
                checked = engine.validate(decl)
                shown = checked.resolved.shown[0]
                df, scales = _reader(spark, checked)
            df.createOrReplaceTempView(view_name(name))
            rows = [tuple(r) for r in spark.sql(t.query(table_aggs, "spark").sql(dialect="spark")).collect()]
            rows = _exact_quantiles(spark, table_aggs, rows, scales)
        except t.TableError as err:
            err.table = err.table or name
            raise
        except Exception as err:  # noqa: BLE001 - Py4J / Spark errors become the table's error
            if any(word in str(err) for word in ("NUMERIC_VALUE_OUT_OF_RANGE", "ARITHMETIC_OVERFLOW")):
                raise t.overflow_error(shown, table_aggs, table=name) from None
            what = "the catalog table" if name in self.catalog else "the file"
            raise t.TableError(shown, None, None, f"Spark could not run the query: {_first_line(err)}",
                               f"check that {what} is complete and that Spark can read it (docs/scale.md)",
                               "unreadable", table=name) from None
        results = t.collect_rows(table_aggs, rows, decl)
        out = {}
        for a in table_aggs:
            value, read, matched, groups = results[a]
            out[a] = AggregateResult(value, read, matched, shown_sql(a, scales), groups, engine=NAME)
        return out


def as_spark(a: t.Aggregate, result: AggregateResult, scales: Mapping[str, int]) -> AggregateResult:
    """A DuckDB engine's result as the Spark engine gives it (`peel verify` of a Spark trace, without Spark): the
    same values (identical by construction, docs/scale.md), with the Spark SQL and the engine's name."""
    return replace(result, sql=shown_sql(a, scales), engine=NAME)


def shown_sql(a: t.Aggregate, scales: Mapping[str, int]) -> str:
    """The Spark SQL a trace shows for the aggregate: that aggregate alone, reading from the table's view, giving
    the trace's value to the bit when run (a median or percentile: quantile_tree). `scales`: as _reader's."""
    if a.func in ("median", "percentile"):
        return quantile_tree(a, scales.get(a.column or "")).sql(dialect="spark")
    return t.standalone_tree(a, "spark").sql(dialect="spark")


# ---------------------------------------------------------------------------------------------------------------
# median and percentile, to DuckDB's bit

def _quantile(a: t.Aggregate) -> float:
    return float(t.fraction_text(50 if a.func == "median" else a.percentile))  # type: ignore[arg-type]


def _double(x: float) -> Any:
    """A DOUBLE literal (`0.999D`): Spark reads a plain `0.999` as a DECIMAL."""
    return t._exp().Literal.number(repr(x) + "D")


def quantile_tree(a: t.Aggregate, scale: int | None = None) -> Any:
    """The Spark SQL shown for a median or percentile, which gives the runner's value (DuckDB's) when run, for
    each group too: the matched values sorted (`ARRAY_SORT(COLLECT_LIST(...))`), the position `(n - 1) * q`,
    the two values either side of it and DuckDB's interpolation `lo * (1 - d) + hi * d` in double arithmetic,
    or, where this DuckDB fuses it, Java's `Math.fma(lo, 1 - d, hi * d)` (one rounding, as DuckDB's; called with
    REFLECT, whose text Spark reads back as the same double). A Parquet DECIMAL column of `scale` places is
    interpolated as DuckDB does (_exact_quantiles): on the unscaled values, cut towards zero, scaled back. Every
    aggregate of the view's rows in one pass; the sorted values of a group are held at once (as Spark's own
    PERCENTILE holds a group's distinct values)."""
    e = t._exp()
    g = a.group_by

    def name(n: str) -> str:  # a name of the inner query, other than the grouping column's
        return n + "_" if n == g else n

    def ref(n: str) -> Any:
        return e.column(name(n))

    one = e.Literal.number("1")
    matched = t.matched_tree(a)
    values = t._filtered(e.func("COLLECT_LIST", e.cast(t._col(a.column or ""), "DOUBLE")), a.where)
    pos = e.Mul(this=e.Paren(this=e.Sub(this=matched.copy(), expression=one.copy())), expression=_double(_quantile(a)))
    inner = e.select(*([t._col(g)] if g is not None else []),
                     e.alias_(e.func("ARRAY_SORT", values), name("sorted")), e.alias_(pos, name("pos")),
                     e.alias_(e.Count(this=e.Star()), name("rows_read")),
                     e.alias_(matched, name("rows_matched"))).from_(t.table_tree(a.table))
    if g is not None:
        inner = inner.group_by(t._col(g))
    d = e.Paren(this=e.Sub(this=ref("pos"), expression=e.Floor(this=ref("pos"))))
    lo, hi = (e.func("ELEMENT_AT", ref("sorted"), e.Add(this=e.cast(rank(this=ref("pos")), "INT"),
                                                       expression=one.copy())) for rank in (e.Floor, e.Ceil))
    unit = _double(float(10 ** scale)) if scale is not None else None
    if unit is not None:
        lo, hi = (e.Round(this=e.Mul(this=x, expression=unit.copy())) for x in (lo, hi))
    rest = e.Sub(this=_double(1.0), expression=d.copy())
    if t.duckdb_fuses():
        value: Any = e.cast(e.Anonymous(this="REFLECT", expressions=[
            e.Literal.string("java.lang.Math"), e.Literal.string("fma"), lo, rest, e.Mul(this=hi, expression=d)]),
            "DOUBLE")
    else:
        value = e.Add(this=e.Mul(this=lo, expression=e.Paren(this=rest)), expression=e.Mul(this=hi, expression=d))
    if unit is not None:
        value = e.Div(this=e.cast(e.cast(value, "BIGINT"), "DOUBLE"), expression=unit)
    value = e.If(this=e.EQ(this=ref("rows_matched"), expression=e.Literal.number("0")), true=e.Null(), false=value)
    outer = e.select(*([t._col(g)] if g is not None else []), e.alias_(value, "value"),
                     *(ref(n) if name(n) == n else e.alias_(ref(n), n) for n in ("rows_read", "rows_matched"))
                     ).from_(e.Subquery(this=inner, alias=e.TableAlias(this=e.to_identifier("ranked"))))
    if g is not None:
        outer = outer.order_by(e.Ordered(this=t._col(g), nulls_first=False))
    return outer


def _ranks(n: int, q: float) -> tuple[int, float]:
    """DuckDB's quantile_cont position: the lower rank (0-based) and the fraction towards the next one."""
    pos = (n - 1) * q
    lo = math.floor(pos)
    return lo, pos - lo


def _exact_quantiles(spark: Any, aggs: Sequence[t.Aggregate], rows: list[tuple[Any, ...]],
                     scales: Mapping[str, int] | None = None) -> list[tuple[Any, ...]]:
    """Replace Spark's PERCENTILE values by DuckDB's interpolation of the same two values, where they may differ
    (the rank is not a whole number: at a whole rank both give the value there, exactly). A column stored as
    DECIMAL (`scales`: column -> scale) is interpolated as DuckDB does it, on the unscaled integers, and cut
    towards zero to its scale."""
    scales = scales or {}
    e = t._exp()
    uniq = list(dict.fromkeys(aggs))
    groups = list(dict.fromkeys(a.group_by for a in uniq if a.group_by is not None))
    base = 2 * len(groups)
    wanted: list[tuple[int, int, int, float, int | None]] = []  # (row, value column, lower rank, fraction, scale)
    cols: list[Any] = []  # sqlglot expressions (sqlglot is used through tables)
    for i, a in enumerate(uniq):
        if a.func not in ("median", "percentile"):
            continue
        vi, mi = base + 1 + 2 * i, base + 2 + 2 * i
        q = _quantile(a)
        for ri, r in enumerate(rows):
            if a.group_by is None:
                mine = all(r[2 * j] == 1 for j in range(len(groups)))
                where = a.where
                key_cond: Any = None
            else:
                j = groups.index(a.group_by)
                mine = r[2 * j] == 0
                key = r[2 * j + 1]
                col = t._col(a.group_by)
                key_cond = e.Is(this=col, expression=e.Null()) if key is None else \
                    e.EQ(this=col, expression=t.literal_tree(key))
                where = a.where
            n = int(r[mi]) if mine else 0
            if not mine or n < 2:
                continue
            lo, d = _ranks(n, q)
            if d == 0:
                continue
            cond = t.filter_tree(where) if where is not None else None
            if key_cond is not None:
                cond = key_cond if cond is None else e.and_(cond, key_cond)
            for rank in (lo, lo + 1):
                # the standard discrete percentile at f is the value at rank ceil(n * f) - 1: f = (rank + 0.5) / n
                # lands in the middle of the rank, far from any rounding
                frac = e.Literal.number(repr((rank + 0.5) / n))
                node: Any = e.WithinGroup(  # written by name: sqlglot turns PercentileDisc into PERCENTILE_APPROX
                    this=e.Anonymous(this="PERCENTILE_DISC", expressions=[frac]),
                    expression=e.Order(expressions=[e.Ordered(this=t._col(a.column))]))  # type: ignore[arg-type]
                if cond is not None:
                    node = e.Filter(this=node, expression=e.Where(this=cond))
                cols.append(e.alias_(node, f"q{len(cols)}", quoted=True))
            wanted.append((ri, vi, lo, d, scales.get(a.column or "")))
    if not wanted:
        return rows
    tree = e.select(*cols).from_(t.table_tree(uniq[0].table))
    setting = "spark.sql.legacy.percentileDiscCalculation"
    before = spark.conf.get(setting, None)
    spark.conf.set(setting, "false")
    try:
        got = tuple(spark.sql(tree.sql(dialect="spark")).collect()[0])
    finally:
        if before is None:
            spark.conf.unset(setting)
        else:
            spark.conf.set(setting, before)
    out = [list(r) for r in rows]
    for k, (ri, vi, _, d, scale) in enumerate(wanted):
        lo_v, hi_v = float(got[2 * k]), float(got[2 * k + 1])
        if scale is None:
            out[ri][vi] = t.quantile_interpolate(lo_v, hi_v, d)
        else:  # DuckDB: lo*(1-d) + hi*d on the unscaled integers, then cut to an integer (towards zero)
            unit = 10 ** scale
            cut = int(t.quantile_interpolate(float(round(lo_v * unit)), float(round(hi_v * unit)), d))
            out[ri][vi] = float(Decimal(cut).scaleb(-scale))
    return [tuple(r) for r in out]
