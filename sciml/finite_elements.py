r"""Classical checks of problems in the plane by finite elements: a steady elliptic problem and
an evolution.

A forward ODE problem is integrated classically, an evolution PDE on an interval solved by the
method of lines (:mod:`sciml.method_of_lines`), a steady problem on an interval by a two-point
boundary-value solve (:mod:`sciml.boundary_value`); this module gives problems in two space
dimensions, on a rectangle, a polygon or a disk, the same check.

**Steady** (:func:`finite_element_distance`): one field ``u`` obeying one second-order elliptic
equation

.. math:: \sum_{ij} A_{ij}(z, u)\, \partial_i \partial_j u + g(z, u, \nabla u) = 0

(Poisson, Helmholtz, advection–diffusion, a reaction, a conductivity that depends on ``u``:
anything linear in the second derivatives with a definite matrix ``A``), every part of the
boundary under one condition — a value (Dirichlet) or, where ``A`` is ``a I``, a flux: Neumann,
Robin or any :class:`~sciml.dsl.conditions.BoundaryEquation` solvable for ``∂u/∂n`` (a radiating
edge) — and nothing learned. The equation is integrated by parts against each test function,

.. math:: -\int (A \nabla u) \cdot \nabla v + \int \big(g - (\nabla \cdot A)\, \nabla u\big) v
          + \oint a\, \partial_n u\, v = 0,

the flux term taking ``∂u/∂n`` from the edge's condition, and solved with quadratic (P2)
Lagrange elements by scikit-fem (Gustafsson & McBain 2020; a disk's rim of curved, isoparametric
edges): Newton's method from the surrogate, so of several solutions of a nonlinear problem it
converges to the one the surrogate is near. The mesh is halved until two solutions agree within
:data:`ACCURACY` at the comparison points (their distance estimates the coarser one's error; a
re-entrant corner's singular solution is met by grading the mesh towards the corner, as
Babuška's meshes do).

**Evolution** (:func:`evolution_distance`): fields with ``u_t = F`` or ``u_tt = F`` (a forward
evolution, :func:`sciml.time_scales.evolution`), ``F = Σ A_ij u_ij + b·∇u + r`` with ``A``
positive definite and ``A``, ``b`` depending on position only, ``r`` on anything but derivatives
(heat, waves, reaction–diffusion systems: Fisher, Gray–Scott, predator and prey), each spreading
field's edges under a value or a flux as above: the method of lines on linear elements.

Periodic sides of a rectangle (:class:`~sciml.dsl.conditions.Periodic`) are one set of nodes.
A problem outside this scope — a steady system of fields, a domain with a curved hole, a
condition of another kind — gets no check: ``({}, None)``.

Reference: Gustafsson, McBain (2020), "scikit-fem: A Python package for finite element assembly",
JOSS 5(52), 2369.
"""

from __future__ import annotations

import dataclasses
import time as clock
import weakref
from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np
import sympy as sp
from sympy.core.function import AppliedUndef

from sciml.functions import lambdify

if TYPE_CHECKING:
    from sciml.dsl.domains import Domain

__all__ = ["ACCURACY", "POINTS", "Evolved", "evolution_distance", "evolution_reference", "evolution_solution",
           "finite_element_distance", "p2_values"]

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
class _Edge:
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


@dataclasses.dataclass(frozen=True)
class _Setup:
    """What :func:`_read` finds in a steady problem: the domain, the weak form ``-∫F·∇v + ∫G v``
    (``weak(x, y, u, u_x, u_y) -> ([F_x, F_y, G], their derivatives in u, u_x, u_y)``), the
    conditions and ``ellipticity(x, y, u)``, the determinant of ``A``."""

    domain: Domain
    weak: Callable
    edges: list[_Edge]
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
    points = points[_inside(_mesh(setup.domain, 0, curved=True), points)]  # a disk's first mesh lies inside the finer
    predicted = np.asarray(predict(points), np.float64)[:, 0]
    if not np.all(np.isfinite(predicted)):
        return {}, "the surrogate is not finite on the domain, so no finite-element solve could start from it"
    if not np.all(setup.ellipticity(*points.T, predicted) > 0):
        return {}, None  # not elliptic where the surrogate is: no Galerkin check
    try:
        values, _, failure = _until_agreed(
            lambda level: _mesh(setup.domain, level, curved=True),
            lambda mesh: 2 * mesh.nelements > LARGEST_UNKNOWNS,  # P2: about twice as many unknowns as triangles
            lambda mesh, level, started: _solve(setup, mesh, points, predict, started),
            lambda finer, coarser: np.linalg.norm(finer - coarser) / max(np.linalg.norm(finer), 1e-300),
            "finite-element solve", f"{LARGEST_UNKNOWNS} unknowns")
    except _OutOfScope:
        return {}, None
    if failure:
        return {}, failure
    return {name: float(np.linalg.norm(predicted - values) / max(np.linalg.norm(values), 1e-300))}, None


