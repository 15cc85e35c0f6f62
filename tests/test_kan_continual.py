"""Continual learning: training a KAN's spline coefficients on a new region leaves earlier regions alone."""

import numpy as np
from flax import nnx

from sciml.models.kan import KAN
from sciml.models.kan_train import fit_data


def test_a_later_phase_does_not_touch_what_an_earlier_region_learned():
    bump = lambda x: np.exp(-300.0 * (x - 0.5) ** 2) + np.exp(-300.0 * (x + 0.5) ** 2)  # noqa: E731
    left, right = np.linspace(-1, -0.1, 80)[:, None], np.linspace(0.1, 1, 80)[:, None]
    model = KAN([1, 1], grid=40, base_activation="none", rngs=nnx.Rngs(0))
    coefficients = nnx.All(nnx.Param, nnx.PathContains("coef"))
    model = fit_data(model, left, bump(left), steps=60, wrt=coefficients).model
    after_first = np.asarray(model(left))
    assert np.sqrt(np.mean((after_first - bump(left)) ** 2)) < 1e-2
    model = fit_data(model, right, bump(right), steps=60, wrt=coefficients).model
    assert np.sqrt(np.mean((np.asarray(model(right)) - bump(right)) ** 2)) < 1e-2
    # B-splines of order 3 reach two knot intervals (0.05 each) past the data: away from that
    # margin, the first region is bitwise what the first phase left
    far = left[:, 0] < -0.2
    np.testing.assert_array_equal(np.asarray(model(left))[far], after_first[far])
