"""Vectorised fitting of ``y ≈ c * f(a * x + b) + d`` for many edges and all primitives at once.

For every edge ``e`` (samples ``x[e], y[e]``) and every primitive ``f`` in a
:class:`~sciml.symbolic.primitives.Library` we solve

.. math::
    \\min_{a,b,c,d} \\sum_n \\big(c\\, f(a x_n + b) + d - y_n\\big)^2

in one jitted JAX computation:

1. **Grid.** Inputs and targets are standardised per edge. For each ``(a, b)`` on a coarse grid
   the optimal ``(c, d)`` is linear least squares, so its quality is just the squared
   correlation ``corr(f(a x + b), y)^2`` — no inner solve. The ``k`` best grid points are kept
   as starting points (several, because e.g. ``sin`` has many local minima in ``a``).
2. **Levenberg–Marquardt.** Each start is refined in all four parameters with damped
   Gauss–Newton steps (Marquardt's diagonal scaling, step accepted only if the loss drops),
   using the primitive's domain-safe variant for derivatives.
3. **Domain check.** A fit counts only if the *exact* primitive is finite on every sample
   (no ``log`` of a negative number hiding behind the safe variant).

The result is an :class:`EdgeFits` table of ``R^2`` and parameters, shape ``(edges,
primitives)``; :func:`select` picks one primitive per edge by a Pareto rule on
``(complexity, 1 - R^2)``. This replaces a Python double loop over a 101 x 101 grid per edge
and primitive (pykan's ``auto_symbolic``) by a single batched program.

Reference: K. Levenberg (1944), D. Marquardt (1963); Z. Liu et al., *KAN: Kolmogorov–Arnold
Networks* (2024) for the affine-sandwich edge form.
"""

from __future__ import annotations

import dataclasses
import functools

import jax
import jax.numpy as jnp
import numpy as np

from .primitives import DEFAULT_LIBRARY, Library

_CHUNK = 16  # edges per compiled call

__all__ = ["EdgeFits", "EdgeChoice", "fit_edges", "select", "pareto_front"]


@dataclasses.dataclass
class EdgeChoice:
    """The primitive chosen for one edge: ``c * f(a * x + b) + d``, or ``None`` if numeric."""

    name: str | None
    params: tuple[float, float, float, float] | None
    r2: float
    complexity: int
    front: list[tuple[str, int, float]]  # (primitive, complexity, r2) on this edge's front

    @property
    def numeric(self) -> bool:
        return self.name is None


@dataclasses.dataclass
class EdgeFits:
    """Fits of every primitive to every edge.

    ``params[e, p] = (a, b, c, d)`` in the edge's original units; ``r2[e, p]`` is the
    coefficient of determination (``-inf`` where the primitive is undefined on the data).
    """

    names: list[str]
    complexity: np.ndarray  # (P,)
    params: np.ndarray  # (E, P, 4)
    r2: np.ndarray  # (E, P)

    def select(self, r2_threshold: float = 0.99, rel_tol: float = 0.5,
               abs_tol: float = 1e-9) -> list[EdgeChoice]:
        return select(self, r2_threshold=r2_threshold, rel_tol=rel_tol, abs_tol=abs_tol)


def pareto_front(complexity, error) -> np.ndarray:
    """Indices of the Pareto-optimal points (lower complexity and lower error), by complexity."""
    complexity = np.asarray(complexity, float)
    error = np.asarray(error, float)
    order = np.lexsort((error, complexity))
    front, best = [], np.inf
    for i in order:
        if np.isfinite(error[i]) and error[i] < best:
            front.append(i)
            best = error[i]
    return np.asarray(front, dtype=int)


def select(fits: EdgeFits, r2_threshold: float = 0.99, rel_tol: float = 0.5,
           abs_tol: float = 1e-9) -> list[EdgeChoice]:
    """Pick one primitive per edge by a Pareto rule.

    On the front of ``(complexity, 1 - R^2)`` take the *simplest* candidate whose error is
    within ``(1 + rel_tol) * best_error + abs_tol``: equally good fits go to the simpler form,
    a fixed complexity weight is never needed. If even the best ``R^2`` is below
    ``r2_threshold`` the edge stays numeric (``name=None``).
    """
    choices = []
    err = 1.0 - fits.r2
    for e in range(fits.r2.shape[0]):
        front = pareto_front(fits.complexity, err[e])
        front_info = [(fits.names[i], int(fits.complexity[i]), float(fits.r2[e, i])) for i in front]
        if len(front) == 0:
            choices.append(EdgeChoice(None, None, -np.inf, 0, front_info))
            continue
        best = err[e, front].min()
        if 1.0 - best < r2_threshold:
            choices.append(EdgeChoice(None, None, float(1.0 - best), 0, front_info))
            continue
        ok = [i for i in front if err[e, i] <= (1.0 + rel_tol) * best + abs_tol]
        i = min(ok, key=lambda j: (fits.complexity[j], err[e, j]))
        choices.append(EdgeChoice(fits.names[i], tuple(float(v) for v in fits.params[e, i]),
                                  float(fits.r2[e, i]), int(fits.complexity[i]), front_info))
    return choices


