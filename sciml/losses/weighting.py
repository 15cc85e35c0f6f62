"""Loss-term weighting policies.

A policy has ``init(names, base) -> weights`` and ``update(weights, grad_norms) -> weights``,
in the spirit of optax's ``(init, update)`` pairs, so schemes compose and the trainer treats
them uniformly. ``update`` receives the gradient norm of every *unweighted* term with respect to
the trainable parameters.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Protocol

import jax.numpy as jnp


class WeightPolicy(Protocol):
    needs_gradients: bool

    def init(self, names: list[str], base: Mapping[str, float]) -> dict[str, float]: ...

    def update(self, weights: dict, grad_norms: Mapping[str, float], base: Mapping[str, float]) -> dict: ...


@dataclass(frozen=True)
class FixedWeights:
    """The weights declared on the problem's terms (and any overrides), never changed."""

    needs_gradients: bool = False

    def init(self, names, base):
        return {n: float(base.get(n, 1.0)) for n in names}

    def update(self, weights, grad_norms, base):
        return weights


@dataclass(frozen=True)
class GradNormBalancing:
    """Gradient-norm balancing (Wang, Wang & Perdikaris 2023, "An expert's guide to training
    physics-informed neural networks", §3.2):

        λ̂_i = (Σ_j ‖∇L_j‖) / ‖∇L_i‖,    λ_i ← α λ_i + (1 − α) λ̂_i,

    so every weighted term contributes a gradient of the same size; the declared weights
    multiply the balanced ones. ``alpha`` is the moving-average factor.
    """

    alpha: float = 0.9
    needs_gradients: bool = True

    def init(self, names, base):
        return {n: float(base.get(n, 1.0)) for n in names}

    def update(self, weights, grad_norms, base):
        total = sum(float(v) for v in grad_norms.values())
        out = {}
        for n, w in weights.items():
            g = float(grad_norms[n])
            target = base.get(n, 1.0) * (total / g if g > 0 else 1.0)
            out[n] = self.alpha * w + (1 - self.alpha) * target
        return out


POLICIES = {"fixed": FixedWeights, "gradnorm": GradNormBalancing}


def make_policy(name: str) -> WeightPolicy:
    if name not in POLICIES:
        raise ValueError(f"unknown weighting {name!r}; choose one of {sorted(POLICIES)}")
    return POLICIES[name]()


def global_norm(tree) -> jnp.ndarray:
    import jax

    return jnp.sqrt(sum(jnp.sum(jnp.square(x)) for x in jax.tree.leaves(tree)))
