"""Nonlinear Schrodinger: i h_t + 0.5 h_xx + |h|^2 h = 0, h = u + i v, x in [-5,5] periodic, t in [0,pi/2], h(x,0) = 2 sech x (Raissi et al. 2019)."""

from sciml.datasets import load

from sciml.dsl import (
    Coordinate,
    Field,
    Initial,
    Interval,
    Periodic,
    Problem,
    TimeInterval,
    pi,
    sech,
)

x, t = Coordinate("x"), Coordinate("t")
space, time = Interval(x, -5, 5), TimeInterval(t, 0, pi / 2)
u, v = Field("u", x, t), Field("v", x, t)  # real and imaginary parts of h
intensity = u**2 + v**2  # |h|^2

problem = Problem(
    name="schrodinger",
    description=__doc__.strip().splitlines()[0],
    domain=space * time,
    equations=[
        -v.diff(t) + u.diff(x, 2) / 2 + intensity * u,  # real part
        u.diff(t) + v.diff(x, 2) / 2 + intensity * v,  # imaginary part
    ],
    conditions=[
        Initial(u, 2 * sech(x)),
        Initial(v, 0),
        Periodic(u, coordinate=x),
        Periodic(v, coordinate=x),
    ],
    reference=load("schrodinger"),  # Fourier spectral ETDRK4, see datasets/schrodinger.py
)
