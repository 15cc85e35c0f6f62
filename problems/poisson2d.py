"""Poisson 2D of the KAN paper: u_xx + u_yy = f on [-1,1]^2, u = 0 on the boundary; exact u = sin(pi x) sin(pi y^2)."""

from sciml.dsl import Coordinate, Dirichlet, Field, Problem, Rectangle, diff, pi, sin
from sciml.operators import laplacian

x, y = Coordinate("x"), Coordinate("y")
square = Rectangle(x, y, (-1, 1), (-1, 1))
u = Field("u", x, y)
exact = sin(pi * x) * sin(pi * y**2)
forcing = diff(exact, x, 2) + diff(exact, y, 2)  # derived, not typed in

problem = Problem(
    name="poisson2d",
    description=__doc__.strip().splitlines()[0],
    domain=square,
    equations=[laplacian(u, [x, y]) - forcing],
    conditions=[Dirichlet(u, 0, on=square.boundary, hard=True)],
    exact={u: exact},
)
