r"""Radial features of an edge: Bessel basis times a smooth polynomial cutoff.

Bessel basis [Gasteiger et al., DimeNet, 2020], used by NequIP and MACE:

.. math:: B_n(d) = \sqrt{2 / r_c}\; \frac{\sin(n \pi d / r_c)}{d}, \qquad n = 1..N_b .

Polynomial envelope of order :math:`p` [Gasteiger et al. 2020; NequIP uses p = 6], with
:math:`x = d / r_c`:

.. math:: u(x) = 1 - \tfrac{(p+1)(p+2)}{2} x^p + p(p+2) x^{p+1} - \tfrac{p(p+1)}{2} x^{p+2}

for :math:`x < 1` and 0 beyond; :math:`u` and its first two derivatives vanish at the cutoff,
so energies and forces are continuous as atoms cross it (which keeps NVE dynamics stable).
"""

from __future__ import annotations

import jax.numpy as jnp


def bessel_basis(d: jnp.ndarray, n_basis: int, cutoff: float) -> jnp.ndarray:
    """``(..., n_basis)`` Bessel functions of the distances ``d > 0``."""
    n = jnp.arange(1, n_basis + 1, dtype=d.dtype)
    return jnp.sqrt(2.0 / cutoff) * jnp.sin(n * jnp.pi * d[..., None] / cutoff) / d[..., None]


def polynomial_envelope(d: jnp.ndarray, cutoff: float, p: int = 6) -> jnp.ndarray:
    """Smooth cutoff :math:`u(d / r_c)`, exactly zero (with two zero derivatives) at ``cutoff``."""
    x = d / cutoff
    u = (1.0 - 0.5 * (p + 1) * (p + 2) * x**p + p * (p + 2) * x ** (p + 1)
         - 0.5 * p * (p + 1) * x ** (p + 2))
    return jnp.where(x < 1.0, u, 0.0)


def radial_embedding(d: jnp.ndarray, n_basis: int, cutoff: float, p: int = 6) -> jnp.ndarray:
    """Bessel basis multiplied by the envelope: ``(..., n_basis)``."""
    return bessel_basis(d, n_basis, cutoff) * polynomial_envelope(d, cutoff, p)[..., None]
