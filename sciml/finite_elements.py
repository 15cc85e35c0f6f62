r"""A classical check of a steady problem in the plane: finite elements.

A forward ODE problem is integrated classically, an evolution PDE on an interval solved by the
method of lines (:mod:`sciml.method_of_lines`), a steady problem on an interval by a two-point
boundary-value solve (:mod:`sciml.boundary_value`); this module gives a steady problem in two
space dimensions the same check: one field ``u`` obeying one second-order elliptic equation

.. math:: \sum_{ij} A_{ij}(z, u)\, \partial_i \partial_j u + g(z, u, \nabla u) = 0

(Poisson, Helmholtz, advection–diffusion, a reaction, a conductivity that depends on ``u``:
anything linear in the second derivatives with a definite matrix ``A``) on a rectangle, a
polygon or a disk, every part of the boundary under one condition — a value (Dirichlet) or,
where ``A`` is ``a I``, a flux: Neumann, Robin or any
:class:`~sciml.dsl.conditions.BoundaryEquation` solvable for ``∂u/∂n`` (a radiating edge) — and
nothing learned.

The equation is integrated by parts against each test function,

.. math:: -\int (A \nabla u) \cdot \nabla v + \int \big(g - (\nabla \cdot A)\, \nabla u\big) v
          + \oint a\, \partial_n u\, v = 0,

the flux term taking ``∂u/∂n`` from the edge's condition, and solved with quadratic (P2)
Lagrange elements by scikit-fem (Gustafsson & McBain 2020): Newton's method from the surrogate,
so of several solutions of a nonlinear problem it converges to the one the surrogate is near.
The mesh is halved until two solutions agree within :data:`ACCURACY` at the comparison points
(their distance estimates the coarser one's error; a re-entrant corner's singular solution is
met by grading the mesh towards the corner, as Babuška's meshes do). A problem outside this
scope — a system of fields, a domain with a curved hole, a condition of another kind — gets no
check: ``({}, None)``.

Reference: Gustafsson, McBain (2020), "scikit-fem: A Python package for finite element assembly",
JOSS 5(52), 2369.
"""

from __future__ import annotations

import dataclasses
import time as clock

import numpy as np
import sympy as sp
from sympy.core.function import AppliedUndef

from sciml.functions import lambdify

__all__ = ["ACCURACY", "POINTS", "finite_element_distance", "p2_values"]

ACCURACY = 1e-3
"""The largest estimated relative error of a solution that is used: a tenth of the verdict's line."""
POINTS = 4000
"""Points of the domain (drawn uniformly, fixed seed) where the surrogate and the solution are
compared."""
CELLS = 8
"""Cells across the domain's shorter side on the first mesh."""
LARGEST_UNKNOWNS = 300_000
"""The finest mesh tried has at most this many unknowns: the meshes halve until two agree or this
is reached."""
NEWTON_STEPS = 40
NEWTON_TOLERANCE = 1e-10
TIME_BUDGET = 120.0
"""Seconds the solves may take together before the check is given up."""


class _OutOfTime(Exception):
    pass


class _OutOfScope(Exception):
    pass


@dataclasses.dataclass(frozen=True)
class _Setup:
    """What :func:`_read` finds: the domain, the weak form's coefficients and the edges' conditions.

    ``flux`` and ``interior``: NumPy functions of ``(x, y, u, u_x, u_y)`` returning ``[F_x, F_y,
    G]`` and their derivatives in ``u``, ``u_x``, ``u_y`` (the weak form ``-∫F·∇v + ∫G v``);
    ``values``: per condition, ``g(x, y)`` of a value condition or ``None``; ``fluxes``: per
    condition, ``a ∂u/∂n`` as a NumPy function of ``(x, y, u, n_x, n_y)`` and its derivative in
    ``u``, or ``None``; ``distances``: per condition, the distance to its boundary piece."""

    domain: object
    coordinates: tuple[sp.Symbol, sp.Symbol]
    weak: object
    values: list
    fluxes: list
    distances: list
    ellipticity: object


