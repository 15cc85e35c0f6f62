"""Unseen problem: random Ag-Pd fcc alloys (27-atom 3x3x3 primitive cells), varied composition,
strained and rattled, EMT energies and forces."""
import numpy as np
from ase.build import bulk
from ase.calculators.emt import EMT

from sciml.atomistic import AtomisticProblem
from sciml.atomistic.structures import from_ase


def _cells():
    rng = np.random.default_rng(7)
    frames = []
    for _ in range(200):
        x = rng.uniform(0.1, 0.9)
        a0 = 4.09 * (1 - x) + 3.89 * x  # Vegard's law between Ag and Pd
        atoms = bulk("Ag", "fcc", a=a0).repeat((3, 3, 3))
        atoms.numbers = np.where(rng.random(len(atoms)) < x, 46, 47)
        atoms.set_cell(atoms.cell @ (np.eye(3) + rng.uniform(-0.03, 0.03, (3, 3))), scale_atoms=True)
        atoms.positions += rng.normal(0, 0.08, atoms.positions.shape)
        atoms.calc = EMT()
        atoms.get_forces()  # EMT labels energy and forces at once; from_ase reads its results
        frames.append(atoms)
    return from_ase(frames), None


problem = AtomisticProblem(name="agpd_emt", structures=_cells, targets=("energy", "forces"), cutoff=4.5)
