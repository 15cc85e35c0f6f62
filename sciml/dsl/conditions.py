"""Initial, boundary and gauge conditions.

Each condition names a field, where it holds and the value it prescribes (a number or a sympy
expression of the coordinates). ``hard=True`` asks the compiler to satisfy a Dirichlet,
initial or periodic condition exactly, by construction of the field function, instead of by a
loss term.

Gauge conditions (:class:`Pin`, :class:`MeanValue`) fix the constant that the equations leave
free in a field they only differentiate, such as the pressure of incompressible flow.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

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
    """``∂ᵏu/∂tᵏ = value`` at the start of the time interval (``order`` k, 0 or 1).

    With ``hard=True`` both orders hold exactly through the output transform
    ``u = G + (u₀ - G₀) + (t - t₀)(u₁ - ∂ₜG₀) + τᵏ⁺¹ D N`` (``G``, ``D``: hard Dirichlet data
    and distance, ``τ`` the scaled time, ``k`` the highest hard order); a hard first-order
    condition needs the value (order 0) to be hard too.
    """

    order: int = 0

    def describe(self) -> str:
        what = self.field_name if self.order == 0 else f"d{self.field_name}/dt"
        return f"Initial({what} at the start)"


@dataclass(frozen=True, eq=False)
class Periodic(Condition):
    r"""``u`` (and its first ``derivatives`` derivatives along ``coordinate``) equal at both ends.

    Soft (default): a loss term matches the values and derivatives at the two ends.
    ``hard=True``: exact by construction. The network sees the periodic coordinate ``x`` of
    the interval ``[a, b]`` only through the Fourier embedding

    .. math:: x \mapsto \big(\cos(2\pi k (x - a)/L),\ \sin(2\pi k (x - a)/L)\big)_{k=1..K},
              \qquad L = b - a,

    so every field and all its derivatives are L-periodic in ``x`` whatever the surrogate
    (Dong & Ni 2021, "A method for representing periodic functions and enforcing exactly
    periodic boundary conditions with deep neural networks", JCP 435). The embedding acts on
    the coordinate, so a hard periodic coordinate must be declared periodic for every field.

    Args:
        coordinate: the periodic coordinate; its factor must be an Interval.
        derivatives: how many derivatives must also match (soft only; 1 makes the field
            C¹-periodic).
        modes: ``K``, the number of Fourier modes of the exact embedding (hard only).
    """

    coordinate: sp.Symbol | None = None
    derivatives: int = 1
    modes: int = 1

    def describe(self) -> str:
        return f"Periodic({self.field_name} in {self.coordinate})"


@dataclass(frozen=True, eq=False)
class Pin(Condition):
    """``u = value`` at one point ``at`` — fixes the free constant of a field (a gauge).

    ``at`` maps coordinates to values, e.g. ``Pin(p, 0, at={x: 0, y: 0})``; coordinates left
    out (typically time) are sampled, so the field is pinned along that line. Always a loss
    term: ``mean (u(at) - value)²``.
    """

    at: Mapping[sp.Symbol, float] = field(default_factory=dict)

    def describe(self) -> str:
        where = ", ".join(f"{c}={v}" for c, v in self.at.items())
        return f"Pin({self.field_name} at {where})"


@dataclass(frozen=True, eq=False)
class MeanValue(Condition):
    """``mean of u over space = value`` — fixes the free constant of a field (a gauge).

    The mean is taken over the spatial factors of the domain (at each sampled time in an
    evolution problem), estimated from the batch's points. Always a loss term:
    ``(mean u - value)²`` per sampled time.
    """

    def describe(self) -> str:
        return f"MeanValue({self.field_name})"


GAUGE_CONDITIONS = (Pin, MeanValue)
"""Conditions that fix the constant a field is otherwise defined only up to."""
