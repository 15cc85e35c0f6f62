r"""A held end or side that starts at another value than the field next to it: the diffusion front.

A wall suddenly heated (``u(0, t) = 1`` against ``u(x, 0) = 0``), a surface concentration
switched on: the data jump where the held end meets the start, and near that point every
solution of ``u_t = κ u_xx + ...`` looks like the same similarity solution of a half-line,

.. math:: u \approx J\,\operatorname{erfc}\!\Big(\frac{d}{2\sqrt{\kappa\,(t - t_0)}}\Big),

``d`` the distance from the end, ``J`` the jump (the end's value less the start's there). Its
layer is ``\sqrt{\kappa t}`` thin: at early times thinner than any smooth network resolves, and
its derivatives grow like ``1/\sqrt{t}`` along the whole end, not only near the corner point.
Measured on a wall heated from one side (``κ = 1``, t in [0, 1]): rel L2 2.9e-2, residual 0.11,
doubtful.

:class:`DiffusionFront` adds this front to the surrogate's output
(:func:`sciml.dsl.compile.compile_problem`), uncut: it solves the equation exactly where ``κ`` is
constant (a cutoff's slope across the steep layer left residuals of 5-70% there), and the
network carries the smooth rest, the far end's condition included (the recipe keeps the field's
held values as loss terms: the front's tail reaches them). Sides held by the same step share one
front, ``J (1 - Π erf_i)``: where two of them meet at a corner, the corner's own solution.
:func:`diffusion_fronts` finds the sides that call for one: the ends of an interval or the faces
of a box (a plate's edges) where a field advanced by ``u_t`` with a diffusivity ``κ`` along the
side's normal (the coefficient of ``u_xx`` over that of ``u_t``, of ``x`` alone: its value at the
side is the front's) is held at another value than it starts from. The generic recipe
(:mod:`sciml.recipe`) applies it.
"""

from __future__ import annotations

from dataclasses import dataclass

import jax.numpy as jnp
import jax.scipy.special as jsp
import numpy as np
import sympy as sp

from sciml.dsl.errors import ProblemError
from sciml.functions import finite_numbers

__all__ = ["DiffusionFront", "diffusion_fronts"]


@dataclass(frozen=True)
class DiffusionFront:
    """``jump * (1 - Π_i erf(d_i / (2 sqrt(κ_i (t - start)))))`` added to a field: one factor per
    held side ``i`` at ``ends[i]`` along coordinate ``axes[i]`` (``d_i = inward[i] * (x_i - ends[i])``
    its distance from the side, ``κ_i = diffusivities[i]``). Near one side it is that side's
    ``jump * erfc(d / 2 sqrt(κ t))``; where two sides along different axes meet, the product is the
    corner's own solution (the heat equation separates). Before ``start``: 0 inside, the jump on
    the sides."""

    field: str
    time: str
    start: float
    jump: float
    axes: tuple[str, ...]
    ends: tuple[float, ...]
    inward: tuple[float, ...]  # +1: the domain lies beyond the side in the axis' direction; -1: before it
    diffusivities: tuple[float, ...]

    KIND = "diffusion_front"

    @property
    def field_names(self) -> tuple[str]:
        return (self.field,)

    @property
    def coordinates(self) -> tuple[str, ...]:
        """The coordinates it reads, in the order of its argument: the sides' axes, then time."""
        return (*dict.fromkeys(self.axes), self.time)

    def __call__(self, z: jnp.ndarray) -> tuple[jnp.ndarray]:
        position = {name: k for k, name in enumerate(self.coordinates)}
        elapsed = z[-1] - self.start
        # At the start the front is the step itself (0 inside, the jump on the sides); the safe
        # arguments keep the arithmetic and its derivatives finite there.
        running = elapsed > 0
        safe = jnp.where(running, elapsed, 1.0)
        inside = jnp.ones_like(elapsed)
        for axis, end, inward, kappa in zip(self.axes, self.ends, self.inward, self.diffusivities):
            d = inward * (z[position[axis]] - end)
            inside = inside * jnp.where(running, jsp.erf(d / (2 * jnp.sqrt(kappa * safe))), jnp.where(d > 0, 1.0, 0.0))
        return (self.jump * (1 - inside),)

    def describe(self) -> str:
        sides = ", ".join(f"{a} = {e:g}" for a, e in zip(self.axes, self.ends))
        return (f"DiffusionFront({self.field} held at {sides} from {self.time} = {self.start:g}: a step of "
                f"{self.jump:g}, diffusivity {', '.join(f'{k:g}' for k in self.diffusivities)})")

    def check(self, problem) -> None:
        sizes = {len(self.axes), len(self.ends), len(self.inward), len(self.diffusivities)}
        shaped = len(sizes) == 1 and len(self.axes) > 0 and finite_numbers(
            [self.start, self.jump, *self.ends, *self.inward, *self.diffusivities])
        if not shaped or self.field not in problem.field_names \
                or any(c not in problem.coordinate_names for c in self.coordinates):
            raise ProblemError(f"{self!r}: give a field, sides along coordinates of the problem (as many ends, "
                               "directions and diffusivities) and its time coordinate, all finite")
        if any(k <= 0 for k in self.diffusivities) or any(abs(i) != 1 for i in self.inward):
            raise ProblemError(f"{self.describe()}: diffusivities must be positive, directions +1 or -1")


