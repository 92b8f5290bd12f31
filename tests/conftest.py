"""Shared fixtures: paths, the shipped rules and evidence, small rule sets written to tmp folders."""
from __future__ import annotations

import ast
import atexit
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Callable

import pytest
import yaml
from hypothesis import settings

import peelrules
from peelrules.evidence import Bundle
from peelrules.program import Program

ROOT = Path(__file__).resolve().parent.parent
SHIPPED_RULES = ROOT / "rules" / "peel-2021-22"
LANCASHIRE = ROOT / "evidence" / "lancashire-2022.yaml"
SEED = ROOT.parent / "shared" / "seeds" / "000_d8ec0c1289d1da33.txt"
GOLDEN = Path(__file__).resolve().parent / "golden"
PEEL = Path(sys.executable).parent / "peel"
# The disk cache of checked rule sets goes to a folder of this test run, never the user's own cache folder
# (real `peel` processes inherit it); tests/test_cache.py points it elsewhere where it needs to. Each pytest-xdist
# worker makes a folder of its own (a worker inherits the folder the controlling process made, marked by
# PEEL_TEST_OWN_CACHE), so that no test sees entries another worker is writing; a folder the user chose is kept.
if "PEEL_CACHE_DIR" not in os.environ or os.environ.get("PEEL_TEST_OWN_CACHE") == "1":
    os.environ["PEEL_TEST_OWN_CACHE"] = "1"
    _worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    os.environ["PEEL_CACHE_DIR"] = tempfile.mkdtemp(prefix=f"peel-test-cache-{_worker}-".replace("--", "-"))
    atexit.register(shutil.rmtree, os.environ["PEEL_CACHE_DIR"], True)  # gone when this process ends


# Everything the Lancashire bundle reads beside it: the report it quotes, its case-level tables, its comparator.
LANCASHIRE_FILES = ("sources/000_d8ec0c1289d1da33.txt", "tables/lancashire-stop-search-audit-2021.csv",
                    "tables/lancashire-999-calls-2021.parquet", "comparators/dvpo-2021.yaml")


def code_uses(path: Path) -> dict[str, list[int]]:
    """The diagnostic codes a module names as `Code.PRnnn` (or `diagnostics.Code.PRnnn`), with the lines of each use."""
    uses: dict[str, list[int]] = {}
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Attribute) and (isinstance(node.value, ast.Name) and node.value.id == "Code" or
                                                isinstance(node.value, ast.Attribute) and node.value.attr == "Code"):
            uses.setdefault(node.attr, []).append(node.lineno)
    return uses


@pytest.fixture
def lancashire_copy(tmp_path: Path) -> Path:
    """A copy of the Lancashire bundle with every file it reads, in a folder of its own (tests may edit it)."""
    where = tmp_path / "evidence"
    for name in LANCASHIRE_FILES:
        (where / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(LANCASHIRE.parent / name, where / name)
    shutil.copyfile(LANCASHIRE, where / LANCASHIRE.name)
    return where / LANCASHIRE.name


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--update-golden", action="store_true", default=False,
                     help="rewrite golden files from the current output instead of comparing")


@pytest.fixture
def golden(request: pytest.FixtureRequest) -> Callable[[str, str], None]:
    """Compare text with tests/golden/NAME; rewrite it only when --update-golden is given."""
    update = request.config.getoption("--update-golden")

    def check(name: str, text: str) -> None:
        path = GOLDEN / name
        if update:
            path.write_text(text, encoding="utf-8")
            return
        assert path.exists(), f"missing golden file {path}; run pytest --update-golden and review it"
        assert text == path.read_text(encoding="utf-8"), f"output differs from {path}"

    return check


@pytest.fixture(scope="session")
def shipped() -> Program:
    return peelrules.load_rules(SHIPPED_RULES)


@pytest.fixture(scope="session")
def lancashire(shipped: Program) -> Bundle:
    return peelrules.load_evidence(LANCASHIRE, shipped)


def lancashire_raw() -> dict:
    return yaml.safe_load(LANCASHIRE.read_text(encoding="utf-8"))


def write_bundle(tmp_path: Path, data: dict, name: str = "bundle.yaml") -> Path:
    path = tmp_path / name
    tables = data.get("tables") if isinstance(data, dict) else None
    for table in (tables.values() if isinstance(tables, dict) else ()):  # a shipped bundle's tables go beside it
        shipped = ROOT / "evidence" / str(table.get("file", "")) if isinstance(table, dict) else None
        if shipped is not None and shipped.is_file() and not (tmp_path / table["file"]).exists():
            (tmp_path / table["file"]).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(shipped, tmp_path / table["file"])
    comparators = data.get("comparators") if isinstance(data, dict) else None
    for rel in (comparators.values() if isinstance(comparators, dict) else ()):  # and its comparator files
        shipped = ROOT / "evidence" / str(rel)
        if shipped.is_file() and not (tmp_path / str(rel)).exists():
            (tmp_path / str(rel)).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(shipped, tmp_path / str(rel))
    path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return path


def write_rules(tmp_path: Path, text: str, name: str = "rules.peel") -> Path:
    folder = tmp_path / "rules"
    folder.mkdir(exist_ok=True)
    (folder / name).write_text(text, encoding="utf-8")
    return folder


def run_peel(*args: str, cwd: Path | None = None, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([str(PEEL), *args], capture_output=True, text=True, cwd=cwd or ROOT, env=env,
                          timeout=120)


# ---------------------------------------------------------------- Hypothesis budgets
#
# PEEL_HYPOTHESIS_PROFILE chooses how hard the property tests look:
#   ci        (the default) the slowest properties (test_fmt, test_fuzz) draw a moderate number of examples, so
#             that the whole suite stays quick; Hypothesis draws new ones on every run, and replays any example
#             that once failed (its database), so the search goes on from run to run
#   thorough  the full budgets, as those tests were first written (up to 2,000 examples each), and 1,000 for a
#             property with no budget of its own: for a nightly run, or after changing the parser, the
#             formatter or the loaders.  PEEL_HYPOTHESIS_PROFILE=thorough .venv/bin/pytest tests/test_fmt.py ...
HYPOTHESIS_PROFILES = ("ci", "thorough")
HYPOTHESIS_PROFILE = os.environ.get("PEEL_HYPOTHESIS_PROFILE", "ci")
if HYPOTHESIS_PROFILE not in HYPOTHESIS_PROFILES:
    raise pytest.UsageError(f"PEEL_HYPOTHESIS_PROFILE={HYPOTHESIS_PROFILE!r}: give one of {', '.join(HYPOTHESIS_PROFILES)}")
settings.register_profile("ci", print_blob=True)
settings.register_profile("thorough", max_examples=1000, print_blob=True)
settings.load_profile(HYPOTHESIS_PROFILE)


def examples(ci: int, thorough: int) -> int:
    """max_examples for a slow property test: ci by default, thorough with PEEL_HYPOTHESIS_PROFILE=thorough."""
    assert 0 < ci <= thorough
    return thorough if HYPOTHESIS_PROFILE == "thorough" else ci
