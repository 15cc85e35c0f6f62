"""Stress on a periodic silicon crystal: the strain derivative of the energy.

1. The GFN1-xTB reference stresses stored with the silicon data are the derivative our
   potentials compute, :math:`\\sigma_{ab} = V^{-1}\\,\\partial E/\\partial\\varepsilon_{ab}`
   (finite differences of tblite energies under symmetric strain), so a potential trained on
   them learns the same quantity it predicts.
2. The potentials' stress (automatic differentiation) equals finite differences of their own
   energy on a diamond Si cell, with a cutoff longer than the cell so atoms see their own
   periodic images.
3. ``problems/silicon_stress.py`` trains on those stresses.
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from sciml.atomistic import Potential, Structures, build_network, predict
from sciml.atomistic import graphs as G
from sciml.atomistic.data import dataset_path
from sciml.atomistic.structures import read_xyz

STEP = 1e-4


def _silicon(k: int = 0):
    return read_xyz(dataset_path("silicon"))[k]


def _strained(structure, eps):
    m = np.eye(3) + eps
    return dataclasses.replace(structure, positions=structure.positions @ m,
                               cell=structure.cell @ m)


def _strain_derivative(energy, structure, h=STEP):
    """:math:`V^{-1}\\partial E/\\partial\\varepsilon_{ab}` by central differences of a
    symmetric strain (off-diagonal pairs share the strain, hence the half step)."""
    out = np.zeros((3, 3))
    for a in range(3):
        for b in range(3):
            eps = np.zeros((3, 3))
            eps[a, b] = eps[b, a] = h / 2 if a != b else h
            de = energy(_strained(structure, eps)) - energy(_strained(structure, -eps))
            out[a, b] = de / (2 * h) / structure.volume
    return out


def test_reference_stress_is_the_strain_derivative_of_the_energy():
    tblite_ase = pytest.importorskip("tblite.ase")
    si = _silicon()
    assert si.pbc.all() and si.stress is not None

    def energy(s):
        atoms = s.to_ase()
        atoms.calc = tblite_ase.TBLite(method="GFN1-xTB", verbosity=0)
        return atoms.get_potential_energy()

    fd = _strain_derivative(energy, si)
    np.testing.assert_allclose(si.stress, fd, atol=2e-5 * np.abs(si.stress).max() + 1e-6)
    assert np.abs(si.stress).max() > 1e-3  # a strained, rattled cell: the check has teeth


@pytest.mark.parametrize("name", ["nequip", "mace"])
def test_potential_stress_on_silicon_matches_finite_differences(name):
    si = _silicon()
    cutoff = 1.05 * float(np.linalg.norm(si.cell, axis=1).min())  # sees its own images
    species = (14,)
    options = {"nequip": {"channels": 4, "lmax": 2, "n_layers": 2},
               "mace": {"channels": 4, "lmax": 1, "hidden_lmax": 1, "correlation": 3,
                        "n_layers": 2}}[name]
    net = build_network(name, 1, seed=0, cutoff=cutoff, avg_neighbors=30.0, n_basis=4,
                        radial_hidden=8, **options)
    pot = Potential(net, species, np.array([-5.0]), 1.0)
    with jax.enable_x64(True):
        state = jax.tree.map(lambda x: x.astype(jnp.float64)
                             if jnp.issubdtype(x.dtype, jnp.floating) else x, nnx.state(pot))
        nnx.update(pot, state)
        index = Structures([si], species=species).species_index(si.numbers)
        graph = G.structure_graph(si, index, cutoff)
        own_images = np.asarray(graph.senders) == np.asarray(graph.receivers)
        assert own_images.any(), "the cutoff should reach periodic images of the same atom"
        pad = G.PadSizes(n_node=len(si) + 1, n_edge=int(graph.n_edge[0]) + 8, n_graph=2)
        run = nnx.jit(predict)

        def predict_one(s):
            g = G.pad_graph(G.structure_graph(s, index, cutoff), pad, np.float64)
            return run(pot, g)

        stress = np.asarray(predict_one(si).stress[0])
        fd = _strain_derivative(lambda s: float(predict_one(s).energy[0]), si, h=1e-5)
    assert np.abs(stress).max() > 1e-6  # not trivially zero
    np.testing.assert_allclose(stress, stress.T, atol=1e-12)
    assert np.linalg.norm(stress - fd) / np.linalg.norm(fd) < 1e-6


def test_silicon_problem_learns_stress():
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "problems" / "silicon_stress.py"
    spec = importlib.util.spec_from_file_location("silicon_stress", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    structures, split = module.problem.data()
    assert "stress" in module.problem.targets and structures.has("stress")
    from sciml.atomistic.recipe import choose

    recipe, _ = choose(module.problem, "nequip", structures, split["train"])
    _, train = module.problem.settings("nequip", {}, recipe)
    assert train["stress_weight"] > 0
    assert len(split["test"]) and not set(split["train"]) & set(split["test"])
