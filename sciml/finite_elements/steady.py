"""A steady elliptic problem in the plane solved by P2 finite elements (see the package)."""

from __future__ import annotations

import dataclasses
import time as clock
from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np
import sympy as sp
from sympy.core.function import AppliedUndef

from sciml.finite_elements.meshes import (
    OutOfScope, OutOfTime, TIME_BUDGET, inside, mesh_of, owners, p2_values, tying, until_agreed,
)
from sciml.finite_elements.reading import Edge, edges_of, plane, principal_part
from sciml.functions import lambdify

if TYPE_CHECKING:
    from sciml.dsl.domains import Domain


POINTS = 4000
"""Points of the domain (drawn uniformly, fixed seed) where the surrogate and the solution are
compared."""
LARGEST_UNKNOWNS = 300_000
"""The finest mesh tried has at most this many unknowns: the meshes halve until two agree or this
is reached."""
NEWTON_STEPS = 40


NEWTON_TOLERANCE = 1e-10


@dataclasses.dataclass(frozen=True)
class _Setup:
    """What :func:`_read` finds in a steady problem: the domain, the weak form ``-∫F·∇v + ∫G v``
    (``weak(x, y, u, u_x, u_y) -> ([F_x, F_y, G], their derivatives in u, u_x, u_y)``), the
    conditions and ``ellipticity(x, y, u)``, the determinant of ``A``."""

    domain: Domain
    weak: Callable
    edges: list[Edge]
    ellipticity: Callable


def finite_element_distance(problem, predict) -> tuple[dict[str, float], str | None]:
    """The relative L2 distance of the surrogate from the finite-element solution over
    :data:`POINTS` points of the domain, ``({field: distance}, None)``; ``({}, None)`` for a
    problem outside this module's scope, ``({}, why)`` when the solve failed or did not converge.

    ``predict``: ``points (n, 2) -> fields (n, n_fields)``, the surrogate (in the problem's
    coordinate and field order); it is also where Newton's method starts."""
    try:
        setup = _read(problem)
    except Exception as error:  # an auxiliary check: it says why, and never ends the run
        return {}, f"the finite-element check could not read the problem ({type(error).__name__}: {error})"
    if setup is None:
        return {}, None
    (name,) = problem.field_names
    points = setup.domain.sample(POINTS, np.random.default_rng(0))
    points = points[inside(mesh_of(setup.domain, 0, curved=True), points)]  # a disk's first mesh lies inside the finer
    predicted = np.asarray(predict(points), np.float64)[:, 0]
    if not np.all(np.isfinite(predicted)):
        return {}, "the surrogate is not finite on the domain, so no finite-element solve could start from it"
    if not np.all(setup.ellipticity(*points.T, predicted) > 0):
        return {}, None  # not elliptic where the surrogate is: no Galerkin check
    try:
        values, _, failure = until_agreed(
            lambda level: mesh_of(setup.domain, level, curved=True),
            lambda mesh: 2 * mesh.nelements > LARGEST_UNKNOWNS,  # P2: about twice as many unknowns as triangles
            lambda mesh, level, started: _solve(setup, mesh, points, predict, started),
            lambda finer, coarser: np.linalg.norm(finer - coarser) / max(np.linalg.norm(finer), 1e-300),
            "finite-element solve", f"{LARGEST_UNKNOWNS} unknowns")
    except OutOfScope:
        return {}, None
    if failure:
        return {}, failure
    return {name: float(np.linalg.norm(predicted - values) / max(np.linalg.norm(values), 1e-300))}, None


def _read(problem) -> _Setup | None:
    """The problem's weak form and conditions, or ``None`` when it is out of scope."""
    if (problem.space_time.time is not None or len(problem.coordinates) != 2 or problem.data is not None
            or problem.unknowns or problem.unknown_parameters or len(problem.field_names) != 1
            or len(problem.residuals) != 1):
        return None
    domain = plane(problem)
    if domain is None:
        return None
    x, y = problem.coordinates
    known = problem.known_values
    (residual,) = problem.residuals
    fields = residual.atoms(AppliedUndef)
    if len(fields) != 1 or tuple((u := fields.pop()).args) != (x, y):
        return None
    U, Px, Py, Qxx, Qxy, Qyy = sp.symbols("U P_x P_y Q_xx Q_xy Q_yy", real=True)
    symbols = {u.diff(x, 2): Qxx, u.diff(x, y): Qxy, u.diff(y, x): Qxy, u.diff(y, 2): Qyy,
               u.diff(x): Px, u.diff(y): Py}
    if any(d not in symbols for d in residual.atoms(sp.Derivative)):
        return None  # a third or higher derivative
    equation = residual.subs(known).xreplace(symbols).xreplace({u: U})
    if not equation.free_symbols <= {x, y, U, Px, Py, Qxx, Qxy, Qyy}:
        return None
    second, gradient, z = (Qxx, Qxy, Qyy), (Px, Py), (x, y)
    A, _, g = principal_part(equation, second, gradient)
    if any(a.free_symbols & {Px, Py, *second} for row in A for a in row):
        return None  # not linear in the second derivatives, or their coefficients hold the slope
    flux = [A[i][0] * Px + A[i][1] * Py for i in range(2)]
    interior = g - sum((sp.diff(A[i][j], z[i]) + sp.diff(A[i][j], U) * gradient[i]) * gradient[j]
                       for i in range(2) for j in range(2))
    form = [*flux, interior]
    weak = lambdify((x, y, U, Px, Py), [form, [[sp.diff(e, s) for s in (U, Px, Py)] for e in form]], "numpy")
    ellipticity = lambdify((x, y, U), A[0][0] * A[1][1] - A[0][1] ** 2, "numpy")  # A definite, of either sign
    edges = edges_of(problem, problem.field_names[0], u, A, None)
    if edges is None:
        return None
    if sp.diff(interior, U) == 0 and not any(e.anchors for e in edges):
        return None  # fluxes alone fix u up to a constant: no unique solution to compare with
    return _Setup(domain, weak, edges, ellipticity)


