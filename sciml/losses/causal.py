r"""Causal weighting of an evolution equation's residual (Wang, Sankaran & Perdikaris 2022).

A physics-informed network can lower the residual at late times before the early times are
right, fitting a solution that does not follow from the initial data. Causal training splits
the time interval into :math:`M` bins with mean squared residuals :math:`L_1, \dots, L_M` and
weighs bin :math:`i` by how well the bins before it are already satisfied:

.. math::
    \mathcal{L}_r = \frac{1}{M}\sum_{i=1}^{M} w_i L_i, \qquad
    w_i = \exp\Big(-\varepsilon \sum_{k<i} L_k\Big),

with the weights held constant under differentiation. Late bins only count once the early
ones have converged; as training succeeds every :math:`w_i \to 1` and the loss becomes the
plain mean. :math:`\varepsilon` sets how strict the ordering is.

Reference: S. Wang, S. Sankaran, P. Perdikaris (2022), "Respecting causality is all you need
for training physics-informed neural networks", arXiv:2203.07404 (CMAME 421, 2024).
"""

from __future__ import annotations

from typing import Callable

import jax
import jax.numpy as jnp

__all__ = ["causal_weights", "causal_reduction"]


def causal_weights(bin_losses: jax.Array, epsilon: float) -> jax.Array:
    """``w_i = exp(-epsilon * sum_{k<i} L_k)``, not differentiated through."""
    before = jnp.cumsum(bin_losses) - bin_losses
    return jax.lax.stop_gradient(jnp.exp(-epsilon * before))


def causal_reduction(time_axis: int, start: float, end: float, bins: int, epsilon: float
                     ) -> Callable[[jax.Array, jax.Array], jax.Array]:
    """``reduce(squared residuals (n,), points (n, d)) -> causal loss`` for ``loss_terms``.

    Points are binned by their time coordinate (``time_axis``) over ``[start, end]``; an empty
    bin counts as satisfied (loss 0).
    """

    def reduce(squared: jax.Array, z: jax.Array) -> jax.Array:
        tau = (z[:, time_axis] - start) / (end - start)
        index = jnp.clip(jnp.floor(tau * bins).astype(jnp.int32), 0, bins - 1)
        sums = jax.ops.segment_sum(squared, index, num_segments=bins)
        counts = jax.ops.segment_sum(jnp.ones_like(squared), index, num_segments=bins)
        bin_losses = sums / jnp.maximum(counts, 1.0)
        return jnp.mean(causal_weights(bin_losses, epsilon) * bin_losses)

    return reduce
