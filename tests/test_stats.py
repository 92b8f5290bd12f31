"""Estimates, significance and the outlier method (peelrules.stats), against hand-computed examples and SciPy."""
from __future__ import annotations

import math

import pytest
from hypothesis import given as hgiven, settings, strategies as st

from peelrules import stats

scipy_stats = pytest.importorskip("scipy.stats")


def test_inspectorate_interval_for_the_stop_and_search_audit() -> None:
    # The report: 85.2% of 183 records, +/- 5.1% (normal approximation at 95%).
    ci = stats.normal_interval(0.852, 183)
    assert round(ci.half_width * 100, 1) == 5.1
    assert ci.method == "normal" and ci.sample == 183


def test_hand_computed_normal_and_wilson_intervals() -> None:
    # 21 of 27: p = 0.7778; normal half-width 1.96 * sqrt(p(1-p)/27) = 0.1568
    ci = stats.k_of_n(21, 27)
    assert ci.half_width == pytest.approx(1.959964 * math.sqrt((21 / 27) * (6 / 27) / 27), rel=1e-6)
    # Wilson for 21 of 27 at 95%, by hand: z^2 = 3.84146, denominator 1 + z^2/27 = 1.142276,
    # centre (0.77778 + z^2/54) / 1.142276 = 0.743179, half-width z * sqrt(0.0064015 + 0.0013174) / 1.142276
    # = 0.150751, so (0.5924, 0.8939); SciPy's binomtest gives the same
    w = stats.k_of_n(21, 27, "wilson")
    assert (round(w.lower, 4), round(w.upper, 4)) == (0.5924, 0.8939)
    ref = scipy_stats.binomtest(21, 27).proportion_ci(method="wilson")
    assert (w.lower, w.upper) == (pytest.approx(ref.low), pytest.approx(ref.high))
    # Wilson never leaves [0, 1] and is not degenerate at 0 of n, where the normal interval collapses
    zero = stats.k_of_n(0, 10, "wilson")
    assert zero.lower == 0 and zero.upper > 0.2
    assert stats.k_of_n(0, 10).upper == 0


def test_significance_is_unknown_when_the_interval_straddles() -> None:
    ci = stats.given(0.852, 0.051, 183)
    assert stats.significantly_below(ci, 0.95) is True
    assert stats.significantly_below(ci, 0.80) is False
    assert stats.significantly_below(ci, 0.85) is None
    assert stats.significantly_above(ci, 0.80) is True
    assert stats.significantly_above(ci, 0.95) is False
    assert stats.significantly_above(ci, 0.85) is None


def test_two_audits_are_broadly_unchanged() -> None:
    # 2019's 86.3% +/- 4.3% against 2021's 85.2% +/- 5.1% (sample sizes from the half-widths)
    n2019 = round(1.96 ** 2 * 0.863 * 0.137 / 0.043 ** 2)
    test = stats.two_proportion_test(0.863, n2019, 0.852, 183)
    assert test.verdict == "broadly unchanged" and not test.significant
    assert stats.overlap(stats.given(0.863, 0.043), stats.given(0.852, 0.051))
    big = stats.two_proportion_test(0.60, 1000, 0.70, 1000)
    assert big.significant and big.verdict == "higher"


def test_small_samples_are_flagged_by_the_rule_sets_threshold() -> None:
    assert stats.small_sample(27, 30) and not stats.small_sample(183, 30) and stats.small_sample(None, 30)


@settings(max_examples=200, deadline=None)
@hgiven(st.lists(st.floats(min_value=-1e3, max_value=1e3, allow_nan=False), min_size=3, max_size=60)
        .filter(lambda xs: max(xs) - min(xs) > 1e-3))
def test_shapiro_wilk_agrees_with_scipy(xs: list[float]) -> None:
    ours = stats.shapiro_wilk(xs)
    theirs = scipy_stats.shapiro(xs)
    assert ours.w == pytest.approx(theirs.statistic, abs=1e-4)
    assert ours.p_value == pytest.approx(theirs.pvalue, abs=2e-3)


def _skewed() -> dict[str, float]:
    # a log-normal spread over 20 forces: raw values far from normal, their logs exactly evenly spread
    return {f"force {i:02d}": math.exp(-2 + 0.2 * i) for i in range(20)}


