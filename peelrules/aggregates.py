"""Aggregates over case-level tables in rule files: the checker's part (docs/tables.md).

A rule set declares a table as an evidence item with typed columns:

    evidence contact {
      calls: table "999 calls received in the year" {
        answer_seconds: number unit "seconds"
        district:       text
      }
    }

and its rules read aggregates of it as they read facts: `share(contact.calls where answer_seconds <= 10)`,
`count(contact.calls)`, `mean(contact.calls.answer_seconds)`, `percentile(contact.calls.answer_seconds, 90)`.
This module types an aggregate and its filter against the declared columns (with the checks of
tables.aggregate_problems) and turns it into a `tables.Aggregate`, whose canonical key() the resolved node keeps:
the bundle loader computes every aggregate of the rule set once per bundle, and both evaluators read the value by
that key. Pure: problems are reported through the checker's `error`.
"""
from __future__ import annotations

import datetime as dt
import difflib
import hashlib
import threading
from dataclasses import replace
from pathlib import Path
from typing import Any, Callable, Literal, Mapping, Optional, Protocol, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from . import nodes as n
from . import tables as t
from .diagnostics import Code, Diagnostic, quoted
from .tablefacts import BundleTable, ResultStore, TableFile  # the bundle's tables, as loaded
from .limits import DEFAULT_LIMITS, Limits
from .source import SourceFile, Span
from .vocabulary import AGGREGATES, FUNCTIONS, TABLE_COLUMN_TYPES

ErrorFn = Callable[[str, str, "Span | None", "str | None"], None]


class _Checker(Protocol):
    decls: dict[str, n.EvidenceDecl]
    const_values: dict[str, object]

    def error(self, code: str, message: str, span: Span | None, hint: str | None = None) -> None: ...


def table_decl(decl: n.EvidenceDecl) -> t.TableDecl:
    """The rule set's declaration of a table as the tables core reads it (no file: the bundle gives that)."""
    seen: set[str] = set()
    columns = []
    for c in decl.columns:  # a column of unknown type, or declared twice, is reported by check_table_decl
        if c.type in TABLE_COLUMN_TYPES and c.name not in seen:
            seen.add(c.name)
            columns.append(t.Column(c.name, c.type, c.unit))  # type: ignore[arg-type]
    return t.TableDecl(decl.name, "", tuple(columns) or (t.Column("_", "text"),), description=decl.description)


def check_table_decl(c: _Checker, decl: n.EvidenceDecl) -> None:
    """A `table` has columns, each named once with a column type; no other evidence item has columns."""
    if decl.type != "table":
        if decl.columns:
            c.error(Code.PR214, f"only a table has columns; {quoted(decl.name)} is declared as {decl.type}",
                    decl.columns[0].span, f"declare it as `{decl.name.split('.', 1)[1]}: table \"...\" {{ ... }}`, "
                    "or remove the columns")
        return
    if not decl.columns:
        c.error(Code.PR214, f"table {quoted(decl.name)} declares no columns", decl.type_span,
                'list the columns the rules read, e.g. `{ answer_seconds: number unit "seconds" }`')
    seen: dict[str, n.TableColumn] = {}
    for col in decl.columns:
        if col.name in seen:
            c.error(Code.PR202, f"column {quoted(col.name)} of table {quoted(decl.name)} is declared twice", col.span,
                    f"the first is at {seen[col.name].span}; keep one")
        seen.setdefault(col.name, col)
        if col.type not in TABLE_COLUMN_TYPES:
            close = difflib.get_close_matches(col.type, list(TABLE_COLUMN_TYPES), n=1)
            c.error(Code.PR209, f"unknown column type {quoted(col.type)}", col.type_span,
                    f"did you mean {quoted(close[0])}?" if close else
                    f"column types are: {', '.join(TABLE_COLUMN_TYPES)}")


