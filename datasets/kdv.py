r"""Korteweg–de Vries reference solution by a Fourier spectral ETDRK4 solve.

The KdV problem of the PINN literature (Raissi et al. 2019, section 4.2; Zabusky & Kruskal
1965 with :math:`\delta = 0.022`)

.. math::

    u_t + u\,u_x + \delta^2 u_{xxx} = 0, \qquad x \in [-1, 1] \text{ periodic},\ t \in [0, 1],
    \qquad u(x, 0) = \cos(\pi x),

is solved in Fourier space, :math:`\hat u_t = i\delta^2 k^3\,\hat u - \tfrac{ik}{2}
\widehat{u^2}`, with the dispersive part exact (ETDRK4, :mod:`sciml.datasets.spectral`) and
the quadratic term dealiased by the 2/3 rule. The cosine steepens and breaks into a train of
solitons by :math:`t = 1`.

Accuracy is measured by :func:`verify`: the solve against one with twice the modes
(spatial error) and one with half the time step (temporal error), and the drift of the two
invariants :math:`\int u\,dx` and :math:`\int u^2\,dx`. The figures of the shipped file are in
its attributes.

References:
    Zabusky, Kruskal (1965), "Interaction of 'solitons' in a collisionless plasma", PRL 15.
    Raissi, Perdikaris, Karniadakis (2019), "Physics-informed neural networks", JCP 378.
    Kassam, Trefethen (2005), "Fourth-order time-stepping for stiff PDEs", SISC 26.
"""

from __future__ import annotations

import numpy as np
import xarray as xr
from sciml.datasets.record import space_time_dataset
from sciml.datasets.spectral import etdrk4, fourier_interpolate, refinement_study, wavenumbers

DELTA = 0.022
"""Dispersion length :math:`\\delta` (the equation's coefficient is :math:`\\delta^2`)."""

LOWER, PERIOD, T_END = -1.0, 2.0, 1.0
MODES, DT = 512, 1e-4
"""Grid points and time step of the shipped solve (see :func:`verify` for their errors)."""

__all__ = ["DELTA", "DT", "MODES", "kdv_reference", "kdv_solve", "verify"]


def kdv_solve(times, *, modes: int = MODES, dt: float = DT, delta: float = DELTA) -> np.ndarray:
    """rfft coefficients ``(len(times), modes // 2 + 1)`` of the solution at ``times``."""
    x = LOWER + PERIOD * np.arange(modes) / modes
    k = wavenumbers(modes, PERIOD, real=True)
    dealias = np.arange(k.size) < modes // 3
    linear = 1j * delta**2 * k**3
    g = -0.5j * k * dealias

    def nonlinear(v):
        u = np.fft.irfft(v, n=modes)
        return g * np.fft.rfft(u * u)

    return etdrk4(linear, nonlinear, np.fft.rfft(np.cos(np.pi * x)), dt, np.asarray(times, float))


def _evaluate(coefficients: np.ndarray, x: np.ndarray, modes: int) -> np.ndarray:
    return fourier_interpolate(coefficients, x, lower=LOWER, period=PERIOD, n=modes, real=True)


def kdv_reference(nx: int = 257, nt: int = 101, *, modes: int = MODES, dt: float = DT) -> xr.Dataset:
    """The solution on ``nx`` points of [-1, 1] (both ends) x ``nt`` times of [0, 1]."""
    x = np.linspace(LOWER, LOWER + PERIOD, nx)
    t = np.linspace(0.0, T_END, nt)
    u = _evaluate(kdv_solve(t, modes=modes, dt=dt), x, modes).T
    return space_time_dataset(
        {"u": (u, "wave amplitude")}, x, t,
        attrs={
            "title": "Korteweg-de Vries reference solution",
            "equation": "u_t + u*u_x + delta**2*u_xxx = 0",
            "domain": "x in [-1, 1] periodic, t in [0, 1]",
            "initial_condition": "u(x, 0) = cos(pi*x)",
            "delta": DELTA,
            "method": (
                f"Fourier pseudo-spectral, {modes} modes, 2/3-rule dealiasing, ETDRK4 "
                f"(Kassam-Trefethen contour coefficients), dt = {dt}, float64; Fourier "
                "interpolation onto this grid"
            ),
            "references": "Zabusky & Kruskal (1965) PRL 15; Raissi et al. (2019) JCP 378; "
                          "Kassam & Trefethen (2005) SISC 26",
        },
    )


def verify(nx: int = 257, nt: int = 101) -> dict[str, float]:
    """Errors of the shipped discretisation on its grid (max absolute differences; |u| <= ~3):

    * ``modes_doubled``: vs ``2 * MODES`` modes (same step) — the spatial error;
    * ``dt_halved``: vs ``DT / 2`` (same modes) — the temporal error;
    * ``modes_halved``, ``dt_doubled``: the same for the coarser discretisations, showing the
      convergence rates;
    * ``mass_drift``, ``energy_drift``: relative change of :math:`\\int u` and
      :math:`\\int u^2` from t = 0 to t = 1 (both invariants of KdV).
    """
    x = np.linspace(LOWER, LOWER + PERIOD, nx)
    t = np.linspace(0.0, T_END, nt)
    figures = refinement_study(lambda m, f: _evaluate(kdv_solve(t, modes=m, dt=DT * f), x, m), MODES)
    grid = kdv_solve(np.array([0.0, T_END]))
    u = np.fft.irfft(grid, n=MODES, axis=-1)
    figures["mass_drift"] = abs(u[1].mean() - u[0].mean())  # the initial mean is 0
    figures["energy_drift"] = abs((u[1] ** 2).mean() / (u[0] ** 2).mean() - 1)
    return {k: float(v) for k, v in figures.items()}


if __name__ == "__main__":  # regenerate the shipped file: python -m sciml.datasets.kdv
    from sciml.datasets.record import write_verified

    figures = verify()
    write_verified(
        kdv_reference(), "kdv", figures, max(figures["modes_doubled"], figures["dt_halved"]),
        "max |u - u'| on this grid against the same solve with twice the modes "
        "(verified_modes_doubled) and half the step (verified_dt_halved); the coarser "
        "verified_modes_halved and verified_dt_doubled show the convergence; drift of the "
        "invariants int u dx and int u^2 dx over [0, 1] (verified_mass_drift, absolute; "
        "verified_energy_drift, relative)",
    )
