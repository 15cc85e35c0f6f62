"""Trajectory data recipes for dynamical systems, integrated with diffrax at tight tolerance.

Every recipe returns an :class:`xarray.Dataset` with dims ``(trajectory, time)``, one data
variable per state (named like the state symbols of the matching problem file) and the
parameters in ``attrs``. Integration is Dopri8 with ``rtol = atol = 1e-10`` in float64, so the
clean data are exact to plotting and fitting precision; noise is added explicitly and
reproducibly (``seed``).

Systems: Lotka–Volterra (the UDE setting of Rackauckas et al. 2020), damped pendulum,
Lorenz (sigma=10, rho=28, beta=8/3), Van der Pol, the nonlinear oscillator of the diffrax
neural-ODE example, the mass-spring of the HNN paper (Greydanus et al. 2019) and the planar
two-body problem.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import xarray as xr

from sciml.dynamics.node import integrate_exact

__all__ = [
    "integrate_exact",
    "add_noise",
    "lotka_volterra",
    "lotka_volterra_ude_data",
    "damped_pendulum",
    "lorenz",
    "van_der_pol",
    "nonlinear_oscillator",
    "mass_spring",
    "two_body",
]


def _dataset(ts, ys, names, attrs, name) -> xr.Dataset:
    data = {n: (("trajectory", "time"), ys[..., i]) for i, n in enumerate(names)}
    ds = xr.Dataset(data, coords={"time": ts, "trajectory": np.arange(ys.shape[0])}, attrs=dict(attrs))
    ds.attrs["system"] = name
    ds.attrs["integrator"] = "diffrax Dopri8, rtol=atol=1e-10, float64"
    return ds


def add_noise(ds: xr.Dataset, level: float, *, seed: int = 0, relative_to: str = "mean") -> xr.Dataset:
    """Add Gaussian noise ``level * scale * N(0, 1)`` to every data variable.

    ``scale`` is the mean of ``|x|`` over time per trajectory (``relative_to="mean"``, the
    convention of Rackauckas et al. 2020) or the standard deviation (``"std"``).
    """
    rng = np.random.default_rng(seed)
    out = ds.copy(deep=True)
    for name in ds.data_vars:
        v = ds[name]
        scale = abs(v).mean("time") if relative_to == "mean" else v.std("time")
        out[name] = v + level * scale * xr.DataArray(rng.standard_normal(v.shape), dims=v.dims)
    out.attrs["noise"] = f"{level:g} x {relative_to} (Gaussian, seed {seed})"
    return out


# ----------------------------------------------------------------------------- systems
def lotka_volterra(
    ts: np.ndarray | None = None,
    u0: Sequence[Sequence[float]] = ((0.4425, 4.6281),),
    alpha: float = 1.3,
    beta: float = 0.9,
    gamma: float = 0.8,
    delta: float = 1.8,
) -> xr.Dataset:
    """``x' = alpha x - beta x y``, ``y' = gamma x y - delta y`` (prey ``x``, predator ``y``)."""
    import jax.numpy as jnp

    ts = np.linspace(0.0, 3.0, 31) if ts is None else np.asarray(ts, float)

    def f(t, u, a):
        x, y = u[0], u[1]
        return jnp.stack([alpha * x - beta * x * y, gamma * x * y - delta * y])

    ys = integrate_exact(f, np.asarray(u0), ts)
    return _dataset(ts, ys, ["x", "y"], dict(alpha=alpha, beta=beta, gamma=gamma, delta=delta), "lotka_volterra")


def lotka_volterra_ude_data(noise: float = 0.05, seed: int = 0, t_end: float = 3.0, n_points: int = 31) -> tuple[xr.Dataset, xr.Dataset]:
    """The UDE experiment of Rackauckas et al. 2020: (noisy 31 points on [0, 3], clean reference to t=50)."""
    obs = add_noise(lotka_volterra(np.linspace(0.0, t_end, n_points)), noise, seed=seed)
    ref = lotka_volterra(np.linspace(0.0, 50.0, 1001))
    return obs, ref


def damped_pendulum(
    ts: np.ndarray | None = None,
    u0: Sequence[Sequence[float]] = ((1.0, 0.0),),
    damping: float = 0.1,
    omega: float = 1.0,
    forcing: float = 0.0,
    forcing_freq: float = 0.8,
) -> xr.Dataset:
    """``theta'' = -omega^2 sin(theta) - damping theta' + forcing cos(forcing_freq t)``; states ``theta, omega_``."""
    import jax.numpy as jnp

    ts = np.linspace(0.0, 20.0, 201) if ts is None else np.asarray(ts, float)

    def f(t, u, a):
        th, w = u[0], u[1]
        return jnp.stack([w, -(omega**2) * jnp.sin(th) - damping * w + forcing * jnp.cos(forcing_freq * t)])

    ys = integrate_exact(f, np.asarray(u0), ts)
    attrs = dict(damping=damping, omega=omega, forcing=forcing, forcing_freq=forcing_freq)
    return _dataset(ts, ys, ["theta", "omega"], attrs, "damped_pendulum")


