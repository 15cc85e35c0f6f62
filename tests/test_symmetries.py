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
