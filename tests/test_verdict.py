"""The verdict's reasons say what to try where they can."""

import numpy as np
import pytest

from sciml.verdict import judge


def test_a_data_misfit_with_learned_parameters_names_them_and_suggests_other_guesses():
    indicators = {"data": {"data:u": 0.6}, "learned_parameters": {"k": 2.51}}
    (reason,) = judge(indicators)
    assert reason.startswith("data:u (RMS misfit / data std) is 6.00e-01")
    assert "k = 2.51" in reason and "other initial guesses" in reason
    # fitted data, or no learned parameter: nothing is added
    assert judge({"data": {"data:u": 0.01}, "learned_parameters": {"k": 5.0}}) == []
    assert "initial guesses" not in judge({"data": {"data:u": 0.6}})[0]


def test_a_forward_ode_is_checked_against_a_classical_integration():
    """On a time interval alone with nothing learned, the verdict's ``classical`` indicator is the
    surrogate's true error (the integrator's is ~1e-9), judged at the suite's 1e-2 line."""
    import numpy as np
    import sympy as sp

    import sciml
    from sciml.dsl import Field, Initial, Problem, TimeInterval
    from sciml.dynamics.problem import ode_system

    t = sp.Symbol("t")
    x = Field("x", t)
    decay = Problem("decay", TimeInterval(t, 0, 2), [x.diff(t) + 1.5 * x], conditions=[Initial(x, 1.0)])
    solution = sciml.solve(decay, model="mlp", steps=200, lbfgs_steps=50, seed=0)
    times = np.linspace(0, 2, 1001)
    truth = np.exp(-1.5 * times)
    predicted = solution.predict({"t": times})[:, 0]
    error = np.linalg.norm(predicted - truth) / np.linalg.norm(truth)
    classical = solution.verdict.indicators["classical"]["x"]
    assert abs(classical - error) <= 1e-3 * error + 1e-7
    assert solution.verdict.trusted == (classical <= 1e-2)
    # without an exact solution the integration is the reference of the error and of solution.nc
    assert solution.metrics["reference"].startswith("classical integration")
    assert abs(solution.metrics["rel_l2"] - classical) <= 1e-3 * classical + 1e-7
    assert {"x_reference", "x_error"} <= set(solution.to_xarray().data_vars)

    (reason,) = judge({"classical": {"x": 0.05}})
    assert "classical solution" in reason and "5.00e-02" in reason
    # a solution that blows up inside the interval cannot be integrated: inf from there on
    blow_up = ode_system(Problem("blow-up", TimeInterval(t, 0, 2), [x.diff(t) - x**2], conditions=[Initial(x, 1.0)]))
    ys = blow_up.integrate(np.linspace(0, 2, 21))
    assert np.all(np.isfinite(ys[:10])) and not np.any(np.isfinite(ys[-5:]))


def test_a_flux_miss_is_judged_in_the_units_of_the_flux():
    """A Neumann condition prescribes a derivative, so its miss is measured against the size of
    that derivative across the domain: the same relative flux error reads the same on a rod of
    1 cm and of 50 m (against the field's size it read 5000 times larger on the short one)."""
    import jax
    import jax.numpy as jnp
    import numpy as np

    from sciml.dsl import Coordinate, Dirichlet, Field, Interval, Neumann, Problem
    from sciml.dsl.compile import compile_problem

    def flux_miss(length: float, field) -> float:
        x = Coordinate("x")
        rod, u = Interval(x, 0, length), Field("u", x)
        compiled = compile_problem(Problem("rod", rod, [u.diff(x, 2) + 1],
                                           conditions=[Dirichlet(u, 0, on=rod.left), Neumann(u, 0, on=rod.right)]))
        (term,) = [term for term in compiled.terms if term.name.startswith("neumann")]
        rng = np.random.default_rng(0)
        points = term.sample(8, rng, "uniform")
        z = jnp.asarray(rod.sample(2000, rng, "uniform"), jnp.float32)
        field_fn = lambda p: jnp.stack([field(p[0] / length)])  # noqa: E731
        field_rms = float(jnp.sqrt(jnp.mean(jax.vmap(field_fn)(z) ** 2)))
        miss = float(jnp.sqrt(term.evaluate(field_fn, {}, jax.tree.map(jnp.asarray, points))))
        return miss / term.miss_scale(field_fn, {}, z, points, field_rms, length)

    # sin(pi s / 2) has no slope at the end; 0.01 s adds a slope of 0.01 / length there
    misses = [flux_miss(length, lambda s: jnp.sin(jnp.pi * s / 2) + 0.01 * s) for length in (0.01, 1.0, 50.0)]
    assert np.allclose(misses, misses[0], rtol=1e-3) and 5e-3 < misses[0] < 1e-2
    # a nearly uniform field has nearly no slope: its flux miss is judged against the slope a
    # field of its size would have across the rod, not against the tiny slope it has
    flat = flux_miss(50.0, lambda s: 1 + 1e-4 * s)
    assert 5e-5 < flat < 2e-4


def test_a_strip_no_wider_than_the_sensors_spacing_is_not_an_extrapolation():
    from sciml.verdict import share_outside

    grid = np.linspace(1 / 13, 12 / 13, 12)  # 12 x 12 sensors, the outermost one spacing from the walls
    seen = np.stack(np.meshgrid(grid, grid, indexing="ij"), -1).reshape(-1, 2)
    used = np.random.default_rng(0).uniform(0, 1, (4000, 2))
    assert share_outside(seen, used) == 0.0
    # Twice that distance beyond the last sensor is outside; so is anything outside a range of
    # densely observed values (a field's values along a trajectory) by more than 5% of it.
    assert 0.2 < share_outside(seen, np.random.default_rng(1).uniform(-0.2, 1.2, (4000, 2))) < 0.5
    values = np.random.default_rng(2).uniform(0, 1, (500, 1))
    assert share_outside(values, np.array([[1.04], [1.06], [-0.06]])) == 2 / 3


def test_an_evolution_over_many_time_scales_is_held_to_a_residual_bound_divided_by_them():
    import sympy as sp

    from sciml.dsl import Coordinate, Field, Initial, Interval, Neumann, Problem, TimeInterval
    from sciml.time_scales import local_time_scales

    x, t = Coordinate("x"), Coordinate("t")
    u = Field("u", x, t)
    line = Interval(x, 0, 1)
    # Fisher-KPP: the reaction u (1 - u) grows at rate 1 where u = 0; 10 time scales over [0, 10].
    front = Problem("front", line * TimeInterval(t, 0, 10), [u.diff(t) - 1e-3 * u.diff(x, 2) - u * (1 - u)],
                    conditions=[Initial(u, sp.exp(-(x / 0.05) ** 2)), Neumann(u, 0, on=line.boundary)])
    assert local_time_scales(front) == pytest.approx(10.0)
    # Balanced to 5.9e-3 this front travelled 6% too slowly: within 1e-2, not within 1e-2 / 10.
    assert judge({"residual": [5.9e-3]}) == []
    (reason,) = judge({"residual": [5.9e-3], "time_scales": 10.0})
    assert "over the 10.0 time scales" in reason
    assert judge({"residual": [5.9e-4], "time_scales": 10.0}) == []
    heat = Problem("heat", line * TimeInterval(t, 0, 10), [u.diff(t) - u.diff(x, 2)],
                   conditions=[Initial(u, sp.cos(sp.pi * x)), Neumann(u, 0, on=line.boundary)])
    assert local_time_scales(heat) == 0.0  # diffusion damps: nothing adds up
