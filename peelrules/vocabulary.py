"""The one vocabulary: every kind of rule, evidence, finding, area status and source the language knows, and the
engines that compute table aggregates.

The checker, the evidence loader, the evaluators, the reports, the language server, the evidence template and
the docs all read these tables; adding a kind is one edit here plus its tests. Each entry maps the name used in
rule files and evidence to the sentence shown to people.
"""
from __future__ import annotations

# What computes a bundle's table aggregates (`--engine`; tablefacts.EngineChoice, docs/scale.md).
ENGINES: tuple[str, ...] = ("duckdb", "spark")

# ---------------------------------------------------------------- rules

# Kinds of rule an area holds, in the order reports list them.
RULE_KINDS: dict[str, str] = {
    "characteristic": "a characteristic of good performance: met, or not",
    "cause_of_concern": "a cause of concern: a serious shortfall, with recommendations",
    "area_for_improvement": "an area for improvement",
    "innovative_practice": "innovative practice: positive evidence for outstanding",
    "good_practice": "good practice",
}

# The rule kinds whose raised rules a ladder counts, and the counter that counts them.
COUNTED_KINDS: dict[str, str] = {
    "cause_of_concern": "concerns",
    "area_for_improvement": "improvements",
    "innovative_practice": "innovative",
}

# Rule kinds that can be marked `severe` (a severe finding makes the standard ladder's inadequate rung hold).
SEVERE_KINDS: tuple[str, ...] = ("cause_of_concern", "area_for_improvement")

# Counters a ladder can read; each counts the rules of the area being graded.
COUNTERS: dict[str, str] = {
    "characteristics": "characteristics of good performance in the area",
    "met": "characteristics met",
    "unmet": "characteristics not met",
    "exceeded": "characteristics substantially exceeded",
    "concerns": "causes of concern raised",
    "improvements": "areas for improvement raised",
    "innovative": "innovative practices found",
    "severe": "severe findings raised (rules marked `severe`)",
    "secondary": "facts and findings the area's rules read that come from a secondary source",
}

# ---------------------------------------------------------------- evidence

# Assessment values in order, weakest first.
ASSESSMENTS: tuple[str, ...] = ("not_met", "partly_met", "met", "exceeded")

# Declared evidence types and the value type an expression sees.
EVIDENCE_TYPES: dict[str, str] = {
    "count": "number",
    "number": "number",
    "percent": "number",
    "ratio": "ratio",
    "estimate": "estimate",
    "flag": "flag",
    "text": "text",
    "date": "date",
    "assessment": "assessment",
    "table": "table",  # case-level rows, read through aggregates (docs/tables.md)
    "comparator": "comparator",  # a measure across all forces, from the bundle's comparators: (docs/statistics.md)
}

# How a rule set computes the confidence interval of a ratio (k of n) read as an estimate
# (framework header: `interval normal`); an estimate fact keeps the interval its source states.
INTERVAL_METHODS: dict[str, str] = {
    "normal": "the inspectorate's normal approximation, p +/- 1.96 sqrt(p(1-p)/n) (85.2% of 183: +/- 5.1%)",
    "wilson": "Wilson's score interval, better for small samples and shares near 0% or 100%",
}

# Where a force stands among all forces on a comparator measure (PEEL.md section 7): outlier(x) gives one.
OUTLIER_BANDS: dict[str, str] = {
    "well_above": "well above average: more than one standard deviation above the peers' mean",
    "within": "within the normal range: within one standard deviation of the peers' mean",
    "well_below": "well below average: more than one standard deviation below the peers' mean",
}

# Column types of a `table` evidence item (peelrules/tables.py reads the files).
TABLE_COLUMN_TYPES: dict[str, str] = {
    "number": "a number, such as 12 or 3.5",
    "count": "a whole number from 0",
    "text": "text",
    "flag": "true or false",
    "date": "a date, 2021-07-01",
    "timestamp": "a date and time, 2021-07-01T09:30:00",
}

# Aggregates over a `table` (docs/tables.md); each gives a number, unknown when the bundle has no such table.
AGGREGATES: dict[str, str] = {
    "count": "count(t) or count(t where ...): the rows of table t (matching the filter)",
    "share": "share(t where ...): the rows matching the filter, as a share of all the table's rows",
    "mean": "mean(t.column) or mean(t.column where ...): the mean of the column's values",
    "median": "median(t.column): the median of the column's values",
    "percentile": "percentile(t.column, 90): the 90th percentile of the column's values, interpolated",
    "min": "min(t.column): the smallest of the column's values",
    "max": "max(t.column): the largest of the column's values",
}

# What a fact's `status` can say about a shortfall.
FACT_STATUSES: dict[str, str] = {
    "open": "as found",
    "remediated_during_inspection": "put right during the inspection",
    "remediated_verified": "put right, and the fix verified",
}

# ---------------------------------------------------------------- findings

# Area-level findings a report states, each recorded with the report's own words and a quote.
FINDING_KINDS: dict[str, str] = {
    "cause_of_concern": "cause of concern (with its recommendations)",
    "area_of_concern": "area of concern",
    "area_for_improvement": "area for improvement",
    "innovative_practice": "innovative or notable practice",
    "good_practice": "good practice",
    "judgment": "the report's own judgment of the area (e.g. 'the force is good at ...')",
}

# Finding kinds that carry recommendations.
RECOMMENDING_KINDS: tuple[str, ...] = ("cause_of_concern", "area_of_concern")

