"""Sparse and rational regression over term dictionaries (sciml.symbolic.sparse)."""

import itertools

import numpy as np
import pytest
import sympy as sp

from sciml.symbolic.refit import clean
from sciml.symbolic.sparse import best_subsets, linear_candidates, rational_candidates

a, b = sp.symbols("a b", positive=True)


def _rss(A, t, subset, intercept):
    cols = [A[:, list(subset)]] + ([np.ones((len(t), 1))] if intercept else [])
    M = np.concatenate(cols, axis=1)
    coef, *_ = np.linalg.lstsq(M, t, rcond=None)
    r = t - M @ coef
    return float(r @ r)


@pytest.mark.parametrize("intercept", [True, False])
def test_subset_residuals_match_least_squares(intercept):
    """The closed-form (Gram/adjugate/Schur) residuals equal direct least squares."""
    rng = np.random.default_rng(0)
    A = rng.normal(size=(60, 9)) * rng.uniform(0.5, 3, 9)
    t = A[:, 2] - 0.5 * A[:, 5] + 0.1 * rng.normal(size=60) + (1.5 if intercept else 0.0)
    found = best_subsets(A, t, intercept=intercept, max_terms=4, keep=200)
    At = A - A.mean(0) if intercept else A
    tt = t - t.mean() if intercept else t
    scale = np.linalg.norm(At, axis=0)
    for size in (1, 2, 3, 4):
        ranked = found[size]
        for rss, subset in ranked[:10]:
            # residuals are reported in the normalised, centred coordinates
            assert rss == pytest.approx(_rss(At / scale, tt, subset, False), rel=1e-8, abs=1e-10)
        if size <= 3:  # exhaustive sizes: the best subset is the true optimum
            brute = min(_rss(At, tt, S, False) for S in itertools.combinations(range(9), size))
            assert ranked[0][0] == pytest.approx(brute, rel=1e-8, abs=1e-10)
    assert set(found[2][0][1]) == {2, 5}


def _data(f, lo_hi_a, lo_hi_b, noise, seed=0):
    rng = np.random.default_rng(seed)
    X = np.column_stack([rng.uniform(*lo_hi_a, 800), rng.uniform(*lo_hi_b, 800)])
    y = f(X[:, 0], X[:, 1])
    return X, y + noise * np.sqrt(np.mean(y**2)) * rng.normal(size=len(y))


def _recovered(cands, X, y, truth):
    for _, e in cands:
        got = clean(e, [a, b], X, y).expr
        if sp.simplify(got - truth) == 0:
            return True
    return False


@pytest.mark.parametrize("noise", [0.0, 0.01])
def test_rational_laws_recovered(noise):
    # relativistic velocity addition (no constant in the numerator) and a weighted mean
    X, y = _data(lambda u, v: (u + v) / (1 + u * v), (0.2, 5), (0.2, 5), noise)
    assert _recovered(rational_candidates(X, y, [a, b]), X, y, (a + b) / (1 + a * b))
    X, y = _data(lambda p, q: (p + q) / (p + 1), (0.2, 5), (0.2, 5), noise, seed=1)
    assert _recovered(rational_candidates(X, y, [a, b]), X, y, (a + b) / (a + 1))


def test_rational_search_skips_vanishing_denominators():
    """y = 1 + a + 2 sqrt(a) cos(b) is no rational law: linearised residuals near zero come
    from denominators that nearly cancel, and the error in y rejects them."""
    X, y = _data(lambda p, d: 1 + p + 2 * np.sqrt(p) * np.cos(d), (0.2, 5), (1, 5), 0.0)
    for _, e in rational_candidates(X, y, [a, b]):
        with np.errstate(all="ignore"):
            pred = sp.lambdify((a, b), e, "numpy")(X[:, 0], X[:, 1])
        assert np.mean((pred - y) ** 2) > 1e-3 * np.var(y)


@pytest.mark.parametrize("noise", [0.0, 0.01])
def test_few_term_laws_recovered(noise):
    X, y = _data(lambda p, d: 1 + p + 2 * np.sqrt(p) * np.cos(d), (0.2, 5), (1, 5), noise)
    assert _recovered(linear_candidates(X, y, [a, b]), X, y, 1 + a + 2 * sp.sqrt(a) * sp.cos(b))
    # Lorentz factors of a speed ratio: (1 - a b) / sqrt(1 - a^2)
    X, y = _data(lambda p, q: (1 - p * q) / np.sqrt(1 - p**2), (0.1, 0.67), (0.05, 1.6), noise)
    assert _recovered(linear_candidates(X, y, [a, b]), X, y, (1 - a * b) / sp.sqrt(1 - a**2))


@pytest.mark.parametrize("noise", [0.0, 0.01])
def test_lorentz_factor_of_an_inverse_ratio_recovered(noise):
    """A ratio found as c / v > 1 rather than v / c: 1 / sqrt(1 - 1/z^2), times another input."""
    X, y = _data(lambda z, m: m / np.sqrt(1 - z**-2.0), (1.5, 10), (1, 5), noise)
    assert _recovered(linear_candidates(X, y, [a, b]), X, y, b / sp.sqrt(1 - a**-2))
