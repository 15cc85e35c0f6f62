"""Initial, boundary and gauge conditions.

Each condition names a field, where it holds and the value it prescribes (a number or a sympy
expression of the coordinates). ``hard=True`` asks the compiler to satisfy a Dirichlet,
initial or periodic condition exactly, by construction of the field function, instead of by a
loss term.

Gauge conditions (:class:`Pin`, :class:`MeanValue`) fix the constant that the equations leave
free in a field they only differentiate, such as the pressure of incompressible flow.

A condition imposed by a loss term compiles itself (:meth:`Condition.compile`) into a
:class:`~sciml.dsl.terms.SampledTerm` defined beside it; one imposed exactly records itself on
the compiler's :class:`~sciml.dsl.exact.ExactConditions` (:meth:`Condition.impose`). A new kind
of condition is one description class and one term class here.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import ClassVar

import jax
import jax.numpy as jnp
import numpy as np
import sympy as sp
from sympy.core.function import AppliedUndef

from sciml.dsl.domains import BoundaryPiece, Domain, ProductDomain
from sciml.dsl.errors import ProblemError
from sciml.dsl.metrics import rms
from sciml.dsl.symbols import Normal, check_expression, field_name
from sciml.dsl.terms import CompileContext, SampledTerm, additive_terms, nested_derivative


def resolve_piece(problem, on: BoundaryPiece | str) -> BoundaryPiece:
    """The boundary piece ``on`` of ``problem`` lifted to the whole domain (checks that it exists)."""
    domain = problem.space_time
    if isinstance(on, str):
        on = domain.piece(on)
    if not isinstance(on, BoundaryPiece):
        raise ProblemError(f"on={on!r} is not a boundary piece; use e.g. space.left or box.boundary")
    return domain.lift(on)


def ends_covered(problem, on: BoundaryPiece | str, coordinate: sp.Symbol, lower: float,
                 upper: float) -> tuple[bool, bool] | None:
    """Whether the boundary piece ``on`` holds the end ``coordinate = lower`` and the end
    ``coordinate = upper`` of an interval, or ``None`` when it also holds points between them (a
    piece of time or of another coordinate)."""
    where = resolve_piece(problem, on).sample(16, np.random.default_rng(0), "uniform")
    where = where[:, problem.coordinates.index(coordinate)]
    tolerance = 1e-9 * abs(upper - lower)
    at_lower, at_upper = np.abs(where - lower) <= tolerance, np.abs(where - upper) <= tolerance
    return (bool(at_lower.any()), bool(at_upper.any())) if np.all(at_lower | at_upper) else None


def _normal_derivative(field: sp.Expr) -> sp.Expr:
    """``∂u/∂n``: the field's gradient along the outward normal."""
    return sp.Add(*(Normal(c) * field.diff(c) for c in field.args))


@dataclass(frozen=True)
class ConditionTerm(SampledTerm):
    """A condition's loss: the mean square of its :meth:`misfit` at its points."""

    kind: ClassVar[str] = "condition"

    def misfit(self, field_fn, params, points: dict) -> jax.Array:
        raise NotImplementedError

    def evaluate(self, field_fn, params, points):
        return jnp.mean(self.misfit(field_fn, params, points) ** 2)

    def miss_scale(self, field_fn, params, z: jax.Array, points: dict, field_rms: float, diameter: float) -> float:
        """The size a miss of the condition is judged against, in the units of its left side.

        ``params``: the physical parameters; ``z``: points across the domain; ``points``: the
        condition's own sample; ``field_rms``: the RMS of the fields over ``z``; ``diameter``:
        the extent of the domain. A value condition is judged against the fields' size (this
        default); a derivative condition against the size of that derivative across the
        domain, at least ``field_rms / diameter`` per order (the slope of a field of its size
        varying over the whole domain: a field with nearly no gradient must not turn every tiny
        flux miss into a large one).
        """
        return field_rms


