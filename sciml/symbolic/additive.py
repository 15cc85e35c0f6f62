"""Built-in search: a ``[n, 1, 1]`` KAN fitted in closed form, then distilled edge by edge.

Many laws are *separable after an output transform*: ``T(y) = sum_i g_i(x_i)`` with
``T`` in {identity, log, 1/y, sqrt, y^2} — products of powers become sums under ``log``
(Coulomb, Newton), ``exp(sin(pi x) + y^2)`` is additive in ``log y``, Euclidean norms are
additive in ``y^2``. That is exactly a KAN of shape ``[n, 1, 1]`` whose last edge is ``T^-1``.

For each admissible ``T`` we fit the additive model with cubic B-spline edges by *linear*
least squares (a generalised additive model; the spline coefficients enter linearly, so no
training loop), read off each learned edge ``g_i`` on the data, and distil all edges with the
batched primitive fit of :mod:`sciml.symbolic.fit`. Composition gives one candidate formula per
transform; :func:`sciml.symbolic.refit.clean` then refits every constant jointly against the
untransformed data and rounds what it can.

Reference: T. Hastie, R. Tibshirani, *Generalized Additive Models* (1990); S.-M. Udrescu,
M. Tegmark, *AI Feynman* (2020) for separability tests under output transforms.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import sympy as sp
from scipy.interpolate import BSpline

from .fit import fit_edges
from .primitives import Library

__all__ = ["TRANSFORMS", "Transform", "spline_additive_fit", "additive_candidates"]


@dataclasses.dataclass(frozen=True)
class Transform:
    name: str
    forward: object  # numpy y -> T(y)
    inverse: object  # sympy s -> y
    valid: object  # numpy y -> bool


TRANSFORMS = [
    Transform("identity", lambda y: y, lambda s: s, lambda y: True),
    Transform("log", np.log, sp.exp, lambda y: bool(np.all(y > 0))),
    Transform("log(-y)", lambda y: np.log(-y), lambda s: -sp.exp(s), lambda y: bool(np.all(y < 0))),
    Transform("1/y", lambda y: 1.0 / y, lambda s: 1 / s,
              lambda y: bool(np.all(y > 0) or np.all(y < 0))),
    Transform("y^2", lambda y: y**2, sp.sqrt, lambda y: bool(np.all(y > 0))),
    Transform("sqrt", np.sqrt, lambda s: s**2, lambda y: bool(np.all(y >= 0))),
]


def _design(x, n_knots=10, degree=3):
    lo, hi = float(x.min()), float(x.max())
    if hi - lo < 1e-12:
        return np.zeros((len(x), 0))
    inner = np.quantile(x, np.linspace(0, 1, n_knots))
    inner = np.unique(np.concatenate([[lo], inner[1:-1], [hi]]))
    t = np.concatenate([[lo] * degree, inner, [hi] * degree])
    B = BSpline.design_matrix(np.clip(x, lo, hi), t, degree).toarray()
    return B[:, 1:]  # drop one column: the intercept carries the constant


def _one_blas_thread():
    """Small least-squares problems run fastest on one BLAS thread, and on a shared machine a
    multi-threaded BLAS on a 1000 x 40 matrix mostly waits for other processes."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - threadpoolctl comes with scikit-learn (pyoperon)
        import contextlib
        return contextlib.nullcontext()
    return threadpool_limits(1)


def spline_additive_fit(X, t, n_knots: int = 10):
    """Least-squares ``t ≈ beta_0 + sum_i B_i(x_i) beta_i``; returns (edge curves, intercept, R^2).

    ``t`` may be ``(N,)`` or ``(N, T)`` (several transformed targets sharing one design
    matrix, solved in one factorisation); curves are then ``(T, n, N)`` and intercept and
    ``R^2`` arrays of length ``T``.
    """
    designs = [_design(X[:, i], n_knots) for i in range(X.shape[1])]
    A = np.concatenate([np.ones((len(t), 1))] + designs, axis=1)
    coef, *_ = np.linalg.lstsq(A, t, rcond=None)
    single = t.ndim == 1
    coef2 = coef[:, None] if single else coef
    t2 = t[:, None] if single else t
    curves, k = [], 1
    for D in designs:
        curves.append(D @ coef2[k:k + D.shape[1]])  # (N, T)
        k += D.shape[1]
    resid = t2 - A @ coef2
    sst = np.maximum(((t2 - t2.mean(0)) ** 2).sum(0), 1e-300)
    r2 = 1.0 - (resid**2).sum(0) / sst
    curves = np.stack(curves).transpose(2, 0, 1)  # (T, n, N)
    if single:
        return curves[0], float(coef2[0, 0]), float(r2[0])
    return curves, coef2[0], r2


