"""States that stay positive: represented by their logarithms (``Initial(..., positive=True)``,
chosen by the recipe where the equations prove it), their equations divided by them
(``Problem.balanced_residuals``)."""

import jax.numpy as jnp
import numpy as np
import pytest
import sympy as sp

import sciml
from sciml.dsl import Coordinate, Field, Initial, Interval, Periodic, Problem, ProblemError, TimeInterval
from sciml.dsl.compile import compile_problem
from sciml.recipe import apply_rewrite, choose, rewrite_record


def predator_prey(x0=10.0):
    t = Coordinate("t")
    x, y = Field("x", t), Field("y", t)
    return Problem("predator_prey", TimeInterval(t, 0, 8),
                   [x.diff(t) - (1.5 * x - x * y), y.diff(t) - (-3 * y + x * y)],
                   conditions=[Initial(x, x0), Initial(y, 5.0)])


def decay(rate=5.0, **initial):
    t = Coordinate("t")
    y = Field("y", t)
    return Problem("decay", TimeInterval(t, 0, 3), [y.diff(t) + rate * y], conditions=[Initial(y, 1.0, **initial)])


def test_the_equation_of_a_positive_state_is_balanced_in_its_logarithm():
    t = Coordinate("t")
    x, y, r = Field("x", t), Field("y", t), Field("r", t)
    problem = Problem("marked", TimeInterval(t, 0, 8),
                      [x.diff(t) - (1.5 * x - x * y), y.diff(t) - (-3 * y + x * y), r.diff(t) - y],
                      conditions=[Initial(x, 10.0, hard=True, positive=True), Initial(y, 5.0), Initial(r, 0.0)])
    balanced = problem.balanced_residuals
    assert sp.simplify(balanced[0] - (x.diff(t) / x - 1.5 + y)) == 0  # w' - g for w = log x
    assert balanced[1:] == problem.residuals[1:]  # states not marked positive: as written
    assert predator_prey().balanced_residuals == predator_prey().residuals


def test_a_trough_counts_as_much_as_a_peak():
    # The same growth-rate error (x' = 1.4 x instead of 1.5 x) at the peak and deep in a trough.
    problem = apply_rewrite(predator_prey(), {"hard": [[0, None], [1, None]], "positive": [0, 1], "enrichments": []})
    compiled = compile_problem(problem)
    params = compiled.physical_parameters(compiled.initial_parameters())
    for size in (12.0, 0.02):
        wrong = lambda z, size=size: jnp.stack([size * jnp.exp(1.4 * z[0]), jnp.zeros_like(z[0])])  # noqa: E731
        residual = np.asarray(compiled.residual_values(wrong, params, jnp.zeros((1, 1))))[0, 0]
        np.testing.assert_allclose(residual, -0.1, rtol=1e-5)  # 1.4 - 1.5, whatever the size


def test_recipe_represents_states_that_stay_positive_by_their_logarithms():
    recipe = choose(predator_prey(), "mlp")
    assert [c.positive for c in recipe.problem.conditions] == [True, True]
    assert "stay positive" in recipe.reasons["positive_states"]
    record = rewrite_record(recipe.problem)
    assert record["positive"] == [0, 1]
    rebuilt = apply_rewrite(predator_prey(), record)
    assert [c.positive and c.hard for c in rebuilt.conditions] == [True, True]
    with pytest.raises(ValueError, match="not a hard initial condition"):
        apply_rewrite(predator_prey(), {"hard": [], "positive": [0], "enrichments": []})
    # A rate that does not vanish with the state, a state that starts at zero or below: as they are.
    t = Coordinate("t")
    y = Field("y", t)
    fed = Problem("fed", TimeInterval(t, 0, 3), [y.diff(t) - (1 - y)], conditions=[Initial(y, 0.5)])
    assert not any(c.positive for c in choose(fed, "mlp").problem.conditions)
    assert choose(decay(5.0), "mlp").problem.conditions[0].positive  # y' = -5 y from 1
    below = Problem("below", TimeInterval(t, 0, 3), [y.diff(t) + 2 * y], conditions=[Initial(y, -1.0)])
    assert not any(c.positive for c in choose(below, "mlp").problem.conditions)


