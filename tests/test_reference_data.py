"""Reference solutions: shipped files match their recipes, and the solutions solve their PDEs."""

from __future__ import annotations

import math

import numpy as np
import pytest
import sympy as sp
from sciml.datasets import burgers, heat, poisson

from sciml import datasets

# ---------------------------------------------------------------------------------------------
# Burgers (Cole–Hopf)


@pytest.fixture(scope="module")
def shipped_burgers():
    return datasets.load("burgers")


def test_burgers_file_layout(shipped_burgers):
    ds = shipped_burgers
    assert set(ds.coords) == {"x", "t"}
    assert ds.u.dims == ("x", "t")
    assert ds.u.shape == (256, 101)
    assert ds.x.values[0] == -1.0 and ds.x.values[-1] == 1.0
    assert ds.t.values[0] == 0.0 and ds.t.values[-1] == 1.0
    assert ds.attrs["nu"] == pytest.approx(0.01 / math.pi, rel=1e-15)
    assert "Cole-Hopf" in ds.attrs["method"]
    assert ds.attrs["estimated_max_abs_error"] < 1e-8
    assert np.isfinite(ds.u.values).all()


def test_burgers_file_matches_fresh_computation(shipped_burgers):
    ds = shipped_burgers.isel(x=slice(1, -1, 7), t=slice(0, None, 9))
    fresh = burgers.cole_hopf(ds.x.values, ds.t.values)
    np.testing.assert_allclose(ds.u.values, fresh, rtol=0, atol=1e-13)


def test_burgers_recipe_on_a_small_grid_matches_shipped(shipped_burgers):
    small = burgers.burgers_reference(nx=256, nt=11)  # every 10th time of the shipped grid
    shipped = shipped_burgers.sel(t=small.t.values, method="nearest")
    np.testing.assert_allclose(small.u.values, shipped.u.values, rtol=0, atol=1e-13)


def test_burgers_initial_and_boundary_conditions(shipped_burgers):
    x = shipped_burgers.x.values
    np.testing.assert_allclose(shipped_burgers.u.isel(t=0), -np.sin(np.pi * x), atol=1e-15)
    np.testing.assert_array_equal(shipped_burgers.u.isel(x=0), 0.0)
    np.testing.assert_array_equal(shipped_burgers.u.isel(x=-1), 0.0)
    # The quadrature itself (not only the stored grid) vanishes at the walls, by odd symmetry.
    walls = burgers.cole_hopf([-1.0, 1.0], np.linspace(0.0, 1.0, 21))
    assert np.abs(walls).max() < 1e-12


def test_burgers_is_odd_in_x(shipped_burgers):
    u = shipped_burgers.u.values
    np.testing.assert_allclose(u[::-1, :], -u, atol=1e-13)


def test_burgers_pde_residual_away_from_shock():
    """4th-order FD residual, relative to the size of the terms, is tiny where u is smooth."""
    x = np.concatenate([np.linspace(-0.95, -0.1, 9), np.linspace(0.1, 0.95, 9)])
    t = np.linspace(0.05, 1.0, 8)
    residual, scale = burgers.burgers_residual(x, t)
    assert (np.abs(residual) / np.maximum(scale, 1.0)).max() < 1e-6


def test_burgers_pde_residual_through_the_shock():
    """With small steps the residual also vanishes inside the layer at x = 0."""
    x = np.array([0.0, 0.002, 0.01, 0.03])
    t = np.array([0.4, 0.7, 1.0])
    residual, scale = burgers.burgers_residual(x, t, hx=3e-5, ht=1e-4)
    assert (np.abs(residual) / np.maximum(scale, 1.0)).max() < 1e-6


def test_burgers_steepest_slope_matches_literature():
    """Basdevant et al. (1986): max_t |u_x(0, t)| = 152.00516 at t = 1.6037/pi."""
    slope, time = burgers.max_slope()
    assert slope == pytest.approx(152.00516, abs=1e-4)
    assert time * math.pi == pytest.approx(1.6037, abs=1e-4)


def test_burgers_agrees_with_an_independent_spectral_solve():
    t = np.array([0.25, 0.5, 1.0])
    coefficients, _ = burgers.spectral_solve(t, n=2048, dt=2.5e-4)
    x = np.linspace(-1.0, 1.0, 101)
    spectral = burgers._fourier_eval(coefficients, x, 2048).T
    assert np.abs(spectral - burgers.cole_hopf(x, t)).max() < 1e-8


def test_burgers_quadrature_order_converged():
    x = np.linspace(-1.0, 1.0, 41)
    t = np.array([0.1, 0.5, 1.0])
    diff = burgers.cole_hopf(x, t, nodes=150) - burgers.cole_hopf(x, t, nodes=300)
    assert np.abs(diff).max() < 1e-13


