"""Case-level tables as evidence: declared columns, filters and aggregates, the SQL that computes them, DuckDB.

A table is a CSV or Parquet file (or a glob of them) inside an evidence bundle's folder, declared with typed
columns. Aggregates over it (count, share, mean, median, percentile, min, max, optionally grouped by a column)
are built as sqlglot expression trees, never by pasting user values into SQL text, so the same aggregates can
be written for DuckDB (which runs them here) and for Spark SQL. Every result carries a query an analyst can paste
into the duckdb CLI to get the same number.

NULL semantics: an empty cell is NULL, whatever the column's type (a text column too). A comparison with a
NULL cell is unknown, and AllOf/AnyOf/Not follow three-valued logic (SQL's, and the rule language's), so a
row is counted only when its filter is true: NULL cells never match a filter, not even its negation, though
another branch of an AnyOf may still match the row. So count(x == 5) + count(not x == 5) counts the rows where
x is present. mean, median, percentile, min and max skip NULL cells; with no value left they give None
(unknown), as does share over a table with no rows.

This module is pure: it raises TableError or AggregateError and never prints. duckdb and sqlglot are imported
inside the functions that need them, so importing peelrules stays cheap.
"""
from __future__ import annotations

import csv
import datetime as dt
import difflib
import math
import re
import stat
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Mapping, Sequence, Union

from .tablefacts import AggregateResult, GroupResult
from .limits import DEFAULT_LIMITS, Limits

if TYPE_CHECKING:
    from sqlglot import exp

# ---------------------------------------------------------------------------------------------------------------
# Declarations

ColumnType = Literal["number", "count", "text", "flag", "date", "timestamp"]
COLUMN_TYPES: tuple[str, ...] = ("number", "count", "text", "flag", "date", "timestamp")
SQL_TYPES: dict[str, str] = {"number": "DOUBLE", "count": "BIGINT", "text": "VARCHAR", "flag": "BOOLEAN",
                             "date": "DATE", "timestamp": "TIMESTAMP"}
DELIMITERS: dict[str, str] = {",": "commas", ";": "semicolons", "\t": "tabs", "|": "vertical bars"}
NAME_RE = re.compile(r"[a-z_][a-z0-9_]*\Z")
# A table's name may be qualified, as the rule language names evidence: `contact.calls`.
TABLE_NAME_RE = re.compile(r"[a-z_][a-z0-9_]*(\.[a-z_][a-z0-9_]*)*\Z")


@dataclass(frozen=True)
class Column:
    name: str
    type: ColumnType
    unit: str | None = None

    def __post_init__(self) -> None:
        if not NAME_RE.match(self.name):
            raise ValueError(f"column name {self.name!r} must be snake_case (a-z, 0-9, _)")
        if self.type not in COLUMN_TYPES:
            raise ValueError(f"column {self.name!r}: unknown type {self.type!r}; one of {', '.join(COLUMN_TYPES)}")


@dataclass(frozen=True)
class TableDecl:
    """A table as a bundle declares it. path_or_glob is relative to the bundle's folder; delimiter is for CSV."""

    name: str
    path_or_glob: str
    columns: tuple[Column, ...]
    source: str = ""
    description: str = ""
    delimiter: str = ","

    def __post_init__(self) -> None:
        object.__setattr__(self, "columns", tuple(self.columns))
        if not TABLE_NAME_RE.match(self.name):
            raise ValueError(f"table name {self.name!r} must be snake_case (a-z, 0-9, _), parts joined by '.'")
        if not self.columns:
            raise ValueError(f"table {self.name!r} declares no columns")
        names = [c.name for c in self.columns]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"table {self.name!r} declares column {dupes[0]!r} twice")
        if self.delimiter not in DELIMITERS:
            raise ValueError(f"table {self.name!r}: delimiter {self.delimiter!r} is not one of , ; tab |")

    def column(self, name: str) -> Column | None:
        for c in self.columns:
            if c.name == name:
                return c
        return None


# ---------------------------------------------------------------------------------------------------------------
# Filters and aggregates

Value = Union[bool, int, float, str, dt.date, dt.datetime]
Op = Literal["==", "!=", "<", "<=", ">", ">="]
OPS: tuple[str, ...] = ("==", "!=", "<", "<=", ">", ">=")


@dataclass(frozen=True)
class Compare:
    column: str
    op: Op
    value: Value

    def __post_init__(self) -> None:
        if self.op not in OPS:
            raise ValueError(f"unknown comparison {self.op!r}; one of {' '.join(OPS)}")
        if isinstance(self.value, float) and not math.isfinite(self.value):
            raise ValueError(f"cannot compare {self.column!r} with {self.value!r}")
        if not isinstance(self.value, (bool, int, float, str, dt.date)):
            raise ValueError(f"cannot compare {self.column!r} with a {type(self.value).__name__}")


@dataclass(frozen=True)
class AllOf:
    filters: tuple[Filter, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "filters", tuple(self.filters))
        if not self.filters:
            raise ValueError("AllOf needs at least one filter")


@dataclass(frozen=True)
class AnyOf:
    filters: tuple[Filter, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "filters", tuple(self.filters))
        if not self.filters:
            raise ValueError("AnyOf needs at least one filter")


@dataclass(frozen=True)
class Not:
    filter: Filter


Filter = Union[Compare, AllOf, AnyOf, Not]

AggFunc = Literal["count", "share", "mean", "median", "percentile", "min", "max"]
AGG_FUNCS: tuple[str, ...] = ("count", "share", "mean", "median", "percentile", "min", "max")
NUMERIC = ("number", "count")
ORDERED = ("number", "count", "date", "timestamp")
COLUMN_TYPES_FOR: dict[str, tuple[str, ...]] = {
    "mean": NUMERIC, "median": NUMERIC, "percentile": NUMERIC, "min": ORDERED, "max": ORDERED}
GROUP_TYPES = ("count", "text", "flag", "date")


@dataclass(frozen=True)
class Aggregate:
    """One aggregate over one table.

    count: rows matching `where` (all rows without it). share: rows matching `where` divided by all rows of the
    table (of the group, when grouped). mean, median, percentile (0-100, linear interpolation as DuckDB's
    quantile_cont), min, max: over the non-NULL cells of `column` in the rows matching `where`.
    """

    func: AggFunc
    table: str
    column: str | None = None
    where: Filter | None = None
    percentile: float | None = None
    group_by: str | None = None

    def __post_init__(self) -> None:
        if self.func not in AGG_FUNCS:
            raise ValueError(f"unknown aggregate {self.func!r}; one of {', '.join(AGG_FUNCS)}")
        if self.func in ("count", "share"):
            if self.column is not None:
                raise ValueError(f"{self.func} counts rows; it takes no column")
            if self.func == "share" and self.where is None:
                raise ValueError("share needs a `where`: the rows to count against all rows")
        elif self.column is None:
            raise ValueError(f"{self.func} needs a column")
        if self.func == "percentile":
            p = self.percentile
            if p is None or isinstance(p, bool) or not isinstance(p, (int, float)) or not 0 <= p <= 100:
                raise ValueError("percentile needs a percentage from 0 to 100")
        elif self.percentile is not None:
            raise ValueError(f"{self.func} takes no percentage")

    def key(self) -> str:
        """Canonical text: the same aggregate always gives the same key, e.g.
        `share(calls where answer_seconds <= 10) by district`."""
        inner = self.table if self.column is None else f"{self.table}.{self.column}"
        if self.func == "percentile":
            inner += f", {_number_text(self.percentile)}"
        if self.where is not None:
            inner += f" where {filter_key(self.where)}"
        text = f"{self.func}({inner})"
        return text if self.group_by is None else f"{text} by {self.group_by}"