def _solve(setup: _Setup, mesh, points: np.ndarray, predict, started: float) -> np.ndarray:
    """The P2 solution on ``mesh`` at the comparison points, by Newton's method from the surrogate."""
    from skfem import Basis, BilinearForm, ElementTriP2, FacetBasis, LinearForm, condense, solve

    element = Basis(mesh, ElementTriP2())
    boundary, owner = owners(mesh, setup.edges)
    tie, _ = tying(element.doflocs, setup.edges)  # Newton's unknowns: one per set of tied nodes
    u = np.asarray(predict(element.doflocs.T), np.float64)[:, 0].copy()
    held, held_values = [], []
    for k, edge in enumerate(setup.edges):
        if edge.value is not None and np.any(owner == k):
            dofs = element.get_dofs(facets=boundary[owner == k]).all()
            held.append(tie.indices[dofs])
            held_values.append(edge.value(*element.doflocs[:, dofs], 0.0)[0] * np.ones(dofs.size))
    u = (tie.T @ u) / (tie.T @ np.ones(u.size))  # tied copies of the surrogate: their mean
    for dofs, values in zip(held, held_values):
        u[dofs] = values
    held = np.unique(np.concatenate(held)) if held else np.zeros(0, int)
    edges = [(FacetBasis(mesh, ElementTriP2(), facets=boundary[owner == k]), edge.flux)
             for k, edge in enumerate(setup.edges) if edge.flux is not None and np.any(owner == k)]

    def parts(w):
        previous = w["previous"]
        return setup.weak(*w.x, previous.value, *previous.grad)

    @LinearForm
    def residual(v, w):
        (fx, fy, g), _ = parts(w)
        return -(fx * v.grad[0] + fy * v.grad[1]) + g * v

    @BilinearForm
    def jacobian(t, v, w):
        _, slopes = parts(w)
        change = [d[0] * t + d[1] * t.grad[0] + d[2] * t.grad[1] for d in slopes]
        return -(change[0] * v.grad[0] + change[1] * v.grad[1]) + change[2] * v

    def edge_forms(flux):
        @LinearForm
        def edge_residual(v, w):
            return flux(*w.x, 0.0, w["previous"].value, *w.n)[0] * v

        @BilinearForm
        def edge_jacobian(t, v, w):
            return flux(*w.x, 0.0, w["previous"].value, *w.n)[1] * t * v

        return edge_residual, edge_jacobian

    forms = [(basis, *edge_forms(flux)) for basis, flux in edges]

    def assembled(values):
        values = tie @ values
        r = residual.assemble(element, previous=element.interpolate(values))
        J = jacobian.assemble(element, previous=element.interpolate(values))
        for basis, edge_residual, edge_jacobian in forms:
            r = r + edge_residual.assemble(basis, previous=basis.interpolate(values))
            J = J + edge_jacobian.assemble(basis, previous=basis.interpolate(values))
        return tie.T @ r, (tie.T @ J @ tie).tocsr()

    free = np.setdiff1d(np.arange(u.size), held)
    with np.errstate(all="ignore"):
        r, J = assembled(u)
        for _ in range(NEWTON_STEPS):
            if clock.monotonic() - started > TIME_BUDGET:
                raise OutOfTime
            step = solve(*condense(J, -r, x=np.zeros_like(u), D=held))
            if not np.all(np.isfinite(step)):
                raise ArithmeticError("a Newton step is not finite")
            size, damping = np.linalg.norm(r[free]), 1.0
            while True:  # halve the step until the residual falls (or the step is negligible)
                trial = u + damping * step
                r_trial, J_trial = assembled(trial)
                if np.linalg.norm(r_trial[free]) < size or damping < 1e-3:
                    break
                damping /= 2
            u, r, J = trial, r_trial, J_trial
            if damping * np.linalg.norm(step) <= NEWTON_TOLERANCE * max(np.linalg.norm(u), 1e-300):
                break
        else:
            raise RuntimeError(f"Newton's method did not converge in {NEWTON_STEPS} steps")
    return p2_values(element, tie @ u, points.T)
