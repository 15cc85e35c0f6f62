"""Material interfaces: a coefficient of the highest derivatives that jumps across a surface."""

import jax.numpy as jnp
import numpy as np
import pytest
import sympy as sp

from sciml.dsl import Coordinate, Dirichlet, Field, Initial, Interval, Problem, Rectangle, TimeInterval
from sciml.dsl.compile import compile_problem
from sciml.dsl.interfaces import InterfaceTerm, material_interfaces

pytestmark = pytest.mark.usefixtures("float64")

x, y, t = Coordinate("x"), Coordinate("y"), Coordinate("t")
wall = Interval(x, 0, 1)
T = Field("T", x)
half = sp.Rational(1, 2)
layered = sp.Piecewise((1, x < half), (5, True))
flux = sp.Rational(5, 3)  # through conductivities 1 and 5, each over half the wall, from T = 1 to 0
exact = sp.Piecewise((1 - flux * x, x < half), (flux * (1 - x) / 5, True))


def wall_problem(k, source=0):
    return Problem("wall", wall, [(k * T.diff(x)).diff(x) + source],
                   conditions=[Dirichlet(T, 1, on=wall.left), Dirichlet(T, 0, on=wall.right)])


def test_a_jump_of_the_conductivity_is_an_interface():
    (interface,) = material_interfaces(wall_problem(layered))
    assert sp.simplify(interface.level_set - (x - half)) == 0
    # Heaviside says the same
    (same,) = material_interfaces(wall_problem(1 + 4 * sp.Heaviside(x - half)))
    assert sp.simplify(same.level_set - (x - half)) == 0


def test_no_interface_where_the_coefficient_does_not_jump():
    assert material_interfaces(wall_problem(1 + x**2)) == ()
    # a source that jumps leaves the flux continuous by itself: the strong form holds it
    assert material_interfaces(wall_problem(1, source=sp.Piecewise((1, x < half), (0, True)))) == ()
    # a coefficient written piecewise but continuous across its pieces
    assert material_interfaces(wall_problem(sp.Piecewise((1 + x, x < half), (3 * half, True)))) == ()
    # a surface outside the domain
    assert material_interfaces(wall_problem(sp.Piecewise((1, x < 2), (5, True)))) == ()


def test_the_flux_condition_holds_for_the_layered_solution_only():
    compiled = compile_problem(wall_problem(layered))
    assert compiled.input_dimension == 2  # x, and |x - 1/2| for the kink
    z = jnp.array([[0.0], [0.25], [0.5], [1.0]])
    np.testing.assert_allclose(np.asarray(compiled.inputs(z))[:, 1], [1.0, 0.0, -1.0, 1.0], atol=1e-12)
    (term,) = [term for term in compiled.terms if isinstance(term, InterfaceTerm)]
    points = term.sample(16, np.random.default_rng(0), "uniform")
    np.testing.assert_allclose(points["z"], 0.5)
    np.testing.assert_allclose(np.abs(points["n"]), 1.0)
    layered_field = sp.lambdify(x, exact, "jax")
    kinked = term.misfit(lambda z: jnp.stack([layered_field(z[0])]), {}, points)
    smooth = term.misfit(lambda z: jnp.stack([1 - z[0]]), {}, points)  # what the residuals alone allow
    assert float(jnp.max(jnp.abs(kinked))) < 1e-9
    np.testing.assert_allclose(np.abs(np.asarray(smooth)), 4.0, rtol=1e-9)  # 5 * 1 - 1 * 1


