"""Graph-network potentials (``nequip``, ``mace``) in the model registry.

They map atomic graphs, not coordinates, so they are ``kind="graph"`` models of
:mod:`sciml.models.registry` (add one with ``register_model(name, kind="graph")``, list them
with ``available_models("graph")``): a factory takes ``(n_species, *, cutoff, avg_neighbors,
rngs, **options)`` and returns an ``nnx.Module`` with
``__call__(species, vectors, senders, receivers, edge_mask) -> atomic outputs``.
"""

from __future__ import annotations

import inspect

from flax import nnx

from sciml.models.registry import model_factory, register_model

from .mace import MACE
from .nequip import NequIP

register_model("nequip", kind="graph")(NequIP)
register_model("mace", kind="graph")(MACE)


def network_options(name: str) -> list[str]:
    """Keyword options accepted by network ``name``."""
    factory = model_factory(name, "graph")
    sig = inspect.signature(factory.__init__ if isinstance(factory, type) else factory)
    return [p for p in sig.parameters if p not in ("self", "n_species", "rngs")]


def build_network(name: str, n_species: int, *, seed: int = 0, **options) -> nnx.Module:
    """Construct network ``name``; unknown options raise a ``ValueError`` listing the valid
    ones."""
    valid = network_options(name)
    bad = sorted(set(options) - set(valid))
    if bad:
        raise ValueError(f"model {name!r} does not accept option(s) {bad}; valid: {valid}")
    return model_factory(name, "graph")(n_species, rngs=nnx.Rngs(seed), **options)
