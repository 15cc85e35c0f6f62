"""A steady problem on an interval is checked against a two-point boundary-value solve started
from the surrogate: of several solutions, the one the surrogate is near."""

import numpy as np
import pytest
import sympy as sp
from scipy.optimize import brentq

from sciml.boundary_value import boundary_value_distance
from sciml.dsl import BoundaryEquation, Coordinate, Dirichlet, Field, Interval, Neumann, Normal, Periodic, Pin, Problem
from sciml.functions import values_at

x = Coordinate("x")
u = Field("u", x)
rod = Interval(x, 0, 1)


def _surrogate(expr, wobble=0.0):
    """``expr`` at the points, plus ``wobble`` times its RMS of a half sine (a relative L2 miss
    of ``wobble / sqrt(2)`` about)."""
    def predict(points):
        values = values_at(expr, (x,), points)
        return (values + wobble * np.sqrt(np.mean(values**2)) * np.sin(np.pi * points[:, 0]))[:, None]
    return predict


def _expected(expr, wobble) -> float:
    """The relative L2 distance of ``_surrogate(expr, wobble)`` from ``expr``."""
    points = np.linspace(0, 1, 1001)[:, None]
    values = values_at(expr, (x,), points)
    return float(np.linalg.norm(_surrogate(expr, wobble)(points)[:, 0] - values) / np.linalg.norm(values))


def test_a_cantilever_of_fourth_order_with_conditions_on_its_second_and_third_derivatives():
    w = Field("w", x)
    problem = Problem("cantilever", rod, [w.diff(x, 4) - 1],
                      conditions=[Dirichlet(w, 0, on=rod.left), Neumann(w, 0, on=rod.left),
                                  BoundaryEquation(w.diff(x, 2), 0, on=rod.right),
                                  BoundaryEquation(w.diff(x, 3), 0, on=rod.right)])
    exact = x**2 * (6 - 4 * x + x**2) / 24
    assert boundary_value_distance(problem, _surrogate(exact))[0]["w"] < 1e-9
    distance, note = boundary_value_distance(problem, _surrogate(exact, 0.02))
    assert note is None and distance["w"] == pytest.approx(_expected(exact, 0.02), rel=1e-6)


def test_a_radiating_end_is_a_nonlinear_condition_with_the_outward_normal():
    """u = 1 + x^2 solves u'' = 2 with u(0) = 1 and du/dn + u^4 = 2 + 16 at x = 1."""
    problem = Problem("radiating", rod, [u.diff(x, 2) - 2],
                      conditions=[Dirichlet(u, 1, on=rod.left),
                                  BoundaryEquation(u.diff(x) * Normal(x) + u**4, 18, on=rod.right)])
    distance, note = boundary_value_distance(problem, _surrogate(1 + x**2, 0.01))
    assert note is None and distance["u"] == pytest.approx(_expected(1 + x**2, 0.01), rel=1e-6)


def test_of_the_two_bratu_solutions_the_one_the_surrogate_is_near():
    """u'' + e^u = 0, u(0) = u(1) = 0 has two solutions, u(1/2) = 0.1405 and 4.0793; a surrogate
    near either is measured against that one."""
    problem = Problem("bratu", rod, [u.diff(x, 2) + sp.exp(u)],
                      conditions=[Dirichlet(u, 0, on=rod.boundary)])
    for bracket in ((0.1, 4.0), (4.0, 20.0)):
        theta = brentq(lambda s: s - np.sqrt(2) * np.cosh(s / 4), *bracket)
        exact = -2 * sp.log(sp.cosh((x - sp.Rational(1, 2)) * theta / 2) / sp.cosh(theta / 4))
        distance, note = boundary_value_distance(problem, _surrogate(exact, 0.05))
        assert note is None and distance["u"] == pytest.approx(_expected(exact, 0.05), rel=1e-5)
        assert boundary_value_distance(problem, _surrogate(exact))[0]["u"] < 1e-6


@pytest.mark.parametrize("case", ["periodic", "gauge", "learned", "too few conditions"])
def test_problems_outside_its_scope_get_no_check(case):
    from sciml.dsl import Parameter

    equation, conditions = u.diff(x, 2) + 1, [Dirichlet(u, 0, on=rod.boundary)]
    if case == "periodic":
        conditions = [Periodic(u, coordinate=x)]
    elif case == "gauge":
        equation, conditions = u.diff(x, 2) + sp.sin(2 * sp.pi * x), [Neumann(u, 0, on=rod.boundary),
                                                                    Pin(u, 0, at={x: 0.5})]
    elif case == "learned":
        k = Parameter("k", 1.0, learn=True)
        equation = k * u.diff(x, 2) + 1
    else:
        conditions = [Dirichlet(u, 0, on=rod.left)]
    problem = Problem(case, rod, [equation], conditions=conditions)
    assert boundary_value_distance(problem, _surrogate(x * (1 - x) / 2)) == ({}, None)


def test_the_verdict_measures_a_rod_against_it():
    """The verdict's ``classical`` indicator of a steady rod is its error against the exact
    solution; above 1e-2 the run is doubtful for it."""
    import sciml

    problem = Problem("plain-rod", rod, [u.diff(x, 2) + sp.pi**2 * sp.sin(sp.pi * x)],
                      conditions=[Dirichlet(u, 0, on=rod.boundary)])
    solution = sciml.solve(problem, model="mlp", steps=100, lbfgs_steps=0, seed=0)
    classical = solution.verdict.indicators["classical"]["u"]
    points = np.linspace(0, 1, 1001)
    predicted = solution.predict({"x": points})[:, 0]
    truth = np.sin(np.pi * points)
    assert classical == pytest.approx(np.linalg.norm(predicted - truth) / np.linalg.norm(truth), rel=1e-3)
    assert (classical > 1e-2) == any("classical" in r for r in solution.verdict.reasons)
