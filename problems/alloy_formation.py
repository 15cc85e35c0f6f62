"""Formation energy per atom of random fcc Cu/Ag/Au/Ni/Pd/Pt alloys (EMT, strained and thermally displaced).

300 periodic 32-atom cells with 1-3 elements, random strain (3%) and displacements (0.05 A);
the per-structure property is the formation energy per atom relative to the pure relaxed
elements. Data: ``datasets/atomistic/alloys.xyz`` (``python datasets/atomistic.py alloys``).

    sciml solve problems/alloy_formation.py --model mace

metrics.json reports ``property_mae`` in meV/atom on the (random 10%) test split, next to
``property_mae_shifts_only``, the error of the per-species shifts alone (a composition-linear
fit), which is what the network improves on.
"""

from sciml.atomistic import AtomisticProblem
from sciml.atomistic.data import dataset_path
from sciml.atomistic.structures import read_xyz


def _alloys():
    return read_xyz(dataset_path("alloys"), property_key="formation_energy_per_atom"), None


problem = AtomisticProblem(
    name="alloy_formation",
    structures=_alloys,
    targets=("property",),
    cutoff=4.5,
    symmetry="E(3)",
    model="nequip",
    description=__doc__.splitlines()[0],
)
