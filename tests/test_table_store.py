"""Table results kept across runs (cache.TableStore, aggregates.load_tables): when a bundle's YAML changes but its
tables do not, the next run validates the bundle again without DuckDB reading the tables again, and prints what
--no-cache prints; a table file that changes is read again; --no-cache keeps nothing."""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from peelrules import aggregates, cache, evidence
from peelrules import tables as t
from peelrules.cli import main


TABLES = ("tables/lancashire-stop-search-audit-2021.csv", "tables/lancashire-999-calls-2021.parquet")


@pytest.fixture
def bundle(lancashire_copy: Path) -> Path:
    return lancashire_copy


@pytest.fixture
def folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.setenv("PEEL_CACHE_DIR", str(tmp_path / "cache"))
    yield tmp_path / "cache"
    cache.configure()


@pytest.fixture
def duckdb_runs(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Each time DuckDB validated a table or ran aggregates since the test began."""
    done: list[str] = []
    validate, run = t.TableEngine.validate, t.TableEngine.run

    def counting_validate(self, decl, *a, **k):  # type: ignore[no-untyped-def]
        done.append("validate")
        return validate(self, decl, *a, **k)

    def counting_run(self, aggs, *a, **k):  # type: ignore[no-untyped-def]
        done.append("run")
        return run(self, aggs, *a, **k)

    monkeypatch.setattr(t.TableEngine, "validate", counting_validate)
    monkeypatch.setattr(t.TableEngine, "run", counting_run)
    return done


def evaluate(monkeypatch: pytest.MonkeyPatch, path: Path, *, cached: bool = True) -> str:
    """`peel evaluate --format json` as a fresh process would run it: this process's memory of documents and
    table results is forgotten first."""
    monkeypatch.setattr(evidence, "_DOCUMENT_LINES", {})
    aggregates._RESULTS.clear()
    aggregates._VALID.clear()
    result = CliRunner().invoke(main, [*([] if cached else ["--no-cache"]), "evaluate", str(path), "--format", "json"])
    assert result.exit_code == 0, result.output
    return result.stdout


def edit_yaml(path: Path) -> None:
    """A change to the YAML only (a comment): the bundle entry no longer matches, the tables are the same."""
    path.write_text(path.read_text(encoding="utf-8") + "\n# edited\n", encoding="utf-8")


def test_a_yaml_edit_reuses_the_table_results(folder: Path, bundle: Path, duckdb_runs: list[str],
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    evaluate(monkeypatch, bundle)
    assert "run" in duckdb_runs  # the first run computes them
    edit_yaml(bundle)
    duckdb_runs.clear()
    warm = evaluate(monkeypatch, bundle)
    assert duckdb_runs == []
    assert list(folder.glob("*/*.tables"))
    assert warm == evaluate(monkeypatch, bundle, cached=False)


def test_a_changed_table_file_is_read_again(folder: Path, bundle: Path, duckdb_runs: list[str],
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    before = evaluate(monkeypatch, bundle)
    csv = bundle.parent / TABLES[0]
    lines = csv.read_text(encoding="utf-8").splitlines(keepends=True)
    csv.write_text("".join(lines[:-1]), encoding="utf-8")  # one record fewer
    duckdb_runs.clear()
    after = evaluate(monkeypatch, bundle)
    assert "validate" in duckdb_runs and "run" in duckdb_runs
    assert after == evaluate(monkeypatch, bundle, cached=False)
    assert after != before  # the trace digests the table file


def test_no_cache_keeps_no_table_results(folder: Path, bundle: Path, duckdb_runs: list[str],
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    evaluate(monkeypatch, bundle, cached=False)
    assert not list(folder.glob("*/*.tables"))


def test_a_damaged_table_entry_is_ignored(folder: Path, bundle: Path, duckdb_runs: list[str],
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    evaluate(monkeypatch, bundle)
    for entry in folder.glob("*/*.tables"):
        data = bytearray(entry.read_bytes())
        data[-5] ^= 0xFF
        entry.write_bytes(bytes(data))
    edit_yaml(bundle)
    duckdb_runs.clear()
    warm = evaluate(monkeypatch, bundle)
    assert "run" in duckdb_runs and "validate" in duckdb_runs
    assert warm == evaluate(monkeypatch, bundle, cached=False)