def _number_text(v: float | int | None) -> str:
    if isinstance(v, float) and v.is_integer() and abs(v) < 1e16:
        return str(int(v))
    return repr(v)


def value_key(v: Value) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return _number_text(v)
    if isinstance(v, str):
        return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(v, dt.datetime):
        return v.isoformat(timespec="microseconds" if v.microsecond else "seconds")
    return v.isoformat()


def filter_key(f: Filter) -> str:
    if isinstance(f, Compare):
        return f"{f.column} {f.op} {value_key(f.value)}"
    if isinstance(f, AllOf):
        return filter_key(f.filters[0]) if len(f.filters) == 1 else \
            "(" + " and ".join(filter_key(g) for g in f.filters) + ")"
    if isinstance(f, AnyOf):
        return filter_key(f.filters[0]) if len(f.filters) == 1 else \
            "(" + " or ".join(filter_key(g) for g in f.filters) + ")"
    return f"not ({filter_key(f.filter)})"


def filter_columns(f: Filter | None) -> list[Compare]:
    if f is None:
        return []
    if isinstance(f, Compare):
        return [f]
    if isinstance(f, Not):
        return filter_columns(f.filter)
    return [c for g in f.filters for c in filter_columns(g)]


def _value_fits(col: Column, v: Value) -> bool:
    if col.type in NUMERIC:
        return isinstance(v, (int, float)) and not isinstance(v, bool)
    if col.type == "text":
        return isinstance(v, str)
    if col.type == "flag":
        return isinstance(v, bool)
    if col.type == "timestamp":
        return isinstance(v, dt.datetime) and v.tzinfo is None
    return isinstance(v, dt.date) and not isinstance(v, dt.datetime)


def aggregate_problems(agg: Aggregate, decl: TableDecl) -> list[str]:
    """What is wrong with an aggregate against its table's declaration (empty when it is well typed)."""
    out: list[str] = []

    def unknown(name: str) -> str:
        close = difflib.get_close_matches(name, [c.name for c in decl.columns], n=1)
        return f"table {decl.name!r} has no column {name!r}" + (f"; did you mean {close[0]!r}?" if close else "")

    if agg.table != decl.name:
        out.append(f"aggregate over {agg.table!r} checked against table {decl.name!r}")
    if agg.column is not None:
        col = decl.column(agg.column)
        if col is None:
            out.append(unknown(agg.column))
        elif col.type not in COLUMN_TYPES_FOR[agg.func]:
            out.append(f"{agg.func} needs a column of type {' or '.join(COLUMN_TYPES_FOR[agg.func])}; "
                       f"{col.name!r} is {col.type}")
    for cmp in filter_columns(agg.where):
        col = decl.column(cmp.column)
        if col is None:
            out.append(unknown(cmp.column))
        elif not _value_fits(col, cmp.value):
            out.append(f"{cmp.column!r} is a {col.type} column; it cannot be compared with {value_key(cmp.value)}")
        elif col.type in ("text", "flag") and cmp.op not in ("==", "!="):
            out.append(f"{cmp.column!r} is a {col.type} column: compare it with == or !=, not {cmp.op}")
    if agg.group_by is not None:
        col = decl.column(agg.group_by)
        if col is None:
            out.append(unknown(agg.group_by))
        elif col.type not in GROUP_TYPES:
            out.append(f"cannot group by {col.name!r}, a {col.type} column; group by a "
                       f"{', '.join(GROUP_TYPES)} column")
    return out


class AggregateError(ValueError):
    """An aggregate that does not fit its table's declaration (unknown table or column, wrong types)."""


# ---------------------------------------------------------------------------------------------------------------
# SQL trees (sqlglot)

Dialect = Literal["duckdb", "spark"]
DIALECTS: tuple[str, ...] = ("duckdb", "spark")


def _exp() -> Any:
    from sqlglot import exp as sqlglot_exp
    return sqlglot_exp


def _col(name: str) -> exp.Column:
    return _exp().column(name, quoted=True)


def literal_tree(v: Value) -> exp.Expression:
    e = _exp()
    if isinstance(v, bool):
        return e.Boolean(this=v)
    if isinstance(v, int):
        return e.Literal.number(str(v))
    if isinstance(v, float):
        return e.Literal.number(repr(v))
    if isinstance(v, str):
        return e.Literal.string(v)
    if isinstance(v, dt.datetime):
        return e.cast(e.Literal.string(v.isoformat(sep=" ")), "TIMESTAMP")
    return e.cast(e.Literal.string(v.isoformat()), "DATE")


def filter_tree(f: Filter) -> exp.Expression:
    e = _exp()
    if isinstance(f, Compare):
        node = {"==": e.EQ, "!=": e.NEQ, "<": e.LT, "<=": e.LTE, ">": e.GT, ">=": e.GTE}[f.op]
        return node(this=_col(f.column), expression=literal_tree(f.value))
    if isinstance(f, AllOf):
        return e.and_(*(filter_tree(g) for g in f.filters))
    if isinstance(f, AnyOf):
        return e.or_(*(filter_tree(g) for g in f.filters))
    return e.not_(filter_tree(f.filter))


def _filtered(agg_node: exp.Expression, where: Filter | None) -> exp.Expression:
    if where is None:
        return agg_node
    e = _exp()
    return e.Filter(this=agg_node, expression=e.Where(this=filter_tree(where)))


def fraction_text(percentile: float) -> str:
    """90 -> '0.9', 99.9 -> '0.999': the quantile as an exact decimal literal (no 0.9990000000000001)."""
    q = (Decimal(repr(percentile)) / 100).normalize()
    return format(q, "f")


