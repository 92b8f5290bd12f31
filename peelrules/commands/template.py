"""`peel evidence template`: an evidence skeleton for a rule set."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..diagnostics import PeelError
from . import EXIT_OK, IO


@dataclass(frozen=True)
class TemplateOptions:
    rules: Path | None = None
    out: Path | None = None


def run_template(opts: TemplateOptions, io: IO) -> int:
    from .. import load_rules
    from ..template import evidence_template

    try:
        io.emit(evidence_template(load_rules(opts.rules, io.limits)), opts.out, [opts.rules] if opts.rules else [])
    except PeelError as err:
        return io.fail(err)
    return EXIT_OK
