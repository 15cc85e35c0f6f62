"""Initial and boundary conditions.

Each condition names a field, the boundary piece it holds on and the value it prescribes (a
number or a sympy expression of the coordinates). ``hard=True`` asks the compiler to satisfy a
Dirichlet or initial condition exactly, by an output transform, instead of by a loss term.
"""

from __future__ import annotations

from dataclasses import dataclass

import sympy as sp

from sciml.dsl.domains import BoundaryPiece
from sciml.dsl.symbols import field_name


@dataclass(frozen=True, eq=False)
class Condition:
    """Base class: a field constrained on (a piece of) the boundary."""

    field: sp.Expr
    value: sp.Expr | float = 0
    on: BoundaryPiece | str | None = None
    weight: float = 1.0
    hard: bool = False

    @property
    def field_name(self) -> str:
        return field_name(self.field)

    @property
    def kind(self) -> str:
        return type(self).__name__.lower()

    def describe(self) -> str:
        where = self.on.label if isinstance(self.on, BoundaryPiece) else self.on
        return f"{type(self).__name__}({self.field_name} on {where})"


@dataclass(frozen=True, eq=False)
class Dirichlet(Condition):
    """``u = value`` on the piece."""


@dataclass(frozen=True, eq=False)
class Neumann(Condition):
    """``∂u/∂n = value`` on the piece (outward normal derivative)."""


@dataclass(frozen=True, eq=False)
class Robin(Condition):
    """``a·u + b·∂u/∂n = value`` on the piece."""

    a: float = 1.0
    b: float = 1.0


@dataclass(frozen=True, eq=False)
class Initial(Condition):
    """``∂ᵏu/∂tᵏ = value`` at the start of the time interval (``order`` k, default 0)."""

    order: int = 0


@dataclass(frozen=True, eq=False)
class Periodic(Condition):
    """``u`` (and its first ``derivatives`` derivatives along ``coordinate``) equal at both ends.

    Args:
        coordinate: the periodic coordinate; its factor must be an Interval.
        derivatives: how many derivatives must also match (1 makes the field C¹-periodic).
    """

    coordinate: sp.Symbol | None = None
    derivatives: int = 1

    def describe(self) -> str:
        return f"Periodic({self.field_name} in {self.coordinate})"
