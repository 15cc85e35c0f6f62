"""The DSL parses problems and rejects each kind of mistake with a message naming it."""

import numpy as np
import pytest
import sympy as sp
import xarray as xr

from sciml.dsl import (
    Box, Coordinate, Dirichlet, Disk, Field, Initial, Interval, Neumann, Parameter, Periodic, Problem,
    ProblemError, Rectangle, Reflection, Robin, TimeInterval,
)
from sciml.dsl.compile import compile_problem

x, t, y = Coordinate("x"), Coordinate("t"), Coordinate("y")
space, time = Interval(x, -1, 1), TimeInterval(t, 0, 1)
u = Field("u", x, t)


def heat(**changes):
    kw = dict(name="heat", domain=space * time, equations=[u.diff(t) - u.diff(x, 2)],
              conditions=[Initial(u, sp.sin(sp.pi * x)), Dirichlet(u, 0, on=space.boundary)])
    kw.update(changes)
    return Problem(**kw)


def test_parses_a_complete_problem():
    nu = Parameter("nu", 0.1)
    p = heat(equations=[sp.Eq(u.diff(t), nu * u.diff(x, 2) + sp.diff(u, x, t))])
    assert p.field_names == ("u",)
    assert p.coordinate_names == ("x", "t")
    assert p.parameters == (nu,)
    c = compile_problem(p)
    assert c.term_names == ["residual", "initial:u#0", "dirichlet:u#1"]


def test_domains_and_boundary_pieces():
    rect = Rectangle(x, y, (0, 2), (0, 1))
    assert {"left", "right", "top", "bottom", "boundary", "x_min", "y_max"} <= set(rect.pieces())
    rng = np.random.default_rng(0)
    top = rect.top.sample(10, rng)
    assert np.allclose(top[:, 1], 1.0)
    circle = Disk(x, y, (0.5, 0.5), 2.0).boundary.sample(50, rng)
    assert np.allclose(np.linalg.norm(circle - 0.5, axis=1), 2.0)
    box = Box({x: (0, 1), y: (0, 1), Coordinate("z"): (0, 3)})
    assert box.sample(100, rng, "sobol").shape == (100, 3)


def test_undefined_symbol():
    with pytest.raises(ProblemError, match=r"undefined symbol nu.*Parameter\('nu'"):
        heat(equations=[u.diff(t) - sp.Symbol("nu") * u.diff(x, 2)])


def test_derivative_of_something_that_is_not_a_field():
    g = sp.Function("g")(x, t)
    with pytest.raises(ProblemError, match="derivative of g\\(x, t\\), which is not a field"):
        heat(fields=[u], equations=[u.diff(t) - g.diff(x, 2)])


def test_undeclared_field():
    v = Field("v", x, t)
    with pytest.raises(ProblemError, match="v\\(x, t\\) is not a declared field"):
        heat(fields=[u], equations=[u.diff(t) - v])


def test_condition_on_a_boundary_that_does_not_exist():
    other = Interval(y, 0, 1)
    with pytest.raises(ProblemError, match="not part of this problem's domain"):
        heat(conditions=[Dirichlet(u, 0, on=other.left)])
    with pytest.raises(ProblemError, match="no boundary piece named 'top'"):
        heat(conditions=[Dirichlet(u, 0, on="top")])


def test_initial_condition_without_time():
    with pytest.raises(ProblemError, match="no TimeInterval"):
        v = Field("v", x)
        Problem(name="s", domain=space, equations=[v.diff(x, 2)], conditions=[Initial(v, 0)])


def test_data_with_mismatched_coordinates():
    data = xr.Dataset({"u": ("time", np.zeros(3))}, coords={"time": [0.0, 0.5, 1.0]})
    with pytest.raises(ProblemError, match="no coordinate 'x'.*rename"):
        heat(data=data)


def test_data_with_unknown_variable():
    data = xr.Dataset({"v": (("x", "t"), np.zeros((2, 2)))}, coords={"x": [0.0, 0.5], "t": [0.0, 1.0]})
    with pytest.raises(ProblemError, match="variable 'v' is not a field"):
        heat(data=data)


def test_non_finite_data():
    data = xr.Dataset({"u": (("x", "t"), [[0.0, np.nan], [1.0, 2.0]])}, coords={"x": [0.0, 0.5], "t": [0.0, 1.0]})
    with pytest.raises(ProblemError, match="1 non-finite values"):
        heat(data=data)


def test_data_outside_the_domain():
    data = xr.Dataset({"u": ("point", [1.0])}, coords={"x": ("point", [3.0]), "t": ("point", [0.5])})
    with pytest.raises(ProblemError, match=r"outside the domain .*the first at \{'x': 3.0, 't': 0.5\}.*widen the domain"):
        heat(data=data)


