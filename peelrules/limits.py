"""Every limit on input, in one place (documented in docs/limits.md). Each is checked while reading,
before any recursive code runs, so hostile input is refused with a message instead of exhausting
time, memory or the stack."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Limits:
    """The bounds on what peel reads and prints (docs/limits.md); `--limit NAME=N` changes one for a run."""

    max_file_bytes: int = 5_000_000  # any one file read (a trace of many bundles is the largest)
    max_rule_set_bytes: int = 4_000_000  # all the .peel files of one rule set together: 20,000 rules, some 5 s to check
    max_evidence_bytes: int = 1_000_000  # one evidence or rule test file (YAML is parsed in Python)
    max_line_chars: int = 20_000  # any one line of a rule file
    max_evidence_depth: int = 32  # nesting of mappings and lists in an evidence file
    max_expr_depth: int = 100  # nesting of a rule file's syntax tree (parentheses, operator chains)
    max_number_digits: int = 18  # digits in one number, in rules and in evidence
    max_rule_files: int = 1_000  # .peel files in one rule set
    max_facts: int = 10_000  # facts in one evidence bundle
    max_table_bytes: int = 1_000_000_000  # any one CSV or Parquet file of a declared table (checked before reading)
    max_table_files: int = 1_000  # files one table's glob may match
    max_errors: int = 50  # errors (and, separately, warnings) printed by one command; the rest are counted


DEFAULT_LIMITS = Limits()
