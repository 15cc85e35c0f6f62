"""Symbols of a problem: coordinates, fields and parameters.

Everything is a sympy object, so equations are written with ordinary sympy arithmetic and
``sympy.diff``; the extra information sciml needs (a parameter's value, whether it is learned)
rides on the symbol itself.
"""

from __future__ import annotations

import math

import sympy as sp
from sympy.core.function import AppliedUndef

from sciml.dsl.errors import ProblemError
from sciml.functions import SUPPORTED_FUNCTIONS, unsupported_functions


class Coordinate(sp.Symbol):
    """An independent variable, e.g. ``x = Coordinate("x")`` or ``Coordinate("t", units="s")``.

    Always real. ``units`` is a label written to the results (NetCDF ``units`` attributes); it
    does not take part in the mathematics.
    """

    units: str | None

    def __new__(cls, name: str, units: str | None = None):
        _check_name(name, "coordinate")
        obj = sp.Symbol.__xnew__(cls, name, real=True)
        obj.units = _check_units(units, f"coordinate {name!r}")
        return obj

    def __getnewargs_ex__(self):
        return (self.name,), {"units": self.units}


class Parameter(sp.Symbol):
    """A constant of the equations.

    Args:
        name: symbol name used in equations and reports.
        value: the known value, or for a learned parameter its initial guess.
        learn: if true the parameter is identified from data (an inverse problem).
        positive: learn ``log(value)`` instead of ``value`` so the estimate stays positive —
            the natural choice for viscosities, diffusivities and rates.
        units: a label (e.g. ``"m^2/s"``), written beside a learned value in ``metrics.json``
            (``parameter_units``), as a coordinate's or field's units are.
    """

    value: float
    learn: bool
    positive: bool
    units: str | None

    def __new__(cls, name: str, value: float, *, learn: bool = False, positive: bool = False,
                units: str | None = None):
        _check_name(name, "parameter")
        units = _check_units(units, f"parameter {name!r}")
        try:
            value = float(value)
        except (TypeError, ValueError):
            raise ProblemError(
                f"parameter {name!r} needs a numeric value (or initial guess), got {value!r}"
            ) from None
        if not math.isfinite(value):
            raise ProblemError(f"parameter {name!r} has the value {value}; give a finite number "
                               "(for a learned parameter, a finite initial guess)")
        if positive and value <= 0:
            raise ProblemError(f"parameter {name!r} is declared positive but its value is {value}")
        obj = sp.Symbol.__xnew__(cls, name, real=True)
        obj.value, obj.learn, obj.positive, obj.units = value, bool(learn), bool(positive), units
        return obj

    def _hashable_content(self):
        # Two parameters of the same name but different values or roles are different
        # symbols; otherwise sympy's expression cache would hand one problem's parameter to
        # another problem built in the same process.
        return super()._hashable_content() + (self.value, self.learn, self.positive, self.units)

    def __getnewargs_ex__(self):
        return (self.name, self.value), {"learn": self.learn, "positive": self.positive, "units": self.units}


class Normal(sp.Symbol):
    """The component along ``coordinate`` of the boundary's outward unit normal, written in a
    :class:`~sciml.dsl.conditions.BoundaryEquation`: ``u * Normal(x) + v * Normal(y)`` is the
    flow through a wall, ``u.diff(x) * Normal(x) + u.diff(y) * Normal(y)`` the normal derivative.
    """

    coordinate: Coordinate

    def __new__(cls, coordinate: Coordinate):
        if not isinstance(coordinate, Coordinate):
            raise ProblemError(f"Normal({coordinate!r}): give a coordinate of the problem, e.g. Normal(x)")
        obj = sp.Symbol.__xnew__(cls, f"n_{coordinate.name}", real=True)
        obj.coordinate = coordinate
        return obj

    def _hashable_content(self):
        # not the same symbol as a plain one that happens to be named n_x
        return super()._hashable_content() + (type(self).__name__, self.coordinate)

    def __getnewargs_ex__(self):
        return (self.coordinate,), {}


def Field(name: str, *coordinates: sp.Symbol, units: str | None = None) -> sp.Expr:
    """An unknown function of the coordinates, e.g. ``u = Field("u", x, t)`` gives ``u(x, t)``.

    The result is a sympy applied function, so ``u.diff(x, 2)`` and ``sympy.diff(u, x, t)``
    write derivatives of any order. ``units`` (e.g. ``"m/s"``) labels the field in the results.
    """
    _check_name(name, "field")
    units = _check_units(units, f"field {name!r}")
    if not coordinates:
        raise ProblemError(f"field {name!r} needs at least one coordinate, e.g. Field({name!r}, x)")
    for c in coordinates:
        if not isinstance(c, sp.Symbol):
            raise ProblemError(
                f"field {name!r}: {c!r} is not a coordinate; create coordinates with Coordinate('x')"
            )
    return (sp.Function(name, units=units) if units else sp.Function(name))(*coordinates)


