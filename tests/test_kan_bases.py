"""KAN bases: B-splines against a reference Cox–de Boor, partition of unity, derivatives."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from sciml.models.kan_bases import (
    BSplineBasis,
    ChebyshevBasis,
    RBFBasis,
    bspline_basis,
    bspline_contract,
    chebyshev_basis,
    get_basis,
    rbf_basis,
)


def cox_de_boor(x: float, knots, m: int, p: int) -> float:
    """Textbook scalar recursion B_{m,p}(x), written independently of the library."""
    if p == 0:
        return 1.0 if knots[m] <= x < knots[m + 1] else 0.0
    out = 0.0
    if knots[m + p] != knots[m]:
        out += (x - knots[m]) / (knots[m + p] - knots[m]) * cox_de_boor(x, knots, m, p - 1)
    if knots[m + p + 1] != knots[m + 1]:
        out += (knots[m + p + 1] - x) / (knots[m + p + 1] - knots[m + 1]) * cox_de_boor(x, knots, m + 1, p - 1)
    return out


def random_knots(rng, n_in: int, n_knots: int) -> np.ndarray:
    steps = rng.uniform(0.2, 1.0, (n_in, n_knots - 1))
    return np.concatenate([np.zeros((n_in, 1)), np.cumsum(steps, axis=1)], axis=1) - 2.0


@pytest.mark.parametrize("order", [0, 1, 2, 3, 4])
def test_bspline_matches_reference_cox_de_boor(order):
    rng = np.random.default_rng(order)
    with jax.enable_x64(True):
        knots = random_knots(rng, 3, 12)
        x = rng.uniform(knots[:, 0].max(), knots[:, -1].min(), (40, 3))
        got = np.asarray(bspline_basis(jnp.asarray(x), jnp.asarray(knots), order))
    assert got.shape == (40, 3, 12 - 1 - order)
    ref = np.array(
        [[[cox_de_boor(x[n, i], knots[i], m, order) for m in range(got.shape[-1])] for i in range(3)] for n in range(40)]
    )
    np.testing.assert_allclose(got, ref, atol=1e-12)


@pytest.mark.parametrize("order", [1, 2, 3])
def test_bspline_partition_of_unity_on_the_range(order):
    rng = np.random.default_rng(10 + order)
    with jax.enable_x64(True):
        basis = BSplineBasis(order)
        grid = basis.grid_from_samples(jnp.asarray(rng.normal(size=(500, 4))), 7, grid_eps=0.3)
        lo, hi = grid[:, order], grid[:, -order - 1]
        x = lo + (hi - lo) * jnp.asarray(rng.uniform(0, 1, (300, 4)))
        b = np.asarray(basis(x, grid))
    assert b.shape == (300, 4, 7 + order)
    assert float(b.min()) >= -1e-15
    np.testing.assert_allclose(np.asarray(b.sum(-1)), 1.0, atol=1e-12)


def test_bspline_leading_batch_dimensions_and_float32():
    basis = BSplineBasis(3)
    grid = basis.initial_grid(5, (-1, 1), 2)
    x = jax.random.uniform(jax.random.key(0), (4, 3, 2), minval=-1, maxval=1)
    b = basis(x, grid)
    assert b.shape == (4, 3, 2, 8) and b.dtype == jnp.float32
    np.testing.assert_allclose(np.asarray(b.sum(-1)), 1.0, atol=1e-5)


@pytest.mark.parametrize("order", [2, 3])
def test_bspline_derivatives_match_finite_differences(order):
    rng = np.random.default_rng(20 + order)
    with jax.enable_x64(True):
        knots = jnp.asarray(random_knots(rng, 1, 11))
        coef = jnp.asarray(rng.normal(size=11 - 1 - order))

        def f(x):
            return bspline_basis(x[:, None], knots, order)[:, 0] @ coef

        df = jax.vmap(jax.grad(lambda x: f(x[None])[0]))
        d2f = jax.vmap(jax.grad(jax.grad(lambda x: f(x[None])[0])))
        df_fwd = jax.vmap(jax.jacfwd(lambda x: f(x[None])[0]))
        h = 1e-5
        x = jnp.asarray(rng.uniform(float(knots[0, order]), float(knots[0, -order - 1]), 16))
        g, g2, gf = (np.asarray(jax.jit(fn)(x)) for fn in (df, d2f, df_fwd))
        fd = (np.asarray(f(x + h)) - np.asarray(f(x - h))) / (2 * h)
        fd2 = (np.asarray(df(x + h)) - np.asarray(df(x - h))) / (2 * h)
    np.testing.assert_allclose(g, fd, atol=1e-6 * max(1.0, np.abs(fd).max()))
    np.testing.assert_allclose(g2, fd2, atol=1e-5 * max(1.0, np.abs(fd2).max()))
    # Forward mode (used for PDE residuals) agrees with reverse mode.
    np.testing.assert_allclose(gf, g, atol=1e-12 * max(1.0, np.abs(g).max()))



@pytest.mark.parametrize("order", [0, 1, 2, 3, 4])
def test_local_polynomial_contraction_matches_the_recursion_with_derivatives(order):
    # Adapted (non-uniform) knots, inputs also outside the knot range where every spline is 0.
    rng = np.random.default_rng(30 + order)
    with jax.enable_x64(True):
        basis = BSplineBasis(order)
        grid = basis.grid_from_samples(jnp.asarray(rng.normal(size=(400, 3))), 6, grid_eps=0.3)
        coef = jnp.asarray(rng.normal(size=(3, 4, 6 + order)))
        x = jnp.asarray(rng.uniform(-4, 4, (50, 3)))

        def by_recursion(x2d):
            return jnp.einsum("nim,iom->no", bspline_basis(x2d, grid, order), coef)

        def by_polynomials(x2d):
            return bspline_contract(x2d, grid, coef, order)

        np.testing.assert_allclose(by_polynomials(x), by_recursion(x), atol=1e-12)
        # First and second derivatives along a direction, per point, as the PDE compiler takes them.
        v = jnp.asarray([0.3, -1.0, 0.7])
        for fn_order in range(1, min(order, 2) + 1):
            def derivative(f):
                g = lambda z: f(z[None])[0]  # noqa: E731
                for _ in range(fn_order):
                    g = (lambda h: lambda z: jax.jvp(h, (z,), (v,))[1])(g)
                return jax.vmap(g)(x)

            np.testing.assert_allclose(derivative(by_polynomials), derivative(by_recursion), atol=1e-9)

def test_chebyshev_and_rbf_formulas():
    with jax.enable_x64(True):
        x = jnp.linspace(-2, 2, 9)[:, None]
        t = chebyshev_basis(x, jnp.asarray([[-1.0, 1.0]]), 4)[:, 0]
        s = np.tanh(np.asarray(x[:, 0]))
        ref = np.stack([np.cos(n * np.arccos(s)) for n in range(5)], axis=-1)
        np.testing.assert_allclose(np.asarray(t), ref, atol=1e-12)
        centres = jnp.asarray([[-1.0, 0.0, 1.0]])
        r = rbf_basis(x, centres)[:, 0]
        np.testing.assert_allclose(np.asarray(r), np.exp(-((np.asarray(x) - np.array([-1.0, 0, 1])) ** 2)), atol=1e-12)


def test_basis_sizes_and_grids():
    assert BSplineBasis(3).num_functions(10) == 13
    assert RBFBasis().num_functions(10) == 11
    assert ChebyshevBasis(6).num_functions(6) == 7
    grid = BSplineBasis(3).initial_grid(4, (0, 2), 3)
    assert grid.shape == (3, 4 + 2 * 3 + 1)
    np.testing.assert_allclose(np.asarray(grid[0, 3:8]), [0, 0.5, 1, 1.5, 2], atol=1e-6)
    assert BSplineBasis(3).grid_size(grid) == 4


def test_bad_basis_options_are_clear_errors():
    with pytest.raises(ValueError, match="unknown KAN basis"):
        get_basis("wavelet", grid=5)
    with pytest.raises(ValueError, match="lo < hi"):
        BSplineBasis(3).initial_grid(5, (1, -1), 2)
    with pytest.raises(ValueError, match="grid must be an integer"):
        BSplineBasis(3).initial_grid(0, (-1, 1), 2)
    with pytest.raises(ValueError, match="order"):
        BSplineBasis(-1)
