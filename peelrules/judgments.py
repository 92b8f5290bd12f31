"""An area's judgment as published: the grade the rules derive, the final grade after moderation, and the
judgment the report itself states, side by side. Every report format reads them from here."""
from __future__ import annotations

from dataclasses import dataclass

from .facts import Bundle
from .findings import Finding, Moderation
from .grades import Status
from .result import AreaResult


@dataclass(frozen=True)
class Judgment:
    """An area's judgment: the grade the rules derive, the final one after moderation, and the report's own."""

    derived: str  # AreaResult.judgment: a grade key or a status
    final: str  # the moderated grade where an inspector set one, else the derived judgment
    moderation: Moderation | None
    stated: Finding | None  # the report's own judgment of the area, where the bundle records it

    @property
    def moderated(self) -> bool:
        return self.moderation is not None

    @property
    def disagrees(self) -> bool:
        """The report states a grade the final judgment does not match (an undetermined area does not disagree)."""
        return (self.stated is not None and self.final != self.stated.grade
                and self.final != Status.UNDETERMINED.value)

    @property
    def label(self) -> str:
        status = _STATUSES.get(self.final)
        return status.label if status is not None else self.final.replace("_", " ")


_STATUSES = {s.value: s for s in Status}  # built once: iterating an Enum each time cost ~50 us a label


def judgment_of(result: AreaResult, bundle: Bundle) -> Judgment:
    moderation = bundle.moderation.get(result.name)
    stated = next((f for f in bundle.findings.get(result.name, ()) if f.kind == "judgment"), None)
    final = moderation.final if moderation is not None else result.judgment
    return Judgment(result.judgment, final, moderation, stated)


def finding_label(f: Finding) -> str:
    """`cause of concern`, `judgment: good`."""
    word = f.kind.replace("_", " ")
    return f"{word}: {f.grade.replace('_', ' ')}" if f.kind == "judgment" and f.grade else word
