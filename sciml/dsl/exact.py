"""Conditions imposed exactly, by construction of the field function.

A hard condition imposes itself (:meth:`~sciml.dsl.conditions.Condition.impose`) on an
:class:`ExactConditions`, which collects, per field, the Dirichlet pieces and initial orders
that the output transform builds in (:class:`ExactField`) and, per coordinate, the periodic
embeddings that the input map builds in (:class:`InputMap`). A new kind of hard condition is
one ``impose`` method and, if it needs a new shape of transform, one recording method here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np
import sympy as sp

from sciml.dsl.errors import ProblemError
from sciml.dsl.terms import Params
from sciml.functions import lambdify

CORNER_SHIFT = 1e-9  # of the domain's extent: added to each distance in the blend of boundary data


@dataclass(frozen=True)
class PeriodicEmbedding:
    """Exact periodicity in one coordinate: ``z_axis -> (cos 2πk(z-a)/L, sin 2πk(z-a)/L)_{k<=K}``."""

    axis: int
    lower: float
    period: float
    modes: int

    def __call__(self, z: jax.Array) -> jax.Array:
        k = jnp.arange(1, self.modes + 1, dtype=z.dtype)
        phase = 2 * jnp.pi * k * (z[..., self.axis : self.axis + 1] - self.lower) / self.period
        return jnp.concatenate([jnp.cos(phase), jnp.sin(phase)], axis=-1)


@dataclass(frozen=True)
class InputMap:
    """What the surrogate sees of a point: every coordinate scaled from the domain's bounding
    box to ``[-1, 1]`` (what networks train best on), except the coordinates with exact
    periodicity, each replaced in place by its :class:`PeriodicEmbedding`; then one input per
    material interface (``kinks``: ``z -> |φ(z)|`` scaled, see :mod:`sciml.dsl.interfaces`), in
    which the fields may bend across it. Works on one point ``(d,)`` or a batch ``(n, d)``."""

    lower: np.ndarray
    upper: np.ndarray
    periodic: tuple[PeriodicEmbedding, ...] = ()
    kinks: tuple[Callable, ...] = ()

    @property
    def dimension(self) -> int:
        """Number of surrogate inputs."""
        return len(self.lower) + sum(2 * e.modes - 1 for e in self.periodic) + len(self.kinks)

    def __call__(self, z: jax.Array) -> jax.Array:
        lo, hi = jnp.asarray(self.lower, z.dtype), jnp.asarray(self.upper, z.dtype)
        scaled = 2.0 * (z - lo) / (hi - lo) - 1.0
        if not self.periodic and not self.kinks:
            return scaled
        embedded = {e.axis: e for e in self.periodic}
        columns = [embedded[a](z) if a in embedded else scaled[..., a : a + 1] for a in range(len(self.lower))]
        columns += [kink(z)[..., None] for kink in self.kinks]
        return jnp.concatenate(columns, axis=-1)


LOG_BOUND = 30.0
"""A positive field stays within ``exp(±LOG_BOUND)`` (1e13) times its initial value (see
:class:`ExactField`): products of such fields stay finite in float32."""


@dataclass(frozen=True)
class ExactField:
    r"""The output transform of one field with exact conditions, as functions of the point.

    .. math::

        u = G + (u_0 - G_0) + (t - t_0)\,(u_1 - \partial_t G_0) + \tau^{m} D\, N,

    where ``G`` blends the hard Dirichlet data and vanishes nowhere it is not needed, ``D`` is
    the product of the pieces' distances (zero on them), ``N`` the surrogate's output,
    ``τ = (t - t₀)/(t₁ - t₀)``, ``G₀ = G(·, t₀)``, ``∂ₜG₀ = ∂ₜG(·, t₀)``, and ``m`` one more
    than the highest hard initial order (0 without one). Each term is absent when its
    condition is: at ``t₀`` the value is ``u₀`` and, since ``τ^m`` with ``m = 2`` has a double
    root, the time derivative is ``u₁``; on a Dirichlet piece ``D = 0`` leaves ``G``.

    Known parameters are constants of ``base``; the learned ones it reads (``parameters``,
    in argument order) are passed at evaluation, so training moves them here as in the
    residuals.

    A positive field (``Initial(..., positive=True)``) is ``exp`` of that expression, with
    ``log u₀`` in place of ``u₀`` (and no Dirichlet data): ``u = u₀ exp(τ N)``, its logarithm
    bounded smoothly by :data:`LOG_BOUND`. A nonnegative field (``Initial(u, 0, nonnegative=True)``)
    is ``τ N`` with ``N`` the surrogate's output made positive (:meth:`CompiledProblem.surrogate_outputs`).
    """

    field: int
    base: Callable  # (*z, *learned parameters) -> G + (u0 - G0) + (t - t0)(u1 - dG0/dt)
    factor: Callable  # (*z) -> tau^m D
    parameters: tuple[str, ...] = ()
    exponential: bool = False

    def __call__(self, z: jax.Array, free: jax.Array, params: Params) -> jax.Array:
        base = jnp.asarray(self.base(*z, *(params[p] for p in self.parameters)), z.dtype)
        change = jnp.asarray(self.factor(*z), z.dtype) * free
        if not self.exponential:
            return base + change
        # Bounded smoothly to |log(u / u0)| < LOG_BOUND: a trial step of the quasi-Newton line
        # search that throws the logarithm far out must give a large loss, not an overflow.
        return jnp.exp(base + LOG_BOUND * jnp.tanh(change / LOG_BOUND))


class ExactConditions:
    """The hard conditions of a problem, gathered per field and per coordinate.

    Conditions record themselves (:meth:`value_on`, :meth:`initial`, :meth:`periodic`);
    :meth:`fields` and :meth:`input_map` then build what the compiler puts behind and in front
    of the surrogate.
    """

    def __init__(self, problem):
        self.problem = problem
        self._pieces: dict[str, list] = {f: [] for f in problem.field_names}  # (condition, piece)
        self._initial: dict[str, dict] = {f: {} for f in problem.field_names}  # order -> condition
        self._periodic: dict[int, PeriodicEmbedding] = {}

    def value_on(self, condition, piece) -> None:
        """``condition.field = condition.value`` on the boundary piece ``piece`` (lifted)."""
        self._pieces[condition.field_name].append((condition, piece))

    def initial(self, condition, order: int) -> None:
        """``∂ᵏ field/∂tᵏ = condition.value`` at the start of the time interval."""
        orders = self._initial[condition.field_name]
        if order in orders:
            raise ProblemError(f"{condition.field_name} has two hard initial conditions of order {order}; keep one")
        orders[order] = condition

    def periodic(self, axis: int, lower: float, period: float, modes: int) -> None:
        """Exact periodicity along coordinate ``axis`` (the most modes asked for wins)."""
        if axis in self._periodic:
            modes = max(modes, self._periodic[axis].modes)
        self._periodic[axis] = PeriodicEmbedding(axis, lower, period, modes)

    def input_map(self, kinks: tuple[Callable, ...] = ()) -> InputMap:
        lower, upper = self.problem.space_time.bounds()
        return InputMap(lower, upper, tuple(self._periodic[a] for a in sorted(self._periodic)), kinks)

    def fields(self, lam: Callable) -> list[ExactField]:
        """The transform of every field with a hard value or initial condition.
        ``lam(expr, parameters)``: a JAX function of the point and those learned parameters."""
        names = self.problem.field_names
        return [self._field(fi, lam) for fi, name in enumerate(names) if self._pieces[name] or self._initial[name]]

    def _field(self, fi: int, lam: Callable) -> ExactField:
        problem = self.problem
        name = problem.field_names[fi]
        known = problem.known_values
        pieces, initial = self._pieces[name], self._initial[name]
        g_exprs = [sp.sympify(c.value).xreplace(known) for c, _ in pieces]
        d_exprs = [piece.distance for _, piece in pieces]
        if len(d_exprs) == 1:
            G = g_exprs[0]
        elif d_exprs:
            # Blend: on piece i every other product holds the factor d_i + shift = shift, so G = g_i
            # there to a part in 1e9. The shift keeps the weights apart from zero where pieces meet
            # (without it every product vanishes at a corner of two pieces, and G with them: a plate
            # held at 293 K read 0 K at its corners); there G is the mean of the meeting pieces' data,
            # which agree (data that jump keep their conditions soft).
            lower, upper = problem.space_time.bounds()
            extent = float(np.max(np.asarray(upper, float) - np.asarray(lower, float)))
            shift = sp.Float(CORNER_SHIFT * extent)
            # Each piece's distance is first normalised to unit slope across it (in units of the
            # extent): pieces scaled unlike (a channel's inlet x/4 against a hole's r²/R² - 1, ten
            # per unit) would move the blend from one piece's data to another's within a layer a
            # hundredth thin, whose Laplacian (5e3 beside a cylinder in a channel) the network must
            # then cancel.
            blended = [d / (extent * _slope_across(problem, piece, d)) for (_, piece), d in zip(pieces, d_exprs)]
            prods = [sp.Mul(*[d + shift for j, d in enumerate(blended) if j != i]) for i in range(len(blended))]
            G = sum(g * p for g, p in zip(g_exprs, prods)) / sum(prods)
        else:
            G = sp.Integer(0)
        base, factor = G, sp.Mul(*d_exprs) if d_exprs else sp.Integer(1)
        if 0 in initial and (initial[0].positive or initial[0].nonnegative) and (pieces or 1 in initial):
            form = "u = u0 exp(tau N)" if initial[0].positive else "u = tau softplus(N)"
            raise ProblemError(f"{name}: a {'positive' if initial[0].positive else 'nonnegative'} initial condition "
                               f"({form}) leaves no room for other hard conditions on the field; drop it or make "
                               "them soft")
        if 0 in initial and initial[0].positive:
            time = problem.space_time.time
            t, t0 = time.coordinates[0], time.a
            u0 = sp.sympify(initial[0].value).xreplace(known)
            return ExactField(fi, lam(sp.log(u0), ()), lam((t - t0) / (time.b - time.a), ()), (), exponential=True)
        if initial:
            time = problem.space_time.time
            t, t0 = time.coordinates[0], time.a
            u0 = sp.sympify(initial[0].value).xreplace(known)
            base = base + u0 - G.xreplace({t: t0})
            if 1 in initial:
                u1 = sp.sympify(initial[1].value).xreplace(known)
                base = base + (t - t0) * (u1 - sp.diff(G, t).xreplace({t: t0}))
            factor = factor * ((t - t0) / (time.b - time.a)) ** (max(initial) + 1)
            if pieces:
                self._check_compatible(name, pieces, u0, G)
                if 1 in initial:
                    self._check_compatible(name, pieces, u1, sp.diff(G, t), what="initial velocity")
        learned = tuple(p.name for p in problem.parameters if p.learn and p in base.free_symbols)
        return ExactField(fi, lam(base, learned), lam(factor, ()), learned)

    def _check_compatible(self, name, pieces, u0, G, what="initial condition"):
        """Exact initial and boundary conditions must agree where they meet, for any value of
        the learned parameters: checked at their initial guesses and at other positive values."""
        problem = self.problem
        time = problem.space_time.time
        rng = np.random.default_rng(0)
        coords = problem.coordinates
        t = time.coordinates[0]
        learned = [p for p in problem.parameters if p.learn]
        trials = [{p: p.value for p in learned}, {p: 1.5 * abs(p.value) + 0.5 for p in learned}] if learned else [{}]
        for c, piece in pieces:
            z = piece.sample(64, rng, "uniform")
            z[:, coords.index(t)] = time.a
            gap = 0.0
            for values in trials:
                f = lambdify(coords, (u0 - G).xreplace(values), "numpy")
                gap = max(gap, np.max(np.abs(np.asarray(f(*z.T), float) * np.ones(len(z)))))
            if gap > 1e-6:
                raise ProblemError(
                    f"the hard {what} of {name} and its hard condition {c.describe()} disagree "
                    f"by {gap:.2e} where they meet; make them compatible or use hard=False for one of them"
                )


def _slope_across(problem, piece, distance: sp.Expr) -> float:
    """The median of ``|∇d|`` at points of ``piece`` (``d`` its distance function), by central
    differences: a polygon's distance (a sum of reciprocals) has no finite symbolic gradient on
    its own sides."""
    coords = problem.coordinates
    lower, upper = problem.space_time.bounds()
    h = 1e-6 * float(np.max(np.asarray(upper, float) - np.asarray(lower, float)))
    z = np.asarray(piece.sample(64, np.random.default_rng(0)), np.float64)
    d = lambdify(coords, distance, "numpy")
    with np.errstate(all="ignore"):
        slopes = np.stack([(np.asarray(d(*(z + h * e).T), float) - np.asarray(d(*(z - h * e).T), float)) / (2 * h)
                           * np.ones(len(z)) for e in np.eye(len(coords))], axis=1)
    size = np.linalg.norm(slopes, axis=1)
    size = size[np.isfinite(size) & (size > 0)]
    return float(np.median(size)) if len(size) else 1.0
