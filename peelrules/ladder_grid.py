"""The deep ladder checks of `peel check` (PR221, PR222), run compiled: every rung's condition is evaluated once
over the whole grid of counter values as numpy arrays, instead of climbing the ladder through the interpreter at
each of the grid's points.

The results are those of climbing each point with `Evaluator.climb` (the same grid, the same three-valued logic:
`unknown` for division by zero, for a rule beyond the ones explored, and for any number that overflows), so the
warnings are the same; `lint._ladders` checks that a ladder is within what this module evaluates (counters,
rules, constants, numbers, arithmetic, comparisons, and, or, not) and climbs the others point by point.

Truth values are int8 arrays (1 true, 0 false, -1 unknown); numbers float64 arrays with NaN for unknown. Grid
counters and the constants allowed here are small whole numbers or floats, which float64 holds exactly, so a
comparison gives what Python's gives.
"""
from __future__ import annotations

import functools
import itertools
from collections.abc import Callable
from typing import Any

import numpy as np

from . import nodes as n
from .grades import Grade

# The grid of lint.counter_grid(), in its order: characteristics 1..C, met 0..c, exceeded 0..met, then concerns,
# severe and innovative 0..2 and improvements 0..I, the last fastest.
KEYS = ("characteristics", "met", "unmet", "exceeded", "concerns", "improvements", "innovative", "severe",
        "secondary")
_EXACT = 2 ** 53


class Unsupported(Exception):
    """The ladder reads something this evaluator does not handle: climb it point by point instead."""


@functools.lru_cache(maxsize=4)
def grid(max_characteristics: int, max_improvements: int) -> dict[str, Any]:
    """Counter columns over the grid, and for each shortfall the index of the point with one more of it (-1 when
    that point is off the grid)."""
    triples = [(c, met, ex) for c in range(1, max_characteristics + 1) for met in range(c + 1)
               for ex in range(met + 1)]
    inner = np.indices((3, 3, 3, max_improvements + 1)).reshape(4, -1)  # concerns, severe, innovative, improvements
    k = inner.shape[1]
    t = np.array(triples, dtype=np.int64)
    cols = {"characteristics": np.repeat(t[:, 0], k), "met": np.repeat(t[:, 1], k),
            "exceeded": np.repeat(t[:, 2], k), "concerns": np.tile(inner[0], len(triples)),
            "severe": np.tile(inner[1], len(triples)), "innovative": np.tile(inner[2], len(triples)),
            "improvements": np.tile(inner[3], len(triples))}
    cols["unmet"] = cols["characteristics"] - cols["met"]
    cols["secondary"] = np.zeros_like(cols["met"])
    size = len(cols["met"])
    dims = (max_characteristics + 1, max_characteristics + 1, max_characteristics + 1, 3, 3, 3, max_improvements + 1)
    order = ("characteristics", "met", "exceeded", "concerns", "severe", "innovative", "improvements")

    def code(c: dict[str, np.ndarray]) -> np.ndarray:
        return np.ravel_multi_index(tuple(c[o] for o in order), dims, mode="clip")

    where = np.full(int(np.prod(dims)), -1, dtype=np.int64)
    where[code(cols)] = np.arange(size)
    worse: dict[str, np.ndarray] = {}
    for s, top in (("concerns", 2), ("improvements", max_improvements), ("severe", 2)):
        moved = dict(cols)
        moved[s] = cols[s] + 1
        worse[s] = np.where(moved[s] <= top, where[code(moved)], -1)
    moved = dict(cols)
    moved["met"] = cols["met"] - 1
    moved["exceeded"] = np.minimum(cols["exceeded"], moved["met"])
    worse["unmet"] = np.where(cols["met"] >= 1, where[code(moved)], -1)
    floats = {name: c.astype(np.float64) for name, c in cols.items()}
    return {"ints": cols, "floats": floats, "worse": worse, "size": size}


_CMP: dict[str, Callable[[np.ndarray, np.ndarray], np.ndarray]] = {
    ">=": np.greater_equal, "<=": np.less_equal, ">": np.greater, "<": np.less, "==": np.equal, "!=": np.not_equal}


