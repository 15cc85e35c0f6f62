"""Output scales: estimated from the untrained network, applied exactly, recorded and restored."""

import jax
import numpy as np
import pytest
import sympy as sp

import sciml
from sciml.dsl import Coordinate, Dirichlet, Field, Initial, Interval, Problem, TimeInterval
from sciml.dsl.compile import compile_problem
from sciml.dsl.errors import ProblemError
from sciml.models import build_model
from sciml.scales import DWARF, estimate_output_scales

x, t = Coordinate("x"), Coordinate("t")
line, time = Interval(x, 0, 1), TimeInterval(t, 0, 1)


def wave(mode: int):
    """u_tt = 4 u_xx with every condition hard: u = u0 + t^2 x (1 - x) N, so near t = 0 the
    network must supply u_tt = 4 u0'' (of size 4 (k pi)^2 for u0 = sin(k pi x)) through a
    factor 2 x (1 - x) <= 1/2."""
    u = Field("u", x, t)
    return Problem("w", line * time, [u.diff(t, 2) - 4 * u.diff(x, 2)],
                   conditions=[Initial(u, sp.sin(mode * sp.pi * x), hard=True), Initial(u, 0, order=1, hard=True),
                               Dirichlet(u, 0, on=line.boundary, hard=True)])


def poisson():
    u = Field("u", x)
    return Problem("p", line, [u.diff(x, 2) + sp.sin(sp.pi * x)], conditions=[Dirichlet(u, 0, on=line.boundary)])


def scales_of(problem):
    compiled = compile_problem(problem)
    net = build_model("mlp", compiled.input_dimension, len(compiled.field_names), seed=0, hidden=(16, 16))
    return estimate_output_scales(compiled, net)


def test_scale_grows_with_what_the_equation_asks_for():
    low, high = scales_of(wave(1)), scales_of(wave(4))
    assert high["u"] > DWARF
    assert high["u"] > 4 * low.get("u", 1.0)  # the term 4 u0'' grows as k^2


def test_balanced_problem_keeps_unit_scale():
    assert scales_of(poisson()) == {}


def test_large_prescribed_values_call_for_a_scale():
    u = Field("u", x)
    hot = Problem("hot", line, [u.diff(x, 2)], conditions=[Dirichlet(u, 500 + 100 * x, on=line.boundary)])
    assert scales_of(hot)["u"] > 100


def test_a_forward_ode_is_scaled_to_the_size_its_solution_reaches():
    """Growth from x(0) = 1 to e^5: the scale follows the classical integration's RMS over the
    interval (sqrt((e^10 - 1) / 10) = 46.9), not the initial state."""
    from sciml.scales import _prescribed_magnitudes

    y = Field("y", t)
    growth = Problem("growth", TimeInterval(t, 0, 5), [y.diff(t) - y], conditions=[Initial(y, 1)])
    assert _prescribed_magnitudes(compile_problem(growth))["y"] == pytest.approx(np.sqrt((np.exp(10) - 1) / 10), rel=1e-2)
    assert scales_of(growth)["y"] > 100  # the untrained network's outputs are well below one
    # a PDE, or an ODE with something learned, is not integrated: its initial state is all there is
    k = sciml.dsl.Parameter("k", 0.5, learn=True)
    learned = Problem("learned", TimeInterval(t, 0, 5), [y.diff(t) - k * y], conditions=[Initial(y, 1)])
    assert _prescribed_magnitudes(compile_problem(learned))["y"] == pytest.approx(1.0)


def test_scales_multiply_the_network_outputs_exactly():
    plain, scaled = compile_problem(poisson()), compile_problem(poisson(), output_scales={"u": 7.0})
    net = build_model("mlp", 1, 1, seed=0, hidden=(8,))
    z = jax.numpy.linspace(0, 1, 11)[:, None]
    # Soft conditions: the field is the network output itself, times the scale.
    np.testing.assert_allclose(np.asarray(scaled.predict(net, z)), 7.0 * np.asarray(plain.predict(net, z)), rtol=1e-6)
    with pytest.raises(ProblemError, match="unknown fields \\['v'\\]"):
        compile_problem(poisson(), output_scales={"v": 2.0})
    with pytest.raises(ProblemError, match="positive finite"):
        compile_problem(poisson(), output_scales={"u": -1.0})


def test_scales_are_recorded_and_restored_with_a_saved_run(tmp_path):
    problem = wave(4)
    sol = sciml.solve(problem, steps=20, lbfgs_steps=0, time_budget=0, progress=False,
                      model_options={"hidden": (8, 8)}, points={"interior": 64, "boundary": 8}, out=tmp_path / "run")
    recorded = sol.metrics["recipe"]["output_scales"]
    assert recorded["u"] > DWARF and "multiplied by" in sol.metrics["recipe"]["reasons"]["output_scales"]
    again = sciml.load_solution(tmp_path / "run", problem)
    z = np.random.default_rng(0).random((16, 2))
    np.testing.assert_allclose(again.predict(z), sol.predict(z), rtol=1e-6)
    explicit = sciml.solve(problem, steps=5, lbfgs_steps=0, progress=False, model_options={"hidden": (8, 8)},
                           points={"interior": 64, "boundary": 8}, output_scales={})
    assert explicit.metrics["recipe"]["output_scales"] == {}
