"""Atomistic data: validated structures with their reference labels.

A :class:`Structure` is one configuration -- atomic numbers, Cartesian positions (A), an
optional cell and periodic flags -- with optional labels: total energy (eV), forces (eV/A),
stress (eV/A^3, a 3x3 tensor, ASE's sign convention) and a per-structure scalar property.
:class:`Structures` is an ordered collection with one species table (atomic number -> index
of the one-hot embedding). Both validate on construction so that a bad input fails here with
a message that names the structure and the fix, not later inside a jit-compiled step.

Everything is in ASE units; :func:`from_ase` and :func:`read_xyz` accept ASE ``Atoms`` lists
and extended-XYZ files.
"""

from __future__ import annotations

import builtins
import dataclasses
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

LABELS = ("energy", "forces", "stress", "property")  # the labels a structure may carry


@dataclasses.dataclass(frozen=True, eq=False)
class Structure:
    """One atomic configuration and its reference labels (all optional but ``numbers`` and
    ``positions``)."""

    numbers: np.ndarray  # (n,) int atomic numbers
    positions: np.ndarray  # (n, 3) A
    cell: np.ndarray | None = None  # (3, 3) lattice vectors as rows, A
    pbc: np.ndarray = dataclasses.field(default_factory=lambda: np.zeros(3, dtype=bool))
    energy: float | None = None  # eV
    forces: np.ndarray | None = None  # (n, 3) eV/A
    stress: np.ndarray | None = None  # (3, 3) eV/A^3
    property: float | None = None  # any per-structure scalar (e.g. formation energy/atom)

    def __post_init__(self):
        numbers = np.asarray(self.numbers)
        if numbers.ndim != 1 or not np.issubdtype(numbers.dtype, np.integer):
            raise ValueError(f"numbers must be a 1-D integer array; got {numbers!r}")
        if numbers.size and (numbers.min() < 1 or numbers.max() > 118):
            raise ValueError(f"atomic numbers must lie in 1..118; got {numbers.tolist()}")
        n = len(numbers)
        positions = np.asarray(self.positions, dtype=np.float64)
        if positions.shape != (n, 3):
            raise ValueError(f"positions must have shape ({n}, 3) for {n} atoms; got "
                             f"{positions.shape}")
        _finite("positions", positions)
        pbc = np.broadcast_to(np.asarray(self.pbc, dtype=bool), (3,)).copy()
        cell = None if self.cell is None else np.asarray(self.cell, dtype=np.float64)
        if cell is not None:
            if cell.shape == (3,):
                cell = np.diag(cell)
            if cell.shape != (3, 3):
                raise ValueError(f"cell must be (3, 3) lattice vectors as rows; got {cell.shape}")
            _finite("cell", cell)
            if pbc.any() and abs(np.linalg.det(cell)) < 1e-9:
                raise ValueError("the cell is degenerate (zero volume) but pbc is set; give "
                                 "three independent lattice vectors")
        elif pbc.any():
            raise ValueError("periodic boundaries (pbc) are set but no cell is given: pass "
                             "cell=(3, 3) lattice vectors, or pbc=False for a molecule")
        forces = None if self.forces is None else np.asarray(self.forces, dtype=np.float64)
        if forces is not None:
            if forces.shape != (n, 3):
                raise ValueError(f"forces must have shape ({n}, 3) like positions; got "
                                 f"{forces.shape}")
            _finite("forces", forces)
        stress = None if self.stress is None else np.asarray(self.stress, dtype=np.float64)
        if stress is not None:
            if stress.shape == (6,):  # ASE's Voigt order xx yy zz yz xz xy
                xx, yy, zz, yz, xz, xy = stress
                stress = np.array([[xx, xy, xz], [xy, yy, yz], [xz, yz, zz]])
            if stress.shape != (3, 3):
                raise ValueError(f"stress must be (3, 3) or Voigt (6,); got {stress.shape}")
            _finite("stress", stress)
            if not pbc.all():
                raise ValueError("stress is only defined for fully periodic structures")
        for name in ("energy", "property"):
            v = getattr(self, name)
            if v is not None:
                _finite(name, np.asarray(v, dtype=np.float64))
                object.__setattr__(self, name, float(v))
        object.__setattr__(self, "numbers", numbers.astype(np.int64))
        object.__setattr__(self, "positions", positions)
        object.__setattr__(self, "cell", cell)
        object.__setattr__(self, "pbc", pbc)
        object.__setattr__(self, "forces", forces)
        object.__setattr__(self, "stress", stress)

    def __len__(self) -> int:
        return len(self.numbers)

    @builtins.property
    def volume(self) -> float:
        return float(abs(np.linalg.det(self.cell))) if self.cell is not None else float("nan")

    def to_ase(self):
        """An :class:`ase.Atoms` (labels attached through a single-point calculator)."""
        from ase import Atoms
        from ase.calculators.singlepoint import SinglePointCalculator

        atoms = Atoms(self.numbers, positions=self.positions, cell=self.cell, pbc=self.pbc)
        labels = {k: getattr(self, k) for k in ("energy", "forces") if getattr(self, k) is not None}
        if self.stress is not None:
            s = self.stress
            labels["stress"] = np.array([s[0, 0], s[1, 1], s[2, 2], s[1, 2], s[0, 2], s[0, 1]])
        if labels:
            atoms.calc = SinglePointCalculator(atoms, **labels)
        if self.property is not None:
            atoms.info["property"] = self.property
        return atoms


