"""A surrogate from outside the package: registered in a few lines, it solves an ODE and a PDE
problem through ``sciml.solve`` like the built-in ones (the registry is the only seam)."""

import jax
import jax.numpy as jnp
import sympy as sp
from flax import nnx

import sciml
from sciml.dsl import Coordinate, Dirichlet, Field, Initial, Interval, Problem, TimeInterval
from sciml.models import register_model


# ---- the toy: fixed random sine features, a trained linear read-out (the whole model) ----
class SineFeatures(nnx.Module):
    """``y = W [sin(a x + b), 1]`` with ``a, b`` drawn once and only ``W`` trained."""

    def __init__(self, in_features, out_features, *, rngs, features=48, scale=4.0):
        self.in_features, self.out_features = in_features, out_features
        self.a = nnx.Variable(scale * jax.random.normal(rngs.params(), (in_features, features)))
        self.b = nnx.Variable(jnp.linspace(0, jnp.pi, features))
        self.w = nnx.Param(jnp.zeros((features + 1, out_features)))

    def __call__(self, x):
        h = jnp.sin(x @ self.a[...] + self.b[...])
        return jnp.concatenate([h, jnp.ones_like(h[..., :1])], -1) @ self.w[...]


@register_model("toy-sines", "a toy: fixed sine features, linear read-out")
def toy_sines(in_features, out_features, *, rngs, **options):
    return SineFeatures(in_features, out_features, rngs=rngs, **options)
# ---- end of the toy ----


FAST = {"steps": 400, "lbfgs_steps": 200, "learning_rate": 1e-2, "progress": False, "time_budget": 0,
        "points": {"interior": 128, "boundary": 16}}


def test_a_registered_toy_solves_a_pde_and_an_ode():
    x, t = Coordinate("x"), Coordinate("t")
    u, c = Field("u", x), Field("c", t)
    line = Interval(x, 0, 1)
    poisson = Problem("poisson", line, [u.diff(x, 2) + sp.pi**2 * sp.sin(sp.pi * x)],
                      conditions=[Dirichlet(u, 0, on=line.boundary)], exact={u: sp.sin(sp.pi * x)})
    decay = Problem("decay", TimeInterval(t, 0, 2), [c.diff(t) + c / 2], conditions=[Initial(c, 1.0)],
                    exact={c: sp.exp(-t / 2)})
    for problem in (poisson, decay):
        solution = sciml.solve(problem, model="toy-sines", **FAST)
        assert solution.metrics["model"] == "toy-sines"
        assert solution.metrics["n_params"] == 49  # the read-out alone: the features are not parameters
        assert solution.metrics["rel_l2"] < 1e-2, (problem.name, solution.metrics["rel_l2"])
        # The recipe treats it as any field surrogate: the condition is made exact, not penalised.
        assert not any(term.startswith(("initial", "dirichlet")) for term in solution.metrics["losses"])