@dataclass(frozen=True)
class BoundaryTerm(ConditionTerm):
    """``lhs(u) - value`` at points of a boundary piece; ``lhs`` is :meth:`left_side` of field
    number ``field``."""

    field: int
    value: Callable  # (field_fn, params, z) -> prescribed value
    piece: BoundaryPiece

    def sample(self, n, rng, method):
        z = self.piece.sample(n, rng, method)
        return {"z": z, "n": self.piece.normal(z)}

    def left_side(self, field_fn, z: jax.Array, normals: jax.Array) -> jax.Array:
        raise NotImplementedError

    def normal_derivative(self, field_fn, z, normals) -> jax.Array:
        return jax.vmap(lambda p, v: jax.jvp(field_fn, (p,), (v.astype(p.dtype),))[1])(z, normals)[:, self.field]

    def normal_derivative_scale(self, field_fn, z, points, field_rms, diameter) -> float:
        """RMS across the domain of the field's derivative along the piece's normals (borrowed
        from the condition's sample, in turn), at least ``field_rms / diameter``."""
        normals = np.resize(np.asarray(points["n"]), (len(z), np.shape(points["n"])[-1]))
        size = rms(self.normal_derivative(field_fn, jnp.asarray(z), jnp.asarray(normals, z.dtype)))
        return max(size, field_rms / diameter)

    def misfit(self, field_fn, params, points):
        z = points["z"]
        g = jax.vmap(lambda p: self.value(field_fn, params, p))(z)
        return self.left_side(field_fn, z, points["n"]) - g


@dataclass(frozen=True)
class ValueTerm(BoundaryTerm):
    """The value, or the derivative along ``directions``, of the field (Dirichlet, Initial)."""

    directions: tuple[np.ndarray, ...] = ()

    def left_side(self, field_fn, z, normals):
        return jax.vmap(nested_derivative(field_fn, self.directions))(z)[:, self.field]

    def miss_scale(self, field_fn, params, z, points, field_rms, diameter):
        if not self.directions:
            return field_rms
        size = rms(self.left_side(field_fn, jnp.asarray(z), None))
        return max(size, field_rms / diameter ** len(self.directions))


@dataclass(frozen=True)
class NormalDerivativeTerm(BoundaryTerm):
    """The outward normal derivative of the field (Neumann)."""

    def left_side(self, field_fn, z, normals):
        return self.normal_derivative(field_fn, z, normals)

    def miss_scale(self, field_fn, params, z, points, field_rms, diameter):
        return self.normal_derivative_scale(field_fn, z, points, field_rms, diameter)


@dataclass(frozen=True)
class RobinTerm(BoundaryTerm):
    """``a·u + b·∂u/∂n`` of the field."""

    a: float = 1.0
    b: float = 1.0

    def left_side(self, field_fn, z, normals):
        u = jax.vmap(field_fn)(z)[:, self.field]
        return self.a * u + self.b * self.normal_derivative(field_fn, z, normals)

    def miss_scale(self, field_fn, params, z, points, field_rms, diameter):
        # the larger of its two terms, as an equation is judged against its largest term
        return max(abs(self.a) * field_rms,
                   abs(self.b) * self.normal_derivative_scale(field_fn, z, points, field_rms, diameter))


