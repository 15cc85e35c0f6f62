"""The generic recipe: choices read from the problem, recorded with reasons, overridable."""

import numpy as np
import pytest
import sympy as sp

import sciml
from sciml.dsl import Box, Coordinate, Dirichlet, Field, Initial, Interval, Periodic, Problem, TimeInterval
from sciml.recipe import FOURIER_PERIODS, choose, features

x, y, t = Coordinate("x"), Coordinate("y"), Coordinate("t")
line, time = Interval(x, 0, 1), TimeInterval(t, 0, 1)
u = Field("u", x)
w = Field("w", x, t)


def poisson(frequency: float):
    source = sp.sin(frequency * sp.pi * x)
    return Problem("p", line, [u.diff(x, 2) + source], conditions=[Dirichlet(u, 0, on=line.boundary)])


def test_fourier_feature_scale_follows_a_known_frequency():
    low, high = choose(poisson(2)), choose(poisson(16))
    assert "fourier_features" not in low.model_options
    # sin(16 pi x) on [0, 1]: 8 periods across the domain, above the threshold.
    assert features(poisson(16)).periods["x"] == 8.0 > FOURIER_PERIODS
    # As many features as keep the network within the dense quasi-Newton phase's size.
    assert 16 <= high.model_options["fourier_features"] <= 64
    assert high.train["quasi_newton"] == "ssbfgs"
    assert high.model_options["fourier_scale"] == 2.0
    assert "8.0 periods" in high.reasons["fourier_features"]


def test_two_scales_of_fourier_features_for_a_multiscale_source():
    source = sp.sin(2 * sp.pi * x) + sp.sin(16 * sp.pi * x) / 10
    problem = Problem("two", line, [u.diff(x, 2) + source], conditions=[Dirichlet(u, 0, on=line.boundary)])
    assert features(problem).spectrum["x"] == (1.0, 8.0)
    low, high = choose(problem).model_options["fourier_scale"]
    assert low < high and high == choose(poisson(16)).model_options["fourier_scale"]
    assert "1 period(s) also there" in choose(problem).reasons["fourier_features"]


def test_modes_of_a_negligible_amplitude_are_not_visible():
    """A series written to many modes: those below a hundredth of the largest term's amplitude
    ask for no resolution (a membrane's 39-mode series asked for 38,500 points)."""
    series = sum(sp.sin(m * sp.pi * x) / m**3 for m in range(1, 40, 2))  # 1, 1/27, 1/125, 1/343 ...
    problem = Problem("series", line, [u.diff(x, 2) + 1], conditions=[Dirichlet(u, 0, on=line.boundary)],
                      exact={u: series})
    assert features(problem).spectrum["x"] == (0.5, 1.5)  # amplitudes 1, 3.7e-2; 8e-3 < 1e-2 from m = 5 on
    scaled = Problem("series", line, [u.diff(x, 2) + 1], conditions=[Dirichlet(u, 0, on=line.boundary)],
                     exact={u: 7 * series})
    assert features(scaled).spectrum == features(problem).spectrum  # relative to the largest term


def test_points_resolve_the_finest_visible_frequency():
    v = Field("v", x, y)
    square = Box({x: (0, 1), y: (0, 1)})
    source = sp.sin(16 * sp.pi * x) * sp.sin(16 * sp.pi * y)  # 8 periods along each coordinate
    recipe = choose(Problem("fine", square, [v.diff(x, 2) + v.diff(y, 2) + source]))
    assert recipe.train["points"]["interior"] >= (10 * 8) ** 2
    assert "per period of the finest visible frequency" in recipe.reasons["points"]


