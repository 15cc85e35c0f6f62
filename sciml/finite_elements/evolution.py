"""An evolution in the plane solved by the method of lines on linear elements (see the package)."""

from __future__ import annotations

import dataclasses
import time as clock
import weakref
from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np
import sympy as sp

from sciml.finite_elements.meshes import (
    OutOfScope, OutOfTime, TIME_BUDGET, interpolation, mesh_of, node_areas, owners, tying, until_agreed,
)
from sciml.finite_elements.reading import Edge, edges_of, plane, principal_part
from sciml.functions import lambdify

if TYPE_CHECKING:
    from sciml.dsl.domains import Domain


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
    edges: list[Edge]


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
        at_fine, at_coarse = interpolation(fine, points), interpolation(coarse, points)
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
    from sciml.dynamics.problem import remembered
    from sciml.method_of_lines import LINES_TIMES

    return remembered(_EVOLVED, problem, None, LINES_TIMES, _evolve)


def _evolve(problem, times: np.ndarray) -> tuple[Evolved | None, str | None]:
    from sciml.method_of_lines import TOLERANCE

    try:
        setup = _read_evolution(problem)
    except Exception as error:  # an auxiliary check: it says why, and never ends the run
        return None, f"the method of lines could not read the problem ({type(error).__name__}: {error})"
    if setup is None:
        return None, None
    share = 1.0 if len(setup.domain.reentrant_corners()) else 1.0 / 3.0  # a singular corner: below second order

    def solve(mesh, level, started):
        # the coarsest integration ten times looser in time: the distance holds the time error too
        return mesh, _integrate(setup, mesh, times, started, TOLERANCE if level else 10 * TOLERANCE)

    def estimate_of(finer, coarser):
        # at the coarser mesh's nodes, which the finer one keeps: no interpolation error in it
        (fine, fine_values), (coarse, coarse_values) = finer, coarser
        at, weights = interpolation(fine, coarse.p.T), node_areas(coarse)
        return share * max(_relative(fine_values[n] @ at.T, coarse_values[n], weights) for n in fine_values)

    try:
        finer, coarser, failure = until_agreed(
            lambda level: mesh_of(setup.domain, level, LINES_CELLS), lambda mesh: mesh.nvertices > LARGEST_NODES,
            solve, estimate_of, "method-of-lines integration", f"{LARGEST_NODES} nodes")
    except OutOfScope:
        return None, None
    if failure:
        return None, failure
    coarse = coarser[0]
    return Evolved(times, (finer, coarser), share < 1, float(estimate_of(finer, coarser)), coarse.p.T.copy(),
                   node_areas(coarse)), None


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
    space = plane(problem)
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
    domain = plane(problem)
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
        A, b, rest = principal_part(rate, second, first)
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
        edges = edges_of(problem, name, u, A, t)
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
        raise OutOfScope  # fields periodic in different ways: no one set of nodes
    # the states: one per set of nodes tied across periodic sides
    tie, kept = tying(mesh.p, spreading_edges[0] if spreading_edges else [])
    n = kept.size
    mass = tie.T @ node_areas(mesh)  # the lumped mass of linear elements
    operators, held, fluxes = {}, {}, {}
    for species in setup.species:
        if species.A is None:
            continue
        boundary, owner = owners(mesh, species.edges)

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
            raise OutOfTime
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


def _facet_quadrature(mesh, facets: np.ndarray, flux: Callable, tie) -> Callable:
    """``(u, t) -> (∮ flux φ_i, its Jacobian)`` over ``facets`` by two-point Gauss on each, the
    field linear along the facet and the facet's outward normal; ``u`` on the nodes ``tie``
    (:func:`tying`) keeps."""
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
