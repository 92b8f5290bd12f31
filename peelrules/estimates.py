"""Estimates and peer comparisons as rules read them: the run-time functions both evaluators call.

An estimate fact keeps the interval its source states (85.2% +/- 5.1%, method "given"); a ratio fact (k of n)
read as an estimate gets the interval of the rule set's method (`interval normal` or `interval wilson` in the
framework header; normal when the header names none). `significantly_below(x, s)` is true when the whole
interval lies below s, false when none of it does and unknown when the interval straddles s: never a guess.

Peer comparisons (`outlier(x)`, `peer_z(x)`, `peer_rank(x)`) read the bundle's comparator for x, placed by
stats.compare_with_peers when the bundle was loaded (peelrules/peers.py); unknown without it.
"""
from __future__ import annotations

from dataclasses import dataclass

from . import stats
from .values import UNKNOWN, Estimate, Ratio, Value, to_number

DEFAULT_INTERVAL = "normal"


@dataclass(frozen=True)
class EstimateLeaf:
    """What the trace shows of an estimate a rule used: its value and interval, how the interval was found,
    the sample and whether it is small (None: the rule set sets no threshold), and, for a significance test,
    the standard and what the interval says of it."""

    value: float
    lower: float
    upper: float
    method: str  # "given" (stated by the source), "normal" or "wilson" (computed from k of n)
    sample: int | None
    small: bool | None
    threshold: int | None
    standard: float | None = None
    verdict: str | None = None  # e.g. "interval straddles the standard"


def interval_of(v: Value, method: str) -> stats.Interval | None:
    """The confidence interval of an estimate (as stated) or of a ratio k of n (computed); None otherwise."""
    if isinstance(v, Estimate):
        return stats.given(v.value, v.ci, v.sample)
    if isinstance(v, Ratio) and v.n > 0 and 0 <= v.k <= v.n:
        return stats.k_of_n(v.k, v.n, method)
    return None


def bound(which: str, v: Value, method: str) -> Value:
    """lower(x) / upper(x): a bound of x's interval; unknown for anything without one."""
    if v is UNKNOWN:
        return UNKNOWN
    if isinstance(v, Estimate):  # as before ratios had intervals: the Estimate's own (clipped) bounds
        return v.lower if which == "lower" else v.upper
    iv = interval_of(v, method)
    if iv is None:
        return UNKNOWN
    return iv.lower if which == "lower" else iv.upper


def significantly(side: str, v: Value, standard: Value, method: str) -> Value:
    """significantly_below / significantly_above (`side` "below" or "above"): True, False or unknown."""
    if v is UNKNOWN or standard is UNKNOWN:
        return UNKNOWN
    iv = interval_of(v, method)
    s = to_number(standard) if not isinstance(standard, bool) else UNKNOWN
    if iv is None or not isinstance(s, (int, float)) or isinstance(s, bool):
        return UNKNOWN
    found = stats.significantly_below(iv, s) if side == "below" else stats.significantly_above(iv, s)
    return UNKNOWN if found is None else found


def small(v: Value, threshold: int | None) -> Value:
    """small_sample(x): x's sample (an estimate's sample, a ratio's n) is below the threshold."""
    if v is UNKNOWN or threshold is None:
        return UNKNOWN
    n = v.sample if isinstance(v, Estimate) else v.n if isinstance(v, Ratio) else None
    return UNKNOWN if n is None else n < threshold


def sample_of(v: Value) -> int | None:
    return v.sample if isinstance(v, Estimate) else v.n if isinstance(v, Ratio) else None


def leaf(v: Value, method: str, threshold: int | None, func: str, standard: Value = None,
         outcome: Value = None) -> EstimateLeaf | None:
    """The trace's account of estimate x in func(x, ...); None when x has no interval (unknown, say)."""
    iv = interval_of(v, method)
    if iv is None:
        return None
    n = sample_of(v)
    verdict = None
    s: float | None = None
    if func in ("significantly_below", "significantly_above"):
        side = func.rsplit("_", 1)[1]
        num = to_number(standard) if standard is not None and standard is not UNKNOWN \
            and not isinstance(standard, bool) else UNKNOWN
        if isinstance(num, (int, float)):
            s = float(num)
            verdict = ("interval straddles the standard" if outcome is UNKNOWN else
                       f"whole interval {side} the standard" if outcome is True else
                       f"no part of the interval {side} the standard")
        else:
            verdict = "the standard is unknown"
    return EstimateLeaf(iv.value, iv.lower, iv.upper, iv.method, n,
                        None if threshold is None or n is None else n < threshold, threshold, s, verdict)
