"""Unknown terms evaluated in JAX: each :func:`~sciml.dsl.Unknown` is a network of its inputs.

An :class:`UnknownInputs` says where an unknown's inputs come from at a point (a field's value
or a coordinate) and how they are scaled for the network: each to ``[-1, 1]`` over its range —
a coordinate's over the domain, a field's over its observations (``[-1, 1]`` unscaled when the
field is not observed). An :class:`UnknownNetwork` is the network itself, split into its
structure (fixed) and its parameters, which live in the problem's one parameter tree beside
the learned constants (:meth:`sciml.dsl.compile.CompiledProblem.initial_parameters`), so the
same optimiser, checkpoints and saved runs carry them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx
from sympy.core.function import AppliedUndef

from sciml.dsl.errors import ProblemError
from sciml.dsl.symbols import field_name
from sciml.dsl.unknowns import UnknownTerm


@dataclass(frozen=True)
class UnknownInputs:
    """Where the inputs of one unknown term come from, and their scaling.

    ``sources[k]`` is ``("field", index)`` or ``("coordinate", axis)``; ``lower``/``upper`` the
    range mapped to ``[-1, 1]``.
    """

    name: str
    input_names: tuple[str, ...]
    sources: tuple[tuple[str, int], ...]
    lower: np.ndarray
    upper: np.ndarray

    @property
    def field_indices(self) -> tuple[int, ...]:
        return tuple(i for kind, i in self.sources if kind == "field")

    def values(self, z: jax.Array, fields: jax.Array) -> jax.Array:
        """Unscaled inputs ``(..., n_inputs)`` at points ``z (..., d)`` with fields ``(..., n_fields)``."""
        columns = [fields[..., i] if kind == "field" else z[..., i] for kind, i in self.sources]
        return jnp.stack(columns, axis=-1)

    def scale(self, values: jax.Array) -> jax.Array:
        lo, hi = jnp.asarray(self.lower, values.dtype), jnp.asarray(self.upper, values.dtype)
        return 2.0 * (values - lo) / (hi - lo) - 1.0


@dataclass(frozen=True)
class UnknownNetwork:
    """The network of one unknown term: ``graphdef`` and non-trainable ``rest`` of a flax nnx
    module mapping ``(..., n_inputs) -> (..., 1)``; its parameters are passed at evaluation."""

    inputs: UnknownInputs
    graphdef: Any
    rest: Any

    @classmethod
    def split(cls, inputs: UnknownInputs, module: nnx.Module) -> tuple[UnknownNetwork, Any]:
        """``(network, its initial parameters)`` from a built module."""
        graphdef, params, rest = nnx.split(module, nnx.Param, ...)
        return cls(inputs, graphdef, rest), params

    def __call__(self, params, values: jax.Array) -> jax.Array:
        """The term at unscaled inputs ``(..., n_inputs)`` -> ``(...)``."""
        rest = jax.tree.map(lambda a: jnp.asarray(a, values.dtype) if jnp.issubdtype(jnp.asarray(a).dtype, jnp.floating)
                            else a, self.rest)
        module = nnx.merge(self.graphdef, params, rest)
        return module(self.inputs.scale(values))[..., 0]


def unknown_inputs(problem, term: UnknownTerm, observations: dict) -> UnknownInputs:
    """The :class:`UnknownInputs` of ``term`` in ``problem`` (``observations``:
    ``{field: (points, values)}``, which give the range of an observed field input)."""
    coords = problem.coordinates
    lower, upper = problem.space_time.bounds()
    sources, lo, hi = [], [], []
    for s in term.args:
        if isinstance(s, AppliedUndef):
            index = problem.field_names.index(field_name(s))
            sources.append(("field", index))
            values = observations.get(field_name(s), (None, None))[1]
            a, b = (float(np.min(values)), float(np.max(values))) if values is not None and len(values) else (-1.0, 1.0)
            if not b > a:
                a, b = a - 1.0, b + 1.0
        else:
            axis = coords.index(s)
            sources.append(("coordinate", axis))
            a, b = float(lower[axis]), float(upper[axis])
        lo.append(a)
        hi.append(b)
    return UnknownInputs(term.name, term.input_names, tuple(sources), np.asarray(lo), np.asarray(hi))


def missing_network(name: str):
    """A stand-in that says how to give an unknown term its network."""

    def fail(*_):
        raise ProblemError(f"the unknown term {name!r} has no network yet; solve the problem with sciml.solve "
                           "(or compile it with compile_problem(..., unknown_networks={name: module}))")

    return fail
