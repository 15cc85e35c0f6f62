"""Lorenz system: identify sigma, rho, beta from a short noisy trajectory.

    dx/dt = sigma (y - x),  dy/dt = x (rho - z) - y,  dz/dt = x y - beta z

Truth sigma = 10, rho = 28, beta = 8/3; data: 41 points on t in [0, 1] from (-8, 8, 27) with
1% noise; initial guesses 8, 20, 2. The flow is symmetric under (x, y) -> (-x, -y).
"""

import numpy as np

from sciml.datasets.dynamics import add_noise, lorenz
from sciml.dsl import Coordinate, Field, Parameter, Problem, TimeInterval

t = Coordinate("t")
x, y, z = Field("x", t), Field("y", t), Field("z", t)
sigma, rho, beta = (Parameter(n, v, learn=True, positive=True) for n, v in (("sigma", 8.0), ("rho", 20.0), ("beta", 2.0)))

observations = add_noise(lorenz(np.linspace(0.0, 1.0, 41)), 0.01, seed=0)
reference = lorenz(np.linspace(0.0, 2.0, 401))

problem = Problem(
    name="lorenz",
    description="Lorenz 63: identify sigma, rho, beta from a short noisy trajectory",
    domain=TimeInterval(t, 0, 2),
    equations=[x.diff(t) - sigma * (y - x), y.diff(t) - (x * (rho - z) - y), z.diff(t) - (x * y - beta * z)],
    data=observations.rename(time="t"),
    reference=reference.rename(time="t"),
)
