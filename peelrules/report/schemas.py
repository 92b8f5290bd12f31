"""The published JSON Schemas: evidence (from the pydantic model) and trace (written here, versioned)."""
from __future__ import annotations

from typing import Any

from ..evidence import evidence_schema
from ..grades import GRADE_KEYS, Status
from ..vocabulary import FINDING_KINDS, OUTLIER_BANDS, POLARITY_VERDICTS, RULE_KINDS
from .trace_json import TRACE_VERSION

_VALUE: dict[str, Any] = {
    "description": "a runtime value: true/false, a number, text, \"unknown\", an interval, ratio or estimate",
    "anyOf": [
        {"type": ["boolean", "number", "string"]},
        {"type": "object", "required": ["min", "max"], "additionalProperties": False,
         "properties": {"min": {"type": "number"}, "max": {"type": ["number", "null"], "description": "null: no upper bound"}}},
        {"type": "object", "required": ["k", "n"], "additionalProperties": False,
         "properties": {"k": {"type": "integer"}, "n": {"type": "integer"}}},
        {"type": "object", "required": ["estimate", "ci", "sample"], "additionalProperties": False,
         "properties": {"estimate": {"type": "number"}, "ci": {"type": "number"}, "sample": {"type": "integer"}}},
    ],
}

_SPAN: dict[str, Any] = {
    "type": "object", "additionalProperties": False,
    "description": "a region of a rule file: 1-based line and column, end exclusive",
    "required": ["file", "line", "column", "end_line", "end_column"],
    "properties": {k: ({"type": "string"} if k == "file" else {"type": "integer"})
                   for k in ("file", "line", "column", "end_line", "end_column")},
}

_SOURCE: dict[str, Any] = {
    "type": "object", "additionalProperties": False, "required": ["document", "line", "quote"],
    "properties": {"document": {"type": "string"}, "line": {"type": "integer"},
                   "quote": {"type": ["string", "null"]}}}

_FINDING: dict[str, Any] = {
    "type": "object", "additionalProperties": False,
    "required": ["kind", "text", "severe", "grade", "recommendations", "note", "source"],
    "properties": {
        "kind": {"enum": list(FINDING_KINDS)}, "text": {"type": ["string", "null"]}, "severe": {"type": "boolean"},
        "grade": {"enum": [*GRADE_KEYS, None]}, "recommendations": {"type": "array", "items": {"type": "string"}},
        "note": {"type": ["string", "null"]}, "source": _SOURCE,
    },
}

_FINDINGS: dict[str, Any] = {"anyOf": [{"type": "null"}, {"type": "array", "items": {"$ref": "#/$defs/finding"}}],
                             "description": "null: the bundle records no findings for the area"}

_ESTIMATE: dict[str, Any] = {
    "type": "object", "additionalProperties": False,
    "required": ["value", "lower", "upper", "method", "sample", "small_sample", "small_sample_below",
                 "standard", "verdict"],
    "description": "an estimate a function read (docs/statistics.md): its confidence interval, how it was "
                   "found (given: stated by the source; normal or wilson: computed from k of n), the "
                   "sample and whether it is small; for significantly_below/above, the standard and what "
                   "the interval says of it",
    "properties": {
        "value": {"type": "number"}, "lower": {"type": "number"}, "upper": {"type": "number"},
        "method": {"enum": ["given", "normal", "wilson"]}, "sample": {"type": ["integer", "null"]},
        "small_sample": {"type": ["boolean", "null"]}, "small_sample_below": {"type": ["integer", "null"]},
        "standard": {"type": ["number", "null"]}, "verdict": {"type": ["string", "null"]},
    },
}