def test_problem_with_no_equations():
    with pytest.raises(ProblemError, match="has no equations"):
        heat(equations=[])


def test_a_lone_equation_or_condition_instead_of_a_list():
    with pytest.raises(ProblemError, match=r"equations must be a list, got a single Add; write equations=\["):
        heat(equations=u.diff(t) - u.diff(x, 2))
    with pytest.raises(ProblemError, match=r"conditions must be a list, got a single Initial"):
        heat(conditions=Initial(u, sp.sin(sp.pi * x)))
    assert heat(conditions=(Initial(u, sp.sin(sp.pi * x)), Dirichlet(u, 0, on=space.boundary))).field_names == ("u",)


def test_field_with_wrong_coordinates():
    w = Field("w", x)
    with pytest.raises(ProblemError, match="must depend on exactly the problem's coordinates"):
        heat(equations=[w.diff(x)], conditions=[])


def test_bad_symmetry_and_condition_kinds():
    with pytest.raises(ProblemError, match="sign must be"):
        heat(symmetries=[Reflection(u, {x: -x}, sign=2)])
    with pytest.raises(ProblemError, match="only Dirichlet and initial"):
        heat(conditions=[Neumann(u, 0, on=space.left, hard=True)])
    with pytest.raises(ProblemError, match="periodicity needs a spatial coordinate"):
        heat(conditions=[Periodic(u, coordinate=y)])


def test_all_condition_kinds_compile_and_evaluate():
    from sciml.models import build_model

    p = heat(conditions=[Initial(u, 0), Initial(u, 0, order=1), Neumann(u, 1, on=space.left),
                         Robin(u, 0, on=space.right, a=1.0, b=2.0), Periodic(u, coordinate=x)])
    c = compile_problem(p)
    batch = c.sample(np.random.default_rng(0), {"interior": 16, "boundary": 8})
    terms = c.loss_terms(build_model("mlp", 2, 1, hidden=(8,)), {}, batch)
    assert set(terms) == set(c.term_names)
    assert all(np.isfinite(float(v)) for v in terms.values())


def test_hard_conditions_hold_exactly():
    from sciml.models import build_model

    p = heat(conditions=[Initial(u, sp.sin(sp.pi * x), hard=True), Dirichlet(u, 0, on=space.boundary, hard=True)])
    c = compile_problem(p)
    assert c.term_names == ["residual"]
    model = build_model("mlp", 2, 1, hidden=(8,), seed=3)
    z = np.array([[-1.0, 0.3], [1.0, 0.9], [0.25, 0.0]], np.float32)
    out = np.asarray(c.predict(model, z))[:, 0]
    np.testing.assert_allclose(out, [0.0, 0.0, np.sin(np.pi * 0.25)], atol=1e-6)


def test_incompatible_hard_conditions_are_rejected():
    p = heat(conditions=[Initial(u, 1 + x * 0, hard=True), Dirichlet(u, 0, on=space.boundary, hard=True)])
    with pytest.raises(ProblemError, match="disagree"):
        compile_problem(p)


def test_parameters_of_the_same_name_stay_distinct_across_problems():
    known = Parameter("nu", 0.1)
    learned = Parameter("nu", 0.5, learn=True, positive=True)
    a = heat(equations=[u.diff(t) - known * u.diff(x, 2)])
    b = heat(equations=[u.diff(t) - learned * u.diff(x, 2)])
    assert [p.learn for p in a.parameters] == [False]
    assert [(p.learn, p.value) for p in b.parameters] == [(True, 0.5)]


def test_a_parameter_carries_its_units_as_a_label():
    import pickle

    nu = Parameter("nu", 0.1, learn=True, units="m^2/s")
    assert nu.units == "m^2/s" and Parameter("nu", 0.1, learn=True).units is None
    assert Parameter("nu", 0.1, learn=True) != nu  # a different declaration, a different symbol
    assert pickle.loads(pickle.dumps(nu)).units == "m^2/s"
    with pytest.raises(ProblemError, match="parameter 'nu': units must be a short printable string"):
        Parameter("nu", 0.1, units=3)


