r"""Activation hunger: whether a task needs a primitive the library lacks, and the discovery
that feeds it.

A small probe network is fitted to the task's data twice, with the one engine
(:func:`sciml.models.kan_train.fit_data`):

1. as ``mlp-lib`` over the library: its gates' normalised entropy after training (1 when no
   member is preferred, 0 when each gate chose one) is the first sign;
2. with a free activation per hidden layer (:class:`ChebyshevActivation`, a trained Chebyshev
   series): the activation the layer *would want*. Sampled over the pre-activations the layer
   sees, it is compared with every library member up to affine maps
   (:func:`sciml.library.dedup.affine_r2`); the *mismatch* is ``1 - R^2`` of the best member
   (worst layer).

.. math::  \text{hunger} = \text{entropy} + \text{mismatch} \in [0, 2].

A mismatch of 0.05 is already a poor fit (``R^2 = 0.95``: ``tanh`` against a full period of
``sin`` leaves about 0.14), hence the default threshold of 0.05.

Above ``threshold`` the library lacks what the task needs: :func:`discover` fits a KAN to the
same data, harvests its edges and adds the new shapes (:func:`sciml.library.dedup.deduplicate`
into the library). The probe is narrow on purpose (one hidden layer of one neuron by default):
a wide network of any activation fits most tasks, and would hide which shape the task asks for.
"""

from __future__ import annotations

import dataclasses
from typing import Sequence

import jax.numpy as jnp
import numpy as np
from flax import nnx

from sciml.library.collection import PrimitiveLibrary
from sciml.library.dedup import affine_r2, deduplicate
from sciml.library.gates import gate_entropy
from sciml.library.harvest import harvest
from sciml.library.primitive import PortablePrimitive, chebyshev_series, from_samples

__all__ = ["ChebyshevActivation", "Hunger", "discover", "measure_hunger"]


class ChebyshevActivation(nnx.Module):
    """A trained activation: a Chebyshev series of ``degree`` on ``[-1, 1]``, continued linearly.

    Starts as the identity (``c_1 = 1``), so training bends it only as far as the task asks.
    """

    def __init__(self, degree: int = 12):
        self.coefficients = nnx.Param(jnp.zeros(int(degree) + 1).at[1].set(1.0))

    def __call__(self, h):
        return chebyshev_series(self.coefficients[...].astype(h.dtype), h)


@dataclasses.dataclass(frozen=True)
class Hunger:
    """How much a task asks for a primitive the library lacks (see the module docstring).

    Attributes:
        score: ``entropy + mismatch``.
        entropy: the library probe's mean normalised gate entropy after training.
        mismatch: ``1 - R^2`` of the best library member against the wanted activation (worst layer).
        closest: per hidden layer, the library member closest to the wanted activation.
        wanted: per hidden layer, the wanted activation as a primitive.
        threshold: the score above which :attr:`hungry` holds.
    """

    score: float
    entropy: float
    mismatch: float
    closest: tuple[str, ...]
    wanted: tuple[PortablePrimitive, ...]
    threshold: float

    @property
    def hungry(self) -> bool:
        return self.score > self.threshold

    def proposal(self) -> str:
        """What to do about it, in one sentence."""
        if not self.hungry:
            return (f"hunger {self.score:.3f} <= {self.threshold}: the library serves this task (closest members "
                    f"{', '.join(self.closest)})")
        return (f"hunger {self.score:.3f} > {self.threshold}: the library lacks a primitive this task needs (best "
                f"member {', '.join(self.closest)}, mismatch {self.mismatch:.3f}); run "
                "sciml.library.discover(library, x, y, problem=...) to fit a KAN and add its edges")


def _probe(library, in_features: int, out_features: int, hidden, activation, seed: int):
    from sciml.models.registry import build_model

    if activation is None:
        return build_model("mlp-lib", in_features, out_features, seed=seed, library=library, hidden=hidden)
    return build_model("mlp", in_features, out_features, seed=seed, hidden=hidden, activation=activation)


def _preactivations(model, x) -> list[np.ndarray]:
    """Each hidden layer's pre-activations at ``x``, ``(N, width)``."""
    h, out = x, []
    acts = list(model.activation)
    for layer, act in zip(model.layers[:-1], acts):
        pre = layer(h)
        out.append(np.asarray(pre, np.float64))
        h = act(pre)
    return out


def measure_hunger(library: PrimitiveLibrary, x, y, *, hidden: Sequence[int] = (1,), degree: int = 12,
                   steps: int = 100, seed: int = 0, threshold: float = 0.05) -> Hunger:
    """The hunger of ``library`` on the task ``y(x)`` (``x (N, in)``, ``y (N, out)``).

    Args:
        hidden: the probe's hidden widths (each layer shares one activation).
        degree: the free activation's Chebyshev degree.
        steps: L-BFGS steps of each probe fit.
        threshold: above it, the library is hungry for this task.
    """
    from sciml.models.kan_train import fit_data

    x = np.asarray(x, np.float32).reshape(len(x), -1)
    y = np.asarray(y, np.float32).reshape(len(x), -1)
    hidden = [int(h) for h in hidden]
    gated = fit_data(_probe(library, x.shape[1], y.shape[1], hidden, None, seed), x, y, steps=steps).model
    entropy = gate_entropy(gated)
    free_acts = [ChebyshevActivation(degree) for _ in hidden]
    free = fit_data(_probe(library, x.shape[1], y.shape[1], hidden, free_acts, seed), x, y, steps=steps).model
    wanted, closest, mismatch = [], [], 0.0
    members = list(library)
    for k, (pre, act) in enumerate(zip(_preactivations(free, jnp.asarray(x)), free.activation)):
        lo, hi = float(pre.min()), float(pre.max())
        grid = np.linspace(lo, hi, 101)
        shape = from_samples(f"wanted{k}", grid, np.asarray(act(jnp.asarray(grid, jnp.float32)), np.float64))
        r2 = affine_r2([shape], members)[0]
        wanted.append(shape)
        closest.append(members[int(np.argmax(r2))].name)
        mismatch = max(mismatch, float(np.clip(1.0 - r2.max(), 0.0, 1.0)))
    return Hunger(entropy + mismatch, entropy, mismatch, tuple(closest), tuple(wanted), float(threshold))


def discover(library: PrimitiveLibrary, x, y, *, problem: str, hidden: Sequence[int] = (), grid: int = 8,
             steps: int = 100, seed: int = 0, prefix: str | None = None) -> PrimitiveLibrary:
    """Fit a KAN to ``y(x)``, harvest its active edges and add the new shapes to ``library``.

    Edges affine-equivalent to a member only add their provenance to it; the others join as
    named primitives (``sin``, ...) or new ones (``prefix0``, ...; default prefix ``problem``'s
    letters and digits followed by ``_``). Returns the extended library (``library`` is untouched).
    """
    from sciml.models.kan_train import fit_data
    from sciml.models.registry import build_model

    x = np.asarray(x, np.float32).reshape(len(x), -1)
    y = np.asarray(y, np.float32).reshape(len(x), -1)
    kan = build_model("kan", x.shape[1], y.shape[1], seed=seed, hidden=tuple(hidden), grid=grid)
    kan = fit_data(kan, x, y, steps=steps, grid_updates=2).model
    found = harvest(kan, problem=problem, samples=x)
    if prefix is None:
        prefix = "".join(ch for ch in problem if ch.isalnum()) + "_"
    return deduplicate(found, into=library, prefix=prefix)
