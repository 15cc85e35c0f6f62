r"""Allen–Cahn reference solution by a Fourier spectral ETDRK4 solve.

The Allen–Cahn problem of the PINN literature (Raissi et al. 2019, section 4.1.2; the
causal-training benchmark of Wang, Sankaran & Perdikaris 2022)

.. math::

    u_t = \varepsilon\,u_{xx} + 5u - 5u^3, \qquad x \in [-1, 1] \text{ periodic},\ t \in [0, 1],
    \qquad u(x, 0) = x^2 \cos(\pi x),\ \varepsilon = 10^{-4},

is solved in Fourier space, :math:`\hat u_t = (5 - \varepsilon k^2)\,\hat u - 5\,\widehat{u^3}`,
with the linear part exact (ETDRK4, :mod:`sciml.datasets.spectral`) and the cubic term
dealiased by the 1/2 rule (a cubic needs it where a quadratic needs 2/3). The initial data
are continuous across the period but their slope is not (``u_x(±1, 0) = ∓2``): diffusion
rounds that corner within a layer of width ~ sqrt(ε t), which the grid resolves. The solution
settles into flat phases ``u = ±1`` separated by sharp interfaces.

Accuracy is measured by :func:`verify`: the solve against one with twice the modes (spatial
error) and one with half the time step (temporal error). The figures of the shipped file are
in its attributes.

References:
    Allen, Cahn (1979), Acta Metallurgica 27, 1085-1095.
    Raissi, Perdikaris, Karniadakis (2019), "Physics-informed neural networks", JCP 378.
    Kassam, Trefethen (2005), "Fourth-order time-stepping for stiff PDEs", SISC 26.
"""

from __future__ import annotations

import numpy as np
import xarray as xr
from sciml.datasets.record import space_time_dataset
from sciml.datasets.spectral import etdrk4, fourier_interpolate, refinement_study, wavenumbers

EPSILON = 1e-4
"""Diffusion coefficient :math:`\\varepsilon`."""

LOWER, PERIOD, T_END = -1.0, 2.0, 1.0
MODES, DT = 1024, 1e-4
"""Grid points and time step of the shipped solve (see :func:`verify` for their errors)."""

__all__ = ["DT", "EPSILON", "MODES", "allen_cahn_reference", "allen_cahn_solve", "verify"]


def allen_cahn_solve(times, *, modes: int = MODES, dt: float = DT, epsilon: float = EPSILON) -> np.ndarray:
    """rfft coefficients ``(len(times), modes // 2 + 1)`` of the solution at ``times``."""
    x = LOWER + PERIOD * np.arange(modes) / modes
    k = wavenumbers(modes, PERIOD, real=True)
    dealias = np.arange(k.size) < modes // 4
    linear = 5.0 - epsilon * k**2

    def nonlinear(v):
        u = np.fft.irfft(v, n=modes)
        return -5.0 * dealias * np.fft.rfft(u**3)

    return etdrk4(linear, nonlinear, np.fft.rfft(x**2 * np.cos(np.pi * x)), dt, np.asarray(times, float))


def _evaluate(coefficients: np.ndarray, x: np.ndarray, modes: int) -> np.ndarray:
    return fourier_interpolate(coefficients, x, lower=LOWER, period=PERIOD, n=modes, real=True)


def allen_cahn_reference(nx: int = 257, nt: int = 101, *, modes: int = MODES, dt: float = DT) -> xr.Dataset:
    """The solution on ``nx`` points of [-1, 1] (both ends) x ``nt`` times of [0, 1]."""
    x = np.linspace(LOWER, LOWER + PERIOD, nx)
    t = np.linspace(0.0, T_END, nt)
    u = _evaluate(allen_cahn_solve(t, modes=modes, dt=dt), x, modes).T
    return space_time_dataset(
        {"u": (u, "order parameter")}, x, t,
        attrs={
            "title": "Allen-Cahn reference solution",
            "equation": "u_t = epsilon*u_xx + 5*u - 5*u**3",
            "domain": "x in [-1, 1] periodic, t in [0, 1]",
            "initial_condition": "u(x, 0) = x**2*cos(pi*x)",
            "epsilon": EPSILON,
            "method": (
                f"Fourier pseudo-spectral, {modes} modes, 1/2-rule dealiasing of the cubic, ETDRK4 "
                f"(Kassam-Trefethen contour coefficients), dt = {dt}, float64; Fourier "
                "interpolation onto this grid"
            ),
            "references": "Allen & Cahn (1979) Acta Metall. 27; Raissi et al. (2019) JCP 378; "
                          "Kassam & Trefethen (2005) SISC 26",
        },
    )


def verify(nx: int = 257, nt: int = 101) -> dict[str, float]:
    """Errors of the shipped discretisation on its grid (max absolute differences; |u| <= 1):

    * ``modes_doubled``: vs ``2 * MODES`` modes (same step) — the spatial error; it peaks at
      t = 0.01 at x = ±1, where the start's slope jump is still a corner a few grid points
      wide (``rel_l2_modes_doubled``: the same as a relative L2 error over the whole grid);
    * ``dt_halved``: vs ``DT / 2`` (same modes) — the temporal error;
    * ``modes_halved``, ``dt_doubled``: the same for the coarser discretisations, showing the
      convergence rates.
    """
    x = np.linspace(LOWER, LOWER + PERIOD, nx)
    t = np.linspace(0.0, T_END, nt)
    return refinement_study(lambda m, f: _evaluate(allen_cahn_solve(t, modes=m, dt=DT * f), x, m), MODES)


if __name__ == "__main__":  # regenerate the shipped file: python -m sciml.datasets.allen_cahn
    from sciml.datasets.record import write_verified

    figures = verify()
    write_verified(
        allen_cahn_reference(), "allen_cahn", figures, max(figures["modes_doubled"], figures["dt_halved"]),
        "max |u - u'| on this grid against the same solve with twice the modes "
        "(verified_modes_doubled; at t = 0.01, x = +-1, where the start's slope jump is still "
        "a corner; verified_rel_l2_modes_doubled over the whole grid) and half the step "
        "(verified_dt_halved); the coarser verified_modes_halved and verified_dt_doubled show "
        "the convergence",
    )
