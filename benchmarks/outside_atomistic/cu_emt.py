"""Unseen problem: bulk Cu (fcc, 2x2x2 conventional = 32 atoms), rattled and strained, EMT energies and forces."""
import numpy as np
from ase.build import bulk
from ase.calculators.emt import EMT

from sciml.atomistic import AtomisticProblem
from sciml.atomistic.structures import from_ase


def _cells():
    rng = np.random.default_rng(1)
    frames = []
    for _ in range(150):
        a = bulk("Cu", "fcc", a=3.61, cubic=True).repeat((2, 2, 2))
        a.set_cell(a.cell @ (np.eye(3) + rng.uniform(-0.02, 0.02, (3, 3))), scale_atoms=True)
        a.positions += rng.normal(0, 0.06, a.positions.shape)
        a.calc = EMT()
        a.get_forces()  # EMT labels energy and forces at once; from_ase reads its results
        frames.append(a)
    return from_ase(frames), None


problem = AtomisticProblem(name="cu_emt", structures=_cells, targets=("energy", "forces"), cutoff=4.0)
