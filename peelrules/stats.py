"""Evidence as estimates, and a force among its peers: intervals, significance and the outlier method.

Pure arithmetic on the standard library (statistics.NormalDist for the normal distribution). Everything a
rule set may choose is a parameter with a documented default (docs/statistics.md):

- intervals: the normal approximation the inspectorate uses (85.2% of 183 gives +/- 5.1%) or Wilson's;
- significance: a value is significantly below a standard when its whole interval lies below it, above when
  the whole interval lies above; otherwise the answer is unknown (None) and the caller says so;
- two estimates: whether their intervals overlap, and a two-proportion z-test ("broadly unchanged" when the
  difference is not significant at the chosen level);
- peers: the method of the PEEL reports' "About the data" section (unweighted mean across forces, a
  Shapiro-Wilk test deciding whether to work on logs, bands at one standard deviation), each open choice of
  that text (PEEL.md section 7, points a to e) an `OutlierMethod` field.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING, Literal, Mapping, Sequence

from .values import settle

if TYPE_CHECKING:
    from statistics import NormalDist


@lru_cache(maxsize=1)
def _standard() -> "NormalDist":
    """The standard normal distribution (statistics is imported the first time a figure needs it)."""
    from statistics import NormalDist

    return NormalDist()

IntervalMethod = Literal["normal", "wilson"]
INTERVAL_METHODS: tuple[str, ...] = ("normal", "wilson")


# ---------------------------------------------------------------------------------------------- estimates

@dataclass(frozen=True)
class Interval:
    """A proportion with its confidence interval (fractions: 0.852, not 85.2)."""

    value: float
    lower: float
    upper: float
    sample: int | None
    method: str  # "normal", "wilson" or "given"

    @property
    def half_width(self) -> float:
        return (self.upper - self.lower) / 2


# The confidence level of every interval the engine computes, and so of the two-proportion test of two estimates:
# a difference is significant when it would lie outside a 95% interval (|z| > 1.96, p < 5%).
LEVEL = 0.95


def z_for(level: float) -> float:
    """The two-sided critical value for a confidence level: 1.96 for 0.95."""
    if not 0 < level < 1:
        raise ValueError(f"a confidence level lies strictly between 0 and 1, not {level}")
    known = COMMON_Z.get(level)
    return known if known is not None else _standard().inv_cdf(0.5 + level / 2)


# The critical values of the levels rule sets use, as NormalDist().inv_cdf gives them (tests/test_stats.py checks
# each against it): an interval at one of these levels needs no import of statistics, which costs a run 5 ms.
COMMON_Z: dict[float, float] = {0.8: 1.2815515655446008, 0.9: 1.6448536269514715, 0.95: 1.9599639845400536,
                                0.99: 2.5758293035489}


def normal_interval(p: float, n: int, level: float = LEVEL) -> Interval:
    """p +/- z * sqrt(p(1-p)/n), clipped to [0, 1]: the inspectorate's interval."""
    _check_proportion(p, n)
    half = z_for(level) * math.sqrt(p * (1 - p) / n)
    return Interval(p, max(0.0, settle(p - half)), min(1.0, settle(p + half)), n, "normal")


def wilson_interval(p: float, n: int, level: float = LEVEL) -> Interval:
    """Wilson's score interval: better than the normal one for small samples and shares near 0% or 100%."""
    _check_proportion(p, n)
    z = z_for(level)
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    lower = 0.0 if p == 0 else max(0.0, settle(centre - half))  # exact at the ends, not 1e-17 off
    upper = 1.0 if p == 1 else min(1.0, settle(centre + half))
    return Interval(p, lower, upper, n, "wilson")


def interval(p: float, n: int, method: str = "normal", level: float = LEVEL) -> Interval:
    if method == "normal":
        return normal_interval(p, n, level)
    if method == "wilson":
        return wilson_interval(p, n, level)
    raise ValueError(f"unknown interval method {method!r}: use one of {', '.join(INTERVAL_METHODS)}")


def k_of_n(k: int, n: int, method: str = "normal", level: float = LEVEL) -> Interval:
    """The interval of a share counted in a sample: 21 of 27 records."""
    if n <= 0 or not 0 <= k <= n:
        raise ValueError(f"k of n needs 0 <= k <= n and n >= 1, not {k} of {n}")
    return interval(k / n, n, method, level)


