"""Poisson 2D of the KAN paper: u_xx + u_yy = f on [-1,1]^2, u = 0 on the boundary; exact u = sin(pi x) sin(pi y^2)."""

from sciml.dsl import Coordinate, Dirichlet, Field, Problem, Rectangle, diff, pi, sin
from sciml.operators import laplacian

x, y = Coordinate("x"), Coordinate("y")
square = Rectangle(x, y, (-1, 1), (-1, 1))
u = Field("u", x, y)
exact = sin(pi * x) * sin(pi * y**2)
forcing = diff(exact, x, 2) + diff(exact, y, 2)  # derived, not typed in

problem = Problem(
    name="poisson2d",
    description=__doc__.strip().splitlines()[0],
    domain=square,
    equations=[laplacian(u, [x, y]) - forcing],
    conditions=[Dirichlet(u, 0, on=square.boundary, hard=True)],
    exact={u: exact},
    defaults={
        "model": "mlp",
        "mlp": {
            "model": {"hidden": (32, 32, 32)},
            "train": {"steps": 3000, "lbfgs_steps": 2000, "learning_rate": 2e-3, "final_learning_rate": 2e-4,
                      "points": {"interior": 2000}},
        },
        # The KAN paper's [2, 10, 1] network, 300 parameters. L-BFGS with a long memory does
        # most of the work once Adam has found the basin.
        "kan": {
            "model": {"hidden": (10,), "grid": 5},
            "train": {"steps": 2000, "lbfgs_steps": 3000, "lbfgs_memory": 50, "learning_rate": 1e-2,
                      "final_learning_rate": 1e-3, "points": {"interior": 1500}},
        },
    },
)
