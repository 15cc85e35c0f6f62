"""Transport operators: advection, diffusion and their conservative forms."""

from __future__ import annotations

from typing import Sequence

import sympy as sp

from sciml.operators.calculus import divergence, gradient, laplacian


def advection(u: sp.Expr, velocity: Sequence[sp.Expr], coordinates: Sequence[sp.Symbol]) -> sp.Expr:
    """``(v·∇)u = Σ_i v_i ∂u/∂x_i`` (non-conservative form; ``v`` may contain fields)."""
    return sp.Add(*[v * g for v, g in zip(velocity, gradient(u, coordinates))])


def diffusion(u: sp.Expr, diffusivity: sp.Expr, coordinates: Sequence[sp.Symbol]) -> sp.Expr:
    """``∇·(D ∇u)``; for a constant ``D`` this is ``D Δu``."""
    D = sp.sympify(diffusivity)
    if not any(D.has(c) for c in coordinates) and not D.atoms(sp.core.function.AppliedUndef):
        return D * laplacian(u, coordinates)
    return divergence([D * g for g in gradient(u, coordinates)], coordinates)


def advection_diffusion(u, velocity, diffusivity, coordinates, time: sp.Symbol) -> sp.Expr:
    """Residual of ``u_t + (v·∇)u - ∇·(D∇u) = 0``."""
    return sp.diff(u, time) + advection(u, velocity, coordinates) - diffusion(u, diffusivity, coordinates)


def burgers(u: sp.Expr, viscosity: sp.Expr, x: sp.Symbol, t: sp.Symbol) -> sp.Expr:
    """Residual of the viscous Burgers equation ``u_t + u u_x - ν u_xx = 0``."""
    return advection_diffusion(u, [u], viscosity, [x], t)
