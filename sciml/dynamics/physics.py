"""Physics terms for trajectory models: invariant drift and known-term residuals.

Both act on a *predicted trajectory* ``u`` of shape ``(..., T, n)`` at times ``ts`` and are
model-agnostic: they apply to neural ODEs, UDEs and sequence surrogates (LTC, CfC) alike,
and are added to a loss like any other term.

* :func:`invariant_drift` — a declared invariant ``I`` (energy, mass, a Lotka–Volterra
  first integral) must stay at its initial value:
  :math:`\\frac{1}{T}\\sum_t (I(u(t)) - I(u(t_0)))^2`.
* :func:`known_term_residual` — for the equations whose right-hand side is fully known, the
  trajectory must satisfy them: :math:`\\dot u_i - f_i(t, u)` with :math:`\\dot u_i` from
  second-order finite differences along the (possibly irregular) time grid.
"""

from __future__ import annotations

from typing import Callable, Sequence

import jax.numpy as jnp

__all__ = ["invariant_drift", "max_relative_drift", "time_derivative", "known_term_residual"]


def invariant_drift(invariant: Callable, u):
    """Mean squared drift of ``invariant(u) -> (..., T)`` from its initial value."""
    vals = invariant(u)
    return jnp.mean((vals - vals[..., :1]) ** 2)


def max_relative_drift(invariant: Callable, u):
    """``max_t |I(u(t)) - I(u(t_0))| / |I(u(t_0))|``."""
    vals = invariant(u)
    return jnp.max(jnp.abs(vals - vals[..., :1]) / jnp.maximum(jnp.abs(vals[..., :1]), 1e-12))


def time_derivative(ts, u):
    """Second-order finite differences of ``u`` ``(..., T, n)`` on a possibly irregular grid.

    Interior points use the three-point non-uniform formula; the ends are one-sided.
    """
    ts = jnp.asarray(ts)
    h0 = (ts[1:-1] - ts[:-2])[:, None]
    h1 = (ts[2:] - ts[1:-1])[:, None]
    um, uc, up = u[..., :-2, :], u[..., 1:-1, :], u[..., 2:, :]
    mid = (h0**2 * up - h1**2 * um + (h1**2 - h0**2) * uc) / (h0 * h1 * (h0 + h1))
    first = (u[..., 1:2, :] - u[..., :1, :]) / (ts[1] - ts[0])
    last = (u[..., -1:, :] - u[..., -2:-1, :]) / (ts[-1] - ts[-2])
    return jnp.concatenate([first, mid, last], -2)


def known_term_residual(ts, u, rhs: Callable, components: Sequence[int]):
    """Mean squared residual ``du_i/dt - rhs(t, u)_i`` over the fully known ``components``.

    ``rhs(t, u)`` evaluates the known right-hand side (``CompiledODE.rhs`` with the unknowns at 0); only
    the listed components are penalised (equations without unknown terms). The end points are
    excluded (first-order differences there).
    """
    if not components:
        return jnp.asarray(0.0)
    du = time_derivative(ts, u)[..., 1:-1, :]
    f = rhs(jnp.asarray(ts)[1:-1, None], u[..., 1:-1, :])
    idx = jnp.asarray(list(components))
    return jnp.mean((du[..., idx] - f[..., idx]) ** 2)
