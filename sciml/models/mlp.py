"""Multilayer perceptron surrogate, optionally with random Fourier features.

Fourier features ``[sin(2π B z), cos(2π B z)]`` with ``B ~ N(0, σ²)`` (Tancik et al. 2020)
counter the spectral bias of plain MLPs on multiscale solutions.
"""

from __future__ import annotations

from typing import Sequence

import jax
import jax.numpy as jnp
from flax import nnx

from sciml.models.registry import register_model

ACTIVATIONS = {"tanh": jnp.tanh, "silu": jax.nn.silu, "gelu": jax.nn.gelu, "sin": jnp.sin}


class FourierFeatures(nnx.Module):
    """Fixed random Fourier embedding ``z -> [sin(2π zB), cos(2π zB)]``."""

    def __init__(self, in_features: int, n_features: int, scale: float, *, rngs: nnx.Rngs):
        self.B = nnx.Variable(scale * jax.random.normal(rngs.params(), (in_features, n_features)))

    def __call__(self, z):
        proj = 2 * jnp.pi * z @ self.B.value.astype(z.dtype)
        return jnp.concatenate([jnp.sin(proj), jnp.cos(proj)], axis=-1)


class MLP(nnx.Module):
    """Fully connected network ``(..., in) -> (..., out)`` with Glorot-normal weights."""

    def __init__(
        self,
        in_features: int,
        out_features: int,
        *,
        hidden: Sequence[int] = (32, 32, 32),
        activation: str = "tanh",
        fourier_features: int = 0,
        fourier_scale: float = 1.0,
        rngs: nnx.Rngs,
    ):
        if activation not in ACTIVATIONS:
            raise ValueError(f"unknown activation {activation!r}; choose one of {sorted(ACTIVATIONS)}")
        self.in_features, self.out_features = in_features, out_features
        self.activation = activation
        self.embedding = FourierFeatures(in_features, fourier_features, fourier_scale, rngs=rngs) if fourier_features else None
        widths = [2 * fourier_features if fourier_features else in_features, *hidden, out_features]
        init = nnx.initializers.glorot_normal()
        self.layers = nnx.List(
            [nnx.Linear(a, b, kernel_init=init, rngs=rngs) for a, b in zip(widths[:-1], widths[1:])]
        )

    def __call__(self, z: jax.Array) -> jax.Array:
        act = ACTIVATIONS[self.activation]
        h = self.embedding(z) if self.embedding is not None else z
        for layer in self.layers[:-1]:
            h = act(layer(h))
        return self.layers[-1](h)


@register_model("mlp", "multilayer perceptron (tanh/SiLU/sin, optional Fourier features)")
def make_mlp(in_features: int, out_features: int, *, rngs: nnx.Rngs, **options) -> MLP:
    """Multilayer perceptron. Options: hidden, activation, fourier_features, fourier_scale."""
    if "hidden" in options:
        options["hidden"] = tuple(int(h) for h in options["hidden"])
    return MLP(in_features, out_features, rngs=rngs, **options)