def _structures(X, symbols):
    """Input structures: the raw variables, and each pair combined into one feature.

    A pair feature ``u = x_i (op) x_j`` with op in {*, /, \\, -, +} replaces one of the two
    variables (both choices are tried), so ``exp(-(theta/sigma)^2/2)/sigma`` becomes additive in
    ``log`` over ``(theta/sigma, sigma)`` and ``sqrt((x2-x1)^2 + ...)`` additive in ``y^2``.
    """
    n = X.shape[1]
    out = [("x", list(symbols), X)]
    ops = [("*", lambda a, b: a * b), ("/", lambda a, b: a / b), ("\\", lambda a, b: b / a),
           ("-", lambda a, b: a - b), ("+", lambda a, b: a + b)]
    for i in range(n):
        for j in range(i + 1, n):
            for name, op in ops:
                with np.errstate(all="ignore"):
                    u = op(X[:, i], X[:, j])
                if not np.all(np.isfinite(u)) or np.ptp(u) < 1e-12:
                    continue
                ue = op(symbols[i], symbols[j])
                for drop in (i, j):
                    keep = [k for k in range(n) if k != drop]
                    cols = np.column_stack([u] + [X[:, k] for k in keep])
                    out.append((f"{symbols[i]}{name}{symbols[j]}|-{symbols[drop]}",
                                [ue] + [symbols[k] for k in keep], cols))
    return out


def additive_candidates(X, y, symbols, library: Library | None = None, *,
                        r2_threshold: float = 0.9, keep_factor: float = 100.0,
                        n_pairs: int = 3) -> list[tuple[str, sp.Expr, float]]:
    """Candidate formulas ``T^-1(sum_k g_k(u_k))``: ``(label, expr, spline R^2)``.

    Every admissible transform is tried on the raw variables, and on pair-feature structures
    (:func:`_structures`); the raw structures within ``keep_factor`` of the best spline error
    and the ``n_pairs`` best pair structures (if they beat the raw ones) are distilled. Edges
    whose best primitive fit is below ``r2_threshold`` are left out of that candidate (the joint
    refit then decides how good the remaining formula is).
    """
    from .primitives import DEFAULT_LIBRARY

    library = DEFAULT_LIBRARY if library is None else library
    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    structures = _structures(X, symbols)
    scored = []  # (err, transform, structure index, curves, intercept)
    targets = []
    for T in (T for T in TRANSFORMS if T.valid(y)):
        with np.errstate(all="ignore"):
            t = T.forward(y)
        if np.all(np.isfinite(t)):
            targets.append((T, t))
    if targets:
        tmat = np.stack([t for _, t in targets], axis=1)
        with _one_blas_thread():
            for k, (_, _, cols) in enumerate(structures):
                curves, c0, r2 = spline_additive_fit(cols, tmat)
                for j, (T, _) in enumerate(targets):
                    scored.append((1.0 - r2[j], T, k, curves[j], float(c0[j])))
    if not scored:
        return []
    raw = [s for s in scored if s[2] == 0]
    best_raw = min(s[0] for s in raw)
    chosen = sorted((s for s in raw if s[0] <= keep_factor * max(best_raw, 1e-10)),
                    key=lambda s: s[0])[:2]
    pairs = sorted((s for s in scored if s[2] != 0 and s[0] < 0.1 * best_raw), key=lambda s: s[0])
    chosen += pairs[:n_pairs]
    # every learned edge of every chosen structure in one batched fit
    xs = np.concatenate([structures[k][2].T for _, _, k, _, _ in chosen])
    ys = np.concatenate([curves for _, _, _, curves, _ in chosen])
    choices = fit_edges(xs, ys, library).select(r2_threshold=r2_threshold)
    out, pos = [], 0
    for err, T, k, curves, c0 in chosen:
        label, feats, _ = structures[k]
        s = sp.Float(c0)
        for f in feats:
            ch = choices[pos]
            pos += 1
            if ch.numeric or ch.name == "0":
                continue
            a, b, c, d = ch.params
            s = s + sp.Float(c) * library[ch.name].sympy_fn(sp.Float(a) * f + sp.Float(b)) + sp.Float(d)
        out.append((f"{T.name}:{label}", T.inverse(s), 1.0 - err))
    return out
