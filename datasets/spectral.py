r"""Fourier pseudo-spectral tools for periodic evolution equations ``v' = L v + N(v)``.

In Fourier space a periodic PDE splits into a diagonal linear part :math:`L` (dispersion,
diffusion: stiff at high wavenumbers) and a nonlinear part :math:`N` evaluated on the grid.
:func:`etdrk4` integrates it with the fourth-order exponential time-differencing Runge–Kutta
scheme of Cox & Matthews (2002), whose coefficients :math:`\varphi_k(hL)` are computed by
contour integrals so that they stay accurate where :math:`hL \to 0` (Kassam & Trefethen
2005, eqs. 2.5 and section 3). :math:`L` may be complex (dispersive equations).

References:
    Cox, Matthews (2002), "Exponential time differencing for stiff systems", JCP 176.
    Kassam, Trefethen (2005), "Fourth-order time-stepping for stiff PDEs", SISC 26.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

__all__ = ["etdrk4", "fourier_interpolate", "refinement_study", "wavenumbers"]


def wavenumbers(n: int, period: float, real: bool) -> np.ndarray:
    """Angular wavenumbers ``2 pi m / period`` of an ``n``-point grid (rfft or fft order)."""
    freq = np.fft.rfftfreq(n, d=1.0 / n) if real else np.fft.fftfreq(n, d=1.0 / n)
    return 2 * np.pi * freq / period


def etdrk4(
    linear: np.ndarray,
    nonlinear: Callable[[np.ndarray], np.ndarray],
    v0: np.ndarray,
    dt: float,
    times: np.ndarray,
    contour_points: int = 64,
) -> np.ndarray:
    """Integrate ``v' = linear * v + nonlinear(v)`` from ``v(0) = v0``; snapshots at ``times``.

    Args:
        linear: the diagonal of :math:`L` (Fourier space), real or complex.
        nonlinear: ``v -> N(v)`` in Fourier space.
        v0: initial Fourier coefficients.
        dt: time step; every output time must be a multiple of it.
        times: non-decreasing output times ``>= 0``.
        contour_points: points of the contour integrals for the coefficients.

    Returns:
        ``(len(times), len(v0))`` complex array of Fourier coefficients.
    """
    times = np.asarray(times, dtype=np.float64)
    steps = np.rint(times / dt).astype(int)
    if np.any(np.abs(steps * dt - times) > 1e-9 * max(1.0, float(np.max(np.abs(times))))):
        raise ValueError(f"output times must be multiples of dt = {dt}")
    lh = dt * np.asarray(linear, dtype=np.complex128)
    # The whole circle around each hL: Kassam & Trefethen's upper half-circle with a real part
    # taken is only valid for real L.
    roots = np.exp(2j * np.pi * (np.arange(1, contour_points + 1) - 0.5) / contour_points)
    lr = lh[:, None] + roots[None, :]
    e, e2 = np.exp(lh), np.exp(lh / 2)
    q = dt * np.mean((np.exp(lr / 2) - 1) / lr, axis=1)
    f1 = dt * np.mean((-4 - lr + np.exp(lr) * (4 - 3 * lr + lr**2)) / lr**3, axis=1)
    f2 = dt * np.mean((2 + lr + np.exp(lr) * (-2 + lr)) / lr**3, axis=1)
    f3 = dt * np.mean((-4 - 3 * lr - lr**2 + np.exp(lr) * (4 - lr)) / lr**3, axis=1)
    if np.isrealobj(linear):  # conjugate halves of the contour cancel: drop the rounding
        q, f1, f2, f3 = (np.real(c) for c in (q, f1, f2, f3))

    v = np.asarray(v0, dtype=np.complex128).copy()
    out = np.empty((len(times), len(v)), dtype=np.complex128)
    step = 0
    for i, target in enumerate(steps):
        while step < target:
            nv = nonlinear(v)
            a = e2 * v + q * nv
            na = nonlinear(a)
            b = e2 * v + q * na
            nb = nonlinear(b)
            c = e2 * a + q * (2 * nb - nv)
            nc = nonlinear(c)
            v = e * v + nv * f1 + 2 * (na + nb) * f2 + nc * f3
            step += 1
        out[i] = v
    return out


def fourier_interpolate(coefficients: np.ndarray, x, *, lower: float, period: float, n: int, real: bool) -> np.ndarray:
    """Evaluate the trigonometric interpolant of grid data at any ``x``.

    Args:
        coefficients: ``(..., m)`` rfft (``real``) or fft coefficients of ``n``-point grids
            that start at ``lower``.
        x: evaluation points.

    Returns:
        ``(..., len(x))`` values (real when ``real``).
    """
    x = np.asarray(x, dtype=np.float64)
    if real:
        m = np.arange(coefficients.shape[-1])
        c = coefficients / n
        c = c.copy()
        c[..., 1:] *= 2.0
        if n % 2 == 0:
            c[..., -1] /= 2.0  # the Nyquist mode appears once
        phase = np.exp(2j * np.pi * np.outer(m, x - lower) / period)
        return np.real(c @ phase)
    m = np.fft.fftfreq(n, d=1.0 / n)
    c = coefficients / n
    if n % 2 == 0:
        # Split the Nyquist mode evenly between +n/2 and -n/2 so the interpolant is the
        # real-symmetric one (and exact at the grid points).
        nyquist = c[..., n // 2 : n // 2 + 1] / 2
        c = np.concatenate([c[..., : n // 2], nyquist, c[..., n // 2 + 1 :], nyquist], axis=-1)
        m = np.concatenate([m[: n // 2], [n // 2], m[n // 2 + 1 :], [-n // 2]])
    phase = np.exp(2j * np.pi * np.outer(m, x - lower) / period)
    return c @ phase


def refinement_study(values: Callable[[int, float], np.ndarray], modes: int) -> dict[str, float]:
    """How far the shipped discretisation is from finer and coarser ones, on one output grid.

    Args:
        values: ``values(m, f)`` is the solution on the output grid computed with ``m`` Fourier
            modes and the time step multiplied by ``f``.
        modes: the shipped number of modes (step factor 1).

    Returns:
        Max absolute differences against twice the modes (``modes_doubled``: the spatial error;
        also as a relative L2 error over the grid, ``rel_l2_modes_doubled``) and half the step
        (``dt_halved``: the temporal error), and against the coarser ``modes_halved`` and
        ``dt_doubled``, which show the convergence.
    """
    base = values(modes, 1.0)
    finer = values(2 * modes, 1.0)
    figures = {
        "modes_doubled": np.abs(base - finer).max(),
        "rel_l2_modes_doubled": np.linalg.norm(base - finer) / np.linalg.norm(finer),
        "modes_halved": np.abs(base - values(modes // 2, 1.0)).max(),
        "dt_halved": np.abs(base - values(modes, 0.5)).max(),
        "dt_doubled": np.abs(base - values(modes, 2.0)).max(),
    }
    return {k: float(v) for k, v in figures.items()}
