r"""Error metrics that respect what the equations determine.

A field the equations only differentiate (the pressure of incompressible flow, a potential)
is defined up to an additive constant; a :class:`~sciml.dsl.conditions.Pin` or
:class:`~sciml.dsl.conditions.MeanValue` picks one, but the reference may have picked
another. Comparing such fields raw scores the gauge, not the solution, so they are compared
after removing the mean difference:

.. math::

    e = (\hat p - p) - \overline{(\hat p - p)}, \qquad
    \mathrm{rel\ L_2} = \frac{\lVert e \rVert}{\lVert p - \bar p \rVert},

both norms over the points where the reference is finite (with optional quadrature
weights). The denominator is the reference's own fluctuation, so the figure does not depend
on either constant.
"""

from __future__ import annotations

import numpy as np

__all__ = ["relative_l2_up_to_constant", "remove_constant_offset", "rms"]


def rms(values) -> float:
    """The root mean square of ``values`` in float64 (0 for none)."""
    values = np.asarray(values, dtype=np.float64)
    return float(np.sqrt(np.mean(values**2))) if values.size else 0.0


def _finite_weights(pred: np.ndarray, ref: np.ndarray, weights) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    pred = np.asarray(pred, dtype=np.float64).ravel()
    ref = np.asarray(ref, dtype=np.float64).ravel()
    if pred.shape != ref.shape:
        raise ValueError(f"prediction and reference differ in size: {pred.size} vs {ref.size}")
    w = np.ones_like(ref) if weights is None else np.broadcast_to(np.asarray(weights, np.float64), ref.shape).ravel()
    keep = np.isfinite(ref) & np.isfinite(pred) & (w > 0)
    if not keep.any():
        raise ValueError("no point where both the prediction and the reference are finite")
    return pred[keep], ref[keep], w[keep]


def remove_constant_offset(pred, ref, weights=None) -> np.ndarray:
    """``pred`` shifted by the constant that best matches ``ref`` in the (weighted) L2 sense:
    ``pred - mean(pred - ref)``; non-finite reference points are ignored for the mean and
    returned unchanged."""
    p, r, w = _finite_weights(pred, ref, weights)
    shift = np.sum(w * (p - r)) / np.sum(w)
    return np.asarray(pred, dtype=np.float64) - shift


def relative_l2_up_to_constant(pred, ref, weights=None) -> float:
    """Relative L2 error of ``pred`` against ``ref`` after removing the mean difference.

    Args:
        pred: predicted values, any shape.
        ref: reference values, same size; NaN marks points to ignore (e.g. outside the domain).
        weights: optional non-negative quadrature weights, broadcastable to ``ref``.

    Returns:
        ``||(pred - ref) - mean(pred - ref)|| / ||ref - mean(ref)||`` (weighted norms); zero
        when ``pred - ref`` is constant.
    """
    p, r, w = _finite_weights(pred, ref, weights)
    e = (p - r) - np.sum(w * (p - r)) / np.sum(w)
    fluctuation = r - np.sum(w * r) / np.sum(w)
    return float(np.sqrt(np.sum(w * e**2) / max(np.sum(w * fluctuation**2), 1e-300)))
