"""`peel verify`: re-run the evaluation recorded in a JSON trace and confirm the same result, or say what differs."""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from ..diagnostics import Code, Diagnostic, PeelError, safe
from ..source import Span
from . import EXIT_FAILED, EXIT_OK, IO

_HINT = "give a file written by `peel evaluate --format json`"


@dataclass(frozen=True)
class VerifyOptions:
    trace: Path
    rules: Path | None = None
    evidence: tuple[Path, ...] = ()  # evidence files to use instead of the recorded ones


def run_verify(opts: VerifyOptions, io: IO) -> int:
    from ..loader import read_source
    from ..verify import verify

    try:
        src = read_source(opts.trace)
        try:
            recorded = json.loads(src.text)
        except RecursionError:
            raise PeelError([Diagnostic(Code.PR404, f"'{src.name}' is nested too deeply to be a trace",
                                        Span(src.name, 1, 1, 1, 2), _HINT, line_text=src.line_text(1)[:80])]) from None
        except json.JSONDecodeError as err:
            raise PeelError([Diagnostic(Code.PR313, "the file is not valid JSON", Span(src.name, err.lineno, err.colno,
                                        err.lineno, err.colno + 1), _HINT, line_text=src.line_text(err.lineno))]) \
                from None
        diffs, doc = verify(recorded, opts.rules, list(opts.evidence) or None, src.name)
    except PeelError as err:
        return io.fail(err)
    shown = safe(str(opts.trace))
    if diffs:
        io.print(f"NOT VERIFIED: {shown} differs from a re-run:")
        for d in diffs:
            io.print(f"  {safe(str(d))}")
        return EXIT_FAILED
    n_areas = sum(len(r["areas"]) for r in doc["results"])
    io.print(f"verified: {shown} — same inputs, same result for {len(doc['results'])} bundle(s), "
             f"{n_areas} area judgments (result sha256 {doc['result_sha256'][:16]}…)")
    return EXIT_OK
