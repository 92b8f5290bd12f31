"""Comparator datasets: one measure with a value per force, for placing a force among its peers.

    measure: dvpo_applications_per_1000_da_offences
    title: "Domestic violence protection order applications per 1,000 domestic abuse offences"
    polarity: higher_is_better        # higher_is_better | higher_is_worse | neutral
    unit: "per 1,000 domestic abuse offences"
    period: {from: "2021-04-01", to: "2022-03-31"}
    source: {title: "...", kind: force_data}
    illustrative: true                 # optional: values are not real data, and every output says so
    note: "..."                        # optional
    values:
      Lancashire Constabulary: 1.4
      Example Police: null             # no value supplied: left out of the comparison, and reported

Loaded with the evidence files' safe YAML loader (positions for every key), so each problem is reported at
its line with the usual PR303 shape error. Pure: no printing, no click.
"""
from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

from .diagnostics import Diagnostic, PeelError, quoted
from .evidence import KeyPath, load_yaml
from .limits import DEFAULT_LIMITS, Limits
from .loader import read_source
from .source import SourceFile, Span
from .stats import DEFAULT_METHOD, POLARITIES, OutlierMethod, PeerComparison, compare_with_peers

_REQUIRED = ("measure", "title", "polarity", "unit", "period", "source", "values")
_OPTIONAL = ("illustrative", "note")


@dataclass(frozen=True)
class Comparator:
    file: str
    sha256: str
    measure: str
    title: str
    polarity: str
    unit: str
    period: tuple[str, str]
    source_title: str
    source_kind: str
    values: Mapping[str, float | None]  # force name -> value (None: not supplied)
    illustrative: bool = False
    note: str | None = None

    def compare(self, force: str, method: OutlierMethod = DEFAULT_METHOD) -> PeerComparison:
        return compare_with_peers(self.values, force, self.polarity, method)

    @property
    def missing(self) -> tuple[str, ...]:
        return tuple(sorted(k for k, v in self.values.items() if v is None))


def load_comparator(path: str | Path, limits: Limits = DEFAULT_LIMITS) -> Comparator:
    """Read and validate one comparator file; raise PeelError naming every problem at its line."""
    src = read_source(Path(path), None, limits)
    raw, positions = load_yaml(src, limits)
    return comparator_from_data(src, raw, positions)


def comparator_from_data(src: SourceFile, raw: object, positions: dict[KeyPath, Span]) -> Comparator:
    problems: list[Diagnostic] = []

    def err(path: KeyPath, message: str, hint: str) -> None:
        span = positions.get(path) or positions.get(path[:-1]) if path else None
        problems.append(Diagnostic("PR303", message, span or Span(src.name, 1, 1, 1, 2), hint,
                                   line_text=src.line_text(span.line) if span else src.line_text(1)))

    if not isinstance(raw, dict):
        err((), "a comparator file is a mapping of measure, title, polarity, unit, period, source and values",
            "start from docs/statistics.md's example")
        raise PeelError(problems)
    for key in raw:
        if key not in _REQUIRED and key not in _OPTIONAL:
            err((key,), f"`{key}` is not a comparator field",
                f"the fields are {', '.join(_REQUIRED + _OPTIONAL)}")
    for key in _REQUIRED:
        if key not in raw:
            err((), f"`{key}` is missing", f"add `{key}:` (docs/statistics.md shows every field)")

    def text(key: str) -> str:
        v = raw.get(key)
        if key in raw and (not isinstance(v, str) or not v.strip()):
            err((key,), f"`{key}` must be text", f'write it in quotes, e.g. {key}: "..."')
        return v if isinstance(v, str) else ""

    measure, title, unit = text("measure"), text("title"), text("unit")
    polarity = raw.get("polarity")
    if "polarity" in raw and polarity not in POLARITIES:
        err(("polarity",), f"unknown polarity {quoted(polarity)}", f"use one of {', '.join(POLARITIES)}")
    period = raw.get("period")
    dates: list[str] = []
    if "period" in raw:
        if not isinstance(period, dict) or set(period) != {"from", "to"}:
            err(("period",), "`period` needs `from` and `to` dates", 'write period: {from: "2021-04-01", to: '
                '"2022-03-31"}')
        else:
            for end in ("from", "to"):
                try:
                    dates.append(dt.date.fromisoformat(str(period[end])).isoformat())
                except ValueError:
                    err(("period", end), f"`{end}` is not a date", "write a date as YYYY-MM-DD, in quotes")
            if len(dates) == 2 and dates[0] > dates[1]:
                err(("period", "to"), "the period ends before it starts", "swap `from` and `to`")
    source = raw.get("source")
    if "source" in raw and (not isinstance(source, dict) or not isinstance(source.get("title"), str)):
        err(("source",), "`source` needs a `title`", 'write source: {title: "...", kind: force_data}')
    source = source if isinstance(source, dict) else {}
    illustrative = raw.get("illustrative", False)
    if not isinstance(illustrative, bool):
        err(("illustrative",), "`illustrative` must be true or false", "write illustrative: true")
    note = raw.get("note")
    if note is not None and not isinstance(note, str):
        err(("note",), "`note` must be text", 'write note: "..."')
    values: dict[str, float | None] = {}
    given = raw.get("values")
    if "values" in raw:
        if not isinstance(given, dict) or not given:
            err(("values",), "`values` must map each force to its value", "write one `Force name: 1.4` a line")
        else:
            for force, v in given.items():
                if not isinstance(force, str) or not force.strip():
                    err(("values", force), "a force name must be text", "write the force's name, then `:`")
                elif v is None:
                    values[force] = None
                elif isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
                    err(("values", force), f"the value for {force} is not a number",
                        "write a number, or null when the force supplied none")
                else:
                    values[force] = float(v)
            if sum(1 for v in values.values() if v is not None) < 3 and not problems:
                err(("values",), "a comparison needs values for at least 3 forces", "add the other forces' values")
    if problems:
        raise PeelError(problems)
    return Comparator(file=src.name, sha256=src.sha256, measure=measure, title=title, polarity=str(polarity),
                      unit=unit, period=(dates[0], dates[1]), source_title=str(source.get("title")),
                      source_kind=str(source.get("kind", "force_data")), values=values,
                      illustrative=illustrative, note=note)
