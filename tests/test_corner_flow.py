"""The local Stokes flow at a corner where wall velocities jump: exact, found, built in."""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from sciml.dsl import (Coordinate, Dirichlet, Field, Parameter, Pin, Polygon, Problem, ProblemError, Rectangle,
                       StokesCorner)
from sciml.dsl.compile import compile_problem
from sciml.dsl.corner_flow import incompressible_flow, stokes_corners
from sciml.operators import divergence, laplacian
from sciml.recipe import choose

x, y = Coordinate("x"), Coordinate("y")
u, v, p = Field("u", x, y), Field("v", x, y), Field("p", x, y)


def flow(domain, lid, lid_speed=1.0, re=Parameter("Re", 100)):
    """Steady Navier-Stokes with the piece named ``lid`` sliding along x at ``lid_speed``."""
    pieces = domain.pieces()
    walls = [piece for name, piece in pieces.items() if name not in (lid, "boundary") and not name.startswith(("x_", "y_"))]
    advect = lambda f: u * f.diff(x) + v * f.diff(y)  # noqa: E731
    return Problem(
        "flow", domain,
        [advect(u) + p.diff(x) - laplacian(u, [x, y]) / re,
         advect(v) + p.diff(y) - laplacian(v, [x, y]) / re,
         divergence([u, v], [x, y])],
        conditions=[Dirichlet(u, lid_speed, on=pieces[lid]), *[Dirichlet(u, 0, on=w) for w in walls],
                    Dirichlet(v, 0, on=pieces["boundary"]), Pin(p, 0, at={x: 0.1, y: 0.1})])


def cavity(lid_speed=1.0, re=Parameter("Re", 100)):
    return flow(Rectangle(x, y, (0, 1), (0, 1)), "top", lid_speed, re)


@pytest.mark.parametrize("angle", [np.pi / 2, 3 * np.pi / 4, 3 * np.pi / 2])
def test_local_solution_solves_stokes_and_meets_both_walls(angle):
    jax.config.update("jax_enable_x64", True)
    try:
        corner = StokesCorner(("u", "v"), "p", ("x", "y"), (0.3, -0.2), (np.cos(0.4), np.sin(0.4)), angle,
                              (0.7, -1.3), viscosity=0.05, radius=1e6)  # a cutoff of 1: the bare solution
        fields = lambda z: jnp.stack(corner(z))  # noqa: E731
        inside = np.array([0.3, -0.2]) + 0.05 * np.array([np.cos(0.4 + angle / 3), np.sin(0.4 + angle / 3)])
        jac, hess = jax.jacfwd(fields)(jnp.asarray(inside)), jax.hessian(fields)(jnp.asarray(inside))
        lap = hess[:, 0, 0] + hess[:, 1, 1]
        scale = 0.05 * float(jnp.abs(lap[:2]).max())
        assert abs(jac[0, 0] + jac[1, 1]) < 1e-9 * float(jnp.abs(jac).max())
        assert float(jnp.abs(0.05 * lap[:2] - jac[2, :]).max()) < 1e-9 * scale
        # No slip on both walls: each moves along itself at its own speed.
        for direction, speed in ((0.4, 0.7), (0.4 + angle, -1.3)):
            e = np.array([np.cos(direction), np.sin(direction)])
            for s in (1e-3, 0.1, 1.0):
                got = np.array([float(a) for a in corner(jnp.asarray(np.array([0.3, -0.2]) + s * e))[:2]])
                np.testing.assert_allclose(got, speed * e, atol=1e-9)
    finally:
        jax.config.update("jax_enable_x64", False)


def test_cavity_lid_corners_are_found_with_their_wall_speeds():
    corners, why = stokes_corners(cavity())
    assert len(corners) == 2 and "2 corners" in why
    by_x = {c.corner[0]: c for c in corners}
    assert by_x[0.0].corner == (0.0, 1.0) and by_x[1.0].corner == (1.0, 1.0)
    for c in corners:
        assert np.isclose(c.angle, np.pi / 2) and np.isclose(c.viscosity, 0.01) and c.radius == pytest.approx(0.1)
        # The lid's velocity (1, 0) seen along each wall away from the corner; the side wall still.
        lid = 0 if c.direction[1] == 0 else 1
        e = np.array(c.direction) if lid == 0 else np.array([-c.direction[1], c.direction[0]])
        assert c.wall_speeds[lid] == pytest.approx(float(np.array([1.0, 0.0]) @ e))
        assert c.wall_speeds[1 - lid] == 0