def test_an_inclusion_in_a_plate():
    u = Field("u", x, y, t)
    plate = Rectangle(x, y, (-1, 1), (-1, 1))
    k = sp.Piecewise((10, x**2 + y**2 < sp.Rational(1, 4)), (1, True))
    problem = Problem("inclusion", plate * TimeInterval(t, 0, 1),
                      [u.diff(t) - (k * u.diff(x)).diff(x) - (k * u.diff(y)).diff(y)],
                      conditions=[Initial(u, 0), Dirichlet(u, 1, on=plate.boundary)])
    (interface,) = material_interfaces(problem)
    z = interface.points(problem.space_time, 64, np.random.default_rng(1))
    np.testing.assert_allclose(np.hypot(z[:, 0], z[:, 1]), 0.5, atol=1e-9)
    assert z[:, 2].min() >= 0 and z[:, 2].max() <= 1 and np.ptp(z[:, 2]) > 0.5  # every time
    normals = interface.normals(z)
    np.testing.assert_allclose(np.abs(np.sum(normals[:, :2] * z[:, :2], axis=1)), 0.5, atol=1e-9)  # radial
    np.testing.assert_allclose(normals[:, 2], 0.0)
    compiled = compile_problem(problem)
    assert compiled.input_dimension == 4
    assert sum(isinstance(term, InterfaceTerm) for term in compiled.terms) == 1


def test_the_two_point_check_joins_the_layers_by_their_flux():
    from sciml.boundary_value import boundary_value_distance

    problem = wall_problem(layered)
    layered_field = sp.lambdify(x, exact, "numpy")
    distance, why = boundary_value_distance(problem, lambda z: np.asarray(layered_field(z[:, 0]))[:, None])
    assert why is None and distance["T"] < 1e-9
    # the smooth field the residuals alone allow is 43% away
    distance, why = boundary_value_distance(problem, lambda z: 1 - z)
    assert why is None and abs(distance["T"] - 0.4259) < 1e-3


def test_a_learned_conductivity_of_one_layer_still_makes_an_interface():
    from sciml.dsl import Parameter

    k2 = Parameter("k2", 1.0, learn=True)  # at its guess no jump: the layers alike
    problem = wall_problem(sp.Piecewise((1, x < half), (k2, True)))
    (interface,) = material_interfaces(problem)
    compiled = compile_problem(problem)
    (term,) = [term for term in compiled.terms if isinstance(term, InterfaceTerm)]
    points = term.sample(4, np.random.default_rng(0), "uniform")
    params = compiled.physical_parameters({"k2": jnp.asarray(5.0)})
    layered_field = sp.lambdify(x, exact, "jax")  # the layers of conductivity 1 and 5
    kinked = term.misfit(lambda z: jnp.stack([layered_field(z[0])]), params, points)
    assert float(jnp.max(jnp.abs(kinked))) < 1e-9  # the flux reads the learned value
    at_guess = compiled.physical_parameters({"k2": jnp.asarray(2.0)})  # another value
    wrong = term.misfit(lambda z: jnp.stack([layered_field(z[0])]), at_guess, points)
    np.testing.assert_allclose(np.abs(np.asarray(wrong)), 5 / 3 - 2 / 3, rtol=1e-6)  # 1 * 5/3 against 2 * 1/3


def test_a_point_load_on_a_string():
    # u'' = 2 delta(x - 1/4), u(0) = u(1) = 0: a kink at x = 1/4 where the slope jumps by 2
    u = Field("u", x)
    string = Problem("load", wall, [u.diff(x, 2) - 2 * sp.DiracDelta(x - sp.Rational(1, 4))],
                     conditions=[Dirichlet(u, 0, on=wall.boundary)])
    (interface,) = material_interfaces(string)
    assert sp.simplify(interface.level_set - (x - sp.Rational(1, 4))) == 0
    assert string.residuals[0] == u.diff(x, 2)  # the load holds on its point alone
    kinked = sp.Piecewise((-3 * x / 2, x < sp.Rational(1, 4)), ((x - 1) / 2, True))
    compiled = compile_problem(string)
    (term,) = [term for term in compiled.terms if isinstance(term, InterfaceTerm)]
    points = term.sample(4, np.random.default_rng(0), "uniform")
    field = sp.lambdify(x, kinked, "jax")
    assert float(jnp.max(jnp.abs(term.misfit(lambda z: jnp.stack([field(z[0])]), {}, points)))) < 1e-9
    unloaded = term.misfit(lambda z: jnp.stack([0 * z[0]]), {}, points)
    np.testing.assert_allclose(np.abs(np.asarray(unloaded)), 2.0)
    from sciml.boundary_value import boundary_value_distance

    numeric = sp.lambdify(x, kinked, "numpy")
    distance, why = boundary_value_distance(string, lambda z: np.asarray(numeric(z[:, 0]))[:, None])
    assert why is None and distance["u"] < 1e-9


