"""The :class:`Problem`: a frozen, validated description of a physics problem.

A problem is pure description — sympy expressions, a domain, conditions, symmetries and data —
and knows nothing about JAX. :func:`sciml.dsl.compile.compile_problem` turns it into JAX term
functions. Validation runs at construction so a mistake surfaces where it was written, as a
:class:`ProblemError` that names the culprit and the fix.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import jax.numpy as jnp
import numpy as np
import sympy as sp
import xarray as xr
from sympy.core.function import AppliedUndef

from sciml.dsl.conditions import (
    GAUGE_CONDITIONS,
    BoundaryEquation,
    Condition,
    Dirichlet,
    Initial,
    Periodic,
    resolve_piece,
)
from sciml.dsl.domains import BoundaryPiece, Difference, Domain, ProductDomain, as_product
from sciml.dsl.errors import ProblemError
from sciml.dsl.interfaces import surface_sources
from sciml.dsl.point_source import point_sources, point_terms
from sciml.dsl.symbols import Parameter, check_expression, field_name
from sciml.dsl.symmetries import Symmetry
from sciml.dsl.unknowns import UnknownTerm, check_unknowns
from sciml.functions import jump_across, jump_surfaces, lambdify, onto_zero_set, values_at


@dataclass(frozen=True, eq=False)
class Problem:
    """A physics problem: find fields on a domain that satisfy equations and conditions.

    Args:
        name: short identifier (used for output folders and reports).
        domain: where the problem lives, e.g. ``Interval(x, -1, 1) * TimeInterval(t, 0, 1)``.
        equations: sympy expressions equal to zero, or ``sympy.Eq(lhs, rhs)``.
        conditions: initial and boundary conditions.
        symmetries: symmetries the solution must respect.
        fields: the unknown fields; inferred from the equations when omitted.
        data: observations, an ``xarray.Dataset`` whose coordinates are named after the
            problem's coordinates and whose variables are named after fields.
        reference: a reference solution on a grid (``xarray.Dataset``), for error reporting.
        exact: closed-form solutions ``{field: expression}``, used as reference when given.
        description: one line for the catalogue.
        defaults: defaults for :func:`sciml.solve` (``model``, ``steps``, ``model_options``, ...).
        enrichments: known singular parts added to the surrogate's output, e.g.
            :class:`~sciml.dsl.corner_flow.StokesCorner` (the recipe finds them itself).
    """

    name: str
    domain: Domain
    equations: Sequence[Any]
    conditions: Sequence[Condition] = ()
    symmetries: Sequence[Symmetry] = ()
    fields: Sequence[Any] | None = None
    data: xr.Dataset | None = None
    reference: xr.Dataset | None = None
    exact: Mapping[Any, Any] | None = None
    description: str = ""
    defaults: Mapping[str, Any] = field(default_factory=dict)
    enrichments: Sequence[Any] = ()

    def __post_init__(self):
        # A piece of a hole (or of the domain it was cut from) is written as that domain's own
        # piece, so that two circles both called "boundary" stay apart in every description.
        if isinstance(self.conditions, (list, tuple)):  # anything else: validate names the mistake
            object.__setattr__(self, "conditions", type(self.conditions)(_own_pieces(self.domain, self.conditions)))
        validate(self)

    # Derived views (cheap, recomputed on demand so the dataclass stays a plain description).
    @property
    def space_time(self) -> ProductDomain:
        return as_product(self.domain)

    @property
    def coordinates(self) -> tuple[sp.Symbol, ...]:
        return self.space_time.coordinates

    @property
    def coordinate_names(self) -> tuple[str, ...]:
        return tuple(str(c) for c in self.coordinates)

    @property
    def field_names(self) -> tuple[str, ...]:
        return tuple(field_name(f) for f in _fields(self))

    @property
    def residuals(self) -> tuple[sp.Expr, ...]:
        """The equations as expressions equal to zero, without the ``DiracDelta`` of a surface
        (a point load, a line source, a layer's step differentiated): those hold on the surface
        alone, where its interface condition carries them (:mod:`sciml.dsl.interfaces`)."""
        return tuple(_without_surface_deltas(_as_residual(e)) for e in self.equations)

    @property
    def written_residuals(self) -> tuple[sp.Expr, ...]:
        """The equations as expressions equal to zero, as written (``DiracDelta`` included)."""
        return tuple(_as_residual(e) for e in self.equations)

    @property
    def positive_fields(self) -> frozenset[str]:
        """The fields represented as ``u0 exp(tau N)`` (``Initial(u, u0, positive=True)``)."""
        return frozenset(c.field_name for c in self.conditions if isinstance(c, Initial) and c.positive)

    @property
    def nonnegative_fields(self) -> frozenset[str]:
        """The fields represented as ``tau softplus(N)`` (``Initial(u, 0, nonnegative=True)``)."""
        return frozenset(c.field_name for c in self.conditions if isinstance(c, Initial) and c.nonnegative)

    @property
    def balanced_residuals(self) -> tuple[sp.Expr, ...]:
        """The residuals training balances and the verdict judges: :attr:`residuals`, with the
        equation of each positive state (``Initial(u, u0, positive=True)``, the only field
        differentiated in it) divided by that state.

        For ``u' = u g`` that is ``w' - g`` with ``w = log u``: the network learns ``w``, and an
        imbalance in a trough (a population 500 times below its peak) counts as much as one at
        the peak, where the plain residual weighs it by ``u``; and a state thrown far off (a
        logistic curve overshooting its capacity) still feels the full pull of its rate, where
        a residual judged relative to its terms' size would saturate and lose its gradient.
        """
        positive = self.positive_fields
        if not positive:
            return self.residuals
        fields = {field_name(f): f for f in _fields(self)}
        out = []
        for r in self.residuals:
            differentiated = {field_name(d.expr) for d in r.atoms(sp.Derivative) if isinstance(d.expr, AppliedUndef)}
            (name,) = differentiated if len(differentiated) == 1 else (None,)
            out.append(sp.expand(r / fields[name]) if name in positive else r)
        return tuple(out)

    @property
    def parameters(self) -> tuple[Parameter, ...]:
        found: dict[str, Parameter] = {}
        for expr in self._all_expressions():
            for s in expr.free_symbols:
                if isinstance(s, Parameter):
                    found.setdefault(s.name, s)
        return tuple(found[k] for k in sorted(found))

    @property
    def gauge_fixed_fields(self) -> tuple[str, ...]:
        """Fields pinned by a :class:`Pin` or :class:`MeanValue` condition: the equations
        define them only up to a constant, so compare them up to one
        (:func:`sciml.dsl.metrics.relative_l2_up_to_constant`)."""
        pinned = {c.field_name for c in self.conditions if isinstance(c, GAUGE_CONDITIONS)}
        return tuple(f for f in self.field_names if f in pinned)

    @property
    def periodic_coordinates(self) -> tuple[str, ...]:
        """Coordinates in which some field is declared periodic (soft or hard)."""
        found = {str(c.coordinate) for c in self.conditions if isinstance(c, Periodic)}
        return tuple(c for c in self.coordinate_names if c in found)

    def with_exact_periodicity(self, modes: int = 1) -> Problem:
        """The same problem with every :class:`Periodic` condition imposed exactly (``hard``)
        by a Fourier embedding of ``modes`` modes; the surrogate then needs
        ``compile_problem(...).input_dimension`` inputs."""
        conditions = [replace(c, hard=True, modes=modes) if isinstance(c, Periodic) else c for c in self.conditions]
        return replace(self, conditions=tuple(conditions))

    @property
    def unknown_parameters(self) -> tuple[Parameter, ...]:
        return tuple(p for p in self.parameters if p.learn)

    @property
    def known_values(self) -> dict[Parameter, float]:
        """``{parameter: value}`` of the parameters not learned: what a classical solution substitutes."""
        return {p: p.value for p in self.parameters if not p.learn}

    @property
    def unknowns(self) -> tuple[UnknownTerm, ...]:
        """The unknown terms (:func:`sciml.dsl.Unknown`) of the equations, one per name, by name."""
        return check_unknowns(self.residuals, self.coordinates, {field_name(f): f for f in _fields(self)}, {})

    def _all_expressions(self):
        yield from self.written_residuals  # a source on a surface holds parameters too
        for c in self.conditions:
            yield from c.expressions()
        for s in self.symmetries:
            yield from s.quantities()
        for e in (self.exact or {}).values():
            yield sp.sympify(e)

    def __repr__(self):
        return f"Problem({self.name!r}, fields={self.field_names}, domain={self.domain!r})"


# --------------------------------------------------------------------------------------------
# Validation
# --------------------------------------------------------------------------------------------


def _as_residual(eq: Any) -> sp.Expr:
    if isinstance(eq, sp.Equality):
        return eq.lhs - eq.rhs
    try:
        return sp.sympify(eq)
    except (sp.SympifyError, TypeError) as err:
        raise ProblemError(f"equation {eq!r} is not a sympy expression: {err}") from None


def _without_surface_deltas(expr: sp.Expr) -> sp.Expr:
    """``expr`` without its ``DiracDelta(φ)`` terms, ``φ`` free of fields: a surface's (see
    :attr:`Problem.residuals`). Whether the problem can hold them as interface conditions is
    checked by :func:`sciml.dsl.interfaces.surface_sources` when the problem is validated."""
    if not isinstance(expr, sp.Basic):
        return expr
    deltas = {d: sp.Integer(0) for d in expr.atoms(sp.DiracDelta) if not d.args[0].atoms(AppliedUndef)}
    return expr.xreplace(deltas) if deltas else expr


def _fields(problem: Problem) -> tuple[sp.Expr, ...]:
    if problem.fields is not None:
        return tuple(problem.fields)
    found: dict[str, sp.Expr] = {}
    for r in problem.residuals:
        for f in sorted(r.atoms(AppliedUndef), key=str):
            found.setdefault(field_name(f), f)
    return tuple(found.values())


def validate(problem: Problem) -> None:
    """Check a problem and raise :class:`ProblemError` naming the first mistake found."""
    if not isinstance(problem.name, str) or not problem.name:
        raise ProblemError("a problem needs a non-empty name")
    if not isinstance(problem.domain, Domain):
        raise ProblemError(
            f"problem {problem.name!r}: domain must be a sciml Domain such as "
            f"Interval(x, 0, 1) * TimeInterval(t, 0, 1), got {type(problem.domain).__name__}"
        )
    for what, value, item in (("equations", problem.equations, "u.diff(t) - u.diff(x, 2)"),
                              ("conditions", problem.conditions, "Initial(u, u0)"),
                              ("symmetries", problem.symmetries, "Reflection(...)"),
                              ("enrichments", problem.enrichments, "StokesCorner(...)")):
        # A lone expression or condition would be iterated into its pieces (or fail deep inside).
        if not isinstance(value, (list, tuple)):
            raise ProblemError(f"problem {problem.name!r}: {what} must be a list, got a single "
                               f"{type(value).__name__}; write {what}=[{item}, ...]")
    if not problem.equations:
        raise ProblemError(
            f"problem {problem.name!r} has no equations; pass equations=[...] with at least one "
            "expression equal to zero"
        )
    coords = set(problem.coordinates)
    fields = _fields(problem)
    if not fields:
        raise ProblemError(
            f"problem {problem.name!r}: the equations contain no field; declare unknowns with "
            "Field('u', x, t) and use them in the equations"
        )
    names = {}
    for f in fields:
        if not isinstance(f, AppliedUndef):
            raise ProblemError(f"{f!r} is not a field; declare fields with Field('u', x, t)")
        names[field_name(f)] = f
        if set(f.args) != coords or len(f.args) != len(coords):
            raise ProblemError(
                f"field {f} must depend on exactly the problem's coordinates "
                f"{tuple(map(str, problem.coordinates))}; declare it as "
                f"Field({field_name(f)!r}, {', '.join(map(str, problem.coordinates))})"
            )

    # Unknown terms first: their own messages say more than the generic ones would.
    taken = {**{str(c): "coordinate" for c in coords}, **{n: "field" for n in names},
             **{p.name: "parameter" for p in problem.parameters}}
    check_unknowns(problem.residuals, problem.coordinates, names, taken)
    surface_sources(problem)  # the DiracDelta an equation holds: each a source on a fixed surface
    point_sources(problem)  # or, one along each coordinate of space, at a point
    for i, r in enumerate(problem.residuals):
        where = f"equation {i + 1} ({r} = 0)"
        check_expression(r, where, coords, names)
    for expr, where in _expressions_outside_equations(problem):
        if expr.atoms(UnknownTerm):
            raise ProblemError(f"{where}: unknown terms (Unknown) belong in equations only; "
                               "prescribe known values here")

    for c in problem.conditions:
        if not isinstance(c, Condition):
            raise ProblemError(
                f"{c!r} is not a condition; use Dirichlet, Neumann, Robin, Initial, Periodic, Pin, MeanValue "
                "or BoundaryEquation"
            )
        where = c.describe()
        for name in c.fields:
            if name not in names:
                raise ProblemError(f"{where}: {name!r} is not a field of the problem {tuple(names)}")
        check_expression(sp.sympify(c.value), where, coords, {}, allow_fields=False,
                         allow_normals=isinstance(c, BoundaryEquation))
        c.check(problem)
        if c.hard and not c.may_be_hard:
            raise ProblemError(
                f"{where}: only Dirichlet and initial conditions (and Periodic, by an exact "
                "embedding) can be imposed exactly (hard=True); drop hard=True"
            )
    _check_hard_conditions(problem, names)

    for s in problem.symmetries:
        if not isinstance(s, Symmetry):
            raise ProblemError(f"{s!r} is not a symmetry; use Reflection, Translation, Conserved or DivergenceFree")
        s.check(problem)
        for q in s.quantities():
            check_expression(q, s.describe(), coords, names)
    for e in problem.enrichments:
        if not callable(getattr(e, "check", None)) or not hasattr(e, "field_names"):
            raise ProblemError(f"{e!r} is not an enrichment; use sciml.dsl.StokesCorner, DiffusionFront or PointSource")
        e.check(problem)

    if problem.data is not None:
        observation_points(problem, problem.data, role="observations")
    if problem.reference is not None:
        observation_points(problem, problem.reference, role="reference")
    for f, e in (problem.exact or {}).items():
        if field_name(f) not in names:
            raise ProblemError(f"exact solution given for {field_name(f)!r}, which is not a field {tuple(names)}")
        check_expression(sp.sympify(e), f"exact solution of {field_name(f)}", coords, {}, allow_fields=False)


def _own_pieces(domain, conditions):
    space_time = as_product(domain)
    if not any(isinstance(f, Difference) for f in space_time.factors):
        yield from conditions
        return
    for c in conditions:
        on = getattr(c, "on", None)
        owned = space_time.own_piece(on) if isinstance(on, BoundaryPiece) else None
        yield c if owned is None or owned is on else replace(c, on=owned)


def _highest_orders(problem: Problem) -> dict[str, dict[sp.Symbol, int]]:
    """Per field, the highest order of each coordinate's derivative in the equations."""
    orders: dict[str, dict[sp.Symbol, int]] = {n: {} for n in problem.field_names}
    for r in problem.residuals:
        for d in r.atoms(sp.Derivative):
            if isinstance(d.expr, AppliedUndef) and field_name(d.expr) in orders:
                seen = orders[field_name(d.expr)]
                for var, count in d.variable_count:
                    seen[var] = max(seen.get(var, 0), int(count))
    return orders