def is_aggregate(e: n.Expr, decls: dict[str, n.EvidenceDecl]) -> bool:
    """Whether an expression is an aggregate over a table: the `where` form always; a plain call when its
    function is an aggregate and (for a name that is also a function) its first argument names a table."""
    if isinstance(e, n.Aggregate):
        return True
    if not isinstance(e, n.Call) or e.func not in AGGREGATES:
        return False
    if e.func not in FUNCTIONS:
        return True
    first = e.args[0] if e.args else None
    return isinstance(first, n.Name) and _target(first, decls) is not None


def _target(name: n.Name, decls: dict[str, n.EvidenceDecl]) -> tuple[str, str | None] | None:
    """(table, column) that a name refers to: `contact.calls` or `contact.calls.answer_seconds`."""
    whole = name.dotted
    if whole in decls and decls[whole].type == "table":
        return whole, None
    head = ".".join(name.parts[:-1])
    if len(name.parts) > 2 and head in decls and decls[head].type == "table":
        return head, name.parts[-1]
    return None


def resolve_aggregate(c: _Checker, e: n.Call | n.Aggregate, area: str | None,
                      area_consts: dict[str, object], text: Callable[[n.Expr], str]) -> tuple[n.Expr, str]:
    """The aggregate, resolved (table, column and key filled in), and its type: a number ('?' after an error)."""
    func, args = e.func, e.args
    where = e.where if isinstance(e, n.Aggregate) else None
    usage = AGGREGATES.get(func)
    if usage is None:
        c.error(Code.PR212, f"{quoted(func)} is not an aggregate", e.span,
                f"aggregates are: {', '.join(AGGREGATES)}")
        return e, "?"
    wants_column = func not in ("count", "share")
    arity = 2 if func == "percentile" else 1
    if len(args) != arity or not isinstance(args[0], n.Name):
        c.error(Code.PR212, f"{func}() takes {'a table' if not wants_column else 'a table column'}"
                f"{' and a percentage from 0 to 100' if func == 'percentile' else ''}", e.span, usage)
        return e, "?"
    target = _target(args[0], c.decls)
    if target is None:
        tables = [d for d, decl in c.decls.items() if decl.type == "table"]
        word = args[0].dotted
        candidates = tables + [f"{d}.{col.name}" for d in tables for col in c.decls[d].columns]
        close = difflib.get_close_matches(word, candidates, n=1)
        c.error(Code.PR203, f"{quoted(word)} is not a table{' column' if wants_column else ''} the rules declare",
                args[0].span, f"did you mean {quoted(close[0])}?" if close else
                "declare it in an `evidence` block as `name: table \"...\" { column: type ... }`")
        return e, "?"
    table, column = target
    if wants_column and column is None:
        c.error(Code.PR212, f"{func}() reads a column: write {quoted(f'{table}.column')}", args[0].span, usage)
        return e, "?"
    if not wants_column and column is not None:
        c.error(Code.PR212, f"{func}() counts rows: write the table {quoted(table)}, without a column",
                args[0].span, usage)
        return e, "?"
    percentile: float | None = None
    if func == "percentile":
        p = args[1]
        if not isinstance(p, n.Number) or not 0 <= p.value <= 100:
            c.error(Code.PR212, "percentile() takes a percentage from 0 to 100, written as a number such as 90",
                    p.span, usage)
            return e, "?"
        percentile = p.value
    decl = table_decl(c.decls[table])
    filt: t.Filter | None = None
    if where is not None:
        filt = _filter(_Ctx(c.error, text), where, decl, area_consts)
        if filt is None:
            return e, "?"
    elif func == "share":
        c.error(Code.PR212, "share() needs a filter: the rows to count against all the table's rows", e.span, usage)
        return e, "?"
    try:
        agg = t.Aggregate(func, table, column, filt, percentile)  # type: ignore[arg-type]
    except ValueError as err:  # pragma: no cover - the checks above come first
        c.error(Code.PR212, str(err), e.span, usage)
        return e, "?"
    problems = t.aggregate_problems(agg, decl)
    col_decl = decl.column(column) if column is not None else None
    if func in ("min", "max") and col_decl is not None and col_decl.type not in t.NUMERIC and not problems:
        problems.append(f"{func}() in a rule reads a number or count column; {quoted(column)} is {col_decl.type}")
    for problem in problems:
        c.error(Code.PR204, problem, (where.span if where is not None else None) or e.span,
                f"the columns of {quoted(table)}: " + ", ".join(f"{col.name} ({col.type})" for col in decl.columns))
    if problems:
        return e, "?"
    resolved = n.Aggregate(func, args, where, span=e.span, table=table, column=column, key=agg.key(),
                           filter=None if where is None else _substitute(where, decl, area_consts))
    return resolved, "number"


