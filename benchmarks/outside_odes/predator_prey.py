"""Lotka-Volterra predator and prey, forward: x' = 1.5 x - x y, y' = -3 y + x y over [0, 8]."""
from sciml.dsl import Coordinate, Field, Initial, Problem, TimeInterval

t = Coordinate("t")
x, y = Field("x", t), Field("y", t)
problem = Problem("predator_prey", TimeInterval(t, 0, 8),
                  [x.diff(t) - (1.5 * x - x * y), y.diff(t) - (-3 * y + x * y)],
                  conditions=[Initial(x, 10.0), Initial(y, 5.0)])
