"""KAN sparsification (regulariser, attribution, pruning) and inspection (xarray, drawings)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from sciml.models.kan import KAN
from sciml.models.kan_inspect import plot_kan, sample_edges
from sciml.models.kan_prune import (
    apply_masks,
    attribution,
    edge_l1,
    prune,
    prune_masks,
    regularization,
)


def _weakened_model():
    """[3, 5, 4, 1] KAN whose input 2 and hidden node 1 barely matter."""
    model = KAN([3, 5, 4, 1], grid=5, rngs=nnx.Rngs(0))
    layer = model.layers[0]
    factor = np.ones((3, 5))
    factor[2, :] = 1e-4
    factor[:, 1] = 1e-4
    layer.scale_base[...] = layer.scale_base[...] * factor
    layer.scale_spline[...] = layer.scale_spline[...] * factor
    x = jax.random.uniform(jax.random.key(1), (512, 3), minval=-1, maxval=1)
    return model, x


def test_prune_gives_a_smaller_network_with_the_same_function_on_retained_edges():
    model, x = _weakened_model()
    scores = attribution(model, x)
    assert scores.nodes[0][2] < 1e-2 * scores.nodes[0][:2].min()
    masks = prune_masks(model, x)
    assert masks[0][2].sum() == 0 and masks[0][:, 1].sum() == 0 and masks[1][1].sum() == 0
    pruned = prune(model, x)
    assert pruned.widths == [3, 4, 4, 1]
    assert pruned.n_params() < model.n_params()
    reference = apply_masks(model, masks)
    np.testing.assert_allclose(np.asarray(pruned(x)), np.asarray(reference(x)), atol=1e-6)


def test_regulariser_is_the_papers_l1_plus_entropy():
    model, x = _weakened_model()
    mags = edge_l1(model.activations(x))
    expected = 0.0
    for m in mags:
        m = np.asarray(m, dtype=np.float64)
        p = m / m.sum()
        expected += m.sum() - 2.0 * np.sum(p * np.log(p))
    np.testing.assert_allclose(float(regularization(model, x, eps=0.0)), expected, rtol=1e-4)
    graphdef, params, rest = nnx.split(model, nnx.Param, ...)
    grads = jax.jit(jax.grad(lambda p: regularization(nnx.merge(graphdef, p, rest), x)))(params)
    assert all(bool(jnp.isfinite(g).all()) for g in jax.tree.leaves(grads))


def test_sample_edges_dataset_and_drawings(tmp_path):
    model = KAN([2, 3, 1], grid=5, rngs=nnx.Rngs(2))
    x = jax.random.uniform(jax.random.key(3), (256, 2), minval=-1, maxval=1)
    ds = sample_edges(model, n_points=21, samples=x)
    assert dict(ds.sizes) == {"layer": 2, "in": 3, "out": 3, "sample": 21}
    assert {"x", "phi", "mask", "score"} <= set(ds.data_vars)
    # Values are the edge functions at the sample points; narrower layers are NaN-padded.
    pts = jnp.asarray(ds["x"][0, :2].values.T, jnp.float32)
    np.testing.assert_allclose(
        ds["phi"][0, :2, :3].values, np.moveaxis(np.asarray(model.layers[0].edge_function(pts)), 0, -1), atol=1e-6
    )
    assert np.isnan(ds["phi"][1, :, 1:].values).all() and np.isnan(ds["x"][0, 2].values).all()
    assert float(ds["x"][0, 0].min()) == pytest.approx(float(x[:, 0].min()), abs=1e-6)
    ds_grid = sample_edges(model, 11)
    assert "score" not in ds_grid and float(ds_grid["x"][0, 0, 0]) == pytest.approx(-1.0)
    for suffix in ("png", "svg"):
        plot_kan(model, x, tmp_path / f"kan.{suffix}", n_points=21, title="test")
        assert (tmp_path / f"kan.{suffix}").stat().st_size > 1000