def aggregate_tree(agg: Aggregate, dialect: Dialect = "duckdb") -> exp.Expression:
    """The SQL expression for an aggregate's value (without its FROM)."""
    e = _exp()
    if agg.func in ("count", "share"):
        matched = _filtered(e.Count(this=e.Star()), agg.where)
        if agg.func == "count":
            return matched
        total = e.Nullif(this=e.Count(this=e.Star()), expression=e.Literal.number("0"))
        return e.Div(this=e.cast(matched, "DOUBLE"), expression=total)
    assert agg.column is not None
    col = _col(agg.column)
    if agg.func in ("median", "percentile"):
        q = e.Literal.number(fraction_text(50 if agg.func == "median" else agg.percentile))  # type: ignore[arg-type]
        if dialect == "spark":
            node: exp.Expression = e.Quantile(this=col, quantile=q)  # Spark: PERCENTILE(x, q), exact, interpolated
        else:
            node = e.PercentileCont(this=col, expression=q)  # DuckDB: QUANTILE_CONT(x, q)
    elif agg.func == "mean":
        return exact_mean_tree(col, agg.where, dialect)
    else:
        node = {"min": e.Min, "max": e.Max}[agg.func](this=col)
    return _filtered(node, agg.where)


FRACTION_BITS = 62  # a mean adds up the fractional parts of its values in units of 2^-62


def exact_mean_tree(col: exp.Expression, where: Filter | None, dialect: Dialect = "duckdb") -> exp.Expression:
    """A mean that every engine computes to the same bit, however it splits and orders the rows (docs/scale.md):

        CAST(SUM(CAST(FLOOR(v) AS BIGINT)) * CAST(4611686018427387904 AS HUGEINT)
             + SUM(CAST(FLOOR((v - FLOOR(v)) * POWER(2, 62)) AS BIGINT)) AS DOUBLE)
        / POWER(2, 62) / NULLIF(COUNT(x), 0)                            with v = CAST(x AS DOUBLE)

    Each value is split into its whole part and its fraction in units of 2^-62, both exact integers (the fraction
    exactly for a value of 2^-10 or more, or of -0.5 or less, or a whole number), summed exactly: DuckDB sums
    BIGINTs as a HUGEINT; Spark sums a BIGINT as a BIGINT, which overflows, so there every integer is a
    DECIMAL(38, 0) instead (slower in DuckDB, which is why the types differ). That is the exact sum in units of
    2^-62, whatever the order of the additions. It is rounded to a double once, scaled back (exact) and divided by
    the count (rounded once): Python's `math.fsum(values) / len(values)`."""
    e = _exp()
    v = e.cast(col.copy(), "DOUBLE")  # a Parquet DECIMAL as DuckDB and Spark both read it: the nearest double
    scale = e.Pow(this=e.Literal.number("2"), expression=e.Literal.number(str(FRACTION_BITS)))
    each, total_type = ("BIGINT", "HUGEINT") if dialect == "duckdb" else ("DECIMAL(38, 0)", "DECIMAL(38, 0)")

    def exact_sum(x: exp.Expression) -> exp.Expression:
        return _filtered(e.Sum(this=e.cast(e.Floor(this=x), each)), where)

    whole = e.Mul(this=exact_sum(v), expression=e.cast(e.Literal.number(str(2 ** FRACTION_BITS)), total_type))
    fraction = exact_sum(e.Mul(this=e.Paren(this=e.Sub(this=v.copy(), expression=e.Floor(this=v.copy()))),
                               expression=scale))
    total = e.Div(this=e.cast(e.Add(this=whole, expression=fraction), "DOUBLE"), expression=scale.copy())
    count = e.Nullif(this=_filtered(e.Count(this=col.copy()), where), expression=e.Literal.number("0"))
    return e.Div(this=total, expression=count)


def matched_tree(agg: Aggregate) -> exp.Expression:
    """The rows an aggregate used: rows matching `where`, and for a column aggregate with a value in the column."""
    e = _exp()
    counted = e.Star() if agg.column is None else _col(agg.column)
    return _filtered(e.Count(this=counted), agg.where)


def table_tree(name: str) -> exp.Table:
    """The table as a plain name: a view or catalog table (Spark registers the files as a view of this name)."""
    return _exp().Table(this=_exp().to_identifier(name, quoted=True))


def _check_dialect(dialect: str) -> None:
    if dialect not in DIALECTS:
        raise ValueError(f"unknown SQL dialect {dialect!r}; one of {', '.join(DIALECTS)}")


def _unique(aggs: Sequence[Aggregate]) -> list[Aggregate]:
    seen: dict[Aggregate, None] = {}
    for a in aggs:
        seen.setdefault(a, None)
    return list(seen)


def query(aggs: Sequence[Aggregate], dialect: Dialect = "duckdb",
          source: exp.Expression | None = None) -> exp.Select:
    """One query computing every aggregate of one table in one pass.

    Columns: rows_read, then a<i>_value and a<i>_matched for each distinct aggregate in order. When some
    aggregates are grouped, the query groups by GROUPING SETS (the empty set and each grouping column), adds
    g<j>_grouping (0 on the rows grouped by column j) and g<j>_key columns; ungrouped aggregates are read from
    the row where every grouping is 1. `source` is the FROM (a file reader); without it, the table's name.
    """
    _check_dialect(dialect)
    e = _exp()
    aggs = _unique(aggs)
    if not aggs:
        raise ValueError("no aggregates to query")
    tables = {a.table for a in aggs}
    if len(tables) != 1:
        raise ValueError(f"one query is for one table, not {', '.join(sorted(tables))}")
    groups = list(dict.fromkeys(a.group_by for a in aggs if a.group_by is not None))
    cols: list[exp.Expression] = []
    for j, g in enumerate(groups):
        cols.append(e.alias_(e.Grouping(expressions=[_col(g)]), f"g{j}_grouping", quoted=True))
        cols.append(e.alias_(_col(g), f"g{j}_key", quoted=True))
    cols.append(e.alias_(e.Count(this=e.Star()), "rows_read", quoted=True))
    for i, a in enumerate(aggs):
        cols.append(e.alias_(aggregate_tree(a, dialect), f"a{i}_value", quoted=True))
        cols.append(e.alias_(matched_tree(a), f"a{i}_matched", quoted=True))
    select = e.select(*cols).from_(source if source is not None else table_tree(aggs[0].table))
    if groups:
        sets = [e.Tuple(expressions=[])] + [e.Paren(this=_col(g)) for g in groups]
        select = select.group_by(e.GroupingSets(expressions=sets))
    return select


def standalone_tree(agg: Aggregate, dialect: Dialect = "duckdb",
                    source: exp.Expression | None = None) -> exp.Select:
    """The query for one aggregate alone, as shown in a trace: value, rows_read, rows_matched (per group)."""
    _check_dialect(dialect)
    e = _exp()
    cols: list[exp.Expression] = []
    if agg.group_by is not None:
        cols.append(_col(agg.group_by))
    cols += [e.alias_(aggregate_tree(agg, dialect), "value"),
             e.alias_(e.Count(this=e.Star()), "rows_read"),
             e.alias_(matched_tree(agg), "rows_matched")]
    select = e.select(*cols).from_(source if source is not None else table_tree(agg.table))
    if agg.group_by is not None:
        select = select.group_by(_col(agg.group_by)).order_by(
            e.Ordered(this=_col(agg.group_by), nulls_first=False))
    return select


