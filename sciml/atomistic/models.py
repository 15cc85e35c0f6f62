"""Registry of graph-network potentials (``nequip``, ``mace``).

These networks map atomic graphs, not coordinates, so they live in their own small registry
rather than the coordinate-surrogate one: a factory takes ``(n_species, *, cutoff,
avg_neighbors, rngs, **options)`` and returns an ``nnx.Module`` with
``__call__(species, vectors, senders, receivers, edge_mask) -> atomic outputs``.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable

from flax import nnx

from .mace import MACE
from .nequip import NequIP

_NETWORKS: dict[str, Callable[..., nnx.Module]] = {}


def register_network(name: str):
    """Register a graph-network constructor under ``name``."""

    def deco(factory):
        _NETWORKS[name] = factory
        return factory

    return deco


register_network("nequip")(NequIP)
register_network("mace")(MACE)


def available_networks() -> dict[str, str]:
    return {k: (v.__doc__ or "").strip().split("\n")[0] for k, v in sorted(_NETWORKS.items())}


def network_options(name: str) -> list[str]:
    """Keyword options accepted by network ``name``."""
    factory = _lookup(name)
    sig = inspect.signature(factory.__init__ if isinstance(factory, type) else factory)
    return [p for p in sig.parameters if p not in ("self", "n_species", "rngs")]


def _lookup(name: str):
    if name not in _NETWORKS:
        raise ValueError(f"unknown atomistic model {name!r}; choose one of: "
                         f"{', '.join(sorted(_NETWORKS))}")
    return _NETWORKS[name]


def build_network(name: str, n_species: int, *, seed: int = 0, **options) -> nnx.Module:
    """Construct network ``name``; unknown options raise a ``ValueError`` listing the valid
    ones."""
    factory = _lookup(name)
    valid = network_options(name)
    bad = sorted(set(options) - set(valid))
    if bad:
        raise ValueError(f"model {name!r} does not accept option(s) {bad}; valid: {valid}")
    return factory(n_species, rngs=nnx.Rngs(seed), **options)
