"""Area-level findings and moderation records, as a bundle holds them once loaded (see evidence.py)."""
from __future__ import annotations

from dataclasses import dataclass

from .source import Span


@dataclass(frozen=True)
class Finding:
    """A cause of concern, area for improvement or practice the report states for an area, with its source."""

    kind: str
    text: str | None
    document: str
    line: int
    quote: str | None
    severe: bool
    recommendations: tuple[str, ...]
    grade: str | None
    span: Span
    note: str | None = None


@dataclass(frozen=True)
class Moderation:
    """An area's grade as moderated by the inspectorate, with the rationale and its source."""

    final: str
    rationale: str
    document: str
    line: int
    quote: str | None
    span: Span