def finite_element_distance(problem, predict) -> tuple[dict[str, float], str | None]:
    """The relative L2 distance of the surrogate from the finite-element solution over
    :data:`POINTS` points of the domain, ``({field: distance}, None)``; ``({}, None)`` for a
    problem outside this module's scope, ``({}, why)`` when the solve failed or did not converge.

    ``predict``: ``points (n, 2) -> fields (n, n_fields)``, the surrogate (in the problem's
    coordinate and field order); it is also where Newton's method starts."""
    setup = _read(problem)
    if setup is None:
        return {}, None
    (name,) = problem.field_names
    points = setup.domain.sample(POINTS, np.random.default_rng(0))
    started = clock.monotonic()
    try:
        previous, level, estimate = None, 0, np.inf
        while True:
            mesh = _mesh(setup.domain, level)
            if previous is not None and 2 * mesh.nelements > LARGEST_UNKNOWNS:
                break  # P2 on triangles: about twice as many unknowns as triangles
            if level == 0:
                points = points[_inside(mesh, points)]  # a disk's first mesh lies inside the finer ones
                predicted = np.asarray(predict(points), np.float64)[:, 0]
                if not np.all(np.isfinite(predicted)):
                    return {}, "the surrogate is not finite on the domain, so no finite-element solve could start from it"
                if not np.all(setup.ellipticity(*points.T, predicted) > 0):
                    return {}, None  # not elliptic where the surrogate is: no Galerkin check
            values = _solve(setup, mesh, points, predict, started)
            if previous is not None:
                estimate = np.linalg.norm(values - previous) / max(np.linalg.norm(values), 1e-300)
                if not np.isfinite(estimate) or estimate <= ACCURACY:
                    break
            previous, level = values, level + 1
    except _OutOfScope:
        return {}, None
    except _OutOfTime:
        return {}, f"the finite-element solve took over {TIME_BUDGET:.0f} s"
    except (RuntimeError, ValueError, ArithmeticError, np.linalg.LinAlgError) as error:
        return {}, f"the finite-element solve failed ({error})"
    if not np.isfinite(estimate) or estimate > ACCURACY:
        return {}, (f"the finite-element solve did not converge on meshes of up to {LARGEST_UNKNOWNS} unknowns "
                    f"(estimated error {estimate:.1e} > {ACCURACY:.0e})")
    return {name: float(np.linalg.norm(predicted - values) / max(np.linalg.norm(values), 1e-300))}, None


