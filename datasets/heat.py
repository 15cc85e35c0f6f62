r"""Heat 1D with a closed-form solution (a two-mode Fourier sine series).

.. math::

    u_t = k\,u_{xx}, \qquad x \in [0, 1],\ t \in [0, 1], \qquad u(0, t) = u(1, t) = 0,

    u(x, 0) = \sin(\pi x) + \tfrac12 \sin(3\pi x), \qquad k = 0.1,

    u(x, t) = e^{-k\pi^2 t}\sin(\pi x) + \tfrac12\,e^{-9k\pi^2 t}\sin(3\pi x).

Each sine mode :math:`\sin(n\pi x)` of the initial condition is an eigenfunction of
:math:`\partial_{xx}` with the Dirichlet conditions and decays independently at rate
:math:`k n^2\pi^2`. With :math:`k = 0.1` the fast mode falls to :math:`e^{-9\pi^2/10}\approx
1.4\times10^{-4}` of its start by :math:`t = 1` while the slow one keeps :math:`0.37`, so the
problem tests both time scales.
"""

from __future__ import annotations

import numpy as np
import sympy as sp
import xarray as xr

KAPPA = 0.1
"""Diffusivity :math:`k` of the catalogue problem."""

__all__ = ["KAPPA", "heat_exact", "heat_expr", "heat_reference"]


def heat_expr(kappa: float = KAPPA) -> tuple[sp.Expr, tuple[sp.Symbol, sp.Symbol]]:
    """The exact solution as a sympy expression in ``(x, t)``."""
    x, t = sp.symbols("x t", real=True)
    k = sp.nsimplify(kappa)
    u = sp.exp(-k * sp.pi**2 * t) * sp.sin(sp.pi * x) + sp.Rational(1, 2) * sp.exp(
        -9 * k * sp.pi**2 * t
    ) * sp.sin(3 * sp.pi * x)
    return u, (x, t)


def heat_exact(x, t, kappa: float = KAPPA) -> np.ndarray:
    """Exact solution at broadcast ``x`` and ``t`` (numpy, float64)."""
    if not kappa > 0:
        raise ValueError(f"kappa must be positive, got {kappa}")
    x = np.asarray(x, dtype=np.float64)
    t = np.asarray(t, dtype=np.float64)
    a = np.pi**2 * kappa
    return np.exp(-a * t) * np.sin(np.pi * x) + 0.5 * np.exp(-9 * a * t) * np.sin(3 * np.pi * x)


def heat_reference(nx: int = 101, nt: int = 101, *, kappa: float = KAPPA) -> xr.Dataset:
    """Exact solution on ``nx`` points in [0, 1] x ``nt`` times in [0, 1] (end points included)."""
    for name, value in (("nx", nx), ("nt", nt)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
            raise TypeError(f"{name} must be an int, got {type(value).__name__}")
        if value < 2:
            raise ValueError(f"{name} must be >= 2, got {value}")
    x = np.linspace(0.0, 1.0, nx)
    t = np.linspace(0.0, 1.0, nt)
    u = heat_exact(x[:, None], t[None, :], kappa)
    u[[0, -1], :] = 0.0  # sin(n pi) is ~1e-16 in floating point; the condition is exact
    expr, _ = heat_expr(kappa)
    return xr.Dataset(
        {"u": (("x", "t"), u, {"long_name": "temperature", "units": "1"})},
        coords={"x": ("x", x, {"long_name": "position"}), "t": ("t", t, {"long_name": "time"})},
        attrs={
            "title": "Heat 1D exact solution",
            "equation": "u_t = kappa*u_xx",
            "domain": "x in [0, 1], t in [0, 1]",
            "initial_condition": "u(x, 0) = sin(pi*x) + 0.5*sin(3*pi*x)",
            "boundary_condition": "u(0, t) = u(1, t) = 0",
            "kappa": kappa,
            "solution": str(expr),
            "method": "closed form (separation of variables), evaluated in float64",
            "estimated_max_abs_error": 1e-15,
        },
    )


if __name__ == "__main__":  # regenerate the shipped file: python -m sciml.datasets.heat
    import pathlib

    path = pathlib.Path(__file__).with_name("heat.nc")
    heat_reference().to_netcdf(path, engine="h5netcdf")
    print(f"wrote {path} ({path.stat().st_size / 1024:.0f} KiB)")