def test_nonlinearity_is_read_from_the_equations():
    heat = Problem("h", line * time, [w.diff(t) - w.diff(x, 2)], conditions=[Initial(w, sp.sin(sp.pi * x))])
    burgers = Problem("b", line * time, [w.diff(t) + w * w.diff(x) - w.diff(x, 2)],
                      conditions=[Initial(w, sp.sin(sp.pi * x))])
    reaction = Problem("r", line * time, [w.diff(t) - w.diff(x, 2) - sp.sin(w)],
                       conditions=[Initial(w, sp.sin(sp.pi * x))])
    assert not features(heat).nonlinear
    assert features(burgers).nonlinear and features(reaction).nonlinear
    assert "refinement" in choose(burgers).reasons and "refinement" not in choose(heat).reasons


def test_soft_periodic_conditions_are_made_exact():
    problem = Problem("per", line * time, [w.diff(t) + w.diff(x)],
                      conditions=[Initial(w, sp.sin(2 * sp.pi * x)), Periodic(w, coordinate=x)])
    recipe = choose(problem)
    cond = [c for c in recipe.problem.conditions if isinstance(c, Periodic)][0]
    assert cond.hard and "exactly" in recipe.reasons["periodic"]
    assert not [c for c in problem.conditions if isinstance(c, Periodic)][0].hard  # the original is untouched


def test_recipe_is_recorded_and_explicit_settings_win(tmp_path):
    sol = sciml.solve(poisson(1), steps=30, lbfgs_steps=0, model_options={"hidden": (8,)},
                      points={"interior": 64, "boundary": 8}, progress=False)
    recipe = sol.metrics["recipe"]
    assert recipe["model_options"]["hidden"] == (32, 32, 32, 32)
    assert {"hidden", "steps", "lbfgs_steps", "points"} <= set(recipe["overridden"])
    assert sol.metrics["n_params"] == 8 + 8 + 8 + 1 and sol.steps == 30
    assert "architecture" in recipe["reasons"] and "optimiser" in recipe["reasons"]


def test_lbfgs_stops_on_a_stall_and_on_the_time_budget():
    kw = dict(steps=50, lbfgs_steps=2000, model_options={"hidden": (8,)}, chunk=10,
              points={"interior": 64, "boundary": 8}, progress=False)
    stalled = sciml.solve(poisson(1), stall_window=20, stall_tolerance=0.99, **kw)
    assert stalled.metrics["stopped"].startswith("stalled") and stalled.lbfgs_steps < 2000
    budget = sciml.solve(poisson(1), time_budget=1e-3, **kw)
    assert budget.steps == 10 and budget.lbfgs_steps == 0  # Adam cut after its first chunk
    assert budget.metrics["stopped"].startswith("Adam cut at step 10") and "time budget" in budget.metrics["stopped"]


def test_a_run_cut_by_the_time_budget_resumes_into_lbfgs(tmp_path):
    kw = dict(steps=50, lbfgs_steps=30, model_options={"hidden": (8,)}, chunk=10,
              points={"interior": 64, "boundary": 8}, progress=False)
    sciml.solve(poisson(1), time_budget=1e-3, out=tmp_path / "run", **kw)
    resumed = sciml.solve(poisson(1), out=tmp_path / "run", resume=True, **kw)
    assert resumed.steps == 10 and resumed.lbfgs_steps == 30


def test_causal_weights_order_the_time_bins():
    import jax.numpy as jnp
    import numpy as np

    from sciml.losses.causal import causal_reduction, causal_weights

    w = np.asarray(causal_weights(jnp.array([1.0, 2.0, 0.5, 0.0]), epsilon=1.0))
    np.testing.assert_allclose(w, np.exp(-np.array([0.0, 1.0, 3.0, 3.5])), rtol=1e-6)
    assert np.all(np.asarray(causal_weights(jnp.zeros(5), 10.0)) == 1.0)  # converged: the plain mean
    reduce = causal_reduction(time_axis=1, start=0.0, end=1.0, bins=2, epsilon=1.0)
    z = jnp.array([[0.0, 0.1], [0.0, 0.2], [0.0, 0.7], [0.0, 0.9]])
    squared = jnp.array([1.0, 3.0, 4.0, 4.0])  # bins: mean 2 (early), mean 4 (late)
    assert float(reduce(squared, z)) == pytest.approx((2.0 + np.exp(-2.0) * 4.0) / 2)
    # the weights are constants under differentiation: d/dsq of the late bin is w/(2 n_bin)
    import jax

    grad = np.asarray(jax.grad(lambda s: reduce(s, z))(squared))
    assert grad[3] == pytest.approx(np.exp(-2.0) / 4)


