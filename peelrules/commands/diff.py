"""`peel diff`: which grades a rule change moves, and why, over a batch of bundles."""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from ..diagnostics import PeelError
from . import EXIT_INTERRUPTED, IO
from .batches import batch_end, progress


@dataclass(frozen=True)
class DiffOptions:
    old: Path
    new: Path
    evidence: tuple[Path, ...]
    fmt: str = "text"  # text or json
    jobs: int = 1
    quiet: bool = False


def run_diff(opts: DiffOptions, io: IO) -> int:
    from .. import batch as batches
    from .. import load_rules
    from ..report import text as text_report
    from ..report.values import value_json

    try:
        paths = batches.expand(opts.evidence)
        programs = load_rules(opts.old, io.limits), load_rules(opts.new, io.limits)
        with progress(io, len(paths), "Comparing", opts.quiet) as step:
            d, done = batches.diff_batch(*programs, paths, jobs=opts.jobs, progress=step)
        if len(paths) == 1 and done.failures:  # one bundle: its errors as always
            raise PeelError(list(done.failures[0].failure.diagnostics))
    except PeelError as err:
        return io.fail(err)
    except KeyboardInterrupt:
        io.say("interrupted")
        return EXIT_INTERRUPTED
    if not done.values:
        return batch_end(io, done, opts.quiet)
    if opts.fmt == "json":
        doc = {"bundles": d.bundles, "areas_compared": d.areas_compared, "moved": len(d.moved), "up": d.up,
               "down": d.down,
               "changes": [{"evidence": c.evidence, "area": c.area, "old": c.old, "new": c.new,
                            "direction": c.direction,
                            "rules": [{"rule": r, "old": value_json(a) if a is not None else None,
                                       "new": value_json(b) if b is not None else None} for r, a, b in c.rules]}
                           for c in d.changes]}
        io.print(json.dumps(doc, indent=2, sort_keys=True))
    else:
        io.print(text_report.rule_set_diff(d), nl=False)
    return batch_end(io, done, opts.quiet)
