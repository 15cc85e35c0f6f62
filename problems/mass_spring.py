"""Mass-spring, black box: a neural ODE learns the whole vector field; energy is a declared invariant.

    dq/dt = p,   dp/dt = -q,     H = (q^2 + p^2) / 2 conserved

Data: 8 noiseless trajectories of 31 points on [0, 3] (energies as in Greydanus et al. 2019).
The HNN protocol with a symplectic integrator is benchmarks/dynamics_hnn.py.
"""

import numpy as np
import sympy as sp

from sciml.datasets.dynamics import mass_spring
from sciml.dynamics import ODEProblem, TimeReversal, Unknown

q, p = sp.symbols("q p")

observations = mass_spring(8, np.linspace(0.0, 3.0, 31), seed=0)
reference = mass_spring(8, np.linspace(0.0, 20.0, 201), seed=0)

problem = ODEProblem(
    states=[q, p],
    rhs={q: Unknown("F", inputs=[q, p]), p: Unknown("G", inputs=[q, p])},
    invariants={"energy": (q**2 + p**2) / 2},
    symmetries=[TimeReversal(odd=(p,))],
    observations=observations,
    reference=reference,
    name="mass_spring",
    description="mass-spring: learned vector field, energy declared as an invariant",
)
