"""Comparator datasets: one measure with a value per force, for placing a force among its peers.

    measure: dvpo_applications_per_1000_da_offences
    title: "Domestic violence protection order applications per 1,000 domestic abuse offences"
    polarity: higher_is_better        # higher_is_better | higher_is_worse | neutral
    unit: "per 1,000 domestic abuse offences"
    period: {from: "2021-04-01", to: "2022-03-31"}
    source: {title: "...", kind: force_data}
    illustrative: true                 # optional: values are not real data, and every output says so
    note: "..."                        # optional
    values:
      Lancashire Constabulary: 1.4
      Example Police: null             # no value supplied: left out of the comparison, and reported

Loaded with the evidence files' safe YAML loader (positions for every key), so each problem is reported at
its line with the usual PR303 shape error. Pure: no printing, no click.
"""
from __future__ import annotations

from pathlib import Path

from .evidence import load_yaml
from .limits import DEFAULT_LIMITS, Limits
from .loader import read_source
from .peerfacts import Comparator
from .peers import comparator_from_data


def load_comparator(path: str | Path, limits: Limits = DEFAULT_LIMITS) -> Comparator:
    """Read and validate one comparator file; raise PeelError naming every problem at its line."""
    src = read_source(Path(path), None, limits)
    raw, positions = load_yaml(src, limits)
    return comparator_from_data(src, raw, positions)


