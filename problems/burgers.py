"""Viscous Burgers 1D: u_t + u u_x = (0.01/pi) u_xx, u0 = -sin(pi x), u(±1) = 0 (Raissi et al. 2019)."""

from sciml.datasets import load
from sciml.operators import burgers
from sciml.dsl import Coordinate, Dirichlet, Field, Initial, Interval, Parameter, Problem, Reflection, TimeInterval, pi, sin

x, t = Coordinate("x"), Coordinate("t")
space, time = Interval(x, -1, 1), TimeInterval(t, 0, 1)
u = Field("u", x, t)
nu = Parameter("nu", 0.01 / pi)

problem = Problem(
    name="burgers",
    description=__doc__.strip().splitlines()[0],
    domain=space * time,
    equations=[burgers(u, nu, x, t)],  # u_t + u u_x - nu u_xx = 0
    conditions=[
        # Imposed exactly by the output transform u = -sin(pi x) + t (1 - x^2) N(x, t).
        Initial(u, -sin(pi * x), hard=True),
        Dirichlet(u, 0, on=space.boundary, hard=True),
    ],
    # The solution is odd in x; building the symmetry into the network halves what it learns.
    symmetries=[Reflection(u, {x: -x}, sign=-1, hard=True)],
    reference=load("burgers"),  # Cole–Hopf quadrature, see datasets/burgers.py
    defaults={
        "model": "mlp",
        "mlp": {
            "model": {"hidden": (32, 32, 32, 32), "activation": "tanh"},
            "train": {"steps": 4000, "lbfgs_steps": 3000, "learning_rate": 2e-3,
                      "final_learning_rate": 2e-4, "points": {"interior": 4000},
                      "rar_every": 1000, "rar_add": 250, "resample_every": 1000},
        },
        # Chebyshev edges (cPIKAN, Shukla et al. 2024): T_n(tanh u) composes into steep fronts
        # that uniform cubic splines would need a fine grid for, and costs a sixth as much.
        "kan": {
            "model": {"hidden": (8, 8), "grid": 5, "basis": "chebyshev"},
            "train": {"steps": 3000, "lbfgs_steps": 2000, "learning_rate": 5e-3,
                      "final_learning_rate": 5e-4, "points": {"interior": 3000},
                      "rar_every": 1000, "rar_add": 250, "resample_every": 1000},
        },
    },
)