def reader_tree(files: Sequence[Path], fmt: Literal["csv", "parquet"], header: Sequence[Column],
                delimiter: str = ",") -> exp.Table:
    """DuckDB's read_csv / read_parquet over the files, paths inlined, so the query can be pasted as it is.
    A CSV is read with the declared types in the file's column order and no auto-detection."""
    e = _exp()
    paths = [e.Literal.string(str(p)) for p in files]
    first: exp.Expression = paths[0] if len(paths) == 1 else e.Array(expressions=paths)
    if fmt == "parquet":
        return e.Table(this=e.ReadParquet(expressions=[first]))

    def opt(name: str, value: exp.Expression) -> exp.Expression:
        return e.EQ(this=e.column(name), expression=value)

    columns = e.Struct(expressions=[e.PropertyEQ(this=e.to_identifier(c.name),
                                                 expression=e.Literal.string(SQL_TYPES[c.type])) for c in header])
    return e.Table(this=e.ReadCSV(this=first, expressions=[
        opt("header", e.true()), opt("delim", e.Literal.string(delimiter)), opt("quote", e.Literal.string('"')),
        opt("escape", e.Literal.string('"')), opt("columns", columns), opt("auto_detect", e.false()),
        opt("strict_mode", e.true())]))


def sql_text(tree: exp.Expression, dialect: Dialect = "duckdb") -> str:
    _check_dialect(dialect)
    return tree.sql(dialect=dialect)


# ---------------------------------------------------------------------------------------------------------------
# Errors, files

class TableError(Exception):
    """A table that cannot be used. `row` is the file's line number for a CSV (1 is the header) and the 1-based
    row number for a Parquet file; None when the problem is not at a row. `kind` is stable, for tests and codes.
    `table`: the table's name, where the raiser knows it (a run over several tables)."""

    def __init__(self, file: str, row: int | None, column: str | None, message: str, hint: str,
                 kind: str = "table", table: str | None = None) -> None:
        self.file, self.row, self.column = file, row, column
        self.message, self.hint, self.kind, self.table = message, hint, kind, table
        super().__init__(str(self))

    def __str__(self) -> str:
        where = self.file if self.row is None else f"{self.file}:{self.row}"
        col = f" column {self.column!r}:" if self.column else ""
        return f"{where}:{col} {self.message} ({self.hint})"


def overflow_error(file: str, aggs: Sequence[Aggregate], table: str | None = None) -> TableError:
    """The error for a query that overflowed: a mean's exact sum (exact_mean_tree) that DECIMAL(38, 0) cannot
    hold, the one overflow the aggregates' SQL can meet."""
    means = ", ".join(dict.fromkeys(repr(a.column) for a in aggs if a.func == "mean")) or "a column"
    return TableError(file, None, None, f"the values of {means} add up to more than a mean can sum exactly",
                      "a mean sums its values exactly: each must be below 2^63 (about 9.2 x 10^18) and their whole "
                      "parts must add up to less than about 2 x 10^19, either side of zero (docs/scale.md); express "
                      "the column in a larger unit", "overflow",
                      table=table)


@dataclass(frozen=True)
class ResolvedTable:
    decl: TableDecl
    files: tuple[Path, ...]  # absolute, inside the bundle folder, no symlinks, sorted
    shown: tuple[str, ...]  # the same files as the bundle names them (relative, with /)
    format: Literal["csv", "parquet"]


GLOB_CHARS = re.compile(r"[*?\[]")


def resolve(decl: TableDecl, bundle_folder: str | Path, limits: Limits = DEFAULT_LIMITS) -> ResolvedTable:
    """The files of a table. The path or glob is relative to the bundle folder and must stay inside it: no
    absolute path, no `..`, no `**`, no symlink in any component below the folder; regular files only, each no
    larger than limits.max_table_bytes (from its size, before it is opened); all .csv or all .parquet."""
    pattern = decl.path_or_glob
    shown = pattern or "<empty path>"

    def refuse(message: str, hint: str, kind: str, file: str = shown) -> TableError:
        return TableError(file, None, None, message, hint, kind)

    base = Path(bundle_folder).resolve()
    parts = pattern.replace("\\", "/").split("/")
    if not pattern or pattern.startswith("/") or "\\" in pattern or re.match(r"[A-Za-z]:", pattern):
        raise refuse("the table's file must be a relative path inside the bundle's folder",
                     "write it relative to the evidence file, with /, e.g. tables/calls.parquet", "outside_folder")
    if any(p == ".." for p in parts):
        raise refuse("the table's path leaves the bundle's folder (..)",
                     "copy the file into the bundle's folder and name it from there", "outside_folder")
    if "**" in pattern:
        raise refuse("a table's glob cannot use **", "name the folder, e.g. tables/calls-*.csv", "bad_glob")
    if GLOB_CHARS.search(pattern):
        matches = sorted(base.glob(pattern))
        if not matches:
            raise refuse("no file matches the table's glob", "check the pattern and the files' names", "missing")
    else:
        matches = [base / pattern]
    if len(matches) > limits.max_table_files:
        raise refuse(f"the glob matches {len(matches)} files, more than {limits.max_table_files}",
                     "combine the files, or raise the limit with --limit max_table_files=N", "too_many_files")
    files: list[Path] = []
    names: list[str] = []
    for path in matches:
        rel = path.relative_to(base)
        name = rel.as_posix()
        walked = base
        for part in rel.parts:
            walked = walked / part
            if walked.is_symlink():
                raise refuse(f"{walked.relative_to(base).as_posix()!r} is a symbolic link; tables are not read "
                             "through links", "copy the file itself into the bundle's folder", "symlink", name)
        try:
            st = path.lstat()
        except FileNotFoundError:
            raise refuse("the file does not exist", "check the table's `file:` and the file's name",
                         "missing", name) from None
        except OSError as err:
            raise refuse(f"the file cannot be read ({err.strerror})", "check its permissions",
                         "unreadable", name) from None
        if not stat.S_ISREG(st.st_mode):
            raise refuse("not a regular file", "name a CSV or Parquet file", "not_a_file", name)
        if not path.resolve().is_relative_to(base):
            raise refuse("the file is outside the bundle's folder", "copy it into the bundle's folder",
                         "outside_folder", name)
        if st.st_size > limits.max_table_bytes:
            raise refuse(f"{st.st_size} bytes, more than the {limits.max_table_bytes} a table file may hold",
                         "split the table, or raise the limit with --limit max_table_bytes=N", "too_large", name)
        files.append(path.resolve())
        names.append(name)
    suffixes = {p.suffix.lower() for p in files}
    if len(suffixes) > 1:
        raise refuse("the glob matches both CSV and Parquet files", "keep one format per table", "mixed_formats")
    suffix = suffixes.pop()
    if suffix not in (".csv", ".parquet"):
        raise refuse(f"tables are .csv or .parquet files, not {suffix or 'files without a suffix'}",
                     "save the table as CSV (UTF-8, comma-separated) or Parquet", "format", names[0])
    return ResolvedTable(decl, tuple(files), tuple(names), "csv" if suffix == ".csv" else "parquet")


