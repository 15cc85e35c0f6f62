"""Symmetries a solution must respect, each enforced as a loss term (and, where possible, by
construction of the surrogate).

* :class:`Reflection` — ``u(R z) = sign · u(z)`` for an involution ``R`` (parity, mirror).
* :class:`Translation` — ``u(z + s) = u(z)`` for a shift ``s`` along a coordinate.
* :class:`Conserved` — ``∫ q dΩ`` over the given coordinates is the same at every time.
"""

from __future__ import annotations

from dataclasses import dataclass

import sympy as sp

from sciml.dsl.symbols import field_name


@dataclass(frozen=True, eq=False)
class Symmetry:
    weight: float = 1.0

    @property
    def kind(self) -> str:
        return type(self).__name__.lower()


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


@dataclass(frozen=True, eq=False)
class Conserved(Symmetry):
    """``∫ quantity d(over)`` is constant in time, e.g. mass ``Conserved(u, over=[x])``.

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
