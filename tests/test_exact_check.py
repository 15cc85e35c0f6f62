"""An exact solution that does not satisfy the problem as written is named before training: the
errors reported against it would measure the distance from another problem."""

import sciml
from sciml.dsl import Coordinate, Dirichlet, Field, Interval, Neumann, Parameter, Problem
from sciml.verdict import exact_mismatches

x = Coordinate("x", units="m")
wall = Interval(x, 0, 0.05)
T = Field("T", x, units="K")
k, s, flux = 40.0, 2.0e6, 5.0e4
TRUE = 300 + flux / k * (0.05 - x) + s / (2 * k) * (0.05**2 - x**2)  # heat flux `flux` into the left face


def wall_problem(normal_derivative, exact=TRUE, source=s):
    return Problem("wall", wall, [-k * T.diff(x, 2) - source],
                   conditions=[Neumann(T, normal_derivative, on=wall.left), Dirichlet(T, 300, on=wall.right)],
                   exact={T: exact})


def test_a_sign_slip_in_a_flux_or_a_source_is_named():
    assert exact_mismatches(wall_problem(flux / k)) == []  # dT/dn = -dT/dx at the left face
    (flux_slip,) = exact_mismatches(wall_problem(-flux / k))
    assert "neumann:T#0" in flux_slip and "another problem" in flux_slip
    (source_slip,) = exact_mismatches(wall_problem(flux / k, source=-s))
    assert "equation 1" in source_slip


def test_learned_parameters_leave_the_exact_solution_unchecked():
    D = Parameter("D", 1.0, learn=True)  # the exact solution holds the true value, the problem a guess
    problem = Problem("wall", wall, [-D * T.diff(x, 2) - s],
                      conditions=[Dirichlet(T, 300, on=wall.boundary)], exact={T: TRUE})
    assert exact_mismatches(problem) == []


def test_a_solve_records_the_mismatch(tmp_path):
    solution = sciml.solve(wall_problem(-flux / k), model="mlp", steps=5, lbfgs_steps=0, progress=False,
                           time_budget=0.0)
    assert "neumann:T#0" in solution.metrics["exact_solution_mismatch"][0]
