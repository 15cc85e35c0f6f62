"""Ethanol potential from GFN2-xTB molecular dynamics at 500 K: energies and forces (rMD17-style splits).

1300 snapshots of Langevin dynamics (0.5 fs steps, every 10th kept), 1000 training /
100 validation / 200 test configurations, the test block last in time. Data:
``datasets/atomistic/ethanol.xyz`` (regenerate with ``python datasets/atomistic.py ethanol``).

    sciml solve problems/ethanol_md.py --model nequip   # or --model mace

metrics.json reports ``energy_mae`` (meV) and ``force_mae`` (meV/A) on the test split.
"""

from sciml.atomistic import AtomisticProblem
from sciml.atomistic.data import load


def _ethanol():
    structures, info = load("ethanol")
    return structures, info["split"]


problem = AtomisticProblem(
    name="ethanol_md",
    structures=_ethanol,
    targets=("energy", "forces"),
    cutoff=5.0,
    symmetry="E(3)",
    model="nequip",
    description=__doc__.splitlines()[0],
)
