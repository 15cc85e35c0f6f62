"""Viscous Burgers 1D: u_t + u u_x = (0.01/pi) u_xx, u0 = -sin(pi x), u(±1) = 0 (Raissi et al. 2019)."""

from sciml.datasets import load
from sciml.operators import burgers
from sciml.dsl import Coordinate, Dirichlet, Field, Initial, Interval, Parameter, Problem, Reflection, TimeInterval, pi, sin

x, t = Coordinate("x"), Coordinate("t")
space, time = Interval(x, -1, 1), TimeInterval(t, 0, 1)
u = Field("u", x, t)
nu = Parameter("nu", 0.01 / pi)

problem = Problem(
    name="burgers",
    description=__doc__.strip().splitlines()[0],
    domain=space * time,
    equations=[burgers(u, nu, x, t)],  # u_t + u u_x - nu u_xx = 0
    conditions=[
        # Imposed exactly by the output transform u = -sin(pi x) + t (1 - x^2) N(x, t).
        Initial(u, -sin(pi * x), hard=True),
        Dirichlet(u, 0, on=space.boundary, hard=True),
    ],
    # The solution is odd in x; building the symmetry into the network halves what it learns.
    symmetries=[Reflection(u, {x: -x}, sign=-1, hard=True)],
    reference=load("burgers"),  # Cole–Hopf quadrature, see datasets/burgers.py
)
