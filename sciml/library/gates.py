r"""The gated activation of the hybrid networks: a learned mixture over library members.

A layer's nonlinearity is

.. math::  \sigma(h) = \sum_k w_k\, g_k(h), \qquad w = \mathrm{softmax}(\ell / T),

with logits :math:`\ell` per layer (shape ``(K,)``) or per neuron (``(width, K)``) and a
temperature ``T`` (a :class:`GateTemperature`, state but not trained). Training lowers ``T``
(:class:`GateAnnealing`, a model callback of the trainer, or :func:`set_temperature`), and a
penalty on the gates' normalised entropy :math:`H(w)/\log K` (:meth:`GatedActivation.penalty`,
added to the loss by every trainer through :func:`sciml.models.registry.model_penalty`) pushes
each gate towards one member. :func:`harden` then replaces every gate by its arg-max choice
(:class:`HardActivation`): the deployed network evaluates one primitive per neuron, the cost of
a fixed activation.

The softmax mixture with a temperature annealed to a hard choice is the relaxation of DARTS
(Liu, Simonyan & Yang 2019) and of the Gumbel-softmax (Jang et al. 2017), without the noise.
"""

from __future__ import annotations

from typing import Sequence

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

__all__ = ["GateAnnealing", "GateTemperature", "GatedActivation", "HardActivation", "gate_entropy", "gates",
           "harden", "set_temperature"]


class GateTemperature(nnx.Variable):
    """The softmax temperature of a gate: state that training schedules, never trains."""


class GatedActivation(nnx.Module):
    """A softmax mixture over ``library``'s members, per layer or per neuron.

    Args:
        library: a :class:`~sciml.library.collection.PrimitiveLibrary` (its members, in order).
        width: ``None`` for one gate for the layer, or the layer's width for one per neuron.
        temperature: the initial softmax temperature.
        entropy_weight: weight of the normalised gate entropy in :meth:`penalty`.
    """

    def __init__(self, library, *, width: int | None = None, temperature: float = 1.0,
                 entropy_weight: float = 1e-3, rngs: nnx.Rngs):
        self.members = tuple(library)
        if not self.members:
            raise ValueError("a gated activation needs a library with at least one member")
        if width is not None and int(width) < 1:
            raise ValueError(f"width must be a positive integer (one gate per neuron) or None, got {width!r}")
        self.width = None if width is None else int(width)
        shape = (len(self.members),) if width is None else (self.width, len(self.members))
        # Nearly uniform gates: every member is tried from the start; the noise breaks ties.
        self.logits = nnx.Param(0.01 * jax.random.normal(rngs.params(), shape))
        self.temperature = GateTemperature(jnp.asarray(float(temperature), jnp.float32))
        self.entropy_weight = float(entropy_weight)

    def weights(self) -> jax.Array:
        """The mixture weights, ``(K,)`` or ``(width, K)``."""
        return jax.nn.softmax(self.logits[...] / self.temperature[...].astype(self.logits[...].dtype), axis=-1)

    def entropy(self) -> jax.Array:
        """Mean gate entropy divided by ``log K``: 1 for uniform gates, 0 for hard ones."""
        if len(self.members) == 1:
            return jnp.zeros(())
        w = self.weights()
        return jnp.mean(-jnp.sum(w * jnp.log(w + 1e-12), axis=-1)) / np.log(len(self.members))

    def penalty(self) -> jax.Array:
        """``entropy_weight`` times :meth:`entropy` (the regulariser every trainer adds)."""
        return self.entropy_weight * self.entropy()

    def choice(self) -> np.ndarray:
        """The arg-max member index, ``()`` or ``(width,)``."""
        return np.asarray(jnp.argmax(self.logits[...], axis=-1))

    def hardened(self) -> "HardActivation":
        """The gate's arg-max choice as a fixed activation."""
        choice = self.choice()
        return HardActivation(self.members, int(choice) if choice.ndim == 0 else tuple(int(c) for c in choice))

    def __call__(self, h: jax.Array) -> jax.Array:
        w = self.weights().astype(h.dtype)
        values = jnp.stack([member(h) for member in self.members], axis=-1)  # (..., width, K)
        return jnp.sum(values * w, axis=-1)


