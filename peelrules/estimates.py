"""Estimates and peer comparisons as rules read them: the run-time functions both evaluators call.

An estimate fact keeps the interval its source states (85.2% +/- 5.1%, method "given"); a ratio fact (k of n)
read as an estimate gets the interval of the rule set's method (`interval normal` or `interval wilson` in the
framework header; normal when the header names none). `significantly_below(x, s)` is true when the whole
interval lies below s, false when none of it does and unknown when the interval straddles s: never a guess.

Two estimates (or ratios) compare by their intervals (`overlaps(a, b)`) or by the pooled two-proportion z-test
at the level of the intervals, 95% (`significantly_changed(a, b)`, and `significantly_lower(a, b)` /
`significantly_higher(a, b)` for one direction: a against b); unknown without both intervals, or both samples.

Peer comparisons (`outlier(x)`, `peer_z(x)`, `peer_rank(x)`) read the bundle's comparator for x, placed by
stats.compare_with_peers when the bundle was loaded (peelrules/peers.py); unknown without it.
"""
from __future__ import annotations

from dataclasses import dataclass

from . import stats
from .values import UNKNOWN, Estimate, Ratio, Value, settle, to_number

DEFAULT_INTERVAL = "normal"
LEVEL = stats.LEVEL  # of every interval and of the two-proportion test (rule sets cannot choose it yet)


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


@dataclass(frozen=True)
class ComparisonLeaf:
    """What the trace shows of a comparison of two estimates a and b: each (None: it has no interval) and, for the
    two-proportion test, its figures (None without both shares); the verdict in words ("broadly unchanged")."""

    test: str  # "overlap" (overlaps) or "two_proportion" (significantly_changed, _lower, _higher)
    first: EstimateLeaf | None
    second: EstimateLeaf | None
    verdict: str
    difference: float | None = None  # a - b
    z: float | None = None
    p_value: float | None = None  # two-sided
    critical: float | None = None  # the |z| beyond which the difference is significant at `level`
    level: float | None = None


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


def overlapping(a: Value, b: Value, method: str) -> Value:
    """overlaps(a, b): whether the intervals of a and b overlap; unknown when either has none."""
    ia = None if a is UNKNOWN else interval_of(a, method)
    ib = None if b is UNKNOWN else interval_of(b, method)
    return UNKNOWN if ia is None or ib is None else stats.overlap(ia, ib)


def proportion(v: Value) -> tuple[float, int] | None:
    """A share and its sample, as the two-proportion test reads them: an estimate's value and sample, a ratio's
    k/n and n; None for anything else (unknown, a number, an estimate that is not a share)."""
    if isinstance(v, Estimate) and 0 <= v.value <= 1 and v.sample >= 1:
        return v.value, v.sample
    if isinstance(v, Ratio) and v.n > 0 and 0 <= v.k <= v.n:
        return v.k / v.n, v.n
    return None


def test_of(a: Value, b: Value) -> stats.TwoProportionTest | None:
    """The pooled two-proportion z-test of a against b (difference a - b) at LEVEL; None without both shares."""
    pa, pb = proportion(a), proportion(b)
    if pa is None or pb is None:
        return None
    return stats.two_proportion_test(pb[0], pb[1], pa[0], pa[1], alpha=settle(1 - LEVEL))


def changed(direction: str, a: Value, b: Value) -> Value:
    """significantly_changed / _lower / _higher (`direction` "changed", "lower" or "higher"): whether a differs
    from b significantly (in that direction): True, False, or unknown without both shares."""
    t = test_of(a, b)
    if t is None:
        return UNKNOWN
    return t.significant and (direction == "changed" or t.verdict == direction)


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


def comparison(func: str, a: Value, b: Value, method: str, threshold: int | None, outcome: Value) -> ComparisonLeaf:
    """The trace's account of func(a, b): both estimates, the test's figures and its verdict in words."""
    first, second = leaf(a, method, threshold, func), leaf(b, method, threshold, func)
    missing = "first" if first is None else "second" if second is None else None
    if func == "overlaps":
        verdict = (f"unknown: the {missing} estimate is unknown or has no interval" if missing else
                   "the intervals overlap" if outcome is True else "the intervals do not overlap")
        return ComparisonLeaf("overlap", first, second, verdict)
    t = test_of(a, b)
    if t is None:
        missing = missing or ("first" if proportion(a) is None else "second")
        return ComparisonLeaf("two_proportion", first, second,
                              f"unknown: the {missing} estimate is unknown or not a share of a known sample")
    verdict = f"significantly {t.verdict}" if t.significant else t.verdict  # "broadly unchanged"
    return ComparisonLeaf("two_proportion", first, second, verdict, settle(t.difference), settle(t.z),
                          settle(t.p_value), stats.z_for(LEVEL), LEVEL)
