r"""The data's noise level, to tell a law from a close approximation of one.

A formula found by a search can fit a table well (R² 0.9999) and still not be the law: a
rational function standing in for a ``tanh``, a polynomial for an exponential. The way to see
it is to compare the formula's error on held-out rows with the noise in the data — a law
leaves the noise and nothing else. Rows are seldom repeated, so the noise is estimated by a
Gaussian process fitted to the training rows (scikit-learn: a constant times an RBF kernel
with one length scale per input, plus white noise, hyperparameters by maximum marginal
likelihood): its white-noise variance is the part of the data no smooth function explains,
and its predictions are a second reference a formula must not fall clearly behind.

Nearest-neighbour estimates (the Gamma test) were tried first and are useless from a few
hundred rows in three or more inputs (off by factors of 5 to 200 at 1% noise): the function
changes more between neighbours than the noise does. A Gaussian process errs the safe way:
structure it cannot follow (a kink, a jump) is counted as noise, which makes the comparison
lenient, never strict.

The same process, fitted to ``log|y|``, tells noise proportional to the target from additive
noise (:func:`noise_form`). The difference matters when the target spans decades: with a
relative error every row weighs alike in ``log|y|`` and the largest rows decide a plain
least-squares fit, so a wrong formula that follows the top rows beats the law on squared error.
"""

from __future__ import annotations

import dataclasses
import math
import warnings

import numpy as np

__all__ = ["NoiseReference", "NOISE_RULE", "NOISE_FORM_RULE", "NOISE_FORMS", "noise_reference", "noise_comparison",
           "noise_form"]

NOISE_FORMS = ("auto", "additive", "proportional")  # what discover(noise=...) accepts

MAX_ROWS = 500  # training rows given to the Gaussian process (its cost grows as rows^3)
MIN_ROWS = 50  # fewer: the marginal likelihood can explain the rows by a wiggly function, noise-free
# A formula whose held-out MSE, less two standard errors, exceeds this many noise variances
# misses structure. Calibrated with the true laws of seven functions of 1-6 inputs at 1% and
# 10% noise from 100, 400 and 2000 rows (benchmarks/law_noise_calibration.py): the true law
# reached at most 1.02 (42 tables, none above); a rational standing in for tanh in a 4-input
# law reached 1.67.
ABOVE_NOISE = 1.5
NOISE_RULE = (f"'doubtful' when the formula's mean squared error on held-out rows, less two standard "
              f"errors, exceeds {ABOVE_NOISE:g} times the noise variance a Gaussian process (ARD RBF + white "
              "noise, maximum marginal likelihood) finds in the training rows: a law leaves the noise alone")

# Noise proportional to the target (a relative error, as most instruments and rate constants
# carry) against additive noise: the Gaussian process above fitted to y and to log|y|, each
# marginal likelihood written as a density of y (log|y| by its Jacobian), inputs that span
# decades on a log scale (_evenly_spread). More than this many nats for the proportional form
# (odds above 2e4) decide it. On 13 tables of 90-200 rows (an Arrhenius rate, Kepler's third
# law, Stokes settling, a grey body, Michaelis-Menten over four decades, 1 + x^2, 2 + sin 2x,
# 0.01-3% noise of either form) the true form won by 16-940 nats, except 2 + sin 2x with 2%
# proportional noise (8 nats: it spans a factor of three, where the two forms hardly differ
# and either serves the search) and Poisson counts (0.4 nats: neither form).
PROPORTIONAL_EVIDENCE = 10.0
FORM_ROWS = 200  # rows the comparison fits to (two fits of a few seconds at most)
NOISE_FORM_RULE = (f"noise taken as proportional to the target when a Gaussian process (ARD RBF + white noise) fitted "
                   f"to log|target| explains the rows better than one fitted to the target, by more than "
                   f"{PROPORTIONAL_EVIDENCE:g} nats of marginal likelihood (as densities of the target); laws are "
                   "then searched, chosen and judged by their error in log|target|")


@dataclasses.dataclass(frozen=True)
class NoiseReference:
    """A Gaussian process fitted to training rows: ``noise_variance`` in the target's units
    squared, ``predict(X)``, and what it was (``model``, ``rows``)."""

    noise_variance: float
    predict: object
    model: str
    rows: int