def given(p: float, half_width: float, sample: int | None = None) -> Interval:
    """An interval stated by the source (85.2% +/- 5.1%)."""
    return Interval(p, max(0.0, settle(p - half_width)), min(1.0, settle(p + half_width)), sample, "given")


def small_sample(n: int | None, threshold: int) -> bool:
    """True when the sample is below the rule set's threshold (an unknown sample size counts as small)."""
    return n is None or n < threshold


def significantly_below(est: Interval, standard: float) -> bool | None:
    """True when the whole interval lies below the standard, False when none of it does, None otherwise."""
    if est.upper < standard:
        return True
    if est.lower >= standard:
        return False
    return None


def significantly_above(est: Interval, standard: float) -> bool | None:
    """True when the whole interval lies above the standard, False when none of it does, None otherwise."""
    if est.lower > standard:
        return True
    if est.upper <= standard:
        return False
    return None


def overlap(a: Interval, b: Interval) -> bool:
    return a.lower <= b.upper and b.lower <= a.upper


@dataclass(frozen=True)
class TwoProportionTest:
    """The two-proportion z-test of two estimates: difference, z, p-value and the verdict."""

    difference: float  # b - a
    z: float
    p_value: float  # two-sided
    significant: bool

    @property
    def verdict(self) -> str:
        """'broadly unchanged', 'higher' or 'lower' (b against a)."""
        if not self.significant:
            return "broadly unchanged"
        return "higher" if self.difference > 0 else "lower"


def two_proportion_test(p1: float, n1: int, p2: float, n2: int, alpha: float = 0.05) -> TwoProportionTest:
    """The pooled two-proportion z-test of p2 against p1 (e.g. 2021's audit against 2019's)."""
    _check_proportion(p1, n1)
    _check_proportion(p2, n2)
    pooled = (p1 * n1 + p2 * n2) / (n1 + n2)
    se = math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    diff = p2 - p1
    if se == 0:
        z = 0.0 if diff == 0 else math.copysign(math.inf, diff)
    else:
        z = diff / se
    p_value = 2 * (1 - _standard().cdf(abs(z))) if math.isfinite(z) else 0.0
    return TwoProportionTest(diff, z, p_value, p_value < alpha)


def _check_proportion(p: float, n: int) -> None:
    if not 0 <= p <= 1:
        raise ValueError(f"a proportion lies between 0 and 1, not {p}")
    if n <= 0:
        raise ValueError(f"a sample size is at least 1, not {n}")


# ---------------------------------------------------------------------------------------------- Shapiro-Wilk

@dataclass(frozen=True)
class ShapiroWilk:
    """The Shapiro-Wilk test statistic W and its p-value."""

    w: float
    p_value: float


def _poly(coefficients: Sequence[float], x: float) -> float:
    return sum(c * x ** i for i, c in enumerate(coefficients))


