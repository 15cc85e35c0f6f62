"""Burgers inverse problem: identify the viscosity (true 0.01/pi) from 2000 scattered observations with 1% noise."""

import numpy as np
import xarray as xr

from sciml.datasets import load
from sciml.dsl import Coordinate, Dirichlet, Field, Initial, Interval, Parameter, Problem, TimeInterval, pi, sin
from sciml.operators import burgers

reference = load("burgers")

# Observations: 2000 points drawn from the reference grid, with Gaussian noise of 1% of the
# field's standard deviation (Raissi et al. 2019 use the same protocol). Fixed seed: the data
# are part of the problem definition.
rng = np.random.default_rng(1234)
xi = rng.integers(0, reference.sizes["x"], 2000)
ti = rng.integers(0, reference.sizes["t"], 2000)
values = reference["u"].values[xi, ti]
noisy = values + 0.01 * values.std() * rng.standard_normal(values.shape)
observations = xr.Dataset(
    {"u": ("point", noisy)},
    coords={"x": ("point", reference["x"].values[xi]), "t": ("point", reference["t"].values[ti])},
    attrs={"noise": "1% of std(u), Gaussian"},
)

x, t = Coordinate("x"), Coordinate("t")
space, time = Interval(x, -1, 1), TimeInterval(t, 0, 1)
u = Field("u", x, t)
# Unknown, learned in log space so it stays positive; the initial guess is 3x too large.
nu = Parameter("nu", 0.01, learn=True, positive=True)

problem = Problem(
    name="burgers_inverse",
    description=__doc__.strip().splitlines()[0],
    domain=space * time,
    equations=[burgers(u, nu, x, t)],
    conditions=[Initial(u, -sin(pi * x), hard=True), Dirichlet(u, 0, on=space.boundary, hard=True)],
    data=observations,
    reference=reference,
)

#: The value used to make the data, for reporting the identification error.
TRUE_NU = float(0.01 / np.pi)
