"""The surrogate protocol and the registry that maps model names to constructors.

A *surrogate* is a :class:`flax.nnx.Module` that maps a batch of coordinates
``(..., in_features)`` to a batch of field values ``(..., out_features)``. Nothing else is
required; optional hooks (``edges()`` for KAN inspection, ``constrain`` for hard conditions)
are discovered with ``hasattr``. Every surrogate is built through :func:`build_model`, so the
command line, problem files and the trainer never import a concrete model class.
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
_REGISTRY: dict[str, tuple[ModelFactory, str]] = {}


def register_model(name: str, description: str = "") -> Callable[[ModelFactory], ModelFactory]:
    """Register ``factory(in_features, out_features, *, rngs, **options) -> nnx.Module``."""

    def decorator(factory: ModelFactory) -> ModelFactory:
        _REGISTRY[name] = (factory, description or (factory.__doc__ or "").strip().split("\n")[0])
        return factory

    return decorator


def available_models() -> dict[str, str]:
    """Names of the registered surrogates with a one-line description each."""
    _load_builtin_models()
    return {name: desc for name, (_, desc) in sorted(_REGISTRY.items())}


def build_model(
    name: str, in_features: int, out_features: int, *, seed: int = 0, **options: Any
) -> nnx.Module:
    """Build the surrogate registered as ``name``.

    Raises:
        ValueError: the name is unknown (the message lists the known ones), or an option is
            not accepted by that model.
    """
    _load_builtin_models()
    if name not in _REGISTRY:
        known = ", ".join(sorted(_REGISTRY))
        raise ValueError(f"unknown model {name!r}; choose one of: {known}")
    factory, _ = _REGISTRY[name]
    try:
        return factory(in_features, out_features, rngs=nnx.Rngs(seed), **options)
    except TypeError as err:
        raise ValueError(f"model {name!r} does not accept these options {sorted(options)}: {err}") from None


def _load_builtin_models() -> None:
    # Importing the model modules registers them; done lazily so `import sciml` stays light.
    import importlib

    for module in ("sciml.models.mlp", "sciml.models.kan"):
        try:
            importlib.import_module(module)
        except ModuleNotFoundError as err:
            if err.name != module:
                raise