def _until_agreed(mesh_at: Callable, too_fine: Callable, solve: Callable, estimate_of: Callable, what: str,
                  largest: str) -> tuple[object, object, str | None]:
    """Solve on ``mesh_at(0)``, ``mesh_at(1)``, ... (each about half the cells' size of the one
    before) until two solutions agree — ``estimate_of(finer, coarser)``, the finer one's estimated
    relative error, within :data:`ACCURACY` — or the next mesh is ``too_fine``: ``(finer,
    coarser, None)``, or ``(None, None, why)`` when it failed, ran out of time or did not
    converge. ``solve(mesh, level, started)`` gives a solution."""
    started = clock.monotonic()
    try:
        previous, level, estimate = None, 0, np.inf
        while True:
            mesh = mesh_at(level)
            if previous is not None and too_fine(mesh):
                break
            values = solve(mesh, level, started)
            if previous is not None:
                estimate = estimate_of(values, previous)
                if not np.isfinite(estimate) or estimate <= ACCURACY:
                    break
            previous, level = values, level + 1
    except _OutOfTime:
        return None, None, f"the {what} took over {TIME_BUDGET:.0f} s"
    except (RuntimeError, ValueError, ArithmeticError, np.linalg.LinAlgError) as error:
        return None, None, f"the {what} failed ({error})"
    except (TypeError, KeyError, IndexError, NameError) as error:  # an expression numpy cannot evaluate
        return None, None, f"the {what} failed ({type(error).__name__}: {error})"
    if not np.isfinite(estimate) or estimate > ACCURACY:
        return None, None, (f"the {what} did not converge on meshes of up to {largest} "
                            f"(estimated error {estimate:.1e} > {ACCURACY:.0e})")
    return values, previous, None


def _plane(problem) -> Domain | None:
    """The problem's domain in space when finite elements here can mesh it (a rectangle, a
    polygon, a disk), with its coordinates in the problem's order; else ``None``."""
    from sciml.dsl.domains import Box, Disk, Interval, Polygon, ProductDomain

    space = [f for f in problem.space_time.factors if not f.is_time]
    if len(space) == 1 and isinstance(space[0], (Polygon, Disk, Box)) and len(space[0].coordinates) == 2:
        domain = space[0]
    elif len(space) == 2 and all(isinstance(f, Interval) for f in space):
        domain = ProductDomain(tuple(space))  # a rectangle written as a product of two intervals
    else:
        return None  # a hole, a curved piece of another kind: no mesh here
    order = [c for c in problem.coordinates if c in domain.coordinates]
    return domain if tuple(order) == tuple(domain.coordinates) else None


