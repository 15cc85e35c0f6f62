"""Hamiltonian neural networks with a symplectic integrator.

A Hamiltonian neural network (Greydanus, Dzamba & Yosinski, NeurIPS 2019) learns a scalar
``H(q, p)`` and takes its symplectic gradient as the vector field,

.. math::  \\dot q = \\partial H / \\partial p, \\qquad \\dot p = -\\partial H / \\partial q,

so the learned flow conserves the learned energy exactly. Here ``H`` is *separable*,
``H = T(p) + V(q)`` (two networks), which admits the explicit, symplectic, time-reversible
Störmer–Verlet (leapfrog) integrator (Hairer, Lubich & Wanner, *Geometric Numerical
Integration*, 2006, ch. VI): its numerical flow conserves a modified energy to
``O(dt^2)`` for exponentially long times, so the energy error does not drift as it does for a
non-symplectic Runge–Kutta method. ``separable=False`` learns a general ``H(q, p)``,
integrated by any diffrax solver (no symplectic guarantee).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import nnx

from sciml.models.mlp import MLP

__all__ = ["HamiltonianField", "leapfrog", "HamiltonianODE"]


class HamiltonianField(nnx.Module):
    """``u = (q, p) -> (dH/dp, -dH/dq)`` with a learned ``H``.

    Args:
        n_dof: degrees of freedom (state size ``2 n_dof``).
        separable: ``H = T(p) + V(q)`` (default) or a general ``H(q, p)``.
        hidden, activation: the hidden widths and activation of each :class:`MLP`.
    """

    def __init__(self, n_dof: int, *, separable: bool = True, hidden=(64, 64), activation: str = "tanh", seed: int = 0):
        self.n_dof, self.separable = n_dof, separable
        rngs = nnx.Rngs(seed)
        net = dict(hidden=hidden, activation=activation, init="lecun_normal", rngs=rngs)
        if separable:
            self.T = MLP(n_dof, 1, **net)
            self.V = MLP(n_dof, 1, **net)
        else:
            self.H = MLP(2 * n_dof, 1, **net)

    def kinetic(self, p):
        return self.T(p)[..., 0]

    def potential(self, q):
        return self.V(q)[..., 0]

    def energy(self, u: jax.Array) -> jax.Array:
        """Learned ``H(u)`` for ``u`` of shape ``(..., 2 n_dof)``."""
        q, p = u[..., : self.n_dof], u[..., self.n_dof :]
        if self.separable:
            return self.kinetic(p) + self.potential(q)
        return self.H(u)[..., 0]

    def __call__(self, t, u):
        g = jax.grad(lambda v: jnp.sum(self.energy(v)))(u)
        dq, dp = g[..., self.n_dof :], -g[..., : self.n_dof]
        return jnp.concatenate([dq, dp], -1)


def leapfrog(field: HamiltonianField, u0: jax.Array, ts: jax.Array, substeps: int = 10) -> jax.Array:
    """Störmer–Verlet (kick-drift-kick) for a separable ``H``; ``(T, 2n)`` states at ``ts``.

    ``ts`` must be uniformly spaced; each interval is split into ``substeps`` steps.
    """
    if not field.separable:
        raise ValueError("leapfrog needs a separable Hamiltonian (HamiltonianField(separable=True)); use a diffrax solver otherwise")
    n = field.n_dof
    ts = jnp.asarray(ts)
    h = (ts[1] - ts[0]) / substeps
    dV = jax.grad(lambda q: jnp.sum(field.potential(q)))
    dT = jax.grad(lambda p: jnp.sum(field.kinetic(p)))

    def step(u, _):
        q, p = u[..., :n], u[..., n:]
        p = p - 0.5 * h * dV(q)
        q = q + h * dT(p)
        p = p - 0.5 * h * dV(q)
        return jnp.concatenate([q, p], -1), None

    def save(u, _):
        u, _ = jax.lax.scan(step, u, None, length=substeps)
        return u, u

    _, us = jax.lax.scan(save, u0, None, length=ts.shape[0] - 1)
    return jnp.concatenate([u0[None], us], 0)


class HamiltonianODE(nnx.Module):
    """Trajectory model ``(ts, u0) -> u(ts)`` of a :class:`HamiltonianField` via :func:`leapfrog`."""

    def __init__(self, field: HamiltonianField, substeps: int = 10):
        self.field, self.substeps = field, substeps

    def __call__(self, ts, u0):
        u0 = jnp.asarray(u0)
        if u0.ndim == 1:
            return leapfrog(self.field, u0, ts, self.substeps)
        return jax.vmap(lambda y: leapfrog(self.field, y, ts, self.substeps))(u0)
