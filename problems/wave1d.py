"""Wave 1D: u_tt = 4 u_xx on [0,1] x [0,1], u(0)=u(1)=0, u(x,0) = sin(pi x) + 0.5 sin(4 pi x), u_t(x,0) = 0 (exact solution known)."""

from sciml.dsl import (
    Coordinate,
    Dirichlet,
    Field,
    Initial,
    Interval,
    Parameter,
    Problem,
    TimeInterval,
    cos,
    pi,
    sin,
)

x, t = Coordinate("x"), Coordinate("t")
space, time = Interval(x, 0, 1), TimeInterval(t, 0, 1)
u = Field("u", x, t)
c = Parameter("c", 2)  # wave speed

problem = Problem(
    name="wave1d",
    description=__doc__.strip().splitlines()[0],
    domain=space * time,
    equations=[u.diff(t, 2) - c**2 * u.diff(x, 2)],
    conditions=[
        # All three hold exactly: u = u0(x) + t u1(x) + t^2 x (1 - x) N(x, t).
        Initial(u, sin(pi * x) + sin(4 * pi * x) / 2, hard=True),
        Initial(u, 0, order=1, hard=True),
        Dirichlet(u, 0, on=space.boundary, hard=True),
    ],
    # d'Alembert: each standing mode sin(k pi x) oscillates at angular frequency c k pi.
    exact={u: sin(pi * x) * cos(c * pi * t) + sin(4 * pi * x) * cos(4 * c * pi * t) / 2},
)
