"""Nonlinear Klein-Gordon: u_tt - u_xx + u^3 = f, exact u = x cos(5 pi t) + (x t)^3."""
from sciml.dsl import Coordinate, Dirichlet, Field, Initial, Interval, Problem, TimeInterval, cos, pi, diff

x, t = Coordinate("x"), Coordinate("t")
space, time = Interval(x, 0, 1), TimeInterval(t, 0, 1)
u = Field("u", x, t)
ue = x * cos(5 * pi * t) + (x * t) ** 3
f = diff(ue, t, 2) - diff(ue, x, 2) + ue**3
problem = Problem("klein_gordon", space * time, [u.diff(t, 2) - u.diff(x, 2) + u**3 - f],
                  conditions=[Initial(u, x), Initial(u, 0, order=1),
                              Dirichlet(u, ue, on=space.boundary)],
                  exact={u: ue})
