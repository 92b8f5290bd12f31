"""What an evaluation decides: per area a grade or a status, and every rule's outcome."""
from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

from .grades import Grade, Status
from .values import Value


@dataclass(frozen=True)
class RuleOutcome:
    """A rule's value for one bundle (true, false or unknown), and its exceeded value."""

    key: str  # "area.rule"
    kind: str
    outcome: Value  # True, False or UNKNOWN
    exceeded: Value = False  # characteristics only


class AreaResult(NamedTuple):
    """An area's outcome for one bundle: status, grade, rung, counters, rules, missing evidence.

    A named tuple, not a frozen dataclass: as immutable, and about four times cheaper to build (the compiled
    evaluator builds one per area per bundle: bench/README.md, (b))."""

    name: str
    title: str
    status: Status
    grade: Grade | None
    ladder: str | None
    rung: int | None  # index of the rung that fired, or that could not be decided
    counters: dict[str, Value]
    outcomes: tuple[RuleOutcome, ...]
    missing: tuple[str, ...] = ()  # facts whose absence leaves the area undetermined
    note: str | None = None

    @property
    def judgment(self) -> str:
        """The grade key when graded, else the status: `requires_improvement`, `not_inspected`."""
        if self.status is Status.GRADED and self.grade is not None:
            return self.grade.key
        return self.status.value

    @property
    def judgment_label(self) -> str:
        """The same for people: `requires improvement`, `not inspected`, `graded in a separate inspection`."""
        return self.status.label if self.status is not Status.GRADED else self.judgment.replace("_", " ")


@dataclass(frozen=True)
class BundleResult:
    """Every area's result for one bundle."""

    file: str
    force: str
    areas: tuple[AreaResult, ...]

    def area(self, name: str) -> AreaResult:
        for a in self.areas:
            if a.name == name:
                return a
        raise KeyError(name)