_EXPR: dict[str, Any] = {
    "type": "object", "additionalProperties": False, "required": ["expr", "value", "span"],
    "properties": {
        "expr": {"type": "string"},
        "value": {"$ref": "#/$defs/value"},
        "span": {"$ref": "#/$defs/span", "description": "where the expression is written in the rule files "
                 "(since trace version 1.4)"},
        "rule": {"type": "string"}, "constant": {"type": "string"}, "counter": {"type": "string"},
        "written": {"type": ["string", "null"]},
        "finding_kind": {"enum": list(FINDING_KINDS)}, "findings": _FINDINGS,
        "taken": {"type": "integer", "description": "first_known(): the index of the argument taken"},
        "fact": {
            "type": "object", "additionalProperties": False,
            "required": ["name", "present", "type", "description", "source", "status"],
            "properties": {
                "name": {"type": "string"}, "present": {"type": "boolean"}, "type": {"type": "string"},
                "description": {"type": "string"}, "status": {"type": ["string", "null"]},
                "note": {"type": ["string", "null"]},
                "source": {"anyOf": [{"type": "null"}, {
                    "type": "object", "additionalProperties": False, "required": ["document", "line", "quote"],
                    "properties": {"document": {"type": "string"}, "line": {"type": "integer"},
                                   "quote": {"type": ["string", "null"]}}}]},
            },
        },
        "aggregate": {
            "type": "object", "additionalProperties": False,
            "required": ["key", "table", "present", "sql", "rows_read", "rows_matched", "files", "source"],
            "description": "an aggregate over a case-level table (docs/tables.md): the query that gives the value, "
                           "rows_read and rows_matched: a DuckDB query run from the evidence file's folder, or, "
                           "with engine spark, Spark SQL reading a temporary view named as the table "
                           "(docs/scale.md)",
            "properties": {
                "key": {"type": "string"}, "table": {"type": "string"}, "present": {"type": "boolean"},
                "sql": {"type": ["string", "null"]}, "rows_read": {"type": ["integer", "null"]},
                "rows_matched": {"type": ["integer", "null"]}, "files": {"type": "array", "items": {"type": "string"}},
                "source": {"type": ["string", "null"]},
                "engine": {"enum": ["spark"], "description": "absent: DuckDB computed it"},
                "catalog": {"type": "string", "description": "the Spark catalog table read instead of the files"},
            },
        },
        "estimate": {"$ref": "#/$defs/estimate"},
        "comparison": {
            "type": "object", "additionalProperties": False,
            "required": ["test", "first", "second", "difference", "z", "p_value", "critical", "level", "verdict"],
            "description": "two estimates compared (overlaps, significantly_changed/_lower/_higher; since trace "
                           "version 1.5): each (null: unknown or without an interval) and, for the two-proportion "
                           "z-test of first against second, its figures (null without both shares and samples) "
                           "and the verdict in words: broadly unchanged, significantly lower, significantly higher",
            "properties": {
                "test": {"enum": ["overlap", "two_proportion"]},
                "first": {"anyOf": [{"type": "null"}, {"$ref": "#/$defs/estimate"}]},
                "second": {"anyOf": [{"type": "null"}, {"$ref": "#/$defs/estimate"}]},
                "difference": {"type": ["number", "null"], "description": "first minus second"},
                "z": {"type": ["number", "null"]},
                "p_value": {"type": ["number", "null"], "description": "two-sided"},
                "critical": {"type": ["number", "null"], "description": "the |z| beyond which the difference is "
                             "significant at the level"},
                "level": {"type": ["number", "null"]}, "verdict": {"type": "string"},
            },
        },
        "peer": {
            "type": "object", "additionalProperties": False,
            "required": ["name", "measure", "present", "file", "sha256", "title", "unit", "polarity",
                         "illustrative", "source", "why", "comparison"],
            "description": "a force among all forces on a comparator measure (docs/statistics.md); comparison "
                           "null, with why, when it cannot be placed",
            "properties": {
                "name": {"type": "string"}, "measure": {"type": "string"}, "present": {"type": "boolean"},
                "file": {"type": ["string", "null"]}, "sha256": {"type": ["string", "null"]},
                "title": {"type": ["string", "null"]}, "unit": {"type": ["string", "null"]},
                "polarity": {"type": ["string", "null"]}, "illustrative": {"type": "boolean"},
                "source": {"type": ["string", "null"]}, "why": {"type": ["string", "null"]},
                "comparison": {"anyOf": [{"type": "null"}, {
                    "type": "object", "additionalProperties": False,
                    "required": ["force", "value", "forces", "missing", "scale", "logs_used", "reason", "mean",
                                 "sd", "lower", "upper", "z", "band", "verdict", "rank"],
                    "properties": {
                        "force": {"type": "string"}, "value": {"type": "number"}, "forces": {"type": "integer"},
                        "missing": {"type": "array", "items": {"type": "string"}},
                        "scale": {"enum": ["raw", "log"]}, "logs_used": {"type": "boolean"},
                        "reason": {"type": "string"}, "mean": {"type": "number"}, "sd": {"type": "number"},
                        "lower": {"type": "number"}, "upper": {"type": "number"}, "z": {"type": "number"},
                        "band": {"enum": list(OUTLIER_BANDS)}, "rank": {"type": "integer"},
                        "verdict": {"enum": [*POLARITY_VERDICTS, None]},
                    }}]},
            },
        },
        "children": {"type": "array", "items": {"$ref": "#/$defs/expr"}},
    },
}