def shapiro_wilk(values: Sequence[float]) -> ShapiroWilk:
    """Shapiro and Wilk's W with Royston's (1992, 1995: algorithm AS R94) coefficients and p-value.

    Valid for 3 <= n <= 5000, the range of AS R94. Agrees with scipy.stats.shapiro (tests/test_stats.py).
    """
    x = sorted(float(v) for v in values)
    n = len(x)
    if n < 3:
        raise ValueError("the Shapiro-Wilk test needs at least 3 values")
    if n > 5000:
        raise ValueError("the Shapiro-Wilk test (AS R94) is defined for at most 5,000 values")
    mean = sum(x) / n
    ss = sum((v - mean) ** 2 for v in x)
    if ss == 0:
        raise ValueError("the Shapiro-Wilk test needs values that are not all equal")
    if n == 3:
        a_last = math.sqrt(0.5)
        w = min(1.0, (a_last * (x[2] - x[0])) ** 2 / ss)
        p = max(0.0, 6 / math.pi * (math.asin(math.sqrt(w)) - math.asin(math.sqrt(0.75))))
        return ShapiroWilk(w, min(1.0, p))
    m = [_standard().inv_cdf((i - 0.375) / (n + 0.25)) for i in range(1, n + 1)]
    mm = sum(v * v for v in m)
    u = 1 / math.sqrt(n)
    a = [0.0] * n
    a_n = m[-1] / math.sqrt(mm) + _poly((0.0, 0.221157, -0.147981, -2.071190, 4.434685, -2.706056), u)
    if n > 5:
        a_n1 = m[-2] / math.sqrt(mm) + _poly((0.0, 0.042981, -0.293762, -1.752461, 5.682633, -3.582633), u)
        phi = (mm - 2 * m[-1] ** 2 - 2 * m[-2] ** 2) / (1 - 2 * a_n ** 2 - 2 * a_n1 ** 2)
        for i in range(2, n - 2):
            a[i] = m[i] / math.sqrt(phi)
        a[-1], a[-2], a[0], a[1] = a_n, a_n1, -a_n, -a_n1
    else:
        phi = (mm - 2 * m[-1] ** 2) / (1 - 2 * a_n ** 2)
        for i in range(1, n - 1):
            a[i] = m[i] / math.sqrt(phi)
        a[-1], a[0] = a_n, -a_n
    w = min(1.0, sum(ai * xi for ai, xi in zip(a, x)) ** 2 / ss)
    if w >= 1.0:
        return ShapiroWilk(1.0, 1.0)
    if n <= 11:
        gamma = _poly((-2.273, 0.459), n)
        mu = _poly((0.5440, -0.39978, 0.025054, -6.714e-4), n)
        sigma = math.exp(_poly((1.3822, -0.77857, 0.062767, -0.0020322), n))
        inner = gamma - math.log1p(-w)
        if inner <= 0:  # W this small is far in the tail: the p-value is 0 to machine precision
            return ShapiroWilk(w, 0.0)
        z = (-math.log(inner) - mu) / sigma
    else:
        ln = math.log(n)
        mu = _poly((-1.5861, -0.31082, -0.083751, 0.0038915), ln)
        sigma = math.exp(_poly((-0.4803, -0.082676, 0.0030302), ln))
        z = (math.log1p(-w) - mu) / sigma
    return ShapiroWilk(w, 1 - _standard().cdf(z))


# ---------------------------------------------------------------------------------------------- peers

Polarity = Literal["higher_is_better", "higher_is_worse", "neutral"]
POLARITIES: tuple[str, ...] = ("higher_is_better", "higher_is_worse", "neutral")
BANDS: tuple[str, ...] = ("well_below", "within", "well_above")


@dataclass(frozen=True)
class OutlierMethod:
    """The open choices of the "About the data" method (PEEL.md section 7), each with its default.

    alpha          (a) the Shapiro-Wilk level for "appears normally distributed": 0.05.
    logs_if        (b) what "the logs are closer to normal" means: "logs_pass" (the logs pass the test at
                   alpha) or "higher_p" (the logs' p-value is higher than the raw values').
    centre_on_logs (c) on the log path, centre and bands are exp(mean of logs +/- sd of logs) (True) or the
                   raw mean +/- the raw-scale width of one log sd (False).
    ddof           the standard deviation's degrees of freedom: 1, the sample sd ("the usual way").
    threshold      the z beyond which a force is well above or below average: 1.
    Zero or negative values (d) make the log path impossible: the raw values are used, and the result says so.
    """

    alpha: float = 0.05
    logs_if: Literal["logs_pass", "higher_p"] = "logs_pass"
    centre_on_logs: bool = True
    ddof: int = 1
    threshold: float = 1.0


DEFAULT_METHOD = OutlierMethod()


