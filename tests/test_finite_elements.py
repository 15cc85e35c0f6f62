"""A steady elliptic problem in the plane is checked against P2 finite elements: Newton's method
from the surrogate, the mesh halved until two solutions agree."""

import numpy as np
import pytest
import sympy as sp

from sciml.dsl import (BoundaryEquation, Coordinate, Dirichlet, Disk, Field, Initial, Interval, Neumann, Normal,
                       Parameter, Periodic, Polygon, Problem, Rectangle, Robin, TimeInterval)
from sciml.finite_elements import POINTS, evolution_distance, evolution_solution, finite_element_distance
from sciml.functions import values_at

x, y = Coordinate("x"), Coordinate("y")
u = Field("u", x, y)
square = Rectangle(x, y, (0, 1), (0, 1))


def laplacian(f):
    return f.diff(x, 2) + f.diff(y, 2)


def _surrogate(expr, wobble=0.0):
    """``expr`` at the points, times ``1 + wobble cos(x + 2y)``."""
    def predict(points):
        values = values_at(expr, (x, y), points) * np.ones(len(points))
        return (values * (1 + wobble * np.cos(points[:, 0] + 2 * points[:, 1])))[:, None]
    return predict


def _expected(problem, expr, wobble) -> float:
    """The relative L2 distance of ``_surrogate(expr, wobble)`` from ``expr`` at the check's points."""
    points = problem.space_time.sample(POINTS, np.random.default_rng(0))
    values = values_at(expr, (x, y), points) * np.ones(len(points))
    return float(np.linalg.norm(_surrogate(expr, wobble)(points)[:, 0] - values) / np.linalg.norm(values))


def test_poisson_on_a_square_measures_the_surrogates_error():
    exact = sp.sin(sp.pi * x) * sp.sin(sp.pi * y)
    problem = Problem("poisson", square, [laplacian(u) + 2 * sp.pi**2 * exact],
                      conditions=[Dirichlet(u, 0, on=square.boundary)])
    assert finite_element_distance(problem, _surrogate(exact))[0]["u"] < 1e-4
    distance, note = finite_element_distance(problem, _surrogate(exact, 0.02))
    assert note is None and distance["u"] == pytest.approx(_expected(problem, exact, 0.02), rel=0.02)


def test_a_rectangle_of_two_intervals_with_flux_and_robin_edges():
    """u = cos(x) e^y on [0, 2] x [0, 1]: Laplace's equation; a Neumann edge, a Robin edge."""
    plate = Interval(x, 0, 2) * Interval(y, 0, 1)
    exact = sp.cos(x) * sp.exp(y)
    problem = Problem("plate", plate, [laplacian(u)],
                      conditions=[Dirichlet(u, exact, on="x.left"), Neumann(u, -sp.sin(2) * sp.exp(y), on="x.right"),
                                  Dirichlet(u, exact, on="y.left"), Robin(u, 3 * sp.cos(x) * sp.E, on="y.right", a=2, b=1)])
    distance, note = finite_element_distance(problem, _surrogate(exact, 0.01))
    assert note is None and distance["u"] == pytest.approx(_expected(problem, exact, 0.01), rel=0.02)


def test_a_conductivity_that_depends_on_the_field_and_a_radiating_edge():
    """div((1 + u^2) grad u) = f for u = 1 + x^2 y, held at three edges and radiating at x = 1:
    ``(1 + u^2) du/dn + u^4 = h`` — nonlinear in the interior and at the edge."""
    exact = 1 + x**2 * y
    k = 1 + u**2
    equation = (k * u.diff(x)).diff(x) + (k * u.diff(y)).diff(y)
    source = equation.subs(u, exact).doit()
    flux = (1 + exact**2) * sp.diff(exact, x) + exact**4
    problem = Problem("conductor", square, [equation - source],
                      conditions=[Dirichlet(u, exact, on=square.left), Dirichlet(u, exact, on=square.bottom),
                                  Dirichlet(u, exact, on=square.top),
                                  BoundaryEquation(k * (u.diff(x) * Normal(x) + u.diff(y) * Normal(y)) + u**4,
                                                   flux.subs(x, 1), on=square.right)])
    assert finite_element_distance(problem, _surrogate(exact))[0]["u"] < 1e-5
    distance, note = finite_element_distance(problem, _surrogate(exact, 0.03))
    assert note is None and distance["u"] == pytest.approx(_expected(problem, exact, 0.03), rel=0.02)