def test_a_positive_state_is_its_initial_value_times_an_exponential():
    problem = apply_rewrite(predator_prey(x0=10.0), {"hard": [[0, None], [1, None]], "positive": [0, 1],
                                                    "enrichments": []})
    compiled = compile_problem(problem)
    params = compiled.physical_parameters(compiled.initial_parameters())
    huge_negative = lambda inputs: -50.0 * jnp.ones(inputs.shape[:-1] + (2,))  # noqa: E731
    fields = compiled.predict(huge_negative, jnp.asarray([[0.0], [4.0], [8.0]]), params)
    np.testing.assert_allclose(np.asarray(fields[0]), [10.0, 5.0], rtol=1e-6)
    assert np.all(np.asarray(fields) > 0)  # positive however negative the network's output


def test_positive_initial_conditions_say_what_they_need():
    t = Coordinate("t")
    y = Field("y", t)
    with pytest.raises(ProblemError, match="positive constant value"):
        Problem("d", TimeInterval(t, 0, 1), [y.diff(t) + y], conditions=[Initial(y, -1.0, positive=True, hard=True)])
    with pytest.raises(ProblemError, match="pass hard=True"):
        compile_problem(decay(positive=True))
    with pytest.raises(ProblemError, match="positive constant value"):
        Problem("d", TimeInterval(t, 0, 1), [y.diff(t, 2) + y],
                conditions=[Initial(y, 1.0, hard=True), Initial(y, 1.0, order=1, hard=True, positive=True)])
    with pytest.raises(ProblemError, match="no room for other hard conditions"):
        compile_problem(Problem("d", TimeInterval(t, 0, 1), [y.diff(t, 2) + y],
                                conditions=[Initial(y, 1.0, hard=True, positive=True),
                                            Initial(y, 0.0, order=1, hard=True)]))


def test_a_decay_over_five_orders_is_learned_to_its_tail():
    # y' = -4 y over [0, 3]: y falls to 6e-6 of its start; the recipe's representation follows it.
    t = Coordinate("t")
    y = Field("y", t)
    problem = Problem("decay", TimeInterval(t, 0, 3), [y.diff(t) + 4 * y], conditions=[Initial(y, 1.0)])
    recipe = choose(problem, "mlp")
    assert recipe.problem.conditions[0].positive
    solution = sciml.solve(recipe.problem, model="mlp", model_options={"hidden": (8,)}, steps=200, lbfgs_steps=300,
                           quasi_newton="ssbfgs", progress=False,
                           points={"interior": 128})
    times = np.linspace(0.0, 3.0, 7)
    predicted = np.asarray(solution.predict(times[:, None]))[:, 0]
    np.testing.assert_allclose(predicted, np.exp(-4 * times), rtol=1e-2)


def test_equations_of_positive_states_and_their_neighbours_are_put_on_one_footing():
    t = Coordinate("t")
    s, i, r = Field("S", t), Field("I", t), Field("R", t)
    sir = Problem("sir", TimeInterval(t, 0, 100),
                  [s.diff(t) + 0.5 * s * i / 1000, i.diff(t) - (0.5 * s * i / 1000 - 0.1 * i), r.diff(t) - 0.1 * i],
                  conditions=[Initial(s, 999.0), Initial(i, 1.0), Initial(r, 0.0)])
    recipe = choose(sir, "mlp")
    assert [c.positive for c in recipe.problem.conditions] == [True, True, False]  # R starts at zero
    weights = recipe.train["weights"]
    # S and I balanced as rates of order 0.1-1; R' = 0.1 I in people per day, up to 48.
    assert weights["residual:2"] < 1e-2 < 1 < weights["residual:1"] < weights["residual:0"]
    assert "residual:0" in recipe.reasons["equation_weights"]


