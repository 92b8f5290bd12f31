"""`peel chart`: place a force among its peers on a comparator dataset, as text or as the inspectorate's SVG."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..diagnostics import PeelError, safe
from . import EXIT_INPUT, EXIT_OK, IO


@dataclass(frozen=True)
class ChartOptions:
    comparator: Path
    force: str
    fmt: str = "text"  # text or svg
    out: Path | None = None


def run_chart(opts: ChartOptions, io: IO) -> int:
    from ..comparators import load_comparator
    from ..report import chart as chart_report

    try:
        data = load_comparator(opts.comparator, io.limits)
    except PeelError as err:
        return io.fail(err)
    force, name = opts.force, safe(opts.comparator.name)
    if force not in data.values:
        near = ", ".join(sorted(f for f in data.values if force.lower() in f.lower())[:5])
        io.say(f"error: {name} has no force named {safe(force)!r}"
               + (f" (did you mean: {safe(near)}?)" if near else "; its forces are listed under `values:`"))
        return EXIT_INPUT
    if data.values[force] is None:
        io.say(f"error: {safe(force)} supplied no value for {safe(data.measure)} in {name}")
        return EXIT_INPUT
    result = data.compare(force)
    if opts.fmt == "svg":
        text = chart_report.chart_svg(data.values, result, data.title, data.unit, data.illustrative, data.sha256)
    else:
        rows = chart_report.peer_rows(data.values, result)
        width = max(len(f) for f, _, _ in rows)
        lines = [data.title + (" (ILLUSTRATIVE DATA, not real)" if data.illustrative else ""),
                 chart_report.peer_summary(result, data.unit), ""]
        lines += [f"  {f:<{width}}  {v:>8}  {note}".rstrip() for f, v, note in rows]
        text = "\n".join(lines) + "\n"
    try:
        io.emit(text, opts.out, [opts.comparator])
    except PeelError as err:
        return io.fail(err)
    return EXIT_OK
