r"""A source at a point of the plane or of space: its free-space solution.

A charge in a box, a well in an aquifer, a heater too small to resolve: ``Δu = -s δ(x - a) δ(y - b)``.
The exact solution is infinite at the point — ``-(s / 2π) log r`` in the plane, ``s / (4π r)`` in
space — and no network of smooth functions follows it. Written with sympy's ``DiracDelta`` it had
been read as two line sources, each of the other's delta as its strength.

:class:`PointSource` adds the free-space solution of the equation's highest derivatives at the
point to the field (:func:`sciml.dsl.compile.compile_problem`), and the network carries the
smooth rest, the boundary conditions included (the recipe keeps them as loss terms: the singular
part reaches the boundary). For ``Σ A_ij ∂_i ∂_j u = -s δ`` with ``A`` constant near the point,

.. math:: u_s = -\frac{s}{2\pi\sqrt{\det A}} \log\rho \ \text{(plane)}, \qquad
          u_s = \frac{s}{4\pi\sqrt{\det A}\,\rho} \ \text{(space)}, \qquad \rho^2 = r^\top A^{-1} r,

which ``A : ∇∇`` maps to zero away from the point. :func:`point_sources` finds the terms
``s δ(x - a) δ(y - b) [δ(z - c)]`` of steady equations (one delta per coordinate of space; a
source on a line of space, or in an evolution, is a :class:`ProblemError`); the generic recipe
(:mod:`sciml.recipe`) applies them, and the point joins the problem's singular points (its
neighbourhood is left out of the residuals and the verdict).
"""

from __future__ import annotations

from dataclasses import dataclass

import jax.numpy as jnp
import numpy as np
import sympy as sp
from sympy.core.function import AppliedUndef

from sciml.dsl.errors import ProblemError
from sciml.dsl.interfaces import space_coordinates
from sciml.functions import finite_numbers

__all__ = ["PointSource", "at_point_sources", "point_sources", "point_terms"]


@dataclass(frozen=True)
class PointSource:
    """``-strength / (2π √det A) log ρ`` (two coordinates) or ``strength / (4π √det A ρ)`` (three)
    added to ``field``, ``ρ² = rᵀ A⁻¹ r``, ``r`` the position along ``coordinates`` less ``at``;
    ``inverse`` is ``A⁻¹`` row by row."""

    field: str
    coordinates: tuple[str, ...]
    at: tuple[float, ...]
    strength: float
    inverse: tuple[float, ...]

    KIND = "point_source"

    @property
    def field_names(self) -> tuple[str]:
        return (self.field,)

    def __call__(self, z: jnp.ndarray) -> tuple[jnp.ndarray]:
        d = len(self.coordinates)
        metric = jnp.asarray(self.inverse, z.dtype).reshape(d, d)
        r = z - jnp.asarray(self.at, z.dtype)
        squared = r @ metric @ r
        # at the point itself (an evaluation grid's node) a finite value, and finite derivatives
        tiny = jnp.asarray(1e-12, z.dtype)
        safe = jnp.where(squared > tiny, squared, tiny)
        factor = self.strength * float(np.sqrt(abs(np.linalg.det(np.reshape(self.inverse, (d, d))))))
        if d == 2:
            return (-factor / (4 * np.pi) * jnp.log(safe),)
        return (factor / (4 * np.pi) / jnp.sqrt(safe),)

    def describe(self) -> str:
        at = ", ".join(f"{c} = {a:g}" for c, a in zip(self.coordinates, self.at))
        return f"PointSource({self.field} at {at}: strength {self.strength:g})"

    def check(self, problem) -> None:
        d = len(self.coordinates)
        shaped = d in (2, 3) and len(self.at) == d and len(self.inverse) == d * d and finite_numbers(
            [*self.at, self.strength, *self.inverse])
        if not shaped or self.field not in problem.field_names \
                or any(c not in problem.coordinate_names for c in self.coordinates):
            raise ProblemError(f"{self!r}: give a field, two or three coordinates of the problem, a point "
                               "along them, a strength and the inverse of the coefficient matrix, all finite")
        if np.any(np.linalg.eigvalsh(np.reshape(self.inverse, (d, d))) <= 0):
            raise ProblemError(f"{self.describe()}: the coefficient matrix must be positive definite")


