"""Sparse regression of closed-form terms (SINDy, Brunton, Proctor & Kutz, PNAS 2016).

Given samples ``X`` (``(N, d)``, e.g. states along a trajectory) and targets ``Y``
(``(N, m)``, e.g. derivatives, or the outputs of a learned unknown term), find a sparse
coefficient matrix :math:`\\Xi` with :math:`Y \\approx \\Theta(X)\\,\\Xi`, where
:math:`\\Theta` is a library of candidate functions (here monomials up to a degree).

Sequentially thresholded least squares (STLSQ): solve the (ridge) least-squares problem,
zero every coefficient below ``threshold``, refit on the survivors, repeat until the support
stops changing. :func:`sparse_fit` returns sympy expressions so the recovered terms plug
straight into a :class:`~sciml.dynamics.problem.ODEProblem` or a ``law.json``.
"""

from __future__ import annotations

import itertools
from typing import Sequence

import numpy as np
import sympy as sp

__all__ = ["polynomial_library", "stlsq", "sparse_fit", "finite_difference"]


def polynomial_library(symbols: Sequence[sp.Symbol], degree: int, *, bias: bool = True) -> list[sp.Expr]:
    """All monomials of ``symbols`` up to total ``degree`` (constant first if ``bias``)."""
    if degree < 1:
        raise ValueError(f"library degree must be >= 1, got {degree}")
    terms: list[sp.Expr] = [sp.Integer(1)] if bias else []
    for k in range(1, degree + 1):
        for combo in itertools.combinations_with_replacement(symbols, k):
            terms.append(sp.Mul(*combo))
    return terms


def evaluate_library(terms: Sequence[sp.Expr], symbols: Sequence[sp.Symbol], X: np.ndarray) -> np.ndarray:
    """``(N, len(terms))`` matrix of the library evaluated at the rows of ``X``."""
    X = np.asarray(X, dtype=np.float64)
    f = sp.lambdify([list(symbols)], list(terms), modules="numpy")
    cols = f(X.T)
    return np.stack([np.broadcast_to(np.asarray(c, dtype=np.float64), (X.shape[0],)) for c in cols], -1)


def stlsq(
    theta: np.ndarray, y: np.ndarray, threshold: float, *, ridge: float = 0.0, max_iter: int = 20
) -> np.ndarray:
    """Sequentially thresholded least squares: ``(n_terms, m)`` sparse coefficients.

    Columns are scaled to unit norm for the solve (conditioning) and the threshold is applied
    to the coefficients in the original units, as in PySINDy's ``STLSQ``.
    """
    theta = np.asarray(theta, np.float64)
    y = np.asarray(y, np.float64).reshape(theta.shape[0], -1)
    norms = np.linalg.norm(theta, axis=0)
    norms[norms == 0] = 1.0
    A = theta / norms

    def solve(cols, rhs):
        a = A[:, cols]
        if ridge:
            return np.linalg.solve(a.T @ a + ridge * np.eye(a.shape[1]), a.T @ rhs)
        return np.linalg.lstsq(a, rhs, rcond=None)[0]

    xi = np.zeros((theta.shape[1], y.shape[1]))
    for j in range(y.shape[1]):
        support = np.ones(theta.shape[1], bool)
        coef = np.zeros(theta.shape[1])
        for _ in range(max_iter):
            coef = np.zeros(theta.shape[1])
            if support.any():
                coef[support] = solve(support, y[:, j]) / norms[support]
            new = np.abs(coef) >= threshold
            if np.array_equal(new, support):
                break
            support = new
        coef[~support] = 0.0
        xi[:, j] = coef
    return xi


def sparse_fit(
    X: np.ndarray,
    Y: np.ndarray,
    symbols: Sequence[sp.Symbol],
    *,
    degree: int = 3,
    threshold: float = 0.1,
    ridge: float = 0.0,
    bias: bool = True,
    digits: int | None = None,
) -> list[sp.Expr]:
    """Sparse polynomial expressions ``y_j(symbols)`` fitted to the columns of ``Y``.

    Args:
        X: ``(N, d)`` samples of ``symbols``.
        Y: ``(N, m)`` or ``(N,)`` targets.
        degree: highest total degree of the monomial library.
        threshold: STLSQ cut-off on coefficient magnitudes.
        digits: round the printed coefficients to this many significant digits (None: keep).
    """
    X = np.asarray(X, np.float64)
    if X.ndim != 2 or X.shape[1] != len(symbols):
        raise ValueError(f"X must be (samples, {len(symbols)}) for symbols {list(symbols)}, got {X.shape}")
    Y = np.asarray(Y, np.float64).reshape(X.shape[0], -1)
    if not (np.all(np.isfinite(X)) and np.all(np.isfinite(Y))):
        raise ValueError("sparse_fit needs finite samples; drop rows with NaN or inf first")
    terms = polynomial_library(symbols, degree, bias=bias)
    xi = stlsq(evaluate_library(terms, symbols, X), Y, threshold, ridge=ridge)
    out = []
    for j in range(Y.shape[1]):
        expr = sp.Add(*[sp.Float(c if digits is None else float(f"{c:.{digits}g}")) * t for c, t in zip(xi[:, j], terms) if c != 0])
        out.append(expr)
    return out


def finite_difference(t: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Fourth-order central differences ``dy/dt`` along axis 0 on a uniform grid.

    The two points at each end use second-order one-sided formulas.
    """
    t = np.asarray(t, np.float64)
    y = np.asarray(y, np.float64)
    dt = np.diff(t)
    if not np.allclose(dt, dt[0], rtol=1e-6):
        raise ValueError("finite_difference needs uniformly spaced times; interpolate first")
    h = dt[0]
    d = np.empty_like(y)
    d[2:-2] = (-y[4:] + 8 * y[3:-1] - 8 * y[1:-3] + y[:-4]) / (12 * h)
    d[:2] = (-3 * y[:2] + 4 * y[1:3] - y[2:4]) / (2 * h)
    d[-2:] = (3 * y[-2:] - 4 * y[-3:-1] + y[-4:-2]) / (2 * h)
    return d