def _read(problem) -> _Setup | None:
    """The problem's weak form and conditions, or ``None`` when it is out of scope."""
    from sciml.dsl.conditions import resolve_piece
    from sciml.dsl.domains import Box, Disk, Interval, Polygon
    from sciml.dsl.explicit import solved_for
    from sciml.dsl.symbols import Normal

    if (problem.space_time.time is not None or len(problem.coordinates) != 2 or problem.data is not None
            or problem.unknowns or problem.unknown_parameters or len(problem.field_names) != 1
            or len(problem.residuals) != 1):
        return None
    factors = problem.space_time.factors
    if len(factors) == 1 and isinstance(factors[0], (Polygon, Disk, Box)):
        domain = factors[0]
    elif len(factors) == 2 and all(isinstance(f, Interval) for f in factors):
        domain = problem.space_time  # a rectangle written as a product of two intervals
    else:
        return None  # a hole, a curved piece of another kind: no mesh here
    x, y = problem.coordinates
    if tuple(domain.coordinates) != (x, y):
        return None
    known = {p: p.value for p in problem.parameters if not p.learn}
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
    second = (Qxx, Qxy, Qyy)
    A = [[sp.diff(equation, Qxx), sp.diff(equation, Qxy) / 2], [sp.diff(equation, Qxy) / 2, sp.diff(equation, Qyy)]]
    if any(a.free_symbols & {Px, Py, *second} for row in A for a in row):
        return None  # not linear in the second derivatives, or their coefficients hold the slope
    g = equation.xreplace(dict.fromkeys(second, 0))
    gradient, z = (Px, Py), (x, y)
    flux = [A[i][0] * Px + A[i][1] * Py for i in range(2)]
    interior = g - sum((sp.diff(A[i][j], z[i]) + sp.diff(A[i][j], U) * gradient[i]) * gradient[j]
                       for i in range(2) for j in range(2))
    form = [*flux, interior]
    weak = lambdify((x, y, U, Px, Py), [form, [[sp.diff(e, s) for s in (U, Px, Py)] for e in form]], "numpy")
    ellipticity = lambdify((x, y, U), A[0][0] * A[1][1] - A[0][1] ** 2, "numpy")  # A definite, of either sign
    isotropic = sp.simplify(A[0][1]) == 0 and sp.simplify(A[0][0] - A[1][1]) == 0
    nx, ny, s = sp.symbols("n_x n_y s", real=True)
    values, fluxes, distances = [], [], []
    depends_on_u = bool(sp.diff(interior, U) != 0)
    for c in problem.conditions:
        relation = c.on_boundary()
        if relation is None or set(c.fields) != {problem.field_names[0]}:
            return None
        relation = relation.subs(known)
        if any(d not in symbols or symbols[d] in second for d in relation.atoms(sp.Derivative)):
            return None
        relation = relation.xreplace(symbols).xreplace({u: U}).xreplace({Normal(x): nx, Normal(y): ny})
        if not relation.free_symbols <= {x, y, U, Px, Py, nx, ny}:
            return None
        distances.append(lambdify((x, y), resolve_piece(problem, c.on).distance, "numpy"))
        if not relation.free_symbols & {Px, Py}:  # a value: Dirichlet, or a relation of u alone
            value = solved_for(relation, U)
            if value is None or not value.free_symbols <= {x, y}:
                return None
            values.append(lambdify((x, y), value, "numpy"))
            fluxes.append(None)
            continue
        slope = solved_for(relation.xreplace({Px: s * nx, Py: s * ny}), s)
        if not isotropic or slope is None or not _normal_only(relation, slope, (x, y, U, Px, Py, nx, ny, s)):
            return None  # a tangential derivative, or a flux of an anisotropic A: no natural condition here
        normal_flux = A[0][0] * slope  # (A ∇u)·n with A = a I
        depends_on_u = depends_on_u or bool(sp.diff(normal_flux, U) != 0)
        fluxes.append(lambdify((x, y, U, nx, ny), [normal_flux, sp.diff(normal_flux, U)], "numpy"))
        values.append(None)
    if not any(v is not None for v in values) and not depends_on_u:
        return None  # fluxes alone fix u up to a constant: no unique solution to compare with
    return _Setup(domain, (x, y), weak, values, fluxes, distances, ellipticity)


def _normal_only(relation: sp.Expr, slope: sp.Expr, symbols) -> bool:
    """Whether ``relation`` of the gradient holds exactly where the normal derivative is ``slope``,
    whatever the tangential derivative (checked at random values)."""
    x, y, U, Px, Py, nx, ny, s = symbols
    rng = np.random.default_rng(1)
    for _ in range(3):
        angle, tangential = rng.uniform(0, 2 * np.pi), rng.normal()
        at = {x: rng.normal(), y: rng.normal(), U: rng.uniform(0.5, 1.5), nx: np.cos(angle), ny: np.sin(angle)}
        normal = complex(slope.xreplace({k: sp.Float(v) for k, v in at.items()}).evalf())
        if not np.isfinite(normal) or abs(normal.imag) > 1e-12:
            return False
        gradient = {Px: normal.real * at[nx] - tangential * at[ny], Py: normal.real * at[ny] + tangential * at[nx]}
        miss = complex(relation.xreplace({k: sp.Float(v) for k, v in {**at, **gradient}.items()}).evalf())
        if not abs(miss) <= 1e-9 * (1 + abs(normal)):
            return False
    return True


