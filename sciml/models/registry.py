"""The surrogate protocol and the registry that maps model names to constructors.

A *surrogate* is a :class:`flax.nnx.Module` that maps a batch of coordinates
``(..., in_features)`` to a batch of field values ``(..., out_features)``. Nothing else is
required; optional hooks (``edges()`` for KAN inspection, ``constrain`` for hard conditions,
``penalty()`` on any submodule for a regulariser of its own, summed by :func:`model_penalty`)
are discovered with ``hasattr``. Every surrogate is built through :func:`build_model`, so the
command line, problem files and the trainer never import a concrete model class.

The same registry holds the trajectory models of ODE problems (:mod:`sciml.dynamics.models`,
``kind="trajectory"``: neural ODEs and liquid networks) and the graph-network potentials of
:mod:`sciml.atomistic` (``kind="graph"``), which map atomic graphs rather than coordinates: one
list of models, one way to add one.
"""

from __future__ import annotations

from typing import Any, Callable, Protocol, runtime_checkable

import jax
from flax import nnx


@runtime_checkable
class Surrogate(Protocol):
    """Maps coordinates ``(..., in_features)`` to fields ``(..., out_features)``."""

    in_features: int
    out_features: int

    def __call__(self, inputs: jax.Array) -> jax.Array: ...


ModelFactory = Callable[..., nnx.Module]
_REGISTRY: dict[str, tuple[ModelFactory, str, str]] = {}
# The kinds of model, and the modules whose import registers the built-in ones (on first use).
_KINDS = {"field": "model", "trajectory": "trajectory model", "graph": "atomistic model"}
_USES = {"field": "a surrogate for PDE and ODE problems", "trajectory": "a trajectory model for ODE problems",
         "graph": "a potential for atomistic problems"}
_BUILTIN = {"field": ("sciml.models.mlp", "sciml.models.kan", "sciml.library.hybrid"),
            "trajectory": ("sciml.dynamics.models", "sciml.library.hybrid"),
            "graph": ("sciml.atomistic.models",)}


def register_model(name: str, description: str = "", *, kind: str = "field") -> Callable[[ModelFactory], ModelFactory]:
    """Register a model constructor under ``name``.

    ``kind="field"`` (a surrogate): ``factory(in_features, out_features, *, rngs, **options)``;
    ``kind="trajectory"``: ``factory(ode_system, observations, *, seed, **options)``;
    ``kind="graph"`` (an atomistic potential, :mod:`sciml.atomistic.models`):
    ``factory(n_species, *, rngs, **options)``.
    """
    if kind not in _KINDS:
        raise ValueError(f"unknown model kind {kind!r}; choose one of {sorted(_KINDS)}")

    def decorator(factory: ModelFactory) -> ModelFactory:
        _REGISTRY[name] = (factory, description or (factory.__doc__ or "").strip().split("\n")[0], kind)
        return factory

    return decorator


def available_models(kind: str | None = None) -> dict[str, str]:
    """Names of the registered models (of ``kind``, or all) with a one-line description each."""
    _load_builtin_models(kind)
    return {name: desc for name, (_, desc, k) in sorted(_REGISTRY.items()) if kind in (None, k)}


def model_factory(name: str, kind: str = "field") -> ModelFactory:
    """The constructor registered as ``name`` for a model of ``kind``.

    Raises:
        ValueError: no model of that kind has that name (the message lists those that do).
    """
    _load_builtin_models(kind)
    factory, _, registered = _REGISTRY.get(name, (None, "", None))
    if registered != kind:
        other = f" ({name!r} is {_USES[registered]})" if registered else ""
        raise ValueError(f"unknown {_KINDS[kind]} {name!r}{other}; choose one of: "
                         f"{', '.join(available_models(kind))}")
    return factory


def build_model(
    name: str, in_features: int, out_features: int, *, seed: int = 0, **options: Any
) -> nnx.Module:
    """Build the surrogate registered as ``name``.

    Raises:
        ValueError: the name is unknown (the message lists the known ones), or an option is
            not accepted by that model.
    """
    factory = model_factory(name)
    try:
        return factory(in_features, out_features, rngs=nnx.Rngs(seed), **options)
    except TypeError as err:
        raise ValueError(f"model {name!r} does not accept these options {sorted(options)}: {err}") from None


def model_penalty(model: nnx.Module):
    """The sum of ``penalty()`` over ``model``'s submodules that define one (0.0 when none do).

    A model part with a regulariser of its own (the gate entropy of a hybrid network,
    :mod:`sciml.library.gates`) declares it as a method ``penalty() -> scalar``; every training
    loop adds this sum to its loss, so no trainer needs to know what the part is.
    """
    total = 0.0
    for _, node in nnx.iter_graph(model):
        if isinstance(node, nnx.Module) and callable(getattr(node, "penalty", None)):
            total = total + node.penalty()
    return total


def _load_builtin_models(kind: str | None) -> None:
    import importlib

    for module in _BUILTIN[kind] if kind else [m for ms in _BUILTIN.values() for m in ms]:
        try:
            importlib.import_module(module)
        except ModuleNotFoundError as err:
            if err.name != module:
                raise
