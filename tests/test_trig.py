"""sciml.trig: float32 sine and cosine whose values and derivatives of every order match the
float64 ones to float32 accuracy, and which leave other dtypes to jnp."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from sciml import trig
from sciml.library.primitive import from_symbolic
from sciml.models import build_model
from sciml.models.mlp import ACTIVATIONS
from sciml.symbolic.primitives import DEFAULT_LIBRARY


def _derivatives(f, order):
    for _ in range(order):
        f = jax.grad(f)
    return jax.vmap(f)


@pytest.mark.parametrize("name", ["sin", "cos"])
def test_values_and_four_derivatives_to_float32_accuracy(name):
    x = jnp.concatenate([jnp.linspace(-12.0, 12.0, 20001), jnp.linspace(-1e4, 1e4, 20001)]).astype(jnp.float32)
    exact = np.asarray(x, np.float64)
    cycle = [np.sin, np.cos, lambda t: -np.sin(t), lambda t: -np.cos(t)]
    start = 0 if name == "sin" else 1
    f = getattr(trig, name)
    for order in range(5):
        error = np.max(np.abs(np.asarray(_derivatives(f, order)(x), np.float64) - cycle[(start + order) % 4](exact)))
        assert error < 3e-7, (name, order, error)


def test_special_values_and_shapes():
    assert np.isnan(float(trig.sin(jnp.float32(np.inf)))) and np.isnan(float(trig.cos(jnp.float32(np.nan))))
    assert trig.sin(jnp.zeros((3, 2), jnp.float32)).shape == (3, 2)
    assert float(trig.sin(0.0)) == 0.0 and float(trig.cos(0.0)) == 1.0
    # large arguments: within half a float32 step of x up to 1e7, bounded beyond
    for scale in (1e5, 1e6, 1e7):
        x = jnp.linspace(scale / 2, scale, 100001, dtype=jnp.float32)
        error = np.abs(np.asarray(trig.sin(x), np.float64) - np.sin(np.asarray(x, np.float64)))
        assert np.all(error <= 0.51 * np.spacing(np.asarray(x)) + 3e-7), scale
    huge = jnp.linspace(1e8, 1e9, 1001, dtype=jnp.float32)
    assert float(jnp.max(jnp.abs(trig.sin(huge)))) <= 1.0 and float(jnp.max(jnp.abs(trig.cos(huge)))) <= 1.0


def test_other_dtypes_are_left_to_jnp():
    with jax.enable_x64(True):
        x = jnp.linspace(-30.0, 30.0, 1001, dtype=jnp.float64)
        assert trig.sin(x).dtype == jnp.float64
        np.testing.assert_array_equal(np.asarray(trig.sin(x)), np.asarray(jnp.sin(x)))
        np.testing.assert_array_equal(np.asarray(trig.cos(x)), np.asarray(jnp.cos(x)))


def test_networks_and_library_members_use_it():
    model = build_model("mlp", 1, 1, hidden=(8,), activation="sin")
    x = jnp.linspace(-1.0, 1.0, 5)[:, None]
    assert jnp.all(jnp.isfinite(model(x)))
    assert ACTIVATIONS["sin"] is trig.sin
    member = from_symbolic("sin")
    t = jnp.linspace(-1.0, 1.0, 7, dtype=jnp.float32)
    np.testing.assert_array_equal(np.asarray(member(t)), np.asarray(trig.sin(t)))
    assert DEFAULT_LIBRARY["sin"].fn is jnp.sin  # laws are fitted with XLA's, exact at any argument
