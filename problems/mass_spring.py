"""Mass-spring, black box: a neural ODE learns the whole vector field; energy is a declared invariant.

    dq/dt = p,   dp/dt = -q,     H = (q^2 + p^2) / 2 conserved

Data: 8 noiseless trajectories of 31 points on [0, 3] (energies as in Greydanus et al. 2019).
The flow is reversible: t -> -t with p -> -p maps solutions to solutions.
The HNN protocol with a symplectic integrator is benchmarks/dynamics_hnn.py.
"""

import numpy as np

from sciml.datasets.dynamics import mass_spring
from sciml.dsl import Conserved, Coordinate, Field, Problem, TimeInterval, Unknown

t = Coordinate("t")
q, p = Field("q", t), Field("p", t)

observations = mass_spring(8, np.linspace(0.0, 3.0, 31), seed=0)
reference = mass_spring(8, np.linspace(0.0, 20.0, 201), seed=0)

problem = Problem(
    name="mass_spring",
    description="mass-spring: learned vector field, energy declared as an invariant",
    domain=TimeInterval(t, 0, 20),
    equations=[q.diff(t) - Unknown("F", inputs=[q, p]), p.diff(t) - Unknown("G", inputs=[q, p])],
    symmetries=[Conserved((q**2 + p**2) / 2, over=[])],
    data=observations.rename(time="t"),
    reference=reference.rename(time="t"),
)