def units_of(symbol) -> str | None:
    """The units declared for a coordinate or field (``None`` if none were given)."""
    if isinstance(symbol, sp.core.function.AppliedUndef):
        symbol = symbol.func
    return getattr(symbol, "units", None)


def field_name(field: sp.Expr) -> str:
    """The name of a field given as ``u(x, t)``, ``u`` (a sympy Function) or a string."""
    if isinstance(field, str):
        return field
    if isinstance(field, sp.core.function.AppliedUndef):
        return field.func.__name__
    if isinstance(field, sp.core.function.UndefinedFunction):
        return field.__name__
    raise ProblemError(f"{field!r} is not a field; declare fields with Field('u', x, t)")


def _check_units(units, what: str) -> str | None:
    # Units are labels copied into NetCDF attributes and reports: plain printable text only.
    if units is None:
        return None
    if not isinstance(units, str) or not units.strip() or len(units) > 64 or not units.isprintable():
        raise ProblemError(f"{what}: units must be a short printable string such as 'm/s' or 'kg m-3', "
                           f"got {units!r}")
    return units.strip()


def _check_name(name: str, kind: str) -> None:
    if not isinstance(name, str) or not name.isidentifier():
        raise ProblemError(f"{kind} name {name!r} must be a valid identifier such as 'u' or 'nu'")


def check_expression(expr: sp.Expr, where: str, coords: set, fields: dict, allow_fields: bool = True,
                     allow_normals: bool = False) -> None:
    """Raise a :class:`ProblemError` (``where`` names the culprit) unless ``expr`` holds only
    coordinates ``coords``, parameters, if ``allow_normals`` the boundary's normal along them
    (:class:`Normal`) and, if ``allow_fields``, the ``fields`` (name -> field) applied to their
    own coordinates and their derivatives."""
    if expr.has(sp.zoo, sp.oo, -sp.oo, sp.nan):
        raise ProblemError(f"{where}: the expression {expr} is infinite or undefined (a division by zero?)")
    unsupported = unsupported_functions(expr)
    if unsupported:
        known = ", ".join(sorted({f.__name__ for f in SUPPORTED_FUNCTIONS}))
        raise ProblemError(
            f"{where}: sciml cannot evaluate {', '.join(unsupported)}; write the expression with "
            f"{known} (Bessel functions of integer order); a solution known only by its values "
            "is given as reference=<xarray.Dataset>"
        )
    for s in expr.free_symbols:
        if s in coords or isinstance(s, Parameter):
            continue
        if isinstance(s, Normal):
            if not allow_normals:
                raise ProblemError(f"{where}: Normal({s.coordinate}) is the boundary's normal; it belongs in a "
                                   "BoundaryEquation only")
            if s.coordinate not in coords:
                raise ProblemError(f"{where}: Normal({s.coordinate}) names no coordinate of the problem "
                                   f"(coordinates: {sorted(map(str, coords))})")
            continue
        raise ProblemError(
            f"{where}: undefined symbol {s!r}; declare it as Parameter({str(s)!r}, value) or make "
            f"it a coordinate of the domain (coordinates: {sorted(map(str, coords))})"
        )
    for d in expr.atoms(sp.Derivative):
        target = d.expr
        if not isinstance(target, AppliedUndef) or field_name(target) not in fields:
            raise ProblemError(
                f"{where}: derivative of {target}, which is not a field; only fields "
                f"{tuple(fields)} can be differentiated"
            )
        for v, _ in d.variable_count:
            if v not in coords:
                raise ProblemError(f"{where}: derivative with respect to {v}, which is not a coordinate")
    for f in expr.atoms(AppliedUndef):
        name = field_name(f)
        if not allow_fields:
            raise ProblemError(f"{where}: may not contain the unknown field {f}")
        if name not in fields:
            raise ProblemError(
                f"{where}: {f} is not a declared field; declared fields are {tuple(fields)} "
                f"(add Field({name!r}, ...) to fields=)"
            )
        if f != fields[name]:
            raise ProblemError(
                f"{where}: field {name} must be applied to its own coordinates {fields[name]}, got {f}; "
                "use a condition to prescribe values at particular points"
            )
