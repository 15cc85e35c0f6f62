"""Residuals of the catalogue problems vanish on exact solutions of their equations."""

import jax.numpy as jnp
import numpy as np
import pytest
import sympy as sp

import sciml
from sciml.dsl.compile import compile_problem


pytestmark = pytest.mark.usefixtures("float64")  # residuals checked in double precision


def residual_on(problem, exact: dict, n=500):
    """Max |residual| and max |condition residual| of the sympy solutions ``exact``."""
    c = compile_problem(problem)
    fns = [sp.lambdify(problem.coordinates, exact[f], "jax") for f in c.field_names]
    field_fn = lambda z: jnp.stack([jnp.asarray(f(*z), z.dtype) for f in fns])  # noqa: E731
    batch = c.sample(np.random.default_rng(0), {"interior": n, "boundary": 100}, dtype=np.float64)
    params = c.physical_parameters(c.initial_parameters())
    res = c.residual_values(field_fn, params, jnp.asarray(batch["interior"]["z"]))
    return float(jnp.max(jnp.abs(res)))


def exact_of(problem):
    known = {p: p.value for p in problem.parameters}
    return {str(f.func): sp.sympify(e).xreplace(known) for f, e in problem.exact.items()}


@pytest.mark.parametrize("name", ["heat", "poisson2d"])
def test_exact_solution_has_zero_residual(root, name):
    problem = sciml.load_problem(root / "problems" / f"{name}.py")
    assert residual_on(problem, exact_of(problem)) < 1e-6


@pytest.mark.parametrize("name", ["burgers", "burgers_inverse"])
def test_burgers_residual_vanishes_on_a_travelling_wave(root, name):
    # Cole–Hopf travelling wave u = c - a tanh(a (x - c t) / (2 nu)) solves the viscous
    # Burgers equation for any a, c; nu is the problem's viscosity (or its initial guess).
    problem = sciml.load_problem(root / "problems" / f"{name}.py")
    x, t = problem.coordinates
    nu = problem.parameters[0].value
    a, c = sp.Rational(1, 2), sp.Rational(1, 5)
    wave = c - a * sp.tanh(a * (x - c * t) / (2 * nu))
    assert residual_on(problem, {"u": wave}) < 1e-6
    assert residual_on(problem, {"u": wave + x**2}) > 1e-2  # and it is not vacuous


def test_heat_initial_and_boundary_terms_vanish_on_exact_solution(root):
    problem = sciml.load_problem(root / "problems" / "heat.py")
    c = compile_problem(problem)
    expr = exact_of(problem)["u"]
    fn = sp.lambdify(problem.coordinates, expr, "jax")

    class Exact:  # the surrogate receives scaled inputs
        def __call__(self, s):
            z = (s + 1) / 2 * (c.upper - c.lower) + c.lower
            return jnp.asarray(fn(*z), z.dtype)[None]

    batch = c.sample(np.random.default_rng(1), {"interior": 200, "boundary": 100}, dtype=np.float64)
    terms = c.loss_terms(Exact(), {}, batch)
    assert all(float(v) < 1e-12 for v in terms.values()), terms