@dataclass(frozen=True, eq=False)
class Condition:
    """Base class: a field constrained on (a piece of) the boundary."""

    field: sp.Expr
    value: sp.Expr | float = 0
    on: BoundaryPiece | str | None = None
    weight: float = 1.0
    hard: bool = False

    @property
    def field_name(self) -> str:
        return field_name(self.field)

    @property
    def may_be_hard(self) -> bool:
        """Whether the condition can be imposed exactly (its class defines :meth:`impose`)."""
        return type(self).impose is not Condition.impose

    @property
    def kind(self) -> str:
        return type(self).__name__.lower()

    def expressions(self):
        """The sympy expressions the condition holds (its value; a relation's sides)."""
        yield sp.sympify(self.value)

    @property
    def fields(self) -> tuple[str, ...]:
        """Names of the fields the condition constrains."""
        return (self.field_name,)

    def describe(self) -> str:
        where = self.on.label if isinstance(self.on, BoundaryPiece) else self.on
        return f"{type(self).__name__}({self.field_name} on {where})"

    def check(self, problem) -> None:
        """Raise a :class:`ProblemError` naming the fix if the condition cannot hold in
        ``problem`` (its field and value are checked for every condition alike)."""
        if self.on is None:
            raise ProblemError(f"{self.describe()}: say where it holds with on=, e.g. on=space.boundary")
        resolve_piece(problem, self.on)

    def on_boundary(self) -> sp.Expr | None:
        """The condition where it holds: an expression of the field, its derivatives, the
        coordinates and the outward normal (:class:`~sciml.dsl.symbols.Normal`) that vanishes
        there (``None``: a condition of another kind). Read by the classical checks."""
        return None

    def at_end(self, coordinate: sp.Symbol, normal: int) -> sp.Expr | None:
        """:meth:`on_boundary` at an end of an interval in ``coordinate`` whose outward normal is
        ``normal`` (-1 or +1; along every other coordinate the normal is zero)."""
        relation = self.on_boundary()
        if relation is None:
            return None
        return relation.xreplace({n: normal if n.coordinate == coordinate else 0 for n in relation.atoms(Normal)})

    def term_name(self, index: int) -> str:
        """The loss term's name for the ``index``-th condition of a problem."""
        return f"{self.kind}:{self.field_name}#{index}"

    def compile(self, index: int, context: CompileContext) -> ConditionTerm:
        """The loss term imposing the ``index``-th condition of ``context.problem``."""
        raise ProblemError(f"{self.describe()} cannot be imposed by a loss term")

    def impose(self, exact) -> None:
        """Record the condition on ``exact`` (:class:`~sciml.dsl.exact.ExactConditions`), which
        builds it into the field function so that it holds by construction."""
        raise ProblemError(f"{self.describe()} cannot be imposed exactly; use hard=False")

    def _on_piece(self, term: type[BoundaryTerm], index: int, context: CompileContext, piece: BoundaryPiece | None = None,
                  **extra) -> BoundaryTerm:
        return term(self.term_name(index), self.weight, context.field_index(self.field_name), context.expression(self.value),
                    resolve_piece(context.problem, self.on) if piece is None else piece, **extra)


@dataclass(frozen=True, eq=False)
class Dirichlet(Condition):
    """``u = value`` on the piece."""

    def on_boundary(self):
        return self.field - sp.sympify(self.value)

    def compile(self, index, context):
        return self._on_piece(ValueTerm, index, context)

    def impose(self, exact):
        exact.value_on(self, resolve_piece(exact.problem, self.on))


@dataclass(frozen=True, eq=False)
class Neumann(Condition):
    """``∂u/∂n = value`` on the piece (outward normal derivative)."""

    def on_boundary(self):
        return _normal_derivative(self.field) - sp.sympify(self.value)

    def compile(self, index, context):
        return self._on_piece(NormalDerivativeTerm, index, context)


@dataclass(frozen=True, eq=False)
class Robin(Condition):
    """``a·u + b·∂u/∂n = value`` on the piece."""

    a: float = 1.0
    b: float = 1.0

    def on_boundary(self):
        return self.a * self.field + self.b * _normal_derivative(self.field) - sp.sympify(self.value)

    def compile(self, index, context):
        return self._on_piece(RobinTerm, index, context, a=self.a, b=self.b)


