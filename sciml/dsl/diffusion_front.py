r"""A held end that starts at another value than the field next to it: the diffusion front.

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
held values as loss terms: the front's tail reaches them). :func:`diffusion_fronts` finds the ends that call for one:
a field of one space coordinate advanced by ``u_t`` with a diffusivity ``κ`` (the coefficient
of ``u_xx`` over that of ``u_t``, of ``x`` alone: its value at the end is the front's) whose Dirichlet end and initial value disagree
where they meet. The generic recipe (:mod:`sciml.recipe`) applies it.
"""

from __future__ import annotations

from dataclasses import dataclass

import jax.numpy as jnp
import jax.scipy.special as jsp
import numpy as np
import sympy as sp

from sciml.dsl.errors import ProblemError

__all__ = ["DiffusionFront", "diffusion_fronts"]


@dataclass(frozen=True)
class DiffusionFront:
    """``jump * erfc(d / (2 sqrt(diffusivity (t - start))))`` added to a field, ``d = inward * (x -
    end)`` the distance from the held end (0 before ``start``)."""

    field: str
    coordinates: tuple[str, str]  # (x, t)
    end: float
    inward: float  # +1: the interval lies at x > end; -1: at x < end
    start: float
    jump: float
    diffusivity: float

    KIND = "diffusion_front"

    @property
    def field_names(self) -> tuple[str]:
        return (self.field,)

    def __call__(self, xt: jnp.ndarray) -> tuple[jnp.ndarray]:
        d = self.inward * (xt[0] - self.end)
        elapsed = xt[1] - self.start
        # At the start the front is the step itself (0 inside, the jump at the end); the safe
        # arguments keep the arithmetic and its derivatives finite there.
        running = elapsed > 0
        safe = jnp.where(running, elapsed, 1.0)
        front = jsp.erfc(d / (2 * jnp.sqrt(self.diffusivity * safe)))
        return (self.jump * jnp.where(running, front, jnp.where(d > 0, 0.0, 1.0)),)

    def describe(self) -> str:
        x, t = self.coordinates
        return (f"DiffusionFront({self.field} at {x} = {self.end:g} from {t} = {self.start:g}: a step of "
                f"{self.jump:g}, diffusivity {self.diffusivity:g})")

    def check(self, problem) -> None:
        try:
            numbers = np.asarray([self.end, self.inward, self.start, self.jump, self.diffusivity], float)
            shaped = len(self.coordinates) == 2 and bool(np.all(np.isfinite(numbers)))
        except (TypeError, ValueError):
            shaped = False
        if not shaped or self.field not in problem.field_names \
                or any(c not in problem.coordinate_names for c in self.coordinates):
            raise ProblemError(f"{self!r}: give a field and two coordinates (space, time) of the problem and "
                               "finite numbers")
        if self.diffusivity <= 0 or abs(self.inward) != 1:
            raise ProblemError(f"{self.describe()}: the diffusivity must be positive, inward +1 or -1")


def diffusion_fronts(problem) -> tuple[list[DiffusionFront], str]:
    """The fronts a problem calls for (see the module docstring), and why (empty: none)."""
    from sciml.dsl.conditions import Dirichlet, Initial
    from sciml.dsl.domains import Interval
    from sciml.dsl.problem import data_jumps
    from sciml.functions import values_at

    time = problem.space_time.time
    space = [f for f in problem.space_time.factors if not f.is_time]
    if time is None or len(space) != 1 or not isinstance(space[0], Interval) or problem.data is not None:
        return [], ""
    x, t = space[0].coordinates[0], time.coordinates[0]
    lower, upper = float(space[0].a), float(space[0].b)
    known = problem.known_values
    fronts = []
    rng = np.random.default_rng(0)
    for name in problem.field_names:
        diffusivity = _diffusivity(problem, name, x, t)
        starts = [c for c in problem.conditions if isinstance(c, Initial) and c.field_name == name and c.order == 0]
        if diffusivity is None or len(starts) != 1 or any(
                isinstance(c, Initial) and c.field_name == name and c.order > 0 for c in problem.conditions):
            continue
        u0 = sp.sympify(sp.sympify(starts[0].value).xreplace(known))
        for held in (c for c in problem.conditions if isinstance(c, Dirichlet) and c.field_name == name):
            for point in data_jumps(problem, starts[0], held, rng):
                end = lower if abs(point[0] - lower) <= abs(point[0] - upper) else upper
                if abs(point[0] - end) > 1e-9 * (upper - lower):
                    continue  # not at an end of the interval
                at = np.array([[end, float(time.a)]]) if problem.coordinates == (x, t) else np.array([[float(time.a), end]])
                g = sp.sympify(sp.sympify(held.value).xreplace(known))
                jump = float(values_at(g, problem.coordinates, at)[0] - values_at(u0, problem.coordinates, at)[0])
                inward = 1.0 if end == lower else -1.0
                # the front feels the diffusivity at its end (of the layer there, if it jumps inside)
                kappa = float(diffusivity.subs(x, end + inward * 1e-9 * (upper - lower)))
                if not np.isfinite(jump) or jump == 0 or not kappa > 0:
                    continue
                fronts.append(DiffusionFront(name, (str(x), str(t)), end, inward, float(time.a), jump, kappa))
    why = ("where a held end and the start disagree (" + ", ".join(f.describe() for f in fronts)
           + "): the half-line's similarity solution J erfc(d / 2 sqrt(kappa t)) is added to the network's "
           "output, which carries the smooth rest (the field's held values then stay loss terms: the "
           "front's tail reaches them)") if fronts else ""
    return fronts, why


def _diffusivity(problem, name: str, x, t) -> sp.Expr | None:
    """``κ(x)`` of the one equation ``a u_t = b u_xx + ...`` of field ``name`` (``κ = b / a``, ``a``
    a number, ``b`` of ``x`` alone), else ``None``."""
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
