"""Lorenz system: identify sigma, rho, beta from a short noisy trajectory.

    dx/dt = sigma (y - x),  dy/dt = x (rho - z) - y,  dz/dt = x y - beta z

Truth sigma = 10, rho = 28, beta = 8/3; data: 41 points on t in [0, 1] from (-8, 8, 27) with
1% noise; initial guesses 8, 20, 2.
"""

import numpy as np
import sympy as sp

from sciml.datasets.dynamics import add_noise, lorenz
from sciml.dynamics import ODEProblem, Reflection

x, y, z = sp.symbols("x y z")
sigma, rho, beta = sp.symbols("sigma rho beta", positive=True)

observations = add_noise(lorenz(np.linspace(0.0, 1.0, 41)), 0.01, seed=0)
reference = lorenz(np.linspace(0.0, 2.0, 401))

problem = ODEProblem(
    states=[x, y, z],
    rhs={x: sigma * (y - x), y: x * (rho - z) - y, z: x * y - beta * z},
    identify={sigma: 8.0, rho: 20.0, beta: 2.0},
    symmetries=[Reflection((x, y))],
    observations=observations,
    reference=reference,
    name="lorenz",
    description="Lorenz 63: identify sigma, rho, beta from a short noisy trajectory",
)
