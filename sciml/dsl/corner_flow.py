r"""Viscous flow into a corner where a moving wall meets another: the local Stokes solution.

Where a wall slides past the end of another (a driven lid against a still side wall) the
velocity data jump at the corner, and near it every incompressible viscous flow looks like the
same similarity solution (Taylor's scraper; Moffatt 1964): viscosity dominates as the distance
``r`` to the corner shrinks, and with ``θ`` the angle from the first wall,

.. math::

    \psi = r f(\theta),\quad f = A\sin\theta + C\,\theta\sin\theta + D\,\theta\cos\theta,\qquad
    u_r = f'(\theta),\quad u_\theta = -f(\theta),\qquad
    p = \nu\,\frac{2D\cos\theta + 2C\sin\theta}{r},

with ``A, C, D`` fixed by the walls' speeds and the corner's angle (no penetration, no slip on
both walls) and ``ν`` the viscosity as the momentum equations weigh it (``∇p = ν Δu``). The
velocity depends on the direction of approach alone and the pressure grows like ``1/r``: no
smooth surrogate follows either. Measured on the lid-driven cavity, the network spent its
capacity near the two lid corners, where its residuals had to be faded out, and the flow it
left there drove the whole vortex a few percent weak.

:class:`StokesCorner` adds this local solution, times a Gaussian cutoff, to the surrogate's
output (:func:`sciml.dsl.compile.compile_problem`). It meets both walls' conditions near the
corner and the Stokes equations exactly; what is left for the network is the inertial and
far-field correction, whose velocity is continuous at the corner. :func:`stokes_corners` finds
the corners that call for one in a problem: steady planar incompressible flow (a divergence
equation and momentum equations with a pressure gradient and a Laplacian) on a polygon or a
rectangle whose wall velocities jump at a vertex. The generic recipe (:mod:`sciml.recipe`)
applies it; a problem may also declare it (``Problem(enrichments=[...])``).

References:
    Taylor (1960), "Similarity solutions of hydrodynamic problems", in Aeronautics and
    Astronautics (Pergamon), 21-28.
    Moffatt (1964), "Viscous and resistive eddies near a sharp corner", JFM 18, 1-18.
"""

from __future__ import annotations

from dataclasses import dataclass

import jax.numpy as jnp
import numpy as np
import sympy as sp

from sciml.dsl.errors import ProblemError
from sciml.dsl.symbols import field_name
from sciml.functions import finite_numbers

__all__ = ["StokesCorner", "incompressible_flow", "stokes_corners"]

CUTOFF = 0.1  # the local solution's Gaussian radius, as a fraction of the domain's extent
EDGE_FRACTION = 1 / 3  # ... and at most this fraction of each wall meeting at the corner


