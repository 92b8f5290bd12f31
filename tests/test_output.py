"""Files peel writes get the mode `open(path, "w")` would give them under the umask, not the 0600 of the
temporary file they are written through (issue 15); `peel fmt` keeps a rewritten file's mode and owner."""
from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from click.testing import CliRunner

from peelrules import output
from peelrules.cli import main as cli_main
from peelrules.diagnostics import PeelError
from peelrules.output import current_umask, write_atomic

DATA = Path(__file__).resolve().parent / "data"
MINI = DATA / "mini.peel"
MINI_EVIDENCE = DATA / "mini-evidence.yaml"
MINI_CASES = DATA / "cases" / "mini.yaml"

pytestmark = pytest.mark.skipif(os.name != "posix", reason="file modes and the umask are POSIX")


@pytest.fixture
def umask():
    """Set the process umask for one test; the old one is always put back."""
    old = os.umask(0o022)
    os.umask(old)

    def set_to(value: int) -> None:
        os.umask(value)

    try:
        yield set_to
    finally:
        os.umask(old)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def leftovers(folder: Path, name: str) -> list[str]:
    """Temporary files of write_atomic for the target `name` that are still in folder."""
    return sorted(p.name for p in folder.iterdir() if p.name.startswith(f".{name}{output.TEMP_MARK}"))


def peel(*args: str | Path):
    res = CliRunner().invoke(cli_main, [str(a) for a in args], catch_exceptions=False)
    return res


# ---------------------------------------------------------------- the umask itself


@pytest.mark.parametrize("value", [0o022, 0o077, 0o002, 0o027], ids=oct)
def test_current_umask_reads_the_umask_without_changing_it(umask, value: int) -> None:
    umask(value)
    assert current_umask() == value
    assert os.umask(value) == value  # still what it was set to


def test_current_umask_falls_back_to_setting_and_restoring_it(umask, monkeypatch) -> None:
    umask(0o027)

    def no_proc(*args, **kwargs):
        raise FileNotFoundError("no /proc here")

    monkeypatch.setattr(output, "open", no_proc, raising=False)  # shadows the builtin inside the module
    assert current_umask() == 0o027
    assert os.umask(0o027) == 0o027


# ---------------------------------------------------------------- write_atomic


@pytest.mark.parametrize("value, expected", [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664), (0o027, 0o640)],
                         ids=lambda v: oct(v))
def test_a_new_file_gets_the_mode_of_a_plain_open(tmp_path: Path, umask, value: int, expected: int) -> None:
    umask(value)
    plain = tmp_path / "plain.txt"
    with open(plain, "w"):
        pass
    target = tmp_path / "out.txt"
    write_atomic(target, "hello\n")
    assert target.read_text(encoding="utf-8") == "hello\n"
    assert mode(target) == expected == mode(plain)
    assert leftovers(tmp_path, "out.txt") == []


def test_an_overwritten_output_gets_the_umask_mode_not_its_old_one(tmp_path: Path, umask) -> None:
    umask(0o022)
    target = tmp_path / "out.txt"
    target.write_text("old\n", encoding="utf-8")
    target.chmod(0o755)
    write_atomic(target, "new\n")
    assert target.read_text(encoding="utf-8") == "new\n"
    assert mode(target) == 0o644


def test_a_caller_can_ask_for_a_private_file(tmp_path: Path, umask) -> None:
    umask(0o022)
    cache = tmp_path / "cache.json"
    write_atomic(cache, "{}\n", mode=0o600)
    assert mode(cache) == 0o600
    umask(0o077)  # the umask can narrow a requested mode, never widen it
    wide = tmp_path / "wide.txt"
    write_atomic(wide, "x\n", mode=0o644)
    assert mode(wide) == 0o600


@pytest.mark.parametrize("kept", [0o755, 0o640, 0o600, 0o664], ids=oct)
def test_keep_mode_of_keeps_the_rewritten_files_mode(tmp_path: Path, umask, kept: int) -> None:
    umask(0o022)
    target = tmp_path / "rules.peel"
    target.write_text("old\n", encoding="utf-8")
    target.chmod(kept)
    write_atomic(target, "new\n", keep_mode_of=target)
    assert target.read_text(encoding="utf-8") == "new\n"
    assert mode(target) == kept


def test_keep_mode_of_a_file_that_is_gone_falls_back_to_the_umask(tmp_path: Path, umask) -> None:
    umask(0o077)
    target = tmp_path / "rules.peel"
    write_atomic(target, "new\n", keep_mode_of=tmp_path / "vanished.peel")
    assert mode(target) == 0o600


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0, reason="only root can give a file away")
def test_keep_mode_of_keeps_owner_and_group(tmp_path: Path, umask) -> None:
    umask(0o022)
    target = tmp_path / "rules.peel"
    target.write_text("old\n", encoding="utf-8")
    os.chown(target, 12345, 23456)
    target.chmod(0o750)
    write_atomic(target, "new\n", keep_mode_of=target)
    st = target.stat()
    assert (st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)) == (12345, 23456, 0o750)