class HardActivation(nnx.Module):
    """One library member per layer (``choice`` an index) or per neuron (a tuple of indices).

    Per neuron, each chosen member is evaluated only on its own neurons (a static gather), so
    the cost is one primitive per neuron whatever the number of members.
    """

    def __init__(self, members: Sequence, choice: int | Sequence[int]):
        self.members = tuple(members)
        if isinstance(choice, (int, np.integer)):
            self.choice: int | tuple[int, ...] = int(choice)
            self.groups: tuple = ()
        else:
            self.choice = tuple(int(c) for c in choice)
            used = sorted(set(self.choice))
            self.groups = tuple((k, tuple(i for i, c in enumerate(self.choice) if c == k)) for k in used)
            order = np.concatenate([np.asarray(idx) for _, idx in self.groups])
            self.inverse = tuple(int(i) for i in np.argsort(order))

    @property
    def names(self) -> list[str]:
        """The chosen members' names, one per layer or per neuron."""
        if isinstance(self.choice, int):
            return [self.members[self.choice].name]
        return [self.members[c].name for c in self.choice]

    @property
    def contiguous(self) -> bool:
        """Each member's neurons form one run, in member order (see :func:`harden`)."""
        return isinstance(self.choice, tuple) and list(self.choice) == sorted(self.choice)

    def __call__(self, h: jax.Array) -> jax.Array:
        if isinstance(self.choice, int):
            return self.members[self.choice](h)
        if len(self.groups) == 1:
            return self.members[self.groups[0][0]](h)
        if self.contiguous:  # slices, no gather
            return jnp.concatenate([self.members[k](h[..., idx[0]:idx[-1] + 1]) for k, idx in self.groups], axis=-1)
        parts = [self.members[k](h[..., np.asarray(idx)]) for k, idx in self.groups]
        return jnp.concatenate(parts, axis=-1)[..., np.asarray(self.inverse)]


def gates(model: nnx.Module) -> list[GatedActivation]:
    """Every :class:`GatedActivation` inside ``model``."""
    return [node for _, node in nnx.iter_graph(model) if isinstance(node, GatedActivation)]


def gate_entropy(model: nnx.Module) -> float:
    """The mean normalised entropy of ``model``'s gates (0 when it has none)."""
    found = gates(model)
    return float(np.mean([float(g.entropy()) for g in found])) if found else 0.0


def set_temperature(model: nnx.Module, temperature: float) -> nnx.Module:
    """Set every gate's temperature in place; returns ``model``."""
    for gate in gates(model):
        gate.temperature.value = jnp.asarray(float(temperature), jnp.float32)
    return model


def harden(model: nnx.Module) -> nnx.Module:
    """A copy of ``model`` with every gate replaced by its arg-max :class:`HardActivation`.

    The function changes by the gates' remaining softness: anneal the temperature low (or let
    the entropy penalty work) before hardening. In an MLP the hidden neurons of a layer gated
    per neuron are then reordered (the layer's outputs and the next layer's inputs permuted
    alike, which leaves the function as it is) so that each member acts on one slice.
    """
    model = nnx.clone(model)
    found = [(path, node) for path, node in nnx.iter_graph(model) if isinstance(node, GatedActivation)]
    for path, gate in found:
        parent = model
        for key in path[:-1]:
            parent = parent[key] if isinstance(parent, (nnx.List, nnx.Dict, list, dict)) else getattr(parent, key)
        key = path[-1]
        if isinstance(parent, (nnx.List, nnx.Dict, list, dict)):
            parent[key] = gate.hardened()
        else:
            setattr(parent, key, gate.hardened())
    if isinstance(getattr(model, "activation", None), nnx.List) and hasattr(model, "layers"):
        _sort_neurons(model)
    return model


def _sort_neurons(mlp) -> None:
    """Permute each per-neuron hardened layer of ``mlp`` so its members' neurons are contiguous."""
    for i, act in enumerate(mlp.activation):
        if not isinstance(act, HardActivation) or not isinstance(act.choice, tuple) or act.contiguous:
            continue
        order = np.argsort(np.asarray(act.choice), kind="stable")
        before, after = mlp.layers[i], mlp.layers[i + 1]
        before.kernel[...] = before.kernel[...][:, order]
        if before.bias is not None:
            before.bias[...] = before.bias[...][order]
        after.kernel[...] = after.kernel[...][order, :]
        mlp.activation[i] = HardActivation(act.members, tuple(act.choice[j] for j in order))


class GateAnnealing:
    """Trainer callback: at each ``(step, temperature)`` of ``schedule`` every gate's temperature
    is set (a :class:`sciml.training.callbacks.ModelCallback`; shapes never change), e.g.
    ``GateAnnealing(((1000, 0.5), (2000, 0.1)))`` passed as ``Trainer(..., callbacks=[...])``.
    """

    def __init__(self, schedule: Sequence[tuple[int, float]]):
        self.schedule = tuple(sorted((int(s), float(t)) for s, t in schedule))
        if any(s < 1 or not t > 0 for s, t in self.schedule):
            raise ValueError(f"schedule needs (step >= 1, temperature > 0) pairs, got {schedule!r}")

    @property
    def steps(self) -> tuple[int, ...]:
        return tuple(s for s, _ in self.schedule)

    def __call__(self, model: nnx.Module, step: int, inputs: jax.Array) -> nnx.Module:
        return set_temperature(model, dict(self.schedule)[step])
