"""The force-by-area grade table of a batch, shared by the text, Markdown, HTML and CSV views, and how one area's
judgment reads (published, with a moderated grade beside the derived one). Nothing here computes a grade: every
judgment is read from an AreaResult. What one area's trace shows (the rung, the rules, the facts used) is in
report.traced, which the text and CSV views do not need.
"""
from __future__ import annotations

import csv
import io
import textwrap
from dataclasses import dataclass
from typing import TYPE_CHECKING, Sequence

from ..facts import Bundle
from ..grades import Grade
from ..result import AreaResult
from ..judgments import judgment_of
from ..tablefacts import neutralise_cell
if TYPE_CHECKING:
    from .traced import Run


# ---------------------------------------------------------------- per area


def published(r: AreaResult, bundle: Bundle) -> str:
    """The final judgment for people, with the derived one beside it where moderation changed it."""
    j = judgment_of(r, bundle)
    text = f"{j.label} (moderated; derived {r.judgment_label})" if j.moderated else j.label
    secondary = r.counters.get("secondary", 0)
    if r.grade is not None and isinstance(secondary, int) and secondary:
        text += f" (rests on {secondary} secondary source{'s' if secondary != 1 else ''})"
    return text


def judgment_key(r: AreaResult) -> str:
    """A stable key for the judgment (a grade key or a status value), e.g. for a CSS class."""
    return r.judgment


def grade_label(key: str) -> str:
    """How a rung's grade key reads: `requires_improvement` -> `requires improvement`."""
    grade = Grade.from_key(key)
    return grade.label if grade is not None else key.replace("_", " ")


# ---------------------------------------------------------------- the batch table


@dataclass(frozen=True)
class GradeRow:
    force: str
    evidence: str
    judgments: tuple[str, ...]  # per area, in the table's area order; "" when the bundle lacks the area
    keys: tuple[str, ...]  # judgment_key per area, "" when absent


@dataclass(frozen=True)
class GradeTable:
    areas: tuple[tuple[str, str], ...]  # (name, title)
    rows: tuple[GradeRow, ...]


def grade_table(runs: Sequence[Run]) -> GradeTable:
    """One row per bundle, one column per area (in first-seen order across the batch)."""
    return results_table([(bundle, [t.result for t in traces]) for bundle, traces in runs])


def results_table(runs: Sequence[tuple[Bundle, Sequence[AreaResult]]]) -> GradeTable:
    """The same table from results alone, for callers that have no traces."""
    return rows_table([bundle_row(bundle, results) for bundle, results in runs])


@dataclass(frozen=True)
class BundleRow:
    """One bundle's row of the batch table before the table's columns are known: its own areas (name, title), in
    its order, and each one's cells. A few strings a bundle, so a batch's worker can send this back instead of the
    bundle (peelrules.batch, EvaluateWork.keep)."""

    force: str
    evidence: str
    areas: tuple[tuple[str, str], ...]  # (name, title) of each area the bundle has a result for
    judgments: tuple[str, ...]  # published(), per area of `areas`
    keys: tuple[str, ...]  # the final judgment key, per area of `areas`


def bundle_row(bundle: Bundle, results: Sequence[AreaResult]) -> BundleRow:
    judged = [judgment_of(r, bundle).final for r in results]
    return BundleRow(bundle.force, bundle.file, tuple((r.name, r.title) for r in results),
                     tuple(published(r, bundle) for r in results), tuple(judged))


def rows_table(rows: Sequence[BundleRow]) -> GradeTable:
    """The batch table of bundles' rows: one column per area, in first-seen order across the batch."""
    areas: dict[str, str] = {}
    for row in rows:
        for name, title in row.areas:
            areas.setdefault(name, title)
    out = []
    for row in rows:
        at = {name: i for i, (name, _) in enumerate(row.areas)}  # a name given twice: the last, as before
        found = [at.get(name) for name in areas]
        out.append(GradeRow(row.force, row.evidence, tuple(row.judgments[i] if i is not None else "" for i in found),
                            tuple(row.keys[i] if i is not None else "" for i in found)))
    return GradeTable(tuple(areas.items()), tuple(out))


def table_text(table: GradeTable) -> str:
    """An aligned plain-text table; area titles wrap over several header lines to keep columns narrow."""
    heads = ["force", "evidence"] + [title for _, title in table.areas]
    body = [[row.force, row.evidence, *row.judgments] for row in table.rows]
    widths = []
    for i, head in enumerate(heads):
        cells = max((len(r[i]) for r in body), default=0)
        longest_word = max((len(w) for w in head.split()), default=0)
        widths.append(max(cells, longest_word, 12 if i >= 2 else len(head)))
    wrapped = [textwrap.wrap(h, w) or [""] for h, w in zip(heads, widths)]
    depth = max(len(w) for w in wrapped)
    wrapped = [[""] * (depth - len(w)) + w for w in wrapped]  # bottom-aligned headers

    def line(cells: Sequence[str]) -> str:
        return "  ".join(f"{c:<{w}}" for c, w in zip(cells, widths)).rstrip()

    out = [line([w[i] for w in wrapped]) for i in range(depth)]
    out.append("  ".join("-" * w for w in widths))
    out.extend(line(r) for r in body)
    return "\n".join(out) + "\n"


def csv_cell(text: str) -> str:
    """Neutralise a cell a spreadsheet would run as a formula: prefix it with an apostrophe."""
    return neutralise_cell(text)


def table_csv(table: GradeTable) -> str:
    """RFC 4180 CSV (the csv module; CRLF line ends): force, evidence, then one column per area title."""
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow([csv_cell(c) for c in ["force", "evidence", *(title for _, title in table.areas)]])
    for row in table.rows:
        writer.writerow([csv_cell(c) for c in [row.force, row.evidence, *row.judgments]])
    return buf.getvalue()