def test_a_disk_with_a_robin_rim():
    """-lap u = 1 on the unit disk about (1, 0), u + du/dn = 0 on its rim: u = (1 - r^2)/4 + 1/2."""
    disk = Disk(x, y, (1.0, 0.0), 1.0)
    exact = (1 - (x - 1) ** 2 - y**2) / 4 + sp.Rational(1, 2)
    problem = Problem("disk", disk, [-laplacian(u) - 1], conditions=[Robin(u, 0, on=disk.boundary)])
    distance, note = finite_element_distance(problem, _surrogate(exact, 0.01))
    assert note is None and distance["u"] == pytest.approx(_expected(problem, exact, 0.01), rel=0.05)


def test_the_l_shape_agrees_with_its_graded_reference():
    """The shipped L-shape solution (graded P2, datasets/lshape.py) as the surrogate: the check's
    own mesh, graded towards the re-entrant corner, agrees with it."""
    from scipy.interpolate import RegularGridInterpolator

    from sciml.datasets import load

    lshape = Polygon(x, y, [(-1, -1), (1, -1), (1, 0), (0, 0), (0, 1), (-1, 1)])
    problem = Problem("lshape", lshape, [-laplacian(u) - 1], conditions=[Dirichlet(u, 0, on=lshape.boundary)])
    reference = load("lshape")
    grid = RegularGridInterpolator((reference.x.values, reference.y.values), np.nan_to_num(reference.u.values))
    distance, note = finite_element_distance(problem, lambda points: grid(points)[:, None])
    assert note is None and distance["u"] < 2e-3


def test_a_surrogate_that_is_not_finite_is_said_to_be():
    problem = Problem("poisson", square, [laplacian(u) + 1], conditions=[Dirichlet(u, 0, on=square.boundary)])
    distance, note = finite_element_distance(problem, lambda points: np.full((len(points), 1), np.nan))
    assert distance == {} and "not finite" in note


@pytest.mark.parametrize("case", ["system", "learned", "tangential", "fluxes alone", "hole", "open edge",
                                  "hyperbolic", "third order"])
def test_problems_outside_its_scope_get_no_check(case):
    domain, equations = square, [laplacian(u) + 1]
    conditions = [Dirichlet(u, 0, on=square.boundary)]
    if case == "system":
        v = Field("v", x, y)
        equations = [laplacian(u) + v, laplacian(v) + 1]
        conditions = [*conditions, Dirichlet(v, 0, on=square.boundary)]
    elif case == "learned":
        equations = [Parameter("k", 1.0, learn=True) * laplacian(u) + 1]
    elif case == "tangential":
        conditions = [Dirichlet(u, 0, on=square.left), Dirichlet(u, 0, on=square.right),
                      Dirichlet(u, 0, on=square.bottom), BoundaryEquation(u.diff(x), 0, on=square.top)]
    elif case == "fluxes alone":
        equations = [laplacian(u) + sp.cos(sp.pi * x)]
        conditions = [Neumann(u, 0, on=square.boundary)]
    elif case == "hole":
        domain = square - Disk(x, y, (0.5, 0.5), 0.2)
        conditions = [Dirichlet(u, 0, on=domain.boundary)]
    elif case == "open edge":
        conditions = [Dirichlet(u, 0, on=square.left)]
    elif case == "hyperbolic":
        equations = [u.diff(x, 2) - u.diff(y, 2) + 1]
    else:
        equations = [u.diff(x, 3) + u.diff(y, 2) + 1]
    problem = Problem(case, domain, equations, conditions=conditions)
    assert finite_element_distance(problem, _surrogate(x * (1 - x) * y * (1 - y))) == ({}, None)


def test_the_verdict_measures_a_membrane_against_it():
    """The verdict's ``classical`` indicator of a steady problem in the plane is its error against
    the exact solution; above 1e-2 the run is doubtful for it."""
    import sciml

    exact = sp.sin(sp.pi * x) * sp.sin(sp.pi * y)
    problem = Problem("membrane", square, [laplacian(u) + 2 * sp.pi**2 * exact],
                      conditions=[Dirichlet(u, 0, on=square.boundary)])
    solution = sciml.solve(problem, model="mlp", steps=100, lbfgs_steps=0, seed=0)
    classical = solution.verdict.indicators["classical"]["u"]
    points = problem.space_time.sample(POINTS, np.random.default_rng(0))
    predicted = solution.predict({"x": points[:, 0], "y": points[:, 1]})[:, 0]
    truth = values_at(exact, (x, y), points)
    assert classical == pytest.approx(np.linalg.norm(predicted - truth) / np.linalg.norm(truth), rel=1e-2)
    assert (classical > 1e-2) == any("classical" in r for r in solution.verdict.reasons)


