"""Structures kept on disk and read in chunks: datasets larger than memory.

A store is one HDF5 file of ragged arrays — every atom's ``numbers``, ``positions`` and
``forces`` end to end, and per structure its atom range, ``cell``, ``pbc``, labels, label
flags and species counts. :func:`write_store` appends structures chunk by chunk (a generator
of a million structures never sits in memory); :class:`StructureStore` reads back only the
rows asked for, as an in-memory :class:`~sciml.atomistic.structures.Structures`, and answers
the per-structure questions training asks (species counts, energies, which labels exist) from
the small per-structure arrays alone. A :class:`~sciml.atomistic.graphs.GraphBatcher` over a
store builds each batch's graphs when the batch is drawn instead of keeping all of them.

The file holds numbers only, read through ``h5py`` by name: nothing in it is executed.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

from .structures import LABELS, Structure, Structures, ragged_arange, species_index, species_table, structure_rows

__all__ = ["StructureStore", "write_store"]

FORMAT = "sciml-structures-1"


def write_store(path: str | Path, structures: Iterable[Structure], species: Sequence[int],
                *, chunk: int = 10000) -> Path:
    """Write ``structures`` (any iterable, consumed once) to an HDF5 store at ``path``.

    Args:
        species: the atomic numbers of the species table, in embedding order (a store is
            written in one pass, so the table is given rather than discovered).
        chunk: structures held in memory before they are appended to the file.
    """
    import h5py

    path = Path(path)
    species = tuple(int(z) for z in species)
    table = species_table(species)
    with h5py.File(path, "w") as f:
        f.attrs["format"] = FORMAT
        f.attrs["species"] = np.asarray(species, dtype=np.int64)
        atoms = {"numbers": ((), np.int64), "positions": ((3,), np.float64), "forces": ((3,), np.float64)}
        per = {"first": ((), np.int64), "n_atoms": ((), np.int64), "cell": ((3, 3), np.float64),
               "pbc": ((3,), bool), "energy": ((), np.float64), "stress": ((3, 3), np.float64),
               "property": ((), np.float64), "has": ((len(LABELS),), bool),
               "composition": ((len(species),), np.int32)}
        for name, (shape, dtype) in {**atoms, **per}.items():
            f.create_dataset(name, shape=(0, *shape), maxshape=(None, *shape), dtype=dtype,
                             chunks=(4096, *shape))
        n_atoms_total, buffer = 0, []

        def flush():
            nonlocal n_atoms_total
            if not buffer:
                return
            rows = structure_rows(buffer)
            counts = rows["n_atoms"]
            owner = np.repeat(np.arange(len(buffer)), counts)
            composition = np.zeros((len(buffer), len(species)), dtype=np.int32)
            np.add.at(composition, (owner, species_index(table, rows["numbers"], species)), 1)
            rows |= {"first": n_atoms_total + np.concatenate([[0], np.cumsum(counts)[:-1]]),
                     "composition": composition}
            for name, values in rows.items():
                dataset = f[name]
                start = dataset.shape[0]
                dataset.resize(start + len(values), axis=0)
                dataset[start:] = values
            n_atoms_total += int(counts.sum())
            buffer.clear()

        for s in structures:
            if not isinstance(s, Structure):
                raise TypeError(f"write_store takes Structure items, got {type(s).__name__}")
            buffer.append(s)
            if len(buffer) >= chunk:
                flush()
        flush()
        if f["n_atoms"].shape[0] == 0:
            raise ValueError("no structures given")
    return path


class StructureStore(Sequence):
    """The structures of a store written by :func:`write_store`, read on demand.

    ``store[k]`` is one :class:`Structure`; ``store[indices]`` a :class:`Structures` of those
    rows (in memory: ask for what fits). ``species``, :meth:`composition`, :meth:`energies` and
    :meth:`has` read only the per-structure arrays.
    """

    def __init__(self, path: str | Path):
        import h5py

        self.path = Path(path)
        if not self.path.is_file():
            raise FileNotFoundError(f"no structure store at {self.path}")
        try:
            self._file = h5py.File(self.path, "r")
        except OSError as err:
            raise ValueError(f"{self.path} is not an HDF5 structure store ({err})") from None
        if self._file.attrs.get("format") != FORMAT:
            raise ValueError(f"{self.path} is not a sciml structure store (format {FORMAT!r} expected)")
        self.species = tuple(int(z) for z in self._file.attrs["species"])
        self._table = species_table(self.species)
        self._first = self._file["first"][:]
        self._n_atoms = self._file["n_atoms"][:]
        self._has = self._file["has"][:]

    def __len__(self) -> int:
        return len(self._n_atoms)

    def species_index(self, numbers: np.ndarray) -> np.ndarray:
        """Map atomic numbers to embedding indices (``0..len(species)-1``)."""
        return species_index(self._table, numbers, self.species)

    def n_atoms(self, indices=None) -> np.ndarray:
        return self._n_atoms if indices is None else self._n_atoms[np.asarray(indices)]

    def __getitem__(self, k):
        if isinstance(k, slice):
            k = np.arange(len(self))[k]
        if isinstance(k, (np.ndarray, list)):
            return Structures([self._read(int(i)) for i in np.asarray(k).ravel()], species=self.species)
        k = int(k)
        if not -len(self) <= k < len(self):
            raise IndexError(f"structure {k} of a store of {len(self)}")
        return self._read(k % len(self))

    def _read(self, k: int) -> Structure:
        f = self._file
        a, n = int(self._first[k]), int(self._n_atoms[k])
        has = dict(zip(LABELS, self._has[k]))
        cell, pbc = f["cell"][k], f["pbc"][k]
        return Structure(
            numbers=f["numbers"][a:a + n], positions=f["positions"][a:a + n],
            cell=cell if pbc.any() or np.abs(cell).sum() else None, pbc=pbc,
            energy=float(f["energy"][k]) if has["energy"] else None,
            forces=f["forces"][a:a + n] if has["forces"] else None,
            stress=f["stress"][k] if has["stress"] else None,
            property=float(f["property"][k]) if has["property"] else None)

    def rows(self, indices) -> dict[str, np.ndarray]:
        """The structures ``indices`` (in that order) as end-to-end arrays, the layout of
        :func:`~sciml.atomistic.structures.structure_rows`. Rows are read a span at a time
        (the structures of one span of ``span`` consecutive rows in one read per array), so a
        shuffled chunk costs a few reads, not one per structure."""
        indices = np.asarray(indices, dtype=np.int64).ravel()
        if len(indices) and (indices.min() < 0 or indices.max() >= len(self)):
            raise IndexError(f"structure indices must lie in 0..{len(self) - 1}")
        wanted = np.unique(indices)
        spans = np.split(wanted, np.flatnonzero(np.diff(wanted // self.span)) + 1) if len(wanted) else []
        parts = [self._span_rows(part) for part in spans]
        if not parts:
            raise ValueError("no structures asked for")
        rows = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
        # Reorder from sorted-unique to the order (and repeats) asked for.
        pick = np.searchsorted(wanted, indices)
        return _reorder(rows, pick)

    span = 4096  # structures per contiguous read in :meth:`rows`

    def _span_rows(self, part: np.ndarray) -> dict[str, np.ndarray]:
        f, lo, hi = self._file, int(part[0]), int(part[-1]) + 1
        local = part - lo
        a0, a1 = int(self._first[lo]), int(self._first[hi - 1] + self._n_atoms[hi - 1])
        n_atoms = self._n_atoms[part]
        atoms = ragged_arange(self._first[part] - a0, n_atoms) if len(part) < hi - lo else slice(None)
        out = {name: f[name][a0:a1][atoms] for name in ("numbers", "positions", "forces")}
        out |= {name: f[name][lo:hi][local] for name in ("cell", "pbc", "energy", "stress", "property")}
        out |= {"n_atoms": n_atoms, "has": self._has[part]}
        return out

    def labelled(self, target: str, indices=None) -> np.ndarray:
        """Which structures carry the label ``target``, ``(S,)`` bool."""
        if target not in LABELS:
            raise ValueError(f"unknown target {target!r}; choose from {LABELS}")
        rows = self._has if indices is None else self._has[np.asarray(indices)]
        return rows[:, LABELS.index(target)]

    def has(self, target: str, indices=None) -> bool:
        """True when every structure (of ``indices``) carries the label ``target``."""
        return bool(self.labelled(target, indices).all())

    def composition(self, indices=None) -> np.ndarray:
        """``(n_structures, n_species)`` counts of each species."""
        return self._column("composition", indices).astype(np.float64)

    def energies(self, indices=None) -> np.ndarray:
        return self._column("energy", indices)

    def properties(self, indices=None) -> np.ndarray:
        return self._column("property", indices)

    def fully_periodic(self, indices=None) -> np.ndarray:
        return self._column("pbc", indices).all(axis=1)

    def _column(self, name: str, indices) -> np.ndarray:
        # Per-structure arrays are small (a few numbers a structure): read whole, then pick.
        data = self._file[name][:]
        return data if indices is None else data[np.asarray(indices).ravel()]

    def close(self) -> None:
        self._file.close()


def _reorder(rows: dict[str, np.ndarray], pick: np.ndarray) -> dict[str, np.ndarray]:
    """``rows`` of structures ``0..S-1`` reordered as structures ``pick``."""
    if np.array_equal(pick, np.arange(len(rows["n_atoms"]))):
        return rows
    first = np.concatenate([[0], np.cumsum(rows["n_atoms"])])
    atoms = ragged_arange(first[pick], rows["n_atoms"][pick])
    return {k: (v[atoms] if k in ("numbers", "positions", "forces") else v[pick]) for k, v in rows.items()}
