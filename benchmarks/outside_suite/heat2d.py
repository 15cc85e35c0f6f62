"""Heat 2D: u_t = 0.05 (u_xx + u_yy) on [0,1]^2, zero walls, u0 = sin(pi x) sin(2 pi y)."""
from sciml.dsl import Coordinate, Dirichlet, Field, Initial, Problem, Rectangle, TimeInterval, exp, pi, sin

x, y, t = Coordinate("x"), Coordinate("y"), Coordinate("t")
box = Rectangle(x, y, (0, 1), (0, 1))
u = Field("u", x, y, t)
a = 0.05
problem = Problem("heat2d", box * TimeInterval(t, 0, 1), [u.diff(t) - a * (u.diff(x, 2) + u.diff(y, 2))],
                  conditions=[Initial(u, sin(pi * x) * sin(2 * pi * y)), Dirichlet(u, 0, on=box.boundary)],
                  exact={u: exp(-5 * pi**2 * a * t) * sin(pi * x) * sin(2 * pi * y)})
