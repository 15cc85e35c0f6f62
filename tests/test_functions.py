"""Functions an expression may hold: Bessel and error functions evaluate on both backends, and a
function sciml cannot evaluate is refused where the problem is written."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.special as ssp
import sympy as sp

from sciml.dsl import Coordinate, Dirichlet, Disk, Field, Initial, Interval, Problem, TimeInterval
from sciml.dsl.compile import compile_problem
from sciml.dsl.errors import ProblemError
from sciml.functions import lambdify, unsupported_functions


@pytest.mark.parametrize("order", [0, 1, 3])
def test_bessel_functions_and_their_derivatives_match_scipy(order):
    x = sp.Symbol("x")
    z = np.linspace(0.0, 60.0, 1201)
    j = lambdify([x], sp.besselj(order, x), "jax")
    np.testing.assert_allclose(np.asarray(j(jnp.asarray(z, jnp.float32))), ssp.jv(order, z), atol=2e-6)
    second = jax.vmap(jax.grad(jax.grad(j)))(jnp.asarray(z, jnp.float32))
    np.testing.assert_allclose(np.asarray(second), ssp.jvp(order, z, 2), atol=2e-6)
    i = lambdify([x], sp.besseli(order, x), "jax")
    small = np.linspace(0.0, 10.0, 101)
    np.testing.assert_allclose(np.asarray(i(jnp.asarray(small, jnp.float32))), ssp.iv(order, small), rtol=2e-6,
                               atol=1e-7)
    # the NumPy backend is SciPy's, under the same names
    np.testing.assert_allclose(lambdify([x], sp.besselj(order, x))(z), ssp.jv(order, z), rtol=1e-12)


def _max_residual(problem, exact):
    c = compile_problem(problem)
    fns = [lambdify(problem.coordinates, exact[name], "jax") for name in c.field_names]
    field_fn = lambda z: jnp.stack([jnp.asarray(f(*z), z.dtype) for f in fns])  # noqa: E731
    batch = c.sample(np.random.default_rng(0), {"interior": 400, "boundary": 50}, dtype=np.float64)
    params = c.physical_parameters(c.initial_parameters())
    return float(jnp.max(jnp.abs(c.residual_values(field_fn, params, jnp.asarray(batch["interior"]["z"])))))


@pytest.mark.usefixtures("float64")
def test_a_drum_mode_and_a_heat_kernel_solve_their_equations():
    x, y, t = Coordinate("x"), Coordinate("y"), Coordinate("t")
    head = Disk(x, y, (0, 0), 1)
    u = Field("u", x, y, t)
    j01 = 2.404825557695773
    mode = sp.besselj(0, j01 * sp.sqrt(x**2 + y**2))
    drum = Problem("drum", head * TimeInterval(t, 0, 1), [u.diff(t, 2) - u.diff(x, 2) - u.diff(y, 2)],
                   conditions=[Initial(u, mode), Initial(u, 0, order=1), Dirichlet(u, 0, on=head.boundary)])
    assert _max_residual(drum, {"u": mode * sp.cos(j01 * t)}) < 1e-8
    assert _max_residual(drum, {"u": mode * sp.cos(2.0 * t)}) > 1e-1  # not vacuous

    xs, ts = Coordinate("x"), Coordinate("t")
    v = Field("v", xs, ts)
    kernel = sp.erf(xs / (2 * sp.sqrt(0.1 * (ts + 1))))
    heat = Problem("heat", Interval(xs, -1, 1) * TimeInterval(ts, 0, 1), [v.diff(ts) - 0.1 * v.diff(xs, 2)],
                   conditions=[Initial(v, kernel.subs(ts, 0))])
    assert _max_residual(heat, {"v": kernel}) < 1e-8


def test_a_function_sciml_cannot_evaluate_is_refused_with_the_fix():
    x, t = Coordinate("x"), Coordinate("t")
    rod = Interval(x, 0, 1)
    u = Field("u", x, t)
    for bad, named in ((sp.LambertW(x), "LambertW"), (sp.airyai(x), "airyai"),
                       (sp.besselj(sp.Rational(1, 3), x), "besselj of order 1/3")):
        with pytest.raises(ProblemError, match=named) as err:
            Problem("rod", rod * TimeInterval(t, 0, 1), [u.diff(t) - u.diff(x, 2)],
                    conditions=[Initial(u, bad), Dirichlet(u, 0, on=rod.boundary)])
        assert "Initial" in str(err.value) and "reference=" in str(err.value)
    assert unsupported_functions(sp.erf(x) + sp.besselj(2, x) + sp.Function("u")(x)) == []
