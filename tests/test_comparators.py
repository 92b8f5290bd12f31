"""Comparator datasets: loading with positions, the chart's content and `peel chart`."""
from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from click.testing import CliRunner

from peelrules.cli import main as cli_main
from peelrules.comparators import load_comparator
from peelrules.diagnostics import PeelError
from peelrules.report import chart

ROOT = Path(__file__).resolve().parent.parent
DVPO = ROOT / "evidence" / "comparators" / "dvpo-2021.yaml"
LANCS = "Lancashire Constabulary"
SVG = "{http://www.w3.org/2000/svg}"


def _write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "c.yaml"
    p.write_text(text, encoding="utf-8")
    return p


GOOD = """\
measure: m
title: "A measure"
polarity: higher_is_better
unit: "per 1,000"
period: {from: "2021-04-01", to: "2022-03-31"}
source: {title: "Data return"}
values:
  A: 1.0
  B: 2.0
  C: 3.0
  D: null
"""


def test_the_shipped_dvpo_dataset_covers_43_forces_and_is_labelled_illustrative() -> None:
    data = load_comparator(DVPO)
    assert len(data.values) == 43 and data.illustrative and data.polarity == "higher_is_better"
    # the file is exactly what its seeded generator writes
    import runpy
    gen = runpy.run_path(str(DVPO.with_name("generate_dvpo.py")))
    assert DVPO.read_text(encoding="utf-8") == gen["render"]()
    # Lancashire is very low, as the report says: well below average, worse than peers
    result = data.compare(LANCS)
    assert result.band == "well_below" and result.better_than_peers is False


def test_missing_values_are_kept_and_reported(tmp_path: Path) -> None:
    data = load_comparator(_write(tmp_path, GOOD))
    assert data.missing == ("D",)
    assert data.compare("A").missing == ("D",) and data.compare("A").forces == 3


@pytest.mark.parametrize("change, line", [
    (("polarity: higher_is_better", "polarity: upwards"), 3),
    (("  B: 2.0", "  B: two"), 9),
    (('period: {from: "2021-04-01", to: "2022-03-31"}', 'period: {from: "2022-04-01", to: "2021-03-31"}'), 5),
    (("unit: \"per 1,000\"\n", ""), 1),
    (("title: \"A measure\"", "titel: \"A measure\""), 2),
])
def test_bad_comparators_are_refused_at_their_line(tmp_path: Path, change: tuple[str, str], line: int) -> None:
    with pytest.raises(PeelError) as info:
        load_comparator(_write(tmp_path, GOOD.replace(*change)))
    lines = {d.span.line for d in info.value.diagnostics if d.span}
    assert line in lines and all(d.code == "PR303" and d.hint for d in info.value.diagnostics)


def _svg_tree() -> tuple[ET.Element, object]:
    data = load_comparator(DVPO)
    result = data.compare(LANCS)
    return ET.fromstring(chart.peer_chart_svg(data.values, result, data.title, data.unit, data.illustrative)), result


def test_the_chart_has_a_bar_per_force_the_force_highlighted_and_the_mean_and_sd_lines() -> None:
    root, result = _svg_tree()
    ids = {el.get("id"): el for el in root.iter() if el.get("id")}
    bars = [i for i in ids if re.fullmatch(r"bar-\d+", i)]
    assert len(bars) == 43
    assert {"mean", "sd-lower", "sd-upper"} <= set(ids)
    # the two sd lines are dotted, the mean line is not
    styles = {k: " ".join(el.get("style", "") for el in ids[k].iter()) for k in ("mean", "sd-lower", "sd-upper")}
    assert "dasharray" in styles["sd-lower"] and "dasharray" in styles["sd-upper"]
    assert "dasharray" not in styles["mean"]
    # exactly one bar in the highlight colour: the last (Lancashire has the lowest value)
    fills = {b: " ".join(el.get("style", "") for el in ids[b].iter()) for b in bars}
    highlighted = [b for b, style in fills.items() if chart.HIGHLIGHT in style]
    assert highlighted == ["bar-42"]
    texts = " ".join(t for el in root.iter(f"{SVG}text") for t in el.itertext())
    assert LANCS in texts and "illustrative" in texts and f"{result.mean:.2f}" in texts


def test_the_chart_is_byte_identical_run_to_run() -> None:
    data = load_comparator(DVPO)
    result = data.compare(LANCS)
    first = chart.peer_chart_svg(data.values, result, data.title, data.unit)
    assert first == chart.peer_chart_svg(data.values, result, data.title, data.unit)


def test_peel_chart_text_gives_every_number_and_the_table(tmp_path: Path) -> None:
    res = CliRunner().invoke(cli_main, ["chart", str(DVPO), "--force", LANCS])
    assert res.exit_code == 0, res.output
    result = load_comparator(DVPO).compare(LANCS)
    assert f"z {result.z:+.2f}" in res.output and "well below average" in res.output
    assert f"rank {result.rank} of 43" in res.output and "ILLUSTRATIVE" in res.output
    assert sum(1 for line in res.output.splitlines() if line.startswith("  ")) == 43


