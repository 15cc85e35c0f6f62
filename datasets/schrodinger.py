r"""Nonlinear Schrödinger reference solution by a Fourier spectral ETDRK4 solve.

The focusing cubic NLS of the PINN literature (Raissi et al. 2019, section 3.1.1)

.. math::

    i h_t + \tfrac12 h_{xx} + |h|^2 h = 0, \qquad x \in [-5, 5] \text{ periodic},\
    t \in [0, \pi/2], \qquad h(x, 0) = 2\,\mathrm{sech}(x),

with :math:`h = u + i v`. The initial profile is twice a soliton's, so the solution is the
periodically "breathing" 2-soliton bound state (Satsuma & Yajima 1974): it focuses into a
sharp peak near :math:`t = \pi/4` and spreads again. In Fourier space
:math:`\hat h_t = -\tfrac{i}{2} k^2 \hat h + i\,\widehat{|h|^2 h}`; the dispersive part is
exact (ETDRK4, :mod:`sciml.datasets.spectral`).

Accuracy is measured by :func:`verify`: the solve against one with twice the modes and one
with half the time step, and the drift of the mass :math:`\int |h|^2` and the Hamiltonian
:math:`\int (\tfrac12|h_x|^2 - \tfrac12|h|^4)` (both invariants). The figures of the shipped
file are in its attributes.

References:
    Satsuma, Yajima (1974), "Initial value problems of one-dimensional self-modulation of
    nonlinear waves in dispersive media", Prog. Theor. Phys. Suppl. 55.
    Raissi, Perdikaris, Karniadakis (2019), "Physics-informed neural networks", JCP 378.
    Kassam, Trefethen (2005), "Fourth-order time-stepping for stiff PDEs", SISC 26.
"""

from __future__ import annotations

import math

import numpy as np
import xarray as xr
from sciml.datasets.record import space_time_dataset
from sciml.datasets.spectral import etdrk4, fourier_interpolate, refinement_study, wavenumbers

LOWER, PERIOD, T_END = -5.0, 10.0, math.pi / 2
MODES, STEPS = 512, 10000
"""Grid points and number of time steps over [0, pi/2] of the shipped solve."""

__all__ = ["MODES", "STEPS", "nls_reference", "nls_solve", "verify"]


def nls_solve(n_times: int, *, modes: int = MODES, steps: int = STEPS) -> np.ndarray:
    """fft coefficients ``(n_times, modes)`` at ``n_times`` equispaced times of [0, pi/2].

    ``steps`` must be a multiple of ``n_times - 1`` so every output time is on the step grid.
    """
    if steps % (n_times - 1):
        raise ValueError(f"steps ({steps}) must be a multiple of n_times - 1 ({n_times - 1})")
    dt = T_END / steps
    x = LOWER + PERIOD * np.arange(modes) / modes
    k = wavenumbers(modes, PERIOD, real=False)

    def nonlinear(v):
        h = np.fft.ifft(v)
        return 1j * np.fft.fft(np.abs(h) ** 2 * h)

    times = dt * (steps // (n_times - 1)) * np.arange(n_times)
    return etdrk4(-0.5j * k**2, nonlinear, np.fft.fft(2 / np.cosh(x)), dt, times)


def _evaluate(coefficients: np.ndarray, x: np.ndarray, modes: int) -> np.ndarray:
    return fourier_interpolate(coefficients, x, lower=LOWER, period=PERIOD, n=modes, real=False)


def nls_reference(nx: int = 257, nt: int = 101, *, modes: int = MODES, steps: int = STEPS) -> xr.Dataset:
    """``u = Re h`` and ``v = Im h`` on ``nx`` points of [-5, 5] (both ends) x ``nt`` times."""
    x = np.linspace(LOWER, LOWER + PERIOD, nx)
    t = np.linspace(0.0, T_END, nt)
    h = _evaluate(nls_solve(nt, modes=modes, steps=steps), x, modes).T
    return space_time_dataset(
        {"u": (h.real, "real part of h"), "v": (h.imag, "imaginary part of h")}, x, t,
        attrs={
            "title": "Nonlinear Schroedinger reference solution",
            "equation": "i*h_t + 0.5*h_xx + |h|**2*h = 0, h = u + i*v",
            "domain": "x in [-5, 5] periodic, t in [0, pi/2]",
            "initial_condition": "h(x, 0) = 2*sech(x)",
            "method": (
                f"Fourier pseudo-spectral, {modes} modes, ETDRK4 (contour coefficients), "
                f"{steps} steps of pi/2/{steps}, float64; Fourier interpolation onto this grid"
            ),
            "references": "Satsuma & Yajima (1974); Raissi et al. (2019) JCP 378; "
                          "Kassam & Trefethen (2005) SISC 26",
        },
    )


def _invariants(coefficients: np.ndarray, modes: int) -> tuple[np.ndarray, np.ndarray]:
    h = np.fft.ifft(coefficients, axis=-1)
    hx = np.fft.ifft(1j * wavenumbers(modes, PERIOD, real=False) * coefficients, axis=-1)
    dx = PERIOD / modes
    mass = np.sum(np.abs(h) ** 2, axis=-1) * dx
    hamiltonian = np.sum(0.5 * np.abs(hx) ** 2 - 0.5 * np.abs(h) ** 4, axis=-1) * dx
    return mass, hamiltonian


def verify(nx: int = 257, nt: int = 101) -> dict[str, float]:
    """Errors of the shipped discretisation on its grid (max |h - h'|; max |h| is about 4):

    * ``modes_doubled`` / ``modes_halved``: vs twice / half the modes (same step);
    * ``dt_halved`` / ``dt_doubled``: vs half / twice the step (same modes);
    * ``mass_drift``, ``hamiltonian_drift``: largest relative change of the invariants over
      the output times.
    """
    x = np.linspace(LOWER, LOWER + PERIOD, nx)
    figures = refinement_study(lambda m, f: _evaluate(nls_solve(nt, modes=m, steps=round(STEPS / f)), x, m), MODES)
    mass, hamiltonian = _invariants(nls_solve(nt), MODES)
    figures["mass_drift"] = np.abs(mass / mass[0] - 1).max()
    figures["hamiltonian_drift"] = np.abs(hamiltonian / hamiltonian[0] - 1).max()
    return {k: float(v) for k, v in figures.items()}


if __name__ == "__main__":  # regenerate the shipped file: python -m sciml.datasets.schrodinger
    from sciml.datasets.record import write_verified

    figures = verify()
    write_verified(
        nls_reference(), "schrodinger", figures, max(figures["modes_doubled"], figures["dt_halved"]),
        "max |h - h'| on this grid against the same solve with twice the modes "
        "(verified_modes_doubled) and half the step (verified_dt_halved); the coarser "
        "verified_modes_halved and verified_dt_doubled show the convergence; largest relative "
        "drift of the invariants int |h|^2 and int (|h_x|^2 - |h|^4)/2 (verified_mass_drift, "
        "verified_hamiltonian_drift)",
    )
