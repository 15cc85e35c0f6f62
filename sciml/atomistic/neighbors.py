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


def _plane_spacings(cells: np.ndarray) -> np.ndarray:
    """Distance between consecutive lattice planes along each cell vector, ``(..., 3)``."""
    volume = np.abs(np.linalg.det(cells))
    cross = np.stack([np.cross(cells[..., 1, :], cells[..., 2, :]), np.cross(cells[..., 2, :], cells[..., 0, :]),
                      np.cross(cells[..., 0, :], cells[..., 1, :])], axis=-2)
    return volume[..., None] / np.linalg.norm(cross, axis=-1)


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
    pbc = np.broadcast_to(np.asarray(pbc, dtype=bool), (3,))
    if pbc.any():
        if cell is None:
            raise ValueError("periodic boundaries need a cell: pass cell=(3, 3) lattice vectors")
        cell = np.asarray(cell, dtype=np.float64)
        if cell.shape != (3, 3) or abs(np.linalg.det(cell)) < 1e-12:
            raise ValueError(f"cell must be a non-degenerate (3, 3) matrix; got {cell!r}")
    cell = np.zeros((3, 3)) if cell is None else np.asarray(cell, dtype=np.float64)
    nl, _ = neighbor_lists(positions, [len(positions)], cutoff, cell[None], pbc[None])
    return nl


def neighbor_lists(positions: np.ndarray, n_atoms, cutoff: float, cells: np.ndarray,
                   pbc: np.ndarray) -> tuple[NeighborList, np.ndarray]:
    """The neighbour lists of many structures at once, in one k-d tree search.

    The structures' atoms are given end to end (``positions (A, 3)``, ``n_atoms (S,)``, with
    ``cells (S, 3, 3)`` and ``pbc (S, 3)``; a non-periodic structure's cell is ignored). Each
    structure, with its periodic images, is moved along x clear of the others by more than
    the cutoff, so a single search finds every structure's pairs and no pair across two.
    Thousands of small structures then cost about as much as one large one.

    Returns:
        The edges with ``receivers``/``senders`` indexing the concatenated atoms, grouped by
        structure and sorted by ``(i, j, S)`` within it, and the number of edges of each
        structure ``(S,)``.
    """
    positions = np.asarray(positions, dtype=np.float64)
    n_atoms = np.asarray(n_atoms, dtype=np.int64)
    cells = np.asarray(cells, dtype=np.float64).reshape(-1, 3, 3)
    pbc = np.asarray(pbc, dtype=bool).reshape(-1, 3)
    if not cutoff > 0:
        raise ValueError(f"cutoff must be positive; got {cutoff}")
    n_structures, total = len(n_atoms), int(n_atoms.sum())
    owner = np.repeat(np.arange(n_structures), n_atoms)
    empty = np.zeros(0, dtype=np.int64)
    if total == 0:
        return NeighborList(empty, empty, np.zeros((0, 3), dtype=np.int64)), np.zeros(n_structures, dtype=np.int64)

    periodic = pbc.any(axis=1)
    safe = np.where(periodic[:, None, None], cells, np.eye(3))  # no inverse of an unused cell
    n_img = np.where(pbc, np.ceil(cutoff / _plane_spacings(safe)), 0).astype(np.int64)
    # Wrap along periodic axes; remember the integer offsets to report ASE's shifts.
    frac = np.einsum("ai,aij->aj", positions, np.linalg.inv(safe)[owner])
    k0 = np.where(pbc[owner], np.floor(frac), 0.0)
    wrapped = positions - np.einsum("ai,aij->aj", k0, cells[owner] * periodic[owner, None, None])

    # Images: the structures sharing an image range are replicated together.
    image_atom, image_shift = [], []
    for reach in np.unique(n_img, axis=0):
        atoms = np.flatnonzero((n_img == reach).all(axis=1)[owner])
        grids = np.meshgrid(*[np.arange(-m, m + 1) for m in reach], indexing="ij")
        shifts = np.stack([g.ravel() for g in grids], axis=1)
        image_atom.append(np.tile(atoms, len(shifts)))
        image_shift.append(np.repeat(shifts, len(atoms), axis=0))
    image_atom, image_shift = np.concatenate(image_atom), np.concatenate(image_shift)
    images = wrapped[image_atom] + np.einsum("mi,mij->mj", image_shift.astype(np.float64),
                                            cells[owner[image_atom]] * periodic[owner[image_atom], None, None])

    # Lay the structures out along x, each clear of the next by twice the cutoff.
    lo = np.full(n_structures, np.inf)
    hi = np.full(n_structures, -np.inf)
    np.minimum.at(lo, owner[image_atom], images[:, 0])
    np.maximum.at(hi, owner[image_atom], images[:, 0])
    offset = np.concatenate([[0.0], np.cumsum(hi - lo + 2 * cutoff)[:-1]]) - lo
    centres = wrapped + np.stack([offset[owner], np.zeros(total), np.zeros(total)], axis=1)
    images = images + np.stack([offset[owner[image_atom]], np.zeros(len(images)), np.zeros(len(images))], axis=1)

    pairs = cKDTree(centres).sparse_distance_matrix(cKDTree(images), max_distance=cutoff, output_type="ndarray")
    i = pairs["i"].astype(np.int64)
    img = pairs["j"].astype(np.int64)
    j, s = image_atom[img], image_shift[img]
    keep = (pairs["v"] < cutoff) & ~((i == j) & ~s.any(axis=1))
    # sparse_distance_matrix drops exact zeros (coincident distinct atoms); those are
    # unphysical inputs anyway and are caught by the structure validation.
    i, j, s = i[keep], j[keep], s[keep]
    s = (s + k0[i] - k0[j]).astype(np.int64)  # shifts relative to the unwrapped positions
    order = np.lexsort((s[:, 2], s[:, 1], s[:, 0], j, i))
    i, j, s = i[order], j[order], s[order]
    return NeighborList(i, j, s), np.bincount(owner[i], minlength=n_structures)