def test_solving_a_problem_its_conditions_leave_undetermined_is_refused():
    """Without data, a field advanced in time needs its initial value (and rate, at second
    order), and one with second derivatives in space some boundary condition; sciml.solve
    refuses otherwise, naming the condition to add, before any training. The problem itself
    may still be built (partial problems are compiled and inspected)."""
    import sciml
    from sciml.dsl.problem import check_determined

    wall = Dirichlet(u, 0, on=space.boundary)
    cases = [
        (heat(conditions=[wall]), r"first order in t but has no initial value.*add Initial\(u, \.\.\.\)"),
        (heat(conditions=[Initial(u, 0)]), r"second derivatives in x but no boundary condition.*Periodic\(u, coordinate=x\)"),
        (heat(equations=[u.diff(t, 2) - u.diff(x, 2)], conditions=[Initial(u, sp.sin(sp.pi * x)), wall]),
         r"second order in t but has no initial rate.*order=1\)"),
    ]
    for problem, message in cases:
        with pytest.raises(ProblemError, match=message):
            check_determined(problem)
    with pytest.raises(ProblemError, match="has no initial value"):
        sciml.solve(cases[0][0], steps=1, lbfgs_steps=0, progress=False)
    check_determined(heat())  # complete
    # observations may determine what the conditions leave open (an inverse problem)
    data = xr.Dataset({"u": (("x", "t"), np.zeros((3, 2)))}, coords={"x": [-0.5, 0.0, 0.5], "t": [0.0, 0.5]})
    check_determined(heat(conditions=[wall], data=data))


def test_a_parameter_learned_without_data_is_warned_of(caplog):
    import logging

    import sciml

    k = Parameter("k", 0.5, learn=True)
    with caplog.at_level(logging.WARNING, logger="sciml"):
        sciml.solve(heat(equations=[u.diff(t) - k * u.diff(x, 2)]), model="mlp", steps=1, lbfgs_steps=0,
                    progress=False, model_options={"hidden": (4,)})
    assert any("k learned without data" in r.getMessage() for r in caplog.records)


def test_polygon_edges_keep_the_names_of_the_order_given():
    from sciml.dsl import Polygon

    rng = np.random.default_rng(0)
    for vertices in ([(0, 0), (0, 1), (1, 0)], [(0, 0), (1, 0), (0, 1)]):  # clockwise, counter-clockwise
        triangle = Polygon(x, y, vertices)
        for k, (a, b) in enumerate(zip(vertices, vertices[1:] + vertices[:1])):
            edge = triangle.piece(f"edge{k}")
            points = edge.sample(5, rng)
            # on the segment from the given vertex k to k + 1, the normal pointing out of the triangle
            cross = (np.subtract(b, a)[0] * (points[:, 1] - a[1]) - np.subtract(b, a)[1] * (points[:, 0] - a[0]))
            assert np.allclose(cross, 0, atol=1e-12)
            inside = np.mean(np.asarray(vertices, float), axis=0)
            assert np.all(np.sum((points - inside) * edge.normal(points), axis=1) > 0)


def test_too_few_boundary_conditions_for_the_order_are_found():
    """A beam's u_xxxx needs value and slope at each end, a Poisson equation one condition at
    every boundary point; where the equation degenerates (S = 0 of Black-Scholes) or a term is
    singular (r = 0 of a radial Laplacian) none is needed."""
    from sciml.dsl.problem import underdetermined_boundary

    s = Coordinate("s")
    w = Field("w", s)
    bar = Interval(s, 0, 1)
    clamped = [Dirichlet(w, 0, on=bar.boundary), Neumann(w, 0, on=bar.boundary)]
    assert underdetermined_boundary(Problem("beam", bar, [w.diff(s, 4) - 1], conditions=clamped)) == []
    (short,) = underdetermined_boundary(Problem("beam", bar, [w.diff(s, 4) - 1], conditions=clamped[:1]))
    assert "fourth order in s" in short and "needs 2 boundary conditions" in short and "has 1" in short
    (short,) = underdetermined_boundary(Problem("rod", bar, [w.diff(s, 2) + 1], conditions=[Dirichlet(w, 0, on=bar.left)]))
    assert "has 0 at (s = 1)" in short
    assert underdetermined_boundary(
        Problem("radial", bar, [w.diff(s, 2) + 2 / s * w.diff(s) + 1], conditions=[Dirichlet(w, 0, on=bar.right)])) == []
    assert underdetermined_boundary(
        Problem("degenerate", bar, [s**2 * w.diff(s, 2) + s * w.diff(s) - w], conditions=[Dirichlet(w, 1, on=bar.right)])) == []
    assert underdetermined_boundary(heat()) == []
    assert underdetermined_boundary(heat(conditions=[Initial(u, sp.sin(sp.pi * x)), Periodic(u, coordinate=x)])) == []
    data = xr.Dataset({"w": ("s", np.zeros(3))}, coords={"s": [0.0, 0.5, 1.0]})
    assert underdetermined_boundary(Problem("beam", bar, [w.diff(s, 4) - 1], conditions=clamped[:1], data=data)) == []


