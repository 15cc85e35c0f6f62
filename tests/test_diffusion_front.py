"""A held end that starts at another value than the field next to it: the diffusion front."""

import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from sciml.dsl import Coordinate, Dirichlet, Field, Initial, Interval, Neumann, Problem, TimeInterval
from sciml.dsl.diffusion_front import DiffusionFront, diffusion_fronts

pytestmark = pytest.mark.usefixtures("float64")

x, t = Coordinate("x"), Coordinate("t")
u = Field("u", x, t)
rod = Interval(x, 0, 2)


def heated(start=0, left=1, right=None, kappa=0.5):
    ends = [Dirichlet(u, left, on=rod.left)]
    ends.append(Dirichlet(u, right, on=rod.right) if right is not None else Neumann(u, 0, on=rod.right))
    return Problem("heated", rod * TimeInterval(t, 0, 1), [u.diff(t) - kappa * u.diff(x, 2)],
                   conditions=[Initial(u, start), *ends])


def test_a_wall_heated_from_one_side_gets_a_front_at_that_end():
    (front,) = diffusion_fronts(heated())[0]
    assert (front.field, front.axes, front.ends, front.inward, front.start, front.jump) == \
        ("u", ("x",), (0.0,), (1.0,), 0.0, 1.0)
    assert front.diffusivities == pytest.approx((0.5,))
    # both ends held away from the start, by different steps: one front at each, facing inwards
    fronts = diffusion_fronts(heated(start=2, left=1, right=5))[0]
    assert sorted((f.ends, f.inward, f.jump) for f in fronts) == [((0.0,), (1.0,), -1.0), ((2.0,), (-1.0,), 3.0)]
    # data that agree where they meet: no front
    assert diffusion_fronts(heated(start=1 - x / 2, left=1, right=0))[0] == []


def test_no_front_where_the_field_does_not_diffuse_as_the_heat_equation_does():
    waves = Problem("waves", rod * TimeInterval(t, 0, 1), [u.diff(t, 2) - u.diff(x, 2)],
                    conditions=[Initial(u, 0), Initial(u, 0, order=1), Dirichlet(u, 1, on=rod.boundary)])
    assert diffusion_fronts(waves)[0] == []
    backwards = heated(kappa=-0.5)
    assert diffusion_fronts(backwards)[0] == []


def test_the_front_solves_the_heat_equation_and_starts_as_the_step():
    front = DiffusionFront("u", "t", 0.5, 3.0, ("x",), (2.0,), (-1.0,), (0.25,))  # the right end, from t = 1/2
    value = lambda z: front(z)[0]  # noqa: E731
    rng = np.random.default_rng(0)
    for z in np.stack([rng.uniform(0, 2, 20), rng.uniform(0.51, 1.5, 20)], axis=1):
        z = jnp.asarray(z)
        rate = jax.grad(value)(z)[1]
        curvature = jax.hessian(value)(z)[0, 0]
        assert abs(rate - 0.25 * curvature) <= 1e-10 * (1 + abs(rate))
    assert float(value(jnp.array([2.0, 0.5 + 1e-12]))) == pytest.approx(3.0)  # the held value at the end
    assert float(value(jnp.array([1.9, 0.5]))) == 0.0 and float(value(jnp.array([1.9, 0.2]))) == 0.0
    assert bool(jnp.all(jnp.isfinite(jax.grad(value)(jnp.array([1.9, 0.5])))))  # finite at the start


def test_where_two_held_sides_meet_the_front_is_the_corners_own_solution():
    from sciml.dsl import Rectangle

    y = Coordinate("y")
    w = Field("w", x, y, t)
    plate = Rectangle(x, y, (0, 1), (0, 2))
    problem = Problem("plate", plate * TimeInterval(t, 0, 1), [w.diff(t) - 0.5 * w.diff(x, 2) - 2 * w.diff(y, 2)],
                      conditions=[Initial(w, 0), Dirichlet(w, 1, on=plate.boundary)])
    (front,) = diffusion_fronts(problem)[0]  # one step on all four sides: one front
    assert sorted(zip(front.axes, front.ends, front.diffusivities)) == [
        ("x", 0.0, 0.5), ("x", 1.0, 0.5), ("y", 0.0, 2.0), ("y", 2.0, 2.0)]
    corner = DiffusionFront("w", "t", 0.0, 1.0, ("x", "y"), (0.0, 0.0), (1.0, 1.0), (0.5, 2.0))
    value = lambda z: corner(z)[0]  # noqa: E731
    for z in ([0.1, 0.2, 0.05], [0.3, 0.1, 0.4], [0.02, 0.5, 0.01]):
        z = jnp.asarray(z)
        hessian = jax.hessian(value)(z)
        rate = jax.grad(value)(z)[2]
        assert abs(rate - 0.5 * hessian[0, 0] - 2 * hessian[1, 1]) <= 1e-10 * (1 + abs(rate))
    assert float(value(jnp.array([0.0, 0.3, 0.2]))) == pytest.approx(1.0)  # held on both sides
    assert float(value(jnp.array([0.3, 0.0, 0.2]))) == pytest.approx(1.0)


def test_a_run_record_rebuilds_the_front_and_refuses_what_is_not_one():
    from sciml.recipe import apply_rewrite, choose, rewrite_record

    recipe = choose(heated())
    assert "diffusion_fronts" in recipe.reasons
    record = json.loads(json.dumps(rewrite_record(recipe.problem)))  # as metrics.json keeps it
    assert [e["kind"] for e in record["enrichments"]] == ["diffusion_front"]
    again = apply_rewrite(heated(), record)
    assert again.enrichments == recipe.problem.enrichments
    forged = {**record, "enrichments": [{**record["enrichments"][0], "jump": "__import__('os')"}]}
    with pytest.raises(ValueError, match="not plain numbers or names|does not fit"):
        apply_rewrite(heated(), forged)
    forged = {**record, "enrichments": [{**record["enrichments"][0], "kind": "os.system"}]}
    with pytest.raises(ValueError, match="not one sciml adds"):
        apply_rewrite(heated(), forged)


@pytest.mark.slow
def test_a_suddenly_heated_wall_is_solved_with_its_front():
    import sciml

    problem = heated(left=1, right=0, kappa=1.0)
    solution = sciml.solve(problem, seed=0, time_budget=60)
    assert any(isinstance(e, DiffusionFront) for e in solution.problem.enrichments)
    assert solution.verdict.status == "trusted", solution.verdict.reasons
    # against the series of the finite rod: 1 - x/2 - sum 2/(n pi) sin(n pi x / 2) exp(-(n pi / 2)^2 t)
    xs, ts = np.meshgrid(np.linspace(0, 2, 41), np.linspace(0.05, 1, 20), indexing="ij")
    n = np.arange(1, 400)[:, None, None]
    series = 1 - xs / 2 - np.sum(2 / (n * np.pi) * np.sin(n * np.pi * xs / 2) * np.exp(-(n * np.pi / 2) ** 2 * ts), 0)
    predicted = solution.predict(np.stack([xs.ravel(), ts.ravel()], axis=1))[:, 0].reshape(xs.shape)
    assert np.linalg.norm(predicted - series) / np.linalg.norm(series) < 2e-3
