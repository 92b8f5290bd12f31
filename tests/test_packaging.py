"""A plain (non-editable) install of the wheel into a fresh virtual environment works from any directory:
the grammar and the shipped rules travel inside the wheel.

To stay quick, the dependencies are not downloaded and unpacked again (that took most of half a minute): the
fresh environment is made without pip, the wheel is installed into it by pip with --no-deps, and the
dependencies the wheel declares (and theirs, and nothing else) are linked in from the environment running the
tests, after checking that each declared version is met. So a dependency the wheel forgets to declare is still
missing there, as it would be for a user."""
from __future__ import annotations

import email.parser
import shutil
import subprocess
import sys
import zipfile
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from conftest import LANCASHIRE, ROOT


def run(*args: object, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([str(a) for a in args], cwd=cwd, capture_output=True, text=True, timeout=900)


def declared_requirements(wheel: Path) -> list[str]:
    """The Requires-Dist lines of the wheel's own metadata."""
    with zipfile.ZipFile(wheel) as zf:
        name = next(n for n in zf.namelist() if n.endswith(".dist-info/METADATA"))
        meta = email.parser.Parser().parsestr(zf.read(name).decode("utf-8"))
    return meta.get_all("Requires-Dist") or []


def dependency_closure(requires: list[str]) -> dict[str, metadata.Distribution]:
    """The installed distributions the requirements need (without extras), and the ones those need; each
    requirement's version must be met by what is installed here."""
    found: dict[str, metadata.Distribution] = {}
    extras_seen: dict[str, set[str]] = {}
    todo = [(Requirement(r), frozenset()) for r in requires]
    while todo:
        req, extras = todo.pop()
        if req.marker is not None and not any(req.marker.evaluate({"extra": e}) for e in {"", *extras}):
            continue
        key = canonicalize_name(req.name)
        dist = metadata.distribution(req.name)
        assert req.specifier.contains(dist.version, prereleases=True), f"{req} is declared, {dist.version} is here"
        wanted = set(req.extras) - extras_seen.get(key, set())
        if key in found and not wanted:
            continue
        found[key] = dist
        extras_seen.setdefault(key, set()).update(req.extras)
        todo += [(Requirement(r), frozenset(extras_seen[key])) for r in dist.requires or []]
    return found


def link_distributions(dists: dict[str, metadata.Distribution], site: Path) -> None:
    """Make the distributions importable in site by linking each top-level entry of their RECORD."""
    for dist in dists.values():
        assert dist.files is not None, f"{dist.metadata['Name']} has no RECORD"
        for top in sorted({f.parts[0] for f in dist.files if f.parts[0] not in ("..", "__pycache__")}):
            target = Path(dist.locate_file(top))
            if target.exists() and not (site / top).exists():
                (site / top).symlink_to(target, target_is_directory=target.is_dir())


def test_wheel_installs_into_a_fresh_venv_and_runs_elsewhere(tmp_path: Path) -> None:
    # build from a clean copy: a stale build/ folder in the work tree must not leak into the wheel
    source = tmp_path / "source"
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(
        ".git", ".venv", "build", "dist", "*.egg-info", "__pycache__", ".hypothesis", "artifacts"))
    wheels = tmp_path / "wheels"
    built = run(sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", wheels, source, cwd=tmp_path)
    assert built.returncode == 0, built.stderr
    wheel = next(wheels.glob("peelrules-*.whl"))
    venv = tmp_path / "venv"
    assert run(sys.executable, "-m", "venv", "--without-pip", venv, cwd=tmp_path).returncode == 0
    installed = run(sys.executable, "-m", "pip", "--python", venv / "bin" / "python", "install", "-q", "--no-deps",
                    "--no-index", wheel, cwd=tmp_path)
    assert installed.returncode == 0, installed.stderr
    site = venv / "lib" / f"python{sys.version_info.major}.{sys.version_info.minor}" / "site-packages"
    assert (site / "peelrules").is_dir() and not (site / "peelrules").is_symlink()
    dependencies = dependency_closure(declared_requirements(wheel))
    assert {"lark", "pydantic", "click", "pyyaml"} <= dependencies.keys()
    assert "peelrules" not in dependencies and "pytest" not in dependencies, "only what the wheel needs"
    link_distributions(dependencies, site)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    check = run(venv / "bin" / "peel", "check", cwd=elsewhere)
    assert check.returncode == 0, check.stderr
    assert check.stdout.startswith("ok:")
    second = run(venv / "bin" / "peel", "check", "peel-2023-25", cwd=elsewhere)  # the second shipped rule set
    assert second.returncode == 0 and second.stdout.startswith("ok: 12 files, 10 areas"), second.stderr
    graded = run(venv / "bin" / "peel", "evaluate", LANCASHIRE, cwd=elsewhere)
    assert graded.returncode == 0, graded.stderr
    assert "Lancashire Constabulary" in graded.stdout
    here = run(venv / "bin" / "python", "-c", "import peelrules, sys; print(peelrules.__file__)", cwd=elsewhere)
    assert here.returncode == 0, here.stderr
    assert here.stdout.startswith(str(site)), "the test must exercise the installed copy"
    assert str(ROOT) not in here.stdout, "the test must exercise the installed copy"