# --- evolution in the plane: the method of lines on linear elements ----------------------------

t = Coordinate("t")
w, v = Field("w", x, y, t), Field("v", x, y, t)
history = TimeInterval(t, 0, 1)


def _moving(problem, **fields):
    """The ``fields`` (name: expression) at the points, as a surrogate."""
    return lambda points: np.stack([values_at(fields[name], problem.coordinates, points) * np.ones(len(points))
                                    for name in problem.field_names], axis=1)


def _expected_in_time(space, expr, wrong) -> float:
    """The relative L2 distance of ``wrong`` from ``expr`` at the check's points of ``space`` and times."""
    points = space.sample(POINTS, np.random.default_rng(0))
    grid = np.column_stack([np.repeat(points, 51, axis=0), np.tile(np.linspace(0, 1, 51), len(points))])
    truth = values_at(expr, (x, y, t), grid)
    return float(np.linalg.norm(values_at(wrong, (x, y, t), grid) - truth) / np.linalg.norm(truth))


def test_heat_and_waves_on_a_square_and_a_disk():
    heat = sp.exp(-2 * sp.pi**2 * t / 10) * sp.sin(sp.pi * x) * sp.sin(sp.pi * y)
    problem = Problem("heat2d", square * history, [w.diff(t) - (w.diff(x, 2) + w.diff(y, 2)) / 10],
                      conditions=[Dirichlet(w, 0, on=square.boundary), Initial(w, heat.subs(t, 0))])
    assert evolution_distance(problem, _moving(problem, w=heat))[0]["w"] < 1e-3
    distance, note = evolution_distance(problem, _moving(problem, w=heat * (1 + t / 20)))
    assert note is None and distance["w"] == pytest.approx(_expected_in_time(square, heat, heat * (1 + t / 20)), rel=0.05)
    wave = sp.cos(sp.sqrt(2) * sp.pi * t) * sp.sin(sp.pi * x) * sp.sin(sp.pi * y)
    problem = Problem("wave2d", square * history, [w.diff(t, 2) - (w.diff(x, 2) + w.diff(y, 2))],
                      conditions=[Dirichlet(w, 0, on=square.boundary), Initial(w, wave.subs(t, 0)),
                                  Initial(w, 0, order=1)])
    assert evolution_distance(problem, _moving(problem, w=wave))[0]["w"] < 1e-3
    conductivity = 1 + x * y / 2  # u_t = div(k grad u) + f, written out: k lap u + grad k . grad u
    layered = sp.exp(-t) * sp.sin(sp.pi * x) * (1 + y)
    spread = (conductivity * w.diff(x)).diff(x) + (conductivity * w.diff(y)).diff(y)
    source = sp.diff(layered, t) - spread.subs(w, layered).doit()
    problem = Problem("layered", square * history, [w.diff(t) - spread - source],
                      conditions=[Dirichlet(w, layered, on=square.boundary), Initial(w, layered.subs(t, 0))])
    assert evolution_distance(problem, _moving(problem, w=layered))[0]["w"] < 1e-3
    disk = Disk(x, y, (0, 0), 1)  # a rim whose temperature rises: u = x^2 + y^2 + 4t/10 + e^(-t/10) sin x
    warming = x**2 + y**2 + 4 * t / 10 + sp.exp(-t / 10) * sp.sin(x)
    problem = Problem("disk", disk * history, [w.diff(t) - (w.diff(x, 2) + w.diff(y, 2)) / 10],
                      conditions=[Dirichlet(w, warming, on=disk.boundary), Initial(w, warming.subs(t, 0))])
    assert evolution_distance(problem, _moving(problem, w=warming))[0]["w"] < 1e-3


