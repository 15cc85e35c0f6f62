"""Damped spring: m x'' + c x' + k x = 0 with m = 1, c = 0.4, k = 16, from x = 1 at rest, over [0, 6]."""
from sciml.dsl import Coordinate, Field, Initial, Problem, TimeInterval

t = Coordinate("t")
x = Field("x", t)
problem = Problem("damped_spring", TimeInterval(t, 0, 6), [x.diff(t, 2) + 0.4 * x.diff(t) + 16 * x],
                  conditions=[Initial(x, 1.0), Initial(x, 0.0, order=1)])
