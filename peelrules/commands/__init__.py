"""The commands of `peel`, one module each: `run_<cmd>(options, io) -> int`, with no click in them.

cli.py turns the command line into an options dataclass and calls one of these; each writes its output to `io.out`,
its messages to `io.err`, and returns the exit code (the codes below). Nothing here exits the process, so a command
runs the same from the CLI, from a test, or from another program.
"""
from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from ..diagnostics import PeelError, Severity, render_all
from ..limits import DEFAULT_LIMITS, Limits
from ..output import write_atomic

EXIT_OK, EXIT_FAILED, EXIT_INPUT, EXIT_INTERNAL, EXIT_INTERRUPTED = 0, 1, 2, 3, 130


@dataclass
class IO:
    """Where a command writes: its output, its messages, and the limits of the run (max_errors bounds messages)."""

    out: TextIO = field(default_factory=lambda: sys.stdout)
    err: TextIO = field(default_factory=lambda: sys.stderr)
    limits: Limits = DEFAULT_LIMITS

    def print(self, text: str = "", *, nl: bool = True) -> None:
        self.out.write(text + ("\n" if nl else ""))
        self.out.flush()

    def say(self, text: str = "", *, nl: bool = True) -> None:
        """A message on stderr."""
        self.err.write(text + ("\n" if nl else ""))
        self.err.flush()

    def emit(self, text: str, out: Path | None, inputs: list[Path]) -> None:
        """text to standard output, or atomically to the file `out` (never over one of `inputs`)."""
        if out is None:
            self.print(text, nl=False)
        else:
            write_atomic(out, text, inputs)

    def fail(self, err: PeelError, code: int = EXIT_INPUT) -> int:
        """The diagnostics of err on stderr, at most max_errors of them, and a count; returns code."""
        self.say(render_all(err.diagnostics, self.limits.max_errors))
        n = sum(1 for d in err.diagnostics if d.severity is Severity.ERROR)
        self.say(f"\n{n} error{'s' if n != 1 else ''}.")
        return code

    def counts(self, errors: int, warnings: int) -> None:
        self.say(f"\n{errors} error{'s' if errors != 1 else ''}, {warnings} warning{'s' if warnings != 1 else ''}.")
