"""A bundle's tables once loaded: their files with digests, and the aggregates the rules read, computed once.

Standard library only, so that a bundle read back from the disk cache (peelrules.cache) needs no table code:
tables.py computes these, aggregates.py checks a bundle's `tables:` section into them, facts.Bundle holds them.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from .vocabulary import ENGINES

if TYPE_CHECKING:
    import datetime as dt


@dataclass(frozen=True)
class GroupResult:
    """One group of a grouped aggregate: its key, value, and the rows read and matched."""

    key: bool | int | float | str | dt.date | dt.datetime | None  # None: the rows with no value in the grouping column
    value: bool | int | float | str | dt.date | dt.datetime | None
    rows_read: int
    rows_matched: int


@dataclass(frozen=True)
class AggregateResult:
    """value: the aggregate (None when unknown: no rows, or no values); for a grouped aggregate None, with
    `groups` sorted by key (None last). rows_read: the rows of the table; rows_matched: the rows the aggregate
    used (matching `where`, and with a value in its column). sql: a query that gives the same numbers, in the
    dialect of `engine`, the engine that computed them: for duckdb, with the files named as the bundle names them
    (run it from the bundle's folder) unless the engine was asked for absolute paths; for spark, reading from
    a temporary view named as the rules name the table (docs/scale.md)."""

    value: bool | int | float | str | dt.date | dt.datetime | None
    rows_read: int
    rows_matched: int
    sql: str
    groups: tuple[GroupResult, ...] = ()
    engine: str = "duckdb"  # duckdb or spark


@dataclass(frozen=True)
class TableFile:
    """One file of a table: its name as written, path, sha256 and size."""

    file: str  # as the bundle names it (relative to its folder)
    path: str  # the bundle's folder joined with it, as the trace's inputs list it
    sha256: str
    bytes: int


@dataclass(frozen=True)
class BundleTable:
    """A checked table of a bundle: its source, description, row count and files."""

    name: str
    source: str
    description: str
    rows: int
    files: tuple[TableFile, ...]  # none for a catalog table
    folder: str  # the bundle's folder: the pasteable SQL runs from here
    catalog: str | None = None  # the Spark catalog table read instead of the files (docs/scale.md)


@dataclass(frozen=True)
class EngineChoice:
    """What computes a bundle's table aggregates (docs/scale.md): `name` is duckdb (in the process) or spark. For
    Spark only: `master`, the session's master URL (None: PEEL_SPARK_MASTER, SPARK_REMOTE, MASTER, local[*]);
    `conf`, Spark settings (name, value) for the session it starts; `catalog`, (bundle table, catalog table)
    pairs: the catalog table is read instead of the table's files. A catalog table has no digest, so its results
    are never cached (`cacheable`)."""

    name: str = "duckdb"
    master: str | None = None
    conf: tuple[tuple[str, str], ...] = ()
    catalog: tuple[tuple[str, str], ...] = ()

    def __post_init__(self) -> None:
        if self.name not in ENGINES:
            raise ValueError(f"unknown engine {self.name!r}: use {' or '.join(ENGINES)}")
        if self.name != "spark" and (self.master is not None or self.conf or self.catalog):
            raise ValueError("a Spark master, settings and catalog tables need the spark engine")

    @property
    def cacheable(self) -> bool:
        return not self.catalog


def engine_choice(engine: str | EngineChoice) -> EngineChoice:
    """An engine given by name ("duckdb", "spark") or as a choice, as a choice."""
    return engine if isinstance(engine, EngineChoice) else EngineChoice(engine)


class ResultStore(Protocol):
    """Where a bundle's table checks and aggregates are kept between runs (peelrules.cache gives one): `kind` is
    "rows" (a checked table's row count) or "results" (aggregate key -> AggregateResult); `key` says exactly what
    was computed, from what (the declarations and every file's sha256), so a stored value is used only for the
    same files."""

    def get(self, kind: str, key: str) -> object | None: ...

    def put(self, kind: str, key: str, value: object) -> None: ...


FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def neutralise_cell(text: str) -> str:
    """A cell for a CSV that peelrules writes: one that starts with = + - @, a tab or a carriage return gets a
    leading apostrophe, so a spreadsheet shows it instead of running it as a formula. (Cells of input tables are
    never changed: there they are plain data.)"""
    return "'" + text if text.startswith(FORMULA_START) else text
