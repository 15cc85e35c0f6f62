"""Damped pendulum UDE: known gravity, learned friction from two irregularly sampled noisy swings.

    dtheta/dt = omega
    domega/dt = -sin(theta) + U(omega)          (truth: U = -0.1 omega)

Observations: two trajectories (theta0 = 1.0 and 2.0 rad, from rest) sampled at 40 random
times on [0, 15] each (shared time axis, NaN where a trajectory has no sample), 1% noise.
The flow is odd under (theta, omega) -> (-theta, -omega).
"""

import numpy as np
import xarray as xr

from sciml.datasets.dynamics import add_noise, damped_pendulum
from sciml.dsl import Coordinate, Field, Problem, TimeInterval, Unknown, sin

t = Coordinate("t")
theta, omega = Field("theta", t), Field("omega", t)

_t = np.linspace(0.0, 15.0, 151)
_clean = damped_pendulum(_t, [[1.0, 0.0], [2.0, 0.0]], damping=0.1)
_noisy = add_noise(_clean, 0.01, seed=0)
_rng = np.random.default_rng(1)
_keep = np.zeros((2, len(_t)), bool)
_keep[:, 0] = True
for _b in range(2):
    _keep[_b, _rng.choice(np.arange(1, len(_t)), 39, replace=False)] = True
observations = _noisy.where(xr.DataArray(_keep, dims=("trajectory", "time"))).isel(time=np.flatnonzero(_keep.any(0)))
reference = damped_pendulum(np.linspace(0.0, 30.0, 301), [[1.0, 0.0], [2.0, 0.0]], damping=0.1)

problem = Problem(
    name="pendulum",
    description="damped pendulum UDE: known gravity, learned friction (truth -0.1 omega), irregular samples",
    domain=TimeInterval(t, 0, 30),
    equations=[theta.diff(t) - omega, omega.diff(t) - (-sin(theta) + Unknown("U", inputs=[omega]))],
    data=observations.rename(time="t"),
    reference=reference.rename(time="t"),
)