def test_transport_without_an_inflow_condition_is_found():
    """A first-order equation carries its field along v = a / a_t: a condition is needed where v
    points into the domain and nowhere else; a speed that depends on the solution decides nothing."""
    from sciml.dsl.problem import underdetermined_boundary

    s, t = Coordinate("s"), Coordinate("t")
    line = Interval(s, 0, 1)
    q = Field("q", s, t)

    def transport(equation, *conditions):
        return Problem("transport", line * TimeInterval(t, 0, 1), [equation],
                       conditions=[Initial(q, sp.sin(sp.pi * s)), *conditions])

    right_moving = q.diff(t) + 2 * q.diff(s)
    assert underdetermined_boundary(transport(right_moving, Dirichlet(q, 0, on=line.left))) == []
    (short,) = underdetermined_boundary(transport(right_moving, Dirichlet(q, 0, on=line.right)))
    assert "flows in" in short and "at (s = 0)" in short
    # the sign of the whole equation does not matter, that of the speed does
    assert underdetermined_boundary(transport(-right_moving, Dirichlet(q, 0, on=line.left))) == []
    (short,) = underdetermined_boundary(transport(q.diff(t) - 2 * q.diff(s), Dirichlet(q, 0, on=line.left)))
    assert "at (s = 1)" in short
    assert underdetermined_boundary(transport(right_moving, Periodic(q, coordinate=s))) == []
    # a speed s - 1/2 leaves through both ends: no inflow, no condition needed; 1/2 - s enters through both
    assert underdetermined_boundary(transport(q.diff(t) + (s - sp.Rational(1, 2)) * q.diff(s))) == []
    (short,) = underdetermined_boundary(transport(q.diff(t) + (sp.Rational(1, 2) - s) * q.diff(s), Dirichlet(q, 0, on=line.left)))
    assert "at (s = 1)" in short
    assert underdetermined_boundary(transport(q.diff(t) + q * q.diff(s))) == []  # inviscid Burgers: sign unknown
    w = Field("w", s)
    (short,) = underdetermined_boundary(Problem("steady", line, [w.diff(s) - 1]))
    assert "characteristics" in short
    assert underdetermined_boundary(Problem("steady", line, [w.diff(s) - 1], conditions=[Dirichlet(w, 0, on=line.right)])) == []


def test_a_run_with_too_few_boundary_conditions_is_warned_of_and_doubtful(caplog):
    import logging

    import sciml

    s = Coordinate("s")
    w = Field("w", s)
    bar = Interval(s, 0, 1)
    beam = Problem("beam", bar, [w.diff(s, 4) - 1], conditions=[Dirichlet(w, 0, on=bar.boundary)])
    with caplog.at_level(logging.WARNING, logger="sciml"):
        result = sciml.solve(beam, model="mlp", steps=1, lbfgs_steps=0, progress=False, model_options={"hidden": (4,)})
    assert any("needs 2 boundary conditions" in r.getMessage() for r in caplog.records)
    assert result.verdict.status == "doubtful"
    assert any("needs 2 boundary conditions" in reason for reason in result.verdict.reasons)


def test_a_piece_of_an_equal_domain_built_apart_is_accepted():
    s = Coordinate("s")
    w = Field("w", s)
    problem = Problem("rod", Interval(s, 0, 1), [w.diff(s, 2) + 1], conditions=[Dirichlet(w, 0, on=Interval(s, 0, 1).boundary)])
    compile_problem(problem)
    with pytest.raises(ProblemError, match="not part of"):
        compile_problem(Problem("rod", Interval(s, 0, 1), [w.diff(s, 2) + 1],
                                conditions=[Dirichlet(w, 0, on=Interval(s, 0, 2).boundary)]))


def test_a_problem_file_with_one_problem_under_another_name_is_read(tmp_path):
    from sciml.solver import load_problem

    body = ("from sciml.dsl import Coordinate, Field, Interval, Problem, Dirichlet\n"
            "s = Coordinate('s')\nw = Field('w', s)\nbar = Interval(s, 0, 1)\n"
            "beam = Problem('rod', bar, [w.diff(s, 2) + 1], conditions=[Dirichlet(w, 0, on=bar.boundary)])\n")
    (tmp_path / "one.py").write_text(body)
    assert load_problem(tmp_path / "one.py").name == "rod"
    (tmp_path / "two.py").write_text(body + "other = beam\n")
    with pytest.raises(ProblemError, match=r"defines no module-level `problem` \(it defines 2: beam, other\)"):
        load_problem(tmp_path / "two.py")