def test_an_owner_that_cannot_be_kept_is_not_an_error(tmp_path: Path, umask, monkeypatch) -> None:
    """Without the right to give the file away, the owner is ours; the mode is still the old file's."""
    umask(0o022)
    calls = []

    def refuse(fd, uid, gid):
        calls.append((uid, gid))
        raise PermissionError(1, "Operation not permitted")

    monkeypatch.setattr(os, "fchown", refuse)
    target = tmp_path / "rules.peel"
    target.write_text("old\n", encoding="utf-8")
    target.chmod(0o755)
    real = os.stat(target)
    other = os.stat_result((real.st_mode, real.st_ino, real.st_dev, real.st_nlink, real.st_uid + 1,
                            real.st_gid + 1, real.st_size, 0, 0, 0))
    real_stat = os.stat
    monkeypatch.setattr(os, "stat", lambda p, *a, **k: other if p in (target, str(target)) else real_stat(p, *a, **k))
    write_atomic(target, "new\n", keep_mode_of=target)
    monkeypatch.undo()
    assert calls == [(real.st_uid + 1, real.st_gid + 1), (-1, real.st_gid + 1)]  # the owner, then the group
    assert target.read_text(encoding="utf-8") == "new\n"
    assert mode(target) == 0o755
    assert leftovers(tmp_path, "rules.peel") == []


@pytest.mark.parametrize("exists", [False, True])
def test_a_failed_rename_leaves_no_temporary_file_and_the_old_file(tmp_path: Path, monkeypatch,
                                                                   exists: bool) -> None:
    target = tmp_path / "out.txt"
    if exists:
        target.write_text("old\n", encoding="utf-8")

    def fail(src, dst):
        assert Path(src).exists() and Path(src).name.startswith(".out.txt.")  # the temporary file was there
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", fail)
    with pytest.raises(PeelError) as err:
        write_atomic(target, "new\n")
    assert "No space left on device" in str(err.value.diagnostics[0].message)
    assert leftovers(tmp_path, "out.txt") == []
    assert sorted(p.name for p in tmp_path.iterdir()) == (["out.txt"] if exists else [])
    if exists:
        assert target.read_text(encoding="utf-8") == "old\n"


def test_an_interrupted_write_leaves_no_temporary_file(tmp_path: Path, monkeypatch) -> None:
    def interrupt(src, dst):
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "replace", interrupt)
    with pytest.raises(KeyboardInterrupt):
        write_atomic(tmp_path / "out.txt", "new\n")
    assert list(tmp_path.iterdir()) == []


def test_the_data_is_synced_before_the_rename_and_the_folder_after(tmp_path: Path, monkeypatch) -> None:
    """A power cut after the rename must not find an empty file: fsync(file) < rename < fsync(folder)."""
    events: list[tuple[str, str]] = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(fd: int) -> None:
        what = "folder" if stat.S_ISDIR(os.fstat(fd).st_mode) else "file"
        if what == "file":  # the whole new content is in the file being synced
            assert os.pread(fd, 100, 0) == b"new\n"
        events.append(("fsync", what))
        real_fsync(fd)

    def replace(src, dst) -> None:
        events.append(("replace", Path(dst).name))
        real_replace(src, dst)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "replace", replace)
    write_atomic(tmp_path / "out.txt", "new\n")
    assert events == [("fsync", "file"), ("replace", "out.txt"), ("fsync", "folder")]


def test_a_failed_fsync_is_a_failed_write_that_keeps_the_old_file(tmp_path: Path, monkeypatch) -> None:
    target = tmp_path / "out.txt"
    target.write_text("old\n", encoding="utf-8")

    def fail(fd: int) -> None:
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(os, "fsync", fail)
    with pytest.raises(PeelError) as err:
        write_atomic(target, "new\n")
    assert "Input/output error" in err.value.diagnostics[0].message
    assert target.read_text(encoding="utf-8") == "old\n"
    assert leftovers(tmp_path, "out.txt") == []


def test_a_folder_that_cannot_be_synced_is_not_an_error(tmp_path: Path, monkeypatch) -> None:
    real_fsync = os.fsync

    def fsync(fd: int) -> None:
        if stat.S_ISDIR(os.fstat(fd).st_mode):
            raise OSError(22, "Invalid argument")  # some network file systems
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    write_atomic(tmp_path / "out.txt", "new\n")
    assert (tmp_path / "out.txt").read_text(encoding="utf-8") == "new\n"


# ---------------------------------------------------------------- every command that writes a file


def _evaluate(out: Path):
    return peel("evaluate", MINI_EVIDENCE, "--rules", MINI, "--out", out)


def _evaluate_json(out: Path):
    return peel("evaluate", MINI_EVIDENCE, "--rules", MINI, "--format", "json", "--out", out)