def _fit_process(X, y, seed: int):
    """The Gaussian process of this module fitted to ``(X, y)`` (inputs and target
    standardised): ``(gp, center, scale, y_mean, y_scale)``; raises on a failed fit."""
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.gaussian_process import GaussianProcessRegressor
    from sklearn.gaussian_process.kernels import RBF, ConstantKernel, WhiteKernel

    center, scale = X.mean(axis=0), X.std(axis=0)
    scale[scale == 0] = 1.0
    y_mean, y_scale = float(y.mean()), float(y.std()) or 1.0
    kernel = (ConstantKernel(1.0, (1e-3, 1e3)) * RBF(np.ones(X.shape[1]), (1e-2, 1e3))
              + WhiteKernel(1e-2, (1e-12, 1.0)))
    gp = GaussianProcessRegressor(kernel, n_restarts_optimizer=1, random_state=seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # a bound reached is an answer too
        gp.fit((X - center) / scale, (y - y_mean) / y_scale)
    return gp, center, scale, y_mean, y_scale


def _finite_rows(X, y, seed: int, max_rows: int):
    X, y = np.asarray(X, np.float64), np.asarray(y, np.float64).ravel()
    keep = np.all(np.isfinite(X), axis=1) & np.isfinite(y)
    X, y = X[keep], y[keep]
    if len(y) > max_rows:
        rows = np.random.default_rng(seed).choice(len(y), max_rows, replace=False)
        X, y = X[rows], y[rows]
    return X, y


def noise_reference(X, y, *, seed: int = 0, max_rows: int = MAX_ROWS) -> NoiseReference | None:
    """Fit the Gaussian process to ``(X (n, d), y (n,))``; ``None`` with fewer than
    :data:`MIN_ROWS` finite rows or when the fit fails."""
    X, y = _finite_rows(X, y, seed, max_rows)
    if len(y) < MIN_ROWS:
        return None
    try:
        gp, center, scale, y_mean, y_scale = _fit_process(X, y, seed)
    except (ValueError, np.linalg.LinAlgError):
        return None
    noise = float(gp.kernel_.k2.noise_level) * y_scale**2

    def predict(Z):
        return gp.predict((np.asarray(Z, np.float64) - center) / scale) * y_scale + y_mean

    return NoiseReference(noise, predict, "Gaussian process, constant x ARD RBF + white noise (scikit-learn)", len(y))


def _evenly_spread(X):
    """``X`` with each positive column that spans decades and is spread more evenly in its
    logarithm (a concentration sampled 0.01-100) replaced by that logarithm: one length scale
    cannot follow a function that changes over 1e-2 and over 1e2 alike, and would count the
    misfit as noise in one form more than in the other."""
    from scipy.stats import skew

    X = np.array(X, np.float64)
    for j in range(X.shape[1]):
        column = X[:, j]
        if np.all(column > 0) and column.max() > 10 * column.min():
            if abs(skew(np.log(column))) < abs(skew(column)):
                X[:, j] = np.log(column)
    return X


def noise_form(X, y, *, seed: int = 0, max_rows: int = FORM_ROWS) -> dict:
    """Whether the noise in ``y`` is additive or proportional to ``y`` (:data:`NOISE_FORM_RULE`).

    Returns ``{"form": "additive" | "proportional", "log_evidence": {...}, "rule", "rows"}``,
    with ``"why"`` when the comparison could not be made (too few rows, a target of both signs
    or zero: additive then).
    """
    X, y = _finite_rows(X, y, seed, max_rows)
    out = {"form": "additive", "rule": NOISE_FORM_RULE, "rows": int(len(y))}
    if len(y) < MIN_ROWS:
        return {**out, "why": f"{len(y)} rows: fewer than {MIN_ROWS} to compare noise models"}
    if not (np.all(y > 0) or np.all(y < 0)):
        return {**out, "why": "the target is zero or changes sign: only additive noise is possible"}
    log_y = np.log(np.abs(y))
    X = _evenly_spread(X)
    evidence = {}
    try:
        for form, values in (("additive", y), ("proportional", log_y)):
            gp, *_, y_scale = _fit_process(X, values, seed)
            # the marginal likelihood of the standardised values, in the target's own units:
            # standardising divides the density by y_scale per row, log |y| by |y|
            jacobian = float(np.sum(log_y)) if form == "proportional" else 0.0
            evidence[form] = float(gp.log_marginal_likelihood_value_) - len(values) * math.log(y_scale) - jacobian
    except (ValueError, np.linalg.LinAlgError) as e:
        return {**out, "why": f"the Gaussian process fit failed ({type(e).__name__}): additive assumed"}
    out["log_evidence"] = evidence
    if evidence["proportional"] - evidence["additive"] > PROPORTIONAL_EVIDENCE:
        out["form"] = "proportional"
    return out


def noise_comparison(law_sq, reference: NoiseReference) -> dict:
    """The formula's held-out squared residuals against the reference's noise variance
    (:data:`NOISE_RULE`: ``formula_above_noise``)."""
    law_sq = np.asarray(law_sq, np.float64)
    law_sq = law_sq[np.isfinite(law_sq)]
    n = len(law_sq)
    mse = float(np.mean(law_sq)) if n else math.inf
    standard_error = float(np.std(law_sq)) / math.sqrt(max(n, 1))
    above = bool(n >= 10 and mse - 2.0 * standard_error > ABOVE_NOISE * reference.noise_variance)
    return {"model": reference.model, "rows": reference.rows, "noise_variance": reference.noise_variance,
            "formula_mse_test": mse, "ratio": mse / max(reference.noise_variance, 1e-300),
            "formula_above_noise": above}
