"""bench/ratios.py's hand-written baselines give peel's grades, so that a ratio compares the same work.

No timing here: only that the baselines cannot drift from the rules. Grades come from peel's own output."""
from __future__ import annotations

import json
import random
import shutil
import sys

import pytest
import yaml
from click.testing import CliRunner

import peelrules
from peelrules.cli import main as cli_main
from peelrules.compile import compile_program
from peelrules.evidence import load_bundle
from peelrules.source import SourceFile

from conftest import LANCASHIRE, ROOT

sys.path.insert(0, str(ROOT / "bench"))

import lancashire_by_hand  # noqa: E402
import ratios  # noqa: E402
import run as bench_run  # noqa: E402
import synthetic_by_hand  # noqa: E402


def peel_json_grades(path: str) -> dict[str, str]:
    result = CliRunner().invoke(cli_main, ["evaluate", path, "--format", "json"])
    assert result.exit_code == 0, result.output
    return ratios.peel_grades(result.stdout)


def test_lancashire_by_hand_prints_peels_grades(capsys: pytest.CaptureFixture[str]) -> None:
    peel = peel_json_grades(str(LANCASHIRE))
    lancashire_by_hand.main(["lancashire_by_hand.py", str(LANCASHIRE)])
    assert ratios.by_hand_grades(capsys.readouterr().out) == peel
    assert len(set(peel.values())) >= 4  # graded, ungraded and not inspected areas: the comparison means something


def test_lancashire_by_hand_follows_the_evidence(tmp_path) -> None:
    """The baseline reads the bundle, not a memory of it: changed evidence moves its grades as it moves peel's."""
    (tmp_path / "sources").symlink_to(LANCASHIRE.parent / "sources")
    shutil.copytree(LANCASHIRE.parent / "tables", tmp_path / "tables")  # tables are refused through a symlink
    shutil.copytree(LANCASHIRE.parent / "comparators", tmp_path / "comparators")  # and its comparator datasets
    original = peel_json_grades(str(LANCASHIRE))
    doc = yaml.safe_load(LANCASHIRE.read_text(encoding="utf-8"))
    doc["facts"]["soc.threat_assessment"]["assessment"] = "not_met"  # the area's cause of concern
    doc["facts"]["workforce.pdr_process"]["assessment"] = "met"  # one area for improvement fewer
    del doc["findings"]["managing_offenders"]  # findings unknown
    doc["facts"]["cdi.recording_timely"] = {"assessment": "met", "source": "report:L27",
                                            "quote": "we reviewed 90 case files"}  # an optional area inspected
    path = tmp_path / "changed.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False, allow_unicode=True), encoding="utf-8")
    peel = peel_json_grades(str(path))
    changed = {a for a in peel if peel[a] != original[a]}
    assert {"serious_organised_crime", "managing_offenders", "crime_data_integrity"} <= changed
    assert lancashire_by_hand.decide(doc) == peel


def test_synthetic_by_hand_gives_the_compiled_grades() -> None:
    program = peelrules.check_rules([SourceFile("bench/synthetic.peel", bench_run.synthetic_rules())])
    compiled = compile_program(program)
    rng = random.Random(11)
    texts = [bench_run.synthetic_bundle(rng, i, 0.0) for i in range(80)]
    seen = set()
    for i, text in enumerate(texts):
        peel = {a.name: a.judgment for a in compiled.run(load_bundle(SourceFile(f"b{i}.json", text), program)).areas}
        assert synthetic_by_hand.grade(json.loads(text)) == peel, i
        seen |= set(peel.values())
    assert len(seen) >= 6  # four rungs, not inspected and undetermined at least