# ---------------------------------------------------------------------------------------------------------------
# Cell checks: one pattern per type, used both by DuckDB (regexp_full_match, RE2) and by Python (re) so the two
# agree on what is valid. Dates and timestamps are also checked as real calendar days (TRY_CAST / fromisoformat).

_DATE = r"\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])"
CELL_PATTERNS: dict[str, str] = {
    "number": r"-?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?",
    "count": r"\d+",
    "flag": r"(?i)(true|false)",
    "date": _DATE,
    "timestamp": _DATE + r"[ T]([01]\d|2[0-3]):[0-5]\d(:[0-5]\d(\.\d{1,6})?)?",
}
CELL_HINTS: dict[str, str] = {
    "number": "write a plain number such as 12 or 3.5, without units, spaces or thousands separators; "
              "leave the cell empty when there is no value",
    "count": "write a whole number of zero or more, such as 0 or 17; leave the cell empty when there is no value",
    "flag": "write true or false; leave the cell empty when it is not known",
    "date": "write the date as YYYY-MM-DD, e.g. 2021-03-31",
    "timestamp": "write the time as YYYY-MM-DD HH:MM:SS (or with T between), e.g. 2021-03-31 14:05:00",
}
_COMPILED = {t: re.compile(p + r"\Z") for t, p in CELL_PATTERNS.items()}


def cell_ok(col_type: str, text: str) -> bool:
    """Whether a CSV cell is a valid value of the type (an empty cell is NULL, valid for every type)."""
    if text == "" or col_type == "text":
        return True
    if not _COMPILED[col_type].match(text):
        return False
    try:
        if col_type == "number":
            return math.isfinite(float(text))
        if col_type == "count":
            return int(text) < 2 ** 63
        if col_type == "date":
            dt.date.fromisoformat(text)
        elif col_type == "timestamp":
            dt.datetime.fromisoformat(text)
    except ValueError:
        return False
    return True


def _shorten(text: str, n: int = 40) -> str:
    return repr(text if len(text) <= n else text[:n] + "...")


def _check_header(header: Sequence[str], decl: TableDecl, shown: str, row: int | None) -> None:
    declared = [c.name for c in decl.columns]
    seen: set[str] = set()
    for h in header:
        if h in seen:
            raise TableError(shown, row, h, f"the header names column {h!r} twice",
                             "give every column its own name", "duplicate_column")
        seen.add(h)
    missing = [n for n in declared if n not in seen]
    extra = [h for h in header if h not in declared]
    if missing:
        close = difflib.get_close_matches(missing[0], extra, n=1)
        spaced = [h for h in extra if h.strip() in missing]
        hint = (f"the header has {close[0]!r}; rename it to {missing[0]!r} in the file or the declaration"
                if close else "add the column to the file, or remove it from the table's declaration")
        if spaced:
            hint = f"the header's {spaced[0]!r} has spaces around the name; remove them"
        raise TableError(shown, row, missing[0],
                         f"declared column{'s' if len(missing) > 1 else ''} "
                         f"{', '.join(repr(m) for m in missing)} not in the file's header", hint, "missing_column")
    if extra:
        raise TableError(shown, row, extra[0],
                         f"the file has column{'s' if len(extra) > 1 else ''} {', '.join(repr(x) for x in extra)} "
                         "that the table does not declare",
                         "declare it in the table's `columns:`, or remove it from the file", "extra_column")


def _bom_check(path: Path, shown: str) -> None:
    with path.open("rb") as f:
        head = f.read(4)
    if head.startswith((b"\xff\xfe", b"\xfe\xff", b"\x00\x00\xfe\xff")):
        raise TableError(shown, 1, None, "the file is UTF-16 or UTF-32, not UTF-8",
                         "save it as 'CSV UTF-8 (comma delimited)'", "encoding")


def first_non_utf8_line(path: Path) -> int:
    """The file line holding the first bytes that are not UTF-8 (text is decoded in blocks, so the csv reader's
    line count cannot say). Splitting on newline bytes is safe: no UTF-8 sequence contains one."""
    with path.open("rb") as f:
        for number, raw in enumerate(f, start=1):
            try:
                raw.decode("utf-8")
            except UnicodeDecodeError:
                return number
    return 1


def _csv_reader(f: Any, delimiter: str) -> Any:
    return csv.reader(f, delimiter=delimiter, quotechar='"', doublequote=True, strict=True)


def read_csv_header(path: Path, shown: str, decl: TableDecl) -> tuple[list[str], bool]:
    """The header of a CSV (a UTF-8 byte order mark is skipped) and whether a data row follows. Refuses an
    empty file, a file in another delimiter than the declared one, and a header that does not match."""
    if path.stat().st_size == 0:
        raise TableError(shown, None, None, "the file is empty",
                         f"a table needs a header line naming its columns: "
                         f"{decl.delimiter.join(c.name for c in decl.columns)}", "empty")
    _bom_check(path, shown)
    header: list[str] | None = None
    header_line = 1
    has_row = False
    try:
        with path.open(encoding="utf-8-sig", newline="") as f:
            reader = _csv_reader(f, decl.delimiter)
            header = next((r for r in reader if r), None)
            header_line = reader.line_num
            try:
                has_row = next(reader, None) is not None
            except csv.Error:
                has_row = True  # a bad row after the header: scan_csv names it
    except UnicodeDecodeError:
        line = first_non_utf8_line(path)
        if header is None or line == 1:
            raise TableError(shown, line, None, "the line is not UTF-8 text",
                             "save the file as 'CSV UTF-8 (comma delimited)'", "encoding") from None
        has_row = True  # the bad bytes are further down: scan_csv names the line
    except csv.Error as err:
        raise TableError(shown, header_line, None, f"the header cannot be read as CSV ({err})",
                         "quote a cell with \" at both ends, and double a \" inside it", "bad_quoting") from None
    if header is None or all(not h.strip() for h in header):
        raise TableError(shown, None, None, "the file has no header line",
                         f"a table needs a header line naming its columns: "
                         f"{decl.delimiter.join(c.name for c in decl.columns)}", "empty")
    if len(header) == 1 and len(decl.columns) > 1:
        for d, name in DELIMITERS.items():
            if d != decl.delimiter and len(header[0].split(d)) > 1:
                shown_d = "tab" if d == "\t" else d
                raise TableError(
                    shown, header_line, None,
                    f"the header is one column; the file looks separated by {name}, not "
                    f"{DELIMITERS[decl.delimiter]}",
                    f"declare `delimiter: \"{shown_d}\"` for the table (write the tab as \"\\t\"), or save the "
                    "file comma-separated", "delimiter")
    _check_header(header, decl, shown, header_line)
    if not has_row:
        raise TableError(shown, None, None, "the file has a header but no rows",
                         "a table needs at least one row; leave the table out of the bundle when there is no data",
                         "header_only")
    return header, True


