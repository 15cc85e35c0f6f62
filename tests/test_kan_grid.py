"""KAN grids: adaptation to samples, extension that preserves the function, schedules."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from sciml.models.kan import KAN
from sciml.models.kan_grid import GridSchedule, extend_grid, update_grid


def _samples(n=1000, seed=0, dtype=jnp.float64):
    return jax.random.uniform(jax.random.key(seed), (n, 2), dtype, -1.0, 1.0)


@pytest.mark.parametrize("basis", ["bspline", pytest.param("chebyshev", marks=pytest.mark.slow)])
def test_grid_extension_preserves_the_function(basis):
    with jax.enable_x64(True):
        model = KAN([2, 3, 1], grid=5, basis=basis, param_dtype="float64", noise_scale=0.5, rngs=nnx.Rngs(0))
        x = _samples()
        # Adapted (non-uniform) grids first, so the check is not limited to uniform knots.
        model = update_grid(model, x, grid_eps=0.3)
        before = np.asarray(model(x))
        for new in (10,):
            model = extend_grid(model, new, x)
            assert model.grid_size == new
            after = np.asarray(model(x))
            change = np.abs(after - before).max() / np.abs(before).max()
            assert change <= 1e-6, f"{basis} {new}: relative change {change:.2e}"


def test_extension_shapes_and_errors():
    model = KAN([2, 3, 1], grid=3, rngs=nnx.Rngs(0))
    x = _samples(200, dtype=jnp.float32)
    ext = extend_grid(model, 6, x)
    assert ext.layers[0].coef[...].shape == (2, 3, 6 + 3)
    assert ext.layers[0].grid[...].shape == (2, 6 + 2 * 3 + 1)
    assert model.layers[0].coef[...].shape == (2, 3, 3 + 3), "the input model is left unchanged"
    assert ext.config["grid"] == 6
    with pytest.raises(ValueError, match="new_grid must be an integer >= the current grid 3"):
        extend_grid(model, 2, x)
    with pytest.raises(ValueError, match=r"samples must have shape \(N, 2\)"):
        extend_grid(model, 6, jnp.ones((5, 3)))


def test_update_grid_follows_the_samples():
    with jax.enable_x64(True):
        model = KAN([2, 3, 1], grid=5, param_dtype="float64", rngs=nnx.Rngs(1))
        # Gaussian inputs around 0.3: knots move to their range and get denser near the mode.
        x = 0.3 + 0.15 * jax.random.normal(jax.random.key(2), (2000, 2), jnp.float64)
        new = update_grid(model, x, grid_eps=0.0)
        knots = np.asarray(new.layers[0].grid[...])
        interior = knots[:, 3:-3]
        np.testing.assert_allclose(interior[:, 0], np.asarray(x.min(0)), atol=1e-12)
        np.testing.assert_allclose(interior[:, -1], np.asarray(x.max(0)), atol=1e-12)
        assert (np.diff(knots, axis=1) > 0).all()
        spacing = np.diff(interior, axis=1)
        assert spacing[:, 2].max() < spacing[:, 0].min(), "knots cluster where the samples are"
        # The refit keeps the function on the samples (up to the change of spline space).
        # (The old splines are not in the new space, so this is approximate, as in pykan.)
        before = np.asarray(model(x))
        assert np.abs(np.asarray(new(x)) - before).max() < 0.05 * np.ptp(before)
        uniform = update_grid(model, x, grid_eps=1.0).layers[0].grid[...]
        steps = np.diff(np.asarray(uniform), axis=1)
        np.testing.assert_allclose(steps, np.broadcast_to(steps[:, :1], steps.shape), rtol=1e-9)
    with pytest.raises(ValueError, match="grid_eps"):
        update_grid(model, x, grid_eps=2.0)


def test_grid_schedule():
    s = GridSchedule((3, 5, 10, 20))
    assert s.switch_steps(400) == (100, 200, 300)
    assert [s.grid_at(t, 400) for t in (0, 100, 150, 200, 300)] == [None, 5, None, 10, 20]
    assert GridSchedule((3, 5), steps=(7,)).grid_at(7, 10) == 5
    with pytest.raises(ValueError, match="increasing"):
        GridSchedule((5, 3))
    with pytest.raises(ValueError, match="steps must give 1"):
        GridSchedule((3, 5), steps=(1, 2))
