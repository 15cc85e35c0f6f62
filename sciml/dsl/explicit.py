"""Equations solved for each field's highest derivative in one coordinate: ``u_t = F``,
``u_tt = F``, ``w'''' = F``. The explicit form behind every classical check of a surrogate (an
evolution's initial-value problem, a two-point boundary-value problem)."""

from __future__ import annotations

import dataclasses

import sympy as sp
from sympy.core.function import AppliedUndef

from sciml.dsl.symbols import field_name

__all__ = ["Explicit", "explicit_in", "solved_for"]


@dataclasses.dataclass(frozen=True)
class Explicit:
    """A problem's equations solved for each field's highest derivative in ``coordinate``.

    Attributes:
        coordinate: the coordinate the derivatives are taken in.
        chains: ``{field: (u, u_s, ...)}``, each field and its derivatives below the highest.
        states: a symbol for every member of the chains.
        others: a symbol for every derivative in the other coordinates (``u_x``, ``u_xx``, ...).
        highest: ``{field: F}``, its highest derivative as an expression of the states, the
            other derivatives' symbols and the coordinates (known parameters substituted).
    """

    coordinate: sp.Symbol
    chains: dict[str, tuple[sp.Expr, ...]]
    states: dict[sp.Expr, sp.Dummy]
    others: dict[sp.Derivative, sp.Dummy]
    highest: dict[str, sp.Expr]


def explicit_in(problem, coordinate: sp.Symbol) -> Explicit | None:
    """``problem``'s equations as :class:`Explicit` in ``coordinate``, or ``None`` when they are not:
    every equation must give one field's highest derivative in ``coordinate`` (as one expression,
    each field from one equation), with no derivative mixing ``coordinate`` with another."""
    fields = {field_name(f): f for r in problem.residuals for f in r.atoms(AppliedUndef)}
    along = {d for r in problem.residuals for d in r.atoms(sp.Derivative) if coordinate in d.variables}
    if any(set(d.variables) != {coordinate} for d in along):  # a mixed derivative
        return None
    top = {n: max((d.derivative_count for d in along if field_name(d.expr) == n), default=0) for n in fields}
    chains = {n: (f, *(f.diff(coordinate, k) for k in range(1, top[n]))) for n, f in fields.items() if top[n]}
    states = {s: sp.Dummy(str(s.func) if k == 0 else f"{s.expr.func}_{str(coordinate) * k}")
              for chain in chains.values() for k, s in enumerate(chain)}
    others = {d: sp.Dummy() for r in problem.residuals for d in r.atoms(sp.Derivative) if coordinate not in d.variables}
    known = problem.known_values
    highest: dict[str, sp.Expr] = {}
    for r in problem.residuals:
        names = {field_name(d.expr) for d in r.atoms(sp.Derivative) if d in along}
        if len(names) != 1 or (name := names.pop()) in highest or name not in chains:
            return None
        derivative, value = fields[name].diff(coordinate, top[name]), sp.Dummy()
        solved = solved_for(r.xreplace({derivative: value}), value)
        if solved is None:
            return None
        highest[name] = solved.xreplace(others).xreplace(states).subs(known)
    if set(highest) != set(chains):
        return None
    return Explicit(coordinate, chains, states, others, highest)


def solved_for(expression: sp.Expr, symbol: sp.Symbol) -> sp.Expr | None:
    """The ``symbol`` at which ``expression`` vanishes, when ``expression`` is linear in it (one
    expression, whatever else it holds), else ``None``."""
    slope = sp.diff(expression, symbol)
    if slope == 0 or slope.has(symbol):
        return None
    return -expression.subs(symbol, 0) / slope
