"""Symmetries a solution must respect, each enforced as a loss term (and, where possible, by
construction of the surrogate).

* :class:`Reflection` — ``u(R z) = sign · u(z)`` for an involution ``R`` (parity, mirror).
* :class:`Translation` — ``u(z + s) = u(z)`` for a shift ``s`` along a coordinate.
* :class:`Conserved` — ``∫ q dΩ`` over the given coordinates is the same at every time.
* :class:`DivergenceFree` — ``∂f₁/∂c₁ + ∂f₂/∂c₂ = 0`` (incompressible flow in a plane); built in
  by a stream function, ``f₁ = ∂ψ/∂c₂``, ``f₂ = -∂ψ/∂c₁``, when ``hard``.

Each symmetry compiles itself (:meth:`Symmetry.compile`) into a
:class:`~sciml.dsl.terms.SampledTerm` defined beside it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar

import jax
import jax.numpy as jnp
import numpy as np
import sympy as sp

from sciml.dsl.domains import Domain
from sciml.dsl.errors import ProblemError
from sciml.dsl.symbols import check_expression, field_name
from sciml.dsl.terms import CompileContext, SampledTerm
from sciml.functions import lambdify


@dataclass(frozen=True)
class SymmetryTerm(SampledTerm):
    """A symmetry's loss; by default evaluated at the interior points."""

    kind: ClassVar[str] = "symmetry"
    count: ClassVar[str | None] = None


@dataclass(frozen=True, eq=False)
class Symmetry:
    weight: float = 1.0

    @property
    def kind(self) -> str:
        return type(self).__name__.lower()

    def term_name(self, index: int) -> str:
        """The loss term's name for the ``index``-th symmetry of a problem."""
        return f"{self.kind}#{index}"

    def check(self, problem) -> None:
        """Raise a :class:`ProblemError` naming the fix if the symmetry cannot hold in ``problem``
        (its :meth:`quantities` are checked like the equations)."""

    def quantities(self) -> tuple[sp.Expr, ...]:
        """The expressions of the fields the symmetry evaluates."""
        return ()

    def compile(self, index: int, context: CompileContext) -> SymmetryTerm:
        """The loss term imposing the ``index``-th symmetry of ``context.problem``."""
        raise ProblemError(f"unsupported symmetry {self!r}")

    def _check_field(self, problem) -> None:
        if field_name(self.field) not in problem.field_names:
            raise ProblemError(f"{self.describe()}: {field_name(self.field)!r} is not a field of the problem "
                               f"{tuple(problem.field_names)}")


@dataclass(frozen=True, eq=False)
class Reflection(Symmetry):
    """``field(mapping(z)) = sign · field(z)``; e.g. Burgers: ``Reflection(u, {x: -x}, sign=-1)``.

    Args:
        field: the field the symmetry acts on.
        mapping: coordinate -> expression, an involution such as ``{x: -x}``.
        sign: +1 (even) or -1 (odd).
        hard: build the symmetry into the surrogate, ``(N(z) + sign·N(Rz)) / 2``, so it holds
            exactly; the loss term is then reported but identically zero.
    """

    field: sp.Expr = None
    mapping: dict = None
    sign: int = 1
    hard: bool = False

    def __init__(self, field, mapping, sign=1, *, hard=False, weight=1.0):
        object.__setattr__(self, "field", field)
        object.__setattr__(self, "mapping", dict(mapping))
        object.__setattr__(self, "sign", int(sign))
        object.__setattr__(self, "hard", bool(hard))
        object.__setattr__(self, "weight", float(weight))

    def describe(self) -> str:
        m = ", ".join(f"{k}->{v}" for k, v in self.mapping.items())
        return f"Reflection({field_name(self.field)}: {m}, sign {self.sign:+d})"

    def check(self, problem) -> None:
        self._check_field(problem)
        if self.sign not in (-1, 1):
            raise ProblemError(f"{self.describe()}: sign must be +1 or -1")
        for k, v in self.mapping.items():
            if k not in problem.coordinates:
                raise ProblemError(f"{self.describe()}: {k} is not a coordinate of the problem")
            check_expression(sp.sympify(v), self.describe(), set(problem.coordinates), {}, allow_fields=False)

    def reflect(self, coordinates: tuple[sp.Symbol, ...]) -> Callable[[jax.Array], jax.Array]:
        """The map ``z -> R z`` of points ``(d,)`` with these coordinates."""
        zs = [sp.Symbol(f"_z{i}") for i in range(len(coordinates))]
        exprs = [sp.sympify(self.mapping.get(c, c)).xreplace(dict(zip(coordinates, zs))) for c in coordinates]
        fn = lambdify(zs, exprs, "jax")
        return lambda z: jnp.stack([jnp.asarray(v, z.dtype) * jnp.ones((), z.dtype) for v in fn(*z)])

    def compile(self, index, context):
        return ReflectionTerm(self.term_name(index), self.weight, context.field_index(field_name(self.field)),
                              self.reflect(context.problem.coordinates), self.sign)


