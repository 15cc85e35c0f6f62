"""A problem in the plane read for finite elements: its domain, the principal part of an equation
(``Σ A_ij u_ij``) and each boundary condition as a value or a flux."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np
import sympy as sp

from sciml.functions import lambdify

if TYPE_CHECKING:
    from sciml.dsl.domains import Domain


@dataclasses.dataclass(frozen=True)
class Edge:
    """A condition of one field on part of the boundary: ``distance(x, y)`` to its piece (zero on
    it), and either ``value(x, y, t) -> [g, g_t]`` (a Dirichlet value and its rate) or ``flux(x,
    y, t, u, n_x, n_y) -> [(A ∇u)·n, its derivative in u]`` from the condition solved for the
    normal derivative."""

    distance: Callable
    value: Callable | None = None
    flux: Callable | None = None
    anchors: bool = True
    """Whether the condition ties the field's level: a value, or a flux that changes with it."""
    period: tuple[int, float, float] | None = None
    """``(axis, a, b)`` of a periodic pair of sides: their nodes are one."""


def plane(problem) -> Domain | None:
    """The problem's domain in space when finite elements here can mesh it (a rectangle, a
    polygon, a disk), with its coordinates in the problem's order; else ``None``. So too for a
    problem with a source on a surface or at a point (``DiracDelta``: a line load, a charge),
    which the weak forms here do not hold; a coefficient that jumps they hold as written."""
    from sciml.dsl.domains import Box, Disk, Interval, Polygon, ProductDomain
    from sciml.dsl.interfaces import surface_sources
    from sciml.dsl.point_source import point_terms

    if surface_sources(problem) or point_terms(problem):
        return None

    space = [f for f in problem.space_time.factors if not f.is_time]
    if len(space) == 1 and isinstance(space[0], (Polygon, Disk, Box)) and len(space[0].coordinates) == 2:
        domain = space[0]
    elif len(space) == 2 and all(isinstance(f, Interval) for f in space):
        domain = ProductDomain(tuple(space))  # a rectangle written as a product of two intervals
    else:
        return None  # a hole, a curved piece of another kind: no mesh here
    order = [c for c in problem.coordinates if c in domain.coordinates]
    return domain if tuple(order) == tuple(domain.coordinates) else None


def edges_of(problem, name: str, u: sp.Expr, A, t: sp.Symbol | None) -> list[Edge] | None:
    """The conditions of field ``name`` (applied as ``u``) on the boundary, or ``None`` when one is
    of another kind: a value, or a flux where the principal part ``A`` is ``a I``."""
    from sciml.dsl.conditions import Initial, Periodic, resolve_piece
    from sciml.dsl.explicit import solved_for
    from sciml.dsl.symbols import Normal

    x, y = (c for c in problem.coordinates if c != t)
    time = (t,) if t is not None else ()
    known = problem.known_values
    isotropic = sp.simplify(A[0][1]) == 0 and sp.simplify(A[0][0] - A[1][1]) == 0
    U, Px, Py, nx, ny, s = sp.symbols("U P_x P_y n_x n_y s", real=True)
    symbols = {u.diff(x): Px, u.diff(y): Py}
    edges = []
    for c in problem.conditions:
        if isinstance(c, Initial) or name not in c.fields:
            continue
        if isinstance(c, Periodic):  # both sides, their nodes one (a rectangle's sides)
            axis = (x, y).index(c.coordinate) if c.coordinate in (x, y) else None
            if axis is None or c.derivatives > 1:
                return None
            interval = problem.space_time.interval_along(c.coordinate)
            a, b = float(interval.a), float(interval.b)
            edges.append(Edge(lambdify((x, y), (c.coordinate - a) * (c.coordinate - b), "numpy"), anchors=False,
                               period=(axis, a, b)))
            continue
        relation = c.on_boundary()
        if relation is None or set(c.fields) != {name}:
            return None
        # a piece of space: the normal has no component in time
        relation = relation.subs(known).xreplace({n: 0 for n in relation.atoms(Normal) if n.coordinate not in (x, y)})
        if any(d not in symbols for d in relation.atoms(sp.Derivative)):
            return None  # a derivative in time or of second order: not a value or a flux
        relation = relation.xreplace(symbols).xreplace({u: U}).xreplace({Normal(x): nx, Normal(y): ny})
        distance = resolve_piece(problem, c.on).distance
        if not relation.free_symbols <= {x, y, *time, U, Px, Py, nx, ny} or not distance.free_symbols <= {x, y}:
            return None
        distance = lambdify((x, y), distance, "numpy")
        if not relation.free_symbols & {Px, Py}:  # a value: Dirichlet, or a relation of u alone
            value = solved_for(relation, U)
            if value is None or not value.free_symbols <= {x, y, *time}:
                return None
            rate = sp.diff(value, t) if t is not None else sp.Integer(0)
            edges.append(Edge(distance, value=lambdify((x, y, t or sp.Dummy()), [value, rate], "numpy")))
            continue
        slope = solved_for(relation.xreplace({Px: s * nx, Py: s * ny}), s)
        if not isotropic or slope is None or not _normal_only(relation, slope, (x, y, U, Px, Py, nx, ny, s), time):
            return None  # a tangential derivative, or a flux of an anisotropic A: no natural condition here
        normal_flux = A[0][0] * slope  # (A ∇u)·n with A = a I
        edges.append(Edge(distance, flux=lambdify((x, y, t or sp.Dummy(), U, nx, ny),
                                                   [normal_flux, sp.diff(normal_flux, U)], "numpy"),
                           anchors=sp.diff(normal_flux, U) != 0))
    return edges


def principal_part(rate: sp.Expr, second, first):
    """``(A, b, rest)`` of an expression linear in the second derivatives ``second`` (``u_xx,
    u_xy, u_yy``): ``rate = Σ A_ij u_ij + rest``, ``b`` the coefficients of the first
    derivatives ``first`` in ``rest``."""
    Qxx, Qxy, Qyy = second
    A = [[sp.diff(rate, Qxx), sp.diff(rate, Qxy) / 2], [sp.diff(rate, Qxy) / 2, sp.diff(rate, Qyy)]]
    rest = rate.xreplace(dict.fromkeys(second, 0))
    return A, [sp.diff(rest, p) for p in first], rest


def _normal_only(relation: sp.Expr, slope: sp.Expr, symbols, time: tuple) -> bool:
    """Whether ``relation`` of the gradient holds exactly where the normal derivative is ``slope``,
    whatever the tangential derivative (checked at random values)."""
    x, y, U, Px, Py, nx, ny, s = symbols
    rng = np.random.default_rng(1)
    for _ in range(3):
        angle, tangential = rng.uniform(0, 2 * np.pi), rng.normal()
        at = {x: rng.normal(), y: rng.normal(), U: rng.uniform(0.5, 1.5), nx: np.cos(angle), ny: np.sin(angle),
              **{t: rng.uniform() for t in time}}
        normal = complex(slope.xreplace({k: sp.Float(v) for k, v in at.items()}).evalf())
        if not np.isfinite(normal) or abs(normal.imag) > 1e-12:
            return False
        gradient = {Px: normal.real * at[nx] - tangential * at[ny], Py: normal.real * at[ny] + tangential * at[nx]}
        miss = complex(relation.xreplace({k: sp.Float(v) for k, v in {**at, **gradient}.items()}).evalf())
        if not abs(miss) <= 1e-9 * (1 + abs(normal)):
            return False
    return True
