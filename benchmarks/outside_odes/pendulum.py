"""Large-amplitude pendulum, no data: theta'' + (g/L) sin(theta) = 0, released from 2.5 rad."""
import sympy as sp
from sciml.dsl import Coordinate, Field, Initial, Parameter, Problem, TimeInterval

t = Coordinate("t")
theta = Field("theta", t)
g_over_l = Parameter("g_over_l", 9.81)
problem = Problem("pendulum", TimeInterval(t, 0, 5),
                  [theta.diff(t, 2) + g_over_l * sp.sin(theta)],
                  conditions=[Initial(theta, 2.5), Initial(theta, 0.0, order=1)])
