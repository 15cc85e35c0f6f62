"""Networks used inside vector fields: a registry surrogate when available, else a small MLP.

Vector fields only need a map ``(..., n_in) -> (..., n_out)``, which is exactly the surrogate
protocol of :mod:`sciml.models.registry`. :func:`make_network` asks the registry first (so
``"kan"`` gives the project's KAN layer and a KAN-ODE whose right-hand side can be
symbolified); ``"mlp"`` is the small :class:`MLP` below, whose options stay stable.
"""

from __future__ import annotations

from typing import Any, Callable

import jax
import jax.numpy as jnp
from flax import nnx

__all__ = ["MLP", "make_network"]

_ACTIVATIONS: dict[str, Callable] = {
    "tanh": jnp.tanh,
    "softplus": jax.nn.softplus,
    "gelu": jax.nn.gelu,
    "silu": jax.nn.silu,
    "relu": jax.nn.relu,
    "rbf": lambda x: jnp.exp(-(x**2)),
}


class MLP(nnx.Module):
    """A fully connected network ``(..., n_in) -> (..., n_out)``.

    Args:
        width, depth: hidden width and number of hidden layers.
        activation: one of ``tanh``, ``softplus``, ``gelu``, ``silu``, ``relu``, ``rbf``
            (``exp(-x^2)``, the radial activation of Rackauckas et al. 2020).
        final_scale: multiplies the initial last-layer weights; a small value starts a
            learned term near zero so training begins from the known physics.
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        *,
        width: int = 32,
        depth: int = 2,
        activation: str = "tanh",
        final_scale: float = 1.0,
        rngs: nnx.Rngs,
    ):
        if activation not in _ACTIVATIONS:
            raise ValueError(f"unknown activation {activation!r}; choose one of {sorted(_ACTIVATIONS)}")
        if depth < 1 or width < 1:
            raise ValueError(f"MLP needs depth >= 1 and width >= 1, got depth={depth}, width={width}")
        self.in_features, self.out_features = in_features, out_features
        self.activation = activation
        sizes = [in_features] + [width] * depth
        self.hidden = nnx.List([nnx.Linear(a, b, rngs=rngs) for a, b in zip(sizes[:-1], sizes[1:])])
        self.out = nnx.Linear(width, out_features, rngs=rngs)
        self.out.kernel[...] = self.out.kernel[...] * final_scale
        self.out.bias[...] = self.out.bias[...] * 0.0

    def __call__(self, x: jax.Array) -> jax.Array:
        act = _ACTIVATIONS[self.activation]
        for layer in self.hidden:
            x = act(layer(x))
        return self.out(x)


def make_network(kind: str, n_in: int, n_out: int, *, seed: int = 0, **options: Any) -> nnx.Module:
    """Build the network ``kind`` (a registered surrogate name, or ``"mlp"``).

    Raises:
        ValueError: ``kind`` is neither registered nor ``"mlp"``.
    """
    from sciml.models.registry import _REGISTRY, build_model, available_models

    # The local MLP keeps its option names stable (width, depth, activation, final_scale)
    # whatever the registry's "mlp" accepts.
    if kind == "mlp":
        return MLP(n_in, n_out, rngs=nnx.Rngs(seed), **options)
    known = available_models()
    if kind in _REGISTRY:
        return build_model(kind, n_in, n_out, seed=seed, **options)
    raise ValueError(
        f"no network {kind!r} for a vector field; choose 'mlp' or one of the registered "
        f"surrogates {sorted(known)}"
    )
