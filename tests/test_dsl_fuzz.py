"""Fuzzing: random expressions never make the DSL raise anything but a ProblemError."""

import numpy as np
import sympy as sp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sciml.dsl import Coordinate, Dirichlet, Field, Interval, Parameter, Problem, ProblemError, TimeInterval
from sciml.dsl.compile import compile_problem
from sciml.models import build_model

x, t = Coordinate("x"), Coordinate("t")
space, time = Interval(x, -1, 1), TimeInterval(t, 0, 1)
u = Field("u", x, t)
k = Parameter("k", 0.5)
stranger = sp.Symbol("q")
g = sp.Function("g")(x, t)

atoms = st.sampled_from([x, t, u, k, stranger, g, sp.Integer(2), sp.pi, sp.Rational(1, 3), u.diff(x), u.diff(t)])
unary = st.sampled_from([sp.sin, sp.cos, sp.exp, sp.tanh, lambda e: e**2, lambda e: sp.diff(e, x),
                         lambda e: sp.diff(e, t, 2), lambda e: sp.Derivative(e, x, evaluate=False), sp.sqrt, sp.log])
binary = st.sampled_from([sp.Add, sp.Mul, lambda a, b: a - b, lambda a, b: a / b])


def expressions():
    return st.recursive(atoms, lambda inner: st.one_of(
        st.builds(lambda f, e: f(e), unary, inner), st.builds(lambda f, a, b: f(a, b), binary, inner, inner)), max_leaves=6)


MODEL = build_model("mlp", 2, 1, hidden=(4,))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(equation=expressions(), value=expressions())
def test_random_problems_raise_only_problem_errors(equation, value):
    try:
        p = Problem("fuzz", space * time, [equation], conditions=[Dirichlet(u, value, on=space.left)], fields=[u])
        c = compile_problem(p)
        batch = c.sample(np.random.default_rng(0), {"interior": 4, "boundary": 2})
        terms = c.loss_terms(MODEL, {}, batch)
        assert set(terms) == set(c.term_names)
    except ProblemError:
        pass
