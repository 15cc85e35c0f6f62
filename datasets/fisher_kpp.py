r"""Fisher–KPP 1D reference solution: a travelling front, by the method of lines.

.. math::

    u_t = D\,u_{xx} + u\,(1 - u), \qquad x \in [0, 1],\ t \in [0, T], \qquad
    u_x(0, t) = u_x(1, t) = 0, \qquad u(x, 0) = \tfrac12\big(1 - \tanh\tfrac{x - x_0}{w}\big),

with :math:`D = 0.01`, :math:`T = 3`, :math:`x_0 = 0.2`, :math:`w = 0.05`. The invaded state
:math:`u = 1` spreads into :math:`u = 0` as a front whose speed tends to the minimal wave speed
:math:`c^* = 2\sqrt{D} = 0.2` (Fisher 1937; Kolmogorov, Petrovsky & Piskunov 1937), which it
approaches slowly from below while the steep initial profile relaxes to the front's own
width: over :math:`[0, 3]` its midpoint moves from :math:`x = 0.2` to about :math:`0.55`, clear
of the far wall, and every value of :math:`u` in :math:`(0, 1)` is seen throughout.

Space is discretised by second-order central differences on a uniform grid with the no-flux
conditions by mirror (ghost) points; the stiff system of ODEs is integrated by scipy's Radau
IIA (order 5) with its banded Jacobian at tight tolerances. :func:`verify` measures the error
on the output grid against the same solve with twice the points (and with a hundredfold
tighter tolerance): the figures measured when the shipped file was generated are stored in its
attributes.

References:
    Fisher (1937), "The wave of advance of advantageous genes", Ann. Eugenics 7.
    Kolmogorov, Petrovsky, Piskunov (1937), Bull. Moscow Univ. Math. Mech. 1.
"""

from __future__ import annotations

import numpy as np
import xarray as xr
from scipy.integrate import solve_ivp

D = 0.01
"""Diffusivity of the catalogue problem."""
T = 3.0
"""Final time: the front's midpoint moves from 0.2 to about 0.55."""
FRONT = 0.2
WIDTH = 0.05
CELLS = 1600
"""Grid intervals of the shipped solve (see :func:`verify` for its error)."""
RTOL = 1e-10

__all__ = ["D", "T", "fisher_kpp_initial", "fisher_kpp_reference", "fisher_kpp_solve", "logistic", "logistic_slope", "verify"]


def fisher_kpp_initial(x) -> np.ndarray:
    """The initial front ``(1 - tanh((x - 0.25)/0.05))/2``."""
    return 0.5 * (1.0 - np.tanh((np.asarray(x, dtype=np.float64) - FRONT) / WIDTH))


def logistic(u):
    """The Fisher-KPP reaction ``u (1 - u)``."""
    return u * (1 - u)


def logistic_slope(u):
    """Its derivative ``1 - 2 u`` (for the Jacobian)."""
    return 1 - 2 * u


def _rhs(d: float, h: float, reaction):
    def rhs(_, u):
        # Neumann u_x = 0 by mirror points: u[-1] = u[1], u[n+1] = u[n-1].
        lap = np.empty_like(u)
        lap[1:-1] = u[2:] - 2 * u[1:-1] + u[:-2]
        lap[0] = 2 * (u[1] - u[0])
        lap[-1] = 2 * (u[-2] - u[-1])
        return d * lap / h**2 + reaction(u)

    return rhs


def _jacobian(d: float, h: float, reaction_slope):
    """The sparse (tridiagonal) Jacobian of :func:`_rhs`, so Radau factorises in O(n)."""
    from scipy.sparse import diags

    def jac(_, u):
        upper = np.full(len(u) - 1, d / h**2)
        lower = upper.copy()
        upper[0] = lower[-1] = 2 * d / h**2  # the mirrored neighbours count twice
        return diags([lower, -2 * d / h**2 + reaction_slope(u), upper], [-1, 0, 1], format="csc")

    return jac


