"""Silicon potential with stress: strained, rattled diamond Si cells labelled by GFN1-xTB.

60 periodic 8-atom cells (random strain up to 3%, displacements 0.08 A) with energies,
forces and stresses; a random 80/10/10 split. Stress is learned and predicted as the strain
derivative of the energy, :math:`\\sigma = V^{-1}\\partial E/\\partial\\varepsilon`, the
quantity the GFN1-xTB labels hold. Data: ``datasets/atomistic/silicon.xyz``
(``python datasets/atomistic.py silicon``).

    sciml solve problems/silicon_stress.py

metrics.json reports ``energy_mae`` (meV), ``force_mae`` (meV/A) and ``stress_mae``
(meV/A^3) on the test split.
"""

from sciml.atomistic import AtomisticProblem
from sciml.atomistic.data import load


def _silicon():
    structures, _ = load("silicon")
    return structures, None


problem = AtomisticProblem(
    name="silicon_stress",
    structures=_silicon,
    targets=("energy", "forces", "stress"),
    cutoff=4.0,
    symmetry="E(3)",
    model="nequip",
    description=__doc__.splitlines()[0],
)
