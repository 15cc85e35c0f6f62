"""Van der Pol oscillator UDE: learn the nonlinear damping mu (1 - x^2) y from one noisy cycle.

    dx/dt = y,   dy/dt = -x + U(x, y)      (truth: U = y - x^2 y, mu = 1)
"""

import numpy as np
import sympy as sp

from sciml.datasets.dynamics import add_noise, van_der_pol
from sciml.dynamics import ODEProblem, Reflection, Unknown

x, y = sp.symbols("x y")

observations = add_noise(van_der_pol(np.linspace(0.0, 8.0, 81)), 0.02, seed=0)
reference = van_der_pol(np.linspace(0.0, 30.0, 601))

problem = ODEProblem(
    states=[x, y],
    rhs={x: y, y: -x + Unknown("U", inputs=[x, y])},
    symmetries=[Reflection((x, y))],
    observations=observations,
    reference=reference,
    name="van_der_pol",
    description="Van der Pol UDE: known spring, learned nonlinear damping (truth y - x^2 y)",
)
