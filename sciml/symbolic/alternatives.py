"""Formulas the data cannot tell from the chosen law.

The selection rule (:func:`sciml.symbolic.law.choose`) picks the simplest formula within the
noise of the best. Over a narrow range of the inputs a structurally different formula can fit
as well — a cubic imitates ``exp(-b/T)`` over 250-400 K — and then the data leave the law
ambiguous. :func:`alternatives` lists such formulas among *all* scored candidates (a formula
dominated on the Pareto front by the chosen one can still be equally supported), and
:func:`wider_inputs` names the inputs over whose wider range they would part.

Two formulas are *structurally different* when their skeletons differ: the tree with every
number replaced by one placeholder and each product's numeric factor dropped, so that
``2.1*x*exp(-3/y)`` and ``x*exp(-2.9/y)`` are the same law with different constants
(:func:`skeleton`). A sub-expression constant over the data is a number there
(``exp(0.78 cos(r))`` over radii of micrometres is ``2.18`` to twelve digits): skeletons are
compared after :func:`constants_over_data` has made it one.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence

import numpy as np
import sympy as sp

from .law import FLOAT_COST, Candidate

__all__ = ["skeleton", "constants_over_data", "alternatives", "wider_inputs", "ambiguity_note",
           "COMPLEXITY_SLACK", "MAX_ALTERNATIVES"]

# An alternative may cost at most one more fitted constant than the chosen law: a node and its
# unrounded number (1 + FLOAT_COST). The chosen law is the simplest within the noise, so an
# equally good formula with one more free constant is still a competing explanation; beyond
# that, extra constants buy flexibility that fits anything over a narrow range, and listing
# such formulas would say more about the search than about the data.
COMPLEXITY_SLACK = 1 + FLOAT_COST
MAX_ALTERNATIVES = 3  # enough to show the data are ambiguous without burying the chosen law

_PLACEHOLDER = "#"  # stands for any number in a skeleton


def skeleton(expr: sp.Expr):
    """A hashable shape of ``expr`` with every number (and ``pi``, ``E``) a placeholder, but
    exact exponents (``x**2``, ``sqrt(x)``, ``1/x`` keep theirs).

    A product's numeric factor is dropped altogether (``x`` and ``2.5*x`` are one skeleton:
    a coefficient that rounds to 1 disappears from the tree). An additive number stays a
    placeholder term, since an offset is structure. ``exp(a + b)`` is split into
    ``exp(a)*exp(b)`` first, so a fitted prefactor folded into the exponent is still the same
    law. Arguments of sums and products are sorted, so the shape does not depend on order.
    """
    try:
        expr = sp.expand_power_exp(expr)
    except Exception:  # noqa: BLE001 - an expression sympy cannot expand keeps its own form
        pass
    return _shape(expr)


def _shape(e):
    if e.is_number:  # 2.5, pi, exp(3), sqrt(2): any constant
        return _PLACEHOLDER
    if not e.args:
        return str(e)
    args = e.args
    if e.is_Mul:
        args = [a for a in args if not a.is_number]
        if len(args) == 1:
            return _shape(args[0])
    if e.is_Pow and e.exp.is_Rational:
        # An exact power is structure (sqrt(x), 1/x and x**2 are different laws); a fitted
        # (float) exponent is a constant like any other.
        return ("Pow", (_shape(e.base), str(e.exp)))
    shapes = [_shape(a) for a in args]
    if e.is_Add or e.is_Mul:
        shapes = sorted(shapes, key=repr)
    return (type(e).__name__, tuple(shapes))


# A sub-expression is constant over the data when its values there spread by less than this
# share of their size, and the formula with it replaced by its mean predicts the same to
# COLLAPSE_AGREEMENT (relative RMS): a constant that a difference amplifies, cos(r) in
# (cos(r) - 1) r^-2, is kept.
CONSTANT_SPREAD = 1e-9
COLLAPSE_AGREEMENT = 1e-6
_ROWS = 200  # rows enough to see a sub-expression vary


def constants_over_data(expr: sp.Expr, symbols, X: np.ndarray) -> sp.Expr:
    """``expr`` with every sub-expression that is constant over the rows of ``X`` replaced by
    its value (outermost first), when the formula then predicts the same
    (:data:`CONSTANT_SPREAD`, :data:`COLLAPSE_AGREEMENT`); otherwise ``expr`` unchanged."""
    from .refit import evaluate

    X = np.asarray(X, dtype=np.float64)[:_ROWS]

    def values(e):
        with np.errstate(all="ignore"):
            try:
                v = evaluate(e, symbols, X)
            except Exception:  # noqa: BLE001 - a sub-expression that cannot be evaluated stays
                return None
        return v if np.all(np.isfinite(v)) else None

    before = values(expr)

    def collapse(e):
        if e.is_number or e.is_Symbol or not e.free_symbols:
            return e
        v = before if e is expr else values(e)
        if v is not None:
            size = float(np.max(np.abs(v)))
            if float(np.ptp(v)) <= CONSTANT_SPREAD * size or size == 0.0:
                return sp.Float(float(np.mean(v)))
        new = [collapse(a) for a in e.args]
        return e.func(*new) if any(a is not b for a, b in zip(new, e.args)) else e

    flat = collapse(expr)
    if flat is expr:
        return expr
    after = values(flat)
    if before is None or after is None:
        return expr
    scale = math.sqrt(float(np.mean(before**2)))
    if math.sqrt(float(np.mean((after - before) ** 2))) > COLLAPSE_AGREEMENT * max(scale, 1e-300):
        return expr
    return flat


def _terms(expr: sp.Expr) -> set:
    """Skeletons of the additive terms, after distributing a top-level product over a sum
    (``x*(a + b*y)`` has the terms ``x`` and ``x*y``)."""
    return {skeleton(t) for t in sp.Add.make_args(sp.expand_mul(expr, deep=False))}


def _adds_terms_only(cand: Candidate, chosen: Candidate) -> bool:
    """Whether ``cand`` is the chosen law plus further terms (fitted to the noise, not an
    alternative): its terms' skeletons contain all of the chosen law's, and more."""
    mine, theirs = _terms(cand.expr), _terms(chosen.expr)
    return theirs < mine


def alternatives(chosen: Candidate, candidates: Sequence[Candidate], bound: float, *,
                 slack: int = COMPLEXITY_SLACK, keep: int = MAX_ALTERNATIVES,
                 data: tuple | None = None) -> list[Candidate]:
    """Candidates as well supported as ``chosen`` but structurally different, simplest first.

    Kept: held-out MSE ``<= bound`` (the selection rule's noise bound,
    :func:`~sciml.symbolic.law.selection_bound`), complexity ``<= chosen + slack``, a skeleton
    other than the chosen law's and not the chosen law with extra terms
    (:func:`_adds_terms_only`), dimensionally consistent when the chosen law is (an
    inconsistent formula is never chosen, so it competes with nothing). One per skeleton, the
    lowest held-out error; at most ``keep``. With ``data = (symbols, X)`` the shapes are those
    of the formulas over the data (:func:`constants_over_data`).
    """
    def over_data(c: Candidate) -> Candidate:
        if data is None:
            return c
        flat = constants_over_data(c.expr, *data)
        return c if flat is c.expr else dataclasses.replace(c, expr=flat)

    mine = over_data(chosen)
    mine_shape = skeleton(mine.expr)
    best: dict = {}
    for c in candidates:
        if not (math.isfinite(c.mse_test) and c.mse_test <= bound
                and c.complexity <= chosen.complexity + slack
                and (c.consistent or not chosen.consistent)):
            continue
        flat = over_data(c)
        shape = skeleton(flat.expr)
        if shape == mine_shape or _adds_terms_only(flat, mine):
            continue
        if shape not in best or c.mse_test < best[shape].mse_test:
            best[shape] = c
    return sorted(best.values(), key=lambda c: (c.complexity, c.mse_test))[:keep]


# Widening an input "would tell them apart" when it multiplies the formulas' relative
# disagreement at least this much and the disagreement then exceeds the noise: a factor small
# enough that a linear input (the same ratio everywhere) never qualifies.
_WIDER = 3.0


def wider_inputs(chosen: sp.Expr, others: Sequence[sp.Expr], symbols, X: np.ndarray,
                 noise_mse: float, seed: int = 0) -> list[int]:
    """Indices of the inputs whose wider range would separate ``chosen`` from ``others``.

    Each input in turn is resampled over a wider range (``[lo/2, 2 hi]`` for a positive
    column, the range widened by half its width each side otherwise), the others kept as
    observed. The input is named when, for some alternative, the RMS difference of the two
    formulas relative to the RMS of the chosen one grows by ``_WIDER`` over its value on the
    data and the absolute difference exceeds the noise (``noise_mse``, the best held-out MSE).
    A few evaluations per input: cheap beside the search.
    """
    from .refit import evaluate

    rng = np.random.default_rng(seed)
    found = []
    for i in range(X.shape[1]):
        lo, hi = float(X[:, i].min()), float(X[:, i].max())
        wide = X.copy()
        wide[:, i] = (np.exp(rng.uniform(math.log(lo / 2), math.log(2 * hi), len(X))) if lo > 0
                      else rng.uniform(lo - (hi - lo) / 2, hi + (hi - lo) / 2, len(X)))
        for other in others:
            near, far = (_disagreement(chosen, other, symbols, Z, evaluate) for Z in (X, wide))
            if far[0] > _WIDER * near[0] and far[1] > noise_mse:
                found.append(i)
                break
    return found


def _disagreement(a, b, symbols, X, evaluate) -> tuple[float, float]:
    """``(relative RMS difference, MSE difference)`` of two formulas on the finite rows of ``X``."""
    with np.errstate(all="ignore"):
        try:
            pa, pb = evaluate(a, symbols, X), evaluate(b, symbols, X)
        except Exception:  # noqa: BLE001 - a formula that fails off the data tells nothing here
            return 0.0, 0.0
        ok = np.isfinite(pa) & np.isfinite(pb)
        if not ok.any():
            return 0.0, 0.0
        mse = float(np.mean((pa[ok] - pb[ok]) ** 2))
        scale = float(np.mean(pa[ok] ** 2))
    return math.sqrt(mse / max(scale, 1e-300)), mse


def ambiguity_note(n: int, inputs: Sequence[str], within: str = "within the noise") -> str:
    """The plain sentence ``law.json`` and the report carry when there are alternatives."""
    s = "formula" if n == 1 else "formulas"
    note = (f"the data cannot choose between the chosen law and {n} structurally different "
            f"{s} {within}")
    if inputs:
        note += f"; data over a wider range of {', '.join(inputs)} would"
    return note
