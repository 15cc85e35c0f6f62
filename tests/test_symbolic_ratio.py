"""Ratio laws g(u) / h(v) fitted as the null vector of one linear system."""

from __future__ import annotations

import numpy as np
import sympy as sp

from sciml.symbolic.refit import clean, evaluate
from sciml.symbolic.ratio import ratio_candidates


def _sample(f, seed=0, n=600):
    rng = np.random.default_rng(seed)
    X = rng.uniform(1, 5, (n, 2))
    return X, f(X), list(sp.symbols("theta n", positive=True))


def test_ratio_law_through_zeros_found_in_a_pair_feature():
    """sin(n theta / 2)^2 / sin(theta / 2)^2 vanishes inside the data (log is singular there):
    as g(n theta) / h(theta) it is one null vector, and the cleaned formula is exact."""
    X, y, syms = _sample(lambda X: np.sin(X[:, 0] * X[:, 1] / 2) ** 2 / np.sin(X[:, 0] / 2) ** 2)
    assert np.min(y) < 1e-3 * np.max(y)
    cands = ratio_candidates(X, y, syms)
    assert cands and "n*theta / theta" in cands[0][0]
    cleaned = clean(cands[0][1], syms, X, y).expr
    err = np.max(np.abs(evaluate(cleaned, syms, X) - y)) / np.max(np.abs(y))
    assert err < 1e-8, cleaned


def test_ratio_scale_divided_out():
    """The null vector fixes g and h up to one shared factor: the candidate's denominator has
    an exact constant 1 (else an exact unit factor), so no redundant constant is left to drift
    or to be rounded on each side separately."""
    X, y, syms = _sample(lambda X: (1 - np.cos(X[:, 0] * X[:, 1])) / (1 - np.cos(X[:, 0])))
    cands = ratio_candidates(X, y, syms)
    assert cands
    for _, expr in cands:
        _, denominator = sp.fraction(sp.together(expr))
        constant, _ = sp.expand(denominator).as_coeff_Add()
        factor, _ = denominator.as_coeff_Mul()
        assert constant == 1 or (constant == 0 and factor == 1), expr


def test_no_ratio_candidate_for_a_sum_or_other_sizes():
    X, y, syms = _sample(lambda X: np.sin(X[:, 0] * X[:, 1]) + X[:, 0] ** 3)
    assert ratio_candidates(X, y, syms, max_error=1e-4) == []
    X3 = np.random.default_rng(1).uniform(1, 2, (600, 3))
    assert ratio_candidates(X3, X3.sum(1), list(sp.symbols("a b c"))) == []
