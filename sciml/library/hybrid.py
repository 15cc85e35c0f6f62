"""Hybrid networks in the one model registry: ``mlp-lib`` and ``cfc-lib``.

Both are the project's own networks with their nonlinearity replaced by
:class:`~sciml.library.gates.GatedActivation` mixtures over a primitive library: ``mlp-lib`` is
the one MLP (:class:`sciml.models.mlp.MLP`, a field surrogate for PDE and ODE problems) with a
gate per hidden layer, ``cfc-lib`` the CfC forecaster of :mod:`sciml.dynamics.models` with a
gate per backbone layer. Options common to both:

- ``library``: a library name (``"standard"``, built in, or one saved in
  :func:`sciml.library.store.library_dir`) or a path ending in ``.json``;
- ``gating``: ``"layer"`` (one mixture per layer) or ``"neuron"`` (one per neuron);
- ``temperature``: the gates' initial softmax temperature;
- ``entropy_weight``: weight of the gate-entropy penalty every trainer adds;
- ``tame``: whether the library's members are first made safe as activations
  (:func:`~sciml.library.collection.as_activations`: linear and very rough members dropped,
  each at unit RMS slope on ``[-1, 1]``); on by default, as harvested shapes come at unit
  spread and the wiggly ones are steep enough to blow the signal up layer after layer.

Train, anneal (:class:`~sciml.library.gates.GateAnnealing`), then
:func:`~sciml.library.gates.harden` for deployment at the cost of a fixed activation.
"""

from __future__ import annotations

from typing import Sequence

from flax import nnx

from sciml.library.collection import as_activations
from sciml.library.gates import GatedActivation
from sciml.library.store import load_library
from sciml.models.registry import register_model

__all__ = ["GATINGS", "cfc_lib", "mlp_lib"]

GATINGS = ("layer", "neuron")


def _gates(library, widths: Sequence[int], gating: str, temperature: float, entropy_weight: float,
           rngs: nnx.Rngs, tame: bool = True) -> list[GatedActivation]:
    if gating not in GATINGS:
        raise ValueError(f"gating must be one of {GATINGS} (one mixture per layer or per neuron), got {gating!r}")
    library = load_library(library)
    if tame:
        library = as_activations(library)
    return [GatedActivation(library, width=w if gating == "neuron" else None, temperature=temperature,
                            entropy_weight=entropy_weight, rngs=rngs) for w in widths]


@register_model("mlp-lib", "MLP whose activation per layer (or per neuron) is a learned mixture over a primitive library")
def mlp_lib(in_features: int, out_features: int, *, rngs: nnx.Rngs, library="standard", gating: str = "layer",
            temperature: float = 1.0, entropy_weight: float = 1e-3, hidden: Sequence[int] = (32, 32, 32),
            tame: bool = True, **mlp_options):
    """The one MLP with gated mixtures (options: see the module docstring and :class:`MLP`)."""
    from sciml.models.mlp import MLP

    if "activation" in mlp_options:
        raise ValueError("mlp-lib chooses its activations from the library: drop 'activation' (or use --model mlp)")
    hidden = [int(h) for h in hidden]
    acts = _gates(library, hidden, gating, temperature, entropy_weight, rngs, tame)
    return MLP(in_features, out_features, hidden=hidden, activation=acts, rngs=rngs, **mlp_options)


@register_model("cfc-lib", "ODE problems: CfC forecaster whose backbone activation is a learned library mixture",
                kind="trajectory")
def cfc_lib(system, ys, *, seed: int = 0, library="standard", gating: str = "layer", temperature: float = 1.0,
            entropy_weight: float = 1e-3, backbone_units: int = 128, backbone_layers: int = 1, tame: bool = True,
            **options):
    """The ``cfc`` forecaster with gated backbone activations (options: the module docstring's and cfc's)."""
    from sciml.dynamics.models import cfc

    acts = _gates(library, [int(backbone_units)] * int(backbone_layers), gating, temperature, entropy_weight,
                  nnx.Rngs(seed + 2), tame)
    return cfc(system, ys, seed=seed, activation=acts, backbone_units=int(backbone_units),
               backbone_layers=int(backbone_layers), **options)
