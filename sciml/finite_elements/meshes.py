"""Meshes of the plane's domains, where the conditions lie on them, and the refinement loop the
finite-element checks share: a mesh halved until two solutions agree."""

from __future__ import annotations

import time as clock
from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np


if TYPE_CHECKING:
    from sciml.finite_elements.reading import Edge


ACCURACY = 1e-3
"""The largest estimated relative error of a solution that is used: a tenth of the verdict's line."""
CELLS = 8
"""Cells across the domain's shorter side on the first mesh."""
TIME_BUDGET = 120.0
"""Seconds the solves may take together before the check is given up."""


class OutOfTime(Exception):
    """The solves took over :data:`TIME_BUDGET` seconds."""


class OutOfScope(Exception):
    """The mesh shows the problem is outside the checks' scope (an edge under no condition or two)."""


def until_agreed(mesh_at: Callable, too_fine: Callable, solve: Callable, estimate_of: Callable, what: str,
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
    except OutOfTime:
        return None, None, f"the {what} took over {TIME_BUDGET:.0f} s"
    except (RuntimeError, ValueError, ArithmeticError, np.linalg.LinAlgError) as error:
        return None, None, f"the {what} failed ({error})"
    except (TypeError, KeyError, IndexError, NameError) as error:  # an expression numpy cannot evaluate
        return None, None, f"the {what} failed ({type(error).__name__}: {error})"
    if not np.isfinite(estimate) or estimate > ACCURACY:
        return None, None, (f"the {what} did not converge on meshes of up to {largest} "
                            f"(estimated error {estimate:.1e} > {ACCURACY:.0e})")
    return values, previous, None


def mesh_of(domain, level: int, cells: int = CELLS, curved: bool = False):
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


def inside(mesh, points: np.ndarray) -> np.ndarray:
    """Which of ``points (n, 2)`` lie in a triangle of ``mesh``."""
    from matplotlib.tri import Triangulation

    return Triangulation(*mesh.p, mesh.t.T).get_trifinder()(*points.T) >= 0


def owners(mesh, edges: list[Edge]) -> tuple[np.ndarray, np.ndarray]:
    """``(facets, owner)``: the mesh's boundary facets and the index of the condition each lies
    on (both its vertices on the condition's piece); :class:`OutOfScope` when a facet lies on
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
        raise OutOfScope  # an edge under no condition, or under two
    return boundary, np.argmax(held_by, axis=0)


def tying(points: np.ndarray, edges: list[Edge]):
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
                raise OutOfScope  # the two sides' nodes do not match
            target[i] = partner[key]
    while np.any(target[target] != target):  # a corner of two periodic pairs: follow both
        target = target[target]
    kept, column = np.unique(target, return_inverse=True)
    return sparse.csr_matrix((np.ones(target.size), (np.arange(target.size), column)),
                             shape=(target.size, kept.size)), kept


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
    element, lam = triangles_of(mesh, points.T)
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


def triangles_of(mesh, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
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


def interpolation(mesh, points: np.ndarray):
    """The sparse ``(points, nodes)`` matrix of linear interpolation on ``mesh``'s triangles."""
    from scipy import sparse

    element, weights = triangles_of(mesh, points)
    return sparse.csr_matrix((weights.T.ravel(), (np.repeat(np.arange(len(points)), 3), mesh.t[:, element].T.ravel())),
                             shape=(len(points), mesh.nvertices))


def node_areas(mesh) -> np.ndarray:
    """Each node's share of the area: a third of each triangle it is a corner of (the lumped mass)."""
    a, b, c = mesh.p[:, mesh.t].transpose(1, 0, 2)
    area = np.abs((b[0] - a[0]) * (c[1] - a[1]) - (c[0] - a[0]) * (b[1] - a[1])) / 2
    shares = np.zeros(mesh.p.shape[1])
    for corner in mesh.t:
        np.add.at(shares, corner, area / 3)
    return shares