def scan_csv(path: Path, shown: str, decl: TableDecl, header: Sequence[str]) -> TableError | None:
    """The first bad row of a CSV, read in Python: a row with the wrong number of cells, bad quoting, bytes that
    are not UTF-8, or a cell that is not a value of its column's type. None when every row is good. Blank lines
    are skipped (as DuckDB does), except in a one-column file where a blank line is an empty cell."""
    types = [decl.column(h).type for h in header]  # type: ignore[union-attr]
    line = 0
    try:
        with path.open(encoding="utf-8-sig", newline="") as f:
            reader = _csv_reader(f, decl.delimiter)
            first = True
            while True:
                line = reader.line_num + 1
                try:
                    row = next(reader)
                except StopIteration:
                    return None
                if first:
                    if not row:
                        continue
                    first = False
                    continue
                if not row:
                    if len(header) > 1:
                        continue
                    row = [""]
                if len(row) != len(header):
                    col = header[len(row)] if len(row) < len(header) else None
                    return TableError(shown, line, col,
                                      f"the row has {len(row)} cells; the header has {len(header)}",
                                      "give every row one cell per column (an empty cell for no value); check for "
                                      f"an unquoted {DELIMITERS[decl.delimiter][:-1]} inside a cell",
                                      "ragged_row")
                for name, kind, cell in zip(header, types, row):
                    if not cell_ok(kind, cell):
                        return TableError(shown, line, name, f"{_shorten(cell)} is not a {kind}",
                                          CELL_HINTS[kind], "wrong_type")
    except UnicodeDecodeError:
        return TableError(shown, first_non_utf8_line(path), None, "the line is not UTF-8 text",
                          "save the file as 'CSV UTF-8 (comma delimited)'", "encoding")
    except csv.Error as err:
        return TableError(shown, line, None, f"the row cannot be read as CSV ({err})",
                          "quote a cell with \" at both ends, and double a \" inside it", "bad_quoting")


# ---------------------------------------------------------------------------------------------------------------
# The engine

@dataclass(frozen=True)
class ValidatedTable:
    resolved: ResolvedTable
    header: tuple[Column, ...]  # the declared columns in the files' order
    rows: int

    def reader(self, relative: bool = False) -> exp.Table:
        """read_csv / read_parquet over the files: absolute paths, or (relative=True) the paths as the bundle
        names them, to be run from the bundle's folder."""
        r = self.resolved
        files = [Path(s) for s in r.shown] if relative else list(r.files)
        return reader_tree(files, r.format, self.header, r.decl.delimiter)


# GroupResult and AggregateResult live in tablefacts.py, with the bundle that holds them (no tables code needed to
# read a bundle back from the disk cache).


PARQUET_TYPES: dict[str, tuple[str, ...]] = {
    "number": ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT", "UINTEGER",
               "UBIGINT", "FLOAT", "DOUBLE", "DECIMAL"),
    "count": ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "UTINYINT", "USMALLINT", "UINTEGER", "UBIGINT"),
    "text": ("VARCHAR",),
    "flag": ("BOOLEAN",),
    "date": ("DATE",),
    "timestamp": ("TIMESTAMP", "TIMESTAMP_S", "TIMESTAMP_MS", "TIMESTAMP_NS"),
}


def parquet_scales(files: Sequence[Path]) -> dict[str, int]:
    """The scale of each DECIMAL column of a table's Parquet files, by name (none for CSV files): what the Spark
    engine keeps in a median or percentile (spark_engine._reader finds the same in Spark's schema)."""
    if not files or any(f.suffix.lower() != ".parquet" for f in files):
        return {}
    import duckdb

    con = duckdb.connect(":memory:", config={"autoinstall_known_extensions": False,
                                             "autoload_known_extensions": False})
    try:
        described = con.execute("DESCRIBE SELECT * FROM read_parquet(?)", [[str(f) for f in files]]).fetchall()
    finally:
        con.close()
    found = ((str(row[0]), re.fullmatch(r"DECIMAL\(\d+,\s*(\d+)\)", str(row[1]))) for row in described)
    return {name: int(m.group(1)) for name, m in found if m}


# What a typed column (a Parquet file's, a catalog table's) may not hold, for every engine: the value is not
# checked as text, as a CSV cell is (CELL_PATTERNS), but as the type the file or catalog stores.
BAD_VALUES: dict[str, tuple[str, str]] = {  # declared type: (what is wrong, what to do)
    "count": ("a negative count", CELL_HINTS["count"]),
    "number": ("NaN or infinity", "write the value as a finite number, or as NULL when there is none"),
}


def bad_value_checks(columns: Sequence[Column], floating: set[str]) -> list[tuple[Column, exp.Expression]]:
    """Each column whose values can be bad, with the condition its bad values meet (a NULL is not bad): a count
    below zero; a number stored as floating point (`floating`: those columns' names) that is NaN or infinite.
    The same in DuckDB's SQL and Spark's (Spark has ISNAN but no ISINF, hence `ABS(x) = 'Infinity'`)."""
    e = _exp()
    out: list[tuple[Column, exp.Expression]] = []
    for c in columns:
        if c.type == "count":
            out.append((c, e.LT(this=_col(c.name), expression=e.Literal.number("0"))))
        elif c.type == "number" and c.name in floating:
            infinity = e.cast(e.Literal.string("Infinity"), "DOUBLE")
            out.append((c, e.or_(e.IsNan(this=_col(c.name)),
                                 e.EQ(this=e.Abs(this=_col(c.name)), expression=infinity))))
    return out


def bad_value_error(file: str, row: int | None, col: Column, found: tuple[int, Value] | None = None,
                    table: str | None = None) -> TableError:
    """The error for a bad value (bad_value_tree) of the column: at a row of a file, or `found` (how many rows
    hold one, and one of them) in a table without rows to name (a catalog table's)."""
    what, hint = BAD_VALUES[col.type]
    if found is not None:
        n, value = found
        what = f"{n} row{'s hold' if n != 1 else ' holds'} {what}, such as {value_key(value)}"
    return TableError(file, row, col.name, what, hint, "wrong_type", table=table)


def no_rows_error(file: str, table: str | None = None) -> TableError:
    return TableError(file, None, None, "the table has no rows",
                      "a table needs at least one row; leave it out of the bundle when there is no data",
                      "header_only", table=table)


def _parquet_type_ok(col_type: str, sql_type: str) -> bool:
    return sql_type.split("(")[0] in PARQUET_TYPES[col_type]


def _convert(value: Any, col_type: str | None) -> Value | None:
    if value is None:
        return None
    if col_type == "count":
        return int(value)
    if col_type == "number" or isinstance(value, Decimal):
        return float(value)
    return value  # type: ignore[no-any-return]


