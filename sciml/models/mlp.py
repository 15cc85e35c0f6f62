"""The multilayer perceptron of sciml, optionally with random Fourier features.

One MLP serves every stack: PDE surrogates, the networks inside neural and universal ODEs,
Hamiltonians, and the radial weights and readouts of the atomistic potentials. They differ
only in options: hidden widths, activation, initialisation, biases and the scale of the last
layer.

Fourier features ``[sin(2π B z), cos(2π B z)]`` with ``B ~ N(0, σ²)`` (Tancik et al. 2020)
counter the spectral bias of plain MLPs on multiscale solutions.
"""

from __future__ import annotations

from typing import Callable, Sequence

import jax
import jax.numpy as jnp
from flax import nnx

from sciml import trig
from sciml.models.registry import register_model

ACTIVATIONS = {
    "tanh": jnp.tanh,
    "silu": jax.nn.silu,
    "gelu": jax.nn.gelu,
    "sin": trig.sin,  # XLA's CPU sine costs 1.5x tanh in a training step; this one 1.1x
    "softplus": jax.nn.softplus,
    "relu": jax.nn.relu,
    "rbf": lambda x: jnp.exp(-(x**2)),  # the radial activation of Rackauckas et al. 2020
}
INITIALIZERS = {
    "glorot_normal": nnx.initializers.glorot_normal(),
    "lecun_normal": nnx.initializers.lecun_normal(),  # truncated normal, variance 1/fan-in
    "fan_in_normal": nnx.initializers.variance_scaling(1.0, "fan_in", "normal"),
}


class FourierFeatures(nnx.Module):
    """Fixed Fourier embedding ``z -> [sin(2π zB), cos(2π zB)]``.

    ``B``'s first columns are the given ``frequencies`` (one row of cycles per unit of each
    input, e.g. those a problem's sources show), the other ``n_features`` are random, with
    entries of standard deviation ``scale``, or several scales: the random columns are then
    split evenly between them, so one embedding holds both the coarse and the fine frequencies
    of a multiscale solution (Wang, Wang & Perdikaris 2021 show that a single scale fits one end
    of the spectrum and misses the other).
    """

    def __init__(self, in_features: int, n_features: int, scale: float | Sequence[float], *, rngs: nnx.Rngs,
                 frequencies: Sequence[Sequence[float]] = ()):
        scales = [float(s) for s in (scale if isinstance(scale, (list, tuple)) else [scale])]
        if n_features and (not scales or any(not s > 0 for s in scales) or len(scales) > n_features):
            raise ValueError(f"fourier_scale must be a positive number or up to {n_features} positive numbers, "
                             f"got {scale!r}")
        fixed = [[float(f) for f in row] for row in frequencies]
        if any(len(row) != in_features for row in fixed):
            raise ValueError(f"each of fourier_frequencies must hold {in_features} numbers (cycles per unit of "
                             f"each input), got {frequencies!r}")
        column_scale = jnp.repeat(jnp.asarray(scales), -(-n_features // len(scales)))[:n_features]
        random = column_scale * jax.random.normal(rngs.params(), (in_features, n_features))
        self.B = nnx.Variable(jnp.concatenate([jnp.asarray(fixed, random.dtype).reshape(-1, in_features).T,
                                               random], axis=1))

    def __call__(self, z):
        proj = 2 * jnp.pi * z @ self.B.value.astype(z.dtype)
        return jnp.concatenate([jnp.sin(proj), jnp.cos(proj)], axis=-1)


class MLP(nnx.Module):
    """Fully connected network ``(..., in) -> (..., out)``.

    Args:
        hidden: hidden-layer widths, e.g. ``(32, 64)``; ``()`` gives one linear map.
        activation: one of :data:`ACTIVATIONS` (between layers, not after the last), a
            callable (a function, or a module with parameters of its own such as the gated
            mixtures of :mod:`sciml.library.gates`), or one callable per hidden layer.
        fourier_features, fourier_scale: number and scale (or scales, sharing the features
            evenly) of random Fourier features (0: none).
        fourier_frequencies: fixed Fourier features besides the random ones, one row of
            frequencies (cycles per unit of each input) per feature.
        init: kernel initialiser, one of :data:`INITIALIZERS` (biases start at zero).
        bias: ``False`` drops every bias, so that with ``silu``/``tanh`` ``MLP(0) = 0``.
        final_scale: multiplies the initial last-layer weights; a small value starts a learned
            term near zero, so training begins from the known physics.
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        *,
        hidden: Sequence[int] = (32, 32, 32),
        activation: str | Callable | Sequence[Callable] = "tanh",
        fourier_features: int = 0,
        fourier_scale: float | Sequence[float] = 1.0,
        fourier_frequencies: Sequence[Sequence[float]] = (),
        init: str = "glorot_normal",
        bias: bool = True,
        final_scale: float = 1.0,
        rngs: nnx.Rngs,
    ):
        if isinstance(activation, str) and activation not in ACTIVATIONS:
            raise ValueError(f"unknown activation {activation!r}; choose one of {sorted(ACTIVATIONS)}")
        if init not in INITIALIZERS:
            raise ValueError(f"unknown initialiser {init!r}; choose one of {sorted(INITIALIZERS)}")
        hidden = [int(h) for h in hidden]
        if any(h < 1 for h in hidden):
            raise ValueError(f"hidden widths must be positive integers such as (32, 32), got {hidden}")
        self.in_features, self.out_features = in_features, out_features
        if isinstance(activation, (list, tuple)):
            if len(activation) != len(hidden) or not all(callable(a) for a in activation):
                raise ValueError(f"activation as a sequence needs one callable per hidden layer ({len(hidden)}), "
                                 f"got {len(activation)}")
            activation = nnx.List(activation)
        elif not isinstance(activation, str) and not callable(activation):
            raise ValueError(f"activation must be a name, a callable or one callable per hidden layer, got "
                             f"{type(activation).__name__}")
        self.activation = activation
        n_embedded = fourier_features + len(fourier_frequencies)
        self.embedding = (FourierFeatures(in_features, fourier_features, fourier_scale, rngs=rngs,
                                          frequencies=fourier_frequencies) if n_embedded else None)
        widths = [2 * n_embedded if n_embedded else in_features, *hidden, out_features]
        self.layers = nnx.List([
            nnx.Linear(a, b, use_bias=bias, kernel_init=INITIALIZERS[init], rngs=rngs)
            for a, b in zip(widths[:-1], widths[1:])
        ])
        if final_scale != 1.0:
            self.layers[-1].kernel[...] = self.layers[-1].kernel[...] * final_scale

    def __call__(self, z: jax.Array) -> jax.Array:
        if isinstance(self.activation, str):
            acts = [ACTIVATIONS[self.activation]] * (len(self.layers) - 1)
        elif isinstance(self.activation, nnx.List):
            acts = list(self.activation)
        else:
            acts = [self.activation] * (len(self.layers) - 1)
        h = self.embedding(z) if self.embedding is not None else z
        for layer, act in zip(self.layers[:-1], acts):
            h = act(layer(h))
        return self.layers[-1](h)


register_model("mlp", "multilayer perceptron (hidden widths, activation, optional Fourier features)")(MLP)
