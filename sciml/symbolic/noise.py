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
"""

from __future__ import annotations

import dataclasses
import math
import warnings

import numpy as np

__all__ = ["NoiseReference", "NOISE_RULE", "noise_reference", "noise_comparison"]

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


@dataclasses.dataclass(frozen=True)
class NoiseReference:
    """A Gaussian process fitted to training rows: ``noise_variance`` in the target's units
    squared, ``predict(X)``, and what it was (``model``, ``rows``)."""

    noise_variance: float
    predict: object
    model: str
    rows: int


def noise_reference(X, y, *, seed: int = 0, max_rows: int = MAX_ROWS) -> NoiseReference | None:
    """Fit the Gaussian process to ``(X (n, d), y (n,))``; ``None`` with fewer than
    :data:`MIN_ROWS` finite rows or when the fit fails."""
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.gaussian_process import GaussianProcessRegressor
    from sklearn.gaussian_process.kernels import RBF, ConstantKernel, WhiteKernel

    X, y = np.asarray(X, np.float64), np.asarray(y, np.float64).ravel()
    keep = np.all(np.isfinite(X), axis=1) & np.isfinite(y)
    X, y = X[keep], y[keep]
    if len(y) < MIN_ROWS:
        return None
    if len(y) > max_rows:
        rows = np.random.default_rng(seed).choice(len(y), max_rows, replace=False)
        X, y = X[rows], y[rows]
    center, scale = X.mean(axis=0), X.std(axis=0)
    scale[scale == 0] = 1.0
    y_mean, y_scale = float(y.mean()), float(y.std()) or 1.0
    kernel = (ConstantKernel(1.0, (1e-3, 1e3)) * RBF(np.ones(X.shape[1]), (1e-2, 1e3))
              + WhiteKernel(1e-2, (1e-12, 1.0)))
    gp = GaussianProcessRegressor(kernel, n_restarts_optimizer=1, random_state=seed)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)  # a bound reached is an answer too
            gp.fit((X - center) / scale, (y - y_mean) / y_scale)
    except (ValueError, np.linalg.LinAlgError):
        return None
    noise = float(gp.kernel_.k2.noise_level) * y_scale**2

    def predict(Z):
        return gp.predict((np.asarray(Z, np.float64) - center) / scale) * y_scale + y_mean

    return NoiseReference(noise, predict, "Gaussian process, constant x ARD RBF + white noise (scikit-learn)", len(y))


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
