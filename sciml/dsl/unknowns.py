"""Unknown terms: networks inside equations (universal differential equations).

``R = Unknown("R", inputs=[u])`` is a term of an equation whose form is not known — a reaction
rate, a closure, a constitutive law — learned as a small network of its inputs jointly with
the fields, from data and physics (Rackauckas et al. 2020, "Universal differential equations
for scientific machine learning", arXiv:2001.04385). Inputs are fields of the problem and/or
its coordinates. ``sciml solve --symbolify`` then distils each unknown into a closed form.

An unknown is a sympy function application of its own class (a subclass of
:class:`UnknownTerm`), so it composes with any expression (``u.diff(t) - D*u.diff(x, 2) - R``)
and is told apart from a field (an undefined function) wherever the problem is read. This
module is pure description; :mod:`sciml.dsl.networks` evaluates unknowns in JAX.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import sympy as sp
from sympy.core.function import AppliedUndef

from sciml.dsl.errors import ProblemError
from sciml.dsl.symbols import Parameter, field_name


class UnknownTerm(sp.Function):
    """Base class of the terms :func:`Unknown` declares; ``term.args`` are its inputs."""

    is_real = True

    @classmethod
    def eval(cls, *args):
        return None  # never simplified: the term stays a placeholder for its network

    @property
    def name(self) -> str:
        return type(self).__name__

    @property
    def input_names(self) -> tuple[str, ...]:
        return tuple(input_name(a) for a in self.args)


def Unknown(name: str, inputs: Sequence[sp.Expr]) -> sp.Expr:
    """A learned term ``name(*inputs)`` to use inside equations.

    Args:
        name: identifier of the term, e.g. ``"R"``; names the term in ``law.json``.
        inputs: fields of the problem (``u`` for ``u = Field("u", x, t)``) and/or its
            coordinates (``x``), on which the term depends.

    Raises:
        ProblemError: a bad name, no inputs, or an input that is neither a field nor a
            coordinate (a parameter, a number, a derivative, an expression).
    """
    if not isinstance(name, str) or not name.isidentifier():
        raise ProblemError(f"unknown term name {name!r} must be a valid identifier such as 'R'")
    inputs = list(inputs) if isinstance(inputs, Iterable) and not isinstance(inputs, (str, sp.Basic)) else [inputs]
    if not inputs:
        raise ProblemError(f"unknown term {name!r} needs at least one input, e.g. Unknown({name!r}, inputs=[u])")
    for s in inputs:
        _check_input(name, s)
    names = [input_name(s) for s in inputs]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise ProblemError(f"unknown term {name!r} lists the input {repeated[0]!r} twice; give each input once")
    term = type(name, (UnknownTerm,), {"__module__": __name__})
    return term(*inputs)


def input_name(s: sp.Expr) -> str:
    """The name of an unknown's input: a field's name or a coordinate's."""
    return field_name(s) if isinstance(s, AppliedUndef) else str(s)


def _check_input(name: str, s) -> None:
    if isinstance(s, AppliedUndef) or (isinstance(s, sp.Symbol) and not isinstance(s, Parameter)):
        return
    what = ("a parameter (a constant: use it in the equation itself)" if isinstance(s, Parameter) else
            "a derivative" if isinstance(s, sp.Derivative) else
            "another unknown term" if isinstance(s, UnknownTerm) else f"{type(s).__name__} {s!r}")
    hint = ""
    if isinstance(s, sp.Derivative) and isinstance(s.expr, AppliedUndef):
        # A law of a derivative (friction F(x'), a flux of u_x) is common: say how to write it.
        f, wrt = field_name(s.expr), "".join(str(v) for v, n in s.variable_count for _ in range(n))
        hint = (f"; to learn a term of {f}_{wrt}, make it a field of its own (g = Field('g', ...)), add the "
                f"equation g - {f}.diff(...) and use Unknown({name!r}, inputs=[g])")
    raise ProblemError(f"unknown term {name!r}: input {s} is {what}; inputs must be fields "
                       f"(Field('u', x, t)) or coordinates (Coordinate('x')), e.g. Unknown({name!r}, inputs=[u])"
                       + hint)


def unknown_terms(expr: sp.Expr) -> list[UnknownTerm]:
    """The unknown terms in an expression, by name."""
    return sorted(sp.sympify(expr).atoms(UnknownTerm), key=lambda u: u.name)


def check_unknowns(residuals: Sequence[sp.Expr], coordinates: Sequence[sp.Symbol], fields: dict,
                   taken: dict[str, str]) -> tuple[UnknownTerm, ...]:
    """The unknown terms of a problem's equations (one per name), checked.

    Args:
        residuals: the equations (expressions equal to zero).
        coordinates: the problem's coordinates.
        fields: ``{name: applied field}`` of the problem.
        taken: names already used, ``{name: what}`` (coordinates, fields, parameters).

    Raises:
        ProblemError: an input that is not a field or coordinate of the problem, two unknown
            terms of one name with different inputs, a name also used by something else, or a
            derivative of an unknown term.
    """
    found: dict[str, UnknownTerm] = {}
    for k, r in enumerate(residuals):
        where = f"equation {k + 1} ({r} = 0)"
        for d in r.atoms(sp.Derivative, sp.Subs):
            inner = d.expr if isinstance(d, sp.Derivative) else d.args[0]
            if inner.atoms(UnknownTerm) or d.atoms(UnknownTerm):
                raise ProblemError(f"{where}: derivative of an unknown term; unknown terms enter equations "
                                   "as values — give the derivative its own Unknown instead")
        for term in unknown_terms(r):
            other = found.setdefault(term.name, term)
            if other.args != term.args:
                raise ProblemError(f"unknown term {term.name!r} appears with inputs {list(other.input_names)} "
                                   f"and {list(term.input_names)}; use one Unknown per name, or give the "
                                   "second another name")
            if term.name in taken:
                raise ProblemError(f"unknown term {term.name!r} has the name of the {taken[term.name]} "
                                   f"{term.name!r}; give it another name")
            for s in term.args:
                if isinstance(s, AppliedUndef):
                    if fields.get(field_name(s)) != s:
                        raise ProblemError(f"{where}: unknown term {term.name!r} takes {s}, which is not a field "
                                           f"of the problem {tuple(fields.values())}")
                elif s not in coordinates:
                    raise ProblemError(f"{where}: unknown term {term.name!r} takes {s}, which is not a "
                                       f"coordinate of the problem {tuple(map(str, coordinates))}")
    return tuple(found[k] for k in sorted(found))