def test_causal_training_runs_on_an_evolution_problem():
    heat = Problem("h", line * time, [w.diff(t) - 0.1 * w.diff(x, 2)],
                   conditions=[Initial(w, sp.sin(sp.pi * x)), Dirichlet(w, 0, on=line.boundary)])
    sol = sciml.solve(heat, steps=40, lbfgs_steps=0, causal_epsilon=1.0, causal_bins=8, chunk=20,
                      model_options={"hidden": (8,)}, points={"interior": 128, "boundary": 16}, progress=False)
    assert np.isfinite(sol.metrics["loss"])


def test_lbfgs_ends_on_the_best_held_out_parameters_and_a_stalled_run_stays_ended(tmp_path):
    kw = dict(steps=30, lbfgs_steps=3000, model_options={"hidden": (8,)}, chunk=10,
              points={"interior": 16, "boundary": 4}, progress=False, stall_window=50)
    first = sciml.solve(poisson(1), out=tmp_path / "run", **kw)
    assert first.metrics["stopped"].startswith("stalled") and first.lbfgs_steps < 3000
    again = sciml.load_solution(tmp_path / "run", poisson(1))  # the checkpoint holds the kept parameters
    points = np.linspace(0, 1, 5)[:, None]
    np.testing.assert_array_equal(first.predict(points), again.predict(points))
    assert again.lbfgs_steps == first.lbfgs_steps


def test_quasi_newton_method_follows_the_network_size():
    small = choose(poisson(2))
    assert small.train["quasi_newton"] == "ssbfgs" and "dense BFGS" in small.reasons["optimiser"]
    z = Coordinate("z")
    cube = Box({x: (0, 1), y: (0, 1), z: (0, 1)})
    v = Field("v", x, y, z)
    big = choose(Problem("c", cube, [v.diff(x, 2) + v.diff(y, 2) + v.diff(z, 2) - 1],
                         conditions=[Dirichlet(v, 0, on=cube.boundary)]))
    assert big.model_options["hidden"] == (64,) * 4
    assert "quasi_newton" not in big.train and "L-BFGS" in big.reasons["optimiser"]


def test_conditions_are_made_exact_where_their_data_agree():
    """Dirichlet and initial conditions become exact, except on pieces through a point where
    data jump (a driven lid against still walls), for every field: the solution is singular
    there."""
    box = Box({x: (0, 1), y: (0, 1)})
    v, q = Field("v", x, y), Field("q", x, y)
    lid = Problem("lid", box, [v.diff(x, 2) + v.diff(y, 2), q.diff(x, 2) + q.diff(y, 2) - v], conditions=[
        Dirichlet(v, 1, on=box.piece("y_max")), Dirichlet(v, 0, on=box.piece("x_min")),
        Dirichlet(v, 0, on=box.piece("x_max")), Dirichlet(v, 0, on=box.piece("y_min")),
        Dirichlet(q, 0, on=box.piece("y_max")), Dirichlet(q, x * (1 - x), on=box.piece("y_min"))])
    recipe = choose(lid)
    hard = [c.hard for c in recipe.problem.conditions]
    # v's lid and side walls meet at the jumps, and so does q's top; both bottoms do not.
    assert hard == [False, False, False, True, False, True]
    assert "y_max" in recipe.reasons["exact_conditions"].split("kept as loss terms")[1]
    assert not any(c.hard for c in lid.conditions)  # the original is untouched

    heat = Problem("heat", line * time, [w.diff(t) - w.diff(x, 2)],
                   conditions=[Initial(w, sp.sin(sp.pi * x)), Dirichlet(w, 0, on=line.boundary)])
    assert all(c.hard for c in choose(heat).problem.conditions)
    # Initial data that jump against the boundary data at t = 0 keep both soft.
    clash = Problem("clash", line * time, [w.diff(t) - w.diff(x, 2)],
                    conditions=[Initial(w, 1), Dirichlet(w, 0, on=line.boundary)])
    assert [c.hard for c in choose(clash).problem.conditions] == [False, False]
    assert not any(c.hard for c in choose(heat, exact_conditions=False).problem.conditions)
    # Initial data that are not periodic where the problem is exactly periodic stay soft.
    ring = Interval(x, -5, 5) * time
    for data, exact in ((sp.cos(sp.pi * x / 5), True), (2 / sp.cosh(x), False)):
        wave = Problem("ring", ring, [w.diff(t) + w.diff(x)], conditions=[Initial(w, data), Periodic(w, coordinate=x)])
        assert [c.hard for c in choose(wave).problem.conditions] == [exact, True]