def check_determined(problem: Problem) -> None:
    """Refuse to solve a problem that leaves a field undetermined for lack of conditions (and of
    data, which may pin a field down instead): a field advanced in time needs its value at the
    start, and its rate too when the equation is second order in time; a field with second
    derivatives in space needs some boundary condition. Otherwise a network finds one of
    infinitely many solutions (a heat equation without an initial state is solved by zero) and
    its small residuals would read as a success. Called by :func:`sciml.solve`, not on
    construction: a partial problem is still a valid object to compile and inspect.

    Raises:
        ProblemError: naming the field and the condition to add.
    """
    if problem.data is not None:
        return
    time = problem.space_time.time
    t = time.coordinates[0] if time is not None else None
    for name, orders in _highest_orders(problem).items():
        own = [c for c in problem.conditions if name in c.fields]
        if t is not None and orders.get(t, 0) >= 1:
            given = {c.order for c in own if isinstance(c, Initial)}
            needed = set(range(orders[t]))
            if not needed <= given:
                if orders[t] > 2:
                    fix = ("initial conditions prescribe the value and the rate only; give observations "
                           "(data=...) or write the equation as a first-order system")
                else:
                    fix = " and ".join(f"Initial({name}, ..." + (", order=1)" if k else ")")
                                       for k in sorted(needed - given))
                    fix = f"add {fix}"
                missing = " and ".join(("initial value", "initial rate")[k] for k in sorted(needed - given)
                                       if k < 2) or "initial conditions of its higher rates"
                raise ProblemError(
                    f"problem {problem.name!r}: field {name!r} is {_ordinal(orders[t])} order in {t} but has no "
                    f"{missing}, so the equations do not determine it; {fix}")
        spatial = [c for c, k in orders.items() if c != t and k >= 2]
        if spatial and not [c for c in own if not isinstance(c, Initial)]:
            raise ProblemError(
                f"problem {problem.name!r}: field {name!r} has second derivatives in {spatial[0]} but no "
                "boundary condition, so the equations do not determine it; add Dirichlet, Neumann or "
                f"Robin on the boundary (e.g. on=space.boundary), or Periodic({name}, coordinate={spatial[0]})")