def fisher_kpp_solve(t_out, *, cells: int = CELLS, rtol: float = RTOL, d: float = D, reaction=logistic,
                     reaction_slope=logistic_slope, initial=None) -> tuple[np.ndarray, np.ndarray]:
    """``(x, u)``: the solution on ``cells + 1`` uniform points of ``[0, 1]`` at ``t_out``
    (``u`` of shape ``(x, t)``).

    ``reaction`` (with its derivative ``reaction_slope``, both NumPy functions of ``u``) and
    ``initial`` (a function of ``x``; default :func:`fisher_kpp_initial`) solve any scalar
    reaction-diffusion equation ``u_t = d u_xx + reaction(u)`` with the same no-flux walls.
    """
    if isinstance(cells, bool) or not isinstance(cells, (int, np.integer)) or cells < 4:
        raise ValueError(f"cells must be an int >= 4, got {cells!r}")
    x = np.linspace(0.0, 1.0, cells + 1)
    h = 1.0 / cells
    t_out = np.asarray(t_out, dtype=np.float64)
    u0 = (initial or fisher_kpp_initial)(x)
    sol = solve_ivp(_rhs(d, h, reaction), (0.0, float(t_out[-1])), u0, method="Radau", t_eval=t_out,
                    rtol=rtol, atol=rtol * 1e-2, jac=_jacobian(d, h, reaction_slope))
    if not sol.success:
        raise RuntimeError(f"the reaction-diffusion solve failed: {sol.message}")
    return x, sol.y


def fisher_kpp_reference(nx: int = 101, nt: int = 51, *, cells: int = CELLS) -> xr.Dataset:
    """The solution on ``nx`` points of ``[0, 1]`` x ``nt`` times of ``[0, T]`` (end points
    included), sampled from the fine solve (``nx - 1`` must divide ``cells``)."""
    if (cells % (nx - 1)) != 0:
        raise ValueError(f"nx - 1 = {nx - 1} must divide cells = {cells}")
    t = np.linspace(0.0, T, nt)
    x, u = fisher_kpp_solve(t, cells=cells)
    stride = cells // (nx - 1)
    return xr.Dataset(
        {"u": (("x", "t"), u[::stride], {"long_name": "population density", "units": "1"})},
        coords={"x": ("x", x[::stride], {"long_name": "position"}), "t": ("t", t, {"long_name": "time"})},
        attrs={
            "title": "Fisher-KPP 1D travelling front",
            "equation": "u_t = D*u_xx + u*(1 - u)",
            "domain": f"x in [0, 1], t in [0, {T}]",
            "initial_condition": f"u(x, 0) = (1 - tanh((x - {FRONT})/{WIDTH}))/2",
            "boundary_condition": "u_x(0, t) = u_x(1, t) = 0",
            "D": D,
            "method": (f"method of lines: second-order central differences on {cells} intervals, mirror "
                       f"points for the no-flux walls; Radau IIA (scipy), rtol {RTOL:g}, float64"),
            "references": "Fisher (1937) Ann. Eugenics 7; Kolmogorov, Petrovsky & Piskunov (1937)",
        },
    )


def verify(nx: int = 101, nt: int = 51) -> dict[str, float]:
    """Max ``|u - u'|`` on the output grid between the shipped solve and the same with twice
    the cells (``cells_doubled``), half the cells (``cells_halved``: the convergence order shows
    in their ratio, about 4) and a hundredfold tighter tolerance (``rtol_tightened``)."""
    t = np.linspace(0.0, T, nt)
    stride = CELLS // (nx - 1)
    _, base = fisher_kpp_solve(t)
    _, fine = fisher_kpp_solve(t, cells=2 * CELLS)
    _, coarse = fisher_kpp_solve(t, cells=CELLS // 2)
    _, tight = fisher_kpp_solve(t, rtol=RTOL / 100)
    grid = base[::stride]
    return {"cells_doubled": float(np.abs(grid - fine[:: 2 * stride]).max()),
            "cells_halved": float(np.abs(grid - coarse[:: stride // 2]).max()),
            "rtol_tightened": float(np.abs(grid - tight[::stride]).max())}


if __name__ == "__main__":  # regenerate the shipped file: python -m sciml.datasets.fisher_kpp
    from sciml.datasets.record import write_verified

    figures = verify()
    write_verified(
        fisher_kpp_reference(), "fisher_kpp", figures, figures["cells_doubled"] + figures["rtol_tightened"],
        "max |u - u'| on this grid against the same solve with twice the cells (verified_cells_doubled) "
        "and a hundredfold tighter tolerance (verified_rtol_tightened); verified_cells_halved shows the "
        "second-order convergence (about four times verified_cells_doubled)",
    )