def test_exact_conditions_hold_on_the_trained_field_and_are_recorded(tmp_path):
    problem = Problem("p2", line, [u.diff(x, 2) + 1], conditions=[Dirichlet(u, 0.5, on=line.boundary)])
    sol = sciml.solve(problem, steps=20, lbfgs_steps=0, points={"interior": 64, "boundary": 8}, progress=False,
                      out=tmp_path / "exact")
    assert sol.metrics["recipe"]["exact_conditions"] is True
    ends = np.array([[0.0], [1.0]])
    assert np.allclose(sol.predict(ends)[:, 0], 0.5, atol=1e-5)
    # Reloaded on the same (exact) version of the problem.
    points = np.linspace(0, 1, 5)[:, None]
    np.testing.assert_array_equal(sciml.load_solution(tmp_path / "exact", problem).predict(points), sol.predict(points))
    soft = sciml.solve(problem, steps=20, lbfgs_steps=0, points={"interior": 64, "boundary": 8}, progress=False,
                       exact_conditions=False)
    assert soft.metrics["recipe"]["exact_conditions"] is False
    assert not np.allclose(soft.predict(np.array([[0.0], [1.0]]))[:, 0], 0.5, atol=1e-3)


@pytest.mark.slow  # every larger batch compiles the quasi-Newton chunk again (~100 s in all)
def test_an_overfitted_quasi_newton_round_goes_on_with_more_points(tmp_path):
    # 6 interior points and 97 parameters: the network fits the points, not the equation, so the
    # held-out loss stalls far above the batch's; the next rounds draw more points.
    kw = dict(steps=30, lbfgs_steps=300, model_options={"hidden": (8, 8)}, chunk=10, quasi_newton="lbfgs",
              points={"interior": 6, "boundary": 2}, progress=False, stall_window=20)
    sol = sciml.solve(poisson(3), out=tmp_path / "run", **kw)
    assert "x as many" in sol.metrics["stopped"], sol.metrics["stopped"]
    assert len(sol.collocation) > 6  # the last batch holds more points than configured
    resumed = sciml.solve(poisson(3), out=tmp_path / "run", resume=True, **kw)  # a finished run stays
    assert resumed.metrics["stopped"] == sol.metrics["stopped"]



def test_fields_built_from_a_stream_function_keep_their_conditions_as_loss_terms():
    from sciml.dsl import DivergenceFree

    box = Box({x: (0, 1), y: (0, 1)})
    a, b, q = Field("a", x, y), Field("b", x, y), Field("q", x, y)
    flow = Problem("flow", box, [a * a.diff(x) + q.diff(x) - a.diff(x, 2), a * b.diff(x) + q.diff(y) - b.diff(y, 2)],
                   symmetries=[DivergenceFree([a, b], [x, y], hard=True)],
                   conditions=[Dirichlet(a, 0, on=box.boundary), Dirichlet(b, 0, on=box.boundary),
                               Dirichlet(q, 0, on=box.piece("y_min"))])
    assert [c.hard for c in choose(flow).problem.conditions] == [False, False, True]
