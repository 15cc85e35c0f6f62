"""Differential operators written with the DSL: plain sympy, so they compose into equations.

Each takes fields (``u(x, t)``) and the coordinates to act on, and returns a sympy expression.
"""

from __future__ import annotations

from typing import Sequence

import sympy as sp


def gradient(u: sp.Expr, coordinates: Sequence[sp.Symbol]) -> list[sp.Expr]:
    """``∇u = [∂u/∂x_1, ..., ∂u/∂x_d]``."""
    return [sp.diff(u, c) for c in coordinates]


def divergence(vector: Sequence[sp.Expr], coordinates: Sequence[sp.Symbol]) -> sp.Expr:
    """``∇·v = Σ_i ∂v_i/∂x_i``."""
    if len(vector) != len(coordinates):
        raise ValueError(f"divergence needs one component per coordinate: {len(vector)} vs {len(coordinates)}")
    return sp.Add(*[sp.diff(v, c) for v, c in zip(vector, coordinates)])


def laplacian(u: sp.Expr, coordinates: Sequence[sp.Symbol]) -> sp.Expr:
    """``Δu = Σ_i ∂²u/∂x_i²``."""
    return sp.Add(*[sp.diff(u, c, 2) for c in coordinates])