@pytest.mark.slow
def test_burgers_full_verification():
    figures = burgers.verify()
    assert figures["gauss_hermite_order"] < 1e-13
    assert figures["trapezoid_quadrature"] < 1e-13
    assert figures["spectral_solve"] < 1e-9
    assert figures["residual_smooth"] < 1e-6


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (lambda: burgers.cole_hopf([0.0], [-0.1]), ValueError, "t must be >= 0"),
        (lambda: burgers.cole_hopf([np.nan], [0.1]), ValueError, "finite"),
        (lambda: burgers.cole_hopf([0.0], [0.1], nu=0.0), ValueError, "nu must be positive"),
        (lambda: burgers.burgers_reference(nx=1), ValueError, "nx must be >= 2"),
        (lambda: burgers.burgers_reference(nx=25.5), TypeError, "nx must be an int"),
    ],
)
def test_burgers_bad_input(call, error, match):
    with pytest.raises(error, match=match):
        call()


# ---------------------------------------------------------------------------------------------
# Poisson 2D (KAN paper)


def test_poisson_forcing_is_the_papers_formula():
    f, (x, y) = poisson.poisson_forcing_expr()
    paper = -(sp.pi**2) * (1 + 4 * y**2) * sp.sin(sp.pi * x) * sp.sin(
        sp.pi * y**2
    ) + 2 * sp.pi * sp.sin(sp.pi * x) * sp.cos(sp.pi * y**2)
    assert sp.simplify(f - paper) == 0


def test_poisson_solution_satisfies_pde_numerically():
    """Laplacian by 4th-order FD of the numeric solution equals the numeric forcing."""
    rng = np.random.default_rng(0)
    x, y = rng.uniform(-0.99, 0.99, size=(2, 200))
    h = 1e-3
    d2 = np.array([-1.0, 16.0, -30.0, 16.0, -1.0]) / (12 * h**2)
    k = np.arange(-2, 3) * h
    lap = sum(
        w * (poisson.poisson_exact(x + o, y) + poisson.poisson_exact(x, y + o))
        for w, o in zip(d2, k)
    )
    np.testing.assert_allclose(lap, poisson.poisson_forcing(x, y), atol=1e-6)


def test_poisson_file_matches_recipe_and_boundary():
    ds = datasets.load("poisson2d")
    assert set(ds.coords) == {"x", "y"} and ds.u.shape == (101, 101)
    fresh = poisson.poisson_reference()
    np.testing.assert_allclose(ds.u.values, fresh.u.values, atol=1e-15)
    np.testing.assert_allclose(ds.f.values, fresh.f.values, atol=1e-13)
    for edge in (ds.u.isel(x=0), ds.u.isel(x=-1), ds.u.isel(y=0), ds.u.isel(y=-1)):
        np.testing.assert_array_equal(edge, 0.0)
    assert datasets.load("poisson").identical(ds)


# ---------------------------------------------------------------------------------------------
# Heat 1D


def test_heat_solution_satisfies_pde_symbolically():
    u, (x, t) = heat.heat_expr()
    k = sp.nsimplify(heat.KAPPA)
    assert sp.simplify(sp.diff(u, t) - k * sp.diff(u, x, 2)) == 0
    assert sp.simplify(u.subs(t, 0) - (sp.sin(sp.pi * x) + sp.sin(3 * sp.pi * x) / 2)) == 0
    assert u.subs(x, 0) == 0 and sp.simplify(u.subs(x, 1)) == 0


def test_heat_numeric_solution_satisfies_pde():
    """4th-order central differences of the numeric solution satisfy u_t = kappa u_xx."""
    x = np.linspace(0.05, 0.95, 19)[:, None]
    t = np.linspace(0.05, 0.95, 10)[None, :]
    h = 1e-3
    k = np.arange(-2, 3) * h
    d1 = np.array([1.0, -8.0, 0.0, 8.0, -1.0]) / (12 * h)
    d2 = np.array([-1.0, 16.0, -30.0, 16.0, -1.0]) / (12 * h**2)
    u_t = sum(w * heat.heat_exact(x, t + o) for w, o in zip(d1, k))
    u_xx = sum(w * heat.heat_exact(x + o, t) for w, o in zip(d2, k))
    np.testing.assert_allclose(u_t, heat.KAPPA * u_xx, atol=1e-6)


def test_heat_file_matches_recipe_and_conditions():
    ds = datasets.load("heat")
    assert set(ds.coords) == {"x", "t"} and ds.u.dims == ("x", "t")
    np.testing.assert_allclose(ds.u.values, heat.heat_reference().u.values, atol=1e-15)
    x = ds.x.values
    np.testing.assert_allclose(
        ds.u.isel(t=0), np.sin(np.pi * x) + 0.5 * np.sin(3 * np.pi * x), atol=1e-15
    )
    np.testing.assert_array_equal(ds.u.isel(x=0), 0.0)
    np.testing.assert_array_equal(ds.u.isel(x=-1), 0.0)
    assert ds.attrs["kappa"] == heat.KAPPA


# ---------------------------------------------------------------------------------------------
# Loader


def test_load_names_and_errors():
    assert set(datasets.available()) == {"burgers", "poisson2d", "heat"}
    with pytest.raises(ValueError, match="unknown reference dataset 'navier'.*burgers"):
        datasets.load("navier")
    with pytest.raises(TypeError, match="must be a str"):
        datasets.load(3)