_RULE: dict[str, Any] = {
    "type": "object", "additionalProperties": False,
    "required": ["rule", "kind", "title", "cite", "recommendation", "severe", "outcome", "reading", "exceeded",
                 "span", "when", "exceeded_when"],
    "properties": {
        "rule": {"type": "string"},
        "kind": {"enum": list(RULE_KINDS)},
        "title": {"type": "string"}, "cite": {"type": ["string", "null"]},
        "recommendation": {"type": ["string", "null"]}, "severe": {"type": "boolean"},
        "outcome": {"enum": [True, False, "unknown"]}, "reading": {"type": "string"},
        "exceeded": {"enum": [True, False, "unknown"]},
        "span": {"$ref": "#/$defs/span"},
        "when": {"anyOf": [{"type": "null"}, {"$ref": "#/$defs/expr"}]},
        "exceeded_when": {"anyOf": [{"type": "null"}, {"$ref": "#/$defs/expr"}]},
    },
}

_AREA: dict[str, Any] = {
    "type": "object", "additionalProperties": False,
    "required": ["area", "title", "question", "status", "grade", "ladder", "rung", "counters",
                 "missing_evidence", "note", "final", "moderation", "findings", "secondary_sources",
                 "rungs", "rules"],
    "properties": {
        "area": {"type": "string"}, "title": {"type": "string"}, "question": {"type": ["string", "null"]},
        "status": {"enum": [s.value for s in Status]},
        "grade": {"enum": [*GRADE_KEYS, None]},
        "final": {"enum": [*GRADE_KEYS, *(s.value for s in Status if s is not Status.GRADED)],
                  "description": "the published judgment: the moderated grade where there is one, else derived"},
        "moderation": {"anyOf": [{"type": "null"}, {
            "type": "object", "additionalProperties": False, "required": ["final", "rationale", "source"],
            "properties": {"final": {"enum": list(GRADE_KEYS)}, "rationale": {"type": "string"},
                           "source": _SOURCE}}]},
        "findings": _FINDINGS,
        "findings_in_part": {"const": True, "description": "present when the bundle records only some of the "
                             "area's findings (`some:`): counts of them are lower bounds"},
        "secondary_sources": {"type": "array", "items": {"type": "string"},
                              "description": "facts and findings the area reads from secondary sources"},
        "ladder": {"type": ["string", "null"]}, "rung": {"type": ["integer", "null"]},
        "counters": {"type": "object", "additionalProperties": {"$ref": "#/$defs/value"}},
        "missing_evidence": {"type": "array", "items": {"type": "string"}},
        "note": {"type": ["string", "null"]},
        "rungs": {"type": "array", "items": {
            "type": "object", "additionalProperties": False,
            "required": ["grade", "otherwise", "value", "condition", "span"],
            "properties": {"grade": {"type": "string"}, "otherwise": {"type": "boolean"},
                           "value": {"enum": [True, False, "unknown"]},
                           "condition": {"anyOf": [{"type": "null"}, {"$ref": "#/$defs/expr"}]},
                           "span": {"$ref": "#/$defs/span"}}}},
        "rules": {"type": "array", "items": {"$ref": "#/$defs/rule"}},
    },
}