def underdetermined_boundary(problem: Problem, samples: int = 64) -> list[str]:
    """Where the boundary conditions are too few for the equations' order, one sentence each.

    An equation of order ``m`` in space needs ``m // 2`` conditions at every boundary point (one
    for the heat and Poisson equations, two for a beam's ``u_xxxx``: value and slope of a clamped
    end); with fewer, the equations and conditions admit a family of solutions and the network
    returns one of them, residuals small. Points of each spatial factor's boundary are sampled
    and the conditions whose piece holds them counted; a point where the highest derivative's
    coefficient vanishes or another term is singular (``r = 0`` of a radial Laplacian, ``S = 0``
    of Black-Scholes) needs no condition and is not counted. A field carried by a first-order
    equation needs one where it flows in (:func:`_uncovered_inflow`). Empty with data, which may
    pin the solution down instead.
    """
    if problem.data is not None:
        return []
    rng = np.random.default_rng(0)
    values = {p: p.value for p in problem.parameters}
    out = []
    for name, orders in _highest_orders(problem).items():
        own = [c for c in problem.conditions if name in c.fields and not isinstance(c, (Initial, *GAUGE_CONDITIONS))]
        for factor in problem.space_time.factors:
            order = max((orders.get(c, 0) for c in factor.coordinates), default=0)
            piece = factor.pieces().get("boundary") if not factor.is_time else None
            if order < 1 or piece is None:
                continue
            points = piece.sample(samples, rng)
            counts = np.zeros(len(points), dtype=int)
            lower, upper = factor.bounds()
            scale = 1e-6 * float(np.max(np.asarray(upper, float) - np.asarray(lower, float)))
            for condition in own:
                if isinstance(condition, Periodic):
                    if condition.coordinate in factor.coordinates:
                        axis = factor.coordinates.index(condition.coordinate)
                        ends = (np.abs(points[:, axis] - lower[axis]) <= scale) | (np.abs(points[:, axis] - upper[axis]) <= scale)
                        counts[ends] += order  # values and derivatives matched: every condition
                    continue
                distance = resolve_piece(problem, condition.on).distance
                if not sp.sympify(distance).free_symbols <= set(factor.coordinates):
                    continue
                with np.errstate(all="ignore"):  # distance functions divide by zero on their piece
                    d = lambdify(factor.coordinates, distance, "numpy")(*points.T)
                counts[np.abs(np.broadcast_to(d, counts.shape)) <= scale] += 1
            if order == 1:
                out += _uncovered_inflow(problem, name, factor, points, piece.normal(points), counts, values)
                continue
            below = np.flatnonzero(counts < order // 2)
            short = below[~_degenerate_at(problem, name, factor, order, points[below], values)] if len(below) else below
            if len(short):
                k = short[0]
                where = ", ".join(f"{c} = {v:.4g}" for c, v in zip(factor.coordinates, points[k]))
                out.append(f"field {name!r} is {_ordinal(order)} order in {', '.join(map(str, factor.coordinates))} and "
                           f"needs {order // 2} boundary condition{'s' * (order // 2 > 1)} at every boundary point, but "
                           f"has {counts[k]} at ({where}) ({len(short)} of {len(points)} sampled boundary points are short); "
                           "the equations then admit many solutions" + (
                               " (add Neumann beside Dirichlet there: a clamped end)" if order >= 4 else
                               " (add Dirichlet, Neumann or Robin there)"))
    return out


def _uncovered_inflow(problem: Problem, name: str, factor: Domain, points, normals, counts, values) -> list[str]:
    """For a field transported by a first-order equation, a sentence when some boundary point
    where its characteristics enter carries no condition (none when the equation decides nothing).

    ``a_t u_t + a . grad u + ... = 0`` with coefficients of the coordinates alone carries ``u``
    along ``v = a / a_t``: the boundary data are needed where ``v . n < 0`` (``n`` the outward
    normal), and nowhere else. Without a time derivative (steady transport ``a . grad u = f``)
    a characteristic may be started at either end, so some point where ``a . n != 0`` must carry
    a condition. Systems (another field's derivative in the same equation), coefficients that
    depend on the solution (inviscid Burgers) or on time, and a field in several first-order
    equations are left alone: the sign of the speed is not known from the problem.
    """
    mine = [r for r in problem.residuals if any(isinstance(d.expr, AppliedUndef) and field_name(d.expr) == name
                                                 for d in r.atoms(sp.Derivative))]
    if len(mine) != 1:
        return []
    (residual,) = mine
    derivatives = sorted(residual.atoms(sp.Derivative), key=str)
    if any(not isinstance(d.expr, AppliedUndef) or field_name(d.expr) != name for d in derivatives):
        return []
    first = {d.variable_count[0][0]: d for d in derivatives if len(d.variable_count) == 1 and d.variable_count[0][1] == 1}
    time = problem.space_time.time
    coordinates = set(factor.coordinates)
    stand_ins = {atom: sp.Dummy(f"s{k}") for k, atom in enumerate(derivatives + sorted(residual.atoms(AppliedUndef), key=str))}
    plain = residual.xreplace(stand_ins).subs(values)

    def coefficient(atom) -> np.ndarray | None:
        expr = sp.diff(plain, stand_ins[atom])
        if not expr.free_symbols <= coordinates:
            return None  # depends on the solution, time, an unknown term or a learned parameter
        with np.errstate(all="ignore"):
            return np.broadcast_to(np.asarray(lambdify(factor.coordinates, expr, "numpy")(*points.T), float),
                                   (len(points),))

    speed = []
    for c in factor.coordinates:
        a = coefficient(first[c]) if c in first else np.zeros(len(points))
        if a is None:
            return []
        speed.append(a)
    speed = np.stack(speed, axis=-1)
    t = time.coordinates[0] if time is not None else None
    if t is not None and any(t in d.variables for d in derivatives) and t not in first:
        return []  # second order in time (or mixed): not a transport equation
    steady = t not in first
    if not steady:
        rate = coefficient(first[t])
        if rate is None:
            return []
        with np.errstate(all="ignore"):
            speed = speed / rate[:, None]
    flux = np.sum(speed * normals, axis=-1)
    if not np.all(np.isfinite(flux)):
        return []
    field = f"field {name!r} is carried by a first-order equation in {', '.join(map(str, factor.coordinates))}"
    if steady:
        crossing = np.abs(flux) > 1e-12
        if crossing.any() and not np.any(counts[crossing] > 0):
            return [f"{field} and needs a condition where its characteristics cross the boundary, but has none; "
                    "the equations then admit many solutions (add Dirichlet at an end of each characteristic)"]
        return []
    short = np.flatnonzero((flux < -1e-12) & (counts < 1))
    if not len(short):
        return []
    k = short[0]
    where = ", ".join(f"{c} = {v:.4g}" for c, v in zip(factor.coordinates, points[k]))
    inflow = int(np.sum(flux < -1e-12))
    return [f"{field} and needs a boundary condition where it flows in (the speed {_number(speed[k])} points "
            f"inward), but has none at ({where}) ({len(short)} of {inflow} sampled inflow points are short); the "
            "equations then admit many solutions (add Dirichlet there; the outflow side needs none)"]


def _number(vector) -> str:
    vector = np.atleast_1d(vector)
    return f"{vector[0]:.4g}" if vector.size == 1 else "(" + ", ".join(f"{v:.4g}" for v in vector) + ")"


def _degenerate_at(problem: Problem, name: str, factor: Domain, order: int, points, values) -> np.ndarray:
    """For each of ``points``, whether the equations need no condition there: every highest
    derivative of the field has a vanishing coefficient, or some term is singular (regularity,
    not a condition, then selects the solution). An equation left with other coordinates
    (time) or unknown terms decides nothing."""
    stand_ins = {}
    for r in problem.residuals:
        for atom in sorted(r.atoms(sp.Derivative), key=str) + sorted(r.atoms(AppliedUndef), key=str):
            stand_ins.setdefault(atom, sp.Dummy(f"s{len(stand_ins)}"))
    highest = [a for a in stand_ins if isinstance(a, sp.Derivative) and isinstance(a.expr, AppliedUndef)
               and field_name(a.expr) == name and sum(int(n) for v, n in a.variable_count if v in factor.coordinates) == order]
    halves = dict.fromkeys(stand_ins.values(), 0.5)
    coordinates = set(factor.coordinates)
    # complex arithmetic: sqrt of a negative value is not a singularity, a division by zero is
    z = np.asarray(points, dtype=complex).T

    def at_points(expr: sp.Expr) -> np.ndarray:
        with np.errstate(all="ignore"):
            return np.broadcast_to(lambdify(factor.coordinates, expr, "numpy")(*z), (len(points),))

    decided = np.zeros(len(points), dtype=bool)
    degenerate = np.zeros(len(points), dtype=bool)
    seen = False
    for r in problem.residuals:
        plain = r.xreplace(stand_ins).subs(values)
        if not plain.subs(halves).free_symbols <= coordinates:
            continue
        singular = ~np.isfinite(at_points(plain.subs(halves))) & ~decided
        degenerate |= singular
        decided |= singular
        for atom in (a for a in highest if a in r.atoms(sp.Derivative)):
            seen = True
            decided |= np.abs(at_points(sp.diff(plain, stand_ins[atom]).subs(halves))) > 1e-12
    return np.where(decided, degenerate, seen)


def _ordinal(k: int) -> str:
    return {1: "first", 2: "second", 3: "third", 4: "fourth"}.get(k, f"{k}th")


def _expressions_outside_equations(problem: Problem):
    """``(expression, where)`` of the conditions, symmetries and exact solutions."""
    for c in problem.conditions:
        if isinstance(c, Condition):
            yield from ((e, c.describe()) for e in c.expressions())
    for s in problem.symmetries:
        yield from ((q, s.describe()) for q in s.quantities())
    for f, e in (problem.exact or {}).items():
        yield sp.sympify(e), f"exact solution of {field_name(f)}"


def _check_hard_conditions(problem: Problem, names: dict) -> None:
    """Exact conditions must be realisable by one output transform and one input map."""
    hard = [c for c in problem.conditions if c.hard]
    for f in names:
        orders = {c.order for c in hard if isinstance(c, Initial) and c.field_name == f}
        if 1 in orders and 0 not in orders:
            raise ProblemError(
                f"Initial({f}, order=1) is hard but the value Initial({f}, order=0) is not; make "
                "both hard or neither"
            )
    for coord in {c.coordinate for c in hard if isinstance(c, Periodic)}:
        declared = {c.field_name for c in problem.conditions if isinstance(c, Periodic) and c.coordinate == coord}
        missing = [f for f in names if f not in declared]
        if missing:
            raise ProblemError(
                f"hard Periodic in {coord} makes every field periodic in {coord} (the network "
                f"sees {coord} through a periodic embedding), but {missing[0]} has no Periodic "
                f"condition in {coord}; add Periodic({missing[0]}, coordinate={coord}, hard=True) "
                "or use hard=False"
            )
        soft = [c for c in problem.conditions if isinstance(c, Periodic) and c.coordinate == coord and not c.hard]
        if soft:
            raise ProblemError(
                f"{soft[0].describe()} is soft but another field is exactly periodic in {coord}; "
                "make every Periodic condition in that coordinate hard=True (or none)"
            )


CORNER_RADIUS = 0.05  # the neighbourhood of a singular point, as a fraction of its domain's extent
JUMP = 0.05  # boundary data that differ by more than this fraction of their size where pieces meet jump


def domain_extent(problem: Problem) -> float:
    """The largest side of the problem's bounding box (space and time)."""
    lower, upper = problem.space_time.bounds()
    return float(np.max(np.asarray(upper, float) - np.asarray(lower, float)))


def condition_piece(problem: Problem, condition: Condition) -> BoundaryPiece:
    """The piece a Dirichlet-like condition holds on, lifted to the whole domain (the start of
    time for an initial condition)."""
    if isinstance(condition, Initial):
        return problem.space_time.lift(problem.space_time.time.start)
    return resolve_piece(problem, condition.on)


def data_jumps(problem: Problem, a: Condition, b: Condition, rng: np.random.Generator) -> list[np.ndarray]:
    """The points where the data of conditions ``a`` and ``b`` (Dirichlet or initial values)
    jump from one's piece to the other's (a driven lid meeting still walls, a hot start meeting
    cold walls): one point per place where the pieces meet, the sample of ``a``'s piece nearest
    ``b``'s. Empty when the pieces do not meet or the data agree there. Known parameters take
    their values; data holding a learned parameter are not judged (empty)."""
    coords = problem.coordinates
    size = domain_extent(problem)
    radius = CORNER_RADIUS * size
    known = {q: q.value for q in problem.parameters if not q.learn}
    data_a, data_b = (sp.sympify(sp.sympify(c.value).xreplace(known)) for c in (a, b))  # a parameter alone: a float
    if (data_a.free_symbols | data_b.free_symbols) - set(coords):
        return []

    z = condition_piece(problem, a).sample(2000, rng, "uniform")
    distance_b = sp.sympify(condition_piece(problem, b).distance)
    scale = max(1e-12, float(np.max(np.abs(values_at(data_a, coords, z)))),
                float(np.max(np.abs(values_at(data_b, coords, z)))))
    # Judged where the pieces meet: each sample is moved onto b's piece (Newton steps on b's
    # distance function), and those it moves less than 1e-2 of the domain are near it. There
    # continuous data agree and jumping data differ by the jump. At the sample itself continuous
    # data would differ by their slope times its gap, which on a 2-D face (samples ~ size / 45
    # apart) can pass for a jump. The distance function's value is no gap: a box's is a product
    # over its faces, below 1e-2 through most of a cube.
    onto_b = onto_zero_set(distance_b, coords, z, size)
    gap_to_b = np.linalg.norm(onto_b - z, axis=1)
    near = (np.abs(values_at(distance_b, coords, onto_b)) <= 1e-9 * size) & (gap_to_b < 1e-2 * size)
    if not near.any():
        return []
    onto_b, gap_to_b = onto_b[near], gap_to_b[near]
    jump = np.abs(values_at(data_a - data_b, coords, onto_b))
    seen: list[np.ndarray] = []
    found: list[np.ndarray] = []
    for k in np.argsort(gap_to_b):
        if any(np.linalg.norm(onto_b[k] - q) <= radius for q in seen):
            continue
        seen.append(onto_b[k])
        if jump[k] > JUMP * scale:
            found.append(onto_b[k])
    return found


def datum_jumps(problem: Problem, condition: Condition, rng: np.random.Generator) -> list[np.ndarray]:
    """The points of a condition's piece where its own datum jumps: a step written with
    ``Piecewise``, ``Heaviside`` or ``sign`` (a Riemann problem's start, a heater switched on),
    one per neighbourhood. The datum is compared on the two sides of each surface where it may
    jump (:func:`sciml.functions.jump_surfaces`), at points of the piece on that surface, as the
    two sides close in (a jump stays; a continuous datum's difference shrinks with them)."""
    coords = problem.coordinates
    size = domain_extent(problem)
    value = sp.sympify(sp.sympify(condition.value).xreplace(problem.known_values))  # a parameter alone: a float
    if value.free_symbols - set(coords):
        return []
    surfaces = jump_surfaces(value, coords)
    if not surfaces:
        return []
    piece = condition_piece(problem, condition)
    z = piece.sample(2000, rng, "uniform")
    scale = max(1e-12, float(np.max(np.abs(values_at(value, coords, z)))))
    found: list[np.ndarray] = []
    for phi in surfaces:
        onto = onto_zero_set(phi, coords, z, size)
        on = (np.abs(values_at(phi, coords, onto)) <= 1e-9 * size) \
            & (np.abs(values_at(sp.sympify(piece.distance), coords, onto)) <= 1e-9 * size) \
            & problem.space_time.contains(onto)
        onto = onto[on]
        if not len(onto):
            continue
        gradient = np.stack([values_at(sp.diff(phi, c), coords, onto) for c in coords], axis=1)
        normal = gradient / np.maximum(np.linalg.norm(gradient, axis=1, keepdims=True), 1e-300)
        jump, _ = jump_across(lambda points: values_at(value, coords, points), onto, normal, size)
        jumps = jump > JUMP * scale
        for q in onto[jumps]:
            if all(np.linalg.norm(q - f) > CORNER_RADIUS * size for f in found):
                found.append(q)
    return found


def jump_points(problem: Problem, rng: np.random.Generator | None = None) -> list[np.ndarray]:
    """Every point where the Dirichlet or initial data of one field jump, from one condition's
    piece to another's (:func:`data_jumps`) or within one datum (:func:`datum_jumps`), one per
    neighbourhood."""
    rng = rng if rng is not None else np.random.default_rng(0)
    data = [c for c in problem.conditions if isinstance(c, Dirichlet) or (isinstance(c, Initial) and c.order == 0)]
    radius = CORNER_RADIUS * domain_extent(problem)
    found: list[np.ndarray] = []
    for i, a in enumerate(data):
        for q in datum_jumps(problem, a, rng):
            if all(np.linalg.norm(q - f) > radius for f in found):
                found.append(q)
        for b in data[i + 1:]:
            if a.field_name == b.field_name:
                found += [q for q in data_jumps(problem, a, b, rng)
                          if all(np.linalg.norm(q - f) > radius for f in found)]
    return found


def singular_points(problem: Problem) -> list[tuple[list[int], np.ndarray]]:
    """The points near which the exact solution is singular, each as ``(columns, position)``: its
    position along those coordinates, the only ones the distance to it counts. They are the
    re-entrant corners of the spatial domains (:meth:`~sciml.dsl.domains.Domain.reentrant_corners`;
    ``u ~ r^(2/3)`` in an L-shape), in their domain's coordinates (at every time), and the points
    where boundary (or initial) data jump (derivatives ``~ 1/r``) and sources at a point (``log r``)
    lie, in all coordinates."""
    points = []
    for domain in problem.space_time.factors:
        columns = [problem.coordinates.index(c) for c in domain.coordinates]
        points += [(columns, corner) for corner in np.asarray(domain.reentrant_corners(), dtype=np.float64)]
    every = list(range(len(problem.coordinates)))
    sources = [(every, np.asarray(at, np.float64)) for _, at, _ in point_terms(problem)]
    return points + sources + [(every, q) for q in jump_points(problem)]


def singular_point_proximity(problem: Problem):
    """``points (n, d) -> (n,)``: the distance of each point to the nearest singular point of the
    problem (:func:`singular_points`; a re-entrant corner counts in its domain's coordinates
    only), in units of :data:`CORNER_RADIUS` times the domain's extent (below 1: inside its
    neighbourhood); None for a problem without one. Works on numpy and JAX arrays.

    Near such a point the exact solution's derivatives are unbounded, and so is the pointwise
    residual of any smooth surrogate, while its field error stays small: the residual there says
    nothing about the error and, left alone, a few points there dominate the loss and the
    verdict."""
    points = singular_points(problem)
    if not points:
        return None
    lower, upper = problem.space_time.bounds()
    extents = np.asarray(upper, float) - np.asarray(lower, float)
    groups: dict[tuple[int, ...], list[np.ndarray]] = {}
    for columns, position in points:
        groups.setdefault(tuple(columns), []).append(position)
    factors = [(list(columns), np.asarray(pts), CORNER_RADIUS * float(np.max(extents[list(columns)])))
               for columns, pts in groups.items()]

    def proximity(points):
        xp = np if isinstance(points, np.ndarray) else jnp
        out = None
        for columns, corners, radius in factors:
            offsets = points[:, None, columns] - xp.asarray(corners, dtype=points.dtype)[None]
            scaled = xp.min(xp.sqrt(xp.sum(offsets**2, axis=-1)), axis=1) / radius
            out = scaled if out is None else xp.minimum(out, scaled)
        return out

    return proximity


def observation_points(problem: Problem, data: xr.Dataset, role: str = "observations") -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Flatten a dataset into ``{field: (points (n, d), values (n,))}`` after checking it.

    Works for gridded data (coordinates are dimensions) and scattered data (coordinates are
    non-dimension coordinates along a shared dimension such as ``point``).
    """
    if not isinstance(data, xr.Dataset):
        raise ProblemError(f"{role} must be an xarray.Dataset, got {type(data).__name__}")
    names = problem.coordinate_names
    fields = problem.field_names
    if not data.data_vars:
        raise ProblemError(f"{role}: the dataset has no data variables; name them after fields {fields}")
    out = {}
    for var in data.data_vars:
        if var not in fields:
            raise ProblemError(
                f"{role}: variable {var!r} is not a field of the problem; fields are {fields} "
                "(rename the variable or drop it)"
            )
        da = data[var]
        missing = [n for n in names if n not in da.coords]
        if missing:
            have = sorted(map(str, da.coords)) or ["none"]
            raise ProblemError(
                f"{role}: variable {var!r} has no coordinate {missing[0]!r}; its coordinates are "
                f"{have} but the problem's are {names} — rename them to match "
                "(e.g. ds.rename({'time': 't'}))"
            )
        values = np.asarray(da.values, dtype=float).ravel()
        cols = [np.asarray(xr.broadcast(da, da[n])[1].values, dtype=float).ravel() for n in names]
        points = np.stack(cols, axis=1)
        if (role == "reference" or "trajectory" in da.dims) and np.isfinite(points).all():
            # A reference marks with NaN where it has no value: outside a non-rectangular
            # domain on a bounding-box grid, or where the field is singular (the pressure at
            # a driven cavity's lid corners). Those points are not compared. So do trajectories
            # on a shared time axis where one has no sample.
            if not np.isfinite(values).any():
                raise ProblemError(f"{role}: variable {var!r} has no finite value; drop it from the dataset")
            keep = np.isfinite(values)
            points, values = points[keep], values[keep]
        bad = ~np.isfinite(values)
        if bad.any():
            raise ProblemError(
                f"{role}: variable {var!r} has {int(bad.sum())} non-finite values (NaN or Inf); "
                "drop them first, e.g. ds.dropna(...)"
            )
        if not np.isfinite(points).all():
            raise ProblemError(f"{role}: coordinates of {var!r} contain NaN or Inf")
        outside = ~problem.space_time.contains(points)
        if outside.any():
            raise ProblemError(
                f"{role}: {int(outside.sum())} points of {var!r} lie outside the domain "
                f"{problem.space_time!r} (the first at {dict(zip(names, points[outside][0].tolist()))}); "
                "select those inside (e.g. ds.sel(x=slice(lo, hi))) or widen the domain"
            )
        out[var] = (points, values)
    return out