class TableEngine:
    """Validates declared tables and runs aggregates over them on DuckDB.

    Each connection is in memory, can read only the table files (DuckDB's allowed_paths, external access off),
    never installs or loads an extension, and runs on `threads` threads (1 by default; a mean is exact whatever
    the number: exact_mean_tree).

    sql_paths: how each result's pasteable SQL names the files: "relative" (default) as the bundle names them,
    so a trace is the same on every machine and the query runs from the bundle's folder; "absolute" to run it
    from anywhere on this machine."""

    def __init__(self, tables: Mapping[str, TableDecl] | Sequence[TableDecl], bundle_folder: str | Path,
                 limits: Limits = DEFAULT_LIMITS, threads: int = 1,
                 sql_paths: Literal["relative", "absolute"] = "relative") -> None:
        if sql_paths not in ("relative", "absolute"):
            raise ValueError(f"sql_paths is 'relative' or 'absolute', not {sql_paths!r}")
        self.sql_paths = sql_paths
        decls = list(tables.values()) if isinstance(tables, Mapping) else list(tables)
        self.tables: dict[str, TableDecl] = {d.name: d for d in decls}
        self.bundle_folder = Path(bundle_folder)
        self.limits = limits
        self.threads = threads
        self._validated: dict[str, ValidatedTable] = {}

    def _connect(self, files: Sequence[Path]) -> Any:
        import duckdb

        con = duckdb.connect(":memory:", config={
            "threads": self.threads, "autoinstall_known_extensions": False, "autoload_known_extensions": False})
        con.execute("SET allowed_paths = ?", [[str(p) for p in files]])
        con.execute("SET enable_external_access = false")
        return con

    def validate(self, decl: TableDecl | str) -> ValidatedTable:
        """Check a table's files against its declaration, or raise TableError naming file, row and column."""
        if isinstance(decl, str):
            decl = self.tables[decl]
        cached = self._validated.get(decl.name)
        if cached is not None and cached.resolved.decl == decl:
            return cached
        resolved = resolve(decl, self.bundle_folder, self.limits)
        if resolved.format == "csv":
            checked = self._validate_csv(resolved)
        else:
            checked = self._validate_parquet(resolved)
        self._validated[decl.name] = checked
        return checked

    def _validate_csv(self, r: ResolvedTable) -> ValidatedTable:
        import duckdb

        decl = r.decl
        headers = [read_csv_header(p, s, decl)[0] for p, s in zip(r.files, r.shown)]
        for h, s in zip(headers[1:], r.shown[1:]):
            if h != headers[0]:
                raise TableError(s, 1, None, f"the columns are in another order than in {r.shown[0]!r}",
                                 "put the columns of every file of the table in the same order", "column_order")
        header = tuple(decl.column(h) for h in headers[0])  # type: ignore[misc]
        # Fast check in DuckDB over every file as text: the row count and, per typed column, the cells that do
        # not match the type's pattern. If anything is wrong, Python reads the files again to name the row.
        e = _exp()
        as_text = tuple(Column(c.name, "text") for c in header)
        cols: list[exp.Expression] = [e.Count(this=e.Star())]
        for c in header:
            if c.type == "text":
                continue
            bad: exp.Expression = e.not_(e.RegexpFullMatch(this=_col(c.name),
                                                           expression=e.Literal.string(CELL_PATTERNS[c.type])))
            if c.type in ("date", "timestamp"):
                bad = e.or_(bad, e.Is(this=e.TryCast(this=_col(c.name), to=e.DataType.build(SQL_TYPES[c.type])),
                                      expression=e.Null()))
            if c.type in ("count", "number"):
                bad = e.or_(bad, e.Is(this=e.TryCast(this=_col(c.name), to=e.DataType.build(SQL_TYPES[c.type])),
                                      expression=e.Null()))
                if c.type == "number":
                    bad = e.or_(bad, e.Anonymous(this="isinf", expressions=[
                        e.TryCast(this=_col(c.name), to=e.DataType.build("DOUBLE"))]))
            present = e.not_(e.Is(this=_col(c.name), expression=e.Null()))
            cols.append(e.Filter(this=e.Count(this=e.Star()), expression=e.Where(this=e.and_(present, bad))))
        check = e.select(*cols).from_(reader_tree(r.files, "csv", as_text, decl.delimiter))
        con = self._connect(r.files)
        try:
            counts = con.execute(check.sql(dialect="duckdb")).fetchone()
            failed: str | None = None if not any(counts[1:]) else "bad cells"
        except duckdb.Error as err:
            counts, failed = None, str(err).splitlines()[0]
        finally:
            con.close()
        if failed is not None:
            for p, s in zip(r.files, r.shown):
                problem = scan_csv(p, s, decl, headers[0])
                if problem is not None:
                    raise problem
            raise TableError(r.shown[0], None, None, f"DuckDB cannot read the table: {failed}",
                             "save the file again as 'CSV UTF-8 (comma delimited)'", "unreadable")
        assert counts is not None
        return ValidatedTable(r, header, int(counts[0]))

    def _validate_parquet(self, r: ResolvedTable) -> ValidatedTable:
        import duckdb

        decl = r.decl
        con = self._connect(r.files)
        try:
            names0: list[str] | None = None
            total = 0
            for p, s in zip(r.files, r.shown):
                corrupt = TableError(s, None, None, "not a readable Parquet file",
                                     "write the file again (e.g. COPY ... TO 'f.parquet' (FORMAT parquet))",
                                     "corrupt")
                size = p.stat().st_size
                with p.open("rb") as f:
                    head = f.read(4)
                    f.seek(max(size - 4, 0))
                    tail = f.read(4)
                if size < 12 or head != b"PAR1" or tail != b"PAR1":
                    raise corrupt
                try:
                    described = con.execute("DESCRIBE SELECT * FROM read_parquet(?)", [str(p)]).fetchall()
                except duckdb.Error:
                    raise corrupt from None
                names = [row[0] for row in described]
                _check_header(names, decl, s, None)
                if names0 is None:
                    names0 = names
                elif names != names0:
                    raise TableError(s, None, None, f"the columns are in another order than in {r.shown[0]!r}",
                                     "write every file of the table with the same columns in the same order",
                                     "column_order")
                types = {row[0]: str(row[1]) for row in described}
                for c in decl.columns:
                    if not _parquet_type_ok(c.type, types[c.name]):
                        raise TableError(s, None, c.name, f"the column holds {types[c.name]}, not a {c.type}",
                                         f"write it as one of {', '.join(PARQUET_TYPES[c.type])}, or declare the "
                                         "column's type to match", "wrong_type")
                checks = [(c, w.sql(dialect="duckdb")) for c, w in bad_value_checks(
                    decl.columns, {c.name for c in decl.columns if types[c.name] in ("FLOAT", "DOUBLE")})]
                # a filter on every column decodes every page once (count(column) alone is answered from the
                # file's statistics), so damaged data is refused here rather than part way through a run
                every = "".join(f', count(*) FILTER (WHERE "{c.name}" IS NOT NULL)' for c in decl.columns)
                sql = "SELECT count(*)" + "".join(f", count(*) FILTER (WHERE {w})" for _, w in checks) + \
                      every + " FROM read_parquet(?)"
                try:
                    counts = con.execute(sql, [str(p)]).fetchone()
                except duckdb.Error:
                    raise corrupt from None
                for (col, w), n in zip(checks, counts[1:1 + len(checks)]):
                    if n:
                        row = con.execute(f"SELECT min(file_row_number) + 1 FROM read_parquet(?, "
                                          f"file_row_number = true) WHERE {w}", [str(p)]).fetchone()[0]
                        raise bad_value_error(s, int(row), col)
                total += int(counts[0])
        finally:
            con.close()
        if total == 0:
            raise no_rows_error(r.shown[0])
        assert names0 is not None
        header = tuple(decl.column(n) for n in names0)  # type: ignore[misc]
        return ValidatedTable(r, header, total)

    def checked(self, aggregates: Sequence[Aggregate]) -> list[Aggregate]:
        """The aggregates, each once, in order; AggregateError for one that does not fit its table (any engine
        runs only what this accepts)."""
        aggs = _unique(aggregates)
        for a in aggs:
            decl = self.tables.get(a.table)
            if decl is None:
                close = difflib.get_close_matches(a.table, list(self.tables), n=1)
                raise AggregateError(f"no table {a.table!r}" + (f"; did you mean {close[0]!r}?" if close else ""))
            problems = aggregate_problems(a, decl)
            if problems:
                raise AggregateError(f"{a.key()}: {problems[0]}")
        return aggs

    def run(self, aggregates: Sequence[Aggregate]) -> dict[Aggregate, AggregateResult]:
        """Every aggregate, one query per table; results in the order given (duplicates once)."""
        import duckdb

        aggs = self.checked(aggregates)
        out: dict[Aggregate, AggregateResult] = {}
        for name, table_aggs in by_table(aggs).items():
            checked = self.validate(self.tables[name])
            reader = checked.reader()
            tree = query(table_aggs, "duckdb", reader)
            con = self._connect(checked.resolved.files)
            try:
                rows = con.execute(tree.sql(dialect="duckdb")).fetchall()
            except (duckdb.OutOfRangeException, duckdb.ConversionException):  # a mean's sum, or one value
                raise overflow_error(checked.resolved.shown[0], table_aggs) from None
            except duckdb.Error as err:
                raise TableError(checked.resolved.shown[0], None, None,
                                 f"DuckDB could not read the table: {str(err).splitlines()[0]}",
                                 "check that the file is complete; write it again", "unreadable") from None
            finally:
                con.close()
            results = collect_rows(table_aggs, rows, self.tables[name])
            shown = checked.reader(relative=True) if self.sql_paths == "relative" else reader
            for a in table_aggs:
                value, read, matched, groups = results[a]
                sql = standalone_tree(a, "duckdb", shown).sql(dialect="duckdb")
                out[a] = AggregateResult(value, read, matched, sql, groups)
        return {a: out[a] for a in aggs}


