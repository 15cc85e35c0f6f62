"""A forward evolution PDE on an interval gets a classical reference by the method of lines, with
its own error estimated, and the verdict judges the surrogate's distance from it."""

import numpy as np
import pytest
import sympy as sp

from sciml.dsl import (
    Coordinate, Dirichlet, Field, Initial, Interval, Neumann, Periodic, Problem, Rectangle, Robin, TimeInterval,
)
from sciml.functions import values_at
from sciml.method_of_lines import ACCURACY, lines_reference

x, t = Coordinate("x"), Coordinate("t")
u = Field("u", x, t)


def _distance_from(exact, reference) -> float:
    """Relative L2 distance of the reference's ``u`` from ``exact`` on its own points."""
    grid = np.meshgrid(reference["x"].values, reference["t"].values, indexing="ij")
    truth = values_at(exact, (x, t), np.stack([g.ravel() for g in grid], axis=-1)).reshape(grid[0].shape)
    return float(np.linalg.norm(reference["u"].values - truth) / np.linalg.norm(truth))


def test_flux_and_robin_ends_with_time_dependent_data_are_held_to_second_order():
    """u = exp(-t) cos x solves u_t = u_xx; no flux at x = 0 and a Robin condition with a
    time-dependent value at x = 1. Richardson's extrapolation of two grids is far within the
    error it estimates for them."""
    value = sp.exp(-t) * (sp.cos(1) - sp.sin(1))  # u + du/dn at x = 1
    space = Interval(x, 0, 1)
    problem = Problem("rod", space * TimeInterval(t, 0, 1), [u.diff(t) - u.diff(x, 2)],
                      conditions=[Initial(u, sp.cos(x)), Neumann(u, 0, on=space.left),
                                  Robin(u, value, on=space.right, a=1.0, b=1.0)])
    reference, note = lines_reference(problem)
    assert note is None and reference.attrs["estimated_error"] < ACCURACY
    assert reference["u"].dims == ("x", "t")
    assert _distance_from(sp.exp(-t) * sp.cos(x), reference) < 1e-6


def test_a_radiating_end_is_a_nonlinear_flux_solved_for_the_slope():
    """u = 2 + e^-t sin x solves u_t = u_xx; at x = 1 a BoundaryEquation du/dn + u^4 = g(t)."""
    from sciml.dsl import BoundaryEquation, Normal

    exact = 2 + sp.exp(-t) * sp.sin(x)
    space = Interval(x, 0, 1)
    radiating = BoundaryEquation(u.diff(x) * Normal(x) + u**4, sp.exp(-t) * sp.cos(1) + exact.subs(x, 1) ** 4,
                                 on=space.right)
    problem = Problem("radiating-rod", space * TimeInterval(t, 0, 1), [u.diff(t) - u.diff(x, 2)],
                      conditions=[Initial(u, exact.subs(t, 0)), Dirichlet(u, 2, on=space.left), radiating])
    reference, note = lines_reference(problem)
    assert note is None and _distance_from(exact, reference) < 1e-6


def test_a_periodic_wave_of_second_order_in_time_by_fourier_collocation():
    space = Interval(x, 0, 2 * sp.pi)
    problem = Problem("wave", space * TimeInterval(t, 0, 2), [u.diff(t, 2) - u.diff(x, 2)],
                      conditions=[Initial(u, sp.sin(x)), Initial(u, -sp.cos(x), order=1), Periodic(u, coordinate=x)])
    reference, note = lines_reference(problem)
    assert note is None
    assert _distance_from(sp.sin(x - t), reference) < 1e-6


def test_a_dirichlet_end_follows_its_time_dependent_value():
    """u = x + t solves u_t = u_xx + 1 with u(0) = t and u(1) = 1 + t (exact on any grid)."""
    space = Interval(x, 0, 1)
    problem = Problem("ramp", space * TimeInterval(t, 0, 1), [u.diff(t) - u.diff(x, 2) - 1],
                      conditions=[Initial(u, x), Dirichlet(u, t, on=space.left), Dirichlet(u, 1 + t, on=space.right)])
    reference, note = lines_reference(problem)
    assert note is None and _distance_from(x + t, reference) < 1e-8


def test_a_source_switched_on_from_a_cold_start():
    """A rod at zero whose heater switches on at t = 1/2: the states' size comes from what the
    source does, not the (zero) start, and the integration stops at the switch and goes on."""
    space = Interval(x, 0, 1)
    half = sp.Rational(1, 2)
    problem = Problem("switched", space * TimeInterval(t, 0, 2),
                      [u.diff(t) - u.diff(x, 2) / 10 - sp.Heaviside(t - half) * sp.sin(sp.pi * x)],
                      conditions=[Initial(u, 0), Dirichlet(u, 0, on=space.boundary)])
    rate = sp.pi**2 / 10
    exact = sp.Piecewise((0, t < half), ((1 - sp.exp(-rate * (t - half))) / rate * sp.sin(sp.pi * x), True))
    reference, note = lines_reference(problem)
    assert note is None
    assert _distance_from(exact, reference) < 1e-5