def _mesh(domain, level: int):
    """A triangle mesh of ``domain`` with cells of about ``1 / (CELLS 2^level)`` of its shorter
    side; polygons graded towards their re-entrant corners."""
    from skfem import MeshTri

    from sciml.dsl.domains import Disk, Polygon

    if isinstance(domain, Disk):
        mesh = MeshTri.init_circle(2 + level)  # refined with its boundary nodes moved onto the circle
        return MeshTri(domain.center[:, None] + domain.radius * mesh.p, mesh.t)
    if isinstance(domain, Polygon):
        vertices = domain.vertices
        triangles = np.array([[int(np.argmin(np.linalg.norm(vertices - corner, axis=1))) for corner in tri]
                              for tri in domain.triangles])
        mesh = MeshTri(vertices.T.copy(), triangles.T.copy())
        lower, upper = domain.bounds()
        while np.max(_edge_lengths(mesh)) > np.min(upper - lower) / CELLS:
            mesh = mesh.refined()
        mesh = mesh.refined(level) if level else mesh
        corners = domain.reentrant_corners()
        size = float(np.max(_edge_lengths(mesh)))
        for k in range(2 * (level + 1) if len(corners) else 0):
            # each pass halves the triangles within a radius that halves too (geometric grading):
            # the solution's derivatives are unbounded at a re-entrant corner
            centres = mesh.p[:, mesh.t].mean(axis=1).T
            near = np.min(np.linalg.norm(centres[:, None, :] - corners[None], axis=-1), axis=1) < 4 * size * 0.5**k
            mesh = mesh.refined(np.nonzero(near)[0])
        return mesh
    lower, upper = domain.bounds()
    extent = upper - lower
    cells = [max(int(np.ceil(CELLS * 2**level * e / extent.min())), 1) for e in extent]
    return MeshTri.init_tensor(*(np.linspace(lower[k], upper[k], cells[k] + 1) for k in range(2)))


def _edge_lengths(mesh) -> np.ndarray:
    return np.linalg.norm(mesh.p[:, mesh.facets[0]] - mesh.p[:, mesh.facets[1]], axis=0)


def _inside(mesh, points: np.ndarray) -> np.ndarray:
    """Which of ``points (n, 2)`` lie in a triangle of ``mesh``."""
    from matplotlib.tri import Triangulation

    return Triangulation(*mesh.p, mesh.t.T).get_trifinder()(*points.T) >= 0


