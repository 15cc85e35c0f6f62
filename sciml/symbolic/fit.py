"""Vectorised fitting of ``y ≈ c * f(a * x + b) + d`` for many edges and all primitives at once.

For every edge ``e`` (samples ``x[e], y[e]``) and every primitive ``f`` in a
:class:`~sciml.symbolic.primitives.Library` we solve

.. math::
    \\min_{a,b,c,d} \\sum_n \\big(c\\, f(a x_n + b) + d - y_n\\big)^2

in one jitted JAX computation (all edges x all primitives, one compilation per library):

1. **Grid.** Inputs and targets are standardised per edge. For each ``(a, b)`` on a coarse grid
   the optimal ``(c, d)`` is linear least squares, so its quality is just the squared
   correlation ``corr(f(a x + b), y)^2`` from three sums — no inner solve. This stage only
   ranks starting points, so it runs in float32. The ``k`` best grid points are kept as
   starts (several, because e.g. ``sin`` has many local minima in ``a``).
2. **Levenberg–Marquardt.** Each start is refined in all four parameters with damped
   Gauss–Newton steps in float64 (Marquardt's diagonal scaling, step accepted only if the loss
   drops), with the analytic Jacobian from the domain-safe variant's derivative; all
   primitives share one loop.
3. **Domain check.** A fit counts only if the *exact* primitive is finite on every sample
   (no ``log`` of a negative number hiding behind the safe variant); ``R^2`` is computed on
   every sample inside the same program.

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
    """Exactly ``m`` points per edge, evenly spread over the sorted inputs.

    A fixed count keeps array shapes, and so the compiled program, independent of how many
    samples the caller has (with fewer than ``m`` samples some are repeated).
    """
    n = x.shape[1]
    order = np.argsort(x, axis=1)
    pick = order[:, np.linspace(0, n - 1, m).round().astype(int)]
    return np.take_along_axis(x, pick, 1), np.take_along_axis(y, pick, 1)


def _bucket(n: int) -> int:
    """Padded sample count (a power of two, at least 256): few distinct compiled shapes."""
    return max(256, 1 << (n - 1).bit_length())


def _grid_starts(fns, ga, gb, xg, yg, n_starts):
    """Best ``n_starts`` grid points per primitive and edge, with closed-form ``(c, d)``.

    Float32 is enough here: the grid only ranks starting points, refinement is float64.
    Shapes: ``xg, yg (E, M)``; returns ``(P, E, k, 4)``.
    """
    xg, yg = xg.astype(jnp.float32), yg.astype(jnp.float32)
    ga, gb = ga.astype(jnp.float32), gb.astype(jnp.float32)
    u = ga[:, None, None] * xg[None] + gb[:, None, None]  # (G, E, M)
    yc = yg - yg.mean(axis=1, keepdims=True)
    syy = (yc**2).sum(axis=1) + 1e-30  # (E,)
    out = []
    m = xg.shape[1]
    for f in fns:
        # three plain sums (one fused pass over f(u)); a non-finite value anywhere makes the
        # sum of squares non-finite, which marks the grid point as outside the domain
        z = f(u)
        sz = z.sum(axis=2)
        szz_raw = (z * z).sum(axis=2)
        szy = (z * yc[None]).sum(axis=2)  # = sum (z - mean z)(y - mean y), yc is centred
        ok = jnp.isfinite(szz_raw) & (szz_raw < 1e30 * m)
        zm = jnp.where(ok, sz / m, 0.0)
        szz = jnp.where(ok, szz_raw - m * zm**2, 0.0)
        szy = jnp.where(ok, szy, 0.0)
        nonconst = szz > 1e-5 * m * (1.0 + zm**2)
        r2 = jnp.where(nonconst, szy**2 / (szz * syy + 1e-30), 0.0)
        r2 = jnp.where(ok, r2, -1.0).T  # (E, G)
        _, idx = jax.lax.top_k(r2, n_starts)  # (E, k)
        nonconst_k, szy_k, szz_k, zm_k = (jnp.take_along_axis(v.T, idx, axis=1)
                                          for v in (nonconst, szy, szz, zm))
        c = jnp.where(nonconst_k, szy_k / (szz_k + 1e-30), 0.0)
        d = yg.mean(axis=1, keepdims=True) - c * zm_k
        out.append(jnp.stack([ga[idx], gb[idx], c, d], axis=-1))
    return jnp.stack(out).astype(jnp.float64)


def _eval_all(fns, u):
    """``fns[p](u[p])`` for every primitive ``p``; ``u`` has a leading primitive axis."""
    return jnp.stack([f(u[p]) for p, f in enumerate(fns)])


def _levenberg_marquardt(safes, theta, xs, ys, steps):
    """Refine all ``(P, E, k)`` fits at once with damped Gauss–Newton in float64.

    The Jacobian is analytic in the primitive's derivative ``f'`` (one ``jvp`` per
    primitive): ``d/da = c f'(u) x, d/db = c f'(u), d/dc = f(u), d/dd = 1``. All primitives
    share one loop so the whole refinement is a single compiled scan.
    """
    x = xs[None, :, None, :]  # (1, E, 1, S)
    y = ys[None, :, None, :]

    def value_and_slope(th):
        u = th[..., 0:1] * x + th[..., 1:2]
        pairs = [jax.jvp(f, (u[p],), (jnp.ones_like(u[p]),)) for p, f in enumerate(safes)]
        return jnp.stack([z for z, _ in pairs]), jnp.stack([dz for _, dz in pairs])

    def sse(th):
        u = th[..., 0:1] * x + th[..., 1:2]
        r = th[..., 2:3] * _eval_all(safes, u) + th[..., 3:4] - y
        s = (r**2).sum(axis=-1)
        return jnp.where(jnp.isfinite(s), s, jnp.inf)

    def body(carry, _):
        th, lam, cur = carry
        z, dz = value_and_slope(th)
        c = th[..., 2:3]
        r = c * z + th[..., 3:4] - y
        jac = jnp.stack([c * dz * x, c * dz, z, jnp.ones_like(z)], axis=-1)  # (..., S, 4)
        jac = jnp.where(jnp.isfinite(jac), jac, 0.0)
        r = jnp.where(jnp.isfinite(r), r, 0.0)
        h = jnp.einsum("...si,...sj->...ij", jac, jac)
        g = jnp.einsum("...si,...s->...i", jac, r)
        diag = jnp.diagonal(h, axis1=-2, axis2=-1)
        damped = h + (lam[..., None] * (diag + 1e-12))[..., None] * jnp.eye(4)
        step = jnp.linalg.solve(damped, g[..., None])[..., 0]
        new = th - step
        new_sse = sse(new)
        better = jnp.isfinite(new_sse) & (new_sse < cur)
        th = jnp.where(better[..., None], new, th)
        cur = jnp.where(better, new_sse, cur)
        lam = jnp.clip(jnp.where(better, lam * 0.3, lam * 10.0), 1e-12, 1e12)
        return (th, lam, cur), None

    lam0 = jnp.full(theta.shape[:-1], 1e-3)
    (th, _, _), _ = jax.lax.scan(body, (theta, lam0, sse(theta)), None, length=steps)
    return th


@functools.lru_cache(maxsize=32)
def _fitter(prims: tuple, n_starts: int, steps: int):
    """The jitted all-edges x all-primitives fitter for one library (cached per library).

    The grid is an argument, not a closed-over constant: as a constant XLA would try to fold
    the whole grid evaluation at compile time, which makes compilation very slow.
    """
    fns = [p.fn for p in prims]
    safes = [p.safe for p in prims]

    @jax.jit
    def run(ga, gb, xg, yg, xs, ys, x_all, y_all, w_all):
        starts = _grid_starts(fns, ga, gb, xg, yg, n_starts)  # (P, E, k, 4)
        refined = _levenberg_marquardt(safes, starts, xs, ys, steps)
        cand = jnp.concatenate([starts, refined], axis=2)  # (P, E, 2k, 4)
        # choose among starts and refinements with the *exact* primitive on the subsample
        u = cand[..., 0:1] * xs[None, :, None, :] + cand[..., 1:2]
        z = _eval_all(fns, u)
        r = cand[..., 2:3] * z + cand[..., 3:4] - ys[None, :, None, :]
        s = jnp.where(jnp.all(jnp.isfinite(z), axis=-1), (r**2).sum(axis=-1), jnp.inf)
        best = jnp.take_along_axis(cand, jnp.argmin(s, axis=2)[:, :, None, None], axis=2)[:, :, 0]
        # R^2 on every (weighted, padded) sample with the exact primitive
        u = best[..., 0:1] * x_all[None] + best[..., 1:2]  # (P, E, N)
        z = _eval_all(fns, u)
        r = best[..., 2:3] * z + best[..., 3:4] - y_all[None]
        ok = jnp.all(jnp.isfinite(z) | (w_all[None] == 0), axis=-1)
        sse = (w_all[None] * jnp.where(w_all[None] > 0, r, 0.0) ** 2).sum(axis=-1)
        ym = (w_all * y_all).sum(axis=1) / w_all.sum(axis=1)
        sst = (w_all * (y_all - ym[:, None]) ** 2).sum(axis=1)
        r2 = jnp.where(ok, 1.0 - sse / jnp.maximum(sst, 1e-300)[None], -jnp.inf)
        return best, r2  # (P, E, 4), (P, E)

    return run


def fit_edges(x, y, library: Library | None = None, *, grid: int = 31, span: float = 10.0,
              n_starts: int = 2, steps: int = 20, grid_samples: int = 64,
              max_samples: int = 128) -> EdgeFits:
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
    n_edges, n = x.shape
    n_pad = _bucket(n)
    weights = np.zeros((n_edges, n_pad))
    weights[:, :n] = 1.0
    # padding repeats the first sample (so every primitive is defined there) at weight 0
    x_all = np.concatenate([xn, np.repeat(xn[:, :1], n_pad - n, 1)], 1)
    y_all = np.concatenate([yn, np.repeat(yn[:, :1], n_pad - n, 1)], 1)
    values = np.linspace(-span, span, grid)
    ga, gb = np.repeat(values, grid), np.tile(values, grid)
    prims = tuple(library)
    run = _fitter(prims, int(n_starts), int(steps))
    # edges in fixed-size chunks: any network with up to `chunk` edges reuses one compilation
    chunk = _CHUNK if n_edges <= _CHUNK else 4 * _CHUNK
    pad = (-n_edges) % chunk
    arrays = [xg, yg, xs, ys, x_all, y_all, weights]
    if pad:
        arrays = [np.concatenate([v, np.repeat(v[:1], pad, 0)]) for v in arrays]
    ths, r2s = [], []
    with jax.enable_x64(True):
        for k in range(0, n_edges + pad, chunk):
            th, r2 = run(jnp.asarray(ga), jnp.asarray(gb),
                         *(jnp.asarray(v[k:k + chunk]) for v in arrays))
            ths.append(np.asarray(th))
            r2s.append(np.asarray(r2))
    th = np.concatenate(ths, axis=1)[:, :n_edges].transpose(1, 0, 2)  # (E, P, 4)
    r2 = np.concatenate(r2s, axis=1)[:, :n_edges].T  # (E, P)

    # back to original units: a' (x - m)/s + b' = (a'/s) x + (b' - a' m / s)
    a = th[..., 0] / sx
    b = th[..., 1] - th[..., 0] * mx / sx
    c = th[..., 2] * sy
    d = th[..., 3] * sy + my
    params = np.stack([a, b, c, d], axis=-1)
    r2[const_y] = np.where(np.isfinite(r2[const_y]), 1.0, -np.inf)
    return EdgeFits(names=[p.name for p in prims],
                    complexity=np.array([p.complexity for p in prims]), params=params, r2=r2)
