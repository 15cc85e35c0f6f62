"""Advection: u_t + 2 u_x = 0, x periodic in [0, 2 pi], u0 = sin(x) + 0.5 sin(3x)."""
from sciml.dsl import Coordinate, Field, Initial, Interval, Periodic, Problem, TimeInterval, sin, pi

x, t = Coordinate("x"), Coordinate("t")
space, time = Interval(x, 0, 2 * pi), TimeInterval(t, 0, 1)
u = Field("u", x, t)
problem = Problem("advection", space * time, [u.diff(t) + 2 * u.diff(x)],
                  conditions=[Initial(u, sin(x) + sin(3 * x) / 2), Periodic(u, coordinate=x)],
                  exact={u: sin(x - 2 * t) + sin(3 * (x - 2 * t)) / 2})
