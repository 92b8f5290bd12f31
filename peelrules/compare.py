"""`peel diff`: how a change to the rules moves grades, bundle by bundle and area by area, and why."""
from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

from . import evaluate, load_evidence
from .diagnostics import PeelError
from .evidence import Bundle
from .judgments import judgment_of
from .program import Program
from .result import BundleResult
from .values import Value


@dataclass(frozen=True)
class AreaChange:
    evidence: str
    area: str
    title: str
    old: str  # grade key or status
    new: str
    direction: int  # +1 better, -1 worse, 0 same grade (rules moved) or not comparable
    rules: tuple[tuple[str, Value, Value], ...]  # rules whose outcome changed: (rule, old, new)


@dataclass(frozen=True)
class RuleSetDiff:
    bundles: int
    areas_compared: int
    changes: tuple[AreaChange, ...]
    overrides: int = 0  # areas whose final grade moderation sets
    overrides_agreeing_old: int = 0  # of them, where the old rules already derive the final grade
    overrides_agreeing_new: int = 0  # ... and where the new rules do

    @property
    def up(self) -> int:
        return sum(1 for c in self.changes if c.direction > 0)

    @property
    def down(self) -> int:
        return sum(1 for c in self.changes if c.direction < 0)

    @property
    def moved(self) -> tuple[AreaChange, ...]:
        return tuple(c for c in self.changes if c.old != c.new)


def compare_results(old: BundleResult, new: BundleResult) -> list[AreaChange]:
    out = []
    new_areas = {a.name: a for a in new.areas}
    for a in old.areas:
        b = new_areas.get(a.name)
        if b is None:
            continue
        before, after = a.judgment, b.judgment
        old_rules = {o.key: o.outcome for o in a.outcomes}
        new_rules = {o.key: o.outcome for o in b.outcomes}
        rules = tuple((k, old_rules.get(k), new_rules.get(k)) for k in sorted(old_rules.keys() | new_rules.keys())
                      if old_rules.get(k) is not new_rules.get(k))
        if before == after and not rules:
            continue
        direction = 0
        if a.grade is not None and b.grade is not None:
            direction = (b.grade > a.grade) - (b.grade < a.grade)
        out.append(AreaChange(old.file, a.name, a.title, before, after, direction, rules))  # type: ignore[arg-type]
    return out


def _load(path: Path, program: Program, which: str) -> Bundle:
    """Load a bundle for one side of the comparison; errors say which rule set refused it."""
    try:
        return load_evidence(path, program)
    except PeelError as err:
        raise PeelError([replace(d, message=f"with the {which} rules: {d.message}") for d in err.diagnostics]) \
            from None


@dataclass(frozen=True)
class BundleDiff:
    """One bundle compared under both rule sets (a batch's workers send these back)."""
    changes: tuple[AreaChange, ...]
    areas_compared: int
    overrides: tuple[int, int, int]  # moderated areas; of them, where the old / the new rules derive the final
    judgments: tuple[tuple[str, str, str], ...]  # per area under the new rules: (name, title, final judgment)


def diff_bundle(old: Program, new: Program, path: Path) -> BundleDiff:
    b_old = _load(path, old, "old")
    b_new = _load(path, new, "new")
    r_old, r_new = evaluate(old, b_old), evaluate(new, b_new)
    overrides = [0, 0, 0]
    for area, m in b_new.moderation.items():
        overrides[0] += 1
        overrides[1] += any(a.name == area and a.judgment == m.final for a in r_old.areas)
        overrides[2] += any(a.name == area and a.judgment == m.final for a in r_new.areas)
    return BundleDiff(tuple(compare_results(r_old, r_new)), len(r_old.areas), (overrides[0], overrides[1],
                      overrides[2]), tuple((a.name, a.title, judgment_of(a, b_new).final) for a in r_new.areas))


def combine(diffs: list[BundleDiff]) -> RuleSetDiff:
    return RuleSetDiff(len(diffs), sum(d.areas_compared for d in diffs),
                       tuple(c for d in diffs for c in d.changes),
                       *(sum(d.overrides[i] for d in diffs) for i in range(3)))
