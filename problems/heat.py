"""Heat 1D: u_t = 0.1 u_xx on [0,1], u(0)=u(1)=0, u0 = sin(pi x) + 0.5 sin(3 pi x) (exact solution known)."""

from sciml.dsl import Coordinate, Dirichlet, Field, Initial, Interval, Parameter, Problem, TimeInterval, exp, pi, sin
from sciml.operators import diffusion

x, t = Coordinate("x"), Coordinate("t")
space, time = Interval(x, 0, 1), TimeInterval(t, 0, 1)
u = Field("u", x, t)
kappa = Parameter("kappa", 0.1)

problem = Problem(
    name="heat",
    description=__doc__.strip().splitlines()[0],
    domain=space * time,
    equations=[u.diff(t) - diffusion(u, kappa, [x])],
    conditions=[
        Initial(u, sin(pi * x) + sin(3 * pi * x) / 2),
        Dirichlet(u, 0, on=space.boundary),
    ],
    exact={u: exp(-pi**2 * kappa * t) * sin(pi * x) + exp(-9 * pi**2 * kappa * t) * sin(3 * pi * x) / 2},
)
