"""Symbols of a problem: coordinates, fields and parameters.

Everything is a sympy object, so equations are written with ordinary sympy arithmetic and
``sympy.diff``; the extra information sciml needs (a parameter's value, whether it is learned)
rides on the symbol itself.
"""

from __future__ import annotations

import sympy as sp

from sciml.dsl.errors import ProblemError


class Coordinate(sp.Symbol):
    """An independent variable, e.g. ``x = Coordinate("x")``. Always real."""

    def __new__(cls, name: str):
        _check_name(name, "coordinate")
        return sp.Symbol.__xnew__(cls, name, real=True)


class Parameter(sp.Symbol):
    """A constant of the equations.

    Args:
        name: symbol name used in equations and reports.
        value: the known value, or for a learned parameter its initial guess.
        learn: if true the parameter is identified from data (an inverse problem).
        positive: learn ``log(value)`` instead of ``value`` so the estimate stays positive —
            the natural choice for viscosities, diffusivities and rates.
    """

    value: float
    learn: bool
    positive: bool

    def __new__(cls, name: str, value: float, *, learn: bool = False, positive: bool = False):
        _check_name(name, "parameter")
        try:
            value = float(value)
        except (TypeError, ValueError):
            raise ProblemError(
                f"parameter {name!r} needs a numeric value (or initial guess), got {value!r}"
            ) from None
        if positive and value <= 0:
            raise ProblemError(f"parameter {name!r} is declared positive but its value is {value}")
        obj = sp.Symbol.__xnew__(cls, name, real=True)
        obj.value, obj.learn, obj.positive = value, bool(learn), bool(positive)
        return obj

    def _hashable_content(self):
        # Two parameters of the same name but different values or roles are different
        # symbols; otherwise sympy's expression cache would hand one problem's parameter to
        # another problem built in the same process.
        return super()._hashable_content() + (self.value, self.learn, self.positive)

    def __getnewargs_ex__(self):
        return (self.name, self.value), {"learn": self.learn, "positive": self.positive}


def Field(name: str, *coordinates: sp.Symbol) -> sp.Expr:
    """An unknown function of the coordinates, e.g. ``u = Field("u", x, t)`` gives ``u(x, t)``.

    The result is a sympy applied function, so ``u.diff(x, 2)`` and ``sympy.diff(u, x, t)``
    write derivatives of any order.
    """
    _check_name(name, "field")
    if not coordinates:
        raise ProblemError(f"field {name!r} needs at least one coordinate, e.g. Field({name!r}, x)")
    for c in coordinates:
        if not isinstance(c, sp.Symbol):
            raise ProblemError(
                f"field {name!r}: {c!r} is not a coordinate; create coordinates with Coordinate('x')"
            )
    return sp.Function(name)(*coordinates)


def field_name(field: sp.Expr) -> str:
    """The name of a field given as ``u(x, t)``, ``u`` (a sympy Function) or a string."""
    if isinstance(field, str):
        return field
    if isinstance(field, sp.core.function.AppliedUndef):
        return field.func.__name__
    if isinstance(field, sp.core.function.UndefinedFunction):
        return field.__name__
    raise ProblemError(f"{field!r} is not a field; declare fields with Field('u', x, t)")


def _check_name(name: str, kind: str) -> None:
    if not isinstance(name, str) or not name.isidentifier():
        raise ProblemError(f"{kind} name {name!r} must be a valid identifier such as 'u' or 'nu'")