def _edges(problem, name: str, u: sp.Expr, A, t: sp.Symbol | None) -> list[_Edge] | None:
    """The conditions of field ``name`` (applied as ``u``) on the boundary, or ``None`` when one is
    of another kind: a value, or a flux where the principal part ``A`` is ``a I``."""
    from sciml.dsl.conditions import Initial, Periodic, resolve_piece
    from sciml.dsl.explicit import solved_for
    from sciml.dsl.symbols import Normal

    x, y = (c for c in problem.coordinates if c != t)
    time = (t,) if t is not None else ()
    known = {p: p.value for p in problem.parameters if not p.learn}
    isotropic = sp.simplify(A[0][1]) == 0 and sp.simplify(A[0][0] - A[1][1]) == 0
    U, Px, Py, nx, ny, s = sp.symbols("U P_x P_y n_x n_y s", real=True)
    symbols = {u.diff(x): Px, u.diff(y): Py}
    edges = []
    for c in problem.conditions:
        if isinstance(c, Initial) or name not in c.fields:
            continue
        if isinstance(c, Periodic):  # both sides, their nodes one (a factor Interval: a rectangle's sides)
            axis = (x, y).index(c.coordinate) if c.coordinate in (x, y) else None
            factor = next((f for f in problem.space_time.factors if c.coordinate in f.coordinates), None)
            if axis is None or c.derivatives > 1:
                return None
            a, b = float(factor.a), float(factor.b)
            edges.append(_Edge(lambdify((x, y), (c.coordinate - a) * (c.coordinate - b), "numpy"), anchors=False,
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
            edges.append(_Edge(distance, value=lambdify((x, y, t or sp.Dummy()), [value, rate], "numpy")))
            continue
        slope = solved_for(relation.xreplace({Px: s * nx, Py: s * ny}), s)
        if not isotropic or slope is None or not _normal_only(relation, slope, (x, y, U, Px, Py, nx, ny, s), time):
            return None  # a tangential derivative, or a flux of an anisotropic A: no natural condition here
        normal_flux = A[0][0] * slope  # (A ∇u)·n with A = a I
        edges.append(_Edge(distance, flux=lambdify((x, y, t or sp.Dummy(), U, nx, ny),
                                                   [normal_flux, sp.diff(normal_flux, U)], "numpy"),
                           anchors=sp.diff(normal_flux, U) != 0))
    return edges


def _principal(rate: sp.Expr, second, first):
    """``(A, b, rest)`` of an expression linear in the second derivatives ``second`` (``u_xx,
    u_xy, u_yy``): ``rate = Σ A_ij u_ij + rest``, ``b`` the coefficients of the first
    derivatives ``first`` in ``rest``."""
    Qxx, Qxy, Qyy = second
    A = [[sp.diff(rate, Qxx), sp.diff(rate, Qxy) / 2], [sp.diff(rate, Qxy) / 2, sp.diff(rate, Qyy)]]
    rest = rate.xreplace(dict.fromkeys(second, 0))
    return A, [sp.diff(rest, p) for p in first], rest


def _read(problem) -> _Setup | None:
    """The problem's weak form and conditions, or ``None`` when it is out of scope."""
    if (problem.space_time.time is not None or len(problem.coordinates) != 2 or problem.data is not None
            or problem.unknowns or problem.unknown_parameters or len(problem.field_names) != 1
            or len(problem.residuals) != 1):
        return None
    domain = _plane(problem)
    if domain is None:
        return None
    x, y = problem.coordinates
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
    second, gradient, z = (Qxx, Qxy, Qyy), (Px, Py), (x, y)
    A, _, g = _principal(equation, second, gradient)
    if any(a.free_symbols & {Px, Py, *second} for row in A for a in row):
        return None  # not linear in the second derivatives, or their coefficients hold the slope
    flux = [A[i][0] * Px + A[i][1] * Py for i in range(2)]
    interior = g - sum((sp.diff(A[i][j], z[i]) + sp.diff(A[i][j], U) * gradient[i]) * gradient[j]
                       for i in range(2) for j in range(2))
    form = [*flux, interior]
    weak = lambdify((x, y, U, Px, Py), [form, [[sp.diff(e, s) for s in (U, Px, Py)] for e in form]], "numpy")
    ellipticity = lambdify((x, y, U), A[0][0] * A[1][1] - A[0][1] ** 2, "numpy")  # A definite, of either sign
    edges = _edges(problem, problem.field_names[0], u, A, None)
    if edges is None:
        return None
    if sp.diff(interior, U) == 0 and not any(e.anchors for e in edges):
        return None  # fluxes alone fix u up to a constant: no unique solution to compare with
    return _Setup(domain, weak, edges, ellipticity)


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


def _mesh(domain, level: int, cells: int = CELLS, curved: bool = False):
    """A triangle mesh of ``domain`` with cells of about ``1 / (cells 2^level)`` of its shorter
    side; polygons graded towards their re-entrant corners; a disk's rim, if ``curved``, of
    quadratic edges through points of the circle (isoparametric P2)."""
    from skfem import MeshTri, MeshTri2

    from sciml.dsl.domains import Disk, Polygon

    if isinstance(domain, Disk):
        # refined with its boundary nodes moved onto the circle; 2 refinements: 8 cells across
        mesh = (MeshTri2 if curved else MeshTri).init_circle(level + int(np.log2(cells)) - 1)
        return type(mesh)(domain.center[:, None] + domain.radius * mesh.doflocs, mesh.t)
    if isinstance(domain, Polygon):
        vertices = domain.vertices
        triangles = np.array([[int(np.argmin(np.linalg.norm(vertices - corner, axis=1))) for corner in tri]
                              for tri in domain.triangles])
        mesh = MeshTri(vertices.T.copy(), triangles.T.copy())
        lower, upper = domain.bounds()
        while np.max(_edge_lengths(mesh)) > np.min(upper - lower) / cells:
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
    counts = [max(int(np.ceil(cells * 2**level * e / extent.min())), 1) for e in extent]
    return MeshTri.init_tensor(*(np.linspace(lower[k], upper[k], counts[k] + 1) for k in range(2)))


def _edge_lengths(mesh) -> np.ndarray:
    return np.linalg.norm(mesh.p[:, mesh.facets[0]] - mesh.p[:, mesh.facets[1]], axis=0)


def _inside(mesh, points: np.ndarray) -> np.ndarray:
    """Which of ``points (n, 2)`` lie in a triangle of ``mesh``."""
    from matplotlib.tri import Triangulation

    return Triangulation(*mesh.p, mesh.t.T).get_trifinder()(*points.T) >= 0


def _owners(mesh, edges: list[_Edge]) -> tuple[np.ndarray, np.ndarray]:
    """``(facets, owner)``: the mesh's boundary facets and the index of the condition each lies
    on (both its vertices on the condition's piece); :class:`_OutOfScope` when a facet lies on
    no condition's piece or on two."""
    boundary = mesh.boundary_facets()
    ends = mesh.p[:, mesh.facets[:, boundary]]  # (2, 2, facets): each facet's two vertices
    scale = float(np.max(np.ptp(mesh.p, axis=1)))
    held_by = np.zeros((len(edges), boundary.size), bool)
    for k, edge in enumerate(edges):
        with np.errstate(all="ignore"):
            held_by[k] = np.all([np.abs(edge.distance(*ends[:, i]) * np.ones(boundary.size)) <= 1e-9 * scale
                                 for i in (0, 1)], axis=0)
    if np.any(held_by.sum(axis=0) != 1):
        raise _OutOfScope  # an edge under no condition, or under two
    return boundary, np.argmax(held_by, axis=0)


def _tying(points: np.ndarray, edges: list[_Edge]):
    """The sparse ``(nodes, kept)`` matrix copying each kept node's value to every node it is one
    with across a periodic pair of sides (``points (2, nodes)``; the identity without one), and
    the kept nodes' indices."""
    from scipy import sparse

    target = np.arange(points.shape[1])
    scale = float(np.max(np.ptp(points, axis=1)))
    for axis, a, b in {e.period for e in edges if e.period is not None}:
        other = points[1 - axis]
        lower = np.nonzero(np.abs(points[axis] - a) <= 1e-9 * scale)[0]
        upper = np.nonzero(np.abs(points[axis] - b) <= 1e-9 * scale)[0]
        partner = {round(float(other[i]) / scale, 9): i for i in lower}
        for i in upper:
            key = round(float(other[i]) / scale, 9)
            if key not in partner:
                raise _OutOfScope  # the two sides' nodes do not match
            target[i] = partner[key]
    while np.any(target[target] != target):  # a corner of two periodic pairs: follow both
        target = target[target]
    kept, column = np.unique(target, return_inverse=True)
    return sparse.csr_matrix((np.ones(target.size), (np.arange(target.size), column)),
                             shape=(target.size, kept.size)), kept


def _solve(setup: _Setup, mesh, points: np.ndarray, predict, started: float) -> np.ndarray:
    """The P2 solution on ``mesh`` at the comparison points, by Newton's method from the surrogate."""
    from skfem import Basis, BilinearForm, ElementTriP2, FacetBasis, LinearForm, condense, solve

    element = Basis(mesh, ElementTriP2())
    boundary, owner = _owners(mesh, setup.edges)
    tie, _ = _tying(element.doflocs, setup.edges)  # Newton's unknowns: one per set of tied nodes
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
    return p2_values(element, tie @ u, points.T)


def p2_values(basis, u: np.ndarray, points: np.ndarray) -> np.ndarray:
    """The P2 solution ``u`` on ``basis`` at ``points (2, n)``, all inside the mesh's straight
    triangles (their corners).

    A trapezoid-map search finds each point's triangle; its reference coordinates come from
    Newton's method on the element's quadratic map (affine for a straight triangle, curved at a
    disk's rim), and the six Lagrange basis functions are ``λ_i (2 λ_i - 1)`` at the vertices and
    ``4 λ_i λ_j`` at the edge midpoints, in the barycentric coordinates ``λ`` (each node identified
    by where it lies, so no ordering convention of the library is assumed).
    """
    mesh = basis.mesh
    element, lam = _locate(mesh, points.T)
    dofs = basis.element_dofs[:, element]  # (6, n)
    nodes = basis.doflocs[:, dofs]  # (2, 6, n)
    # each node's pair of barycentric indices: (i, i) at a vertex, (i, j) at the midpoint of i-j
    pairs = []
    for k in range(dofs.shape[0]):
        mu = np.round(2 * _barycentric(mesh, element, nodes[:, k])) / 2
        order = np.argsort(mu, axis=0)
        pairs.append((order[-1], np.where(mu.max(axis=0) == 1, order[-1], order[-2])))
    chain = np.array([[-1.0, -1.0], [1.0, 0.0], [0.0, 1.0]])  # dλ/d(λ1, λ2)

    def shapes(lam):
        """The six basis functions (6, n) and their derivatives in (λ1, λ2), (6, 2, n)."""
        values, slopes = [], []
        for i, j in pairs:
            li, lj = np.take_along_axis(lam, i[None], 0)[0], np.take_along_axis(lam, j[None], 0)[0]
            vertex = i == j
            values.append(np.where(vertex, li * (2 * li - 1), 4 * li * lj))
            di, dj = chain[i].T, chain[j].T  # (2, n)
            slopes.append(np.where(vertex, (4 * li - 1) * di, 4 * (lj * di + li * dj)))
        return np.array(values), np.array(slopes)

    for _ in range(4):  # Newton on the element's map: exact at once where it is affine
        values, slopes = shapes(lam)
        miss = np.einsum("ckn,kn->cn", nodes, values) - points
        jacobian = np.einsum("ckn,kdn->ncd", nodes, slopes)
        step = np.linalg.solve(jacobian, -miss.T[..., None])[..., 0].T
        lam = lam + np.array([-step[0] - step[1], step[0], step[1]])
    return np.einsum("kn,kn->n", u[dofs], shapes(lam)[0])


# --- evolution in the plane: the method of lines on linear elements ----------------------------

LINES_CELLS = 16
"""Cells across the shorter side of the first mesh of an evolution (linear elements)."""
LARGEST_NODES = 40_000
"""The finest mesh of an evolution has at most this many nodes."""
LINES_IN_THE_PLANE = "method of lines on linear elements, float64 Radau, the mesh halved until two solutions agree"


@dataclasses.dataclass(frozen=True)
class _Species:
    """One field of an evolution ``u_t = F`` (or ``u_tt = F``), ``F = Σ A_ij u_ij + b·∇u + r``:
    ``A(x, y)`` and ``b(x, y)`` as NumPy functions (``None`` for a field that does not spread),
    ``reaction(x, y, t, *states) -> [r, dr/d state for each state]``, and its edges."""

    name: str
    order: int
    A: Callable | None
    b: Callable | None
    reaction: Callable
    edges: list[_Edge]


@dataclasses.dataclass(frozen=True)
class _Lines:
    """What :func:`_read_evolution` finds."""

    domain: Domain
    space: tuple[sp.Symbol, sp.Symbol]
    time: sp.Symbol
    species: list[_Species]
    members: list[tuple[str, int]]  # the states: (field, order of its time derivative)
    initial: Callable  # (x, y) -> [each state's initial value]


@dataclasses.dataclass(frozen=True)
class Evolved:
    """A method-of-lines solution in the plane (:func:`evolution_solution`): each field at the
    nodes of the finest mesh and of the one before, at ``times``.

    Attributes:
        times: the times it was integrated to.
        meshes: ``(finer, coarser)``, each ``(mesh, {field: values (times, all nodes)})``.
        extrapolated: whether values are Richardson-extrapolated from the two (second order:
            no re-entrant corner).
        estimated_error: the finer mesh's estimated relative error.
        points: where the two meshes were compared, the coarser one's nodes (kept by the finer
            one: the extrapolated values there are free of interpolation error).
        weights: each point's share of the domain's area.
    """

    times: np.ndarray
    meshes: tuple
    extrapolated: bool
    estimated_error: float
    points: np.ndarray
    weights: np.ndarray

    def at(self, points: np.ndarray) -> dict[str, np.ndarray]:
        """``{field: values (times, points)}`` at ``points (n, 2)`` of the domain."""
        (fine, fine_values), (coarse, coarse_values) = self.meshes
        at_fine, at_coarse = _interpolation(fine, points), _interpolation(coarse, points)
        values = {}
        for name, nodal in fine_values.items():
            value = nodal @ at_fine.T
            if self.extrapolated:  # the second-order error cancels
                value = value + (value - coarse_values[name] @ at_coarse.T) / 3
            values[name] = value
        return values


_EVOLVED: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def evolution_solution(problem) -> tuple[Evolved | None, str | None]:
    """A forward evolution PDE in the plane solved by the method of lines on linear elements at
    :data:`~sciml.method_of_lines.LINES_TIMES` times: ``(Evolved, None)``, ``(None, why)`` when the
    integration failed or did not converge, ``(None, None)`` for a problem outside this module's
    scope. Remembered per problem.

    Space is discretised by linear elements with the mass lumped (second order, as the method of
    lines on an interval is), the ODEs integrated by scipy's Radau with the exact sparse Jacobian;
    the mesh halves until two solutions agree within :data:`ACCURACY` at the coarser one's nodes (a
    third of their distance, the finer one's error; Richardson's extrapolation then improves it),
    at most :data:`LARGEST_NODES` nodes."""
    if problem not in _EVOLVED:
        _EVOLVED[problem] = _evolve(problem)
    return _EVOLVED[problem]


def _evolve(problem) -> tuple[Evolved | None, str | None]:
    from sciml.method_of_lines import LINES_TIMES, TOLERANCE

    try:
        setup = _read_evolution(problem)
    except Exception as error:  # an auxiliary check: it says why, and never ends the run
        return None, f"the method of lines could not read the problem ({type(error).__name__}: {error})"
    if setup is None:
        return None, None
    interval = problem.space_time.time
    times = np.linspace(float(interval.a), float(interval.b), LINES_TIMES)
    share = 1.0 if len(setup.domain.reentrant_corners()) else 1.0 / 3.0  # a singular corner: below second order

    def solve(mesh, level, started):
        # the coarsest integration ten times looser in time: the distance holds the time error too
        return mesh, _integrate(setup, mesh, times, started, TOLERANCE if level else 10 * TOLERANCE)

    def estimate_of(finer, coarser):
        # at the coarser mesh's nodes, which the finer one keeps: no interpolation error in it
        (fine, fine_values), (coarse, coarse_values) = finer, coarser
        at, weights = _interpolation(fine, coarse.p.T), _node_areas(coarse)
        return share * max(_relative(fine_values[n] @ at.T, coarse_values[n], weights) for n in fine_values)

    try:
        finer, coarser, failure = _until_agreed(
            lambda level: _mesh(setup.domain, level, LINES_CELLS), lambda mesh: mesh.nvertices > LARGEST_NODES,
            solve, estimate_of, "method-of-lines integration", f"{LARGEST_NODES} nodes")
    except _OutOfScope:
        return None, None
    if failure:
        return None, failure
    coarse = coarser[0]
    return Evolved(times, (finer, coarser), share < 1, float(estimate_of(finer, coarser)), coarse.p.T.copy(),
                   _node_areas(coarse)), None


def _node_areas(mesh) -> np.ndarray:
    """Each node's share of the area: a third of each triangle it is a corner of (the lumped mass)."""
    a, b, c = mesh.p[:, mesh.t].transpose(1, 0, 2)
    area = np.abs((b[0] - a[0]) * (c[1] - a[1]) - (c[0] - a[0]) * (b[1] - a[1])) / 2
    shares = np.zeros(mesh.p.shape[1])
    for corner in mesh.t:
        np.add.at(shares, corner, area / 3)
    return shares


def _relative(values: np.ndarray, reference: np.ndarray, weights: np.ndarray) -> float:
    """The relative L2 distance of ``values`` from ``reference`` (times, points), each point
    weighted by its share of the area."""
    return float(np.sqrt(np.sum(weights * (values - reference) ** 2) / max(np.sum(weights * reference**2), 1e-300)))


def evolution_distance(problem, predict) -> tuple[dict[str, float], str | None]:
    """The relative L2 distance of the surrogate from :func:`evolution_solution` over its
    comparison points at its times, each point weighted by its share of the area: ``({field:
    distance}, None)``; ``({}, None)`` for a problem
    outside this module's scope, ``({}, why)`` when the integration failed or did not converge.

    ``predict``: ``points (n, 3) -> fields (n, n_fields)``, the surrogate in the problem's
    coordinate and field order."""
    evolved, failure = evolution_solution(problem)
    if evolved is None:
        return {}, failure
    time = problem.space_time.time.coordinates[0]
    times, points = evolved.times, evolved.points
    grid = np.insert(np.repeat(points, len(times), axis=0), problem.coordinates.index(time),
                     np.tile(times, len(points)), axis=1)  # each point at every time
    predicted = np.asarray(predict(grid), np.float64)
    names = list(problem.field_names)
    return {n: _relative(predicted[:, names.index(n)].reshape(len(points), len(times)).T, v, evolved.weights)
            for n, v in evolved.at(points).items()}, None


def evolution_reference(problem):
    """:func:`evolution_solution` of an evolution on a rectangle at the nodes of its coarser mesh
    (a grid: Richardson-extrapolated values there, free of interpolation error) and its times, as
    an xarray dataset on the problem's coordinates (attribute ``estimated_error``); ``None`` on
    other domains (their nodes make no grid), outside this module's scope or when it failed."""
    import xarray as xr

    from sciml.dsl.domains import Box, ProductDomain

    evolved, _ = evolution_solution(problem)
    space = _plane(problem)
    if evolved is None or not isinstance(space, (Box, ProductDomain)):
        return None
    (x, y), time = space.coordinates, problem.space_time.time.coordinates[0]
    axes = [np.unique(evolved.points[:, k]) for k in range(2)]
    grid = np.stack([g.ravel() for g in np.meshgrid(*axes, indexing="ij")], axis=1)
    order = [str(c) for c in problem.coordinates]
    data = {}
    for name, values in evolved.at(grid).items():
        cube = values.reshape(len(evolved.times), len(axes[0]), len(axes[1]))  # (t, x, y)
        cube = np.transpose(cube, [[str(time), str(x), str(y)].index(c) for c in order])
        data[name] = (tuple(order), cube, {"long_name": f"{name} ({LINES_IN_THE_PLANE})"})
    return xr.Dataset(data, coords={str(x): axes[0], str(y): axes[1], str(time): evolved.times},
                      attrs={"source": LINES_IN_THE_PLANE, "estimated_error": evolved.estimated_error})


def _read_evolution(problem) -> _Lines | None:
    """The evolution's fields, their spreading and reacting parts and conditions, or ``None``."""
    from sciml.dsl.conditions import Initial, Periodic
    from sciml.dsl.symbols import field_name
    from sciml.time_scales import evolution

    found = evolution(problem)
    if found is None or len(problem.coordinates) != 3:
        return None
    domain = _plane(problem)
    if domain is None:
        return None
    x, y = domain.coordinates
    t = found.coordinate
    states = list(found.states.values())
    members = [(name, k) for name, chain in found.chains.items() for k in range(len(chain))]
    state_of = {(name, k): found.states[found.chains[name][k]] for name, k in members}
    if any(not isinstance(c, (Initial, Periodic)) and c.on_boundary() is None for c in problem.conditions):
        return None  # pinned, a mean value: not here
    species = []
    for name, chain in found.chains.items():
        u = chain[0]
        own = {d: symbol for d, symbol in found.others.items() if field_name(d.expr) == name}
        rate = found.highest[name]
        if rate.free_symbols & (set(found.others.values()) - set(own.values())):
            return None  # spreading that couples fields (cross-diffusion): not here
        find = {(tuple(d.variables)): symbol for d, symbol in own.items()}
        Qxx, Qxy, Qyy = (find.get((x, x)), find.get((x, y)) or find.get((y, x)), find.get((y, y)))
        Px, Py = find.get((x,)), find.get((y,))
        if set(own) - {d for d in own if tuple(d.variables) in ((x, x), (x, y), (y, x), (y, y), (x,), (y,))}:
            return None  # a third or higher derivative
        zero = sp.Dummy()
        second = tuple(q if q is not None else zero for q in (Qxx, Qxy, Qyy))
        first = tuple(p if p is not None else zero for p in (Px, Py))
        A, b, rest = _principal(rate, second, first)
        reaction = rest.xreplace(dict.fromkeys(first, 0))
        allowed = {x, y}
        if any(not e.free_symbols <= allowed for e in (*A[0], *A[1], *b)) or not reaction.free_symbols <= {x, y, t, *states}:
            return None  # a coefficient of a derivative that changes with time or the fields
        spreads = any(e != 0 for e in (*A[0], *A[1]))
        if not spreads and any(e != 0 for e in b):
            return None  # transport without diffusion needs an inflow side: not here
        if spreads:
            determinant = lambdify((x, y), [A[0][0], A[0][0] * A[1][1] - A[0][1] ** 2], "numpy")
            at = domain.sample(256, np.random.default_rng(0))
            if not all(np.all(np.asarray(v) * np.ones(len(at)) > 0) for v in determinant(*at.T)):
                return None  # not a forward (parabolic or hyperbolic) spreading
        edges = _edges(problem, name, u, A, t)
        if edges is None or (not spreads and edges):
            return None
        divergence = [sp.diff(A[0][j], x) + sp.diff(A[1][j], y) for j in range(2)]
        species.append(_Species(
            name, len(chain),
            lambdify((x, y), A, "numpy") if spreads else None,
            lambdify((x, y), [b[j] - divergence[j] for j in range(2)], "numpy") if spreads else None,
            lambdify((x, y, t, *[state_of[m] for m in members]),
                     [reaction, [sp.diff(reaction, state_of[m]) for m in members]], "numpy"),
            edges))
    initial = lambdify((x, y), [found.initial[state_of[m]] for m in members], "numpy")
    return _Lines(domain, (x, y), t, species, members, initial)


def _integrate(setup: _Lines, mesh, times: np.ndarray, started: float, tolerance: float) -> dict[str, np.ndarray]:
    """``{field: values (times, nodes)}`` of the method of lines on ``mesh`` (linear elements,
    lumped mass), integrated to the relative ``tolerance``."""
    from scipy import sparse
    from scipy.integrate import solve_ivp
    from skfem import Basis, BilinearForm, ElementTriP1
    from skfem.helpers import dot, grad

    basis = Basis(mesh, ElementTriP1())
    spreading_edges = [species.edges for species in setup.species if species.A is not None]
    if len({frozenset(e.period for e in edges if e.period) for edges in spreading_edges}) > 1:
        raise _OutOfScope  # fields periodic in different ways: no one set of nodes
    # the states: one per set of nodes tied across periodic sides
    tie, kept = _tying(mesh.p, spreading_edges[0] if spreading_edges else [])
    n = kept.size
    mass = tie.T @ np.asarray(BilinearForm(lambda u, v, _: u * v).assemble(basis).sum(axis=1)).ravel()
    operators, held, fluxes = {}, {}, {}
    for species in setup.species:
        if species.A is None:
            continue
        boundary, owner = _owners(mesh, species.edges)

        @BilinearForm
        def spreading(u, v, w, A=species.A, b=species.b):
            a = [[np.asarray(e) * np.ones_like(w.x[0]) for e in row] for row in A(*w.x)]
            c = [np.asarray(e) * np.ones_like(w.x[0]) for e in b(*w.x)]
            # ∫ (Σ A_ij u_ij + b·∇u) v = -∫ (A ∇u)·∇v + ∫ ((b - div A)·∇u) v on the interior
            flow = [a[i][0] * grad(u)[0] + a[i][1] * grad(u)[1] for i in range(2)]
            return -(flow[0] * grad(v)[0] + flow[1] * grad(v)[1]) + dot(c, grad(u)) * v

        operators[species.name] = (tie.T @ spreading.assemble(basis) @ tie).tocsr()
        held[species.name] = [(np.unique(tie.indices[mesh.facets[:, boundary[owner == k]]]), edge.value)
                              for k, edge in enumerate(species.edges) if edge.value is not None and np.any(owner == k)]
        fluxes[species.name] = [_facet_quadrature(mesh, boundary[owner == k], edge.flux, tie)
                                for k, edge in enumerate(species.edges) if edge.flux is not None and np.any(owner == k)]
    size = len(setup.members)
    index = {m: slice(i * n, (i + 1) * n) for i, m in enumerate(setup.members)}
    x, y = mesh.p[:, kept]

    def held_values(tt, parts):
        """The states with every Dirichlet node (and its rate's state) set to its condition."""
        for species in setup.species:
            for nodes, value in held.get(species.name, []):
                g, rate = (np.asarray(v) * np.ones(nodes.size) for v in value(x[nodes], y[nodes], tt))
                parts[(species.name, 0)][nodes] = g
                if species.order == 2:
                    parts[(species.name, 1)][nodes] = rate
        return parts

    def pieces(tt, state):
        parts = held_values(tt, {m: state[index[m]].copy() for m in setup.members})
        return parts, [parts[m] for m in setup.members]

    def fun(tt, state):
        if clock.monotonic() - started > TIME_BUDGET:
            raise _OutOfTime
        parts, ordered = pieces(tt, state)
        out = np.empty_like(state)
        for species in setup.species:
            reaction = np.asarray(species.reaction(x, y, tt, *ordered)[0]) * np.ones(n)
            rate = reaction
            if species.A is not None:
                u = parts[(species.name, 0)]
                total = operators[species.name] @ u
                for quadrature in fluxes[species.name]:
                    total = total + quadrature(u, tt)[0]
                rate = rate + total / mass
            for k in range(species.order - 1):
                out[index[(species.name, k)]] = parts[(species.name, k + 1)]
            out[index[(species.name, species.order - 1)]] = rate
            for nodes, _ in held.get(species.name, []):
                for k in range(species.order):
                    out[index[(species.name, k)]][nodes] = 0.0  # a held node is set, not evolved
        return out

    def jac(tt, state):
        parts, ordered = pieces(tt, state)
        blocks = [[None] * size for _ in range(size)]
        for species in setup.species:
            row = setup.members.index((species.name, species.order - 1))
            for k in range(species.order - 1):
                blocks[setup.members.index((species.name, k))][setup.members.index((species.name, k + 1))] = \
                    sparse.identity(n, format="csr")
            slopes = species.reaction(x, y, tt, *ordered)[1]
            for column, slope in enumerate(slopes):
                blocks[row][column] = sparse.diags(np.asarray(slope) * np.ones(n))
            if species.A is not None:
                u = parts[(species.name, 0)]
                spread = operators[species.name]
                for quadrature in fluxes[species.name]:
                    spread = spread + quadrature(u, tt)[1]
                column = setup.members.index((species.name, 0))
                blocks[row][column] = blocks[row][column] + sparse.diags(1 / mass) @ spread
        matrix = sparse.bmat(blocks, format="csr")
        keep = np.ones(size * n)
        for species in setup.species:
            for nodes, _ in held.get(species.name, []):
                for k in range(species.order):
                    keep[index[(species.name, k)].start + nodes] = 0.0
        keep = sparse.diags(keep)
        return (keep @ matrix @ keep).tocsc()  # held nodes: neither evolved nor read

    start = np.concatenate([np.asarray(v, float) * np.ones(n) for v in setup.initial(x, y)])
    start = np.concatenate(pieces(float(times[0]), start)[1])
    scale = max(float(np.max(np.abs(start), initial=0.0)), 1e-12)
    with np.errstate(all="ignore"):
        solution = solve_ivp(fun, (float(times[0]), float(times[-1])), start, method="Radau", t_eval=times,
                             rtol=tolerance, atol=tolerance * scale, jac=jac)
    if not solution.success or solution.y.shape[1] != len(times):
        raise RuntimeError(solution.message)
    return {species.name: np.stack([tie @ pieces(tt, solution.y[:, i])[0][(species.name, 0)]
                                    for i, tt in enumerate(times)]) for species in setup.species}


def _interpolation(mesh, points: np.ndarray):
    """The sparse ``(points, nodes)`` matrix of linear interpolation on ``mesh``'s triangles."""
    from scipy import sparse

    element, weights = _locate(mesh, points)
    return sparse.csr_matrix((weights.T.ravel(), (np.repeat(np.arange(len(points)), 3), mesh.t[:, element].T.ravel())),
                             shape=(len(points), mesh.nvertices))


def _facet_quadrature(mesh, facets: np.ndarray, flux: Callable, tie) -> Callable:
    """``(u, t) -> (∮ flux φ_i, its Jacobian)`` over ``facets`` by two-point Gauss on each, the
    field linear along the facet and the facet's outward normal; ``u`` on the nodes ``tie``
    (:func:`_tying`) keeps."""
    from scipy import sparse

    first, second = mesh.facets[:, facets]
    a, b = mesh.p[:, first], mesh.p[:, second]
    length = np.linalg.norm(b - a, axis=0)
    normal = np.array([b[1] - a[1], a[0] - b[0]]) / length
    inside = mesh.p[:, mesh.t[:, mesh.f2t[0, facets]]].mean(axis=1)
    normal = normal * np.where(np.sum(normal * ((a + b) / 2 - inside), axis=0) < 0, -1.0, 1.0)
    n = tie.shape[1]
    rows = []
    for xi in (0.5 - 0.5 / np.sqrt(3), 0.5 + 0.5 / np.sqrt(3)):
        shape = sparse.csr_matrix((np.concatenate([np.full(facets.size, 1 - xi), np.full(facets.size, xi)]),
                                   (np.tile(np.arange(facets.size), 2), np.concatenate([first, second]))),
                                  shape=(facets.size, tie.shape[0])) @ tie
        rows.append((a + xi * (b - a), shape))

    def quadrature(u, t):
        total, jacobian = np.zeros(n), sparse.csr_matrix((n, n))
        for at, shape in rows:
            value, slope = (np.asarray(v) * np.ones(facets.size) for v in flux(*at, t, shape @ u, *normal))
            total = total + shape.T @ (length / 2 * value)
            jacobian = jacobian + shape.T @ sparse.diags(length / 2 * slope) @ shape
        return total, jacobian

    return quadrature


def _locate(mesh, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(element, barycentric (3, n))`` of ``points (n, 2)``, all inside ``mesh`` (straight
    triangles)."""
    from matplotlib.tri import Triangulation

    element = Triangulation(*mesh.p, mesh.t.T).get_trifinder()(*points.T)
    if (element < 0).any():
        raise ValueError(f"{int((element < 0).sum())} points lie outside the mesh")
    return element, _barycentric(mesh, element, points.T)


def _barycentric(mesh, element: np.ndarray, q: np.ndarray) -> np.ndarray:
    """The barycentric coordinates ``(3, n)`` of ``q (2, n)`` in the triangles ``element``."""
    a, b, c = mesh.p[:, mesh.t[:, element]].transpose(1, 0, 2)
    det = (b[0] - a[0]) * (c[1] - a[1]) - (c[0] - a[0]) * (b[1] - a[1])
    l1 = ((q[0] - a[0]) * (c[1] - a[1]) - (c[0] - a[0]) * (q[1] - a[1])) / det
    l2 = ((b[0] - a[0]) * (q[1] - a[1]) - (q[0] - a[0]) * (b[1] - a[1])) / det
    return np.stack([1 - l1 - l2, l1, l2])