def _subsample(x, y, m):
    """At most ``m`` points per edge, evenly spread over the sorted inputs."""
    n = x.shape[1]
    if n <= m:
        return x, y
    order = np.argsort(x, axis=1)
    pick = order[:, np.linspace(0, n - 1, m).round().astype(int)]
    return np.take_along_axis(x, pick, 1), np.take_along_axis(y, pick, 1)


@functools.lru_cache(maxsize=32)
def _fitter(prims: tuple, grid_a: tuple, grid_b: tuple, n_starts: int, steps: int):
    """Build the jitted all-edges x all-primitives fitter for one library and grid."""
    # the grid is passed as an argument, not closed over: as a constant XLA would try to
    # constant-fold the whole grid evaluation, which makes compilation very slow
    grid_ab = np.stack([np.repeat(grid_a, len(grid_b)), np.tile(grid_b, len(grid_a))])

    def grid_stage(f, xs, ys, ga, gb):
        # xs, ys: (N,) standardised; returns top-k (a, b, c, d) starts
        z = f(ga[:, None] * xs[None, :] + gb[:, None])  # (G, N)
        ok = jnp.all(jnp.isfinite(z), axis=1)
        z = jnp.where(ok[:, None], z, 0.0)
        zc = z - z.mean(axis=1, keepdims=True)
        yc = ys - ys.mean()
        szz = (zc**2).sum(axis=1)
        szy = zc @ yc
        syy = (yc**2).sum() + 1e-300
        nonconst = szz > 1e-12 * z.shape[1]
        r2 = jnp.where(nonconst, szy**2 / (szz * syy + 1e-300), 0.0)
        r2 = jnp.where(ok, r2, -1.0)
        _, idx = jax.lax.top_k(r2, n_starts)
        c = jnp.where(nonconst[idx], szy[idx] / (szz[idx] + 1e-300), 0.0)
        d = ys.mean() - c * z[idx].mean(axis=1)
        return jnp.stack([ga[idx], gb[idx], c, d], axis=1)  # (k, 4)

    def lm(f, safe, theta, xs, ys):
        def resid(th):
            return th[2] * safe(th[0] * xs + th[1]) + th[3] - ys

        def loss(th):
            r = resid(th)
            return jnp.where(jnp.all(jnp.isfinite(r)), (r**2).sum(), jnp.inf)

        def body(carry, _):
            th, lam, cur = carry
            r = resid(th)
            jac = jax.jacfwd(resid)(th)  # (N, 4)
            h = jac.T @ jac
            g = jac.T @ r
            step = jnp.linalg.solve(h + lam * (jnp.diag(jnp.diag(h)) + 1e-12 * jnp.eye(4)), g)
            new = th - step
            new_loss = loss(new)
            better = jnp.isfinite(new_loss) & (new_loss < cur)
            th = jnp.where(better, new, th)
            cur = jnp.where(better, new_loss, cur)
            lam = jnp.clip(jnp.where(better, lam * 0.3, lam * 10.0), 1e-12, 1e12)
            return (th, lam, cur), None

        (th, _, _), _ = jax.lax.scan(body, (theta, 1e-3, loss(theta)), None, length=steps)
        return th

    def exact_sse(f, th, xs, ys):
        z = f(th[0] * xs + th[1])
        r = th[2] * z + th[3] - ys
        ok = jnp.all(jnp.isfinite(z)) & jnp.all(jnp.abs(z) < 1e150)
        return jnp.where(ok, (r**2).sum(), jnp.inf)

    def per_edge(prim_fn, prim_safe, ga, gb, xg, yg, xs, ys):
        starts = grid_stage(prim_fn, xg, yg, ga, gb)  # grid on the subsample, exact primitive
        refined = jax.vmap(lambda t: lm(prim_fn, prim_safe, t, xs, ys))(starts)
        cand = jnp.concatenate([starts, refined], axis=0)
        sse = jax.vmap(lambda t: exact_sse(prim_fn, t, xs, ys))(cand)
        i = jnp.argmin(sse)
        return cand[i], sse[i]

    @jax.jit
    def jitted(grid, xg, yg, xs, ys):
        params, sses = [], []
        for p in prims:
            th, sse = jax.vmap(functools.partial(per_edge, p.fn, p.safe, grid[0], grid[1]))(
                xg, yg, xs, ys)
            params.append(th)
            sses.append(sse)
        return jnp.stack(params, axis=1), jnp.stack(sses, axis=1)  # (E, P, 4), (E, P)

    def run(xg, yg, xs, ys):
        return jitted(jnp.asarray(grid_ab), xg, yg, xs, ys)

    return run