def _value_type(agg: Aggregate, decl: TableDecl) -> str | None:
    if agg.func == "count":
        return "count"
    if agg.func in ("min", "max"):
        return decl.column(agg.column).type  # type: ignore[arg-type, union-attr]
    return "number"


def by_table(aggs: Sequence[Aggregate]) -> dict[str, list[Aggregate]]:
    """The aggregates of each table, in order of first use: one query each."""
    out: dict[str, list[Aggregate]] = {}
    for a in aggs:
        out.setdefault(a.table, []).append(a)
    return out


def collect_rows(aggs: Sequence[Aggregate], rows: Sequence[tuple[Any, ...]], decl: TableDecl
                 ) -> dict[Aggregate, tuple[Value | None, int, int, tuple[GroupResult, ...]]]:
    """Read the rows of query(aggs) (from any engine): the ungrouped row for plain aggregates, the grouped rows
    for the rest. Values are converted to the column's Python type (a count an int, a number a float)."""
    groups = list(dict.fromkeys(a.group_by for a in aggs if a.group_by is not None))
    base = 2 * len(groups)
    total_row = next(r for r in rows if all(r[2 * j] == 1 for j in range(len(groups))))
    total = int(total_row[base])
    out: dict[Aggregate, tuple[Value | None, int, int, tuple[GroupResult, ...]]] = {}
    for i, a in enumerate(aggs):
        vi, mi = base + 1 + 2 * i, base + 2 + 2 * i
        kind = _value_type(a, decl)
        if a.group_by is None:
            out[a] = (_convert(total_row[vi], kind), total, int(total_row[mi]), ())
            continue
        j = groups.index(a.group_by)
        key_type = decl.column(a.group_by).type  # type: ignore[union-attr]
        mine = [r for r in rows if r[2 * j] == 0]
        results = [GroupResult(_convert(r[2 * j + 1], key_type), _convert(r[vi], kind), int(r[base]), int(r[mi]))
                   for r in mine]
        results.sort(key=lambda g: (g.key is None, g.key if g.key is not None else 0))
        out[a] = (None, total, sum(g.rows_matched for g in results), tuple(results))
    return out


_FUSED: bool | None = None


def duckdb_fuses() -> bool:
    """Whether this DuckDB's QUANTILE_CONT computes `lo * (1 - d) + hi * d` with a fused multiply-add (one rounding
    fewer), as some builds compile it: found once, by asking DuckDB, so that another engine (Spark) can give, and
    show SQL that gives, the same value."""
    global _FUSED
    if _FUSED is None:
        import duckdb

        # rank 12217.77 of 12231 values: 125.8 up to rank 12217, then 126.1; the two formulas differ here
        con = duckdb.connect(":memory:", config={"threads": 1, "autoinstall_known_extensions": False,
                                                 "autoload_known_extensions": False})
        try:
            got = con.execute("SELECT quantile_cont(x, 0.999) FROM (SELECT CASE WHEN i < 12218 THEN 125.8 ELSE "
                              "126.1 END::DOUBLE AS x FROM range(12231) t(i))").fetchone()[0]
        finally:
            con.close()
        n_d = 12230 * 0.999 - 12217
        _FUSED = got == _fused(125.8, 126.1, n_d) and got != 125.8 * (1.0 - n_d) + 126.1 * n_d
    return _FUSED


def quantile_interpolate(lo: float, hi: float, d: float) -> float:
    """DuckDB's QUANTILE_CONT between the two closest values, `d` of the way from lo to hi, to the bit."""
    return _fused(lo, hi, d) if duckdb_fuses() else lo * (1.0 - d) + hi * d


def _fused(lo: float, hi: float, d: float) -> float:
    from fractions import Fraction

    return float(Fraction(lo) * Fraction(1.0 - d) + Fraction(hi * d))  # fma(lo, 1 - d, hi * d): one rounding