def test_a_state_marked_positive_by_hand_in_a_field_problem_gets_no_ode_weights():
    x, t = Coordinate("x"), Coordinate("t")
    u, v = Field("u", x, t), Field("v", x, t)
    domain = Interval(x, 0, 1) * TimeInterval(t, 0, 1)
    problem = Problem("two", domain, [u.diff(t) - u.diff(x, 2) + u * v, v.diff(t) - v.diff(x, 2)],
                      conditions=[Initial(u, 1.0, positive=True), Initial(v, 0.5),
                                  Periodic(u, coordinate=x), Periodic(v, coordinate=x)])
    recipe = choose(problem, "mlp")
    assert "weights" not in recipe.train and recipe.problem.conditions[0].positive


def robertson():
    t = Coordinate("t")
    y1, y2, y3 = Field("y1", t), Field("y2", t), Field("y3", t)
    return Problem("robertson", TimeInterval(t, 0, 40),
                   [y1.diff(t) - (-0.04 * y1 + 1e4 * y2 * y3),
                    y2.diff(t) - (0.04 * y1 - 1e4 * y2 * y3 - 3e7 * y2**2),
                    y3.diff(t) - 3e7 * y2**2],
                   conditions=[Initial(y1, 1.0), Initial(y2, 0.0), Initial(y3, 0.0)])


def test_states_that_start_at_zero_in_a_nonnegative_system_are_marked_nonnegative():
    """Robertson's rates are never negative where a state is zero and the others are not
    (y1: 1e4 y2 y3, y2: 0.04 y1, y3: 3e7 y2^2), so the products starting at zero are marked;
    y1 starts at one and keeps its plain representation. A gain that can be negative, or
    that depends on time, keeps a state off the set."""
    recipe = choose(robertson(), "mlp")
    assert recipe.problem.nonnegative_fields == {"y2", "y3"} and not recipe.problem.positive_fields
    assert "never turn negative" in recipe.reasons["nonnegative_states"]
    record = rewrite_record(recipe.problem)
    assert record["nonnegative"] == [1, 2]
    assert apply_rewrite(robertson(), record).nonnegative_fields == {"y2", "y3"}
    with pytest.raises(ValueError, match="does not fit the problem.*starts at zero"):  # y1 starts at one
        apply_rewrite(robertson(), {**record, "nonnegative": [0]})
    t = Coordinate("t")
    x, y = Field("x", t), Field("y", t)
    for rate_of_x in (y - 1, sp.sin(t) + y, y**2 - 2 * y + x):  # -1, sin t, -2 y: negative for small y > 0
        problem = Problem("p", TimeInterval(t, 0, 1), [x.diff(t) - rate_of_x, y.diff(t) - x],
                          conditions=[Initial(x, 0.0), Initial(y, 0.0)])
        assert choose(problem, "mlp").problem.nonnegative_fields == frozenset(), rate_of_x


def test_a_nonnegative_state_is_zero_at_the_start_and_never_below():
    problem = apply_rewrite(robertson(), {"hard": [[0, None], [1, None], [2, None]], "nonnegative": [1, 2],
                                          "enrichments": []})
    compiled = compile_problem(problem, output_scales={"y2": 1e-4})
    times = jnp.linspace(0.0, 40.0, 41)[:, None]
    for level in (-30.0, 0.0, 5.0):  # a surrogate far below zero leaves the states at zero, not below
        fields = np.asarray(compiled.predict(lambda z, level=level: jnp.full((3,), level), times))
        assert np.all(fields[:, 1:] >= 0) and np.all(fields[0, 1:] == 0)
    assert fields[-1, 1] == pytest.approx(1e-4 * np.log1p(np.exp(5.0)), rel=1e-5)  # tau = 1: scale * softplus


def test_nonnegative_initial_conditions_say_what_they_need():
    t = Coordinate("t")
    y = Field("y", t)
    for condition, words in ((Initial(y, 1.0, hard=True, nonnegative=True), "starts at zero"),
                             (Initial(y, 0.0, nonnegative=True), "pass hard=True")):
        with pytest.raises(ProblemError, match=words):
            compile_problem(Problem("p", TimeInterval(t, 0, 1), [y.diff(t) - 1], conditions=[condition]))