@dataclass(frozen=True)
class PeerComparison:
    """A force placed among its peers by the outlier method: mean, sd, z-score, band and rank."""

    force: str
    value: float
    forces: int  # forces with a value
    missing: tuple[str, ...]  # forces without one, by name
    scale: Literal["raw", "log"]
    reason: str  # why that scale, in words
    mean: float  # the centre on the original scale
    lower: float  # centre - 1 sd, on the original scale
    upper: float  # centre + 1 sd, on the original scale
    sd: float  # on the scale used (log units on the log path)
    z: float
    band: str  # "well_below", "within" or "well_above"
    rank: int  # 1 = best for the measure's polarity (highest for neutral measures)
    polarity: str
    raw_test: ShapiroWilk | None
    log_test: ShapiroWilk | None = None
    method: OutlierMethod = field(default=DEFAULT_METHOD)

    @property
    def better_than_peers(self) -> bool | None:
        """True / False for a force outside the band on a measure with a polarity; None when within or neutral."""
        if self.band == "within" or self.polarity == "neutral":
            return None
        return (self.band == "well_above") == (self.polarity == "higher_is_better")

    @property
    def verdict(self) -> str | None:
        """"better" or "worse" than peers for the measure's polarity; None when within the band or neutral."""
        b = self.better_than_peers
        return None if b is None else "better" if b else "worse"

    def judged(self, side: str) -> bool | None:
        """peer_better (side "better") / peer_worse ("worse"): True when the force is outside the band on that
        side, False when within it or on the other side, None (unknown) for a neutral measure."""
        if self.polarity == "neutral":
            return None
        return self.verdict == side


def _mean_sd(values: Sequence[float], ddof: int) -> tuple[float, float]:
    n = len(values)
    mean = sum(values) / n
    if n - ddof <= 0:
        raise ValueError(f"a standard deviation with ddof={ddof} needs more than {ddof} values")
    return mean, math.sqrt(sum((v - mean) ** 2 for v in values) / (n - ddof))


def compare_with_peers(values: Mapping[str, float | None], force: str, polarity: str = "neutral",
                       method: OutlierMethod = DEFAULT_METHOD) -> PeerComparison:
    """Place one force among its peers by the inspectorate's outlier method."""
    if polarity not in POLARITIES:
        raise ValueError(f"unknown polarity {polarity!r}: use one of {', '.join(POLARITIES)}")
    present = {k: float(v) for k, v in values.items() if v is not None}
    missing = tuple(sorted(k for k, v in values.items() if v is None))
    if force not in values:
        raise ValueError(f"{force!r} is not in the comparison")
    if force not in present:
        raise ValueError(f"{force!r} has no value in the comparison")
    if len(present) < 3:
        raise ValueError("a peer comparison needs values for at least 3 forces")
    raw = list(present.values())
    raw_test = shapiro_wilk(raw) if len(set(raw)) > 1 else None
    scale, reason, log_test = "raw", "the values appear normally distributed", None
    if raw_test is not None and raw_test.p_value < method.alpha:
        if min(raw) <= 0:
            reason = "the values do not appear normal, but zero or negative values rule out logs"
        else:
            logs = [math.log(v) for v in raw]
            log_test = shapiro_wilk(logs) if len(set(logs)) > 1 else None
            closer = log_test is not None and (
                log_test.p_value >= method.alpha if method.logs_if == "logs_pass"
                else log_test.p_value > raw_test.p_value)
            if closer:
                scale, reason = "log", "the values do not appear normal and their logs are closer to normal"
            else:
                reason = "the values do not appear normal, and their logs are no closer to normal"
    x = present[force]
    if scale == "log":
        logs = [math.log(v) for v in raw]
        mean_log, sd = _mean_sd(logs, method.ddof)
        z = (math.log(x) - mean_log) / sd if sd else 0.0
        if method.centre_on_logs:
            centre, lower, upper = math.exp(mean_log), math.exp(mean_log - sd), math.exp(mean_log + sd)
        else:
            centre = sum(raw) / len(raw)
            lower, upper = centre * math.exp(-sd), centre * math.exp(sd)
    else:
        centre, sd = _mean_sd(raw, method.ddof)
        z = (x - centre) / sd if sd else 0.0
        lower, upper = centre - sd, centre + sd
    # settled where computed (values.DIGITS), so the band is decided on the z the trace shows
    centre, lower, upper, sd, z = (settle(v) for v in (centre, lower, upper, sd, z))
    band = "well_above" if z > method.threshold else "well_below" if z < -method.threshold else "within"
    descending = polarity != "higher_is_worse"
    rank = 1 + sum(1 for v in raw if (v > x if descending else v < x))
    return PeerComparison(force=force, value=x, forces=len(present), missing=missing, scale=scale,
                          reason=reason, mean=centre, lower=lower, upper=upper, sd=sd, z=z, band=band,
                          rank=rank, polarity=polarity, raw_test=raw_test, log_test=log_test, method=method)
