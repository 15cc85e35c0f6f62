"""Geometry: where a problem lives and the named pieces of its boundary.

A domain owns its coordinates, samples interior points, and names boundary pieces
(``space.left``, ``box.boundary``, ``disk.boundary``, ``time.start``). Domains multiply:
``Interval(x, -1, 1) * TimeInterval(t, 0, 1)`` is the space–time cylinder whose boundary
pieces are those of its factors, crossed with the other factors' interiors. Sampling happens on
the host in NumPy (uniform or scrambled Sobol); nothing here depends on JAX.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import sympy as sp
from scipy.stats import qmc

from sciml.dsl.errors import ProblemError
from sciml.functions import lambdify

SAMPLING_METHODS = ("uniform", "sobol")


def unit_samples(n: int, dim: int, rng: np.random.Generator, method: str = "uniform") -> np.ndarray:
    """``n`` points in the unit cube ``[0, 1)^dim``, random or scrambled Sobol."""
    if method == "uniform":
        return rng.random((n, dim))
    if method == "sobol":
        engine = qmc.Sobol(d=dim, scramble=True, seed=rng)
        m = max(0, math.ceil(math.log2(max(n, 1))))
        return engine.random_base2(m)[:n]
    raise ProblemError(f"unknown sampling method {method!r}; choose one of {SAMPLING_METHODS}")


@dataclass(eq=False)
class BoundaryPiece:
    """A named part of a domain's boundary.

    Attributes:
        domain: the (factor) domain the piece belongs to.
        name: its name within that domain, e.g. ``"left"`` or ``"boundary"``.
        sample: ``(n, rng, method) -> (n, len(domain.coordinates))`` points on the piece.
        normal: ``points -> (n, d)`` outward unit normals (zero where undefined, e.g. time).
        distance: a sympy expression of the coordinates that vanishes on the piece and is
            positive inside the domain; used to impose Dirichlet conditions exactly.
    """

    domain: Domain
    name: str
    sample: Callable[[int, np.random.Generator, str], np.ndarray]
    normal: Callable[[np.ndarray], np.ndarray]
    distance: sp.Expr

    @property
    def label(self) -> str:
        return f"{self.domain.label}.{self.name}"

    def __repr__(self) -> str:
        return f"BoundaryPiece({self.label})"


class Domain:
    """Base class of all domains (the extension point for new geometries)."""

    coordinates: tuple[sp.Symbol, ...]
    is_time: bool = False

    # --- to implement -------------------------------------------------------------------
    def sample(self, n: int, rng: np.random.Generator, method: str = "uniform") -> np.ndarray:
        raise NotImplementedError

    def pieces(self) -> dict[str, BoundaryPiece]:
        """Named boundary pieces of this domain."""
        raise NotImplementedError

    def bounds(self) -> tuple[np.ndarray, np.ndarray]:
        """Bounding box ``(lower, upper)``: used to scale inputs and build evaluation grids."""
        raise NotImplementedError

    def contains(self, points: np.ndarray) -> np.ndarray:
        lo, hi = self.bounds()
        return np.all((points >= lo - 1e-12) & (points <= hi + 1e-12), axis=-1)

    def reentrant_corners(self) -> np.ndarray:
        """Corners where the boundary turns inwards (interior angle above 180°), ``(k, d)``.

        Solutions of elliptic problems are singular there in general (``u ~ r^(π/ω)`` at an
        interior angle ``ω``): their second derivatives are unbounded, so no smooth surrogate
        balances the equation pointwise near them. Convex domains have none.
        """
        return np.zeros((0, len(self.coordinates)))

    # --- shared -------------------------------------------------------------------------
    @property
    def factors(self) -> tuple[Domain, ...]:
        return (self,)

    def interval_along(self, coordinate: sp.Symbol) -> Interval | None:
        """The interval the domain spans along ``coordinate`` when it is a product of that
        interval and the rest (an ``Interval``, a ``Box``'s side, a product's factor); else ``None``."""
        for factor in self.factors:
            if isinstance(factor, Interval) and factor.coordinates == (coordinate,):
                return factor
            if isinstance(factor, Box) and coordinate in factor.coordinates:
                return factor.intervals[factor.coordinates.index(coordinate)]
        return None

    @property
    def label(self) -> str:
        return "×".join(str(c) for c in self.coordinates)

    def piece(self, name: str) -> BoundaryPiece:
        pieces = self.all_pieces()
        if name not in pieces:
            raise ProblemError(
                f"the domain has no boundary piece named {name!r}; available: {sorted(pieces)}"
            )
        return pieces[name]

    def all_pieces(self) -> dict[str, BoundaryPiece]:
        """Pieces of every factor, by short name and by ``label.name``."""
        out: dict[str, BoundaryPiece] = {}
        for f in self.factors:
            for name, p in f.pieces().items():
                out.setdefault(name, p)
                out[p.label] = p
        return out

    def __mul__(self, other: Domain) -> ProductDomain:
        if not isinstance(other, Domain):
            return NotImplemented
        return ProductDomain((*self.factors, *other.factors))

    def __sub__(self, other: Domain) -> Difference:
        if not isinstance(other, Domain):
            return NotImplemented
        return Difference(self, other)

    def __getattr__(self, name: str) -> BoundaryPiece:
        # `space.left`, `box.boundary`, `time.start`: boundary pieces read as attributes.
        if name.startswith("_"):
            raise AttributeError(name)
        pieces = type(self).pieces(self)
        if name in pieces:
            return pieces[name]
        raise AttributeError(
            f"{type(self).__name__} has no attribute or boundary piece {name!r}; "
            f"boundary pieces: {sorted(pieces)}"
        )


def _union(domain: Domain, name: str, parts: Sequence[BoundaryPiece], weights: Sequence[float]) -> BoundaryPiece:
    """A piece made of several pieces, sampled in proportion to their sizes."""
    w = np.asarray(weights, float) / np.sum(weights)

    def sample(n, rng, method="uniform"):
        counts = np.floor(w * n).astype(int)
        counts[: n - counts.sum()] += 1
        pts = [p.sample(int(c), rng, method) for p, c in zip(parts, counts) if c > 0]
        return np.concatenate(pts, axis=0)

    distances = [lambdify(domain.coordinates, p.distance, "numpy") for p in parts]

    def normal(points):
        # The nearest part decides: evaluate every part's distance and pick the smallest.
        dists = np.stack([np.abs(d(*points.T) * np.ones(len(points))) for d in distances])
        which = np.argmin(dists, axis=0)
        normals = np.stack([p.normal(points) for p in parts])
        return normals[which, np.arange(len(points))]

    distance = sp.Mul(*[p.distance for p in parts])
    return BoundaryPiece(domain, name, sample, normal, distance)


class Interval(Domain):
    """``a <= coordinate <= b`` with boundary pieces ``left``, ``right`` and ``boundary``."""

    def __init__(self, coordinate: sp.Symbol, a: float, b: float):
        if not isinstance(coordinate, sp.Symbol):
            raise ProblemError(f"Interval needs a coordinate symbol, got {coordinate!r}")
        a, b = float(a), float(b)
        if not a < b:
            raise ProblemError(f"Interval on {coordinate}: lower bound {a} must be below upper bound {b}")
        self.coordinates = (coordinate,)
        self.a, self.b = a, b

    def sample(self, n, rng, method="uniform"):
        return self.a + (self.b - self.a) * unit_samples(n, 1, rng, method)

    def bounds(self):
        return np.array([self.a]), np.array([self.b])

    def _end(self, name: str, value: float, sign: float) -> BoundaryPiece:
        x = self.coordinates[0]
        scale = self.b - self.a
        return BoundaryPiece(
            self,
            name,
            lambda n, rng, method="uniform": np.full((n, 1), value),
            lambda pts: np.full((len(pts), 1), sign),
            sign * (value - x) / scale,
        )

    def pieces(self):
        left, right = self._end("left", self.a, -1.0), self._end("right", self.b, 1.0)
        return {"left": left, "right": right, "boundary": _union(self, "boundary", [left, right], [1, 1])}

    def __repr__(self):
        return f"Interval({self.coordinates[0]}, {self.a}, {self.b})"


class TimeInterval(Interval):
    """A time axis ``t0 <= t <= t1``; its ``start`` piece carries initial conditions."""

    is_time = True

    def pieces(self):
        p = super().pieces()
        return {"start": p["left"], "end": p["right"]}

    def __repr__(self):
        return f"TimeInterval({self.coordinates[0]}, {self.a}, {self.b})"


class Box(Domain):
    """An axis-aligned box ``{c: (lo, hi)}``. Pieces ``<c>_min``, ``<c>_max``, ``boundary``."""

    def __init__(self, bounds: dict[sp.Symbol, tuple[float, float]]):
        if not bounds:
            raise ProblemError("Box needs at least one coordinate with bounds")
        self.coordinates = tuple(bounds)
        self.intervals = tuple(Interval(c, *lohi) for c, lohi in bounds.items())

    def sample(self, n, rng, method="uniform"):
        lo, hi = self.bounds()
        return lo + (hi - lo) * unit_samples(n, len(lo), rng, method)

    def bounds(self):
        return np.array([i.a for i in self.intervals]), np.array([i.b for i in self.intervals])

    def _side(self, axis: int, upper: bool, name: str) -> BoundaryPiece:
        lo, hi = self.bounds()
        value = hi[axis] if upper else lo[axis]
        sign = 1.0 if upper else -1.0
        c = self.coordinates[axis]

        def sample(n, rng, method="uniform"):
            pts = self.sample(n, rng, method)
            pts[:, axis] = value
            return pts

        def normal(pts):
            nrm = np.zeros((len(pts), len(lo)))
            nrm[:, axis] = sign
            return nrm

        return BoundaryPiece(self, name, sample, normal, sign * (value - c) / (hi[axis] - lo[axis]))

    def side_names(self, axis: int) -> tuple[str, str]:
        c = self.coordinates[axis]
        return f"{c}_min", f"{c}_max"

    def pieces(self):
        lo, hi = self.bounds()
        out = {}
        for axis in range(len(lo)):
            lower, upper = self.side_names(axis)
            out[lower] = self._side(axis, False, lower)
            out[upper] = self._side(axis, True, upper)
        sizes = []
        for axis in range(len(lo)):
            others = np.delete(hi - lo, axis)
            sizes += [float(np.prod(others))] * 2
        sides = [p for p in out.values()]
        out["boundary"] = _union(self, "boundary", sides, sizes)
        return out

    def __repr__(self):
        return f"Box({dict(zip(self.coordinates, zip(*self.bounds())))})"


class Rectangle(Box):
    """A rectangle ``x0<=x<=x1, y0<=y<=y1``; pieces ``left right bottom top boundary`` too."""

    def __init__(self, x: sp.Symbol, y: sp.Symbol, x_range: tuple[float, float], y_range: tuple[float, float]):
        super().__init__({x: x_range, y: y_range})

    def pieces(self):
        out = super().pieces()
        (x_min, x_max), (y_min, y_max) = self.side_names(0), self.side_names(1)
        out.update(left=out[x_min], right=out[x_max], bottom=out[y_min], top=out[y_max])
        return out


class Disk(Domain):
    """The disk ``|(x, y) - center| <= radius``; piece ``boundary`` (the circle)."""

    def __init__(self, x: sp.Symbol, y: sp.Symbol, center: tuple[float, float] = (0.0, 0.0), radius: float = 1.0):
        if radius <= 0:
            raise ProblemError(f"Disk radius must be positive, got {radius}")
        self.coordinates = (x, y)
        self.center = np.asarray(center, float)
        self.radius = float(radius)

    def sample(self, n, rng, method="uniform"):
        return self.from_unit(unit_samples(n, 2, rng, method))

    def from_unit(self, u: np.ndarray) -> np.ndarray:
        """Unit-square samples -> uniform points of the disk (area-preserving polar map)."""
        r = self.radius * np.sqrt(u[:, 0])
        th = 2 * np.pi * u[:, 1]
        return self.center + np.stack([r * np.cos(th), r * np.sin(th)], axis=1)

    def bounds(self):
        return self.center - self.radius, self.center + self.radius

    def contains(self, points):
        return np.linalg.norm(points - self.center, axis=-1) <= self.radius + 1e-12

    def pieces(self):
        x, y = self.coordinates
        cx, cy = self.center

        def sample(n, rng, method="uniform"):
            th = 2 * np.pi * unit_samples(n, 1, rng, method)[:, 0]
            return self.center + self.radius * np.stack([np.cos(th), np.sin(th)], axis=1)

        def normal(pts):
            d = pts - self.center
            return d / np.linalg.norm(d, axis=1, keepdims=True)

        distance = (self.radius**2 - (x - cx) ** 2 - (y - cy) ** 2) / self.radius**2
        return {"boundary": BoundaryPiece(self, "boundary", sample, normal, distance)}

    def __repr__(self):
        return f"Disk(({self.coordinates[0]}, {self.coordinates[1]}), {tuple(self.center)}, {self.radius})"


def _rectangle_extent(rectangle, role: str) -> tuple:
    """``((x0, x1), (y0, y1))`` of an axis-aligned rectangle given so or by its four corners."""
    try:
        points = np.asarray(rectangle, dtype=float)
    except (TypeError, ValueError):
        points = None
    if points is not None and points.shape == (2, 2):
        return tuple(map(tuple, points))
    if points is not None and points.shape == (4, 2):
        (x0, y0), (x1, y1) = points.min(axis=0), points.max(axis=0)
        corners = {(x0, y0), (x1, y0), (x1, y1), (x0, y1)}
        if {tuple(p) for p in points} == corners and x0 < x1 and y0 < y1:
            return (x0, x1), (y0, y1)
    raise ProblemError(
        f"Polygon.difference: the {role} {rectangle!r} is not an axis-aligned rectangle; give it as "
        "((x0, x1), (y0, y1)) or by its four corners (other shapes: Polygon(x, y, vertices))"
    )


class Polygon(Domain):
    r"""A simple polygon in the plane, e.g. the L-shape ``[-1, 1]² \ [0, 1]²``.

    Vertices are given in order (either orientation; stored counter-clockwise). Pieces:
    ``edge0 … edge{n-1}`` (from vertex ``i`` to ``i + 1`` in the order given) and ``boundary`` (all edges,
    sampled in proportion to their lengths). Interior points are uniform, drawn triangle by
    triangle from an ear-clipping triangulation, so no point is rejected.

    Each edge's ``distance`` is the trimmed approximate distance function of Sukumar &
    Srivastava (2022): with :math:`f` the signed distance to the edge's line, :math:`t =
    ((L/2)^2 - |z - z_c|^2)/L` a trimming function that is positive on the segment only,

    .. math:: \phi = \sqrt{f^2 + \big((\sqrt{t^2 + f^4} - t)/2\big)^2},

    zero exactly on the segment and positive elsewhere; the whole boundary's distance joins
    them by the R-equivalence :math:`\phi = (\sum_i \phi_i^{-1})^{-1}`, positive inside even
    for non-convex polygons (a product of line distances would vanish inside an L-shape).

    Reference: Sukumar, Srivastava (2022), "Exact imposition of boundary conditions with
    distance functions in physics-informed deep neural networks", CMAME 389, 114333.
    """

    def __init__(self, x: sp.Symbol, y: sp.Symbol, vertices: Sequence[tuple[float, float]]):
        v = np.asarray(vertices, dtype=float)
        if v.ndim != 2 or v.shape[1] != 2 or len(v) < 3:
            raise ProblemError(
                f"Polygon needs at least three (x, y) vertices, got {np.shape(vertices)}; "
                "pass e.g. [(0, 0), (1, 0), (0, 1)]"
            )
        if _signed_area(v) == 0:
            raise ProblemError(
                "Polygon has zero area (collinear or self-crossing vertices); list the corners of a "
                "simple polygon in order"
            )
        self.coordinates = (x, y)
        self.vertices = v if _signed_area(v) > 0 else v[::-1].copy()
        # Edges keep the names of the order given: edge k runs between the user's vertices k and
        # k + 1 whichever way round the vertices are stored.
        self._reversed = bool(_signed_area(v) < 0)
        self.triangles = _ear_clip(self.vertices)
        areas = np.array([abs(_signed_area(tri)) for tri in self.triangles])
        if not np.isclose(areas.sum(), abs(_signed_area(v)), rtol=1e-9):
            raise ProblemError("Polygon edges cross each other; list the vertices of a simple polygon in order")
        self._cumulative_area = np.cumsum(areas) / areas.sum()

    @classmethod
    def difference(cls, x: sp.Symbol, y: sp.Symbol, outer: tuple, hole: tuple) -> Polygon:
        """``outer \\ hole`` of two rectangles ``((x0, x1), (y0, y1))`` that share a corner,
        e.g. the L-shape ``Polygon.difference(x, y, ((-1, 1), (-1, 1)), ((0, 1), (0, 1)))``.
        Either rectangle may also be given by its four corners, ``[(0, 0), (1, 0), (1, 1), (0, 1)]``."""
        (ox0, ox1), (oy0, oy1) = _rectangle_extent(outer, "outer")
        (hx0, hx1), (hy0, hy1) = _rectangle_extent(hole, "hole")
        corners = [(ox0, oy0), (ox1, oy0), (ox1, oy1), (ox0, oy1)]
        hole_corners = [(hx0, hy0), (hx1, hy0), (hx1, hy1), (hx0, hy1)]
        shared = [k for k, c in enumerate(corners) if c in hole_corners]
        if len(shared) != 1 or not (ox0 <= hx0 < hx1 <= ox1 and oy0 <= hy0 < hy1 <= oy1):
            raise ProblemError(
                f"Polygon.difference: the hole {hole} must lie inside {outer} and share exactly "
                "one corner with it (build other shapes with Polygon(x, y, vertices); a hole inside: "
                "Rectangle(x, y, ...) - Rectangle(x, y, ...))"
            )
        k = shared[0]
        # Replace the shared corner by the hole's three other corners, in boundary order.
        h = hole_corners.index(corners[k])
        notch = [hole_corners[(h - 1) % 4], hole_corners[(h + 2) % 4], hole_corners[(h + 1) % 4]]
        return cls(x, y, corners[:k] + notch + corners[k + 1 :])

    def reentrant_corners(self) -> np.ndarray:
        v = self.vertices  # counter-clockwise: a clockwise turn at a vertex is a re-entrant corner
        incoming, outgoing = v - np.roll(v, 1, axis=0), np.roll(v, -1, axis=0) - v
        turn = incoming[:, 0] * outgoing[:, 1] - incoming[:, 1] * outgoing[:, 0]
        return v[turn < 0]

    # --- sampling -----------------------------------------------------------------------
    def sample(self, n, rng, method="uniform"):
        return self.from_unit(unit_samples(n, 2, rng, method))

    def from_unit(self, u: np.ndarray) -> np.ndarray:
        """Unit-square samples -> uniform points of the polygon.

        The first coordinate picks a triangle by area and is stretched back to ``[0, 1)``
        within it (so a low-discrepancy sequence stays one); the pair then maps to the
        triangle by folding the unit square along its diagonal.
        """
        which = np.minimum(np.searchsorted(self._cumulative_area, u[:, 0], side="right"), len(self.triangles) - 1)
        lower = np.concatenate([[0.0], self._cumulative_area])[which]
        a = (u[:, 0] - lower) / (self._cumulative_area[which] - lower)
        b = u[:, 1]
        fold = a + b > 1
        a, b = np.where(fold, 1 - a, a), np.where(fold, 1 - b, b)
        tri = self.triangles[which]
        return tri[:, 0] + a[:, None] * (tri[:, 1] - tri[:, 0]) + b[:, None] * (tri[:, 2] - tri[:, 0])

    def bounds(self):
        return self.vertices.min(axis=0), self.vertices.max(axis=0)

    def contains(self, points):
        """Inside or on the boundary (even–odd ray casting, with a tolerance for the edges)."""
        pts = np.asarray(points, float)
        px, py = pts[:, 0:1], pts[:, 1:2]
        a, b = self.vertices, np.roll(self.vertices, -1, axis=0)
        crosses = (a[:, 1] > py) != (b[:, 1] > py)
        with np.errstate(divide="ignore", invalid="ignore"):
            x_cross = a[:, 0] + (py - a[:, 1]) * (b[:, 0] - a[:, 0]) / (b[:, 1] - a[:, 1])
        inside = np.sum(crosses & (px < x_cross), axis=1) % 2 == 1
        return inside | (self.edge_distances(pts).min(axis=1) <= 1e-12)

    def edge_distances(self, points: np.ndarray) -> np.ndarray:
        """Euclidean distance of every point to every edge segment, ``(n, n_edges)``."""
        a, b = self.vertices, np.roll(self.vertices, -1, axis=0)
        d = b - a
        s = np.clip(np.einsum("nkc,kc->nk", points[:, None, :] - a, d) / np.sum(d * d, axis=1), 0, 1)
        nearest = a + s[..., None] * d
        return np.linalg.norm(points[:, None, :] - nearest, axis=-1)

    # --- boundary -----------------------------------------------------------------------
    def _edge(self, k: int) -> BoundaryPiece:
        x, y = self.coordinates
        (x1, y1), (x2, y2) = self.vertices[k], self.vertices[(k + 1) % len(self.vertices)]
        length = math.hypot(x2 - x1, y2 - y1)
        outward = np.array([y2 - y1, -(x2 - x1)]) / length  # right of the edge, for CCW order

        def sample(n, rng, method="uniform"):
            s = unit_samples(n, 1, rng, method)
            return np.array([x1, y1]) + s * np.array([x2 - x1, y2 - y1])

        def normal(pts):
            return np.broadcast_to(outward, (len(pts), 2)).copy()

        f = ((x - x1) * (y2 - y1) - (y - y1) * (x2 - x1)) / length
        trim = ((length / 2) ** 2 - (x - (x1 + x2) / 2) ** 2 - (y - (y1 + y2) / 2) ** 2) / length
        phi = sp.sqrt(f**2 + ((sp.sqrt(trim**2 + f**4) - trim) / 2) ** 2)
        n = len(self.vertices)
        return BoundaryPiece(self, f"edge{(n - 2 - k) % n if self._reversed else k}", sample, normal, phi)

    def pieces(self):
        edges = sorted((self._edge(k) for k in range(len(self.vertices))), key=lambda e: int(e.name[4:]))
        lengths = np.linalg.norm(np.roll(self.vertices, -1, axis=0) - self.vertices, axis=1)
        boundary = _union(self, "boundary", edges, lengths)
        # The union's product of edge distances would do, but the R-equivalence keeps the
        # distance's scale independent of the number of edges.
        boundary.distance = 1 / sp.Add(*[1 / e.distance for e in edges])
        return {**{e.name: e for e in edges}, "boundary": boundary}

    def __repr__(self):
        return f"Polygon(({self.coordinates[0]}, {self.coordinates[1]}), {self.vertices.tolist()})"


def _signed_area(vertices: np.ndarray) -> float:
    x, y = vertices[:, 0], vertices[:, 1]
    return 0.5 * float(np.sum(x * np.roll(y, -1) - np.roll(x, -1) * y))


def _ear_clip(vertices: np.ndarray) -> np.ndarray:
    """Triangles ``(m, 3, 2)`` of a simple counter-clockwise polygon, by ear clipping."""
    remaining = list(range(len(vertices)))
    triangles = []
    while len(remaining) > 3:
        for i in range(len(remaining)):
            p, c, n = (vertices[remaining[(i + k) % len(remaining)]] for k in (-1, 0, 1))
            if _signed_area(np.array([p, c, n])) <= 0:
                continue  # reflex (or flat) corner: not an ear
            others = [vertices[j] for j in remaining if not any(np.array_equal(vertices[j], q) for q in (p, c, n))]
            if any(_in_triangle(q, p, c, n) for q in others):
                continue
            triangles.append((p, c, n))
            del remaining[i]
            break
        else:
            break  # a self-intersecting outline has no ear; the area check reports it
    if len(remaining) == 3:
        triangles.append(tuple(vertices[j] for j in remaining))
    return np.array(triangles, dtype=float)


def _in_triangle(q, a, b, c) -> bool:
    """Whether ``q`` lies in the closed counter-clockwise triangle ``abc``."""
    cross = lambda o, p, r: (p[0] - o[0]) * (r[1] - o[1]) - (p[1] - o[1]) * (r[0] - o[0])
    return cross(a, b, q) >= 0 and cross(b, c, q) >= 0 and cross(c, a, q) >= 0


class Difference(Domain):
    """``outer`` with ``hole`` taken out, written ``outer - hole``: an annulus
    (``Disk(x, y, (0, 0), 2) - Disk(x, y, (0, 0), 1)``), a plate with a hole, a channel around an
    obstacle. Holes may be taken out one after another (``plate - hole1 - hole2``).

    Interior points are ``outer``'s with those inside the hole rejected. Pieces: ``outer``'s
    (the parts outside the hole: a side the hole cuts keeps its name), the hole's under
    ``hole_<name>`` (``hole2_<name>`` for a second hole, ...; normals pointing into the hole,
    out of this domain), ``outer_boundary`` and ``boundary`` (all of them). A piece of ``outer``
    or of the hole themselves — ``Dirichlet(u, 1, on=inner.boundary)`` — means the same piece of
    this domain.
    """

    def __init__(self, outer: Domain, hole: Domain):
        for role, part in (("outer", outer), ("hole", hole)):
            if not isinstance(part, Domain) or isinstance(part, ProductDomain) or part.is_time:
                raise ProblemError(f"{role} of a difference must be a spatial domain (Disk, Rectangle, Polygon, "
                                   f"Box, ...), got {part!r}; take holes out before multiplying by time")
        if tuple(hole.coordinates) != tuple(outer.coordinates):
            raise ProblemError(f"a hole must live on the same coordinates as its domain: {outer!r} is on "
                               f"{outer.coordinates}, {hole!r} on {hole.coordinates}")
        if isinstance(hole, Box) and len(hole.coordinates) > 2:
            # its faces' plane distances vanish across the domain, and no trimmed 3-D form is built yet
            raise ProblemError(f"a box-shaped hole in {len(hole.coordinates)} dimensions is not supported: exact "
                               "conditions on it would hold on whole planes through the domain; holes are taken out "
                               "of planar domains (Rectangle, Disk, Polygon)")
        self.outer, self.hole = outer, hole
        self.coordinates = tuple(outer.coordinates)
        self.holes = getattr(outer, "holes", 0) + 1
        self.prefix = "hole_" if self.holes == 1 else f"hole{self.holes}_"
        probe = outer.sample(4096, np.random.default_rng(0))
        kept = float(np.mean(~self._in_hole(probe)))
        if kept == 1.0 and not np.any(hole.contains(probe)):
            raise ProblemError(f"the hole {hole!r} does not meet {outer!r}: nothing is taken out; check its "
                               "position and size")
        if kept < 0.01:
            raise ProblemError(f"the hole {hole!r} covers (almost) all of {outer!r}: less than 1% of it is left")

    def _in_hole(self, points: np.ndarray) -> np.ndarray:
        """Strictly inside the hole (its boundary belongs to this domain)."""
        points = np.asarray(points, float)
        inside = self.hole.contains(points)
        if "_rim" not in self.__dict__:
            self._rim = lambdify(self.coordinates, self.hole.pieces()["boundary"].distance, "numpy")
        rim = self._rim
        with np.errstate(all="ignore"):
            depth = np.abs(np.broadcast_to(rim(*points.T), (len(points),)))
        return inside & (depth > 1e-9)

    def _keep(self, draw: Callable[[int], np.ndarray], keep: Callable[[np.ndarray], np.ndarray], n: int,
              what: str) -> np.ndarray:
        """``n`` points of ``draw`` that ``keep`` accepts (drawn in growing rounds)."""
        kept, total, m = [], 0, max(16, n)
        for _ in range(40):
            pts = draw(m)
            pts = pts[keep(pts)]
            kept.append(pts)
            total += len(pts)
            if total >= n:
                return np.concatenate(kept)[:n]
            m *= 2
        raise ProblemError(f"could not sample {n} points of {what} of {self!r}: the hole leaves (almost) none of it")

    def sample(self, n, rng, method="uniform"):
        return self._keep(lambda m: self.outer.sample(m, rng, method), lambda p: ~self._in_hole(p), n, "the interior")

    def bounds(self):
        return self.outer.bounds()

    def contains(self, points):
        return self.outer.contains(points) & ~self._in_hole(points)

    def reentrant_corners(self) -> np.ndarray:
        """``outer``'s re-entrant corners outside the hole, and the hole's convex corners (a
        polygon's or rectangle's) inside ``outer``: seen from outside the hole they turn inwards."""
        corners = self.outer.reentrant_corners()
        corners = corners[~self._in_hole(corners)] if len(corners) else corners
        if isinstance(self.hole, Polygon):
            hole_corners = self.hole.vertices
            concave = self.hole.reentrant_corners()
            hole_corners = np.array([v for v in hole_corners if not any(np.allclose(v, c) for c in concave)])
        elif isinstance(self.hole, Box) and len(self.coordinates) == 2:
            (x0, y0), (x1, y1) = self.hole.bounds()
            hole_corners = np.array([(x0, y0), (x1, y0), (x1, y1), (x0, y1)], float)
        else:
            hole_corners = np.zeros((0, len(self.coordinates)))
        if len(hole_corners):
            outer_rim = lambdify(self.coordinates, self.outer.pieces()["boundary"].distance, "numpy")
            with np.errstate(all="ignore"):
                inner = self.outer.contains(hole_corners) & (np.abs(outer_rim(*hole_corners.T)) > 1e-9)
            hole_corners = hole_corners[inner]
        return np.concatenate([corners.reshape(-1, len(self.coordinates)),
                               hole_corners.reshape(-1, len(self.coordinates))])

    def _outer_piece(self, piece: BoundaryPiece, name: str | None = None) -> BoundaryPiece:
        def sample(n, rng, method="uniform"):
            return self._keep(lambda m: piece.sample(m, rng, method), lambda p: ~self._in_hole(p), n, piece.label)

        return BoundaryPiece(self, name or piece.name, sample, piece.normal, piece.distance)

    def _hole_piece(self, piece: BoundaryPiece) -> BoundaryPiece:
        def sample(n, rng, method="uniform"):
            return self._keep(lambda m: piece.sample(m, rng, method), self.outer.contains, n, piece.label)

        def normal(points):
            return -piece.normal(points)

        # Positive in this domain: a disk's distance is positive inside the disk, so outside it flips.
        distance = self._hole_distance(piece)
        inside = self.sample(64, np.random.default_rng(0))
        with np.errstate(all="ignore"):
            values = np.broadcast_to(lambdify(self.coordinates, distance, "numpy")(*inside.T), (64,))
        distance = -distance if np.nanmedian(values) < 0 else distance
        return BoundaryPiece(self, self.prefix + piece.name, sample, normal, distance)

    def _hole_distance(self, piece: BoundaryPiece) -> sp.Expr:
        """A distance that vanishes on the hole's ``piece`` and nowhere else in this domain.

        A box's sides are lines, and their distances vanish along the lines' extensions too,
        which cross the domain around a rectangular hole (an exact condition would pin the
        field there): a 2-D box hole takes the trimmed edge distances of the equal polygon."""
        if not (isinstance(self.hole, Box) and len(self.coordinates) == 2):
            return piece.distance
        (x0, y0), (x1, y1) = self.hole.bounds()
        edges = Polygon(*self.coordinates, [(x0, y0), (x1, y0), (x1, y1), (x0, y1)]).pieces()
        if piece.name == "boundary":
            return edges["boundary"].distance
        points = piece.sample(8, np.random.default_rng(0))
        for name, edge in edges.items():
            on = np.broadcast_to(lambdify(self.coordinates, edge.distance, "numpy")(*points.T), (len(points),))
            if name != "boundary" and np.max(np.abs(on)) < 1e-9:
                return edge.distance
        return piece.distance

    def pieces(self):
        if "_pieces" not in self.__dict__:  # built once: sampling and distances are fixed by the parts
            self._pieces = self._build_pieces()
        return dict(self._pieces)

    def _build_pieces(self):
        outer = {name: self._outer_piece(p, name) for name, p in self.outer.pieces().items() if name != "boundary"}
        holes = {p.name: p for p in (self._hole_piece(q) for q in self.hole.pieces().values())}
        rim = self._outer_piece(self.outer.pieces()["boundary"], "outer_boundary")
        outer.setdefault("outer_boundary", rim)  # taken out one after another: the first domain's rim
        parts = [rim, holes[self.prefix + "boundary"]]
        boundary = _union(self, "boundary", parts, [_perimeter(self.outer), _perimeter(self.hole)])
        boundary.distance = parts[0].distance * parts[1].distance
        return {**outer, **holes, "boundary": boundary}

    def own(self, piece: BoundaryPiece) -> BoundaryPiece | None:
        """This domain's piece for a piece of ``outer`` or of the hole (or of an equal domain)."""
        if same_domain(piece.domain, self.hole):
            return self.pieces().get(self.prefix + piece.name)
        if same_domain(piece.domain, self.outer):
            return self.pieces().get(piece.name if piece.name != "boundary" else "outer_boundary")
        if isinstance(self.outer, Difference):
            found = self.outer.own(piece)
            return None if found is None else self.pieces().get(found.name)
        return None

    def __repr__(self):
        return f"({self.outer!r} - {self.hole!r})"


def same_domain(a: Domain, b: Domain) -> bool:
    """The same object, or an equal domain built apart (compared by type and definition)."""
    return a is b or (type(a) is type(b) and repr(a) == repr(b))


def _perimeter(domain: Domain) -> float:
    """A domain's boundary length (area in 3-D: its bounding box's), to share boundary samples."""
    if isinstance(domain, Disk):
        return 2 * math.pi * domain.radius
    if isinstance(domain, Polygon):
        return float(np.sum(np.linalg.norm(np.roll(domain.vertices, -1, axis=0) - domain.vertices, axis=1)))
    if isinstance(domain, Difference):
        return _perimeter(domain.outer) + _perimeter(domain.hole)
    lo, hi = domain.bounds()
    sides = np.asarray(hi, float) - np.asarray(lo, float)
    return float(2 * np.sum(sides)) if len(sides) == 2 else float(2 * np.sum(sides * np.roll(sides, 1)))


@dataclass(eq=False)
class ProductDomain(Domain):
    """The Cartesian product of domains (e.g. space × time)."""

    parts: tuple[Domain, ...] = field(default_factory=tuple)

    def __post_init__(self):
        coords = [c for p in self.parts for c in p.coordinates]
        if len(set(coords)) != len(coords):
            raise ProblemError(f"a coordinate appears in two factors of the domain: {coords}")
        if sum(p.is_time for p in self.parts) > 1:
            raise ProblemError("a domain can have at most one TimeInterval")
        self.coordinates = tuple(coords)

    @property
    def factors(self):
        return self.parts

    def sample(self, n, rng, method="uniform"):
        if method == "sobol":
            # One joint Sobol sequence over all dimensions, mapped factor by factor.
            u = unit_samples(n, len(self.coordinates), rng, method)
            pts, col = [], 0
            for p in self.parts:
                d = len(p.coordinates)
                pts.append(_map_unit(p, u[:, col : col + d]))
                col += d
            return np.concatenate(pts, axis=1)
        return np.concatenate([p.sample(n, rng, method) for p in self.parts], axis=1)

    def bounds(self):
        los, his = zip(*(p.bounds() for p in self.parts))
        return np.concatenate(los), np.concatenate(his)

    def contains(self, points):
        mask, col = np.ones(len(points), bool), 0
        for p in self.parts:
            d = len(p.coordinates)
            mask &= p.contains(points[:, col : col + d])
            col += d
        return mask

    def pieces(self):
        return {}

    def own_piece(self, piece: BoundaryPiece) -> BoundaryPiece | None:
        """The factor's own piece for ``piece``: itself when it belongs to a factor, the equal
        piece of a factor equal to its domain, or a domain-with-a-hole's piece for a piece of
        the hole or of the domain it was cut from; ``None`` when no factor owns it."""
        if any(p is piece.domain for p in self.parts):
            return piece
        equal = [p for p in self.parts if same_domain(p, piece.domain)]
        if equal and piece.name in equal[0].pieces():
            return equal[0].pieces()[piece.name]
        owned = (p.own(piece) for p in self.parts if isinstance(p, Difference))
        return next((q for q in owned if q is not None), None)

    def lift(self, piece: BoundaryPiece) -> BoundaryPiece:
        """The piece of a factor, crossed with the interiors of the other factors.

        A piece of an equal domain built apart (``Interval(x, 0, 1).left`` written twice) is
        the piece of the factor it equals: domains are compared by type and definition."""
        piece = self.own_piece(piece) or piece
        if not any(p is piece.domain for p in self.parts):
            raise ProblemError(
                f"boundary piece {piece.label} belongs to {piece.domain!r}, which is not part of "
                f"this problem's domain {self!r}; use a piece of one of its factors: "
                f"{sorted(n for n in self.all_pieces() if '.' in n)}"
            )

        def sample(n, rng, method="uniform"):
            cols = [piece.sample(n, rng, method) if p is piece.domain else p.sample(n, rng, method) for p in self.parts]
            return np.concatenate(cols, axis=1)

        def normal(points):
            cols, col = [], 0
            for p in self.parts:
                d = len(p.coordinates)
                cols.append(piece.normal(points[:, col : col + d]) if p is piece.domain else np.zeros((len(points), d)))
                col += d
            return np.concatenate(cols, axis=1)

        return BoundaryPiece(self, piece.label, sample, normal, piece.distance)

    @property
    def time(self) -> TimeInterval | None:
        return next((p for p in self.parts if p.is_time), None)

    @property
    def label(self):
        return " × ".join(repr(p) for p in self.parts)

    def __repr__(self):
        return self.label


def as_product(domain: Domain) -> ProductDomain:
    return domain if isinstance(domain, ProductDomain) else ProductDomain((domain,))


def _map_unit(domain: Domain, u: np.ndarray) -> np.ndarray:
    """Map unit-cube samples into a factor domain (used for joint Sobol sequences)."""
    if isinstance(domain, (Interval, Box)):
        lo, hi = domain.bounds()
        return lo + (hi - lo) * u
    if isinstance(domain, (Disk, Polygon)):
        return domain.from_unit(u)
    # A geometry without a unit-cube map (a domain with a hole) uses its own sampler, on a
    # stream keyed by the samples so that every batch differs.
    seed = int.from_bytes(hashlib.sha256(np.ascontiguousarray(u).tobytes()).digest()[:8], "little")
    return domain.sample(len(u), np.random.default_rng(seed), "uniform")
