"""Sparse regression over a dictionary of terms, and rational laws by the same linear algebra.

Laws that no output transform makes separable are often *linear in a few terms*: an
interference law ``1 + a + 2 sqrt(a) cos(delta)`` is three terms of a dictionary of unary
functions and their pairwise products (the SINDy / FFX idea). :func:`linear_candidates`
picks the terms by a beam search over subsets.

Rational laws become linear once multiplied out: ``y = P(x) / (1 + Q(x))`` is
``y = P(x) - y Q(x)``. :func:`rational_candidates` regresses on monomials ``m(x)`` and
``y m(x)`` (velocity addition ``(a + b) / (1 + ab)`` is ``a + b - ab y``; a weighted mean
``(p + q) / (1 + p)`` is ``p + q - p y``), and, when no constant belongs in the denominator,
with ``1`` as target and no intercept (``y / d1 + n y / d2 = 1``). The linearised residual
rewards a vanishing denominator (``y = y`` is a perfect fit once two ``y m`` terms add up to
nearly one), so every subset is searched *exhaustively* up to three terms by its linear
residual, and the best ones are then judged by their error in ``y`` itself.

Multiplying by a noisy ``y`` biases the linear coefficients slightly; they are starting values,
which the joint refit of :func:`sciml.symbolic.refit.clean` then corrects against ``y``.

References: S. L. Brunton, J. L. Proctor, J. N. Kutz, *Discovering governing equations from
data by sparse identification of nonlinear dynamical systems*, PNAS 113 (2016);
T. McConaghy, *FFX: Fast, scalable, deterministic symbolic regression technology* (2011).
"""

from __future__ import annotations

import dataclasses
import itertools
from typing import Callable

import numpy as np
import sympy as sp

__all__ = ["Term", "unary_terms", "dictionary", "monomials", "best_subsets", "linear_candidates",
           "rational_candidates", "stlsq", "sparse_fit", "finite_difference"]


@dataclasses.dataclass(frozen=True)
class Term:
    """One dictionary column: its values on the data and its sympy form."""

    values: np.ndarray
    expr: sp.Expr


# (numpy function, sympy function, domain check on the column)
_UNARY: list[tuple[Callable, Callable, Callable]] = [
    (lambda x: x, lambda s: s, lambda x: True),
    (np.square, lambda s: s**2, lambda x: True),
    (lambda x: x**3, lambda s: s**3, lambda x: True),
    (lambda x: 1.0 / x, lambda s: 1 / s, lambda x: np.min(np.abs(x)) > 1e-8),
    (lambda x: x**-2.0, lambda s: s**-2, lambda x: np.min(np.abs(x)) > 1e-8),
    (np.sqrt, sp.sqrt, lambda x: np.min(x) >= 0),
    (lambda x: 1.0 / np.sqrt(x), lambda s: 1 / sp.sqrt(s), lambda x: np.min(x) > 1e-8),
    (np.log, sp.log, lambda x: np.min(x) > 1e-8),
    (np.exp, sp.exp, lambda x: np.max(np.abs(x)) < 30),
    (lambda x: np.exp(-x), lambda s: sp.exp(-s), lambda x: np.max(np.abs(x)) < 30),
    (np.sin, sp.sin, lambda x: True),
    (np.cos, sp.cos, lambda x: True),
    # Lorentz factors of a speed ratio |x| < 1: gamma = 1/sqrt(1 - x^2) and x gamma
    (lambda x: 1.0 / np.sqrt(1.0 - x**2), lambda s: 1 / sp.sqrt(1 - s**2), lambda x: np.max(np.abs(x)) < 1),
    (lambda x: x / np.sqrt(1.0 - x**2), lambda s: s / sp.sqrt(1 - s**2), lambda x: np.max(np.abs(x)) < 1),
    # the same of the inverse ratio |x| > 1 (a ratio found as c / v rather than v / c)
    (lambda x: 1.0 / np.sqrt(1.0 - x**-2.0), lambda s: 1 / sp.sqrt(1 - s**-2), lambda x: np.min(np.abs(x)) > 1),
    (lambda x: 1.0 / (x * np.sqrt(1.0 - x**-2.0)), lambda s: 1 / (s * sp.sqrt(1 - s**-2)),
     lambda x: np.min(np.abs(x)) > 1),
]


def _usable(terms):
    return [t for t in terms if np.all(np.isfinite(t.values)) and np.ptp(t.values) > 1e-12]