# ---------------------------------------------------------------- areas

# What a bundle can say of an area instead of giving evidence for it; each has no grade.
AREA_STATUSES: dict[str, str] = {
    "not_inspected": "not inspected",
    "not_graded": "not graded in this report",
    "graded_separately": "graded in a separate inspection",
}

# ---------------------------------------------------------------- sources

# Kinds of source document, primary first. A grade resting on a secondary source says so.
SOURCE_KINDS: dict[str, str] = {
    "inspection_report": "the inspection report's own text",
    "force_data": "data the force supplied",
    "fieldwork": "an inspection fieldwork record",
    "secondary": "a secondary source (news, a summary, a paraphrase)",
}

# ---------------------------------------------------------------- functions

FUNCTIONS: dict[str, str] = {
    "lower": "lower(x): the lower bound of the confidence interval of an estimate, or of a ratio k of n "
             "(computed by the rule set's `interval` method)",
    "upper": "upper(x): the upper bound of the confidence interval of an estimate, or of a ratio k of n",
    "sample": "sample(x): the sample size of an estimate, or the n of a ratio",
    "significantly_below": "significantly_below(x, 90%): true when the whole confidence interval of estimate "
                           "(or ratio) x lies below the standard, false when none of it does, unknown when the "
                           "interval straddles the standard",
    "significantly_above": "significantly_above(x, 90%): true when the whole confidence interval of estimate "
                           "(or ratio) x lies above the standard, false when none of it does, unknown when the "
                           "interval straddles the standard",
    "overlaps": "overlaps(a, b): true when the confidence intervals of estimates (or ratios) a and b overlap, false "
                "when they do not, unknown when either has no interval",
    "significantly_changed": "significantly_changed(a, b): true when estimates (or ratios) a and b differ "
                             "significantly by the pooled two-proportion z-test at the intervals' 95% level, "
                             "false when they are broadly unchanged, unknown without both shares and samples",
    "significantly_lower": "significantly_lower(a, b): true when estimate (or ratio) a is significantly lower than "
                           "b by the two-proportion z-test, false when broadly unchanged or higher, unknown "
                           "without both shares and samples",
    "significantly_higher": "significantly_higher(a, b): true when estimate (or ratio) a is significantly higher "
                            "than b by the two-proportion z-test, false when broadly unchanged or lower, unknown "
                            "without both shares and samples",
    "small_sample": "small_sample(x): true when the sample of estimate (or ratio) x is below the rule set's "
                    "threshold (`small_sample below 30` in the framework header)",
    "outlier": "outlier(x): where the force stands among all forces on comparator x: well_above, within or "
               "well_below (z beyond +/-1; docs/statistics.md); unknown when the bundle has no such comparator "
               "or the force no value in it",
    "peer_z": "peer_z(x): the force's z score among all forces on comparator x, (value - mean) / sd",
    "peer_rank": "peer_rank(x): the force's rank among the forces on comparator x, 1 the best for the measure's "
                 "polarity",
    "peer_better": "peer_better(x): true when the force is well above or well below average on comparator x on "
                   "the better side for the measure's polarity (higher_is_better: above), false when it is within "
                   "the normal range or on the worse side; unknown for a neutral measure or without the comparator",
    "peer_worse": "peer_worse(x): true when the force is well above or well below average on comparator x on the "
                  "worse side for the measure's polarity (higher_is_better: below), false when it is within the "
                  "normal range or on the better side; unknown for a neutral measure or without the comparator",
    "present": "present(x): true when the bundle gives fact x, false when it does not (never unknown)",
    "remediated": "remediated(x): true when fact x is marked as remediated during or after the inspection",
    "first_known": "first_known(a, b, ...): the first of its arguments that is known (a measured value, "
                   "else a qualitative finding)",
    "stated": "stated(kind): how many findings of that kind the report states for the area (cause_of_concern, "
              "area_of_concern, area_for_improvement, innovative_practice, good_practice); unknown when the "
              "bundle records no findings for the area",
    "stated_severe": "stated_severe(kind): how many of the area's stated findings of that kind are marked "
                     "severe; unknown when the bundle records no findings for the area",
}

# The functions that read an estimate, or a ratio as an estimate, and the functions that read a comparator.
ESTIMATE_FUNCTIONS: tuple[str, ...] = ("lower", "upper", "sample", "significantly_below", "significantly_above",
                                       "small_sample", "overlaps", "significantly_changed", "significantly_lower",
                                       "significantly_higher")
# The estimate functions that compare two estimates (a against b), each giving a flag.
COMPARISON_FUNCTIONS: tuple[str, ...] = ("overlaps", "significantly_changed", "significantly_lower",
                                         "significantly_higher")
PEER_FUNCTIONS: tuple[str, ...] = ("outlier", "peer_z", "peer_rank", "peer_better", "peer_worse")
# The peer functions that give a flag: the band read with the measure's polarity (docs/statistics.md).
POLARITY_FUNCTIONS: tuple[str, ...] = ("peer_better", "peer_worse")

# What a band means for a measure with a polarity: the word traces and reports add to the band.
POLARITY_VERDICTS: dict[str, str] = {
    "better": "better than peers: outside the normal range on the side the measure's polarity calls better",
    "worse": "worse than peers: outside the normal range on the side the measure's polarity calls worse",
}

# The functions whose one argument is a finding kind, not an expression.
FINDING_FUNCTIONS: tuple[str, ...] = ("stated", "stated_severe")
