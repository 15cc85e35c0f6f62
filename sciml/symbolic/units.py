"""Optional dimensional analysis of candidate formulas.

Units are dictionaries of base-dimension exponents, e.g. ``{"m": 1, "s": -2}`` for an
acceleration. A formula is *consistent* when every sum adds like dimensions, every argument
of ``exp``/``log``/``sin``/... is dimensionless, and the result has the target's dimension.
A fitted floating-point constant may carry any dimension (it plays the role of a physical
constant such as ``G``), so it acts as a wildcard; exact numbers (``2``, ``pi``) are
dimensionless.
"""

from __future__ import annotations

import re
from fractions import Fraction

import sympy as sp

__all__ = ["constant_units", "dimension", "is_consistent", "parse_units", "unit_text"]

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


def unit_text(d: dict) -> str:
    """``{"s": 1, "kg": 1/2, "m": -3/2}`` -> ``"s kg^(1/2) m^(-3/2)"`` (what :func:`parse_units`
    reads back); ``"1"`` when dimensionless. Positive powers first."""
    parts = sorted(((k, Fraction(v)) for k, v in d.items() if v), key=lambda kv: (kv[1] < 0, kv[0]))
    if not parts:
        return "1"
    return " ".join(k if v == 1 else f"{k}^{v}" if v.denominator == 1 and v > 0 else f"{k}^({v})"
                    for k, v in parts)


def constant_units(expr: sp.Expr, units: dict, target_units: dict) -> dict | None:
    """The units the fitted constant of ``c * rest`` must carry for the law to have the target's
    (``rest`` free of fitted numbers); ``None`` for any other form, or a dimensionless constant."""
    coeff, rest = expr.as_coeff_Mul()
    if not isinstance(coeff, sp.Float) or rest.atoms(sp.Float):
        return None
    try:
        d = dimension(rest, units)
    except Inconsistent:
        return None
    if d == _WILD:
        return None
    need = _norm({k: Fraction(target_units.get(k, 0)) - Fraction(d.get(k, 0)) for k in {*target_units, *d}})
    return need or None


# derived SI units written out in base dimensions; any other name is a base dimension of its own
_DERIVED = {
    "N": {"kg": 1, "m": 1, "s": -2}, "J": {"kg": 1, "m": 2, "s": -2},
    "W": {"kg": 1, "m": 2, "s": -3}, "Pa": {"kg": 1, "m": -1, "s": -2}, "Hz": {"s": -1},
}
_FACTOR = re.compile(r"^([A-Za-z_]+)\^?\(?([+-]?\d+(?:/\d+)?)?\)?$")


def _power(written: str | None, token: str, text: str) -> Fraction:
    try:
        return Fraction(written or 1)
    except ZeroDivisionError:
        raise ValueError(f"the unit factor {token!r} in {text!r} has the power {written}, a "
                         "division by zero: write a power like 'm^(1/2)' or 'm-2'") from None


def parse_units(text: str) -> dict:
    """``"kg m2 s-2"``, ``"kg*m^2/s^2"`` or ``"m/s"`` -> ``{"kg": 1, "m": 2, "s": -2}``.

    Factors are separated by spaces, ``*`` or ``.``; everything after a ``/`` is divided; a
    power is written ``m2``, ``m^2``, ``m**2`` or ``m^(1/2)``. ``N``, ``J``, ``W``, ``Pa`` and
    ``Hz`` are expanded into ``kg``, ``m``, ``s``; any other name (``V``, ``A``, ``K``) is a
    base dimension of its own. ``""``, ``"1"`` and ``"dimensionless"`` are dimensionless.
    """
    text = text.strip()
    if text in ("", "1", "-", "dimensionless", "none"):
        return {}
    out: dict = {}
    text_ = text.replace("**", "^")
    for k, part in enumerate(re.split(r"/(?![^()]*\))", text_)):  # not the / of m^(1/2)
        sign = 1 if k == 0 else -1
        for token in re.split(r"[\s*.]+", part.strip()):
            if not token or token == "1":
                continue
            m = _FACTOR.match(token)
            if not m:
                raise ValueError(f"cannot read the unit factor {token!r} in {text!r}: write "
                                 "factors like 'kg m2 s-2' or 'kg*m^2/s^2'")
            name, power = m.group(1), _power(m.group(2), token, text)
            for dim, e in _DERIVED.get(name, {name: 1}).items():
                out[dim] = out.get(dim, 0) + sign * power * e
    return {d: (int(e) if e.denominator == 1 else e) for d, e in out.items() if e != 0}