def test_a_wall_set_oscillating_from_rest():
    """u_t = u_xx / 20 with u(0, t) = sin(2 pi t) from rest (Stokes' second problem in a slab).
    The states' size is the held end's: the rates of the start, an end's pull on its neighbour
    ~1/h^2, had made Radau's absolute tolerance 1e-2 and the grids never agreed."""
    space = Interval(x, 0, 1)
    nu, omega = 0.05, 2 * np.pi
    problem = Problem("oscillating", space * TimeInterval(t, 0, 3), [u.diff(t) - nu * u.diff(x, 2)],
                      conditions=[Initial(u, 0), Dirichlet(u, sp.sin(2 * sp.pi * t), on=space.left),
                                  Dirichlet(u, 0, on=space.right)])
    reference, note = lines_reference(problem)
    assert note is None and reference.attrs["estimated_error"] < ACCURACY
    # u = g(t) (1 - x) + sum b_n(t) sin(n pi x), b_n' = -nu (n pi)^2 b_n - 2 g'(t) / (n pi)
    n = np.arange(1, 20001)[:, None]
    rate = nu * (n * np.pi) ** 2
    ts = reference["t"].values[None, :]
    b = -2 * omega / (n * np.pi) * (rate * np.cos(omega * ts) + omega * np.sin(omega * ts)
                                    - rate * np.exp(-rate * ts)) / (rate**2 + omega**2)
    xs = reference["x"].values
    series = np.sin(omega * ts) * (1 - xs[:, None]) + np.sin(np.pi * xs[:, None] * n.T) @ b
    assert np.linalg.norm(reference["u"].values - series) / np.linalg.norm(series) < 1e-4


def test_the_grid_is_refined_until_two_agree_and_a_front_thinner_than_the_finest_says_so(monkeypatch):
    """Burgers at viscosity 0.01/pi steepens into a front some 0.003 wide: 256 and 512 intervals
    disagree by 9e-3, 1024 and 2048 agree; on the catalogue's own grid the result is within
    1e-3 of its Cole-Hopf quadrature. With 512 intervals the finest allowed, it says so."""
    import sciml.method_of_lines as lines
    from sciml.problems.burgers import problem

    reference, note = lines_reference(problem)
    assert note is None and reference.sizes["x"] == 1025
    catalogue = problem.reference
    ours = reference.interp(x=catalogue["x"], t=catalogue["t"])["u"].transpose(*catalogue["u"].dims).values
    assert np.linalg.norm(ours - catalogue["u"].values) / np.linalg.norm(catalogue["u"].values) < 1e-3

    monkeypatch.setattr(lines, "LARGEST_CELLS", 512)
    lines._SOLVED.clear()
    reference, note = lines_reference(problem)
    assert reference is None and "did not converge on grids of up to 512 intervals" in note


@pytest.mark.parametrize("case", ["two dimensions", "transport", "data", "fourth order", "no initial value"])
def test_problems_outside_its_scope_get_no_reference_and_no_note(case):
    space = Interval(x, 0, 1)
    domain, equation = space * TimeInterval(t, 0, 1), u.diff(t) - u.diff(x, 2)
    conditions = [Initial(u, sp.sin(sp.pi * x)), Dirichlet(u, 0, on=space.boundary)]
    extra = {}
    if case == "two dimensions":
        y = Coordinate("y")
        w = Field("w", x, y, t)
        plate = Rectangle(x, y, (0, 1), (0, 1))
        domain, equation = plate * TimeInterval(t, 0, 1), w.diff(t) - w.diff(x, 2) - w.diff(y, 2)
        conditions = [Initial(w, 0), Dirichlet(w, 0, on=plate.boundary)]
    elif case == "transport":  # one end of inflow, no diffusion: not discretised here
        equation = u.diff(t) + u.diff(x)
        conditions = [Initial(u, sp.sin(sp.pi * x)), Dirichlet(u, 0, on=space.left)]
    elif case == "data":
        import xarray as xr

        extra["data"] = xr.Dataset({"u": (("x", "t"), np.zeros((3, 2)))}, coords={"x": [0.2, 0.5, 0.8], "t": [0, 1]})
    elif case == "fourth order":
        equation = u.diff(t) + u.diff(x, 4)
    else:
        conditions = conditions[1:]
    problem = Problem(case, domain, [equation], conditions=conditions, **extra)
    assert lines_reference(problem) == (None, None)


def test_the_verdict_measures_a_heat_solution_against_it():
    """Without a reference or an exact solution the method of lines is the evaluation set, and the
    verdict's ``classical`` indicator is the run's error against it."""
    import sciml

    space = Interval(x, 0, 1)
    problem = Problem("plain-heat", space * TimeInterval(t, 0, 0.5), [u.diff(t) - 0.2 * u.diff(x, 2)],
                      conditions=[Initial(u, sp.sin(sp.pi * x)), Dirichlet(u, 0, on=space.boundary)])
    solution = sciml.solve(problem, model="mlp", steps=150, lbfgs_steps=0, seed=0)
    classical = solution.verdict.indicators["classical"]["u"]
    assert solution.metrics["reference"].startswith("method of lines")
    assert abs(solution.metrics["rel_l2"] - classical) <= 0.05 * classical
    assert (classical > 1e-2) == any("classical" in r for r in solution.verdict.reasons)
    reference, _ = lines_reference(problem)
    grid = np.meshgrid(reference["x"].values, reference["t"].values, indexing="ij")
    predicted = solution.predict({"x": grid[0].ravel(), "t": grid[1].ravel()})[:, 0]
    truth = values_at(sp.exp(-0.2 * sp.pi**2 * t) * sp.sin(sp.pi * x), (x, t), np.stack([g.ravel() for g in grid], -1))
    error = np.linalg.norm(predicted - truth) / np.linalg.norm(truth)
    assert abs(classical - error) <= 0.01 * error + 1e-6
