r"""The Padé Activation Unit (PAU): a learnable rational activation, the baseline of the library.

Molina, Schramowski & Kersting (2020) learn each layer's activation as a rational function in
its "safe" form, whose denominator cannot vanish:

.. math::  \sigma(x) = \frac{a_0 + a_1 x + \dots + a_m x^m}{1 + |b_1 x| + |b_2 x^2| + \dots + |b_n x^n|},

degrees ``(m, n) = (5, 4)`` as in the paper: ``m + n + 1 = 10`` trained numbers per layer,
shared by its neurons. The coefficients start at a rational approximation of a fixed
activation (``init``: ``"leaky_relu"``, slope 0.01, the paper's default, or ``"tanh"``), fitted
on ``[-3, 3]`` by the linearised least squares ``P(x) - y Q(x) = 0`` with ``|b_k| >= 0``
(computed once per degree and target).

Use one module per hidden layer as the one MLP's ``activation``
(``activation=[PadeActivation() for _ in hidden]``) or as a CfC backbone's.
"""

from __future__ import annotations

import functools

import jax.numpy as jnp
import numpy as np
from flax import nnx

__all__ = ["PADE_INITS", "PadeActivation", "pade_init"]

PADE_INITS = ("leaky_relu", "tanh")
_TARGETS = {"leaky_relu": lambda x: np.where(x > 0, x, 0.01 * x), "tanh": np.tanh}


@functools.lru_cache(maxsize=None)
def pade_init(init: str = "leaky_relu", numerator: int = 5, denominator: int = 4) -> tuple[tuple, tuple]:
    """Coefficients ``(a_0..a_m), (b_1..b_n)`` of the safe rational closest to ``init`` on ``[-3, 3]``.

    Linearised least squares: ``P(x) - y(x) sum_k c_k |x|^k = y(x)`` is linear in ``a`` and
    ``c_k = |b_k| >= 0`` (bounded least squares), so the fit needs no starting point.
    """
    from scipy.optimize import lsq_linear

    if init not in _TARGETS:
        raise ValueError(f"unknown PAU initialisation {init!r}; choose one of {PADE_INITS}")
    x = np.linspace(-3.0, 3.0, 601)
    y = _TARGETS[init](x)
    design = np.concatenate([x[:, None] ** np.arange(numerator + 1),
                             -y[:, None] * np.abs(x)[:, None] ** np.arange(1, denominator + 1)], axis=1)
    lower = np.concatenate([np.full(numerator + 1, -np.inf), np.zeros(denominator)])
    solution = lsq_linear(design, y, bounds=(lower, np.full(numerator + 1 + denominator, np.inf))).x
    return tuple(float(v) for v in solution[: numerator + 1]), tuple(float(v) for v in solution[numerator + 1:])


class PadeActivation(nnx.Module):
    """A safe Padé activation unit, one set of coefficients for the layer (see the module docstring).

    Args:
        numerator, denominator: the degrees ``m`` and ``n`` (default ``(5, 4)``).
        init: the activation it starts as, one of :data:`PADE_INITS`.
    """

    def __init__(self, numerator: int = 5, denominator: int = 4, *, init: str = "leaky_relu"):
        if int(numerator) < 1 or int(denominator) < 1:
            raise ValueError(f"PAU degrees must be positive integers, got ({numerator}, {denominator})")
        a, b = pade_init(init, int(numerator), int(denominator))
        self.numerator = nnx.Param(jnp.asarray(a, jnp.float32))
        self.denominator = nnx.Param(jnp.asarray(b, jnp.float32))

    def __call__(self, x):
        a = self.numerator[...].astype(x.dtype)
        b = self.denominator[...].astype(x.dtype)
        p = jnp.zeros_like(x) + a[-1]
        for coefficient in a[-2::-1]:  # Horner
            p = p * x + coefficient
        ax = jnp.abs(x)
        q = jnp.ones_like(x)
        power = jnp.ones_like(x)
        for coefficient in b:
            power = power * ax
            q = q + jnp.abs(coefficient) * power
        return p / q