@dataclass(frozen=True, eq=False)
class BoundaryEquation(Condition):
    """``relation = value`` on the piece, for any relation of the fields, their derivatives,
    the coordinates, parameters and the outward normal (:class:`~sciml.dsl.symbols.Normal`).

    What the other conditions cannot say: a wall no flow passes through,
    ``BoundaryEquation(u * Normal(x) + v * Normal(y), on=cylinder.boundary)``; a radiating
    surface, ``BoundaryEquation(-k * u.diff(x) * Normal(x) - eps * sigma * (u**4 - T**4), on=...)``;
    a flux through a conductivity that depends on the field. Always a loss term, judged by the
    verdict as an equation is, against its largest term.
    """

    @property
    def relation(self) -> sp.Expr:
        return sp.sympify(self.field)

    @property
    def fields(self) -> tuple[str, ...]:
        """Names of the fields in the relation, sorted."""
        return tuple(sorted({field_name(f) for f in self.relation.atoms(AppliedUndef)}))

    @property
    def field_name(self) -> str:
        return self.fields[0] if self.fields else ""

    def expressions(self):
        yield self.relation
        yield sp.sympify(self.value)

    def describe(self) -> str:
        where = self.on.label if isinstance(self.on, BoundaryPiece) else self.on
        return f"BoundaryEquation({self.relation} = {self.value} on {where})"

    def on_boundary(self):
        return self.relation - sp.sympify(self.value)

    def term_name(self, index: int) -> str:
        return f"{self.kind}:{','.join(self.fields)}#{index}"

    def check(self, problem) -> None:
        super().check(problem)
        where = self.describe()
        if not self.fields:
            raise ProblemError(f"{where}: the relation holds no field; a condition constrains fields, e.g. "
                               "BoundaryEquation(u.diff(x) * Normal(x) + u, on=...)")
        # the problem's fields, applied to its coordinates; check_expression names any other
        names = {field_name(f): f for f in self.relation.atoms(AppliedUndef)
                 if field_name(f) in problem.field_names and tuple(f.args) == tuple(problem.coordinates)}
        check_expression(self.relation, where, set(problem.coordinates), names, allow_normals=True)

    def compile(self, index, context):
        normals = tuple(Normal(c) for c in context.problem.coordinates)
        relation = self.relation - sp.sympify(self.value)
        parts = tuple(context.expression(t, normals) for t in additive_terms(relation))
        return RelationTerm(self.term_name(index), self.weight, context.expression(relation, normals), parts,
                            resolve_piece(context.problem, self.on))


@dataclass(frozen=True)
class RelationTerm(ConditionTerm):
    """``relation(u, ∂u, z, n)`` at points of a boundary piece, ``n`` the outward normal; its
    additive ``parts`` give the scale a miss is judged against."""

    relation: Callable  # (field_fn, params, z, *n) -> value
    parts: tuple[Callable, ...]
    piece: BoundaryPiece

    def sample(self, n, rng, method):
        z = self.piece.sample(n, rng, method)
        return {"z": z, "n": self.piece.normal(z)}

    def misfit(self, field_fn, params, points):
        z = points["z"]
        return jax.vmap(lambda p, n: self.relation(field_fn, params, p, *n))(z, points["n"].astype(z.dtype))

    def miss_scale(self, field_fn, params, z, points, field_rms, diameter):
        # As an equation is judged: the RMS of its largest term, at its own points and, with their
        # normals borrowed, across the domain (a wall where every term vanishes, as the flow
        # through it should, must not turn a tiny miss into a large one).
        def largest(at, normals):
            values = jax.vmap(lambda p, n: jnp.stack([part(field_fn, params, p, *n) for part in self.parts]))(
                at, normals.astype(at.dtype))
            return rms(jnp.max(jnp.abs(values), axis=1))

        own = jnp.asarray(points["z"])
        borrowed = np.resize(np.asarray(points["n"]), (len(z), np.shape(points["n"])[-1]))
        return max(largest(own, jnp.asarray(points["n"])), largest(jnp.asarray(z), jnp.asarray(borrowed)))