def test_a_point_load_on_a_beam():
    # w'''' = -delta(x - 3/10), simply supported: w, w', w'' continuous, the shear w''' jumps by -1
    from sciml.dsl import BoundaryEquation
    from sciml.boundary_value import boundary_value_distance

    w = Field("w", x)
    a = sp.Rational(3, 10)
    beam = Problem("beam", wall, [w.diff(x, 4) + sp.DiracDelta(x - a)],
                   conditions=[Dirichlet(w, 0, on=wall.boundary), BoundaryEquation(w.diff(x, 2), 0, on=wall.left),
                               BoundaryEquation(w.diff(x, 2), 0, on=wall.right)])
    exact_w = sp.Piecewise((-(1 - a) * x * (1 - (1 - a)**2 - x**2) / 6, x < a),
                           (-a * (1 - x) * (1 - a**2 - (1 - x)**2) / 6, True))
    terms = [term for term in compile_problem(beam).terms if isinstance(term, InterfaceTerm)]
    assert len(terms) == 3  # the shear's jump; the slope and the moment continuous
    points = terms[0].sample(4, np.random.default_rng(0), "uniform")
    field = sp.lambdify(x, exact_w, "jax")
    for term in terms:
        assert float(jnp.max(jnp.abs(term.misfit(lambda z: jnp.stack([field(z[0])]), {}, points)))) < 1e-7
    # a smooth cubic with the same ends balances every residual off the load, and misses the shear
    smooth = [float(jnp.max(jnp.abs(term.misfit(lambda z: jnp.stack([z[0] * (1 - z[0])]), {}, points))))
              for term in terms]
    assert smooth[0] > 0.99
    numeric = sp.lambdify(x, exact_w, "numpy")
    distance, why = boundary_value_distance(beam, lambda z: np.asarray(numeric(z[:, 0]))[:, None])
    assert why is None and distance["w"] < 1e-8


def test_the_flux_of_a_plate_is_the_normal_derivative_of_its_laplacian():
    from sciml.dsl.interfaces import normal_flux
    from sciml.dsl.symbols import Normal

    w = Field("w", x, y)
    biharmonic = w.diff(x, 4) + 2 * w.diff(x, 2, y, 2) + w.diff(y, 4)
    laplacian = w.diff(x, 2) + w.diff(y, 2)
    expected = Normal(x) * laplacian.diff(x) + Normal(y) * laplacian.diff(y)
    assert sp.expand(normal_flux(biharmonic, (x, y)) - expected) == 0
    # second order: the conormal derivative, a mixed term shared between the two normals
    u = Field("u", x, y)
    assert sp.expand(normal_flux(3 * u.diff(x, 2) + 2 * u.diff(x, y), (x, y))
                     - (3 * Normal(x) * u.diff(x) + Normal(x) * u.diff(y) + Normal(y) * u.diff(x))) == 0


