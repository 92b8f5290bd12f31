"""The `peel` command as a user runs it: exit codes, messages without tracebacks, safe output files."""
from __future__ import annotations

import json
import os
from pathlib import Path

import jsonschema
import pytest

from peelrules.report.schemas import trace_schema

from conftest import LANCASHIRE, ROOT, run_peel

DATA = Path(__file__).resolve().parent / "data"
MINI = str(DATA / "mini.peel")
MINI_EVIDENCE = str(DATA / "mini-evidence.yaml")


def no_traceback(proc) -> None:
    assert "Traceback" not in proc.stderr and "Traceback" not in proc.stdout


def test_help_documents_exit_codes() -> None:
    proc = run_peel("--help")
    assert proc.returncode == 0
    assert "Exit codes" in proc.stdout
    for cmd in ("evaluate", "explain", "check", "schema"):
        assert cmd in proc.stdout


def test_evaluate_text_lists_every_area() -> None:
    proc = run_peel("evaluate", MINI_EVIDENCE, "--rules", MINI)
    assert proc.returncode == 0, proc.stderr
    assert "Contact" in proc.stdout and "Victims" in proc.stdout and "ungraded" in proc.stdout


def test_evaluate_json_is_valid_against_the_published_schema(tmp_path) -> None:
    out = tmp_path / "t.json"
    proc = run_peel("evaluate", MINI_EVIDENCE, "--rules", MINI, "--format", "json", "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(out.read_text(encoding="utf-8"))
    jsonschema.validate(doc, trace_schema())
    assert doc["inputs"]["evidence"][0]["file"].endswith("mini-evidence.yaml")


def test_shipped_lancashire_trace_is_valid_and_deterministic(tmp_path) -> None:
    outs = []
    for seed in ("0", "12345"):
        env = dict(os.environ, PYTHONHASHSEED=seed)
        proc = run_peel("evaluate", str(LANCASHIRE.relative_to(ROOT)), "--format", "json", env=env)
        assert proc.returncode == 0, proc.stderr
        outs.append(proc.stdout)
    assert outs[0] == outs[1]
    jsonschema.validate(json.loads(outs[0]), trace_schema())


def test_explain_names_an_area_by_alias() -> None:
    proc = run_peel("explain", MINI_EVIDENCE, "calls", "--rules", MINI)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("Contact (contact):")
    assert "report line 3" in proc.stdout


def test_explain_unknown_area_is_bad_usage() -> None:
    proc = run_peel("explain", MINI_EVIDENCE, "nowhere", "--rules", MINI)
    assert proc.returncode == 2
    assert "PR307" in proc.stderr
    no_traceback(proc)


def test_check_ok_and_failing() -> None:
    ok = run_peel("check", MINI)
    assert ok.returncode == 0 and ok.stdout.startswith("ok:")
    bad = run_peel("check", str(DATA.parent / "errors" / "acceptance.peel"))
    assert bad.returncode == 1
    for code in ("PR101", "PR203", "PR204", "PR205"):
        assert code in bad.stderr
    no_traceback(bad)


def test_check_json_diagnostics() -> None:
    proc = run_peel("check", str(DATA.parent / "errors" / "acceptance.peel"), "--format", "json")
    assert proc.returncode == 1
    doc = json.loads(proc.stdout)
    assert doc["ok"] is False
    assert sorted(d["code"] for d in doc["diagnostics"]) == ["PR101", "PR203", "PR204", "PR205"]


@pytest.mark.parametrize("args", [
    ("evaluate", "no-such-file.yaml"),
    ("evaluate", "tests"),
    ("evaluate", MINI_EVIDENCE, "--rules", "no-such-folder"),
    ("evaluate", MINI_EVIDENCE, "--rules", MINI, "--format", "xml"),
    ("evaluate", MINI, "--rules", MINI),
    ("schema", "nothing"),
    ("frobnicate",),
])
def test_bad_input_is_exit_2_without_traceback(args) -> None:
    proc = run_peel(*args)
    assert proc.returncode == 2, (proc.stdout, proc.stderr)
    no_traceback(proc)
    assert proc.stderr.strip()


def test_failed_run_leaves_no_output_file(tmp_path) -> None:
    out = tmp_path / "out.json"
    bad = tmp_path / "bad.yaml"
    bad.write_text("force: x\nframework: mini\nsources: {}\nfacts: {calls.offered: {value: -1, source: 'r:L1'}}\n")
    proc = run_peel("evaluate", str(bad), "--rules", MINI, "--format", "json", "--out", str(out))
    assert proc.returncode == 2
    assert not out.exists()
    assert list(tmp_path.iterdir()) == [bad]


def test_output_never_overwrites_an_input(tmp_path) -> None:
    copy = tmp_path / "e.yaml"
    copy.write_text(Path(MINI_EVIDENCE).read_text(encoding="utf-8"), encoding="utf-8")
    before = copy.read_bytes()
    proc = run_peel("evaluate", str(copy), "--rules", MINI, "--out", str(copy))
    assert proc.returncode == 2
    assert copy.read_bytes() == before


def test_schemas_print_json() -> None:
    for which in ("evidence", "trace"):
        proc = run_peel("schema", which)
        assert proc.returncode == 0
        jsonschema.Draft202012Validator.check_schema(json.loads(proc.stdout))


def test_bad_evidence_message_names_file_line_and_caret(tmp_path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(Path(MINI_EVIDENCE).read_text(encoding="utf-8").replace("value: 5,", "value: -5,"))
    proc = run_peel("evaluate", str(bad), "--rules", MINI)
    assert proc.returncode == 2
    assert f"{bad}:7:" in proc.stderr and "^" in proc.stderr and "PR306" in proc.stderr


def test_limits_can_be_changed_for_one_run() -> None:
    tight = run_peel("--limit", "max_facts=3", "evaluate", MINI_EVIDENCE, "--rules", MINI)
    assert tight.returncode == 2 and "PR404" in tight.stderr and "more than 3" in tight.stderr
    assert run_peel("--limit", "max_facts=10", "evaluate", MINI_EVIDENCE, "--rules", MINI).returncode == 0
    bad = run_peel("--limit", "max_things=3", "check", MINI)
    assert bad.returncode == 2 and "max_facts" in bad.stderr and "Traceback" not in bad.stderr
    assert run_peel("--limit", "max_facts=0", "check", MINI).returncode == 2
