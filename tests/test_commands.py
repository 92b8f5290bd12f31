"""The commands as functions (peelrules/commands/): `run_<cmd>(options, io)` returns the exit code and writes what
`peel <cmd>` prints, without click and without exiting, so another program can call it."""
from __future__ import annotations

import io as iolib
import shutil
from pathlib import Path

from click.testing import CliRunner

from peelrules.cli import main
from peelrules.commands import EXIT_FAILED, EXIT_INPUT, EXIT_OK, IO
from peelrules.commands.check import CheckOptions, run_check
from peelrules.commands.fmt import FmtOptions, run_fmt

from conftest import ROOT

MINI = ROOT / "tests" / "data" / "mini.peel"


def streams() -> tuple[IO, iolib.StringIO, iolib.StringIO]:
    out, err = iolib.StringIO(), iolib.StringIO()
    return IO(out, err), out, err


def test_run_check_prints_what_peel_check_prints_and_returns_its_code() -> None:
    io, out, err = streams()
    code = run_check(CheckOptions(rules=MINI), io)
    cli = CliRunner().invoke(main, ["check", str(MINI)])
    assert (code, out.getvalue(), err.getvalue()) == (cli.exit_code, cli.stdout, cli.stderr)
    assert code == EXIT_OK and out.getvalue().startswith("ok: ")


def test_run_check_of_a_broken_rule_set_returns_failure_without_exiting(tmp_path: Path) -> None:
    broken = tmp_path / "broken.peel"
    broken.write_text(MINI.read_text(encoding="utf-8").replace("answers_999", "answers_99", 1), encoding="utf-8")
    io, out, err = streams()
    assert run_check(CheckOptions(rules=broken), io) == EXIT_FAILED
    assert "error[PR" in err.getvalue() and out.getvalue() == ""


def test_run_fmt_check_says_what_would_change_and_writes_nothing(tmp_path: Path) -> None:
    target = tmp_path / "mini.peel"
    shutil.copyfile(MINI, target)
    messy = target.read_text(encoding="utf-8").replace("\n", "\n\n\n", 3)
    target.write_text(messy, encoding="utf-8")
    io, _, err = streams()
    assert run_fmt(FmtOptions((target,), check_only=True), io) == EXIT_FAILED
    assert "would reformat" in err.getvalue()
    assert target.read_text(encoding="utf-8") == messy


def test_run_fmt_of_a_missing_file_is_an_input_error(tmp_path: Path) -> None:
    io, _, err = streams()
    assert run_fmt(FmtOptions((tmp_path / "absent.peel",)), io) == EXIT_INPUT
    assert "absent.peel" in err.getvalue()


def test_chart_to_a_folder_that_does_not_exist_is_an_input_error_not_a_bug(tmp_path: Path) -> None:
    """`peel chart --out` into a missing folder: a clear error naming the path, exit 2 (it was an internal error)."""
    dataset = ROOT / "evidence" / "comparators" / "dvpo-2021.yaml"
    from peelrules.comparators import load_comparator

    force = next(f for f, v in load_comparator(dataset).values.items() if v is not None)
    target = tmp_path / "no" / "such" / "chart.svg"
    result = CliRunner().invoke(main, ["chart", str(dataset), "--force", force, "--format", "svg", "--out", str(target)])
    assert result.exit_code == EXIT_INPUT, result.output
    assert "error[PR401]" in result.stderr and str(target) in result.stderr
    assert "internal error" not in result.stderr
