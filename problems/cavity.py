"""Lid-driven cavity: steady incompressible Navier-Stokes at Re = 100 on the unit square, lid y = 1 at u = 1 (Ghia et al. 1982)."""

from sciml.datasets import load
from sciml.operators import divergence, laplacian

from sciml.dsl import Coordinate, Dirichlet, Field, Parameter, Pin, Problem, Rectangle

x, y = Coordinate("x"), Coordinate("y")
box = Rectangle(x, y, (0, 1), (0, 1))
u, v, p = Field("u", x, y), Field("v", x, y), Field("p", x, y)
Re = Parameter("Re", 100)


def advection(f):
    return u * f.diff(x) + v * f.diff(y)


problem = Problem(
    name="cavity",
    description=__doc__.strip().splitlines()[0],
    domain=box,
    equations=[
        advection(u) + p.diff(x) - laplacian(u, [x, y]) / Re,
        advection(v) + p.diff(y) - laplacian(v, [x, y]) / Re,
        divergence([u, v], [x, y]),
    ],
    conditions=[
        Dirichlet(u, 1, on=box.top),
        Dirichlet(u, 0, on=box.left),
        Dirichlet(u, 0, on=box.right),
        Dirichlet(u, 0, on=box.bottom),
        Dirichlet(v, 0, on=box.boundary),
        # Only the pressure's gradient enters the equations: fix its constant.
        Pin(p, 0, at={x: 0, y: 0}),
    ],
    reference=load("cavity"),  # streamfunction-vorticity Newton solve, see datasets/cavity.py
)
