"""Korteweg-de Vries: u_t + u u_x + 0.022^2 u_xxx = 0, x in [-1,1] periodic, t in [0,1], u(x,0) = cos(pi x) (Zabusky & Kruskal 1965)."""

from sciml.datasets import load

from sciml.dsl import (
    Coordinate,
    Field,
    Initial,
    Interval,
    Parameter,
    Periodic,
    Problem,
    TimeInterval,
    cos,
    pi,
)

x, t = Coordinate("x"), Coordinate("t")
space, time = Interval(x, -1, 1), TimeInterval(t, 0, 1)
u = Field("u", x, t)
delta = Parameter("delta", 0.022)  # dispersion length

problem = Problem(
    name="kdv",
    description=__doc__.strip().splitlines()[0],
    domain=space * time,
    equations=[u.diff(t) + u * u.diff(x) + delta**2 * u.diff(x, 3)],
    conditions=[Initial(u, cos(pi * x)), Periodic(u, coordinate=x)],
    reference=load("kdv"),  # Fourier spectral ETDRK4, see datasets/kdv.py
)
