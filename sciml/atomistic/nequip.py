r"""NequIP-style interaction network [Batzner et al., Nat. Commun. 13, 2453 (2022)].

Node features :math:`h_i` are E(3)-equivariant (irreps :math:`0e, 1o, 2e, \dots`). One
interaction layer is

.. math::
    m_i = \frac{1}{\sqrt{\bar n}} \sum_{j \in \mathcal N(i)}
          R(d_{ij}) \odot \big(W h_j \otimes Y(\hat d_{ij})\big), \qquad
    h_i' = \mathrm{Gate}\big(W' m_i + W_{z_i} h_i\big),

with :math:`Y` the spherical harmonics of the edge direction, :math:`R` an MLP of the
Bessel/envelope radial basis giving one weight per tensor-product path and channel ("uvu"),
:math:`\bar n` the mean number of neighbours, :math:`W_{z_i}` a species-dependent
self-interaction and a gated nonlinearity. Atomic energies are an MLP of the final scalars.
"""

from __future__ import annotations

import e3nn_jax as e3nn
import jax
import jax.numpy as jnp
from flax import nnx

from .layers import IrrepsLinear, invariant_mlp
from .radial import radial_embedding


def edge_geometry(vectors, edge_mask, lmax: int, n_basis: int, cutoff: float):
    """Spherical harmonics and radial embedding of the edges; padded edges get zeros.

    Padded edges (and any zero-length vector) are replaced by a vector beyond the cutoff
    *before* the norm, so the envelope zeroes them and no NaN reaches the gradients.
    """
    far = jnp.array([2.0 * cutoff, 0.0, 0.0], dtype=vectors.dtype)
    safe = jnp.where(edge_mask[:, None], vectors, far)
    d = jnp.linalg.norm(safe, axis=-1)
    sh = e3nn.spherical_harmonics(e3nn.Irreps.spherical_harmonics(lmax), safe, normalize=True,
                                  normalization="component")
    radial = radial_embedding(d, n_basis, cutoff)
    return sh, radial


def _gated_irreps(hidden: e3nn.Irreps) -> tuple[e3nn.Irreps, e3nn.Irreps]:
    """Irreps before the gate (scalars + one gate per non-scalar) and after it."""
    scalars = e3nn.Irreps([(m, ir) for m, ir in hidden if ir.l == 0])
    nonscalars = e3nn.Irreps([(m, ir) for m, ir in hidden if ir.l > 0])
    gates = e3nn.Irreps(f"{nonscalars.num_irreps}x0e") if nonscalars.num_irreps else e3nn.Irreps("")
    return (scalars + gates + nonscalars).simplify(), (scalars + nonscalars).simplify()


class InteractionLayer(nnx.Module):
    """One NequIP convolution + self-interaction + gate."""

    def __init__(self, irreps_in, hidden, *, lmax: int, n_species: int, n_basis: int,
                 radial_hidden: int, avg_neighbors: float, rngs: nnx.Rngs):
        irreps_in, hidden = e3nn.Irreps(irreps_in), e3nn.Irreps(hidden)
        pre_gate, self.irreps_out = _gated_irreps(hidden)
        sh = e3nn.zeros(e3nn.Irreps.spherical_harmonics(lmax))
        keep = {ir for _, ir in pre_gate}
        self.msg_irreps = e3nn.tensor_product(e3nn.zeros(irreps_in), sh,
                                              filter_ir_out=keep).irreps
        self.lin_in = IrrepsLinear(irreps_in, irreps_in, rngs=rngs)
        self.radial = invariant_mlp([n_basis, radial_hidden, radial_hidden, self.msg_irreps.num_irreps],
                                    rngs=rngs, bias=False)
        self.lin_out = IrrepsLinear(self.msg_irreps, pre_gate, rngs=rngs)
        self.self_int = IrrepsLinear(irreps_in, pre_gate, n_species=n_species, rngs=rngs)
        self.keep = keep
        self.norm = float(avg_neighbors) ** -0.5

    def __call__(self, h, species, sh, radial, senders, receivers):
        hj = self.lin_in(h)[senders]
        msg = e3nn.tensor_product(hj, sh, filter_ir_out=self.keep).rechunk(self.msg_irreps)
        msg = msg * self.radial(radial)
        agg = e3nn.scatter_sum(msg, dst=receivers, output_size=h.shape[0]) * self.norm
        return e3nn.gate(self.lin_out(agg) + self.self_int(h, species))


class NequIP(nnx.Module):
    """NequIP-style potential: species -> equivariant features -> atomic energies.

    Args:
        n_species: size of the one-hot species embedding.
        channels: multiplicity of every irrep in the hidden features.
        lmax: highest angular momentum of the spherical harmonics and the features.
        n_layers: interaction layers.
        cutoff: radial cutoff (A); must equal the neighbour-list cutoff.
        n_basis: Bessel functions.
        radial_hidden: width of the radial MLPs.
        avg_neighbors: mean neighbour count, normalises the message sums.
    """

    def __init__(self, n_species: int, *, channels: int = 32, lmax: int = 2, n_layers: int = 3,
                 cutoff: float = 5.0, n_basis: int = 8, radial_hidden: int = 64,
                 avg_neighbors: float = 10.0, rngs: nnx.Rngs):
        self.cutoff, self.lmax, self.n_basis = float(cutoff), int(lmax), int(n_basis)
        self.n_species = int(n_species)
        parities = {l: ("e" if l % 2 == 0 else "o") for l in range(lmax + 1)}
        hidden = e3nn.Irreps("+".join(f"{channels}x{l}{parities[l]}" for l in range(lmax + 1)))
        self.embed = IrrepsLinear(f"{n_species}x0e", f"{channels}x0e", rngs=rngs)
        layers, irreps = [], e3nn.Irreps(f"{channels}x0e")
        for k in range(n_layers):
            # The last layer only needs scalars for the readout.
            target = hidden if k < n_layers - 1 else e3nn.Irreps(f"{channels}x0e")
            layer = InteractionLayer(irreps, target, lmax=lmax, n_species=n_species,
                                     n_basis=n_basis, radial_hidden=radial_hidden,
                                     avg_neighbors=avg_neighbors, rngs=rngs)
            layers.append(layer)
            irreps = layer.irreps_out
        self.layers = nnx.List(layers)
        self.readout = invariant_mlp([channels, channels // 2, 1], rngs=rngs)

    def __call__(self, species, vectors, senders, receivers, edge_mask):
        sh, radial = edge_geometry(vectors, edge_mask, self.lmax, self.n_basis, self.cutoff)
        onehot = jax.nn.one_hot(species, self.n_species, dtype=vectors.dtype)
        h = self.embed(e3nn.IrrepsArray(f"{self.n_species}x0e", onehot))
        for layer in self.layers:
            h = layer(h, species, sh, radial, senders, receivers)
        return self.readout(h.filter("0e").array)[:, 0]