def _finite(name: str, x: np.ndarray) -> None:
    if not np.all(np.isfinite(x)):
        raise ValueError(f"{name} contains NaN or infinite values; remove or fix those entries")


class Structures(Sequence):
    """An ordered, validated collection of :class:`Structure` with a species table.

    Args:
        structures: the configurations.
        species: atomic numbers the model knows, in embedding order. Defaults to the sorted
            set present. A structure with an atomic number outside this list is an error.
    """

    def __init__(self, structures: Iterable[Structure], species: Sequence[int] | None = None):
        self._items = list(structures)
        if not self._items:
            raise ValueError("no structures given")
        for k, s in enumerate(self._items):
            if not isinstance(s, Structure):
                raise TypeError(f"item {k} is a {type(s).__name__}, not a Structure; use "
                                "from_ase() for ase.Atoms")
        present = sorted({int(z) for s in self._items for z in s.numbers})
        self.species = tuple(int(z) for z in (present if species is None else species))
        unknown = sorted(set(present) - set(self.species))
        if unknown:
            raise ValueError(
                f"unknown species {_symbols(unknown)} (atomic numbers {unknown}); the model "
                f"knows {_symbols(self.species)} -- add them to `species` or drop those "
                "structures"
            )
        self._index = species_table(self.species)

    def __len__(self) -> int:
        return len(self._items)

    def __getitem__(self, k):
        if isinstance(k, (slice, np.ndarray, list)):
            idx = range(len(self))[k] if isinstance(k, slice) else np.asarray(k).tolist()
            return Structures([self._items[i] for i in idx], species=self.species)
        return self._items[k]

    def species_index(self, numbers: np.ndarray) -> np.ndarray:
        """Map atomic numbers to embedding indices (``0..len(species)-1``)."""
        return species_index(self._index, numbers, self.species)

    def _pick(self, indices) -> list[Structure]:
        return self._items if indices is None else [self._items[int(k)] for k in np.asarray(indices).ravel()]

    # Per-structure arrays (of ``indices``, or all): the questions training asks of a set,
    # answered alike by a store on disk (:class:`~sciml.atomistic.store.StructureStore`).
    def labelled(self, target: str, indices=None) -> np.ndarray:
        """Which structures carry the label ``target``, ``(S,)`` bool."""
        if target not in LABELS:
            raise ValueError(f"unknown target {target!r}; choose from {LABELS}")
        return np.array([getattr(s, target) is not None for s in self._pick(indices)])

    def has(self, target: str, indices=None) -> bool:
        """True when every structure carries the label ``target``."""
        return bool(self.labelled(target, indices).all())

    def n_atoms(self, indices=None) -> np.ndarray:
        return np.array([len(s) for s in self._pick(indices)], dtype=np.int64)

    def composition(self, indices=None) -> np.ndarray:
        """``(n_structures, n_species)`` counts of each species."""
        items = self._pick(indices)
        out = np.zeros((len(items), len(self.species)))
        for k, s in enumerate(items):
            np.add.at(out[k], self.species_index(s.numbers), 1.0)
        return out

    def energies(self, indices=None) -> np.ndarray:
        return np.array([s.energy for s in self._pick(indices)])

    def properties(self, indices=None) -> np.ndarray:
        return np.array([s.property for s in self._pick(indices)])

    def fully_periodic(self, indices=None) -> np.ndarray:
        return np.array([s.pbc.all() for s in self._pick(indices)])

    def to_ase(self) -> list:
        return [s.to_ase() for s in self._items]

    def rows(self, indices=None) -> dict[str, np.ndarray]:
        """The structures (``indices``, in that order, or all) as end-to-end arrays
        (:func:`structure_rows`)."""
        return structure_rows(self._pick(indices))