def _explain(out: Path):
    if not any("--out" in p.opts for p in cli_main.commands["explain"].params):
        pytest.skip("`peel explain` has no --out option: it prints to stdout only")
    return peel("explain", MINI_EVIDENCE, "--rules", MINI, "--out", out)


def _template(out: Path):
    return peel("evidence", "template", "--rules", MINI, "--out", out)


def _junit(out: Path):
    return peel("test", MINI_CASES, "--rules", MINI, "--junit", out)


WRITERS = {"evaluate --out": _evaluate, "evaluate --format json --out": _evaluate_json,
           "explain --out": _explain, "evidence template --out": _template, "test --junit": _junit}


@pytest.mark.parametrize("value, expected", [(0o022, 0o644), (0o077, 0o600)], ids=lambda v: oct(v))
@pytest.mark.parametrize("writer", WRITERS.values(), ids=WRITERS.keys())
def test_every_written_file_honours_the_umask(tmp_path: Path, umask, writer, value: int, expected: int) -> None:
    umask(value)
    out = tmp_path / "result.out"
    res = writer(out)
    assert res.exit_code == 0, res.output
    assert out.stat().st_size > 0
    assert mode(out) == expected
    assert list(tmp_path.iterdir()) == [out]  # nothing left beside it


@pytest.mark.parametrize("writer", WRITERS.values(), ids=WRITERS.keys())
def test_a_command_whose_write_fails_leaves_nothing_beside_the_target(tmp_path: Path, monkeypatch, writer) -> None:
    out = tmp_path / "result.out"

    def fail(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", fail)
    res = writer(out)
    assert res.exit_code == 2, res.output
    assert "No space left on device" in res.output
    assert list(tmp_path.iterdir()) == []


def _messy(folder: Path) -> Path:
    """The mini rule set, untidied (every indentation doubled), so that `peel fmt` rewrites it."""
    text = MINI.read_text(encoding="utf-8")
    path = folder / "mini.peel"
    path.write_text("\n".join(line.replace("  ", "    ", 1) for line in text.splitlines()) + "\n",
                    encoding="utf-8")
    return path


@pytest.mark.parametrize("value", [0o022, 0o077], ids=lambda v: f"umask{v:03o}")
@pytest.mark.parametrize("kept", [0o755, 0o644, 0o600, 0o664], ids=oct)
def test_fmt_in_place_keeps_the_files_mode(tmp_path: Path, umask, value: int, kept: int) -> None:
    umask(value)
    path = _messy(tmp_path)
    path.chmod(kept)
    before = path.read_text(encoding="utf-8")
    res = peel("fmt", tmp_path)
    assert res.exit_code == 0, res.output
    assert "reformatted" in res.output
    assert path.read_text(encoding="utf-8") != before
    assert mode(path) == kept
    assert list(tmp_path.iterdir()) == [path]


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0, reason="only root can give a file away")
def test_fmt_in_place_keeps_the_files_owner_and_group(tmp_path: Path, umask) -> None:
    umask(0o022)
    path = _messy(tmp_path)
    os.chown(path, 12345, 23456)
    res = peel("fmt", path)
    assert res.exit_code == 0, res.output
    st = path.stat()
    assert (st.st_uid, st.st_gid) == (12345, 23456)


def test_fmt_whose_write_fails_leaves_the_file_and_no_temporary(tmp_path: Path, monkeypatch) -> None:
    path = _messy(tmp_path)
    path.chmod(0o755)
    before = path.read_bytes()

    def fail(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", fail)
    res = peel("fmt", path)
    assert res.exit_code == 2, res.output
    assert path.read_bytes() == before and mode(path) == 0o755
    assert list(tmp_path.iterdir()) == [path]


def test_an_input_is_never_overwritten_whatever_path_names_it(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    bundle = data / "b.yaml"
    bundle.write_text("x", encoding="utf-8")
    (tmp_path / "link.yaml").symlink_to(bundle)
    os.link(bundle, tmp_path / "hard.yaml")
    others = [tmp_path / f"o{i}.yaml" for i in range(3)]
    for o in others:
        o.write_text("o", encoding="utf-8")
    for out, inputs in ((bundle, [*others, tmp_path / "link.yaml"]), (tmp_path / "hard.yaml", [*others, bundle]),
                        (tmp_path / "link.yaml", [bundle]), (data / "new.yaml", [data]),
                        (tmp_path / "gone.yaml", [tmp_path / "gone.yaml"])):
        with pytest.raises(PeelError, match="refusing to overwrite"):
            write_atomic(out, "new", inputs)
    assert bundle.read_text(encoding="utf-8") == "x"
    write_atomic(tmp_path / "out.csv", "ok", [*others, bundle, data])  # not an input: written
    assert (tmp_path / "out.csv").read_text(encoding="utf-8") == "ok"