class _Columns:
    """Evaluates one ladder's expressions over `points` points: the grid repeated for each combination of the
    explored rules' values."""

    def __init__(self, g: dict[str, Any], consts: dict[str, object], flags: dict[str, np.ndarray],
                 fixed: Callable[[n.Expr], object], refs: set[str]):
        self.g = g
        self.consts = consts
        self.flags = flags
        self.fixed = fixed  # the value of an expression that reads no counter and no rule, by the interpreter
        self.refs = refs
        self.points = len(next(iter(flags.values()))) if flags else g["size"]
        self.repeat = self.points // g["size"]

    def counter(self, name: str) -> np.ndarray:
        col = self.g["floats"][name]
        return np.repeat(col, self.repeat) if self.repeat > 1 else col

    def scalar(self, v: object) -> tuple[str, Any]:
        if v is True or v is False:
            return "bool", np.int8(1 if v else 0)
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            if isinstance(v, int) and abs(v) > _EXACT:
                raise Unsupported("a whole number beyond float precision")
            return "num", np.float64(v)
        from .values import UNKNOWN
        if v is UNKNOWN:
            return "unknown", None
        raise Unsupported(f"a value of type {type(v).__name__}")

    def eval(self, e: n.Expr) -> tuple[str, Any]:
        if isinstance(e, n.CounterRef):
            return "num", self.counter(e.name)
        if isinstance(e, n.RuleRef):
            col = self.flags.get(e.key)
            return ("bool", col) if col is not None else ("unknown", None)
        if not any(isinstance(x, (n.CounterRef, n.RuleRef)) for x in n.walk(e)):
            return self.scalar(self.fixed(e))
        if isinstance(e, n.Unary):
            kind, v = self.eval(e.operand)
            if e.op == "not":
                v = self.truth(kind, v)
                return "bool", np.where(v < 0, v, 1 - v).astype(np.int8)
            return "num", -self.number(kind, v)
        if isinstance(e, n.Binary):
            ka, a = self.eval(e.left)
            kb, b = self.eval(e.right)
            if e.op in ("and", "or"):
                a, b = self.truth(ka, a), self.truth(kb, b)
                decisive = 0 if e.op == "and" else 1
                out = np.where((a == decisive) | (b == decisive), decisive,
                               np.where((a < 0) | (b < 0), -1, 1 - decisive))
                return "bool", out.astype(np.int8)
            if e.op in _CMP:
                if "bool" in (ka, kb) and "num" in (ka, kb):
                    raise Unsupported("a flag compared with a number")
                if ka == kb == "bool" or (ka == "bool" and kb == "unknown") or (kb == "bool" and ka == "unknown"):
                    a, b = self.truth(ka, a), self.truth(kb, b)
                    known = (a >= 0) & (b >= 0)
                    return "bool", np.where(known, _CMP[e.op](a, b), -1).astype(np.int8)
                a, b = self.number(ka, a), self.number(kb, b)
                with np.errstate(invalid="ignore"):
                    known = ~(np.isnan(a) | np.isnan(b))
                    return "bool", np.where(known, _CMP[e.op](a, b), -1).astype(np.int8)
            a, b = self.number(ka, a), self.number(kb, b)
            with np.errstate(all="ignore"):
                if e.op == "+":
                    out = a + b
                elif e.op == "-":
                    out = a - b
                elif e.op == "*":
                    out = a * b
                elif e.op == "/":
                    out = np.where(b == 0, np.nan, a / np.where(b == 0, 1.0, b))
                else:  # pragma: no cover - the checker allows no other operator
                    raise Unsupported(e.op)
                return "num", np.where(np.isfinite(out), out, np.nan)
        raise Unsupported(type(e).__name__)

    def full(self, v: Any, dtype: Any) -> np.ndarray:
        arr = np.asarray(v, dtype=dtype)
        return np.broadcast_to(arr, (self.points,)) if arr.ndim == 0 else arr

    def truth(self, kind: str, v: Any) -> np.ndarray:
        if kind == "unknown":
            return self.full(-1, np.int8)
        if kind != "bool":
            raise Unsupported("a number where a condition is expected")
        return self.full(v, np.int8)

    def number(self, kind: str, v: Any) -> np.ndarray:
        if kind == "unknown":
            return self.full(np.nan, np.float64)
        if kind != "num":
            raise Unsupported("a condition where a number is expected")
        return self.full(v, np.float64)


def explore(ladder: n.Ladder, consts: dict[str, object], explored: list[str], refs: set[str],
            fixed: Callable[[n.Expr], object], max_characteristics: int,
            max_improvements: int) -> tuple[set[int], str | None]:
    """The rungs that fire somewhere on the grid, and the first example (in grid order) of one more shortfall
    giving a better grade, as lint words it; raises Unsupported for a ladder this cannot evaluate."""
    g = grid(max_characteristics, max_improvements)
    combos = list(itertools.product((True, False), repeat=len(explored)))
    size = g["size"]
    flags = {key: np.tile(np.array([1 if c[j] else 0 for c in combos], dtype=np.int8), size)
             for j, key in enumerate(explored)}
    cols = _Columns(g, consts, flags, fixed, refs)
    points = size * len(combos)
    alive = np.ones(points, dtype=bool)
    grades = np.full(points, -1, dtype=np.int8)
    fired: set[int] = set()
    for i, rung in enumerate(ladder.rungs):
        if rung.condition is None:
            v = cols.full(1, np.int8)
        else:
            v = cols.truth(*cols.eval(rung.condition))
        fire = alive & (v == 1)
        if fire.any():
            fired.add(i)
            grade = Grade.from_key(rung.grade)
            assert grade is not None
            grades[fire] = int(grade)
        alive &= v == 0
        if not alive.any():
            break
    return fired, _non_monotone(g, grades, len(combos))


_SHORTFALLS = ("concerns", "improvements", "severe", "unmet")


def _non_monotone(g: dict[str, Any], grades: np.ndarray, combos: int) -> str | None:
    graded = grades >= 0
    first: int | None = None
    which = ""
    for s in _SHORTFALLS:
        nb = g["worse"][s]
        nb_points = np.repeat(nb, combos) * combos + np.tile(np.arange(combos), len(nb))
        on_grid = np.repeat(nb >= 0, combos)
        other = np.where(on_grid, grades[np.where(on_grid, nb_points, 0)], -1)
        bad = np.flatnonzero(graded & (other > grades))
        if len(bad) and (first is None or bad[0] < first):
            first, which = int(bad[0]), s
    if first is None:
        return None
    point = first // combos
    v = {k: int(g["ints"][k][point]) for k in KEYS}
    nb = int(g["worse"][which][point]) * combos + first % combos
    grade, other = Grade(int(grades[first])), Grade(int(grades[nb]))
    shown = ", ".join(f"{k} {v[k]}" for k in KEYS if k != "secondary")  # always 0 on the grid
    more = "unmet characteristic" if which == "unmet" else which[:-1] if which != "severe" else "severe finding"
    return f"with {shown} the grade is {grade.label}, but with one more {more} it is {other.label}"
