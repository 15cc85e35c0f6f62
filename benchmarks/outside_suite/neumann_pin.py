"""Pure Neumann Poisson: -u'' = pi^2 cos(pi x) on [0,1], u'(0) = u'(1) = 0, pinned mean, u = cos(pi x)."""
from sciml.dsl import Coordinate, Field, Interval, MeanValue, Neumann, Problem, cos, pi

x = Coordinate("x")
space = Interval(x, 0, 1)
u = Field("u", x)
problem = Problem("neumann_pin", space, [-u.diff(x, 2) - pi**2 * cos(pi * x)],
                  conditions=[Neumann(u, 0, on=space.boundary), MeanValue(u, 0)], exact={u: cos(pi * x)})
