"""Allen-Cahn: u_t = 1e-4 u_xx + 5 u - 5 u^3, x in [-1,1] periodic, u0 = x^2 cos(pi x)."""
from sciml.datasets import load
from sciml.dsl import Coordinate, Field, Initial, Interval, Periodic, Problem, TimeInterval, cos, pi

x, t = Coordinate("x"), Coordinate("t")
u = Field("u", x, t)
problem = Problem("allen_cahn", Interval(x, -1, 1) * TimeInterval(t, 0, 1),
                  [u.diff(t) - 1e-4 * u.diff(x, 2) - 5 * u + 5 * u**3],
                  conditions=[Initial(u, x**2 * cos(pi * x)), Periodic(u, coordinate=x)],
                  reference=load("allen_cahn"))  # Fourier spectral ETDRK4, see datasets/allen_cahn.py
