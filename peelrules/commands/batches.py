"""What `peel evaluate` and `peel diff` show around a batch on stderr: a progress bar while it runs (a terminal
only), then each failed bundle's errors and the summary table; and the batch's exit code."""
from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from ..diagnostics import Severity, render_all, safe
from . import EXIT_INPUT, EXIT_INTERNAL, EXIT_OK, IO


def _isatty(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


@contextlib.contextmanager
def progress(io: IO, total: int, label: str, quiet: bool) -> Iterator[Callable[[int, int, Path], None] | None]:
    """A progress callback drawing a bar on stderr for a batch of more than 5 when stderr is a terminal.

    The bar is redrawn by the callback, at most ten times a second, never by a thread (batch workers fork)."""
    if quiet or total <= 5 or not _isatty(io.err):
        yield None
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    with Progress(TextColumn(label), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                  TextColumn("{task.fields[item]}"), console=Console(file=io.err), auto_refresh=False,
                  transient=True) as bar:
        task = bar.add_task(label, total=total, item="")
        shown = [0.0]

        def step(done: int, total: int, path: Path) -> None:
            bar.update(task, completed=done, item=safe(str(path))[-40:])
            if time.monotonic() - shown[0] >= 0.1 or done == total:
                shown[0] = time.monotonic()
                bar.refresh()

        bar.refresh()
        yield step


def batch_end(io: IO, batch: Any, quiet: bool) -> int:
    """Each failed bundle's errors, then the summary table of a batch of more than one, on stderr; the exit code."""
    limit = io.limits.max_errors
    budget = limit  # errors printed across the whole batch, so that 10,000 bad bundles do not flood stderr
    for shown, o in enumerate(batch.failures):
        if budget <= 0:
            left = len(batch.failures) - shown
            io.say(f"... and {left:,} more failed bundle{'s' if left != 1 else ''}, not shown: at most "
                   f"{limit:,} errors are printed for a batch (change it with --limit max_errors=N)\n")
            break
        diags = list(o.failure.diagnostics)
        io.say(render_all(diags, budget) + "\n")
        budget -= max(1, sum(1 for d in diags if d.severity is Severity.ERROR))
    summary = batch.summary
    if not quiet and summary.bundles > 1:
        heads, rows = summary.table()
        if _isatty(io.err):
            from rich.console import Console
            from rich.table import Table

            table = Table(title=summary.line(), title_justify="left")
            table.add_column(heads[0], no_wrap=True, overflow="ellipsis", max_width=40)
            for head in heads[1:]:
                table.add_column(head, justify="right")
            for row in rows:
                table.add_row(*row)
            Console(file=io.err).print(table)
        else:
            widths = [max(len(r[i]) for r in [heads, *rows]) for i in range(len(heads))]
            lines = [summary.line(), *("  ".join(c.ljust(w) if i == 0 else c.rjust(w)
                                                 for i, (c, w) in enumerate(zip(r, widths))).rstrip()
                                       for r in [heads, *rows])]
            io.say("\n".join(lines))
    if any(o.failure.kind == "internal" for o in batch.failures):
        return EXIT_INTERNAL
    return EXIT_INPUT if batch.failures else EXIT_OK
