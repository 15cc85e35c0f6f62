"""Steady convection-diffusion with a boundary layer: -eps u'' + u' = 1 on [0,1], u(0) = u(1) = 0, eps = 0.01."""
from sciml.dsl import Coordinate, Dirichlet, Field, Interval, Problem, exp

x = Coordinate("x")
space = Interval(x, 0, 1)
u = Field("u", x)
eps = 0.01
ue = x - (exp((x - 1) / eps) - exp(-1 / eps)) / (1 - exp(-1 / eps))
problem = Problem("boundary_layer", space, [-eps * u.diff(x, 2) + u.diff(x) - 1],
                  conditions=[Dirichlet(u, 0, on=space.boundary)], exact={u: ue})
