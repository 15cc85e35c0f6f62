"""Van der Pol oscillator UDE: learn the nonlinear damping mu (1 - x^2) y from one noisy cycle.

    dx/dt = y,   dy/dt = -x + U(x, y)      (truth: U = y - x^2 y, mu = 1)

The flow is odd under (x, y) -> (-x, -y): a reflected solution is a solution.
"""

import numpy as np

from sciml.datasets.dynamics import add_noise, van_der_pol
from sciml.dsl import Coordinate, Field, Problem, TimeInterval, Unknown

t = Coordinate("t")
x, y = Field("x", t), Field("y", t)

observations = add_noise(van_der_pol(np.linspace(0.0, 8.0, 81)), 0.02, seed=0)
reference = van_der_pol(np.linspace(0.0, 30.0, 601))

problem = Problem(
    name="van_der_pol",
    description="Van der Pol UDE: known spring, learned nonlinear damping (truth y - x^2 y)",
    domain=TimeInterval(t, 0, 30),
    equations=[x.diff(t) - y, y.diff(t) - (-x + Unknown("U", inputs=[x, y]))],
    data=observations.rename(time="t"),
    reference=reference.rename(time="t"),
)