def _substitute(e: n.Expr, decl: t.TableDecl, consts: dict[str, object]) -> n.Expr:
    """The filter with each constant's name replaced by its value (a literal node)."""
    if isinstance(e, n.Name) and len(e.parts) == 1 and decl.column(e.parts[0]) is None and e.parts[0] in consts:
        v = consts[e.parts[0]]
        if isinstance(v, bool):
            return n.Bool(v, span=e.span)
        if isinstance(v, (int, float)):
            return n.Number(v, span=e.span)
        return n.String(str(v), span=e.span)
    if isinstance(e, n.Binary):
        return replace(e, left=_substitute(e.left, decl, consts), right=_substitute(e.right, decl, consts))
    if isinstance(e, n.Unary):
        return replace(e, operand=_substitute(e.operand, decl, consts))
    if isinstance(e, n.InList):
        return replace(e, item=_substitute(e.item, decl, consts),
                       options=tuple(_substitute(o, decl, consts) for o in e.options))
    return e


def to_aggregate(e: n.Aggregate, decls: dict[str, n.EvidenceDecl]) -> t.Aggregate:
    """The tables core's aggregate for a resolved node (the checker has typed it)."""
    decl = table_decl(decls[e.table])
    errors: list[str] = []
    filt = None if e.filter is None else _filter(_Collect(errors), e.filter, decl, {})
    if errors:  # pragma: no cover - checked before
        raise ValueError(errors[0])
    p = e.args[1].value if e.func == "percentile" and isinstance(e.args[1], n.Number) else None
    return t.Aggregate(e.func, e.table, e.column, filt, p)  # type: ignore[arg-type]


class _Ctx:
    """Where a filter's problems go, and how an expression is shown in them (the checker passes unparse,
    which sits a layer above this module)."""

    def __init__(self, error: Callable[..., None], text: Callable[[n.Expr], str]) -> None:
        self.error, self.text = error, text


class _Collect(_Ctx):
    def __init__(self, out: list[str]) -> None:
        super().__init__(lambda code, message, span, hint=None: out.append(message), lambda e: type(e).__name__)


_FLIP = {"<": ">", "<=": ">=", ">": "<", ">=": "<=", "==": "==", "!=": "!="}
_FILTER_HINT = ("a filter compares a column with a value, such as `answer_seconds <= 10` or "
                '`district == "Wyre"`, joined with and, or, not')