def test_peel_chart_svg_to_a_file_and_errors(tmp_path: Path) -> None:
    out = tmp_path / "dvpo.svg"
    res = CliRunner().invoke(cli_main, ["chart", str(DVPO), "--force", LANCS, "--format", "svg", "--out", str(out)])
    assert res.exit_code == 0 and ET.parse(out).getroot().tag == f"{SVG}svg"
    res = CliRunner().invoke(cli_main, ["chart", str(DVPO), "--force", "Lancashire"])
    assert res.exit_code == 2 and "did you mean" in res.output and "Traceback" not in res.output
    bad = _write(tmp_path, GOOD.replace("  B: 2.0", "  B: two"))
    res = CliRunner().invoke(cli_main, ["chart", str(bad), "--force", "A"])
    assert res.exit_code == 2 and "PR303" in res.output and ":9:" in res.output
    res = CliRunner().invoke(cli_main, ["chart", str(_write(tmp_path, GOOD)), "--force", "D"])
    assert res.exit_code == 2 and "no value" in res.output


# ---------------------------------------------------------------- charts in the disk cache (docs/cache.md)


@pytest.fixture
def chart_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    from peelrules import cache

    where = tmp_path / "cache"
    monkeypatch.setenv("PEEL_CACHE_DIR", str(where))
    yield where / "programs"
    cache.configure()


@pytest.fixture
def drawn(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The charts matplotlib drew (each one's title) since the test began."""
    done: list[str] = []
    real = chart.peer_chart_svg

    def counting(values, comparison, title, *args, **kwargs):  # type: ignore[no-untyped-def]
        done.append(title)
        return real(values, comparison, title, *args, **kwargs)

    monkeypatch.setattr(chart, "peer_chart_svg", counting)
    return done


def _peel(*args: str) -> tuple[int, str, str]:
    from peelrules import evidence

    evidence._DOCUMENT_LINES.clear()  # as a new process: the documents read are forgotten
    res = CliRunner().invoke(cli_main, list(args))
    assert res.exception is None or isinstance(res.exception, SystemExit), res.output
    return res.exit_code, res.stdout, res.stderr


def test_a_warm_html_run_draws_no_chart_and_prints_the_same_bytes(chart_cache: Path, drawn: list[str],
                                                                  lancashire_copy: Path) -> None:
    html = ("evaluate", str(lancashire_copy), "--format", "html")
    cold = _peel("--no-cache", *html)
    assert cold[0] == 0 and len(drawn) == 1 and "<svg" in cold[1]
    assert not chart_cache.exists(), "--no-cache writes nothing"
    first = _peel(*html)
    (entry,) = chart_cache.glob("*.svg")
    assert len(drawn) == 2 and oct(entry.stat().st_mode & 0o777) == "0o600"
    warm = _peel(*html)
    assert len(drawn) == 2, "the warm run took the chart from the cache"
    assert warm == first == cold
    # `peel chart` draws the same chart, from the same entry
    svg = _peel("chart", str(lancashire_copy.parent / "comparators" / "dvpo-2021.yaml"), "--force", LANCS,
                "--format", "svg")
    assert len(drawn) == 2 and svg[1] == entry.read_text(encoding="utf-8").partition("\n")[2]
    assert _peel("--no-cache", "chart", str(DVPO), "--force", LANCS, "--format", "svg") == svg
    assert len(drawn) == 3
    # another force is another chart; an edited comparator file is too, and no-cache prints the same
    _peel("chart", str(DVPO), "--force", "Cumbria Constabulary", "--format", "svg")
    assert len(drawn) == 4 and len(list(chart_cache.glob("*.svg"))) == 2
    data = lancashire_copy.parent / "comparators" / "dvpo-2021.yaml"
    data.write_text(data.read_text(encoding="utf-8").replace(f"  {LANCS}: 1.2\n", f"  {LANCS}: 6.1\n"),
                    encoding="utf-8")
    edited = _peel(*html)
    assert len(drawn) == 5 and edited != first and edited == _peel("--no-cache", *html)
    assert _peel("cache", "clear")[0] == 0 and not list(chart_cache.glob("*.svg"))


def test_a_warm_html_run_does_not_import_matplotlib(tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    env = {**os.environ, "PEEL_CACHE_DIR": str(tmp_path / "cache")}
    script = ("import sys; from peelrules.cli import main\n"
              "try: main([*sys.argv[1:]], standalone_mode=False)\n"
              "finally: sys.stderr.write('matplotlib' in sys.modules and 'IMPORTED' or 'clean')")
    args = [sys.executable, "-c", script, "evaluate", str(ROOT / "evidence" / "lancashire-2022.yaml"),
            "--format", "html", "--out", str(tmp_path / "out.html")]
    cold = subprocess.run(args, env=env, capture_output=True, text=True, timeout=120)
    assert cold.stderr.endswith("IMPORTED"), cold.stderr
    warm = subprocess.run(args, env=env, capture_output=True, text=True, timeout=120)
    assert warm.stderr.endswith("clean"), warm.stderr


def test_a_damaged_chart_entry_is_ignored_noted_and_redrawn(chart_cache: Path, drawn: list[str]) -> None:
    args = ("chart", str(DVPO), "--force", LANCS, "--format", "svg")
    first = _peel(*args)
    (entry,) = chart_cache.glob("*.svg")
    data = bytearray(entry.read_bytes())
    data[-10] ^= 1  # one flipped bit in the SVG
    entry.write_bytes(bytes(data))
    again = _peel("--verbose", *args)
    assert again[1] == first[1] and len(drawn) == 2
    assert "cache entry ignored" in again[2] and "digest does not match" in again[2]
    assert _peel(*args)[1] == first[1] and len(drawn) == 2  # rebuilt: the next run reads it
    entry.chmod(0o666)  # writable by others: not trusted
    assert _peel("--verbose", *args)[1] == first[1] and len(drawn) == 3
