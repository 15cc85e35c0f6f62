"""Van der Pol oscillator, mu = 2, from x = 1: no data, the limit cycle over [0, 10]."""
from sciml.dsl import Coordinate, Field, Initial, Parameter, Problem, TimeInterval

t = Coordinate("t")
x = Field("x", t)
mu = Parameter("mu", 2.0)
problem = Problem("van_der_pol", TimeInterval(t, 0, 10),
                  [x.diff(t, 2) - mu * (1 - x**2) * x.diff(t) + x],
                  conditions=[Initial(x, 1.0), Initial(x, 0.0, order=1)])
