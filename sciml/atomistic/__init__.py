"""Equivariant graph networks for molecules and crystals, with forces from the energy.

Data (:mod:`.structures`, :mod:`.data`, :mod:`.generate`) -> graphs (:mod:`.neighbors`,
:mod:`.graphs`) -> networks (:mod:`.nequip`, :mod:`.mace`, registry :mod:`.models`) ->
physics (:mod:`.potential`: E = sum of atomic energies, F = -dE/dr, stress = dE/de / V) ->
training (:mod:`.train`) -> ``sciml.solve`` on a problem (:mod:`.problem`, :mod:`.result`) and an ASE
calculator for molecular dynamics (:mod:`.calculator`).
"""

from .calculator import PotentialCalculator, load_potential, save_potential
from .graphs import GraphBatcher
from .models import build_network
from .neighbors import neighbor_list
from .potential import Potential, fit_species_shifts, predict
from .problem import AtomisticProblem
from .result import AtomisticResult
from .structures import Structure, Structures, from_ase, read_xyz
from .train import LossWeights, fit, potential_config

__all__ = [
    "AtomisticProblem", "AtomisticResult", "GraphBatcher", "LossWeights", "Potential",
    "PotentialCalculator", "Structure", "Structures", "build_network",
    "fit", "fit_species_shifts", "from_ase", "load_potential", "neighbor_list", "potential_config", "predict",
    "read_xyz", "save_potential",
]
