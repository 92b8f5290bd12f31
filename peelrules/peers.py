"""Comparator datasets in a bundle: the `comparators:` section, and each file's model (docs/statistics.md).

    comparators:
      dvpo_applications_per_1000_da_offences: comparators/dvpo-2021.yaml

maps a measure to a comparator file beside the bundle (inside the bundle's folder). A rule set declares the
measure as evidence (`dvpo_rate: comparator "..." measure dvpo_applications_per_1000_da_offences`; without
`measure`, the item's own short name is the measure) and reads it through outlier(x), peer_z(x) and
peer_rank(x). Each file is read, digested and checked when the bundle is loaded, and the bundle's force placed
among its peers once (stats.compare_with_peers); a force with no value, or a comparison that cannot be made,
leaves the functions unknown, and the trace says why. Layer 2: the YAML parser is passed in by the evidence
loader, so this module needs nothing above it.
"""
from __future__ import annotations

import datetime as dt
import difflib
import math
from pathlib import Path
from typing import Any, Callable, Mapping

from . import nodes as n
from .diagnostics import Code, Diagnostic, PeelError, quoted
from .source import SourceFile, Span
from .peerfacts import BundlePeer, Comparator
from .stats import POLARITIES

KeyPath = tuple  # a path of keys into a YAML document, as evidence.KeyPath

_REQUIRED = ("measure", "title", "polarity", "unit", "period", "source", "values")
_OPTIONAL = ("illustrative", "note")


def comparator_from_data(src: SourceFile, raw: object, positions: dict[KeyPath, Span]) -> Comparator:
    problems: list[Diagnostic] = []

    def err(path: KeyPath, message: str, hint: str) -> None:
        span = positions.get(path) or positions.get(path[:-1]) if path else None
        problems.append(Diagnostic(Code.PR303, message, span or Span(src.name, 1, 1, 1, 2), hint,
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


# ---------------------------------------------------------------- a bundle's comparators


def comparator_measure(decl: n.EvidenceDecl) -> str:
    """The measure a `comparator` evidence item reads from the bundle's comparators: section."""
    return decl.measure or decl.name.split(".", 1)[-1]


ErrFn = Callable[[str, str, KeyPath, str], None]
ReadFn = Callable[[Path], tuple[SourceFile, object, dict]]  # a file -> (source, parsed YAML, key positions)


def load_peers(src: SourceFile, section: Mapping[str, str], program: Any, force: str, err: ErrFn,
               read: ReadFn, extra: Callable[[Diagnostic], None],
               given: Mapping[str, Comparator] | None = None) -> dict[str, BundlePeer]:
    """Read the comparator files of the bundle's `comparators:` section that the rule set reads (by evidence
    item name). `err(code, message, path, hint)` reports a problem at a key of the bundle; `extra` takes a
    problem inside a comparator file, at its own line. `given` holds comparators the caller has read and checked
    already (a rule-test case's, by measure): each replaces the section's entry for its measure, and is used as
    it is (its `file` is where it came from, not a path under the bundle's folder)."""
    wanted: dict[str, list[str]] = {}
    for name, decl in program.decls.items():
        if decl.type == "comparator":
            wanted.setdefault(comparator_measure(decl), []).append(name)
    folder = Path(src.name).resolve().parent if src.name else Path.cwd()
    out: dict[str, BundlePeer] = {}
    entries: dict[str, str | Comparator] = {**section, **(given or {})}
    for measure, entry in entries.items():
        at: KeyPath = ("comparators", measure)
        if measure not in wanted:
            known = sorted(wanted)
            close = difflib.get_close_matches(measure, known, n=1, cutoff=0.6)
            err(Code.PR319, f"the rule set reads no comparator measure {quoted(measure)}", at,
                f"did you mean {quoted(close[0])}?" if close else
                f"the rule set's comparator measures are: {', '.join(known)}" if known else
                "declare it in the rules, e.g. `rate: comparator \"...\" measure " + measure + "`, or remove it")
            continue
        if isinstance(entry, Comparator):  # read and checked by the caller
            comparator, written, shown, digest = entry, entry.file, entry.file, entry.sha256
        else:
            found = _read_comparator(folder, entry, at, err, read, extra)
            if found is None:
                continue
            comparator, written, digest = found, entry, found.sha256
            shown = str(Path(src.name).parent / written)  # as tables list theirs: the bundle's folder as given
        if comparator.measure != measure:
            err(Code.PR319, f"{quoted(written)} holds measure {quoted(comparator.measure)}, not {quoted(measure)}",
                at, "name the file under its own measure, or give the right file")
            continue
        for name in wanted[measure]:
            comparison, why = None, None
            if force not in comparator.values:
                why = f"{force} is not among the forces of {written}"
            elif comparator.values[force] is None:
                why = f"{written} gives no value for {force}"
            else:
                try:
                    comparison = comparator.compare(force)
                except ValueError as e:
                    why = str(e)
            out[name] = BundlePeer(name, measure, written, shown, digest, comparator, comparison, why)
    return dict(sorted(out.items()))


def _read_comparator(folder: Path, written: str, at: KeyPath, err: ErrFn, read: ReadFn,
                     extra: Callable[[Diagnostic], None]) -> Comparator | None:
    """The comparator file a bundle names, inside its folder, read and checked; None (reported) when it cannot be."""
    path = (folder / written).resolve()
    if not written or Path(written).is_absolute() or not path.is_relative_to(folder):
        err(Code.PR319, f"comparator file {quoted(written)} is outside the bundle's folder", at,
            "put the file beside the bundle, or in a folder under it, and give its path relative to the "
            "bundle (e.g. comparators/dvpo-2021.yaml)")
        return None
    if not path.is_file():
        err(Code.PR319, f"comparator file {quoted(written)} not found (looked in {folder})", at,
            "check the path, relative to the bundle's folder")
        return None
    try:
        csrc, raw, positions = read(path)
        return comparator_from_data(csrc, raw, positions)
    except PeelError as e:
        for d in e.diagnostics:
            extra(d)
        return None
