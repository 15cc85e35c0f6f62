"""Poisson on the unit disk: -(u_xx + u_yy) = f, u = exact on the circle, u = exp(x) sin(2y) + x^2 y."""
from sciml.dsl import Coordinate, Dirichlet, Disk, Field, Problem, exp, sin, diff

x, y = Coordinate("x"), Coordinate("y")
disk = Disk(x, y, (0, 0), 1)
u = Field("u", x, y)
ue = exp(x) * sin(2 * y) + x**2 * y
f = -(diff(ue, x, 2) + diff(ue, y, 2))
problem = Problem("poisson_disk", disk, [-(u.diff(x, 2) + u.diff(y, 2)) - f],
                  conditions=[Dirichlet(u, ue, on=disk.boundary)], exact={u: ue})