def test_the_log_decision_on_a_skewed_dataset() -> None:
    values = _skewed()
    raw = scipy_stats.shapiro(list(values.values()))
    logs = scipy_stats.shapiro([math.log(v) for v in values.values()])
    assert raw.pvalue < 0.05 <= logs.pvalue  # the premise of the case, checked by SciPy
    result = stats.compare_with_peers(values, "force 00", "higher_is_better")
    assert result.scale == "log"
    mean_log = sum(math.log(v) for v in values.values()) / 20
    assert result.mean == pytest.approx(math.exp(mean_log))
    sd_log = math.sqrt(sum((math.log(v) - mean_log) ** 2 for v in values.values()) / 19)
    assert result.z == pytest.approx((math.log(values["force 00"]) - mean_log) / sd_log)
    assert result.band == "well_below" and result.better_than_peers is False
    assert result.rank == 20


def test_normal_data_stays_raw_and_bands_follow_z() -> None:
    values = {f"f{i}": v for i, v in enumerate([10, 12, 9, 11, 10.5, 9.5, 13, 7, 10, 11, 8.5, 10.2])}
    mean = sum(values.values()) / 12
    sd = math.sqrt(sum((v - mean) ** 2 for v in values.values()) / 11)
    high = stats.compare_with_peers(values, "f6", "higher_is_worse")
    assert high.scale == "raw" and high.mean == pytest.approx(mean) and high.sd == pytest.approx(sd)
    assert high.z == pytest.approx((13 - mean) / sd) and high.z > 1 and high.band == "well_above"
    assert high.better_than_peers is False and high.rank == 12  # highest value, worst for this polarity
    mid = stats.compare_with_peers(values, "f0", "neutral")
    assert mid.band == "within" and mid.better_than_peers is None
    low = stats.compare_with_peers(values, "f7", "higher_is_better")
    assert low.band == "well_below" and low.lower == pytest.approx(mean - sd)


def test_missing_forces_are_left_out_and_reported() -> None:
    values: dict[str, float | None] = dict(_skewed())
    values["force 99"] = None
    values["force 98"] = None
    result = stats.compare_with_peers(values, "force 05")
    assert result.forces == 20 and result.missing == ("force 98", "force 99")
    with pytest.raises(ValueError, match="no value"):
        stats.compare_with_peers(values, "force 99")


def test_zero_values_rule_out_logs() -> None:
    values = dict(_skewed())
    values["force 00"] = 0.0
    result = stats.compare_with_peers(values, "force 10")
    assert result.scale == "raw" and "zero or negative" in result.reason


def test_parameters_change_the_method() -> None:
    values = _skewed()
    strict = stats.compare_with_peers(values, "force 00", method=stats.OutlierMethod(threshold=3.0))
    assert strict.band == "within"
    raw_centre = stats.compare_with_peers(values, "force 00", method=stats.OutlierMethod(centre_on_logs=False))
    assert raw_centre.mean == pytest.approx(sum(values.values()) / 20)


def test_the_tabulated_critical_values_are_the_normal_distributions() -> None:
    """stats.COMMON_Z spares a run the import of statistics; each value must be what NormalDist gives."""
    from statistics import NormalDist

    assert stats.COMMON_Z, "no tabulated levels"
    for level, z in stats.COMMON_Z.items():
        assert z == NormalDist().inv_cdf(0.5 + level / 2), level
    assert stats.z_for(0.975) == NormalDist().inv_cdf(0.5 + 0.975 / 2)  # an untabulated level still works


def test_a_force_exactly_one_sd_below_is_within_the_band() -> None:
    """0.1 among 0.1, 0.2, 0.3 is exactly one sd below the mean: float arithmetic gives z = -1.0000000000000004,
    "well below"; settled to 12 significant digits (values.DIGITS) z is -1, within the normal range, as the
    trace shows it."""
    xs = [0.1, 0.2, 0.3]
    mean = sum(xs) / 3
    assert (0.1 - mean) / math.sqrt(sum((x - mean) ** 2 for x in xs) / 2) < -1  # the noise this test is about
    low = stats.compare_with_peers({"a": 0.1, "b": 0.2, "c": 0.3}, "a", "higher_is_better")
    assert (low.z, low.mean, low.sd, low.band) == (-1.0, 0.2, 0.1, "within")


def test_computed_bounds_are_settled_to_twelve_digits() -> None:
    for iv in (stats.given(0.852, 0.051), stats.k_of_n(21, 27), stats.k_of_n(21, 27, "wilson")):
        for x in (iv.lower, iv.upper):
            assert x == float(f"{x:.12g}")
    assert stats.given(0.852, 0.051).lower == 0.801