def _solve(setup: _Setup, mesh, points: np.ndarray, predict, started: float) -> np.ndarray:
    """The P2 solution on ``mesh`` at the comparison points, by Newton's method from the surrogate."""
    from skfem import Basis, BilinearForm, ElementTriP2, FacetBasis, LinearForm, condense, solve

    element = Basis(mesh, ElementTriP2())
    boundary = mesh.boundary_facets()
    ends = mesh.p[:, mesh.facets[:, boundary]]  # (2, 2, facets): each facet's two vertices
    scale = float(np.max(np.ptp(mesh.p, axis=1)))
    held_by = np.zeros((len(setup.distances), boundary.size), bool)
    for k, distance in enumerate(setup.distances):
        with np.errstate(all="ignore"):
            held_by[k] = np.all([np.abs(distance(*ends[:, i]) * np.ones(boundary.size)) <= 1e-9 * scale
                                 for i in (0, 1)], axis=0)
    if np.any(held_by.sum(axis=0) != 1):
        raise _OutOfScope  # an edge under no condition, or under two
    owner = np.argmax(held_by, axis=0)

    u = np.asarray(predict(element.doflocs.T), np.float64)[:, 0].copy()
    held = []
    for k, value in enumerate(setup.values):
        if value is not None and np.any(owner == k):
            dofs = element.get_dofs(facets=boundary[owner == k]).all()
            u[dofs] = value(*element.doflocs[:, dofs]) * np.ones(dofs.size)
            held.append(dofs)
    held = np.unique(np.concatenate(held)) if held else np.zeros(0, int)
    edges = [(FacetBasis(mesh, ElementTriP2(), facets=boundary[owner == k]), flux)
             for k, flux in enumerate(setup.fluxes) if flux is not None and np.any(owner == k)]

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
            return flux(*w.x, w["previous"].value, *w.n)[0] * v

        @BilinearForm
        def edge_jacobian(t, v, w):
            return flux(*w.x, w["previous"].value, *w.n)[1] * t * v

        return edge_residual, edge_jacobian

    forms = [(basis, *edge_forms(flux)) for basis, flux in edges]

    def assembled(values):
        r = residual.assemble(element, previous=element.interpolate(values))
        J = jacobian.assemble(element, previous=element.interpolate(values))
        for basis, edge_residual, edge_jacobian in forms:
            r = r + edge_residual.assemble(basis, previous=basis.interpolate(values))
            J = J + edge_jacobian.assemble(basis, previous=basis.interpolate(values))
        return r, J

    free = np.setdiff1d(np.arange(element.N), held)
    with np.errstate(all="ignore"):
        r, J = assembled(u)
        for _ in range(NEWTON_STEPS):
            if clock.monotonic() - started > TIME_BUDGET:
                raise _OutOfTime
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
    return p2_values(element, u, points.T)


def p2_values(basis, u: np.ndarray, points: np.ndarray) -> np.ndarray:
    """The P2 solution ``u`` on ``basis`` (straight triangles) at ``points (2, n)``, all inside
    the mesh.

    A trapezoid-map search finds each point's triangle; the six Lagrange basis functions are
    then ``λ_i (2 λ_i - 1)`` at the vertices and ``4 λ_i λ_j`` at the edge midpoints, in the
    point's barycentric coordinates ``λ`` (each node identified by its own coordinates, so
    no ordering convention of the library is assumed).
    """
    from matplotlib.tri import Triangulation

    mesh = basis.mesh
    element = Triangulation(*mesh.p, mesh.t.T).get_trifinder()(*points)
    if (element < 0).any():
        raise ValueError(f"{int((element < 0).sum())} points lie outside the mesh")
    corners = mesh.p[:, mesh.t[:, element]]  # (2, 3, n)

    def barycentric(q):  # q (2, n) -> (3, n)
        a, b, c = corners[:, 0], corners[:, 1], corners[:, 2]
        det = (b[0] - a[0]) * (c[1] - a[1]) - (c[0] - a[0]) * (b[1] - a[1])
        l1 = ((q[0] - a[0]) * (c[1] - a[1]) - (c[0] - a[0]) * (q[1] - a[1])) / det
        l2 = ((b[0] - a[0]) * (q[1] - a[1]) - (q[0] - a[0]) * (b[1] - a[1])) / det
        return np.stack([1 - l1 - l2, l1, l2])

    lam = barycentric(points)
    dofs = basis.element_dofs[:, element]  # (6, n)
    values = np.zeros(points.shape[1])
    for k in range(dofs.shape[0]):
        mu = np.round(2 * barycentric(basis.doflocs[:, dofs[k]])) / 2  # node: a vertex or a midpoint
        at_vertex = mu.max(axis=0) == 1
        order = np.argsort(mu, axis=0)
        i, j = order[-1], order[-2]  # the vertex, or a midpoint's two (distinct) endpoints
        li, lj = np.take_along_axis(lam, i[None], 0)[0], np.take_along_axis(lam, j[None], 0)[0]
        phi = np.where(at_vertex, li * (2 * li - 1), 4 * li * lj)
        values += u[dofs[k]] * phi
    return values
