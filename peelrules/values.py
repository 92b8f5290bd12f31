"""Runtime values and three-valued (Kleene) operations.

`UNKNOWN` stands for anything that cannot be known from the evidence: a missing fact, a division by zero,
or any operation on an unknown. Counters whose rules are partly unknown are `Interval`s; a comparison
that holds for part of an interval only is unknown.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Union


class _Unknown:
    _instance: "_Unknown | None" = None

    def __new__(cls) -> "_Unknown":
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "unknown"

    def __bool__(self) -> bool:  # guard against accidental truth tests
        raise TypeError("unknown has no truth value; use the Kleene operations")


UNKNOWN = _Unknown()

# Significant digits of a number the engine computes from stated ones: an interval's bounds, a peer comparison's
# mean, sd and z (docs/statistics.md). A computed number is settled to these digits where it is computed, so the
# rules compare the number the trace shows: 85.2% - 5.1% is 0.801, as the source means, not float arithmetic's
# 0.8009999999999999, and `lower(x) >= 80.1%` holds. Twelve digits drop the last-bit noise and keep far more
# than any evidence states.
DIGITS = 12


_SETTLED = f".{DIGITS}g"


def settle(x: float) -> float:
    """x at DIGITS significant digits (inf and nan as they are: they format as 'inf' and 'nan')."""
    return float(format(x, _SETTLED))


@dataclass(frozen=True)
class Estimate:
    """A survey estimate: point value with a confidence half-width and sample size (fractions for percents)."""

    value: float
    ci: float
    sample: int

    @property
    def lower(self) -> float:
        q = float(format(self.value - self.ci, _SETTLED))  # settle(), inline: read on every bundle
        return q if q > 0.0 else 0.0  # max(0.0, q), nan included

    @property
    def upper(self) -> float:
        q = float(format(self.value + self.ci, _SETTLED))
        return q if q < 1.0 else 1.0


@dataclass(frozen=True)
class Ratio:
    """k of n, such as 86 of 90 case files."""

    k: int
    n: int


@dataclass(frozen=True)
class Interval:
    """A number known only to lie between lo and hi (both inclusive)."""

    lo: float
    hi: float


Value = Union[bool, int, float, str, Estimate, Ratio, Interval, _Unknown]

ASSESSMENT_ORDER = {"not_met": 0, "partly_met": 1, "met": 2, "exceeded": 3}


def to_number(v: Value) -> "float | int | Interval | _Unknown":
    if v is UNKNOWN:
        return UNKNOWN
    if isinstance(v, Estimate):
        return v.value
    if isinstance(v, Ratio):
        return UNKNOWN if v.n == 0 else v.k / v.n
    if isinstance(v, bool):
        raise TypeError("a flag is not a number")
    return v  # type: ignore[return-value]


def k_not(v: Value) -> Value:
    return UNKNOWN if v is UNKNOWN else (not v)


def k_and(a: Value, b: Value) -> Value:
    if a is False or b is False:
        return False
    if a is UNKNOWN or b is UNKNOWN:
        return UNKNOWN
    return True


def k_or(a: Value, b: Value) -> Value:
    if a is True or b is True:
        return True
    if a is UNKNOWN or b is UNKNOWN:
        return UNKNOWN
    return False


def _bounds(v: object) -> tuple[float, float]:
    if isinstance(v, Interval):
        return v.lo, v.hi
    return v, v  # type: ignore[return-value]


def finite(x: object) -> object:
    """A number that overflowed (inf) or lost its meaning (nan) is unknown, never a value to compare."""
    if isinstance(x, float) and not math.isfinite(x):
        return UNKNOWN
    if isinstance(x, int) and not isinstance(x, bool) and abs(x) > _MAX_INT:
        return UNKNOWN  # beyond any float: would overflow when mixed with one
    return x


_MAX_INT = 10**300


def _arith(op: str, a: object, b: object) -> object:
    if isinstance(a, Interval) or isinstance(b, Interval):
        alo, ahi = _bounds(a)
        blo, bhi = _bounds(b)
        if op == "/" and blo <= 0 <= bhi:
            return UNKNOWN
        corners = [_arith(op, x, y) for x in (alo, ahi) for y in (blo, bhi)]
        if any(c is UNKNOWN for c in corners):
            return UNKNOWN
        lo, hi = min(corners), max(corners)  # type: ignore[type-var]
        return lo if lo == hi else Interval(lo, hi)  # type: ignore[arg-type]
    if op == "+":
        return finite(a + b)  # type: ignore[operator]
    if op == "-":
        return finite(a - b)  # type: ignore[operator]
    if op == "*":
        return finite(a * b)  # type: ignore[operator]
    if b == 0:
        return UNKNOWN
    return finite(a / b)  # type: ignore[operator]


_CMP = {
    ">=": lambda a, b: a >= b, "<=": lambda a, b: a <= b, ">": lambda a, b: a > b,
    "<": lambda a, b: a < b, "==": lambda a, b: a == b, "!=": lambda a, b: a != b,
}


def compare(op: str, a: Value, b: Value) -> Value:
    if a is UNKNOWN or b is UNKNOWN:
        return UNKNOWN
    if isinstance(a, str) and a in ASSESSMENT_ORDER and isinstance(b, str) and b in ASSESSMENT_ORDER:
        return _CMP[op](ASSESSMENT_ORDER[a], ASSESSMENT_ORDER[b])
    if isinstance(a, (str, bool)) or isinstance(b, (str, bool)):
        return _CMP[op](a, b)
    x, y = to_number(a), to_number(b)
    if x is UNKNOWN or y is UNKNOWN:
        return UNKNOWN
    if isinstance(x, Interval) or isinstance(y, Interval):
        xlo, xhi = _bounds(x)
        ylo, yhi = _bounds(y)
        outcomes = {_CMP[op](p, q) for p in {xlo, xhi} for q in {ylo, yhi}}
        if op in ("==", "!="):
            # equality holds throughout only if both are the same single point
            if xlo == xhi == ylo == yhi:
                return _CMP[op](xlo, ylo)
            overlap = not (xhi < ylo or yhi < xlo)
            if not overlap:
                return op == "!="
            return UNKNOWN
        return outcomes.pop() if len(outcomes) == 1 else UNKNOWN
    return _CMP[op](x, y)


def apply_binary(op: str, a: Value, b: Value) -> Value:
    if op == "and":
        return k_and(a, b)
    if op == "or":
        return k_or(a, b)
    if op in _CMP:
        return compare(op, a, b)
    x, y = to_number(a), to_number(b)
    if x is UNKNOWN or y is UNKNOWN:
        return UNKNOWN
    return _arith(op, x, y)  # type: ignore[return-value]


def apply_unary(op: str, v: Value) -> Value:
    if op == "not":
        return k_not(v)
    x = to_number(v)
    if x is UNKNOWN:
        return UNKNOWN
    if isinstance(x, Interval):
        return Interval(-x.hi, -x.lo)
    return -x  # type: ignore[operator]


def k_in(item: Value, options: list[Value]) -> Value:
    result: Value = False
    for o in options:
        result = k_or(result, compare("==", item, o))
    return result