def unary_terms(x: np.ndarray, symbol: sp.Symbol) -> list[Term]:
    """The unary functions of one input that are defined on all of its samples."""
    out = []
    for fn, sfn, ok in _UNARY:
        if ok(x):
            with np.errstate(all="ignore"):
                out.append(Term(fn(x), sfn(symbol)))
    return _usable(out)


def dictionary(X: np.ndarray, symbols, *, products: bool = True) -> list[Term]:
    """Unary terms of every input and, with ``products``, their pairwise products across inputs."""
    per_input = [unary_terms(X[:, i], s) for i, s in enumerate(symbols)]
    terms = [t for ts in per_input for t in ts]
    if products:
        for a, b in itertools.combinations(per_input, 2):
            terms += [Term(u.values * v.values, u.expr * v.expr) for u in a for v in b]
    return _usable(terms)


def monomials(X: np.ndarray, symbols, powers=(-2, -1, 1, 2)) -> list[Term]:
    """``x_i^p`` and ``x_i^p x_j^q`` with ``p, q`` in ``powers`` (negative ones only where
    the input stays away from zero)."""
    n = X.shape[1]
    single = []
    for i in range(n):
        ok = np.min(np.abs(X[:, i])) > 1e-8
        single.append([(X[:, i] ** float(p), symbols[i] ** p) for p in powers if p > 0 or ok])
    terms = [Term(v, e) for s in single for v, e in s]
    for i, j in itertools.combinations(range(n), 2):
        terms += [Term(u * v, eu * ev) for u, eu in single[i] for v, ev in single[j]]
    return _usable(terms)


# ------------------------------------------------------------------------- subset search


def _gram(A, t, intercept):
    """Normalised Gram matrix, correlations with the target and the target's sum of squares
    (columns and target centred first when an intercept is fitted)."""
    if intercept:
        A = A - A.mean(0)
        t = t - t.mean()
    scale = np.linalg.norm(A, axis=0)
    A = A / np.where(scale > 0, scale, 1.0)
    return A.T @ A, A.T @ t, float(t @ t)


def best_subsets(A, t, *, intercept: bool, max_terms: int = 4, exhaustive: int = 3,
                 keep: int = 64, max_exhaustive: int = 3_000_000) -> dict[int, list[tuple[float, tuple]]]:
    """Column subsets of ``A`` with the smallest residual of ``t ≈ A[:, S] c (+ c0)``.

    Sizes up to ``exhaustive`` are enumerated completely (from the Gram matrix, in closed
    form) while the number of subsets stays below ``max_exhaustive``; larger sizes extend the
    ``keep`` best subsets of the size below by every column. Returns ``{size: [(rss, S)]}``
    with the ``keep`` best of each size.
    """
    G, b, tt = _gram(A, t, intercept)
    M = len(b)
    out: dict[int, list] = {}
    # size 1 and 2 in closed form
    rss1 = tt - b**2
    out[1] = [(float(rss1[i]), (int(i),)) for i in np.argsort(rss1)[:keep]]
    iu, ju = np.triu_indices(M, 1)
    g = G[iu, ju]
    det2 = 1.0 - g**2
    with np.errstate(all="ignore"):
        rss2 = np.where(det2 > 1e-10, tt - (b[iu] ** 2 + b[ju] ** 2 - 2 * g * b[iu] * b[ju]) / det2, np.inf)
    order = np.argsort(rss2)[:keep]
    out[2] = [(float(rss2[k]), (int(iu[k]), int(ju[k]))) for k in order if np.isfinite(rss2[k])]
    size = 3
    if exhaustive >= 3 and M * (M - 1) * (M - 2) / 6 <= max_exhaustive:
        out[3] = _all_triples(G, b, tt, keep)
        size = 4
    for s in range(size, max_terms + 1):
        out[s] = _extend(G, b, tt, [S for _, S in out[s - 1]], keep)
    return {s: v for s, v in out.items() if s <= max_terms and v}