@dataclass(frozen=True)
class StokesCorner:
    """The local Stokes flow at one corner, added to the surrogate's velocity and pressure.

    Args:
        velocity: names of the two velocity fields ``(u, v)`` (along ``coordinates``).
        pressure: name of the pressure field.
        coordinates: names of the two coordinates ``(x, y)``.
        corner: the corner's position.
        direction: unit vector along the first wall, away from the corner; the fluid lies
            counter-clockwise from it, within ``angle``.
        angle: the interior angle between the walls (radians).
        wall_speeds: each wall's velocity along its own direction away from the corner.
        viscosity: ``ν`` of ``∇p = ν Δu`` in the problem's momentum equations.
        radius: the Gaussian cutoff's radius, ``exp(-(r / radius)^2)``.
    """

    velocity: tuple[str, str]
    pressure: str
    coordinates: tuple[str, str]
    corner: tuple[float, float]
    direction: tuple[float, float]
    angle: float
    wall_speeds: tuple[float, float]
    viscosity: float
    radius: float

    KIND = "stokes_corner"

    @property
    def field_names(self) -> tuple[str, str, str]:
        return (*self.velocity, self.pressure)

    def coefficients(self) -> tuple[float, float, float]:
        """``(A, C, D)`` of ``f``: ``f(0) = f(α) = 0``, ``f'(0) = U₁``, ``f'(α) = U₂``."""
        a = self.angle
        u1, u2 = self.wall_speeds
        s, det = np.sin(a), a**2 - np.sin(a) ** 2
        return (a * (u1 * a + u2 * s) / det,
                (-u1 * a + u1 * np.sin(2 * a) / 2 + u2 * a * np.cos(a) - u2 * s) / det,
                -(u1 * s + u2 * a) * s / det)

    def __call__(self, xy: jnp.ndarray) -> tuple[jnp.ndarray, jnp.ndarray, jnp.ndarray]:
        """``(u, v, p)`` of the cut-off local solution at one point ``xy`` (its two coordinates)."""
        A, C, D = self.coefficients()
        e1 = np.asarray(self.direction, float)
        e2 = np.array([-e1[1], e1[0]])
        d = xy - jnp.asarray(self.corner, xy.dtype)
        x, y = d @ jnp.asarray(e1, xy.dtype), d @ jnp.asarray(e2, xy.dtype)
        r2 = x**2 + y**2
        # At the corner itself the flow has no value: keep the arithmetic finite (and its
        # derivatives NaN-free) there; the cutoff and the fields are taken from a nearby angle.
        r2_safe = jnp.where(r2 > 0, r2, 1.0)
        theta = jnp.arctan2(y, jnp.where(r2 > 0, x, 1.0))
        # Angles from 0 to the corner's angle, which may pass pi (a re-entrant corner): the cut
        # of arctan2 moves to the middle of the wedge outside the fluid.
        theta = jnp.where(theta < (self.angle - 2 * np.pi) / 2, theta + 2 * np.pi, theta)
        cos, sin = jnp.cos(theta), jnp.sin(theta)
        f = A * sin + C * theta * sin + D * theta * cos
        df = A * cos + C * (sin + theta * cos) + D * (cos - theta * sin)
        along, across = df * cos + f * sin, df * sin - f * cos  # (u_r, u_θ) = (f', -f) in the corner's frame
        cutoff = jnp.exp(-r2_safe / self.radius**2)
        u = cutoff * (along * e1[0] + across * e2[0])
        v = cutoff * (along * e1[1] + across * e2[1])
        p = cutoff * self.viscosity * 2 * (D * cos + C * sin) / jnp.sqrt(r2_safe)
        return u, v, p

    def describe(self) -> str:
        c = ", ".join(f"{n} = {v:g}" for n, v in zip(self.coordinates, self.corner))
        return (f"StokesCorner({c}: walls at {np.degrees(self.angle):.0f} degrees moving at "
                f"{self.wall_speeds[0]:g} and {self.wall_speeds[1]:g}, viscosity {self.viscosity:g})")

    def check(self, problem) -> None:
        pairs = (self.velocity, self.coordinates, self.corner, self.direction, self.wall_speeds)
        shaped = all(len(pair) == 2 for pair in pairs) and finite_numbers(
            [*self.corner, *self.direction, *self.wall_speeds, self.angle, self.viscosity, self.radius])
        if not shaped:
            raise ProblemError(f"{self!r}: give two velocity fields, two coordinates, and a corner, a direction "
                               "and wall speeds of two finite numbers each")
        missing = [n for n in self.field_names if n not in problem.field_names]
        missing += [n for n in self.coordinates if n not in problem.coordinate_names]
        if missing:
            raise ProblemError(f"{self.describe()} names {missing}, which the problem {problem.name!r} does not have "
                               f"(fields {problem.field_names}, coordinates {problem.coordinate_names})")
        if not (0 < self.angle < 2 * np.pi) or self.radius <= 0 or self.viscosity <= 0:
            raise ProblemError(f"{self.describe()}: the angle must lie in (0, 2 pi) and the radius and viscosity "
                               "be positive")
        if abs(np.hypot(*self.direction) - 1) > 1e-9:
            raise ProblemError(f"{self.describe()}: direction {self.direction} must be a unit vector")


def _number(expr) -> float | None:
    expr = sp.nsimplify(expr) if expr != 0 else expr
    return float(expr) if expr.is_number and expr.is_real else None


def incompressible_flow(problem) -> tuple[tuple, object, float] | None:
    """``((u, v), p, ν)`` (sympy fields, viscosity) when ``problem`` is steady planar
    incompressible viscous flow — an equation ``k (∂u/∂x + ∂v/∂y)`` and momentum equations
    ``a ∂p/∂x - a ν Δu + ...`` and ``a' ∂p/∂y - a' ν Δv + ...`` with the same constant ``ν > 0``
    (known parameters take their values) — else None."""
    from sciml.dsl.problem import _fields

    coords = problem.coordinates
    if len(coords) != 2 or problem.space_time.time is not None:
        return None
    x, y = coords
    known = {q: q.value for q in problem.parameters if not q.learn}
    residuals = [sp.expand(sp.sympify(r).xreplace(known).doit()) for r in problem.residuals]
    fields = list(_fields(problem))

    def coefficient(expr, f, *wrt) -> float | None:
        return _number(expr.coeff(sp.Derivative(f, *wrt)))

    velocity = None
    for r in residuals:
        for u in fields:
            for v in fields:
                k = coefficient(r, u, x)
                if u != v and k and sp.expand(r - k * (sp.Derivative(u, x) + sp.Derivative(v, y))) == 0:
                    velocity = (u, v)
    if velocity is None:
        return None

    def viscosity(f, along) -> dict:
        found = {}
        for r in residuals:
            lap_x, lap_y = coefficient(r, f, (x, 2)), coefficient(r, f, (y, 2))
            if not lap_x or lap_x != lap_y:
                continue
            for p in fields:
                a = coefficient(r, p, along) if p not in velocity else None
                if a and -lap_x / a > 0:
                    found[p] = -lap_x / a
        return found

    along_x, along_y = viscosity(velocity[0], x), viscosity(velocity[1], y)
    for p, nu in along_x.items():
        if p in along_y and np.isclose(nu, along_y[p], rtol=1e-9):
            return velocity, p, nu
    return None


