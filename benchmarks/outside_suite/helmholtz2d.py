"""Helmholtz 2D: u_xx + u_yy + k^2 u = q on [-1,1]^2, u = 0 on the boundary, u = sin(pi x) sin(4 pi y)."""
from sciml.dsl import Coordinate, Dirichlet, Field, Problem, Rectangle, pi, sin

x, y = Coordinate("x"), Coordinate("y")
box = Rectangle(x, y, (-1, 1), (-1, 1))
u = Field("u", x, y)
k = 1
exact = sin(pi * x) * sin(4 * pi * y)
q = (k**2 - pi**2 - 16 * pi**2) * exact
problem = Problem("helmholtz2d", box, [u.diff(x, 2) + u.diff(y, 2) + k**2 * u - q],
                  conditions=[Dirichlet(u, 0, on=box.boundary)], exact={u: exact})
