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


def spline_additive_fit(X, t, n_knots: int = 10):
    """Least-squares ``t ≈ beta_0 + sum_i B_i(x_i) beta_i``; returns (edge curves (n, N), R^2)."""
    designs = [_design(X[:, i], n_knots) for i in range(X.shape[1])]
    A = np.concatenate([np.ones((len(t), 1))] + designs, axis=1)
    coef, *_ = np.linalg.lstsq(A, t, rcond=None)
    curves, k = [], 1
    for D in designs:
        curves.append(D @ coef[k:k + D.shape[1]])
        k += D.shape[1]
    resid = t - A @ coef
    r2 = 1.0 - float(resid @ resid) / max(float(((t - t.mean()) ** 2).sum()), 1e-300)
    return np.stack(curves), float(coef[0]), r2


def additive_candidates(X, y, symbols, library: Library | None = None, *,
                        r2_threshold: float = 0.9) -> list[tuple[str, sp.Expr, float]]:
    """One candidate formula per admissible output transform: ``(transform, expr, spline R^2)``.

    Edges whose best primitive fit is below ``r2_threshold`` are left out of that candidate
    (the joint refit then decides how good the remaining formula is).
    """
    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    out = []
    usable = [T for T in TRANSFORMS if T.valid(y)]
    curves_all, fits_meta = [], []
    for T in usable:
        with np.errstate(all="ignore"):
            t = T.forward(y)
        if not np.all(np.isfinite(t)):
            continue
        curves, c0, r2 = spline_additive_fit(X, t)
        curves_all.append(curves)
        fits_meta.append((T, c0, r2))
    if not curves_all:
        return out
    # every learned edge of every transform in one batched fit
    xs = np.concatenate([X.T] * len(curves_all))
    ys = np.concatenate(curves_all)
    choices = fit_edges(xs, ys, library).select(r2_threshold=r2_threshold)
    n = X.shape[1]
    for k, (T, c0, r2) in enumerate(fits_meta):
        s = sp.Float(c0)
        for i in range(n):
            ch = choices[k * n + i]
            if ch.numeric or ch.name == "0":
                continue
            a, b, c, d = ch.params
            prim = library[ch.name] if library is not None else None
            if prim is None:
                from .primitives import DEFAULT_LIBRARY
                prim = DEFAULT_LIBRARY[ch.name]
            s = s + sp.Float(c) * prim.sympy_fn(sp.Float(a) * symbols[i] + sp.Float(b)) + sp.Float(d)
        out.append((T.name, T.inverse(s), r2))
    return out
