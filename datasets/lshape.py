r"""Poisson on the L-shaped domain: a P2 finite-element reference with a refinement study.

.. math::

    -\Delta u = 1 \ \text{ on } \Omega = [-1, 1]^2 \setminus [0, 1]^2, \qquad u = 0 \text{ on } \partial\Omega.

The re-entrant corner at the origin makes the solution singular there,
:math:`u \sim r^{2/3}\sin(2\theta/3)` (Grisvard 1985), so uniform refinement converges only
like :math:`h^{4/3}` in :math:`L^2`. The mesh is therefore graded towards the corner: each
refinement halves every triangle, and then :data:`CORNER_PASSES` passes per level halve
again the triangles within radii :math:`2^{-1}, 2^{-2}, \dots` of the corner (geometric
grading, after Babuška), with
quadratic (P2) Lagrange elements, assembled and solved by scikit-fem (Gustafsson & McBain
2020).

:func:`verify` records the refinement study: the change of the solution on the output grid
between successive meshes, and the energy :math:`\int_\Omega u\,dx` (which converges at twice
the rate of the solution). The values at the output grid's points come from the finest mesh.

References:
    Grisvard (1985), "Elliptic problems in nonsmooth domains", Pitman.
    Gustafsson, McBain (2020), "scikit-fem: A Python package for finite element assembly",
    JOSS 5(52), 2369.
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from sciml.finite_elements import p2_values

LEVELS = 5
"""Uniform refinements of the initial mesh (side 1/2) for the shipped solution."""

CORNER_PASSES = 2
"""Local refinements towards the re-entrant corner per uniform refinement."""

__all__ = ["CORNER_PASSES", "LEVELS", "lshape_reference", "lshape_solve", "verify"]


def _mesh(levels: int, corner_passes: int):
    """The L of 24 right triangles of side 1/2, refined ``levels`` times, then graded."""
    from skfem import MeshTri

    axis = np.linspace(-1.0, 1.0, 5)
    mesh = MeshTri.init_tensor(axis, axis)
    centres = mesh.p[:, mesh.t].mean(axis=1)
    mesh = mesh.remove_elements(np.nonzero((centres[0] > 0) & (centres[1] > 0))[0])
    mesh = mesh.refined(levels)
    for k in range(corner_passes):
        # Each pass halves the triangles within a radius that halves too: a mesh graded
        # geometrically towards the corner, where the solution's derivatives blow up.
        near = np.linalg.norm(mesh.p[:, mesh.t].mean(axis=1), axis=0) < 0.5 ** (k + 1)
        mesh = mesh.refined(np.nonzero(near)[0])
    return mesh


def lshape_solve(levels: int = LEVELS):
    """``(basis, u)``: the P2 solution on the graded mesh of refinement level ``levels``."""
    from skfem import Basis, BilinearForm, ElementTriP2, LinearForm, condense, solve
    from skfem.helpers import dot, grad

    mesh = _mesh(levels, CORNER_PASSES * levels)
    basis = Basis(mesh, ElementTriP2())

    @BilinearForm
    def stiffness(u, v, _):
        return dot(grad(u), grad(v))

    @LinearForm
    def load(v, _):
        return 1.0 * v

    A, b = stiffness.assemble(basis), load.assemble(basis)
    u = solve(*condense(A, b, D=basis.get_dofs()))
    return basis, u


def _on_grid(basis, u, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Values at the grid's points inside the closed L; NaN in the open notch."""
    X, Y = np.meshgrid(x, y, indexing="ij")
    inside = ~((X > 0) & (Y > 0))
    values = np.full(X.shape, np.nan)
    values[inside] = p2_values(basis, u, np.stack([X[inside], Y[inside]]))
    on_boundary = inside & ((np.abs(X) >= 1) | (np.abs(Y) >= 1) | ((X >= 0) & (Y == 0)) | ((X == 0) & (Y >= 0)))
    values[on_boundary] = 0.0  # the condition, exactly
    return values


def lshape_reference(nx: int = 101, levels: int = LEVELS) -> xr.Dataset:
    """The FE solution on an ``nx`` x ``nx`` grid of [-1, 1]^2, NaN in the notch (0,1]^2."""
    axis = np.linspace(-1.0, 1.0, nx)
    basis, u = lshape_solve(levels)
    return _package(_on_grid(basis, u, axis, axis), axis, basis, levels)


def _package(values: np.ndarray, axis: np.ndarray, basis, levels: int) -> xr.Dataset:
    return xr.Dataset(
        {"u": (("x", "y"), values, {"long_name": "solution (NaN outside the domain)", "units": "1"})},
        coords={"x": ("x", axis, {"long_name": "position", "units": "1"}),
                "y": ("y", axis, {"long_name": "position", "units": "1"})},
        attrs={
            "title": "Poisson on the L-shaped domain, -lap(u) = 1, u = 0 on the boundary",
            "domain": "[-1, 1]^2 minus (0, 1]^2",
            "method": (
                f"P2 Lagrange finite elements (scikit-fem), {levels} uniform refinements of a "
                f"side-1/2 mesh, then {CORNER_PASSES * levels} local refinements towards the "
                f"re-entrant corner; {basis.mesh.nelements} triangles, {basis.N} unknowns"
            ),
            "references": "Gustafsson & McBain (2020) JOSS 5 2369; Grisvard (1985)",
        },
    )


def verify(nx: int = 101, levels: int = LEVELS) -> tuple[dict[str, float], xr.Dataset]:
    """Refinement study; returns ``(figures, reference)``.

    * ``change_<l>``: max |u_l - u_{l+1}| on the output grid between refinement levels;
    * ``integral_<l>``: :math:`\\int_\\Omega u\\,dx` on level ``l``;
    * ``estimated_max_abs_error``: the last change times the observed contraction factor's
      geometric tail ``q / (1 - q)`` (an a-posteriori estimate of the finest level's error).
    """
    from skfem import Functional

    @Functional
    def integral(w):
        return w["u"]

    axis = np.linspace(-1.0, 1.0, nx)
    figures: dict[str, float] = {}
    previous = None
    for level in range(levels - 2, levels + 1):
        basis, u = lshape_solve(level)
        values = _on_grid(basis, u, axis, axis)
        figures[f"integral_{level}"] = float(integral.assemble(basis, u=basis.interpolate(u)))
        figures[f"unknowns_{level}"] = float(basis.N)
        if previous is not None:
            figures[f"change_{level - 1}"] = float(np.nanmax(np.abs(values - previous)))
        previous = values
        if level == levels:
            reference = _package(values, axis, basis, levels)
    q = figures[f"change_{levels - 1}"] / figures[f"change_{levels - 2}"]
    figures["estimated_max_abs_error"] = figures[f"change_{levels - 1}"] * q / max(1 - q, 1e-3)
    return figures, reference


if __name__ == "__main__":  # regenerate the shipped file: python -m sciml.datasets.lshape
    from sciml.datasets.record import write_verified

    figures, ds = verify()
    write_verified(
        ds, "lshape", figures, figures["estimated_max_abs_error"],
        "refinement study on this grid: max change between successive levels "
        "(verified_change_<level>), integral of u per level (verified_integral_<level>), "
        "unknowns per level; estimated_max_abs_error = last change * q/(1-q), q the observed "
        "contraction of the changes",
        digits=6,
    )
