"""Why not another grade? The smallest sets of rule outcomes that would change, and the evidence that
would change them.

The search flips the outcomes of an area's rules (met/not met, raised/not raised, exceeded), one set at a
time from the smallest, re-evaluating the rules that depend on them, and keeps the sets under which the
ladder gives the wanted grade. For each rule in a set it lists the comparisons on evidence that would
have to turn, with the threshold at which they turn.
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass

from . import nodes as n
from .evaluate import Evaluator, Env
from .evidence import Bundle
from .grades import Grade, Status
from .program import Program
from .result import AreaResult
from .unparse import unparse
from .values import Value

MAX_FLIPS = 5
MAX_ANSWERS = 5
MAX_RUNS = 4000  # evaluations one question may take


@dataclass(frozen=True)
class Need:
    """A comparison on evidence that would have to hold, and the current values of the facts it reads."""

    condition: str
    facts: tuple[tuple[str, Value, str], ...]  # (fact, current value or UNKNOWN, declared type)
    constants: tuple[tuple[str, str], ...] = ()  # (constant, as written) used by the condition


@dataclass(frozen=True)
class Flip:
    rule: str  # "area.rule"
    kind: str
    title: str
    before: tuple[Value, Value]  # (outcome, exceeded)
    after: tuple[Value, Value]
    needs: tuple[Need, ...]


@dataclass(frozen=True)
class WhyNot:
    area: AreaResult
    target: str  # a grade key or a rule name
    answers: tuple[tuple[Flip, ...], ...]  # smallest sets first
    searched: int  # largest set size tried in full
    already: bool = False
    exhausted: bool = False  # the search stopped at MAX_RUNS before trying every larger set


def _choices(kind: str, outcome: Value, exceeded: Value, target: Grade) -> list[tuple[Value, Value]]:
    now = (outcome, exceeded)
    opts: list[tuple[Value, Value]] = [(True, False), (False, False)]
    if kind == "characteristic" and target is Grade.OUTSTANDING:
        opts.append((True, True))
    return [o for o in opts if o != now]


def _base(program: Program, bundle: Bundle, area_name: str) -> tuple[Evaluator, Env, AreaResult]:
    ev = Evaluator(program)
    area = program.area(area_name)
    if area is None:
        raise KeyError(area_name)
    result = ev.run(bundle)[0]
    env = Env(bundle, program.const_values, {o.key: o.outcome for a in result.areas for o in a.outcomes}, {}, False)
    return ev, env, result.area(area.name)


def why_not_grade(program: Program, bundle: Bundle, area_name: str, target: Grade,
                  max_flips: int = MAX_FLIPS) -> WhyNot:
    ev, env, base = _base(program, bundle, area_name)
    if base.grade is target or base.status in (Status.UNGRADED, Status.NOT_INSPECTED):
        return WhyNot(base, target.key, (), 0, already=base.grade is target)
    outcomes = {o.key: o for o in base.outcomes}
    answers: list[tuple[Flip, ...]] = []
    size = runs = 0
    for size in range(1, max_flips + 1):
        for combo in itertools.combinations(list(outcomes), size):
            choices = [_choices(outcomes[k].kind, outcomes[k].outcome, outcomes[k].exceeded, target) for k in combo]
            for values in itertools.product(*choices):
                runs += 1
                if runs > MAX_RUNS:
                    return WhyNot(base, target.key, tuple(answers), size - 1 if not answers else size,
                                  exhausted=not answers)
                forced = dict(zip(combo, values))
                if ev.run(bundle, overrides=forced)[0].area(base.name).grade is target:
                    answers.append(tuple(_flip(program, ev, env, outcomes[k], v) for k, v in forced.items()))
                    if len(answers) >= MAX_ANSWERS:
                        return WhyNot(base, target.key, tuple(answers), size)
        if answers:
            break
    return WhyNot(base, target.key, tuple(answers), size)


def why_not_rule(program: Program, bundle: Bundle, area_name: str, rule_name: str) -> WhyNot:
    """What would make one rule come out the other way."""
    ev, env, base = _base(program, bundle, area_name)
    o = next((o for o in base.outcomes if o.key == f"{base.name}.{rule_name}"), None)
    if o is None:
        raise KeyError(rule_name)
    want: tuple[Value, Value] = (False, False) if o.outcome is True else (True, False)
    return WhyNot(base, rule_name, ((_flip(program, ev, env, o, want),),), 1)


def _flip(program: Program, ev: Evaluator, env: Env, o, after: tuple[Value, Value]) -> Flip:  # type: ignore[no-untyped-def]
    rule = program.rule(o.key)
    needs: list[Need] = []
    if rule.when is not None and after[0] != o.outcome:
        needs += _leaves(ev, env, rule.when, want=bool(after[0]))
    if rule.exceeded_when is not None and after[1] is True and o.exceeded is not True:
        needs += _leaves(ev, env, rule.exceeded_when, want=True)
    return Flip(o.key, o.kind, rule.title, (o.outcome, o.exceeded), after, tuple(dict.fromkeys(needs)))


_NEGATE = {">=": "<", "<": ">=", ">": "<=", "<=": ">", "==": "!=", "!=": "=="}


def _leaves(ev: Evaluator, env: Env, e: n.Expr, want: bool) -> list[Need]:
    """The comparisons under `e` that are not yet as `want` needs, phrased as what would have to hold."""
    if isinstance(e, n.Unary) and e.op == "not":
        return _leaves(ev, env, e.operand, not want)
    if isinstance(e, n.Binary) and e.op in ("and", "or"):
        parts = [p for p in (e.left, e.right) if ev.eval(p, env)[0] is not want]
        if e.op == ("and" if want else "or"):
            return [x for p in parts for x in _leaves(ev, env, p, want)]
        return _leaves(ev, env, parts[0], want) if parts else []  # one side is enough
    if ev.eval(e, env)[0] is want:
        return []
    if isinstance(e, n.RuleRef):
        return [Need(f"rule {e.key} {'holds' if want else 'does not hold'}", ())]
    if isinstance(e, n.Binary) and e.op in _NEGATE:
        text = unparse(e if want else n.Binary(_NEGATE[e.op], e.left, e.right))
    else:
        text = unparse(e) if want else f"not ({unparse(e)})"
    return [Need(text, _facts(ev, env, e), _constants(ev, e))]


def _constants(ev: Evaluator, e: n.Expr) -> tuple[tuple[str, str], ...]:
    found = {x.name: ev.program.const_text[x.key] for x in n.walk(e) if isinstance(x, n.ConstRef)}
    return tuple(found.items())


def _facts(ev: Evaluator, env: Env, e: n.Expr) -> tuple[tuple[str, Value, str], ...]:
    found = {x.name: (x.name, ev.eval(x, env)[0], ev.program.decls[x.name].type)
             for x in n.walk(e) if isinstance(x, n.FactRef)}
    return tuple(found.values())