_DIGEST = {"type": "object", "additionalProperties": False, "required": ["file", "sha256"],
           "properties": {"file": {"type": "string"}, "sha256": {"type": "string", "pattern": "^[0-9a-f]{64}$"}}}


def trace_schema() -> dict[str, Any]:
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "peelrules evaluation trace",
        "description": f"Trace format version {TRACE_VERSION}",
        "type": "object", "additionalProperties": False,
        "required": ["trace_version", "engine", "framework", "inputs", "result_sha256", "results"],
        "properties": {
            "trace_version": {"const": TRACE_VERSION},
            "engine": {"type": "object", "required": ["name", "version"],
                       "properties": {"name": {"const": "peelrules"}, "version": {"type": "string"}}},
            "framework": {"type": "object", "required": ["id", "title", "version"],
                          "properties": {"id": {"type": "string"}, "title": {"type": "string"},
                                         "version": {"type": ["string", "null"]}}},
            "result_sha256": {"type": "string", "pattern": "^[0-9a-f]{64}$"},
            "inputs": {"type": "object", "additionalProperties": False, "required": ["rule_set", "rules", "evidence"],
                       "properties": {"rule_set": {"type": ["string", "null"],
                                                   "description": "rule folder as given; null: shipped rules"},
                                      "rules": {"type": "array", "items": _DIGEST},
                                      "evidence": {"type": "array", "items": _DIGEST},
                                      "tables": {"type": "array", "description": "the files of the bundles' "
                                                 "case-level tables, digested (docs/tables.md)", "items": {
                                                     "type": "object", "additionalProperties": False,
                                                     "required": ["file", "sha256", "bytes", "table", "evidence"],
                                                     "properties": {
                                                         "file": {"type": "string"},
                                                         "sha256": {"type": "string", "pattern": "^[0-9a-f]{64}$"},
                                                         "bytes": {"type": "integer"}, "table": {"type": "string"},
                                                         "evidence": {"type": "string"}}}},
                                      "comparators": {"type": "array", "description": "the comparator files "
                                                      "the bundles give, digested (docs/statistics.md)", "items": {
                                                          "type": "object", "additionalProperties": False,
                                                          "required": ["file", "sha256", "measure", "evidence"],
                                                          "properties": {
                                                              "file": {"type": "string"},
                                                              "sha256": {"type": "string",
                                                                         "pattern": "^[0-9a-f]{64}$"},
                                                              "measure": {"type": "string"},
                                                              "evidence": {"type": "string"}}}}}},
            "results": {"type": "array", "items": {
                "type": "object", "additionalProperties": False, "required": ["evidence", "force", "areas"],
                "properties": {"evidence": {"type": "string"}, "force": {"type": "string"},
                               "context": {"type": "array", "items": {
                                   "type": "object", "required": ["name", "value", "source"],
                                   "properties": {"name": {"type": "string"}, "value": {"$ref": "#/$defs/value"},
                                                  "type": {"type": "string"}, "description": {"type": "string"},
                                                  "source": {"type": "object"},
                                                  "note": {"type": ["string", "null"]}}}},
                               "areas": {"type": "array", "items": {"$ref": "#/$defs/area"}}}}},
        },
        "$defs": {"value": _VALUE, "span": _SPAN, "expr": _EXPR, "rule": _RULE, "area": _AREA,
                  "finding": _FINDING, "estimate": _ESTIMATE},
    }


def schema(name: str) -> dict[str, Any]:
    if name == "evidence":
        return evidence_schema()
    if name == "trace":
        return trace_schema()
    raise KeyError(name)