def point_terms(problem) -> list[tuple[int, tuple, sp.Expr]]:
    """``(equation, point, s)`` for every term ``s Π δ(c_i (x_i - a_i))`` of an equation with one
    delta along each coordinate of space (``s`` with the ``1/|c_i|`` taken in). Raises
    :class:`ProblemError` for deltas along some of them only (a line source in space)."""
    space = space_coordinates(problem)
    known = problem.known_values
    out = []
    for k, equation in enumerate(problem.written_residuals):
        for term in sp.Add.make_args(sp.expand(equation)):
            deltas = [d for d in term.atoms(sp.DiracDelta) if not d.args[0].atoms(AppliedUndef)]
            if len(deltas) < 2:
                continue
            where = f"equation {k + 1}: the term {term}"
            point, strength = {}, term
            for delta in deltas:
                phi = sp.sympify(sp.sympify(delta.args[0]).xreplace(known))
                (axis,) = phi.free_symbols if len(phi.free_symbols) == 1 else (None,)
                if axis not in space or axis in point or len(delta.args) > 1 or sp.degree(phi, axis) != 1:
                    raise ProblemError(f"{where} must be a source at a point, s * DiracDelta(x - a) * "
                                       "DiracDelta(y - b), one delta along each coordinate of space")
                slope = sp.diff(phi, axis)
                point[axis] = float(sp.solve(phi, axis)[0])
                strength = strength.xreplace({delta: sp.Integer(1)}) / abs(float(slope))
            if set(point) != set(space):
                raise ProblemError(f"{where} is a source on a line of space (a delta along "
                                   f"{', '.join(map(str, point))} alone), which sciml cannot hold; give it a "
                                   "width (a narrow Gaussian) or a delta along every coordinate")
            out.append((k, tuple(point[c] for c in space), sp.sympify(strength.xreplace(known))))
    return out


def point_sources(problem) -> tuple[list[PointSource], str]:
    """The free-space solutions a problem's point sources call for (see the module docstring),
    and why (empty: none). Raises :class:`ProblemError` for a point source the problem cannot
    hold: in an evolution, of a strength that is not a number, in an equation whose highest
    derivatives in space are not of second order with constant coefficients near it."""
    from sciml.dsl.symbols import field_name

    terms = point_terms(problem)
    if not terms:
        return [], ""
    if problem.space_time.time is not None:
        raise ProblemError("a source at a point in an evolution equation is not held (its singular part grows "
                           "in time); give it a width (a narrow Gaussian)")
    space = list(problem.coordinates)
    known = problem.known_values
    found = []
    for k, point, strength in terms:
        where = f"the point source of equation {k + 1}"
        if not strength.is_number:
            raise ProblemError(f"{where}: its strength {strength} must be a number (known parameters allowed)")
        equation = problem.residuals[k]
        seconds = [d for d in equation.atoms(sp.Derivative) if isinstance(d.expr, AppliedUndef)
                   and sum(int(n) for _, n in d.variable_count) >= 2]
        fields = {d.expr for d in seconds}
        if len(fields) != 1 or any(sum(int(n) for _, n in d.variable_count) != 2 for d in seconds):
            raise ProblemError(f"{where}: its equation must hold second derivatives in space of one field alone")
        (u,) = fields
        at = dict(zip(space, point))
        matrix = np.zeros((len(space), len(space)))
        for d in seconds:
            axes = [v for v, n in d.variable_count for _ in range(int(n))]
            coefficient = sp.sympify(sp.diff(equation, d).xreplace(known))
            if coefficient.atoms(AppliedUndef, sp.Derivative) or not coefficient.free_symbols <= set(space):
                raise ProblemError(f"{where}: the coefficient {coefficient} of {d} must not hold the fields")
            value = float(coefficient.subs(at))
            i, j = space.index(axes[0]), space.index(axes[1])
            matrix[i, j] += value / (1 if i == j else 2)
            matrix[j, i] += 0 if i == j else value / 2
        eigenvalues = np.linalg.eigvalsh(matrix)
        if not (np.all(eigenvalues > 0) or np.all(eigenvalues < 0)):
            raise ProblemError(f"{where}: its equation is not elliptic at the point (second-order coefficients "
                               f"{matrix.tolist()})")
        # A u'' + s delta = 0 with A negative definite (-lap u = f written as -u_xx - u_yy - f):
        # the same solution as (-A) u'' - s delta = 0
        sign = 1.0 if eigenvalues[0] > 0 else -1.0
        found.append(PointSource(field_name(u), tuple(map(str, space)), point, sign * float(strength),
                                 tuple(np.linalg.inv(sign * matrix).ravel().tolist())))
    why = ("a source at a point (" + ", ".join(s.describe() for s in found) + "): the free-space solution of "
           "the equation's second derivatives there (-s log(rho) / (2 pi sqrt(det A)) in the plane, s / (4 pi "
           "sqrt(det A) rho) in space) is added to the network's output, which carries the smooth rest (the "
           "field's held values then stay loss terms)")
    return found, why


def at_point_sources(problem, points: np.ndarray) -> np.ndarray:
    """``(n,)``: whether each point (all coordinates, in the problem's order) lies within 1e-6 of
    the domain's extent of a point source, where the exact solution is infinite and no value
    of it — a reference's, or the free-space solution's, finite there — can be compared."""
    found = point_terms(problem)
    near = np.zeros(len(points), bool)
    if not found:
        return near
    lower, upper = problem.space_time.bounds()
    radius = 1e-6 * float(np.max(np.asarray(upper, float) - np.asarray(lower, float)))
    for _, at, _ in found:
        near |= np.linalg.norm(np.asarray(points, float) - np.asarray(at, float), axis=1) <= radius
    return near