def test_two_reacting_species_with_flux_and_radiating_edges():
    """Manufactured: w = e^-t (1 + xy), v = cos t (x + y^2), coupled by w v; v insulated-like
    (Neumann) below and above; then one field radiating at x = 1, -∂w/∂n = w^4 + h."""
    we, ve = sp.exp(-t) * (1 + x * y), sp.cos(t) * (x + y**2)

    def lap(f):
        return f.diff(x, 2) + f.diff(y, 2)

    fw = sp.diff(we, t) - lap(we) / 2 + we * ve
    fv = sp.diff(ve, t) - lap(ve) / 5 - we * ve
    problem = Problem("two", square * history, [w.diff(t) - lap(w) / 2 + w * v - fw, v.diff(t) - lap(v) / 5 - w * v - fv],
                      conditions=[Dirichlet(w, we, on=square.boundary), Dirichlet(v, ve, on=square.left),
                                  Dirichlet(v, ve, on=square.right), Neumann(v, -sp.diff(ve, y).subs(y, 0), on=square.bottom),
                                  Neumann(v, sp.diff(ve, y).subs(y, 1), on=square.top),
                                  Initial(w, we.subs(t, 0)), Initial(v, ve.subs(t, 0))])
    distance, note = evolution_distance(problem, _moving(problem, w=we, v=ve))
    assert note is None and max(distance.values()) < 1e-3
    we = 1 + sp.exp(-t) * x**2 * y / 2
    radiated = (-sp.diff(we, x) - we**4).subs(x, 1)
    problem = Problem("radiating", square * history, [w.diff(t) - lap(w) - (sp.diff(we, t) - lap(we))],
                      conditions=[Dirichlet(w, we, on=square.left), Dirichlet(w, we, on=square.bottom),
                                  Dirichlet(w, we, on=square.top),
                                  BoundaryEquation(-(w.diff(x) * Normal(x) + w.diff(y) * Normal(y)) - w**4, radiated,
                                                   on=square.right), Initial(w, we.subs(t, 0))])
    assert evolution_distance(problem, _moving(problem, w=we))[0]["w"] < 1e-3


def test_periodic_sides_are_one_set_of_nodes():
    """Periodic in x with cold edges in y, and periodic in both (a torus), steady and evolving."""
    sheet = Interval(x, 0, 1) * Interval(y, 0, 1)
    ripple = sp.sin(2 * sp.pi * x) * sp.sin(sp.pi * y)
    problem = Problem("ripple", sheet, [laplacian(u) + 5 * sp.pi**2 * ripple],
                      conditions=[Periodic(u, coordinate=x), Dirichlet(u, 0, on="y.left"), Dirichlet(u, 0, on="y.right")])
    distance, note = finite_element_distance(problem, _surrogate(ripple, 0.01))
    assert note is None and distance["u"] == pytest.approx(_expected(problem, ripple, 0.01), rel=0.02)
    torus = 1 + sp.cos(2 * sp.pi * x) * sp.cos(2 * sp.pi * y)  # -lap u + u = f: the reaction fixes the level
    problem = Problem("torus", sheet, [-laplacian(u) + u - (8 * sp.pi**2 * (torus - 1) + torus)],
                      conditions=[Periodic(u, coordinate=x), Periodic(u, coordinate=y)])
    assert finite_element_distance(problem, _surrogate(torus))[0]["u"] < 1e-4
    fading = 1 + sp.exp(-(8 * sp.pi**2 / 10 + 1) * t) * sp.cos(2 * sp.pi * x) * sp.cos(2 * sp.pi * y) / 2
    problem = Problem("fading", sheet * history, [w.diff(t) - (w.diff(x, 2) + w.diff(y, 2)) / 10 + w - 1],
                      conditions=[Periodic(w, coordinate=x), Periodic(w, coordinate=y), Initial(w, fading.subs(t, 0))])
    assert evolution_distance(problem, _moving(problem, w=fading))[0]["w"] < 1e-3
    distance, note = evolution_distance(problem, _moving(problem, w=fading * (1 + t / 20)))
    assert note is None and distance["w"] == pytest.approx(_expected_in_time(sheet, fading, fading * (1 + t / 20)),
                                                           rel=0.05)


