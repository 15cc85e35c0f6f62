"""Fisher–KPP universal PDE: learn the reaction term R(u) of a travelling front from noisy snapshots (truth u(1 - u)).

    u_t = D u_xx + R(u),   x in [0, 1], t in [0, 3],   u_x = 0 at both walls,

with the diffusivity D = 0.01 known and the reaction R unknown: a network of u, trained with
the field from data and physics. The data are 13 snapshots (t = 0, 0.25, ..., 3) of the
reference solution (sciml.datasets.fisher_kpp: method of lines, Radau) on 101 points each,
with Gaussian noise of 1% of the field's standard deviation (fixed seed: the data are part of
the problem). ``--symbolify`` distils R into a closed form in u:

    sciml solve problems/fisher_kpp_ude.py --model kan --symbolify
"""

import numpy as np
import xarray as xr

from sciml.datasets import load
from sciml.dsl import (
    Coordinate,
    Field,
    Initial,
    Interval,
    Neumann,
    Parameter,
    Problem,
    TimeInterval,
    Unknown,
    tanh,
)

reference = load("fisher_kpp")

rng = np.random.default_rng(2024)
snapshots = reference.isel(t=slice(0, None, 4))  # every 0.25 in time
values = snapshots["u"].values
noisy = values + 0.01 * values.std() * rng.standard_normal(values.shape)
observations = xr.Dataset({"u": (("x", "t"), noisy)}, coords={"x": snapshots.x.values, "t": snapshots.t.values},
                          attrs={"noise": "1% of std(u), Gaussian"})

x, t = Coordinate("x"), Coordinate("t")
space, time = Interval(x, 0, 1), TimeInterval(t, 0, float(reference.t.values[-1]))
u = Field("u", x, t)
D = Parameter("D", float(reference.attrs["D"]))
R = Unknown("R", inputs=[u])

problem = Problem(
    name="fisher_kpp_ude",
    description=__doc__.strip().splitlines()[0],
    domain=space * time,
    equations=[u.diff(t) - D * u.diff(x, 2) - R],
    conditions=[Initial(u, (1 - tanh((x - 0.2) / 0.05)) / 2), Neumann(u, 0, on=space.boundary)],
    data=observations,
    reference=reference,
)
