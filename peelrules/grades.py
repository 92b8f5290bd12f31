"""The five PEEL grades in their one and only order, and the statuses an area can have instead."""
from __future__ import annotations

from enum import Enum, IntEnum


class Grade(IntEnum):
    """Ordered grades: a larger value is a better grade. Nothing else compares grades."""

    INADEQUATE = 0
    REQUIRES_IMPROVEMENT = 1
    ADEQUATE = 2
    GOOD = 3
    OUTSTANDING = 4

    @property
    def key(self) -> str:
        """The name used in rule files and JSON: `requires_improvement`."""
        return self.name.lower()

    @property
    def label(self) -> str:
        """The name shown to people: `requires improvement`."""
        return self.name.lower().replace("_", " ")

    @classmethod
    def from_key(cls, key: str) -> "Grade | None":
        try:
            return cls[key.upper()]
        except KeyError:
            return None


class Status(str, Enum):
    """What an area's judgment is: a grade, or the reason there is none."""

    GRADED = "graded"
    UNGRADED = "ungraded"
    NOT_INSPECTED = "not_inspected"
    NOT_GRADED = "not_graded"
    GRADED_SEPARATELY = "graded_separately"
    UNDETERMINED = "undetermined"

    @property
    def label(self) -> str:
        return _STATUS_LABELS.get(self.value, self.value.replace("_", " "))

    @property
    def marked(self) -> bool:
        """A status the bundle gives an area instead of evidence (vocabulary.AREA_STATUSES)."""
        return self.value in _STATUS_LABELS


_STATUS_LABELS = {"not_inspected": "not inspected", "not_graded": "not graded in this report",
                  "graded_separately": "graded in a separate inspection"}


GRADE_KEYS: tuple[str, ...] = tuple(g.key for g in Grade)