def test_no_corner_flow_without_a_jump_a_viscosity_or_a_flow():
    assert stokes_corners(cavity(lid_speed=0.0))[0] == []  # every wall still
    # A viscosity learned from data is not a number the local solution could use.
    assert stokes_corners(cavity(re=Parameter("Re", 100, learn=True)))[0] == []
    box = Rectangle(x, y, (0, 1), (0, 1))
    heat = Problem("heat", box, [laplacian(u, [x, y]) + 1], conditions=[Dirichlet(u, 1, on=box.top),
                                                                       Dirichlet(u, 0, on=box.bottom)])
    assert incompressible_flow(heat) is None and stokes_corners(heat)[0] == []


def test_polygon_corners_and_the_recipe_reason():
    # A trapezoid whose top (edge2, from (1, 1) to (0, 1)) slides: corners of 135 and 90 degrees.
    problem = flow(Polygon(x, y, [(0, 0), (2, 0), (1, 1), (0, 1)]), "edge2")
    corners, _ = stokes_corners(problem)
    angles = sorted(np.degrees(c.angle) for c in corners)
    assert np.allclose(angles, [90, 135])
    recipe = choose(problem)
    assert len(recipe.problem.enrichments) == 2 and "Taylor's scraper" in recipe.reasons["corner_flows"]
    assert choose(problem, corner_flows=False).problem.enrichments == ()


def test_pieces_through_the_corners_stay_loss_terms():
    hard = {c.describe(): c.hard for c in choose(cavity()).problem.conditions}
    # the corner flow carries the lid's corners; v = 0 exact on the walls measured worse (1.3e-2
    # against 4.2e-3 soft, seed 2), so the recipe keeps every piece through them soft
    assert not hard["Dirichlet(v on x×y.boundary)"] and not hard["Dirichlet(u on x×y.y_max)"]
    assert hard["Dirichlet(u on x×y.y_min)"]


def test_compiled_surrogate_carries_the_local_flow():
    recipe = choose(cavity())
    compiled = compile_problem(recipe.problem)
    still = lambda z: jnp.zeros(3)  # noqa: E731 - a network that outputs nothing
    fields = compiled.predict(still, jnp.asarray([[0.002, 1.0], [0.998, 1.0], [0.0, 0.998], [0.5, 0.3]]))
    names = compiled.field_names
    np.testing.assert_allclose(np.asarray(fields[:, names.index("u")]), [1.0, 1.0, 0.0, 0.0], atol=1e-3)
    # The pressure is singular at the corners: low where the lid leaves a wall, high where it meets one.
    assert fields[0, names.index("p")] < -1 and fields[1, names.index("p")] > 1


def test_an_enrichment_must_name_the_problems_fields():
    bad = StokesCorner(("u", "w"), "p", ("x", "y"), (0, 1), (0, -1), np.pi / 2, (0, 1), 0.01, 0.1)
    problem = cavity()
    with pytest.raises(ProblemError, match="does not have"):
        dataclasses.replace(problem, enrichments=[bad])
    for wrong in (dict(direction=(0.6, 0.6)), dict(wall_speeds=(1.0,)), dict(corner=(0.0, float("nan")))):
        with pytest.raises(ProblemError, match="unit vector|finite numbers"):
            dataclasses.replace(problem, enrichments=[dataclasses.replace(choose(problem).problem.enrichments[0],
                                                                          **wrong)])
    with pytest.raises(ProblemError, match="not an enrichment"):
        dataclasses.replace(problem, enrichments=["lid"])


def test_a_run_is_rebuilt_from_its_recorded_rewrite_and_a_forged_record_is_refused():
    import json

    from sciml.recipe import apply_rewrite, rewrite_record

    chosen = choose(cavity()).problem
    record = json.loads(json.dumps(rewrite_record(chosen)))  # as metrics.json holds it
    again = apply_rewrite(cavity(), record)
    assert [c.hard for c in again.conditions] == [c.hard for c in chosen.conditions]
    assert again.enrichments == chosen.enrichments
    for forged in ({"hard": [[99, None]], "enrichments": []},
                   {"hard": [], "enrichments": [{"kind": "os:system", "velocity": ["u", "v"]}]},
                   {"hard": [], "enrichments": [{**record["enrichments"][0], "viscosity": {"eval": "1"}}]},
                   "hard"):
        with pytest.raises(ValueError, match="recorded problem rewrite"):
            apply_rewrite(cavity(), forged)