@dataclass(frozen=True, eq=False)
class Initial(Condition):
    """``∂ᵏu/∂tᵏ = value`` at the start of the time interval (``order`` k, 0 or 1).

    With ``hard=True`` both orders hold exactly through the output transform
    ``u = G + (u₀ - G₀) + (t - t₀)(u₁ - ∂ₜG₀) + τᵏ⁺¹ D N`` (``G``, ``D``: hard Dirichlet data
    and distance, ``τ`` the scaled time, ``k`` the highest hard order); a hard first-order
    condition needs the value (order 0) to be hard too.

    ``positive=True`` (with ``hard=True``, a positive constant value, no other hard condition
    on the field) says the field stays positive, and represents it so: ``u = u₀ exp(τ N)``.
    A population or a concentration that falls 500-fold between peaks is then a network
    output of a few units, not one that must resolve 1e-3 of its peak.

    ``nonnegative=True`` (with ``hard=True``, the value zero, no other hard condition on the
    field) says the field, starting at zero, never turns negative (a product of a reaction,
    a recovered count), and represents it so: ``u = τ softplus(N)``.
    """

    order: int = 0
    positive: bool = False
    nonnegative: bool = False

    def check(self, problem) -> None:
        where, time = self.describe(), problem.space_time.time
        if time is None:
            raise ProblemError(
                f"{where}: the domain has no TimeInterval, so there is no initial time; "
                "multiply the domain by TimeInterval(t, t0, t1) or use a boundary condition"
            )
        if self.on is not None and resolve_piece(problem, self.on).name != f"{time.label}.start":
            raise ProblemError(f"{where}: initial conditions hold on time.start; drop on=")
        if self.order not in (0, 1):
            raise ProblemError(
                f"{where}: order={self.order!r}; initial conditions prescribe the value (order=0) or the "
                "first time derivative (order=1)"
            )
        if self.positive or self.nonnegative:
            value = sp.sympify(self.value).subs(problem.known_values)
        if self.positive:
            if self.order != 0 or not (value.is_number and value.is_positive):
                raise ProblemError(f"{where}: positive=True represents the field as u0 exp(tau N), which needs a "
                                   f"positive constant value (order 0), got {self.value!r}; drop positive=")
        if self.nonnegative:
            if self.order != 0 or self.positive or not (value.is_number and value.is_zero):
                raise ProblemError(f"{where}: nonnegative=True represents the field as tau softplus(N), which "
                                   f"starts at zero (order 0), got {self.value!r}; drop nonnegative= (a positive "
                                   "start: positive=True)")

    def describe(self) -> str:
        what = self.field_name if self.order == 0 else f"d{self.field_name}/dt"
        return f"Initial({what} at the start)"

    def compile(self, index, context):
        if self.positive or self.nonnegative:
            flag = "positive" if self.positive else "nonnegative"
            raise ProblemError(f"{self.describe()}: {flag}=True is a representation of the field that imposes "
                               "the initial value exactly; pass hard=True as well")
        time = context.problem.space_time.time
        return self._on_piece(ValueTerm, index, context, context.problem.space_time.lift(time.start),
                              directions=(context.unit(time.coordinates[0]),) * self.order)

    def impose(self, exact):
        exact.initial(self, self.order)