@pytest.mark.parametrize("case", ["periodic two ways", "cross-diffusion", "transport", "backward", "learned", "steady"])
def test_evolutions_outside_its_scope_get_no_check(case):
    domain, equations = square, [w.diff(t) - (w.diff(x, 2) + w.diff(y, 2))]
    conditions = [Dirichlet(w, 0, on=square.boundary), Initial(w, sp.sin(sp.pi * x) * sp.sin(sp.pi * y))]
    if case == "periodic two ways":  # no one set of nodes for both fields
        domain = Interval(x, 0, 1) * Interval(y, 0, 1)
        equations = [equations[0], v.diff(t) - (v.diff(x, 2) + v.diff(y, 2))]
        conditions = [Periodic(w, coordinate=x), Dirichlet(w, 0, on="y.left"), Dirichlet(w, 0, on="y.right"),
                      Periodic(v, coordinate=y), Dirichlet(v, 0, on="x.left"), Dirichlet(v, 0, on="x.right"),
                      conditions[1], Initial(v, 0)]
    elif case == "cross-diffusion":
        equations = [w.diff(t) - (w.diff(x, 2) + v.diff(y, 2)), v.diff(t) - (v.diff(x, 2) + v.diff(y, 2))]
        conditions = [*conditions, Dirichlet(v, 0, on=square.boundary), Initial(v, 0)]
    elif case == "transport":
        equations = [w.diff(t) + w.diff(x)]
        conditions = [Dirichlet(w, 0, on=square.left), conditions[1]]
    elif case == "backward":
        equations = [w.diff(t) + (w.diff(x, 2) + w.diff(y, 2))]
    elif case == "learned":
        equations = [w.diff(t) - Parameter("k", 1.0, learn=True) * (w.diff(x, 2) + w.diff(y, 2))]
    else:  # a steady problem in (x, y, t) with time a plain coordinate: elliptic in none of its forms
        problem = Problem(case, square * Interval(t, 0, 1), [w.diff(x, 2) + w.diff(y, 2) + w.diff(t, 2)],
                          conditions=[Dirichlet(w, 0, on="boundary")])
        assert evolution_distance(problem, lambda points: np.zeros((len(points), 1))) == ({}, None)
        return
    problem = Problem(case, domain * history, equations, conditions=conditions)
    assert evolution_distance(problem, lambda points: np.zeros((len(points), len(problem.field_names)))) == ({}, None)


@pytest.mark.slow  # ~30 s: a three-dimensional solve; CI runs it in its slow list
def test_the_verdict_measures_a_heated_plate_against_it():
    """The verdict's ``classical`` indicator of an evolution in the plane is its error against the
    exact solution, measured by the method of lines."""
    import sciml

    heat = sp.exp(-2 * sp.pi**2 * t / 10) * sp.sin(sp.pi * x) * sp.sin(sp.pi * y)
    problem = Problem("plate", square * history, [w.diff(t) - (w.diff(x, 2) + w.diff(y, 2)) / 10],
                      conditions=[Dirichlet(w, 0, on=square.boundary), Initial(w, heat.subs(t, 0))])
    solution = sciml.solve(problem, model="mlp", steps=100, lbfgs_steps=0, seed=0)
    classical = solution.verdict.indicators["classical"]["w"]
    evolved, _ = evolution_solution(problem)  # its points: the nodes of a mesh, weighted by their areas
    points, times, weights = evolved.points, evolved.times, evolved.weights
    grid = np.column_stack([np.repeat(points, len(times), axis=0), np.tile(times, len(points))])
    predicted = solution.predict({"x": grid[:, 0], "y": grid[:, 1], "t": grid[:, 2]})[:, 0]
    truth = values_at(heat, (x, y, t), grid)
    miss = np.sum(weights[:, None] * ((predicted - truth) ** 2).reshape(len(points), len(times)))
    assert classical == pytest.approx(np.sqrt(miss / np.sum(weights[:, None] * truth.reshape(len(points), -1) ** 2)),
                                      rel=1e-3)
    assert (classical > 1e-2) == any("classical" in r for r in solution.verdict.reasons)


def test_without_an_exact_solution_it_is_the_evaluation_set():
    """Heat in a square, no exact solution given: the evaluation set is the method of lines'
    solution on its coarser mesh's nodes (a grid), within 1e-4 of the exact one; a disk's nodes
    make no grid, and it gets none."""
    from sciml.result import evaluation_set

    heat = sp.exp(-2 * sp.pi**2 * t / 10) * sp.sin(sp.pi * x) * sp.sin(sp.pi * y)
    problem = Problem("plate", square * history, [w.diff(t) - (w.diff(x, 2) + w.diff(y, 2)) / 10],
                      conditions=[Dirichlet(w, 0, on=square.boundary), Initial(w, heat.subs(t, 0))])
    reference = evaluation_set(problem)
    assert reference.attrs["source"].startswith("method of lines on linear elements")
    assert reference["w"].dims == ("x", "y", "t") and reference.x.size > 10 and reference.t.size == 51
    grid = np.stack([g.ravel() for g in np.meshgrid(reference.x, reference.y, reference.t, indexing="ij")], axis=1)
    truth = values_at(heat, (x, y, t), grid)
    assert np.linalg.norm(reference["w"].values.ravel() - truth) / np.linalg.norm(truth) < 1e-4
    disk = Disk(x, y, (0, 0), 1)
    problem = Problem("cooling", disk * history, [w.diff(t) - (w.diff(x, 2) + w.diff(y, 2)) / 10],
                      conditions=[Dirichlet(w, 0, on=disk.boundary), Initial(w, 1 - x**2 - y**2)])
    assert "source" not in evaluation_set(problem).attrs