def lorenz(
    ts: np.ndarray | None = None,
    u0: Sequence[Sequence[float]] = ((-8.0, 8.0, 27.0),),
    sigma: float = 10.0,
    rho: float = 28.0,
    beta: float = 8.0 / 3.0,
) -> xr.Dataset:
    """``x' = sigma (y - x)``, ``y' = x (rho - z) - y``, ``z' = x y - beta z``."""
    import jax.numpy as jnp

    ts = np.arange(0.0, 10.0, 0.002) if ts is None else np.asarray(ts, float)

    def f(t, u, a):
        x, y, z = u[0], u[1], u[2]
        return jnp.stack([sigma * (y - x), x * (rho - z) - y, x * y - beta * z])

    ys = integrate_exact(f, np.asarray(u0), ts)
    return _dataset(ts, ys, ["x", "y", "z"], dict(sigma=sigma, rho=rho, beta=beta), "lorenz")


def van_der_pol(
    ts: np.ndarray | None = None, u0: Sequence[Sequence[float]] = ((2.0, 0.0),), mu: float = 1.0
) -> xr.Dataset:
    """``x' = y``, ``y' = mu (1 - x^2) y - x``."""
    import jax.numpy as jnp

    ts = np.linspace(0.0, 20.0, 401) if ts is None else np.asarray(ts, float)

    def f(t, u, a):
        x, y = u[0], u[1]
        return jnp.stack([y, mu * (1 - x**2) * y - x])

    ys = integrate_exact(f, np.asarray(u0), ts)
    return _dataset(ts, ys, ["x", "y"], dict(mu=mu), "van_der_pol")


def nonlinear_oscillator(n_trajectories: int = 256, ts: np.ndarray | None = None, seed: int = 0) -> xr.Dataset:
    """The diffrax neural-ODE example: ``z = y / (1 + y)``, ``y' = (z_2, -z_1)``; ``y0 ~ U(-0.6, 1)^2``."""
    import jax.numpy as jnp

    ts = np.linspace(0.0, 10.0, 100) if ts is None else np.asarray(ts, float)
    y0 = np.random.default_rng(seed).uniform(-0.6, 1.0, (n_trajectories, 2))

    def f(t, y, a):
        z = y / (1 + y)
        return jnp.stack([z[1], -z[0]])

    ys = integrate_exact(f, y0, ts)
    return _dataset(ts, ys, ["y1", "y2"], {}, "nonlinear_oscillator")


def mass_spring(
    n_trajectories: int = 25,
    ts: np.ndarray | None = None,
    seed: int = 0,
    k: float = 1.0,
    m: float = 1.0,
    radius: tuple[float, float] = (0.1, 1.0),
) -> xr.Dataset:
    """``H = p^2 / (2m) + k q^2 / 2``; initial energies as in Greydanus et al. 2019.

    Initial states lie on circles of radius ``r ~ U(radius)`` in the ``(q, p)`` plane.
    """
    import jax.numpy as jnp

    ts = np.linspace(0.0, 3.0, 31) if ts is None else np.asarray(ts, float)
    rng = np.random.default_rng(seed)
    ang = rng.uniform(0, 2 * np.pi, n_trajectories)
    r = rng.uniform(*radius, n_trajectories)
    y0 = np.stack([r * np.cos(ang), r * np.sin(ang)], -1)

    def f(t, u, a):
        return jnp.stack([u[1] / m, -k * u[0]])

    ys = integrate_exact(f, y0, ts)
    return _dataset(ts, ys, ["q", "p"], dict(k=k, m=m), "mass_spring")


def two_body(
    ts: np.ndarray | None = None,
    u0: Sequence[Sequence[float]] = ((1.0, 0.0, 0.0, 0.8),),
    G: float = 1.0,
    M: float = 1.0,
) -> xr.Dataset:
    """Planar Kepler problem in relative coordinates: ``r'' = -G M r / |r|^3``.

    States ``qx, qy, px, py`` (unit reduced mass); energy ``|p|^2/2 - G M / |q|`` and angular
    momentum ``qx py - qy px`` are conserved.
    """
    import jax.numpy as jnp

    ts = np.linspace(0.0, 20.0, 401) if ts is None else np.asarray(ts, float)

    def f(t, u, a):
        qx, qy, px, py = u[0], u[1], u[2], u[3]
        r3 = (qx**2 + qy**2) ** 1.5
        return jnp.stack([px, py, -G * M * qx / r3, -G * M * qy / r3])

    ys = integrate_exact(f, np.asarray(u0), ts)
    return _dataset(ts, ys, ["qx", "qy", "px", "py"], dict(G=G, M=M), "two_body")