@dataclass(frozen=True, eq=False)
class Periodic(Condition):
    r"""``u`` (and its first ``derivatives`` derivatives along ``coordinate``) equal at both ends.

    Soft (default): a loss term matches the values and derivatives at the two ends.
    ``hard=True``: exact by construction. The network sees the periodic coordinate ``x`` of
    the interval ``[a, b]`` only through the Fourier embedding

    .. math:: x \mapsto \big(\cos(2\pi k (x - a)/L),\ \sin(2\pi k (x - a)/L)\big)_{k=1..K},
              \qquad L = b - a,

    so every field and all its derivatives are L-periodic in ``x`` whatever the surrogate
    (Dong & Ni 2021, "A method for representing periodic functions and enforcing exactly
    periodic boundary conditions with deep neural networks", JCP 435). The embedding acts on
    the coordinate, so a hard periodic coordinate must be declared periodic for every field.

    Args:
        coordinate: the periodic coordinate, along which the domain is an interval.
        derivatives: how many derivatives must also match (soft only; 1 makes the field
            C¹-periodic).
        modes: ``K``, the number of Fourier modes of the exact embedding (hard only).
    """

    coordinate: sp.Symbol | None = None
    derivatives: int = 1
    modes: int = 1

    def check(self, problem) -> None:
        interval = problem.space_time.interval_along(self.coordinate)
        if interval is None or interval.is_time:
            raise ProblemError(
                f"{self.describe()}: periodicity needs a spatial coordinate along which the domain is an "
                f"interval (an Interval, or a side of a Rectangle or Box), got {self.coordinate!r} of "
                f"{problem.space_time!r}; pass coordinate=x for Interval(x, a, b)"
            )
        if isinstance(self.modes, bool) or not isinstance(self.modes, int) or self.modes < 1:
            raise ProblemError(f"{self.describe()}: modes={self.modes!r}; the periodic embedding needs modes >= 1")

    def describe(self) -> str:
        return f"Periodic({self.field_name} in {self.coordinate})"

    def compile(self, index, context):
        domain = context.problem.space_time
        interval = domain.interval_along(self.coordinate)
        return PeriodicTerm(self.term_name(index), self.weight, context.field_index(self.field_name), domain,
                            context.axis(self.coordinate), float(interval.a), float(interval.b), self.derivatives)

    def impose(self, exact):
        # On the coordinate, not the field: the input map embeds it for every field alike.
        lower, upper = exact.problem.space_time.bounds()
        axis = exact.problem.coordinates.index(self.coordinate)
        exact.periodic(axis, float(lower[axis]), float(upper[axis] - lower[axis]), self.modes)


@dataclass(frozen=True)
class PeriodicTerm(ConditionTerm):
    """The field and its first ``derivatives`` derivatives along ``axis`` matched at its ends
    ``a`` and ``b`` (each point of the domain moved to either end)."""

    field: int
    domain: Domain
    axis: int
    a: float
    b: float
    derivatives: int

    def sample(self, n, rng, method):
        z = self.domain.sample(n, rng, method)
        left, right = z.copy(), z.copy()
        left[:, self.axis], right[:, self.axis] = self.a, self.b
        return {"left": left, "right": right}

    def misfit(self, field_fn, params, points):
        e = np.eye(points["left"].shape[-1])[self.axis]
        out = []
        for k in range(self.derivatives + 1):
            g = jax.vmap(nested_derivative(field_fn, (e,) * k))
            out.append(g(points["left"])[:, self.field] - g(points["right"])[:, self.field])
        return jnp.concatenate(out)


@dataclass(frozen=True, eq=False)
class Pin(Condition):
    """``u = value`` at one point ``at`` — fixes the free constant of a field (a gauge).

    ``at`` maps coordinates to values, e.g. ``Pin(p, 0, at={x: 0, y: 0})``; coordinates left
    out (typically time) are sampled, so the field is pinned along that line. Always a loss
    term: ``mean (u(at) - value)²``.
    """

    at: Mapping[sp.Symbol, float] = field(default_factory=dict)

    def check(self, problem) -> None:
        where, coords = self.describe(), problem.coordinates
        if not self.at:
            raise ProblemError(f"{where}: say where the field is pinned, e.g. at={{x: 0, y: 0}}")
        unknown = [k for k in self.at if k not in coords]
        if unknown:
            raise ProblemError(
                f"{where}: at= names {unknown[0]!r}, which is not a coordinate of the problem "
                f"{tuple(map(str, coords))}"
            )
        time = problem.space_time.time
        if time is not None and time.coordinates[0] in self.at:
            raise ProblemError(f"{where}: pin the field at a place for all times; leave {time.coordinates[0]} out of at=")
        probe = problem.space_time.sample(8, np.random.default_rng(0))
        for k, v in self.at.items():
            probe[:, coords.index(k)] = float(v)
        if not problem.space_time.contains(probe).all():
            raise ProblemError(f"{where}: the point {dict(self.at)} lies outside the domain; pin the field inside it")

    def describe(self) -> str:
        where = ", ".join(f"{c}={v}" for c, v in self.at.items())
        return f"Pin({self.field_name} at {where})"

    def compile(self, index, context):
        fixed = tuple((context.axis(c), float(v)) for c, v in self.at.items())
        return PinTerm(self.term_name(index), self.weight, context.field_index(self.field_name),
                       context.expression(self.value), context.problem.space_time, fixed,
                       len(fixed) < len(context.problem.coordinates))