@dataclass(frozen=True)
class ReflectionTerm(SymmetryTerm):
    """``mean (u(R z) - sign·u(z))²`` of field number ``field``."""

    field: int
    reflect: Callable[[jax.Array], jax.Array]
    sign: int

    def evaluate(self, field_fn, params, points):
        z = points["z"]
        u = jax.vmap(field_fn)(z)[:, self.field]
        ur = jax.vmap(lambda p: field_fn(self.reflect(p)))(z)[:, self.field]
        return jnp.mean((ur - self.sign * u) ** 2)


@dataclass(frozen=True, eq=False)
class Translation(Symmetry):
    """``field(z + shift·e_c) = field(z)``: invariance under a shift along ``coordinate``."""

    field: sp.Expr = None
    coordinate: sp.Symbol = None
    shift: float = 0.0

    def __init__(self, field, coordinate, shift, *, weight=1.0):
        object.__setattr__(self, "field", field)
        object.__setattr__(self, "coordinate", coordinate)
        object.__setattr__(self, "shift", float(shift))
        object.__setattr__(self, "weight", float(weight))

    def describe(self) -> str:
        return f"Translation({field_name(self.field)}: {self.coordinate} + {self.shift})"

    def check(self, problem) -> None:
        self._check_field(problem)
        if self.coordinate not in problem.coordinates:
            raise ProblemError(f"{self.describe()}: {self.coordinate} is not a coordinate of the problem")

    def compile(self, index, context):
        return TranslationTerm(self.term_name(index), self.weight, context.field_index(field_name(self.field)),
                               context.unit(self.coordinate) * self.shift)


@dataclass(frozen=True)
class TranslationTerm(SymmetryTerm):
    """``mean (u(z + shift) - u(z))²`` of field number ``field``."""

    field: int
    shift: np.ndarray

    def evaluate(self, field_fn, params, points):
        z = points["z"]
        u = jax.vmap(field_fn)(z)[:, self.field]
        us = jax.vmap(field_fn)(z + jnp.asarray(self.shift, z.dtype))[:, self.field]
        return jnp.mean((us - u) ** 2)


@dataclass(frozen=True, eq=False)
class Conserved(Symmetry):
    """``∫ quantity d(over)`` is constant in time, e.g. mass ``Conserved(u, over=[x])``; over no
    coordinate, the quantity itself (an ODE's energy: ``Conserved((q**2 + p**2) / 2, over=[])``).

    The integral is computed by Gauss–Legendre quadrature over the factor domain of ``over``
    at a set of sampled times; the loss is the variance of the integrals across times.
    """

    quantity: sp.Expr = None
    over: tuple = ()
    nodes: int = 64

    def __init__(self, quantity, over, *, nodes=64, weight=1.0):
        over = tuple(over) if isinstance(over, (list, tuple)) else (over,)
        object.__setattr__(self, "quantity", sp.sympify(quantity))
        object.__setattr__(self, "over", over)
        object.__setattr__(self, "nodes", int(nodes))
        object.__setattr__(self, "weight", float(weight))

    def describe(self) -> str:
        return f"Conserved(∫ {self.quantity} d{','.join(map(str, self.over))})"

    def check(self, problem) -> None:
        if problem.space_time.time is None:
            raise ProblemError(f"{self.describe()}: a conserved quantity needs a TimeInterval in the domain")
        for c in self.over:
            if c not in problem.coordinates:
                raise ProblemError(f"{self.describe()}: cannot integrate over {c}, which is not a coordinate")

    def quantities(self):
        return (self.quantity,)

    def compile(self, index, context):
        over_axes = tuple(context.axis(c) for c in self.over)
        # Tensor Gauss–Legendre rule over the integrated coordinates.
        lower, upper = context.problem.space_time.bounds()
        nodes, weights = np.polynomial.legendre.leggauss(self.nodes)
        grids = [lower[a] + (upper[a] - lower[a]) * (nodes + 1) / 2 for a in over_axes]
        wts = [(upper[a] - lower[a]) / 2 * weights for a in over_axes]
        # Over no coordinate (an ODE's invariant) the "integral" is the quantity at one point.
        mesh = np.stack([g.ravel() for g in np.meshgrid(*grids, indexing="ij")], axis=1) if grids else np.zeros((1, 0))
        w = np.prod(np.stack([g.ravel() for g in np.meshgrid(*wts, indexing="ij")], axis=1), axis=1) if wts else np.ones(1)
        return ConservedTerm(self.term_name(index), self.weight, context.expression(self.quantity),
                             context.problem.space_time, over_axes, mesh, w)


