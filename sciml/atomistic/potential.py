r"""From a graph network to a physical potential: energies, forces and stresses.

The total energy is a sum of atomic energies,

.. math:: E = \sum_i \big(\sigma\, \varepsilon_\theta(i) + \mu_{z_i}\big),

with per-species shifts :math:`\mu_z` fitted by least squares to the training energies
(:func:`fit_species_shifts`) and a scale :math:`\sigma` (the RMS of the training forces), so the
network only learns a unit-variance correction. Forces and stress are exact derivatives of
that one function, obtained by automatic differentiation:

.. math:: F_i = -\frac{\partial E}{\partial r_i}, \qquad
          \sigma_{ab} = \frac{1}{V} \frac{\partial E}{\partial \varepsilon_{ab}}\Big|_{\varepsilon=0},

where the symmetric strain :math:`\varepsilon` deforms every edge vector (positions and the
periodic shifts alike) as :math:`d \mapsto d\,(1 + \varepsilon)`. This is ASE's sign
convention for stress. Because forces are a gradient, the learned force field is conservative
by construction -- the property that makes NVE dynamics conserve energy.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from . import graphs as G


class Potential(nnx.Module):
    """A graph network plus per-species energy shifts and a scale."""

    def __init__(self, network: nnx.Module, species: tuple[int, ...], shifts, scale: float):
        self.network = network
        self.species = tuple(int(z) for z in species)
        self.cutoff = float(network.cutoff)
        # Not trained: kept as plain variables so the optimiser leaves them alone.
        self.shifts = nnx.Variable(jnp.asarray(shifts, dtype=jnp.float32))
        self.scale = nnx.Variable(jnp.asarray(scale, dtype=jnp.float32))

    def atomic_energies(self, species, vectors, senders, receivers, edge_mask):
        out = self.network(species, vectors, senders, receivers, edge_mask)
        dtype = out.dtype
        return self.scale[...].astype(dtype) * out + self.shifts[...].astype(dtype)[species]


class Predictions(NamedTuple):
    energy: jax.Array  # (G,)
    forces: jax.Array  # (N, 3)
    stress: jax.Array  # (G, 3, 3); zero where the volume is zero (molecules)


def predict(potential: Potential, graph: G.GraphsTuple) -> Predictions:
    """Energies, forces (= -dE/dr) and stresses (= dE/de / V) of a padded batch."""
    node_mask, edge_mask, _ = G.masks(graph)
    positions = graph.nodes["positions"]
    species = graph.nodes["species"]
    n_graph = graph.n_node.shape[0]
    node_graph = G.node_graph_index(graph)
    edge_graph = G.edge_graph_index(graph)

    def total_energy(positions, strain):
        sym = 0.5 * (strain + jnp.swapaxes(strain, -1, -2))
        vec = positions[graph.senders] - positions[graph.receivers] + graph.edges["shifts"]
        vec = vec + jnp.einsum("ei,eij->ej", vec, sym[edge_graph])
        e_atom = potential.atomic_energies(species, vec, graph.senders, graph.receivers,
                                           edge_mask)
        e_atom = jnp.where(node_mask, e_atom, 0.0)
        energies = jax.ops.segment_sum(e_atom, node_graph, num_segments=n_graph)
        return energies.sum(), energies

    strain0 = jnp.zeros((n_graph, 3, 3), dtype=positions.dtype)
    (_, energies), (d_pos, d_strain) = jax.value_and_grad(
        total_energy, argnums=(0, 1), has_aux=True)(positions, strain0)
    volume = graph.globals["volume"]
    safe_v = jnp.where(volume > 0, volume, 1.0)
    stress = jnp.where((volume > 0)[:, None, None], d_strain / safe_v[:, None, None], 0.0)
    return Predictions(energies, -d_pos, stress)


def fit_species_shifts(composition: np.ndarray, energies: np.ndarray) -> np.ndarray:
    r"""Least-squares :math:`\mu` in :math:`E_s \approx \sum_z n_{sz}\mu_z`.

    With one fixed composition (a single molecule's MD) the system is rank one; ``lstsq``
    then returns the minimum-norm solution, which still removes the mean energy exactly.
    """
    mu, *_ = np.linalg.lstsq(np.asarray(composition, float), np.asarray(energies, float),
                             rcond=None)
    return mu