def diffusion_fronts(problem) -> tuple[list[DiffusionFront], str]:
    """The fronts a problem calls for (see the module docstring), and why (empty: none)."""
    from sciml.dsl.conditions import Dirichlet, Initial
    from sciml.dsl.problem import data_jumps
    from sciml.functions import values_at

    time = problem.space_time.time
    if time is None or problem.data is not None:
        return [], ""
    t, coords = time.coordinates[0], problem.coordinates
    # the sides along which the domain is an interval: an Interval's ends, a Box's faces
    sides = {c: problem.space_time.interval_along(c) for c in coords if c != t}
    sides = {c: (float(i.a), float(i.b)) for c, i in sides.items() if i is not None}
    known = problem.known_values
    held_sides: dict[tuple[str, float], list[tuple[str, float, float, float]]] = {}
    rng = np.random.default_rng(0)
    for name in problem.field_names:
        starts = [c for c in problem.conditions if isinstance(c, Initial) and c.field_name == name and c.order == 0]
        if len(starts) != 1 or any(isinstance(c, Initial) and c.field_name == name and c.order > 0
                                   for c in problem.conditions):
            continue
        u0 = sp.sympify(sp.sympify(starts[0].value).xreplace(known))
        for held in (c for c in problem.conditions if isinstance(c, Dirichlet) and c.field_name == name):
            g = sp.sympify(sp.sympify(held.value).xreplace(known))
            points = np.array(data_jumps(problem, starts[0], held, rng))
            for x, (lower, upper) in sides.items():
                axis = coords.index(x)
                for end, inward in ((lower, 1.0), (upper, -1.0)):
                    on = points[np.abs(points[:, axis] - end) <= 1e-9 * (upper - lower)] if len(points) else points
                    if not len(on):
                        continue  # the held piece does not meet the start along this side
                    jumps = values_at(g, coords, on) - values_at(u0, coords, on)
                    jump = float(np.mean(jumps))
                    if not np.all(np.isfinite(jumps)) or np.ptp(jumps) > 1e-6 * abs(jump) or jump == 0:
                        continue  # a jump that varies along the side: no one front
                    # the front feels the diffusivity at its side (of the layer there, if it jumps inside)
                    diffusivity = _diffusivity(problem, name, x, t)
                    kappa = float(diffusivity.subs(x, end + inward * 1e-9 * (upper - lower))) \
                        if diffusivity is not None else float("nan")
                    if kappa > 0:
                        held_sides.setdefault((name, jump), []).append((str(x), end, inward, kappa))
    fronts = [DiffusionFront(name, str(t), float(time.a), jump, *(tuple(v) for v in zip(*sides)))
              for (name, jump), sides in held_sides.items()]
    why = ("where a held end and the start disagree (" + ", ".join(f.describe() for f in fronts)
           + "): the half-line's similarity solution J erfc(d / 2 sqrt(kappa t)) is added to the network's "
           "output, which carries the smooth rest (the field's held values then stay loss terms: the "
           "front's tail reaches them)") if fronts else ""
    return fronts, why


def _diffusivity(problem, name: str, x, t) -> sp.Expr | None:
    """``κ(x)`` of the one equation ``a u_t = b u_xx + ...`` of field ``name`` along ``x`` (``κ = b /
    a``, ``a`` a number, ``b`` of ``x`` alone), else ``None``."""
    from sympy.core.function import AppliedUndef

    from sciml.dsl.symbols import field_name

    u = next((f for r in problem.residuals for f in r.atoms(AppliedUndef) if field_name(f) == name), None)
    if u is None:
        return None
    rate, second = u.diff(t), u.diff(x, 2)
    own = [r for r in problem.residuals if r.has(rate)]
    if len(own) != 1 or any(t in d.variables and d != rate for d in own[0].atoms(sp.Derivative) if d.expr == u):
        return None  # second order in time, or u_t in two equations
    known = problem.known_values
    a, b = (sp.sympify(sp.diff(own[0], d).xreplace(known)) for d in (rate, second))
    if not a.is_number or float(a) == 0 or not b.free_symbols <= {x}:
        return None
    return -b / a
