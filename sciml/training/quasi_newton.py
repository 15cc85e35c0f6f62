"""Quasi-Newton optimisers for the phase after Adam, as optax gradient transformations.

optax ships L-BFGS (``optax.lbfgs``). What it lacks is a dense BFGS with self-scaling, which
for the compact networks PINNs use (a few thousand parameters) reaches losses orders of
magnitude below Adam + L-BFGS (Urbán, Stefanou & Pons 2025; Kiyani et al. 2025): the dense
inverse-Hessian estimate keeps all curvature seen so far, where L-BFGS forgets everything
older than its memory, and the self-scaling keeps that estimate from going stale as the
loss falls through many orders of magnitude.

:func:`scale_by_bfgs` turns a gradient into a direction ``-H g``; :func:`bfgs` chains it
with optax's zoom line search (strong Wolfe conditions), exactly as ``optax.lbfgs`` chains
its direction with the same search, so both drop into the same training loop.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import optax
from jax.flatten_util import ravel_pytree

METHODS = ("lbfgs", "bfgs", "ssbfgs")


class BFGSState(NamedTuple):
    """Dense inverse-Hessian estimate and the last iterate it saw."""

    inverse_hessian: jax.Array  # (n, n)
    # Not named params/grad: optax finds line-search values in a chained state by field name.
    last_params: jax.Array  # flat parameters of the last update
    last_grad: jax.Array  # flat gradient there
    last_direction: jax.Array  # flat direction taken from there (before the line search's step)
    count: jax.Array  # updates seen since the start or the last change of batch (0: no pair yet)
    scaled: jax.Array  # whether the identity has been rescaled by a first curvature pair


def scale_by_bfgs(self_scaling: bool = True, curvature_tolerance: float | None = None) -> optax.GradientTransformation:
    r"""Direction ``-H_k g_k`` of (self-scaled) BFGS on the inverse Hessian ``H``.

    With ``s = x_{k+1} - x_k`` and ``y = g_{k+1} - g_k`` the update of the self-scaled
    Broyden family at its BFGS member (Al-Baali 1998) is

    .. math::

        H_{k+1} = \frac{1}{\tau_k}\Big(H_k - \frac{H_k y y^\top H_k}{y^\top H_k y}
                  + v v^\top\Big) + \frac{s s^\top}{y^\top s},\qquad
        v = \sqrt{y^\top H_k y}\,\Big(\frac{s}{y^\top s} - \frac{H_k y}{y^\top H_k y}\Big),

    with :math:`\tau_k = \min(1, y^\top s / s^\top B_k s)` (``B_k = H_k^{-1}``; since the step
    was ``s = -\alpha H_k g_k``, :math:`s^\top B_k s = -\alpha\, s^\top g_k` needs no inverse).
    ``self_scaling=False`` gives plain BFGS (:math:`\tau_k = 1`). ``H_0 = I``, rescaled to
    :math:`(y^\top s / y^\top y) I` before the first update (Nocedal & Wright, eq. 6.20). A
    pair with :math:`y^\top s \le` ``curvature_tolerance`` :math:`\cdot |s||y|` (default: ten
    times the machine epsilon of the parameters' type) is noise or negative curvature and is
    skipped. Should rounding still spoil the estimate (a direction that is not a descent
    direction, or a non-finite entry), it restarts from the scaled identity.

    The estimate is an ``n x n`` matrix over the flattened parameters: meant for networks of
    up to ~10^4 parameters (memory ``n^2`` numbers, ``O(n^2)`` work per step).
    """

    def init_fn(params):
        flat, _ = ravel_pytree(params)
        n = flat.shape[0]
        return BFGSState(jnp.eye(n, dtype=flat.dtype), flat, jnp.zeros_like(flat), jnp.zeros_like(flat),
                         jnp.zeros((), jnp.int32), jnp.zeros((), bool))

    def update_fn(updates, state, params=None):
        if params is None:
            raise ValueError("scale_by_bfgs needs the current parameters: pass params to update()")
        g, unravel = ravel_pytree(updates)
        x, _ = ravel_pytree(params)
        tolerance = 10 * float(jnp.finfo(x.dtype).eps) if curvature_tolerance is None else curvature_tolerance
        h, usable = _updated_inverse(state, x, g, self_scaling, tolerance)
        direction = -h @ g
        # The very first step, on H_0 = I, is a gradient step whose length grows with the
        # loss's units; like scipy's BFGS, make it at most of unit length so that a loss of
        # 1e10 (data in cells/mL) starts where the same problem in other units does.
        first = (state.count == 0) & ~state.scaled
        norm = jnp.linalg.norm(g)
        direction = jnp.where(first & (norm > 1.0), direction / jnp.where(norm > 1.0, norm, 1.0), direction)
        # Near the precision floor rounding can break the estimate: restart from the identity
        # scaled like the current one, which always gives a descent direction.
        broken = ~(jnp.all(jnp.isfinite(direction)) & (jnp.dot(direction, g) < 0)) & jnp.any(g != 0)
        scale = jnp.trace(state.inverse_hessian) / x.shape[0]
        scale = jnp.where(jnp.isfinite(scale) & (scale > 0), scale, 1.0)
        h = jnp.where(broken, scale * jnp.eye(x.shape[0], dtype=x.dtype), h)
        direction = jnp.where(broken, -scale * g, direction)
        new_state = BFGSState(h, x, g, direction, state.count + 1, state.scaled | usable)
        return unravel(direction), new_state

    return optax.GradientTransformation(init_fn, update_fn)


def _updated_inverse(state: BFGSState, x, g, self_scaling: bool, tolerance: float):
    s = x - state.last_params
    y = g - state.last_grad
    sy = jnp.dot(s, y)
    usable = (state.count > 0) & (sy > tolerance * jnp.linalg.norm(s) * jnp.linalg.norm(y)) & (sy > 0)
    safe_sy = jnp.where(usable, sy, 1.0)
    first = ~state.scaled
    # First pair: replace the identity by the scaled identity before updating.
    h = jnp.where(first & usable, (sy / jnp.where(usable, jnp.dot(y, y), 1.0)) * jnp.eye(x.shape[0], dtype=x.dtype),
                  state.inverse_hessian)
    hy = h @ y
    yhy = jnp.dot(y, hy)
    safe_yhy = jnp.where(usable & (yhy > 0), yhy, 1.0)
    if self_scaling:
        # s = alpha * d with d the previous direction, and B_k d = -g_k, so s^T B_k s = -alpha s^T g_k.
        d = state.last_direction
        alpha = jnp.dot(s, d) / jnp.where(jnp.dot(d, d) > 0, jnp.dot(d, d), 1.0)
        sbs = -alpha * jnp.dot(s, state.last_grad)
        tau = jnp.where(first | (sbs <= 0), 1.0, jnp.minimum(1.0, sy / jnp.where(sbs > 0, sbs, 1.0)))
    else:
        tau = 1.0
    v = jnp.sqrt(jnp.maximum(yhy, 0.0)) * (s / safe_sy - hy / safe_yhy)
    updated = (h - jnp.outer(hy, hy) / safe_yhy + jnp.outer(v, v)) / tau + jnp.outer(s, s) / safe_sy
    return jnp.where(usable, updated, h), usable


def bfgs(self_scaling: bool = True, max_linesearch_steps: int = 20) -> optax.GradientTransformationExtraArgs:
    """(Self-scaled) dense BFGS with optax's zoom line search (strong Wolfe, first guess 1).

    Use like ``optax.lbfgs``: ``opt.update(grads, state, params, value=..., grad=...,
    value_fn=...)``, with ``optax.value_and_grad_from_state`` to reuse the search's last
    evaluation.
    """
    return optax.chain(scale_by_bfgs(self_scaling=self_scaling),
                       optax.scale_by_zoom_linesearch(max_linesearch_steps=max_linesearch_steps,
                                                      initial_guess_strategy="one"))


def for_new_batch(method: str, state, params, memory: int = 10):
    """The state of ``quasi_newton(method)`` to go on with after the loss changes (fresh
    collocation points): the line search's cached value and gradient belong to the old loss and
    are dropped; dense BFGS keeps its inverse-Hessian estimate (the curvature of the same
    equations) but takes no pair across the change; L-BFGS starts its short memory afresh."""
    fresh = quasi_newton(method, memory).init(params)
    if method == "lbfgs":
        return fresh
    return (state[0]._replace(count=jnp.zeros_like(state[0].count)), *fresh[1:])


def quasi_newton(method: str, memory: int = 10) -> optax.GradientTransformationExtraArgs:
    """The quasi-Newton optimiser named ``method``: ``"lbfgs"`` (optax's, ``memory`` pairs),
    ``"bfgs"`` (dense) or ``"ssbfgs"`` (dense, self-scaled)."""
    if method == "lbfgs":
        return optax.lbfgs(memory_size=memory)
    if method in ("bfgs", "ssbfgs"):
        return bfgs(self_scaling=method == "ssbfgs")
    raise ValueError(f"unknown quasi-Newton method {method!r}; known: {', '.join(METHODS)}")
