"""Ratio laws ``y = g(u) / h(v)`` of two features, fitted on the data as one linear problem.

A product or a quotient of two one-variable functions is additive under ``log`` — unless the
law changes sign or comes near zero inside the data, where the logarithm is singular:
``sin(n theta / 2)^2 / sin(theta / 2)^2`` vanishes wherever ``n theta`` is a multiple of
``2 pi``. Written as ``y h(v) - g(u) = 0`` with ``g`` and ``h`` in spline bases, the law is
the null vector of one linear system (the smallest right singular vector): no logarithm and no
iteration. The features ``(u, v)`` are the two variables of a two-variable problem, or a pair
feature with one of them (:func:`sciml.symbolic.additive.pair_structures`), so ``n theta``
over ``theta`` is tried. Each curve is then distilled into a primitive
(:func:`sciml.symbolic.fit.fit_edges`) and the quotient of the two is a candidate formula for
the caller's joint refit.

The spline knots are uniform in each feature, not at its quantiles: a ratio law is often
oscillatory over the whole range, and the tail of a product feature, where quantile knots are
sparse, needs as many knots per period as its middle.
"""

from __future__ import annotations

import numpy as np
import sympy as sp

from .additive import input_structures, spline_design
from .fit import fit_edges
from .primitives import Library, edge_formula

__all__ = ["ratio_candidates"]


def _null_ratio(y, u, v, n_knots: int) -> tuple[float, np.ndarray, np.ndarray]:
    """``(relative MSE of g / h, g(u), h(v))`` from the smallest right singular vector of
    ``[y H, -G]`` (columns scaled to unit norm, so that no basis function is favoured)."""
    G = np.column_stack([np.ones(len(y)), spline_design(u, n_knots, uniform=True)])
    H = np.column_stack([np.ones(len(y)), spline_design(v, n_knots, uniform=True)])
    M = np.concatenate([y[:, None] * H, -G], axis=1)
    scale = np.linalg.norm(M, axis=0)
    scale[scale == 0] = 1.0
    _, _, vt = np.linalg.svd(M / scale, full_matrices=False)
    coef = vt[-1] / scale
    h, g = H @ coef[:H.shape[1]], G @ coef[H.shape[1]:]
    with np.errstate(all="ignore"):
        err = float(np.mean((g / h - y) ** 2)) / max(float(np.var(y)), 1e-300)
    return (err if np.isfinite(err) else np.inf), g, h


def ratio_candidates(X, y, symbols, library: Library | None = None, *, n_knots: int = 24,
                     keep: int = 3, max_error: float = 1e-2) -> list[tuple[str, sp.Expr]]:
    """Candidate formulas ``g(u) / h(v)`` for a two-variable problem: ``(label, expr)``.

    Every ordered pair of features of every two-feature structure (the raw variables, and a
    pair feature with either variable) is fitted (:func:`_null_ratio`); the ``keep`` with the
    lowest error below ``max_error`` (relative to ``Var(y)``) whose two curves both match a
    primitive become formulas. Empty for other numbers of variables.
    """
    from .primitives import DEFAULT_LIBRARY

    library = DEFAULT_LIBRARY if library is None else library
    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if X.ndim != 2 or X.shape[1] != 2 or len(y) < 4 * n_knots:
        return []
    structures = input_structures(X, symbols)
    fits = []
    for label, feats, cols in structures:
        for num, den in ((0, 1), (1, 0)):
            err, g, h = _null_ratio(y, cols[:, num], cols[:, den], n_knots)
            if err <= max_error:
                fits.append((err, f"{label}: {feats[num]} / {feats[den]}", (feats[num], feats[den]),
                             (cols[:, num], cols[:, den]), (g, h)))
    fits = sorted(fits, key=lambda f: f[0])[:keep]
    if not fits:
        return []
    xs = np.stack([c for f in fits for c in f[3]])
    ys = np.stack([c for f in fits for c in f[4]])
    choices = fit_edges(xs, ys, library).select()
    out = []
    for k, (_, label, (fu, fv), _, _) in enumerate(fits):
        top, bottom = choices[2 * k], choices[2 * k + 1]
        if top.numeric or bottom.numeric:
            continue
        numerator, denominator = _one_scale(edge_formula(library[top.name], top.params, fu),
                                            edge_formula(library[bottom.name], bottom.params, fv))
        out.append((f"ratio:{label}", numerator / denominator))
    return out


def _one_scale(numerator: sp.Expr, denominator: sp.Expr) -> tuple[sp.Expr, sp.Expr]:
    """``g / h`` with the common scale divided out: ``h``'s additive constant (else its numeric
    factor) becomes an exact 1, not a fitted one. The null vector fixes ``g`` and ``h`` only up
    to one shared factor; left in, it is a redundant constant on each side that the joint refit
    cannot pin down and that rounding then fixes on each side separately, to a wrong product."""
    constant, rest = denominator.as_coeff_Add()
    if constant != 0 and constant.is_finite:
        return numerator / constant, 1 + rest / constant
    constant, rest = denominator.as_coeff_Mul()
    if constant != 0 and constant.is_finite:
        return numerator / constant, rest
    return numerator, denominator
