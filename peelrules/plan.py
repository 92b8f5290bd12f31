"""The compiler's plan of a traced run: which local of the generated function holds each expression node's value.

Made by compile.py as it generates the code, kept with the compiled program (and in its disk entry), and turned into
trace builders by tracer.py the first time a run is traced."""
from __future__ import annotations

from dataclasses import dataclass

from . import nodes as n


@dataclass(frozen=True, eq=False)
class Planned:
    """One expression node as compiled: the local that holds its value in a traced run's record (None: its
    value, known when it was compiled, is `value`), and its operands as compiled, in the order the interpreter
    evaluates them."""

    node: n.Expr
    slot: str | None
    value: object
    children: tuple["Planned", ...]
    area: str | None  # the area a ladder is graded for (what stated() without an area counts in)
