r"""Poisson 2D of the KAN paper: :math:`u = \sin(\pi x)\sin(\pi y^2)` on :math:`[-1, 1]^2`.

Liu et al. (2024), "KAN: Kolmogorov–Arnold Networks", section 3.4, solve

.. math::

    \nabla^2 u = f \ \text{in}\ \Omega = [-1, 1]^2, \qquad u = 0 \ \text{on}\ \partial\Omega,

    f(x, y) = -\pi^2 (1 + 4y^2)\sin(\pi x)\sin(\pi y^2) + 2\pi \sin(\pi x)\cos(\pi y^2),

whose exact solution is :math:`u = \sin(\pi x)\sin(\pi y^2)` (zero on all four edges since
:math:`\sin(\pm\pi) = 0`). The sign convention is :math:`\nabla^2 u = f` (no minus sign), as
in the paper. :func:`poisson_forcing` is derived symbolically from the solution, never typed
by hand.
"""

from __future__ import annotations

import functools

import numpy as np
import sympy as sp
import xarray as xr

__all__ = [
    "poisson_exact",
    "poisson_expr",
    "poisson_forcing",
    "poisson_forcing_expr",
    "poisson_reference",
]


def poisson_expr() -> tuple[sp.Expr, tuple[sp.Symbol, sp.Symbol]]:
    """Exact solution ``sin(pi x) sin(pi y^2)`` as a sympy expression in ``(x, y)``."""
    x, y = sp.symbols("x y", real=True)
    return sp.sin(sp.pi * x) * sp.sin(sp.pi * y**2), (x, y)


def poisson_forcing_expr() -> tuple[sp.Expr, tuple[sp.Symbol, sp.Symbol]]:
    """The forcing ``f = u_xx + u_yy`` of the exact solution, derived with sympy."""
    u, (x, y) = poisson_expr()
    return sp.simplify(sp.diff(u, x, 2) + sp.diff(u, y, 2)), (x, y)


@functools.cache
def _lambdified():
    u, (x, y) = poisson_expr()
    f, _ = poisson_forcing_expr()
    return sp.lambdify((x, y), u, "numpy"), sp.lambdify((x, y), f, "numpy")


def poisson_exact(x, y) -> np.ndarray:
    """Exact solution at broadcast ``x``, ``y`` (numpy, float64)."""
    x, y = np.broadcast_arrays(np.asarray(x, np.float64), np.asarray(y, np.float64))
    return np.asarray(_lambdified()[0](x, y), dtype=np.float64)


def poisson_forcing(x, y) -> np.ndarray:
    """Forcing :math:`f = \\nabla^2 u` at broadcast ``x``, ``y`` (numpy, float64)."""
    x, y = np.broadcast_arrays(np.asarray(x, np.float64), np.asarray(y, np.float64))
    return np.asarray(_lambdified()[1](x, y), dtype=np.float64) * np.ones_like(x)


def poisson_reference(n: int = 101) -> xr.Dataset:
    """Exact solution and forcing on an ``n`` x ``n`` grid of [-1, 1]^2 (end points included)."""
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)):
        raise TypeError(f"n must be an int, got {type(n).__name__}")
    if n < 2:
        raise ValueError(f"n must be >= 2, got {n}")
    x = np.linspace(-1.0, 1.0, n)
    y = np.linspace(-1.0, 1.0, n)
    u = poisson_exact(x[:, None], y[None, :])
    u[[0, -1], :] = 0.0  # sin(+-pi) is ~1e-16 in floating point; the condition is exact
    u[:, [0, -1]] = 0.0
    f = poisson_forcing(x[:, None], y[None, :])
    expr, _ = poisson_expr()
    fexpr, _ = poisson_forcing_expr()
    return xr.Dataset(
        {
            "u": (("x", "y"), u, {"long_name": "solution"}),
            "f": (("x", "y"), f, {"long_name": "forcing, laplacian of u"}),
        },
        coords={"x": ("x", x), "y": ("y", y)},
        attrs={
            "title": "Poisson 2D of the KAN paper, exact solution",
            "equation": "u_xx + u_yy = f",
            "domain": "(x, y) in [-1, 1]^2",
            "boundary_condition": "u = 0 on the boundary",
            "solution": str(expr),
            "forcing": str(fexpr),
            "method": "closed form; forcing derived symbolically with sympy; float64",
            "estimated_max_abs_error": 1e-15,
            "references": "Liu et al. (2024), KAN: Kolmogorov-Arnold Networks, arXiv:2404.19756",
        },
    )


if __name__ == "__main__":  # regenerate the shipped file: python -m sciml.datasets.poisson
    import pathlib

    path = pathlib.Path(__file__).with_name("poisson2d.nc")
    poisson_reference().to_netcdf(path, engine="h5netcdf")
    print(f"wrote {path} ({path.stat().st_size / 1024:.0f} KiB)")
