"""Geometry: where a problem lives and the named pieces of its boundary.

A domain owns its coordinates, samples interior points, and names boundary pieces
(``space.left``, ``box.boundary``, ``disk.boundary``, ``time.start``). Domains multiply:
``Interval(x, -1, 1) * TimeInterval(t, 0, 1)`` is the space–time cylinder whose boundary
pieces are those of its factors, crossed with the other factors' interiors. Sampling happens on
the host in NumPy (uniform or scrambled Sobol); nothing here depends on JAX.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np
import sympy as sp
from scipy.stats import qmc

from sciml.dsl.errors import ProblemError

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

    domain: "Domain"
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

    # --- shared -------------------------------------------------------------------------
    @property
    def factors(self) -> tuple["Domain", ...]:
        return (self,)

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

    def __mul__(self, other: "Domain") -> "ProductDomain":
        if not isinstance(other, Domain):
            return NotImplemented
        return ProductDomain((*self.factors, *other.factors))

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

    distances = [sp.lambdify(domain.coordinates, p.distance, "numpy") for p in parts]

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
        u = unit_samples(n, 2, rng, method)
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

    def lift(self, piece: BoundaryPiece) -> BoundaryPiece:
        """The piece of a factor, crossed with the interiors of the other factors."""
        if piece.domain not in self.parts:
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
    if isinstance(domain, Disk):
        r = domain.radius * np.sqrt(u[:, 0])
        th = 2 * np.pi * u[:, 1]
        return domain.center + np.stack([r * np.cos(th), r * np.sin(th)], axis=1)
    # A new geometry without a unit-cube map still works with its own sampler.
    return domain.sample(len(u), np.random.default_rng(0), "uniform")