def _polygon(problem) -> np.ndarray | None:
    """The counter-clockwise vertices of the problem's planar domain, or None if it has none."""
    from sciml.dsl.domains import Box, Polygon

    (domain,) = problem.space_time.factors
    if isinstance(domain, Polygon):
        return domain.vertices
    if isinstance(domain, Box) and len(domain.coordinates) == 2:
        (x0, y0), (x1, y1) = domain.bounds()
        return np.array([(x0, y0), (x1, y0), (x1, y1), (x0, y1)], float)
    return None


def _wall_velocity(problem, velocity, point) -> np.ndarray | None:
    """The Dirichlet data of both velocity fields at ``point`` on the boundary, or None where a
    field has none there."""
    from sciml.dsl.conditions import Dirichlet
    from sciml.dsl.problem import condition_piece

    known = {q: q.value for q in problem.parameters if not q.learn}
    coords = problem.coordinates
    out = []
    for f in velocity:
        values = []
        for c in problem.conditions:
            if not isinstance(c, Dirichlet) or c.field_name != field_name(f):
                continue
            at = dict(zip(coords, point))
            if abs(float(sp.sympify(condition_piece(problem, c).distance).subs(at))) > 1e-9:
                continue
            value = sp.sympify(c.value).xreplace(known).subs(at)
            if not value.is_number:  # data holding a learned parameter: not judged
                return None
            values.append(float(value))
        if not values or np.ptp(values) > 1e-9:
            return None
        out.append(values[0])
    return np.asarray(out)


def stokes_corners(problem) -> tuple[list[StokesCorner], str]:
    """The corners of ``problem`` that call for the local Stokes solution, and why (or why not).

    A corner qualifies when the problem is steady planar incompressible flow
    (:func:`incompressible_flow`), its domain a polygon or rectangle, both walls meeting there
    carry Dirichlet data for both velocity fields, neither lets fluid through (the normal
    velocity vanishes: no inflow corner), and their velocities differ by more than
    :data:`~sciml.dsl.problem.JUMP` of the larger one."""
    from sciml.dsl.problem import JUMP, domain_extent

    flow = incompressible_flow(problem)
    if flow is None:
        return [], "not steady planar incompressible viscous flow"
    velocity, pressure, nu = flow
    vertices = _polygon(problem)
    if vertices is None:
        return [], "the domain has no corners (not a polygon or rectangle)"
    extent = domain_extent(problem)
    names = lambda fs: tuple(field_name(f) for f in fs)  # noqa: E731
    found = []
    for k, c in enumerate(vertices):
        to_next, to_prev = vertices[(k + 1) % len(vertices)] - c, vertices[k - 1] - c
        first, second = to_next / np.linalg.norm(to_next), to_prev / np.linalg.norm(to_prev)
        angle = float(np.arctan2(first[0] * second[1] - first[1] * second[0], first @ second) % (2 * np.pi))
        step = 1e-3 * min(np.linalg.norm(to_next), np.linalg.norm(to_prev))
        walls = [_wall_velocity(problem, velocity, c + step * e) for e in (first, second)]
        if any(w is None for w in walls):
            continue
        normals = [np.array([-first[1], first[0]]), np.array([second[1], -second[0]])]
        scale = max(np.linalg.norm(walls[0]), np.linalg.norm(walls[1]))
        if scale == 0 or np.linalg.norm(walls[0] - walls[1]) <= JUMP * scale:
            continue
        if any(abs(w @ n) > 1e-6 * scale for w, n in zip(walls, normals)):
            continue
        radius = min(CUTOFF * extent, EDGE_FRACTION * np.linalg.norm(to_next), EDGE_FRACTION * np.linalg.norm(to_prev))
        found.append(StokesCorner(
            velocity=names(velocity), pressure=field_name(pressure), coordinates=problem.coordinate_names,
            corner=tuple(float(a) for a in c), direction=tuple(float(a) for a in first), angle=angle,
            wall_speeds=(float(walls[0] @ first), float(walls[1] @ second)), viscosity=float(nu),
            radius=float(radius)))
    if not found:
        return [], "no corner where the walls' velocities jump"
    return found, (f"steady incompressible flow whose wall velocities jump at {len(found)} corner"
                   f"{'s' if len(found) > 1 else ''}: the local Stokes solution there (Taylor's scraper, "
                   f"velocity a function of the angle alone, pressure ~ 1/r) is added to the network's output "
                   f"within a Gaussian radius of {found[0].radius:.3g}, so the network carries the rest: "
                   + "; ".join(s.describe() for s in found))