def _filter(c: _Ctx, e: n.Expr, decl: t.TableDecl, consts: dict[str, object]) -> t.Filter | None:
    """A `where` expression as a tables.Filter; None after reporting what cannot be one."""
    error = c.error
    if isinstance(e, n.Binary) and e.op in n.BOOL_OPS:
        parts: list[t.Filter] = []
        ok = True
        for side in (e.left, e.right):
            f = _filter(c, side, decl, consts)
            if f is None:
                ok = False
                continue
            same = t.AllOf if e.op == "and" else t.AnyOf
            parts.extend(f.filters if isinstance(f, same) else (f,))
        if not ok:
            return None
        return t.AllOf(tuple(parts)) if e.op == "and" else t.AnyOf(tuple(parts))
    if isinstance(e, n.Unary) and e.op == "not":
        inner = _filter(c, e.operand, decl, consts)
        return None if inner is None else t.Not(inner)
    if isinstance(e, n.Binary) and e.op in n.COMPARE_OPS:
        col, op, value_node = _sides(e, decl)
        unknown = [x.parts[0] for x in (e.left, e.right) if isinstance(x, n.Name) and len(x.parts) == 1
                   and x.parts[0] not in consts]
        if col is None and unknown:
            close = difflib.get_close_matches(unknown[0], [c.name for c in decl.columns], n=1)
            error(Code.PR204, f"table {quoted(decl.name)} has no column {quoted(unknown[0])}", e.span,
                  f"did you mean {quoted(close[0])}?" if close else
                  f"the columns of {quoted(decl.name)} are: {', '.join(c.name for c in decl.columns)}")
            return None
        if col is None:
            error(Code.PR204, f"{quoted(c.text(e))} does not compare a column of {quoted(decl.name)} with a value",
                  e.span, _unknown_column_hint(e, decl))
            return None
        value = _value(c, value_node, decl.column(col), consts)
        return None if value is _BAD else t.Compare(col, op, value)  # type: ignore[arg-type]
    if isinstance(e, n.InList):
        col = _column_name(e.item, decl)
        if col is None:
            error(Code.PR204, f"{quoted(c.text(e.item))} is not a column of {quoted(decl.name)}", e.item.span,
                  _unknown_column_hint(e, decl))
            return None
        values = [_value(c, o, decl.column(col), consts) for o in e.options]
        if any(v is _BAD for v in values):
            return None
        found: t.Filter = t.AnyOf(tuple(t.Compare(col, "==", v) for v in values))  # type: ignore[arg-type]
        return t.Not(found) if e.negated else found
    error(Code.PR204, f"{quoted(c.text(e))} is not a filter", e.span, _FILTER_HINT)
    return None


def _column_name(e: n.Expr, decl: t.TableDecl) -> str | None:
    if isinstance(e, n.Name) and len(e.parts) == 1 and decl.column(e.parts[0]) is not None:
        return e.parts[0]
    return None


def _sides(e: n.Binary, decl: t.TableDecl) -> tuple[str | None, str, n.Expr]:
    left, right = _column_name(e.left, decl), _column_name(e.right, decl)
    if left is not None:
        return left, e.op, e.right
    if right is not None:
        return right, _FLIP[e.op], e.left
    return None, e.op, e.right


def _unknown_column_hint(e: n.Expr, decl: t.TableDecl) -> str:
    names = [x.parts[0] for x in _names(e) if len(x.parts) == 1]
    for name in names:
        close = difflib.get_close_matches(name, [col.name for col in decl.columns], n=1)
        if close:
            return f"did you mean the column {quoted(close[0])}?"
    return f"the columns of {quoted(decl.name)} are: {', '.join(col.name for col in decl.columns)}; " + _FILTER_HINT


def _names(e: n.Expr) -> list[n.Name]:
    out: list[n.Name] = []
    stack = [e]
    while stack:
        x = stack.pop()
        if isinstance(x, n.Name):
            out.append(x)
        stack.extend(n.children(x))
    return out


_BAD = object()


def _value(c: _Ctx, e: n.Expr, column: t.Column | None, consts: dict[str, object]) -> object:
    """The value a column is compared with: a literal, or a constant's value."""
    error = c.error
    if isinstance(e, n.Unary) and e.op == "-" and isinstance(e.operand, n.Number):
        return -e.operand.value
    if isinstance(e, (n.Number, n.Percent, n.String, n.Bool)):
        return e.value
    if isinstance(e, n.DateLit):
        try:
            if "T" in e.text:
                return dt.datetime.fromisoformat(e.text)
            day = dt.date.fromisoformat(e.text)
        except ValueError:
            error(Code.PR104, f"{quoted(e.text)} is not a real date", e.span, "write a date as 2021-07-01")
            return _BAD
        if column is not None and column.type == "timestamp":
            return dt.datetime(day.year, day.month, day.day)  # midnight at the start of the day
        return day
    if isinstance(e, n.Name) and len(e.parts) == 1 and e.parts[0] in consts:
        v = consts[e.parts[0]]
        if isinstance(v, (bool, int, float, str)):
            return v
    error(Code.PR204, f"a filter compares a column with a value, not with {quoted(c.text(e))}", e.span,
          "write a number, quoted text, true or false, a date (2021-07-01), or a constant's name")
    return _BAD