def structure_rows(items: Sequence[Structure]) -> dict[str, np.ndarray]:
    """Structures as arrays end to end: per atom ``numbers``, ``positions``, ``forces`` (0
    where absent); per structure ``n_atoms``, ``cell`` (0 where absent), ``pbc``, ``energy``,
    ``stress``, ``property`` (0 where absent) and ``has`` ``(S, 4)``, which of the labels
    energy, forces, stress, property exist. The one layout of a structure store on disk and
    of a block of graphs in memory."""
    return {
        "numbers": np.concatenate([s.numbers for s in items]),
        "positions": np.concatenate([s.positions for s in items]),
        "forces": np.concatenate([s.forces if s.forces is not None else np.zeros((len(s), 3)) for s in items]),
        "n_atoms": np.array([len(s) for s in items], dtype=np.int64),
        "cell": np.stack([s.cell if s.cell is not None else np.zeros((3, 3)) for s in items]),
        "pbc": np.stack([s.pbc for s in items]),
        "energy": np.array([s.energy if s.energy is not None else 0.0 for s in items]),
        "stress": np.stack([s.stress if s.stress is not None else np.zeros((3, 3)) for s in items]),
        "property": np.array([s.property if s.property is not None else 0.0 for s in items]),
        "has": np.array([[getattr(s, k) is not None for k in LABELS] for s in items]).reshape(-1, len(LABELS)),
    }


def ragged_arange(starts: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """``concatenate([arange(a, a + n) for a, n in zip(starts, counts)])`` without the loop."""
    counts = np.asarray(counts, dtype=np.int64)
    total = int(counts.sum())
    if total == 0:
        return np.zeros(0, dtype=np.int64)
    ends = np.cumsum(counts)
    step = np.ones(total, dtype=np.int64)
    nonempty = counts > 0
    heads = (ends - counts)[nonempty]
    starts = np.asarray(starts, dtype=np.int64)[nonempty]
    step[heads[0]] = starts[0]
    # At each range's head, jump from the previous range's last value to the new start.
    prev_last = starts[:-1] + counts[nonempty][:-1] - 1
    step[heads[1:]] = starts[1:] - prev_last
    return np.cumsum(step)


def species_table(species: Sequence[int]) -> np.ndarray:
    """Atomic number -> embedding index (-1 for a species not in ``species``)."""
    table = np.full(119, -1, dtype=np.int64)
    table[list(species)] = np.arange(len(species))
    return table


def species_index(table: np.ndarray, numbers: np.ndarray, species: Sequence[int]) -> np.ndarray:
    """``numbers`` as embedding indices through ``table`` (:func:`species_table`)."""
    idx = table[np.asarray(numbers)]
    if (idx < 0).any():
        bad = sorted(set(np.asarray(numbers)[idx < 0].tolist()))
        raise ValueError(f"unknown species {_symbols(bad)}; the model knows {_symbols(species)}")
    return idx


def _symbols(numbers: Iterable[int]) -> list[str]:
    from ase.data import chemical_symbols

    return [chemical_symbols[z] for z in numbers]


def from_ase(atoms_list, *, species: Sequence[int] | None = None,
             property_key: str | None = None) -> Structures:
    """Structures from ASE ``Atoms`` (one or a list), reading energy/forces/stress from their
    calculators and an optional per-structure property from ``atoms.info[property_key]``."""
    from ase import Atoms

    if isinstance(atoms_list, Atoms):
        atoms_list = [atoms_list]
    out = []
    for k, atoms in enumerate(atoms_list):
        if not isinstance(atoms, Atoms):
            raise TypeError(f"item {k} is a {type(atoms).__name__}, expected ase.Atoms")
        calc = atoms.calc
        results = getattr(calc, "results", {}) if calc is not None else {}
        cell = atoms.cell.array if atoms.cell.rank == 3 else None
        prop = None
        if property_key is not None:
            if property_key not in atoms.info:
                raise ValueError(f"structure {k} has no info[{property_key!r}]; available: "
                                 f"{sorted(atoms.info)}")
            prop = atoms.info[property_key]
        try:
            out.append(Structure(
                numbers=atoms.numbers, positions=atoms.positions, cell=cell, pbc=atoms.pbc,
                energy=results.get("energy"), forces=results.get("forces"),
                stress=results.get("stress"), property=prop,
            ))
        except ValueError as err:
            raise ValueError(f"structure {k}: {err}") from None
    return Structures(out, species=species)


def read_xyz(path: str | Path, *, index: str = ":", species: Sequence[int] | None = None,
             property_key: str | None = None) -> Structures:
    """Structures from an extended-XYZ file (any format ``ase.io.read`` understands)."""
    from ase.io import read

    path = Path(path)
    if not path.exists():
        raise ValueError(f"no such file: {path}")
    return from_ase(read(path, index=index), species=species, property_key=property_key)