@dataclass(frozen=True)
class ConservedTerm(SymmetryTerm):
    """Variance across sampled times of ``∫ quantity`` by the quadrature rule (``mesh`` over
    ``over_axes``, weights ``w``); the times (and any other coordinates) drawn uniformly."""

    quantity: Callable  # (field_fn, params, z) -> value
    domain: Domain
    over_axes: tuple[int, ...]
    mesh: np.ndarray
    w: np.ndarray
    count: ClassVar[str] = "times"

    def sample(self, n, rng, method):
        base = self.domain.sample(n, rng, "uniform")  # time and other coordinates
        z = np.repeat(base[:, None, :], len(self.mesh), axis=1)
        z[:, :, list(self.over_axes)] = self.mesh[None]
        return {"z": z, "w": np.broadcast_to(self.w, z.shape[:2]).copy()}

    def evaluate(self, field_fn, params, points):
        q = jax.vmap(jax.vmap(lambda p: self.quantity(field_fn, params, p)))(points["z"])
        return jnp.var(jnp.sum(q * points["w"], axis=1))


@dataclass(frozen=True, eq=False)
class DivergenceFree(Symmetry):
    """``∂f₁/∂c₁ + ∂f₂/∂c₂ = 0``: a planar field without sources, e.g. the velocity of an
    incompressible flow, ``DivergenceFree([u, v], [x, y])``.

    Args:
        fields: the two fields ``(f₁, f₂)``.
        coordinates: the coordinates ``(c₁, c₂)`` they are differentiated along.
        hard: build it into the surrogate with a stream function ``ψ`` (the network's output
            for ``f₁``): ``f₁ = ∂ψ/∂c₂``, ``f₂ = -∂ψ/∂c₁``, so the divergence vanishes
            identically and the loss term is reported but zero. Conditions on the two fields
            then stay loss terms (the stream function carries them).
    """

    fields: tuple = ()
    coordinates: tuple = ()
    hard: bool = False

    def __init__(self, fields, coordinates, *, hard=False, weight=1.0):
        object.__setattr__(self, "fields", tuple(fields))
        object.__setattr__(self, "coordinates", tuple(coordinates))
        object.__setattr__(self, "hard", bool(hard))
        object.__setattr__(self, "weight", float(weight))

    @property
    def field_names(self) -> tuple[str, ...]:
        return tuple(field_name(f) for f in self.fields)

    @property
    def divergence(self) -> sp.Expr:
        return sum(sp.diff(f, c) for f, c in zip(self.fields, self.coordinates))

    def describe(self) -> str:
        terms = " + ".join(f"d{n}/d{c}" for n, c in zip(self.field_names, self.coordinates))
        return f"DivergenceFree({terms} = 0)"

    def check(self, problem) -> None:
        if len(self.fields) != 2 or len(self.coordinates) != 2:
            raise ProblemError(f"{self.describe()}: give two fields and two coordinates (a plane); a "
                               "divergence in more dimensions is an equation of the problem")
        missing = [n for n in self.field_names if n not in problem.field_names]
        if missing or len(set(self.field_names)) != 2:
            raise ProblemError(f"{self.describe()}: the fields must be two different fields of the problem "
                               f"{tuple(problem.field_names)}")
        if len(set(self.coordinates)) != 2 or any(c not in problem.coordinates for c in self.coordinates):
            raise ProblemError(f"{self.describe()}: the coordinates must be two different coordinates of the "
                               f"problem {tuple(problem.coordinates)}")
        if self.hard:
            clashes = [c.describe() for c in problem.conditions
                       if c.hard and c.field_name in self.field_names and c.kind != "periodic"]
            clashes += [s.describe() for s in problem.symmetries
                        if isinstance(s, Reflection) and s.hard and field_name(s.field) in self.field_names]
            if clashes:
                raise ProblemError(f"{self.describe()} with hard=True builds {', '.join(self.field_names)} from a "
                                   f"stream function, which cannot also impose {', '.join(clashes)} exactly; make "
                                   "those soft (hard=False) or this one soft")

    def quantities(self):
        return (self.divergence,)

    def compile(self, index, context):
        return DivergenceTerm(self.term_name(index), self.weight, context.expression(self.divergence))

    def stream(self, problem) -> tuple[int, int, int, int]:
        """``(f₁, f₂, c₁, c₂)`` as indices of the problem's fields and coordinates."""
        names, coords = tuple(problem.field_names), tuple(problem.coordinates)
        return (names.index(self.field_names[0]), names.index(self.field_names[1]),
                coords.index(self.coordinates[0]), coords.index(self.coordinates[1]))


@dataclass(frozen=True)
class DivergenceTerm(SymmetryTerm):
    """``mean (∂f₁/∂c₁ + ∂f₂/∂c₂)²`` at the interior points."""

    divergence: Callable  # (field_fn, params, z) -> value

    def evaluate(self, field_fn, params, points):
        return jnp.mean(jax.vmap(lambda p: self.divergence(field_fn, params, p))(points["z"]) ** 2)
