"""The one MLP (sciml.models.mlp): its options, and the same network from every stack."""

import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from sciml.models import build_model
from sciml.models.mlp import MLP


def test_hidden_widths_activation_bias_and_final_scale():
    m = MLP(3, 2, hidden=(4, 5), activation="rbf", rngs=nnx.Rngs(0))
    assert [(l.in_features, l.out_features) for l in m.layers] == [(3, 4), (4, 5), (5, 2)]
    assert m(jnp.ones((7, 3))).shape == (7, 2)
    linear = MLP(3, 1, hidden=(), bias=False, rngs=nnx.Rngs(0))
    assert len(linear.layers) == 1 and float(linear(jnp.zeros(3))[0]) == 0.0
    small = MLP(3, 2, hidden=(4,), final_scale=0.1, rngs=nnx.Rngs(0))
    full = MLP(3, 2, hidden=(4,), rngs=nnx.Rngs(0))
    np.testing.assert_allclose(small.layers[-1].kernel[...], 0.1 * full.layers[-1].kernel[...], rtol=1e-6)


def test_options_are_checked_by_name():
    with pytest.raises(ValueError, match="unknown activation 'swish'"):
        MLP(1, 1, activation="swish", rngs=nnx.Rngs(0))
    with pytest.raises(ValueError, match="unknown initialiser 'he'"):
        MLP(1, 1, init="he", rngs=nnx.Rngs(0))
    with pytest.raises(ValueError, match="positive integers"):
        MLP(1, 1, hidden=(8, 0), rngs=nnx.Rngs(0))
    with pytest.raises(ValueError, match="does not accept"):
        build_model("mlp", 1, 1, depth=2)


def test_every_stack_builds_the_same_class():
    from sciml.atomistic.layers import invariant_mlp
    from sciml.dynamics.hamiltonian import HamiltonianField
    from sciml.dynamics.node import NeuralField

    assert type(build_model("mlp", 2, 1)) is MLP
    assert type(NeuralField(2, hidden=(8,)).net) is MLP
    assert type(HamiltonianField(1, hidden=(8,)).T) is MLP
    assert type(invariant_mlp([4, 8, 1], rngs=nnx.Rngs(0))) is MLP


def test_one_registry_for_surrogates_and_potentials():
    from sciml.atomistic import build_network
    from sciml.models import available_models

    assert {"mlp", "kan", "nequip", "mace"} <= set(available_models())
    assert set(available_models("graph")) >= {"nequip", "mace"} and "mlp" not in available_models("graph")
    assert set(available_models("trajectory")) == {"node", "kan-ode", "ltc", "cfc", "cfc-lib"} <= set(available_models())
    with pytest.raises(ValueError, match=r"unknown atomistic model 'mlp' \('mlp' is a surrogate"):
        build_network("mlp", 2)


def test_fixed_fourier_features_come_first_and_are_checked():
    net = MLP(2, 1, fourier_features=2, fourier_scale=1.0, fourier_frequencies=((4.0, 0.0),), rngs=nnx.Rngs(0))
    z = np.array([[0.1, -0.3]])
    embedded = np.asarray(net.embedding(z))
    # The fixed feature comes first, before the two random ones (sines, then cosines).
    np.testing.assert_allclose(embedded[0, [0, 3]], [np.sin(2 * np.pi * 0.4), np.cos(2 * np.pi * 0.4)], rtol=1e-6)
    with pytest.raises(ValueError, match="fourier_frequencies must hold 2 numbers"):
        MLP(2, 1, fourier_frequencies=((4.0,),), rngs=nnx.Rngs(0))
