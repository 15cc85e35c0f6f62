"""Optional dimensional analysis of candidate formulas.

Units are dictionaries of base-dimension exponents, e.g. ``{"m": 1, "s": -2}`` for an
acceleration. A formula is *consistent* when every sum adds like dimensions, every argument
of ``exp``/``log``/``sin``/... is dimensionless, and the result has the target's dimension.
A fitted floating-point constant may carry any dimension (it plays the role of a physical
constant such as ``G``), so it acts as a wildcard; exact numbers (``2``, ``pi``) are
dimensionless.
"""

from __future__ import annotations

from fractions import Fraction

import sympy as sp

__all__ = ["dimension", "is_consistent"]

_WILD = "wild"


def _norm(d):
    return {k: v for k, v in d.items() if v != 0}


def _mul(a, b):
    if a == _WILD or b == _WILD:
        return _WILD
    out = dict(a)
    for k, v in b.items():
        out[k] = out.get(k, 0) + v
    return _norm(out)


def _pow(a, p: Fraction):
    return _WILD if a == _WILD else _norm({k: v * p for k, v in a.items()})


class Inconsistent(ValueError):
    pass


def dimension(expr: sp.Expr, units: dict) -> dict | str:
    """Dimension of ``expr`` given ``units[symbol name]``; raises ``Inconsistent``."""
    if isinstance(expr, sp.Symbol):
        return _norm({k: Fraction(v) for k, v in units.get(expr.name, {}).items()})
    if isinstance(expr, sp.Float):
        return _WILD
    if expr.is_Number or expr.is_NumberSymbol:
        return {}
    if isinstance(expr, sp.Mul):
        d = {}
        for a in expr.args:
            d = _mul(d, dimension(a, units))
        return d
    if isinstance(expr, sp.Add):
        dims = [dimension(a, units) for a in expr.args]
        fixed = [d for d in dims if d != _WILD]
        if any(d != fixed[0] for d in fixed[1:]):
            raise Inconsistent(f"adding unlike dimensions in {expr}")
        return fixed[0] if fixed else _WILD
    if isinstance(expr, sp.Pow):
        base, ex = expr.args
        if dimension(ex, units) not in ({}, _WILD):
            raise Inconsistent(f"dimensional exponent in {expr}")
        d = dimension(base, units)
        if d in ({}, _WILD):
            return d
        if not ex.is_Number:
            raise Inconsistent(f"symbolic power of a dimensional quantity in {expr}")
        return _pow(d, Fraction(str(sp.Rational(ex))) if ex.is_Rational else Fraction(float(ex)).limit_denominator(12))
    if isinstance(expr, sp.Abs):
        return dimension(expr.args[0], units)
    # transcendental functions need dimensionless arguments and return dimensionless values
    for a in expr.args:
        if dimension(a, units) not in ({}, _WILD):
            raise Inconsistent(f"dimensional argument in {expr}")
    return {}


def is_consistent(expr: sp.Expr, units: dict, target_units: dict | None = None) -> bool:
    """True when ``expr`` is dimensionally consistent (and matches ``target_units`` if given)."""
    try:
        d = dimension(expr, units)
    except Inconsistent:
        return False
    if target_units is None or d == _WILD:
        return True
    return d == _norm({k: Fraction(v) for k, v in target_units.items()})
