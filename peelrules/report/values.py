"""Stable formatting of runtime values, shared by every renderer."""
from __future__ import annotations

import math

from ..unparse import format_number
from ..values import DIGITS, UNKNOWN, Estimate, Interval, Ratio, Value


# Significant digits of a float in the JSON trace: those the engine settles computed numbers to (values.DIGITS),
# so what the trace shows of an interval bound or a z is what the rule compared.
JSON_DIGITS = DIGITS


def json_number(x: float) -> int | float:
    """A float as the JSON trace shows it: at JSON_DIGITS significant digits, an integral value as an int."""
    if not math.isfinite(x):
        raise ValueError(f"no JSON form for {x!r}")
    r = float(f"{x:.{JSON_DIGITS}g}")
    return int(r) if r.is_integer() and abs(r) < 1e15 else r


def value_json(v: Value) -> object:
    """The JSON form of a runtime value: one format for every run and machine."""
    if v is UNKNOWN:
        return "unknown"
    if isinstance(v, bool) or isinstance(v, (int, str)):
        return v
    if isinstance(v, float):
        return json_number(v)
    if isinstance(v, Interval):
        # no upper bound (a count of findings recorded in part: at least so many) is null, not JSON's missing inf
        return {"min": value_json(v.lo), "max": None if math.isinf(v.hi) else value_json(v.hi)}
    if isinstance(v, Estimate):
        return {"estimate": value_json(v.value), "ci": value_json(v.ci), "sample": v.sample}
    if isinstance(v, Ratio):
        return {"k": v.k, "n": v.n}
    raise TypeError(f"no JSON form for {v!r}")


def pct(x: float) -> str:
    text = f"{x * 100:.1f}".rstrip("0").rstrip(".")
    return f"{text}%"


def value_text(v: Value, type_name: str | None = None) -> str:
    """A short human form: 86 of 90 (95.6%), 85.2% ± 5.1% (n=183), 2 to 4, unknown."""
    if v is UNKNOWN:
        return "unknown"
    if v is True:
        return "true"
    if v is False:
        return "false"
    if isinstance(v, Ratio):
        return f"{v.k} of {v.n}" + (f" ({pct(v.k / v.n)})" if v.n else "")
    if isinstance(v, Estimate):
        return f"{pct(v.value)} ± {pct(v.ci)} (sample {v.sample})"
    if isinstance(v, Interval):
        if math.isinf(v.hi):
            return f"at least {value_text(v.lo)}"
        return f"between {value_text(v.lo)} and {value_text(v.hi)}"
    if isinstance(v, (int, float)):
        if type_name == "percent":
            return pct(v)
        if isinstance(v, float) and not v.is_integer():
            return f"{v:.4g}"
        return format_number(v)
    if isinstance(v, str):
        return v
    return str(v)


def outcome_word(kind: str, v: Value) -> str:
    """How a rule's outcome reads for its kind: met / not met for characteristics, raised / not raised else."""
    if v is UNKNOWN:
        return "unknown"
    if kind == "characteristic":
        return "met" if v else "not met"
    if kind in ("innovative_practice", "good_practice"):
        return "found" if v else "not found"
    return "raised" if v else "not raised"
