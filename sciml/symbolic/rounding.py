"""Noise-aware judgement of rounded constants: an F-test against the noise actually present.

A fitted formula has ``p`` free constants, refitted jointly on the fitting rows (residual sum
of squares ``RSS_1``). Fixing ``q`` of them to simple exact values (``1/2``, ``pi``, ``0``) and
refitting the others gives ``RSS_0 >= RSS_1``. Under the hypothesis that the exact values are
the true ones, and with Gaussian noise of variance ``sigma^2``,

.. math::
    F = \\frac{(\\mathrm{RSS}_0 - \\mathrm{RSS}_1)/q}{\\hat\\sigma^2} \\sim F(q, n_\\text{val}),

the classical extra-sum-of-squares (likelihood-ratio) test for nested least-squares models
(e.g. Seber & Wild, *Nonlinear Regression*, 1989, sec. 5.3). The noise variance is estimated
from **held-out** rows — rows the refit never saw — as the mean squared residual of the
unrounded formula there: on noisy data this is the noise level itself, and on noiseless data
it is the formula's (tiny) approximation error, floored at ``1e-14 Var(y)`` so that changes at
the level of floating-point rounding are not called significant.

Passing the test is necessary, not sufficient: the simple numbers are dense (fractions with
denominators up to 12 times nine powers of pi lie about 1% apart near 0.2), so a constant
known to 0.06% meets one of them inside the test's window about one time in three by pure
coincidence (a drag coefficient 0.235 would become ``5/(12 sqrt(pi))``). This is the
look-elsewhere effect; :meth:`NoiseTest.coincidence` estimates that chance from the constant's
standard error (the refit's Jacobian and the held-out noise) and the density of numbers at
most as costly as the candidate near it, and a rounding whose chance exceeds ``COINCIDENCE``
is refused: the constant stays as fitted. Roundings to zero (is the term needed?) have a
single candidate and are judged by the test alone.

The rounding is accepted only when ``F`` stays below the ``1 - alpha`` quantile of
``F(q, n_val)`` (``alpha = 0.01``): the data cannot tell the rounded formula from the
unrounded one. A rounding that is distinguishable is never accepted, however simple the
number. Compared with the held-out paired test of :mod:`sciml.symbolic.refit`, this test uses
every fitting row for the effect and the held-out rows only for the noise level, so it has
more power against wrong simple values and does not reject a true one on a two-sigma
fluctuation of a few hundred held-out rows.
"""

from __future__ import annotations

import dataclasses
import math

from scipy.stats import f as f_distribution

__all__ = ["NoiseTest", "ALPHA", "NOISE_FLOOR", "COINCIDENCE"]

ALPHA = 0.01  # probability of rejecting a rounding to the true value (Gaussian noise)
NOISE_FLOOR = 1e-14  # relative to Var(y): floating-point rounding, not noise
# Largest accepted chance that a constant known this precisely lies within the test's window of
# a number this simple by coincidence (see NoiseTest.coincidence).
COINCIDENCE = 0.25


@dataclasses.dataclass(frozen=True)
class NoiseTest:
    """The extra-sum-of-squares test of the module docstring for one fitted formula.

    Attributes:
        rss_ref: residual sum of squares of the unrounded refit on the fitting rows.
        noise_var: held-out mean squared residual of the unrounded refit (floored).
        n_val: number of held-out rows behind ``noise_var`` (the denominator's degrees of
            freedom).
        alpha: size of the test.
    """

    rss_ref: float
    noise_var: float
    n_val: int
    alpha: float = ALPHA

    @classmethod
    def from_residuals(cls, fit_sq, val_sq, var_y: float, alpha: float = ALPHA) -> NoiseTest:
        """From the unrounded formula's squared residuals on fitting and held-out rows."""
        import numpy as np

        fit_sq, val_sq = np.asarray(fit_sq, float), np.asarray(val_sq, float)
        if len(val_sq) < 2:
            raise ValueError("the noise-aware test needs at least two held-out rows")
        noise = float(np.mean(val_sq)) if np.all(np.isfinite(val_sq)) else math.inf
        return cls(rss_ref=float(np.sum(fit_sq)),
                   noise_var=max(noise, NOISE_FLOOR * max(var_y, 1e-300)),
                   n_val=len(val_sq), alpha=alpha)

    def statistic(self, rss: float, q: int) -> float:
        """``F`` for a refit with residual sum of squares ``rss`` and ``q`` constants fixed."""
        if not math.isfinite(rss):
            return math.inf
        return max(rss - self.rss_ref, 0.0) / max(q, 1) / self.noise_var

    def threshold(self, q: int) -> float:
        """The ``1 - alpha`` quantile of ``F(q, n_val)``."""
        return float(f_distribution.ppf(1.0 - self.alpha, max(q, 1), self.n_val))

    def coincidence(self, standard_error: float, density: float) -> float:
        """The chance that a constant with this standard error lies inside the test's window
        (``+-sqrt(threshold(1))`` standard errors) of one of the simple numbers, ``density`` of
        them per unit length near it, by coincidence: the window's width times the density."""
        return 2.0 * math.sqrt(self.threshold(1)) * standard_error * density

    def indistinguishable(self, rss: float, q: int) -> bool:
        """True when fixing ``q`` constants is not detectable at the noise level."""
        return math.isfinite(self.noise_var) and self.statistic(rss, q) <= self.threshold(q)