def _all_triples(G, b, tt, keep):
    """Every 3-column subset's residual by the adjugate of its 3x3 Gram block."""
    M = len(b)
    best: list[tuple[float, tuple]] = []
    for i in range(M - 2):
        j, k = np.triu_indices(M - i - 1, 1)
        j, k = j + i + 1, k + i + 1
        a12, a13, a23 = G[i, j], G[i, k], G[j, k]
        b1, b2, b3 = b[i], b[j], b[k]
        det = 1 + 2 * a12 * a13 * a23 - a12**2 - a13**2 - a23**2
        quad = (b1**2 * (1 - a23**2) + b2**2 * (1 - a13**2) + b3**2 * (1 - a12**2)
                + 2 * b1 * b2 * (a13 * a23 - a12) + 2 * b1 * b3 * (a12 * a23 - a13)
                + 2 * b2 * b3 * (a12 * a13 - a23))
        with np.errstate(all="ignore"):
            rss = np.where(det > 1e-10, tt - quad / det, np.inf)
        top = np.argpartition(rss, min(keep, len(rss) - 1))[:keep]
        best += [(float(rss[m]), (i, int(j[m]), int(k[m]))) for m in top if np.isfinite(rss[m])]
        best = sorted(best)[:keep]
    return best


def _extend(G, b, tt, subsets, keep):
    """Every subset extended by every further column, by exact residual, best ``keep``."""
    found = {}
    for S in subsets:
        S = list(S)
        try:
            inv = np.linalg.inv(G[np.ix_(S, S)])
        except np.linalg.LinAlgError:
            continue
        # Schur complement: residual drop of adding column j to S
        Gs = G[S]  # (|S|, M)
        r_b = b - Gs.T @ (inv @ b[S])
        r_g = 1.0 - np.einsum("im,ij,jm->m", Gs, inv, Gs)
        base = tt - b[S] @ inv @ b[S]
        with np.errstate(all="ignore"):
            rss = np.where(r_g > 1e-10, base - r_b**2 / r_g, np.inf)
        rss[S] = np.inf
        for j in np.argsort(rss)[:keep]:
            if np.isfinite(rss[j]):
                found.setdefault(tuple(sorted(S + [int(j)])), float(rss[j]))
    return sorted((v, k) for k, v in found.items())[:keep]


def _lstsq(A, t, subset, intercept):
    cols = [A[:, list(subset)]] + ([np.ones((len(t), 1))] if intercept else [])
    coef, *_ = np.linalg.lstsq(np.concatenate(cols, axis=1), t, rcond=None)
    return coef


# --------------------------------------------------------------------------- candidates


def linear_candidates(X, y, symbols, *, max_terms: int = 4, products: bool = True,
                      max_columns: int = 2600) -> list[tuple[str, sp.Expr]]:
    """``y = c0 + sum c_k phi_k`` with the best 1..``max_terms`` dictionary terms."""
    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    terms = dictionary(X, symbols, products=products)
    if len(terms) > max_columns:  # many inputs: unary terms only
        terms = dictionary(X, symbols, products=False)
    if not terms:
        return []
    A = np.stack([t.values for t in terms], axis=1)
    out = []
    for size, ranked in best_subsets(A, y, intercept=True, max_terms=max_terms, exhaustive=2).items():
        subset = ranked[0][1]
        expr = _rational(_lstsq(A, y, subset, True), subset, terms, [], True, lambda t: t.expr,
                         sp.Integer(1))
        out.append((f"sparse:{size} terms", expr))
    return out


def _rational(coef, subset, numer, denom, intercept, value, one):
    """``t = [c0] + sum a m + sum b y m`` solved for ``y``, on values or on sympy forms:
    ``value`` picks a term's values or expression, ``one`` is ``1.0`` or ``sympy.Integer(1)``."""
    n = len(numer)
    coef = [float(c) for c in coef]
    num = coef[-1] if intercept else 0 * one
    den = one if intercept else 0 * one
    for c, j in zip(coef, subset):
        if j < n:
            num = num + c * value(numer[j])
        else:  # y m on the right-hand side moves into the denominator
            den = den - c * value(denom[j - n])
    if not intercept:  # sum a m + sum b y m = 1  ->  y = (1 - sum a m) / sum b m
        num, den = one - num, -den
    with np.errstate(all="ignore"):
        return num / den


