"""Compiled loss terms: the typed interface between compilation and training.

A compiled problem is a list of :class:`Term` objects, each with the ``name`` the loss, the
metrics and the checkpoints know it by (``dirichlet:u#0``), its ``kind`` and its fixed
``weight``. A :class:`SampledTerm` draws its own points and evaluates its own loss; conditions
and symmetries compile themselves into one (``Condition.compile``, ``Symmetry.compile``) from a
:class:`CompileContext`, so a new kind of condition is one class beside its description.

A batch is a pytree JAX can trace: a dict holding the shared collocation points under
:data:`INTERIOR` and, under each term's name, the points that term drew for itself.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

import jax
import jax.numpy as jnp
import numpy as np
import sympy as sp

FieldFunction = Callable[[jax.Array], jax.Array]  # z (d,) -> (n_fields,)
Params = dict[str, jax.Array]

INTERIOR = "interior"
"""Key of the shared collocation points, in a batch and in the point counts: the equations'
residuals, and the terms without points of their own, are evaluated there."""

DEFAULT_COUNTS = {INTERIOR: 1000, "boundary": 200, "times": 32}
"""Points drawn for each count a batch's point counts leave out."""


def additive_terms(expr) -> tuple:
    """The terms of a sympy sum (expanded when written as one product): what an equation or a
    relation balances, each judged against the largest of them."""
    terms = sp.Add.make_args(expr)
    return terms if len(terms) > 1 else sp.Add.make_args(sp.expand(expr))


def nested_derivative(fn: FieldFunction, directions: tuple[jax.Array, ...]) -> FieldFunction:
    """``z -> D_{v1} D_{v2} ... fn(z)`` by nested forward-mode products."""

    def along(g: FieldFunction, v) -> FieldFunction:
        return lambda z: jax.jvp(g, (z,), (jnp.asarray(v, z.dtype),))[1]

    for v in reversed(directions):
        fn = along(fn, v)
    return fn


@dataclass(frozen=True)
class CompileContext:
    """What a condition or symmetry needs of its problem to compile itself into a term.

    ``expression(sympy expression)`` is a per-point function ``(field_fn, params, z) -> value``
    (:class:`~sciml.dsl.compile.PointExpression`).
    """

    problem: Any  # sciml.dsl.problem.Problem (which imports the conditions)
    expression: Callable

    def field_index(self, name: str) -> int:
        return self.problem.field_names.index(name)

    def axis(self, coordinate) -> int:
        return self.problem.coordinates.index(coordinate)

    def unit(self, coordinate) -> np.ndarray:
        """The unit vector along ``coordinate``."""
        return np.eye(len(self.problem.coordinates))[self.axis(coordinate)]


@dataclass(frozen=True)
class Term:
    """One named, weighted loss term (``kind``: residual, condition, symmetry or data)."""

    name: str
    weight: float
    kind: ClassVar[str]


@dataclass(frozen=True)
class ResidualTerm(Term):
    """Mean squared residual of equation number ``equation`` at the interior points. All
    equations are evaluated together, from one trace of the network per derivative chain, by
    :meth:`~sciml.dsl.compile.CompiledProblem.loss_terms`."""

    equation: int
    kind: ClassVar[str] = "residual"


@dataclass(frozen=True)
class SampledTerm(Term):
    """A term that draws its own points and evaluates its own loss.

    ``count`` names the entry of the point counts that sizes the sample; None for a term
    evaluated at the interior points, which has no points of its own.
    """

    count: ClassVar[str | None] = "boundary"

    def sample(self, n: int, rng: np.random.Generator, method: str) -> dict[str, np.ndarray]:
        """The term's points (host side, a dict of arrays)."""
        raise NotImplementedError(f"{type(self).__name__} is evaluated at the interior points")

    def points(self, batch: dict) -> dict:
        """The term's points in a batch."""
        return batch[INTERIOR] if self.count is None else batch[self.name]

    def evaluate(self, field_fn: FieldFunction, params: Params, points: dict) -> jax.Array:
        """The term's loss, a scalar, at its ``points``."""
        raise NotImplementedError


@dataclass(frozen=True)
class DataTerm(SampledTerm):
    """Mean squared misfit of field ``field_name`` (number ``field``) to its observations
    ``values`` at the points ``z``."""

    field_name: str
    field: int
    z: np.ndarray
    values: np.ndarray
    kind: ClassVar[str] = "data"
    count: ClassVar[str] = "data"  # the observations, whatever the count

    @classmethod
    def of(cls, field_name: str, field: int, z: np.ndarray, values: np.ndarray) -> DataTerm:
        return cls(f"data:{field_name}", 1.0, field_name, field, z, values)

    def sample(self, n, rng, method):
        return {"z": self.z, "u": self.values}

    def evaluate(self, field_fn, params, points):
        pred = jax.vmap(field_fn)(points["z"])[:, self.field]
        return jnp.mean((pred - points["u"]) ** 2)
