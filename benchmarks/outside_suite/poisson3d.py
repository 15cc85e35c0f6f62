"""Poisson 3D: -Laplace u = 3 pi^2 sin(pi x) sin(pi y) sin(pi z) on [0,1]^3, u = 0 on the boundary."""
from sciml.dsl import Box, Coordinate, Dirichlet, Field, Problem, pi, sin

x, y, z = Coordinate("x"), Coordinate("y"), Coordinate("z")
box = Box({x: (0, 1), y: (0, 1), z: (0, 1)})
u = Field("u", x, y, z)
ue = sin(pi * x) * sin(pi * y) * sin(pi * z)
problem = Problem("poisson3d", box, [-(u.diff(x, 2) + u.diff(y, 2) + u.diff(z, 2)) - 3 * pi**2 * ue],
                  conditions=[Dirichlet(u, 0, on=box.boundary)], exact={u: ue})
