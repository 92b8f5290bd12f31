"""Expressions back to canonical source text (used by traces, messages and the formatter)."""
from __future__ import annotations

from decimal import Decimal

from . import nodes as n

# binding strength: larger binds tighter
_PREC = {"or": 1, "and": 2, "not": 3, "cmp": 4, "+": 5, "-": 5, "*": 6, "/": 6, "neg": 7, "atom": 8}


def _prec(e: n.Expr) -> int:
    if isinstance(e, n.Binary):
        return _PREC["cmp"] if e.op in n.COMPARE_OPS else _PREC[e.op]
    if isinstance(e, n.Unary):
        return _PREC["not"] if e.op == "not" else _PREC["neg"]
    if isinstance(e, n.InList):
        return _PREC["cmp"]
    return _PREC["atom"]


def format_number(value: int | float) -> str:
    """Plain decimal digits (never an exponent, which the grammar cannot read)."""
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    if isinstance(value, float):
        text = format(Decimal(repr(value)), "f")
        return text.rstrip("0").rstrip(".") if "." in text else text
    return str(value)


def unparse(e: n.Expr) -> str:
    if isinstance(e, n.Number):
        return e.text or format_number(e.value)
    if isinstance(e, n.Percent):
        return f"{e.text}%"
    if isinstance(e, n.String):
        return '"' + e.value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'
    if isinstance(e, n.Bool):
        return "true" if e.value else "false"
    if isinstance(e, n.Name):
        return e.dotted
    if isinstance(e, (n.FactRef, n.ConstRef, n.CounterRef)):
        return e.name
    if isinstance(e, n.RuleRef):
        return e.written or e.key
    if isinstance(e, n.AssessmentLit):
        return e.value
    if isinstance(e, n.Stated):
        return f"{e.func}({e.kind})"
    if isinstance(e, n.Call):
        return f"{e.func}({', '.join(unparse(a) for a in e.args)})"
    if isinstance(e, n.Aggregate):
        where = "" if e.where is None else f" where {unparse(e.where)}"
        return f"{e.func}({', '.join(unparse(a) for a in e.args)}{where})"
    if isinstance(e, n.DateLit):
        return e.text
    if isinstance(e, n.Unary):
        inner = _wrap(e.operand, _prec(e), strict=False)
        return f"not {inner}" if e.op == "not" else f"-{inner}"
    if isinstance(e, n.InList):
        opts = ", ".join(unparse(o) for o in e.options)
        word = "not in" if e.negated else "in"
        return f"{_wrap(e.item, _PREC['cmp'], strict=True)} {word} [{opts}]"
    if isinstance(e, n.Binary):
        p = _prec(e)
        # comparisons never chain: both sides must bind tighter; other operators are left-associative
        left_strict = e.op in n.COMPARE_OPS
        left, right = _wrap(e.left, p, strict=left_strict), _wrap(e.right, p, strict=True)
        if e.op == "or":  # `a or (b and c)` reads more surely than `a or b and c`
            left = f"({left})" if _is_and(e.left) else left
            right = f"({right})" if _is_and(e.right) else right
        return f"{left} {e.written or e.op} {right}"
    raise TypeError(f"cannot unparse {e!r}")  # pragma: no cover


def _is_and(e: n.Expr) -> bool:
    return isinstance(e, n.Binary) and e.op == "and"


def _wrap(e: n.Expr, parent: int, strict: bool) -> str:
    text = unparse(e)
    p = _prec(e)
    if p < parent or (strict and p == parent):
        return f"({text})"
    return text
