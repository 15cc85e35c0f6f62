"""KAN surrogate: the contract, options, dtypes, gradients and checkpoints."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from sciml.models import available_models, build_model
from sciml.models.kan import KAN, kan_from_bytes, kan_to_bytes, load_kan, save_kan


def test_registered_and_shapes_with_leading_dimensions():
    assert "kan" in available_models()
    model = build_model("kan", 2, 3, hidden=(4, 5), grid=6, seed=1)
    assert model.widths == [2, 4, 5, 3] and model.in_features == 2 and model.out_features == 3
    x = jax.random.uniform(jax.random.key(0), (7, 3, 2), minval=-1, maxval=1)
    assert model(x).shape == (7, 3, 3)
    assert model(x[0, 0]).shape == (3,)


@pytest.mark.parametrize("basis", ["bspline", "chebyshev", "rbf"])
def test_activations_contract(basis):
    model = build_model("kan", 3, 2, width=[3, 4, 2], basis=basis, grid=5)
    x = jax.random.uniform(jax.random.key(1), (16, 3), minval=-1, maxval=1)
    acts = model.activations(x)
    assert len(acts) == len(model.layers) == 2
    inp = x
    for (layer_in, phi), n_in, n_out in zip(acts, model.widths[:-1], model.widths[1:]):
        assert layer_in.shape == (16, n_in) and phi.shape == (16, n_in, n_out)
        np.testing.assert_allclose(np.asarray(layer_in), np.asarray(inp), atol=1e-6)
        inp = phi.sum(axis=1)
    # The fast path (one matmul per layer) equals the sum of edge activations.
    np.testing.assert_allclose(np.asarray(inp), np.asarray(model(x)), atol=1e-5)


def test_options_parsed_by_the_command_line_and_clear_errors():
    from sciml.cli import _key_values

    options = _key_values(["width=2,3,1", "grid=7", "order=2", "grid_range=0,2", "basis=rbf"], "--option")
    assert options == {"width": [2, 3, 1], "grid": 7, "order": 2, "grid_range": [0, 2], "basis": "rbf"}
    model = build_model("kan", 2, 1, **{k: v for k, v in options.items() if k != "basis"})
    assert model.widths == [2, 3, 1] and model.grid_size == 7 and model.order == 2
    assert model.grid_range == (0.0, 2.0)
    assert build_model("kan", 2, 1, hidden=[]).widths == [2, 1]
    with pytest.raises(ValueError, match="not the text '2,3,1'"):
        build_model("kan", 2, 1, width="2,3,1")
    with pytest.raises(ValueError, match="grid_range must be a pair"):
        build_model("kan", 2, 1, grid_range="02")
    with pytest.raises(ValueError, match="must start with the 2 inputs"):
        build_model("kan", 2, 1, width=[3, 5, 1])
    with pytest.raises(ValueError, match="unknown KAN basis"):
        build_model("kan", 2, 1, basis="fourier")
    with pytest.raises(ValueError, match="grid_range"):
        build_model("kan", 2, 1, grid_range=(1, 0))
    with pytest.raises(ValueError, match="does not accept"):
        build_model("kan", 2, 1, depth=3)
    model = build_model("kan", 2, 1)
    with pytest.raises(ValueError, match=r"inputs of shape \(\.\.\., 2\)"):
        model(jnp.ones((4, 3)))


def test_parameter_count_and_dtype_follows_inputs():
    model = KAN([2, 5, 1], grid=5, order=3, rngs=nnx.Rngs(0))
    # (G + k) coefficients + two scales per edge, 15 edges.
    assert model.n_params() == 15 * (5 + 3 + 2)
    assert model(jnp.ones((2, 2), jnp.float32)).dtype == jnp.float32
    with jax.enable_x64(True):
        assert model(jnp.ones((2, 2), jnp.float64)).dtype == jnp.float64
        m64 = KAN([2, 5, 1], param_dtype="float64", rngs=nnx.Rngs(0))
        assert m64.layers[0].coef[...].dtype == jnp.float64
    with pytest.raises(ValueError, match="jax_enable_x64"):
        KAN([2, 1], param_dtype="float64", rngs=nnx.Rngs(0))


@pytest.mark.parametrize("basis", ["bspline", "chebyshev", "rbf"])
def test_gradients_match_finite_differences(basis):
    with jax.enable_x64(True):
        model = KAN([2, 3, 1], grid=4, basis=basis, param_dtype="float64", rngs=nnx.Rngs(3))
        x = jax.random.uniform(jax.random.key(2), (32, 2), jnp.float64, -0.9, 0.9)
        graphdef, params, rest = nnx.split(model, nnx.Param, ...)
        flat, unravel = jax.flatten_util.ravel_pytree(params)

        def loss(v):
            return jnp.mean(jnp.sin(nnx.merge(graphdef, unravel(v), rest)(x)))

        grad = np.asarray(jax.jit(jax.grad(loss))(flat))
        idx = np.random.default_rng(0).choice(flat.size, 12, replace=False)
        h = 1e-6
        for i in idx:
            e = jnp.zeros_like(flat).at[i].set(h)
            fd = (float(loss(flat + e)) - float(loss(flat - e))) / (2 * h)
            assert abs(grad[i] - fd) <= 1e-7 + 1e-5 * abs(fd)

        # Input derivatives up to second order (PDE residuals), forward and reverse mode.
        def u(p):
            return model(p)[0]

        p = jnp.asarray([0.3, -0.4])
        lap = float(jnp.trace(jax.jit(jax.hessian(u))(p)))
        lap_fwd = float(jnp.trace(jax.jit(jax.jacfwd(jax.jacfwd(u)))(p)))
        h = 1e-4
        lap_fd = sum(
            (float(u(p + h * e)) - 2 * float(u(p)) + float(u(p - h * e))) / h**2 for e in jnp.eye(2)
        )
    assert abs(lap - lap_fd) <= 1e-5 * max(1.0, abs(lap_fd))
    assert abs(lap - lap_fwd) <= 1e-10 * max(1.0, abs(lap))


def _state_leaves(model):
    return jax.tree.leaves(nnx.state(model))


def test_save_load_round_trip_is_bitwise(tmp_path):
    from sciml.models.kan_grid import extend_grid, update_grid

    model = build_model("kan", 2, 2, hidden=(3,), grid=3, basis="bspline", seed=4)
    x = jax.random.uniform(jax.random.key(5), (256, 2), minval=-1, maxval=1)
    # Grids moved to the data and extended: the checkpoint must carry them.
    model = extend_grid(update_grid(model, 0.7 * x), 6, 0.7 * x)
    save_kan(model, tmp_path / "kan.msgpack")
    loaded = load_kan(tmp_path / "kan.msgpack")
    assert loaded.config == model.config
    a, b = _state_leaves(model), _state_leaves(loaded)
    assert len(a) == len(b)
    for u, v in zip(a, b):
        assert u.dtype == v.dtype and u.shape == v.shape
        assert np.asarray(u).tobytes() == np.asarray(v).tobytes()
    assert np.asarray(model(x)).tobytes() == np.asarray(loaded(x)).tobytes()
    assert kan_to_bytes(loaded) == kan_to_bytes(model)
    with pytest.raises(ValueError, match="not a sciml KAN checkpoint"):
        kan_from_bytes(__import__("flax").serialization.msgpack_serialize({"format": "other"}))


def test_single_point_calls_agree_with_batched_calls():
    # The physics compiler calls a surrogate per point (vmapped); B-spline layers then use the
    # local-polynomial route. Values and parameter gradients must be those of a batched call.
    with jax.enable_x64(True):
        model = KAN([2, 4, 1], grid=5, param_dtype="float64", rngs=nnx.Rngs(1))
        graphdef, params, rest = nnx.split(model, nnx.Param, ...)
        x = jax.random.uniform(jax.random.key(0), (64, 2), jnp.float64, -1.2, 1.2)

        def loss(p, per_point):
            net = nnx.merge(graphdef, p, rest)
            y = jax.vmap(net)(x) if per_point else net(x)
            return jnp.sum(jnp.sin(y))

        np.testing.assert_allclose(jax.vmap(model)(x), model(x), atol=1e-12)
        g_point, g_batch = (jax.grad(loss)(params, flag) for flag in (True, False))
        for a, b in zip(jax.tree.leaves(g_point), jax.tree.leaves(g_batch)):
            np.testing.assert_allclose(a, b, atol=1e-10)