def used_aggregates(exprs: list[n.Expr]) -> list[n.Aggregate]:
    """The resolved aggregates in some expressions, each key once, in order of first use."""
    seen: dict[str, n.Aggregate] = {}
    stack = list(reversed(exprs))
    while stack:
        x = stack.pop()
        if isinstance(x, n.Aggregate) and x.key:
            seen.setdefault(x.key, x)
        stack.extend(reversed(n.children(x)))
    return list(seen.values())


# ---------------------------------------------------------------- the bundle's `tables:` section

class ColumnModel(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    type: Literal[t.COLUMN_TYPES] = Field(description="number, count, text, flag, date or timestamp")  # type: ignore[valid-type]
    unit: Optional[str] = Field(None, description="the unit of a number, e.g. seconds")


class TableModel(BaseModel):
    """A case-level table: CSV or Parquet files beside the bundle (docs/tables.md)."""

    model_config = ConfigDict(extra="forbid", strict=True)
    file: str = Field(description="the file, relative to the evidence file's folder, with /; or a glob of one "
                      "folder's files (*, ?, [...]), read together in name order")
    source: str = Field(description="where the rows come from")
    description: Optional[str] = None
    delimiter: Literal[",", ";", "\t", "|"] = Field(",", description="CSV only")
    columns: dict[str, ColumnModel] = Field(description="every column of the file, by name, with its type")


KeyPath = tuple[object, ...]
ErrFn = Callable[[str, str, KeyPath, "str | None"], None]

_RESULTS: dict[tuple[object, ...], dict[str, t.AggregateResult]] = {}
_RESULTS_LOCK = threading.Lock()
_RESULTS_SIZE = 64
V = TypeVar("V")
_VALID: dict[tuple[object, ...], int] = {}  # (declaration, files with digests) -> rows, for files already checked


def _remember(memo: dict[tuple[object, ...], V], key: tuple[object, ...], value: V) -> None:
    """Keep key -> value in one of this process's memos, the oldest entries dropped beyond _RESULTS_SIZE."""
    with _RESULTS_LOCK:
        memo[key] = value
        while len(memo) > _RESULTS_SIZE:
            del memo[next(iter(memo))]


def program_aggregates(program: Any) -> list[n.Aggregate]:
    """Every aggregate the rule set's rules and ladders read, each once."""
    exprs: list[n.Expr] = []
    for area in program.areas:
        exprs += [e for r in area.rules for e in (r.when, r.exceeded_when) if e is not None]
        if area.ladder is not None:
            exprs += [r.condition for r in area.ladder.rungs if r.condition is not None]
    return used_aggregates(exprs)


def digest(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


class Runner(Protocol):
    """Another engine for the aggregates (spark_engine.SparkRunner): the files are checked by the TableEngine
    (DuckDB) first; `run` computes what TableEngine.run would, with results of the same types."""

    name: str
    catalog: Mapping[str, str]  # a table's name -> a catalog table to read instead of its files

    def run(self, engine: t.TableEngine, aggregates: list[t.Aggregate]) -> dict[t.Aggregate, t.AggregateResult]: ...


def load_tables(src: SourceFile, models: dict[str, TableModel], program: Any, err: ErrFn,
                add: Callable[[Diagnostic], None], limits: Limits = DEFAULT_LIMITS, runner: Runner | None = None,
                store: ResultStore | None = None) -> tuple[dict[str, BundleTable], dict[str, t.AggregateResult]]:
    """Check the bundle's tables and compute the rule set's aggregates over them, on DuckDB or (`runner`) another
    engine. `err(code, message, path, hint)` reports at a key of the evidence file, `add` a diagnostic placed
    elsewhere (a line of a CSV file). `store` (the disk cache) keeps row counts and results by the engine, the
    declarations and the files' digests, which are computed afresh every time: files that did not change are not
    read again. A table the runner reads from a catalog (`runner.catalog`) is not resolved, digested or checked
    by DuckDB: its rows are counted by the runner, and its results are never kept (nothing says when a catalog
    table changes)."""
    catalog = dict(getattr(runner, "catalog", None) or {})
    for name in catalog:
        if name not in models:
            close = [m for m in models if m.endswith("." + name)] or difflib.get_close_matches(name, list(models), 1)
            err(Code.PR318, f"table {quoted(name)} is to be read from the catalog table {quoted(catalog[name])}, but "
                "the bundle has no such table" + (f" (its tables: {', '.join(models)})" if models else
                                                  " (it declares no tables)"), ("tables",) if models else (),
                f"name the table as the bundle's `tables:` section does, e.g. {close[0]}={catalog[name]}" if close
                else "name a table of the bundle's `tables:` section, or declare the table there (its columns "
                "and a source; its `file:` is not read)")
    if not models:
        return {}, {}
    folder = Path(src.name).parent
    decls: dict[str, t.TableDecl] = {}
    for name, model in models.items():
        at: KeyPath = ("tables", name)
        rules_decl = program.decls.get(name)
        if rules_decl is None or rules_decl.type != "table":
            tables = [d for d, x in program.decls.items() if x.type == "table"]
            what = "is not a table the rule set declares" if rules_decl is None else \
                f"is declared by the rule set as {rules_decl.type}, not as a table"
            err(Code.PR304, f"table {quoted(name)} {what}", at,
                f"the rule set's tables are: {', '.join(tables)}" if tables else
                "declare it in an `evidence` block of the rules: `name: table \"...\" { column: type ... }`")
            continue
        try:
            decl = t.TableDecl(name, model.file, tuple(t.Column(c, m.type, m.unit) for c, m in model.columns.items()),
                               model.source, model.description or "", model.delimiter)
        except ValueError as e:
            err(Code.PR303, f"table {quoted(name)}: {e}", at + ("columns",), "columns are snake_case names (a-z, 0-9, _)")
            continue
        bad = False
        for col in rules_decl.columns:
            mine = decl.column(col.name)
            if mine is None:
                err(Code.PR318, f"table {quoted(name)} has no column {quoted(col.name)}, which the rules read "
                    f"({col.type})", at + ("columns",), f"add `{col.name}: {{type: {col.type}}}` and the column "
                    "to the file, or use a table that has it")
                bad = True
            elif mine.type != col.type:
                err(Code.PR318, f"column {quoted(col.name)} of table {quoted(name)} is declared as {mine.type}; the "
                    f"rules read it as {col.type}", at + ("columns", col.name), f"declare it as {col.type}")
                bad = True
        if not bad:
            decls[name] = decl
    if not decls:
        return {}, {}
    engine = t.TableEngine(decls, folder, limits)
    found: dict[str, BundleTable] = {}
    for name, decl in decls.items():
        if name in catalog:  # the rows are counted when the aggregates run
            found[name] = BundleTable(name, decl.source, decl.description, 0, (), folder.as_posix(), catalog[name])
            continue
        try:
            resolved = t.resolve(decl, folder, limits)
            files = tuple(TableFile(shown, (folder / shown).as_posix(), digest(path), path.stat().st_size)
                          for path, shown in zip(resolved.files, resolved.shown))
            vkey = (decl, files)
            with _RESULTS_LOCK:
                rows = _VALID.get(vkey)
            if rows is None and store is not None:
                kept = store.get("rows", repr(vkey))
                rows = kept if isinstance(kept, int) and not isinstance(kept, bool) else None
            if rows is None:
                rows = engine.validate(decl).rows
                if store is not None:
                    store.put("rows", repr(vkey), rows)
                _remember(_VALID, vkey, rows)
        except t.TableError as e:
            _table_error(src, folder, name, e, err, add)
            continue
        except OSError as e:
            err(Code.PR401, f"table {quoted(name)}: cannot read {quoted(decl.path_or_glob)}: {e.strerror or e}",
                ("tables", name, "file"), "check the file's name and permissions")
            continue
        found[name] = BundleTable(name, decl.source, decl.description, rows, files, folder.as_posix())
    wanted = [a for a in program_aggregates(program) if a.table in found]
    from_catalog = [name for name in found if name in catalog]
    if not wanted and not from_catalog:
        return found, {}
    aggs = {a.key: to_aggregate(a, program.decls) for a in wanted}
    counts = [t.Aggregate("count", name) for name in from_catalog]  # each catalog table's rows, in the same pass
    key = (runner.name if runner is not None else "duckdb",
           tuple((name, decls[name], tb.files) for name, tb in sorted(found.items())), tuple(aggs))
    with _RESULTS_LOCK:
        cached = None if from_catalog else _RESULTS.get(key)
    if cached is None and store is not None and not from_catalog:
        kept = store.get("results", repr(key))
        if isinstance(kept, dict) and set(kept) == set(aggs) and all(
                isinstance(v, t.AggregateResult) for v in kept.values()):
            cached = {k: kept[k] for k in aggs}
    if cached is not None:
        return found, cached
    todo = list(dict.fromkeys([*aggs.values(), *counts]))
    try:
        ran = engine.run(todo) if runner is None else runner.run(engine, todo)
    except t.TableError as e:
        name = next((a.table for a in todo if a.table in found and e.table in (None, a.table)), todo[0].table)
        _table_error(src, folder, name, e, err, add)
        return found, {}
    for c in counts:
        found[c.table] = replace(found[c.table], rows=ran[c].rows_read)
    for name, tb in found.items():  # a file that changed while it was read gives numbers of no one file
        for f in tb.files:
            if digest(folder / f.file) != f.sha256:
                err(Code.PR318, f"table {quoted(name)}: {quoted(f.file)} changed while it was read", ("tables", name, "file"),
                    "run again once the file is no longer being written")
                return found, {}
    results = {k: ran[a] for k, a in aggs.items()}
    if from_catalog:
        return found, results
    if store is not None:
        store.put("results", repr(key), results)
    _remember(_RESULTS, key, results)
    return found, results


def _table_error(src: SourceFile, folder: Path, name: str, e: t.TableError, err: ErrFn,
                 add: Callable[[Diagnostic], None]) -> None:
    """A TableError as a diagnostic: at the line and cell of a CSV file when it names a row, else at the
    table's `file:` in the evidence file."""
    detail = e.message if e.column is None else f"column {quoted(e.column)}: {e.message}"
    where = f"{e.file}:{e.row}" if e.row is not None else e.file
    path = folder / e.file
    if e.row is not None and path.suffix.lower() == ".csv":
        line = _line(path, e.row)
        if line is not None:
            col = _cell_column(line, e.column, path)
            shown = path.as_posix()
            add(Diagnostic(Code.PR318, f"table {quoted(name)} ({e.kind}): {detail}", Span(shown, e.row, col, e.row, col + 1),
                           e.hint, line_text=line))
            return
    err(Code.PR318, f"table {quoted(name)} ({e.kind}): {where}: {detail}", ("tables", name, "file"), e.hint)


def _line(path: Path, row: int) -> str | None:
    try:
        with path.open("r", encoding="utf-8-sig", errors="replace", newline="") as f:
            for i, line in enumerate(f, start=1):
                if i == row:
                    return line.rstrip("\r\n")
    except OSError:
        return None
    return None


def _cell_column(line: str, column: str | None, path: Path) -> int:
    """The 1-based character column where the named column's cell starts on a line (1 when unknown)."""
    if column is None:
        return 1
    header = _line(path, 1)
    if header is None:
        return 1
    for delim in (",", ";", "\t", "|"):
        names = [c.strip().strip('"') for c in _split(header, delim)[0]]
        if column in names:
            cells, starts = _split(line, delim)
            i = names.index(column)
            return starts[i] + 1 if i < len(starts) else len(line) + 1
    return 1


def _split(line: str, delim: str) -> tuple[list[str], list[int]]:
    cells, starts, cur, quoted_ = [], [0], [], False
    for i, ch in enumerate(line):
        if ch == '"':
            quoted_ = not quoted_
        elif ch == delim and not quoted_:
            cells.append("".join(cur))
            cur = []
            starts.append(i + 1)
            continue
        cur.append(ch)
    cells.append("".join(cur))
    return cells, starts