def fit_edges(x, y, library: Library | None = None, *, grid: int = 31, span: float = 10.0,
              n_starts: int = 3, steps: int = 25, grid_samples: int = 96,
              max_samples: int = 256) -> EdgeFits:
    """Fit every primitive of ``library`` to every edge.

    Args:
        x, y: arrays of shape ``(edges, samples)`` (or ``(samples,)`` for one edge): the
            edge's inputs and outputs.
        library: primitives to try (default :data:`~sciml.symbolic.primitives.DEFAULT_LIBRARY`).
        grid: number of grid values per axis for ``a`` and ``b`` (on standardised inputs).
        span: grid range ``[-span, span]`` for ``a`` and ``b`` on standardised inputs.
        n_starts: grid points refined by Levenberg–Marquardt per edge and primitive.
        steps: Levenberg–Marquardt iterations.
        grid_samples, max_samples: samples per edge used by the grid and by the refinement.

    Returns:
        :class:`EdgeFits` with ``R^2`` computed on *all* samples.
    """
    library = DEFAULT_LIBRARY if library is None else library
    if not isinstance(library, Library):
        raise TypeError(f"library must be a sciml.symbolic.Library, got {type(library).__name__}")
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if x.ndim == 1:
        x, y = x[None], y[None]
    if x.shape != y.shape or x.ndim != 2:
        raise ValueError(f"x and y must both have shape (edges, samples); got {x.shape} and {y.shape}")
    if x.shape[1] < 5:
        raise ValueError(f"need at least 5 samples per edge to fit 4 constants, got {x.shape[1]}")
    if not (np.all(np.isfinite(x)) and np.all(np.isfinite(y))):
        raise ValueError("edge samples contain NaN or inf; drop those points before fitting")

    # standardise so one grid fits all edges; constant inputs or outputs keep scale 1
    mx, sx = x.mean(1, keepdims=True), x.std(1, keepdims=True)
    my, sy = y.mean(1, keepdims=True), y.std(1, keepdims=True)
    sx = np.where(sx > 1e-12 * (1 + np.abs(mx)), sx, 1.0)
    # float32 networks leave ~1e-7 relative jitter on edges that are constant in exact arithmetic
    const_y = (sy < 1e-6 * np.maximum(1.0, np.abs(my)))[:, 0]
    sy = np.where(sy > 0, sy, 1.0)
    xn, yn = (x - mx) / sx, (y - my) / sy

    xg, yg = _subsample(xn, yn, grid_samples)
    xs, ys = _subsample(xn, yn, max_samples)
    values = np.linspace(-span, span, grid)
    prims = tuple(library)
    run = _fitter(prims, tuple(values), tuple(values), int(n_starts), int(steps))
    # fixed-size chunks of edges: any network reuses one compilation
    n_edges = x.shape[0]
    pad = (-n_edges) % _CHUNK
    if pad:
        xg, yg, xs, ys = (np.concatenate([v, np.repeat(v[:1], pad, 0)]) for v in (xg, yg, xs, ys))
    out = []
    with jax.enable_x64(True):
        for k in range(0, len(xg), _CHUNK):
            sl = slice(k, k + _CHUNK)
            th, _ = run(jnp.asarray(xg[sl]), jnp.asarray(yg[sl]), jnp.asarray(xs[sl]),
                        jnp.asarray(ys[sl]))
            out.append(np.asarray(th))
    th = np.concatenate(out)[:n_edges]

    # back to original units: a' (x - m)/s + b' = (a'/s) x + (b' - a' m / s)
    a = th[..., 0] / sx
    b = th[..., 1] - th[..., 0] * mx / sx
    c = th[..., 2] * sy
    d = th[..., 3] * sy + my
    params = np.stack([a, b, c, d], axis=-1)

    # R^2 on every sample with the exact primitive (undefined -> -inf)
    r2 = np.full(a.shape, -np.inf)
    sst = ((y - my) ** 2).sum(1)
    with np.errstate(all="ignore"), jax.enable_x64(True):
        for j, p in enumerate(prims):
            z = np.asarray(p.fn(jnp.asarray(a[:, j, None] * x + b[:, j, None])))
            pred = c[:, j, None] * z + d[:, j, None]
            ok = np.all(np.isfinite(z), axis=1)
            sse = ((pred - y) ** 2).sum(1)
            r2[:, j] = np.where(ok, 1.0 - sse / np.maximum(sst, 1e-300), -np.inf)
    r2[const_y] = np.where(np.isfinite(r2[const_y]), 1.0, -np.inf)
    return EdgeFits(names=[p.name for p in prims],
                    complexity=np.array([p.complexity for p in prims]), params=params, r2=r2)
