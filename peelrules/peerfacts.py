"""A force among its peers as a loaded bundle holds it: the comparator dataset and the comparison, plain frozen
dataclasses over stats.py, so that facts.Bundle and the disk cache need nothing heavier. peers.py reads and
checks the bundle's `comparators:` section into these.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

from .stats import DEFAULT_METHOD, OutlierMethod, PeerComparison, compare_with_peers
from .vocabulary import PEER_FUNCTIONS, POLARITY_FUNCTIONS


@dataclass(frozen=True)
class Comparator:
    """A comparator dataset: one measure, its polarity, period, unit and source, and a value per force."""

    file: str
    sha256: str
    measure: str
    title: str
    polarity: str
    unit: str
    period: tuple[str, str]
    source_title: str
    source_kind: str
    values: Mapping[str, float | None]  # force name -> value (None: not supplied)
    illustrative: bool = False
    note: str | None = None

    def compare(self, force: str, method: OutlierMethod = DEFAULT_METHOD) -> PeerComparison:
        return compare_with_peers(self.values, force, self.polarity, method)

    @property
    def missing(self) -> tuple[str, ...]:
        return tuple(sorted(k for k, v in self.values.items() if v is None))



@dataclass(frozen=True)
class BundlePeer:
    """One comparator the rule set reads, as the bundle gives it: the file, and the force among its peers
    (comparison None, with `why`, when it cannot be placed: no value for the force, say)."""

    name: str  # the evidence item, e.g. pvp.dvpo_rate
    measure: str
    file: str  # as written in the bundle, relative to its folder
    path: str  # the bundle's folder (as given) joined with `file`, as the trace's inputs list it
    sha256: str
    comparator: Comparator
    comparison: PeerComparison | None
    why: str | None = None

    def value(self, func: str) -> object:
        """outlier / peer_z / peer_rank / peer_better / peer_worse of the force; None (unknown) when there is no
        comparison, or for peer_better / peer_worse on a neutral measure."""
        c = self.comparison
        if c is None:
            return None
        if func in POLARITY_FUNCTIONS:
            return c.judged(func.removeprefix("peer_"))
        return c.band if func == "outlier" else c.z if func == "peer_z" else c.rank


def peer_counts(peers: Mapping[str, BundlePeer]) -> dict[str, object]:
    """The values the compiled program reads beside the stated counts: `peer:NAME/FUNC` (unknown: absent)."""
    return {f"peer:{name}/{func}": v for name, p in peers.items() if p.comparison is not None
            for func in PEER_FUNCTIONS if (v := p.value(func)) is not None}
