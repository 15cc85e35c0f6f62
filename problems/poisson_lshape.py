"""Poisson on the L-shaped domain [-1,1]^2 minus [0,1]^2: -(u_xx + u_yy) = 1, u = 0 on the boundary."""

from sciml.datasets import load
from sciml.operators import laplacian

from sciml.dsl import Coordinate, Dirichlet, Field, Polygon, Problem

x, y = Coordinate("x"), Coordinate("y")
lshape = Polygon(x, y, [(-1, -1), (1, -1), (1, 0), (0, 0), (0, 1), (-1, 1)])
u = Field("u", x, y)

problem = Problem(
    name="poisson_lshape",
    description=__doc__.strip().splitlines()[0],
    domain=lshape,
    equations=[-laplacian(u, [x, y]) - 1],
    conditions=[Dirichlet(u, 0, on=lshape.boundary)],
    # The solution is singular at the re-entrant corner (0, 0): u ~ r^(2/3) sin(2 theta / 3).
    reference=load("lshape"),  # P2 finite elements on graded meshes, see datasets/lshape.py
)
