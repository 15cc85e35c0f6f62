"""Symmetry terms vanish on symmetric functions and not on asymmetric ones."""

import jax.numpy as jnp
import numpy as np
import pytest

from sciml.dsl import Conserved, Coordinate, Dirichlet, Field, Interval, Problem, Reflection, TimeInterval, Translation
from sciml.dsl.compile import compile_problem

x, t = Coordinate("x"), Coordinate("t")
space, time = Interval(x, -1, 1), TimeInterval(t, 0, 1)
u = Field("u", x, t)


def term(symmetry, fn):
    p = Problem("s", space * time, [u.diff(t)], symmetries=[symmetry])
    c = compile_problem(p)

    class Surrogate:  # receives inputs scaled to [-1, 1]; this domain maps x to itself, t to 2t-1
        def __call__(self, s):
            return fn(s[0], (s[1] + 1) / 2)[None]

    batch = c.sample(np.random.default_rng(0), {"interior": 256, "times": 16})
    (value,) = [v for k, v in c.loss_terms(Surrogate(), {}, batch).items() if k != "residual"]
    return float(value)


@pytest.mark.parametrize("sign, good, bad", [
    (-1, lambda x, t: jnp.sin(3 * x) * (1 + t), lambda x, t: jnp.cos(x) + x),
    (+1, lambda x, t: jnp.cos(2 * x) + t * x**2, lambda x, t: x + t),
])
def test_reflection(sign, good, bad):
    sym = Reflection(u, {x: -x}, sign=sign)
    assert term(sym, good) < 1e-12
    assert term(sym, bad) > 1e-3


def test_translation():
    sym = Translation(u, x, shift=0.5)
    assert term(sym, lambda x, t: jnp.sin(4 * jnp.pi * x) * jnp.exp(-t)) < 1e-10
    assert term(sym, lambda x, t: jnp.sin(3 * x)) > 1e-3


def test_conserved_integral():
    sym = Conserved(u, over=x)
    # A wave that moves inside the domain but keeps its mass: ∫ cos(pi x)^2 shifted... use
    # u = 1 + sin(pi (x - t)): integral over [-1, 1] is 2 at every time.
    assert term(sym, lambda x, t: 1 + jnp.sin(jnp.pi * (x - t))) < 1e-10
    assert term(sym, lambda x, t: 1 + t * x**2) > 1e-3


def test_hard_reflection_is_exact():
    from sciml.models import build_model

    p = Problem("s", space * time, [u.diff(t)], symmetries=[Reflection(u, {x: -x}, sign=-1, hard=True)],
                conditions=[Dirichlet(u, 0, on=space.left)])
    c = compile_problem(p)
    model = build_model("mlp", 2, 1, hidden=(8, 8), seed=1)
    z = np.random.default_rng(0).uniform(-1, 1, (32, 2)).astype(np.float32)
    zr = z * np.array([-1, 1], np.float32)
    np.testing.assert_allclose(np.asarray(c.predict(model, zr)), -np.asarray(c.predict(model, z)), atol=1e-6)
    assert "reflection#0" not in c.term_names  # exact: no loss term needed


def _flow(**kw):
    from sciml.dsl import DivergenceFree, Rectangle

    X, Y = Coordinate("X"), Coordinate("Y")
    box = Rectangle(X, Y, (0, 2), (-1, 1))
    a, b, q = Field("a", X, Y), Field("b", X, Y), Field("q", X, Y)
    equations = [a * a.diff(X) + q.diff(X) - a.diff(Y, 2), a * b.diff(X) + q.diff(Y) - b.diff(X, 2)]
    return Problem("flow", box, equations, symmetries=[DivergenceFree([a, b], [X, Y], **kw)],
                   conditions=[Dirichlet(a, 1, on=box.top)]), (a, b, X, Y)


def test_hard_divergence_free_fields_have_no_divergence():
    import jax

    from sciml.models import build_model

    problem, _ = _flow(hard=True)
    c = compile_problem(problem)
    fn = c.field_function(build_model("mlp", 2, 3, hidden=(16, 16), seed=2))
    fa, fb = problem.field_names.index("a"), problem.field_names.index("b")
    z = np.random.default_rng(0).uniform([0, -1], [2, 1], (64, 2)).astype(np.float32)
    jac = np.asarray(jax.vmap(jax.jacfwd(fn))(jnp.asarray(z)))  # (n, fields, coordinates)
    divergence = jac[:, fa, 0] + jac[:, fb, 1]
    scale = np.sqrt(np.mean(jac[:, fa, 0] ** 2 + jac[:, fb, 1] ** 2))
    assert scale > 1e-2 and np.max(np.abs(divergence)) < 1e-5 * scale
    assert "divergencefree#0" not in c.term_names  # exact: no loss term needed
    # Soft: the same network's divergence is a loss term, zero only for a divergence-free field.
    soft = compile_problem(_flow()[0])
    assert "divergencefree#0" in soft.term_names


def test_a_hard_divergence_free_pair_refuses_exact_conditions_on_its_fields():
    from sciml.dsl import DivergenceFree, ProblemError, Rectangle

    X, Y = Coordinate("X"), Coordinate("Y")
    box = Rectangle(X, Y, (0, 1), (0, 1))
    a, b = Field("a", X, Y), Field("b", X, Y)
    with pytest.raises(ProblemError, match="make those soft"):
        Problem("flow", box, [a.diff(X, 2) + b.diff(Y, 2)], symmetries=[DivergenceFree([a, b], [X, Y], hard=True)],
                conditions=[Dirichlet(a, 0, on=box.boundary, hard=True)])
    with pytest.raises(ProblemError, match="two different fields"):
        Problem("flow", box, [a.diff(X, 2) + b.diff(Y, 2)], symmetries=[DivergenceFree([a, a], [X, Y])])