def test_a_stepped_beam_keeps_its_slope_and_moment():
    # (EI w'')'' = 1 with EI = 1, then 4: w, w', EI w'' and EI w''' are continuous at x = 1/2
    from sciml.dsl import BoundaryEquation
    from sciml.boundary_value import boundary_value_distance

    w = Field("w", x)
    EI = sp.Piecewise((1, x < half), (4, True))
    beam = Problem("stepped", wall, [(EI * w.diff(x, 2)).diff(x, 2) - 1],
                   conditions=[Dirichlet(w, 0, on=wall.boundary), BoundaryEquation(w.diff(x, 2), 0, on=wall.left),
                               BoundaryEquation(w.diff(x, 2), 0, on=wall.right)])
    (interface,) = material_interfaces(beam)
    assert sp.simplify(interface.level_set - (x - half)) == 0
    c = sp.symbols("c0:8")
    left = x**4 / 24 + sum(c[k] * x**k for k in range(4))
    right = x**4 / 96 + sum(c[4 + k] * x**k for k in range(4))
    at = {x: half}
    joins = [(left - right).subs(at), (left - right).diff(x).subs(at),
             (left.diff(x, 2) - 4 * right.diff(x, 2)).subs(at), (left.diff(x, 3) - 4 * right.diff(x, 3)).subs(at),
             left.subs(x, 0), left.diff(x, 2).subs(x, 0), right.subs(x, 1), right.diff(x, 2).subs(x, 1)]
    exact_w = sp.Piecewise((left, x < half), (right, True)).subs(sp.solve(joins, c))
    terms = [term for term in compile_problem(beam).terms if isinstance(term, InterfaceTerm)]
    assert len(terms) == 3
    points = terms[0].sample(4, np.random.default_rng(0), "uniform")
    field = sp.lambdify(x, exact_w, "jax")
    for term in terms:
        assert float(jnp.max(jnp.abs(term.misfit(lambda z: jnp.stack([field(z[0])]), {}, points)))) < 1e-7
    numeric = sp.lambdify(x, exact_w, "numpy")
    distance, why = boundary_value_distance(beam, lambda z: np.asarray(numeric(z[:, 0]))[:, None])
    assert why is None and distance["w"] < 1e-8
    # the uniform beam's deflection is far from the stepped one's
    uniform = sp.lambdify(x, (x**4 - 2 * x**3 + x) / 24, "numpy")
    distance, why = boundary_value_distance(beam, lambda z: np.asarray(uniform(z[:, 0]))[:, None])
    assert why is None and distance["w"] > 0.3


def test_a_plate_whose_rigidity_jumps_is_refused():
    from sciml.dsl import ProblemError

    w = Field("w", x, y)
    plate = Rectangle(x, y, (0, 1), (0, 1))
    D = sp.Piecewise((1, x < half), (4, True))
    problem = Problem("plate", plate, [D * (w.diff(x, 4) + 2 * w.diff(x, 2, y, 2) + w.diff(y, 4)) - 1],
                      conditions=[Dirichlet(w, 0, on=plate.boundary)])
    with pytest.raises(ProblemError, match="Poisson|stepped beam"):
        compile_problem(problem)


def test_sources_the_problem_cannot_hold_are_refused():
    from sciml.dsl import ProblemError

    u = Field("u", x, t)
    rod = Interval(x, 0, 1) * TimeInterval(t, 0, 1)
    conditions = [Initial(u, 0), Dirichlet(u, 0, on=wall.boundary)]
    with pytest.raises(ProblemError, match="surface fixed in space"):
        Problem("moving", rod, [u.diff(t) - u.diff(x, 2) - sp.DiracDelta(x - t / 2)], conditions=conditions)
    with pytest.raises(ProblemError, match="second order or more in space"):
        Problem("transport", rod, [u.diff(t) + u.diff(x) - sp.DiracDelta(x - half)], conditions=conditions[:1])
    with pytest.raises(ProblemError, match="dipole"):
        Problem("dipole", rod, [u.diff(t) - u.diff(x, 2) - sp.DiracDelta(x - half, 1)], conditions=conditions)


def test_finite_elements_leave_a_line_source_unchecked():
    # their weak forms do not hold the load on the line: no check rather than a wrong one
    from sciml.finite_elements import finite_element_distance

    u = Field("u", x, y)
    plate = Rectangle(x, y, (0, 1), (0, 1))
    wire = Problem("wire", plate, [u.diff(x, 2) + u.diff(y, 2) + sp.sin(sp.pi * x) * sp.DiracDelta(y - half)],
                   conditions=[Dirichlet(u, 0, on=plate.boundary)])
    assert finite_element_distance(wire, lambda z: np.zeros((len(z), 1))) == ({}, None)
    layered = Problem("layers", plate, [(sp.Piecewise((1, y < half), (4, True)) * u.diff(y)).diff(y) + u.diff(x, 2) + 1],
                      conditions=[Dirichlet(u, 0, on=plate.boundary)])
    distance, note = finite_element_distance(layered, lambda z: np.zeros((len(z), 1)))
    assert note is None and distance["u"] > 0.99  # a layered plate's weak form they do hold
