"""Poisson, two scales: -(u_xx + u_yy) = f on [0,1]^2, u = 0 on the boundary; exact u = sin(2 pi x) sin(2 pi y) + 0.1 sin(16 pi x) sin(16 pi y)."""

from sciml.operators import laplacian

from sciml.dsl import Coordinate, Dirichlet, Field, Problem, Rectangle, diff, pi, sin

x, y = Coordinate("x"), Coordinate("y")
square = Rectangle(x, y, (0, 1), (0, 1))
u = Field("u", x, y)
exact = sin(2 * pi * x) * sin(2 * pi * y) + sin(16 * pi * x) * sin(16 * pi * y) / 10
forcing = -(diff(exact, x, 2) + diff(exact, y, 2))  # manufactured from the solution

problem = Problem(
    name="poisson_highfreq",
    description=__doc__.strip().splitlines()[0],
    domain=square,
    equations=[-laplacian(u, [x, y]) - forcing],
    conditions=[Dirichlet(u, 0, on=square.boundary, hard=True)],
    exact={u: exact},
)