@dataclass(frozen=True)
class PinTerm(ConditionTerm):
    """``u(at) - value`` with the ``fixed`` ``(axis, value)`` pairs set and the other
    coordinates sampled (``free``: there are some)."""

    field: int
    value: Callable
    domain: Domain
    fixed: tuple[tuple[int, float], ...]
    free: bool

    def sample(self, n, rng, method):
        # A point pinned in every coordinate needs one sample; a pinned line needs several.
        z = self.domain.sample(min(n, 64) if self.free else 1, rng, method)
        for axis, v in self.fixed:
            z[:, axis] = v
        return {"z": z}

    def misfit(self, field_fn, params, points):
        z = points["z"]
        return jax.vmap(field_fn)(z)[:, self.field] - jax.vmap(lambda p: self.value(field_fn, params, p))(z)


@dataclass(frozen=True, eq=False)
class MeanValue(Condition):
    """``mean of u over space = value`` — fixes the free constant of a field (a gauge).

    The mean is taken over the spatial factors of the domain (at each sampled time in an
    evolution problem), estimated from the batch's points. Always a loss term:
    ``(mean u - value)²`` per sampled time.
    """

    def check(self, problem) -> None:
        if self.on is not None:
            raise ProblemError(f"{self.describe()}: the mean is taken over the whole spatial domain; drop on=")

    def describe(self) -> str:
        return f"MeanValue({self.field_name})"

    def compile(self, index, context):
        domain = context.problem.space_time
        time = domain.time
        t_axis = context.axis(time.coordinates[0]) if time is not None else None
        n_space = MEAN_VALUE_POINTS if time is None else MEAN_VALUE_POINTS // 4
        space = ProductDomain(tuple(f for f in domain.factors if not f.is_time))
        return MeanValueTerm(self.term_name(index), self.weight, context.field_index(self.field_name),
                             context.expression(self.value), space.sample(n_space, np.random.default_rng(0), "sobol"),
                             tuple(a for a in range(len(context.problem.coordinates)) if a != t_axis), time, t_axis)


MEAN_VALUE_POINTS = 1024
"""Size of the fixed spatial point set a :class:`MeanValue` condition averages over."""


@dataclass(frozen=True)
class MeanValueTerm(ConditionTerm):
    """``mean over space of u - value``, at each of a few sampled times.

    The spatial points are one scrambled Sobol set drawn at compile time and kept: a fixed
    quadrature rule pins one and the same constant at every step, where fresh random points
    would move the gauge by their sampling error each time the batch is redrawn.
    """

    field: int
    value: Callable
    space_points: np.ndarray  # (n_space, n_space_axes)
    space_axes: tuple[int, ...]
    time: Domain | None
    time_axis: int | None

    def sample(self, n, rng, method):
        groups = 1 if self.time is None else 8
        z = np.empty((groups, len(self.space_points), len(self.space_axes) + (self.time is not None)))
        z[:, :, list(self.space_axes)] = self.space_points[None]
        if self.time is not None:
            z[:, :, self.time_axis] = self.time.sample(groups, rng, method)[:, :1]
        return {"z": z}

    def misfit(self, field_fn, params, points):
        z = points["z"]
        u = jax.vmap(jax.vmap(field_fn))(z)[..., self.field]
        target = jax.vmap(lambda p: self.value(field_fn, params, p))(z[:, 0])
        return jnp.mean(u, axis=1) - target


GAUGE_CONDITIONS = (Pin, MeanValue)
"""Conditions that fix the constant a field is otherwise defined only up to."""