def rational_candidates(X, y, symbols, *, max_terms: int = 4, keep: int = 64) -> list[tuple[str, sp.Expr]]:
    """Rational laws in monomials: for each size, the subset with the smallest error in ``y``
    among the ``keep`` best by linearised residual, for both normalisations."""
    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if np.min(np.abs(y)) <= 0:
        return []
    numer = monomials(X, symbols)
    if not numer:
        return []
    one = Term(np.ones_like(y), sp.Integer(1))
    out = []
    for label, intercept in (("y", True), ("1", False)):
        # with an intercept, y = c0 + b y is no law: the bare y column only serves target 1
        denom = numer if intercept else [one] + numer
        A = np.stack([t.values for t in numer] + [y * t.values for t in denom], axis=1)
        target = y if intercept else np.ones_like(y)
        for size, ranked in best_subsets(A, target, intercept=intercept, max_terms=max_terms,
                                         keep=keep).items():
            best = None
            for _, subset in ranked:
                if all(j < len(numer) for j in subset) and not intercept:
                    continue  # no y term: sum a m = 1 does not involve y
                coef = _lstsq(A, target, subset, intercept)
                pred = _rational(coef, subset, numer, denom, intercept, lambda t: t.values, 1.0)
                with np.errstate(all="ignore"):
                    err = float(np.mean((pred - y) ** 2))
                if np.isfinite(err) and (best is None or err < best[0]):
                    best = (err, subset, coef)
            if best is not None:
                out.append((f"rational[{label}]:{size} terms",
                            _rational(best[2], best[1], numer, denom, intercept, lambda t: t.expr,
                                      sp.Integer(1))))
    return out


# ---------------------------------------------------------------- the SINDy baseline (STLSQ)


def stlsq(theta, y, threshold: float, *, max_iter: int = 20) -> np.ndarray:
    """Sequentially thresholded least squares (SINDy's optimiser, as PySINDy's ``STLSQ``):
    ``(n_terms, m)`` coefficients of ``y ≈ theta xi``. Least squares on the columns scaled to
    unit norm (conditioning), every coefficient below ``threshold`` in the original units
    zeroed, the survivors refitted, until the support stops changing."""
    theta = np.asarray(theta, np.float64)
    y = np.asarray(y, np.float64).reshape(len(theta), -1)
    norms = np.linalg.norm(theta, axis=0)
    norms[norms == 0] = 1.0
    xi = np.zeros((theta.shape[1], y.shape[1]))
    for j in range(y.shape[1]):
        support = np.ones(theta.shape[1], bool)
        for _ in range(max_iter):
            coef = np.zeros(theta.shape[1])
            if support.any():
                a = theta[:, support] / norms[support]
                coef[support] = np.linalg.lstsq(a, y[:, j], rcond=None)[0] / norms[support]
            new = np.abs(coef) >= threshold
            if np.array_equal(new, support):
                break
            support = new
        xi[:, j] = np.where(support, coef, 0.0)
    return xi


def sparse_fit(X, Y, symbols, *, degree: int = 3, threshold: float = 0.1) -> list[sp.Expr]:
    """SINDy: STLSQ over the monomials of ``symbols`` up to total ``degree`` (constant
    included), one sparse polynomial per column of ``Y`` (``(N, m)`` or ``(N,)``)."""
    X = np.asarray(X, np.float64)
    if X.ndim != 2 or X.shape[1] != len(symbols) or degree < 1:
        raise ValueError(f"X must be (samples, {len(symbols)}) for symbols {list(symbols)} and degree >= 1, "
                         f"got {X.shape} and degree {degree}")
    Y = np.asarray(Y, np.float64).reshape(len(X), -1)
    if not (np.all(np.isfinite(X)) and np.all(np.isfinite(Y))):
        raise ValueError("sparse_fit needs finite samples; drop rows with NaN or inf first")
    combos = [()] + [c for k in range(1, degree + 1) for c in itertools.combinations_with_replacement(range(len(symbols)), k)]
    xi = stlsq(np.stack([np.prod(X[:, list(c)], axis=1) for c in combos], -1), Y, threshold)
    terms = [sp.Mul(*(symbols[i] for i in c)) for c in combos]
    return [sp.Add(*[sp.Float(c) * t for c, t in zip(xi[:, j], terms) if c != 0]) for j in range(Y.shape[1])]


def finite_difference(t, y) -> np.ndarray:
    """Fourth-order central differences ``dy/dt`` along axis 0 on a uniform grid (second-order
    one-sided at the two points of each end)."""
    t, y = np.asarray(t, np.float64), np.asarray(y, np.float64)
    dt = np.diff(t)
    if not np.allclose(dt, dt[0], rtol=1e-6):
        raise ValueError("finite_difference needs uniformly spaced times; interpolate first")
    h = dt[0]
    d = np.empty_like(y)
    d[2:-2] = (-y[4:] + 8 * y[3:-1] - 8 * y[1:-3] + y[:-4]) / (12 * h)
    d[:2] = (-3 * y[:2] + 4 * y[1:3] - y[2:4]) / (2 * h)
    d[-2:] = (3 * y[-2:] - 4 * y[-3:-1] + y[-4:-2]) / (2 * h)
    return d
