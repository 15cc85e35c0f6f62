r"""Radius neighbour lists with periodic images.

For atoms at positions :math:`r_i` in a cell with row vectors :math:`a_1, a_2, a_3`, the
neighbour list holds every ordered pair :math:`(i, j, S)` with integer shift :math:`S` such that

.. math:: d_{ij}(S) = r_j - r_i + S \cdot A, \qquad 0 < |d_{ij}(S)| < r_c ,

the convention of ASE's :func:`ase.neighborlist.neighbor_list` (``"ijS"``). Along periodic
directions an atom may see several images of itself and of every other atom when the cell is
smaller than the cutoff; along non-periodic directions only ``S = 0`` occurs.

The search is vectorised: positions are wrapped into the cell, replicated over the
:math:`\prod_k (2 n_k + 1)` image shifts that can reach within :math:`r_c`
(:math:`n_k = \lceil r_c / h_k \rceil` with :math:`h_k` the distance between lattice planes),
and all pairs within the cutoff come from one k-d tree query (``scipy.spatial.cKDTree``), so
the cost is :math:`O(N \log N)` for thousands of atoms rather than :math:`O(N^2)`.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from scipy.spatial import cKDTree


class NeighborList(NamedTuple):
    """Edges ``receivers[e] <- senders[e]`` (``i`` and ``j`` in ASE's notation)."""

    receivers: np.ndarray  # (E,) int, the centre atom i
    senders: np.ndarray  # (E,) int, the neighbour j
    shifts: np.ndarray  # (E, 3) int, lattice shift S of the image of j


def _plane_spacings(cell: np.ndarray) -> np.ndarray:
    """Distance between consecutive lattice planes along each cell vector."""
    volume = abs(np.linalg.det(cell))
    cross = np.stack([np.cross(cell[1], cell[2]), np.cross(cell[2], cell[0]),
                      np.cross(cell[0], cell[1])])
    return volume / np.linalg.norm(cross, axis=1)


def neighbor_list(
    positions: np.ndarray,
    cutoff: float,
    cell: np.ndarray | None = None,
    pbc: np.ndarray | tuple[bool, bool, bool] = (False, False, False),
) -> NeighborList:
    """All ordered pairs closer than ``cutoff`` (A), including periodic images.

    Args:
        positions: ``(N, 3)`` Cartesian positions.
        cutoff: radius; pairs with ``0 < d < cutoff`` are kept.
        cell: ``(3, 3)`` lattice vectors as rows; required when any ``pbc`` is true.
        pbc: periodicity along each cell vector.

    Raises:
        ValueError: periodic boundaries without a (non-degenerate) cell, or bad shapes.
    """
    positions = np.asarray(positions, dtype=np.float64)
    if positions.ndim != 2 or positions.shape[1] != 3:
        raise ValueError(f"positions must have shape (N, 3); got {positions.shape}")
    if not cutoff > 0:
        raise ValueError(f"cutoff must be positive; got {cutoff}")
    pbc = np.broadcast_to(np.asarray(pbc, dtype=bool), (3,))
    n = len(positions)
    if pbc.any():
        if cell is None:
            raise ValueError("periodic boundaries need a cell: pass cell=(3, 3) lattice vectors")
        cell = np.asarray(cell, dtype=np.float64)
        if cell.shape != (3, 3) or abs(np.linalg.det(cell)) < 1e-12:
            raise ValueError(f"cell must be a non-degenerate (3, 3) matrix; got {cell!r}")
        n_img = np.where(pbc, np.ceil(cutoff / _plane_spacings(cell)).astype(int), 0)
        # Wrap along periodic axes; remember the integer offsets to report ASE's shifts.
        frac = positions @ np.linalg.inv(cell)
        k0 = np.where(pbc, np.floor(frac), 0.0)
        wrapped = positions - k0 @ cell
    else:
        n_img = np.zeros(3, dtype=int)
        k0 = np.zeros((n, 3))
        wrapped = positions
        cell = np.zeros((3, 3)) if cell is None else np.asarray(cell, dtype=np.float64)
    if n == 0:
        empty = np.zeros(0, dtype=np.int64)
        return NeighborList(empty, empty, np.zeros((0, 3), dtype=np.int64))

    grids = np.meshgrid(*[np.arange(-m, m + 1) for m in n_img], indexing="ij")
    shifts = np.stack([g.ravel() for g in grids], axis=1)  # (M, 3)
    images = (wrapped[None, :, :] + (shifts @ cell)[:, None, :]).reshape(-1, 3)
    pairs = cKDTree(wrapped).sparse_distance_matrix(
        cKDTree(images), max_distance=cutoff, output_type="ndarray"
    )
    i = pairs["i"].astype(np.int64)
    img = pairs["j"].astype(np.int64)
    d = pairs["v"]
    j = img % n
    s = shifts[img // n]
    keep = (d < cutoff) & ~((i == j) & ~s.any(axis=1))
    # sparse_distance_matrix drops exact zeros (coincident distinct atoms); those are
    # unphysical inputs anyway and are caught by the structure validation.
    i, j, s = i[keep], j[keep], s[keep]
    s = (s + k0[i] - k0[j]).astype(np.int64)  # shifts relative to the unwrapped positions
    order = np.lexsort((j, i))
    return NeighborList(i[order], j[order], s[order])
