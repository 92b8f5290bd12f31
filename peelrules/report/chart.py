"""A peer comparison drawn as the inspectorate draws it: every force a bar, the force highlighted, the mean and
dotted lines one standard deviation either side; SVG from matplotlib, byte-identical run to run.

Values in, str out; `chart_svg` keeps each chart drawn in the disk cache (docs/cache.md), so a warm run neither
imports matplotlib nor draws. Every drawn element carries an id (`bar-<n>`, `mean`, `sd-lower`, `sd-upper`) and
text is kept as text, so tests (and screen readers' tools) can read the chart; `peer_table` gives the same numbers
as a table for accessibility.
"""
from __future__ import annotations

import dataclasses
import io
import json
import os
import re
import sys
from pathlib import Path
from typing import Mapping

from ..stats import PeerComparison

HIGHLIGHT = "#b3261e"
OTHERS = "#7a8ca3"
MISSING_NOTE = "No value: "


def _number(x: float) -> str:
    return f"{x:.2f}"


def peer_rows(values: Mapping[str, float | None], comparison: PeerComparison) -> list[tuple[str, str, str]]:
    """(force, value, note) per force, highest value first, then the forces without a value."""
    present = sorted(((f, v) for f, v in values.items() if v is not None), key=lambda fv: (-fv[1], fv[0]))
    rows = [(force, _number(v), "this force" if force == comparison.force else "") for force, v in present]
    return rows + [(force, "no value", "") for force in comparison.missing]


CHART_VERSION = "peer chart 1"  # what a cached chart was drawn by, beside the engine digest


def chart_svg(values: Mapping[str, float | None], comparison: PeerComparison, title: str, unit: str,
              illustrative: bool = False, sha256: str | None = None) -> str:
    """peer_chart_svg, from the disk cache when the same chart was drawn before. The key: the engine (this code),
    the comparator file's sha256 and the values drawn (a rule-test case's inline datasets share the case file's
    digest), the force, the method's parameters, the title, unit, polarity and illustrative mark, matplotlib's
    version and the matplotlibrc it would read. Without a sha256 the chart is drawn (and not kept)."""
    from ..cache import cached_text, library_version

    def draw() -> str:
        return peer_chart_svg(values, comparison, title, unit, illustrative)

    if not sha256:
        return draw()
    parts = [CHART_VERSION, sha256, json.dumps(list(values.items())), comparison.force,
             json.dumps(dataclasses.asdict(comparison.method), sort_keys=True), title, unit, comparison.polarity,
             str(bool(illustrative)), library_version("matplotlib", "matplotlib"), _matplotlibrc()]
    return cached_text("svg", parts, draw)


def _matplotlibrc() -> str:
    """The name and sha256 of the matplotlibrc matplotlib would read besides its own (rc settings the chart does
    not set itself come from it), looked for in matplotlib's order without importing it; "" when there is none."""
    from ..cache import file_digest

    env = os.environ
    candidates = [Path.cwd() / "matplotlibrc"]
    if env.get("MATPLOTLIBRC"):
        rc = Path(env["MATPLOTLIBRC"])
        candidates += [rc, rc / "matplotlibrc"]
    home = os.path.expanduser("~")
    xdg = sys.platform.startswith(("linux", "freebsd"))  # elsewhere matplotlib's folder is ~/.matplotlib
    config = env.get("MPLCONFIGDIR") or (os.path.join(env.get("XDG_CONFIG_HOME") or os.path.join(home, ".config"),
                                                      "matplotlib") if xdg else os.path.join(home, ".matplotlib"))
    candidates.append(Path(config) / "matplotlibrc")
    for path in candidates:
        if path.is_file():
            return f"{path}:{file_digest(path)}"
    return ""


def peer_chart_svg(values: Mapping[str, float | None], comparison: PeerComparison, title: str, unit: str,
                   illustrative: bool = False) -> str:
    """The bar chart as a self-contained SVG document."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    present = sorted(((f, v) for f, v in values.items() if v is not None), key=lambda fv: (-fv[1], fv[0]))
    with matplotlib.rc_context({"svg.hashsalt": "peelrules", "svg.fonttype": "none", "font.size": 8,
                                "font.family": "DejaVu Sans"}):
        fig, ax = plt.subplots(figsize=(10, 4.8))
        try:
            for i, (force, v) in enumerate(present):
                bar = ax.bar(i, v, color=HIGHLIGHT if force == comparison.force else OTHERS, width=0.8)
                bar.patches[0].set_gid(f"bar-{i}")
                bar.patches[0].set_label(force)
            ax.axhline(comparison.mean, color="black", linewidth=1.2, gid="mean")
            ax.axhline(comparison.lower, color="black", linewidth=1, linestyle=":", gid="sd-lower")
            ax.axhline(comparison.upper, color="black", linewidth=1, linestyle=":", gid="sd-upper")
            ax.set_xticks(range(len(present)), [f for f, _ in present], rotation=90)
            for tick in ax.get_xticklabels():
                if tick.get_text() == comparison.force:
                    tick.set_color(HIGHLIGHT)
                    tick.set_fontweight("bold")
            ax.set_ylabel(unit)
            heading = title + (" (illustrative data)" if illustrative else "")
            ax.set_title(heading, loc="left")  # left: clear of the legend on the right
            scale = "log scale" if comparison.scale == "log" else "raw values"
            ax.text(1.0, 1.01, f"mean {_number(comparison.mean)}; dotted lines: one standard deviation ({scale})",
                    transform=ax.transAxes, ha="right", va="bottom", gid="legend")
            if comparison.missing:
                ax.text(0.0, -0.55, MISSING_NOTE + ", ".join(comparison.missing), transform=ax.transAxes,
                        gid="missing")
            ax.spines[["top", "right"]].set_visible(False)
            fig.tight_layout()
            out = io.StringIO()
            fig.savefig(out, format="svg", metadata={"Date": None, "Creator": "peelrules"})
        finally:
            plt.close(fig)
    svg = out.getvalue()
    # the XML prolog and DOCTYPE are dropped so the SVG can also be inlined in HTML
    return re.sub(r"^<\?xml[^>]*>\s*<!DOCTYPE[^>]*>\s*", "", svg, flags=re.S)


BAND_WORDS = {"well_below": "well below average", "within": "within the normal range",
              "well_above": "well above average"}


def band_words(comparison: PeerComparison) -> str:
    """The band in words, with what it means for the measure's polarity where it means something:
    "well below average (worse)"; a neutral measure, or a force within the normal range, gets the band alone."""
    verdict = comparison.verdict
    return BAND_WORDS[comparison.band] + (f" ({verdict})" if verdict else "")


def peer_summary(comparison: PeerComparison, unit: str) -> str:
    """One sentence with every number behind the band."""
    c = comparison
    scale = "on logs" if c.scale == "log" else "on raw values"
    missing = f"; no value for {len(c.missing)} force(s)" if c.missing else ""
    polarity = {"higher_is_better": "higher is better", "higher_is_worse": "higher is worse"}.get(c.polarity,
                                                                                                 "neutral measure")
    return (f"{c.force}: {_number(c.value)} {unit}; peer mean {_number(c.mean)}, one sd either side "
            f"{_number(c.lower)} to {_number(c.upper)} ({scale}: {c.reason}); z {c.z:+.2f}: {band_words(c)}"
            f"; {polarity}, rank {c.rank} of {c.forces}{missing}")
