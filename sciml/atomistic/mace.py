r"""MACE-style higher-body-order network [Batatia et al., NeurIPS 2022].

Each layer builds, per node and per channel :math:`k`, the atomic basis (a sum over
neighbours, i.e. two-body features)

.. math:: A_{i,k\ell m} = \frac{1}{\bar n}\sum_{j} R_{k\ell}(d_{ij})\, Y_{\ell m}(\hat d_{ij})\, (W h_j)_k ,

then the higher-body-order product basis by repeated Clebsch--Gordan products of :math:`A`
with itself, up to correlation order :math:`\nu` (:math:`\nu = 3` gives four-body features
in one layer),

.. math:: B^{(1)} = A,\quad B^{(2)} = A \otimes A,\quad B^{(3)} = (A \otimes A) \otimes A ,

contracted with species-dependent weights per channel and output irrep,
:math:`m_{i,kLM} = \sum_{\nu,\eta} w^{z_i}_{k\nu\eta L}\, B^{(\nu)}_{i,k\eta LM}`, and updates
:math:`h_i' = W m_i + W_{z_i} h_i`. Atomic energies are the sum of a linear readout of every
layer's scalars (an MLP on the last one).

The products are taken channel-wise with e3nn-jax ``tensor_product`` on features reshaped to
``(node, channel, irreps)``; unlike MACE's ``SymmetricContraction`` (a reduced basis of the
*symmetric* power of ``A``) this keeps every coupling path, a redundant but equally
equivariant and complete parameterisation of the same body order.
"""

from __future__ import annotations

import e3nn_jax as e3nn
import jax
import jax.numpy as jnp
from flax import nnx

from .layers import IrrepsLinear, invariant_mlp
from .nequip import edge_geometry


def _irreps(channels: int, lmax: int) -> e3nn.Irreps:
    return e3nn.Irreps("+".join(f"{channels}x{l}{'e' if l % 2 == 0 else 'o'}"
                                for l in range(lmax + 1)))


class ProductBasis(nnx.Module):
    """Channel-wise products of ``A`` up to ``correlation``, contracted to ``target`` irreps
    with species-dependent weights."""

    def __init__(self, a_irreps: e3nn.Irreps, target: e3nn.Irreps, *, correlation: int,
                 n_species: int, channels: int, rngs: nnx.Rngs):
        self.a_types = [ir for _, ir in a_irreps]
        self.target_types = [ir for _, ir in target]
        self.correlation = int(correlation)
        probe = e3nn.zeros(e3nn.Irreps([(1, ir) for ir in self.a_types]), (1, 1))
        b = self._products(probe)
        self.b_irreps = b.irreps
        self.weights = nnx.List([
            nnx.Param(jax.random.normal(rngs.params(), (n_species, channels, mul)) / mul**0.5)
            for mul, _ in self.b_irreps
        ])

    def _products(self, a: e3nn.IrrepsArray) -> e3nn.IrrepsArray:
        parts, power = [a.filter(keep=self.target_types)], a
        for nu in range(2, self.correlation + 1):
            keep = self.target_types if nu == self.correlation else self.a_types
            power = e3nn.tensor_product(power, a, filter_ir_out=keep)
            parts.append(power.filter(keep=self.target_types))
        return e3nn.concatenate(parts, axis=-1).regroup()

    def __call__(self, a: e3nn.IrrepsArray, species: jnp.ndarray) -> e3nn.IrrepsArray:
        b = self._products(a)  # (N, C, irreps)
        chunks = [jnp.einsum("nkpi,nkp->nki", chunk, w[...][species].astype(chunk.dtype))[:, :, None]
                  for chunk, w in zip(b.chunks, self.weights)]
        irreps = e3nn.Irreps([(1, ir) for _, ir in b.irreps])
        return e3nn.from_chunks(irreps, chunks, a.shape[:-1], a.dtype).regroup()


class MACELayer(nnx.Module):
    def __init__(self, irreps_in, *, channels: int, lmax: int, target: e3nn.Irreps,
                 correlation: int, n_species: int, n_basis: int, radial_hidden: int,
                 avg_neighbors: float, rngs: nnx.Rngs):
        irreps_in = e3nn.Irreps(irreps_in)
        a_irreps = _irreps(channels, lmax)
        sh = e3nn.zeros(e3nn.Irreps.spherical_harmonics(lmax))
        self.keep = [ir for _, ir in a_irreps]
        self.msg_irreps = e3nn.tensor_product(e3nn.zeros(irreps_in), sh,
                                              filter_ir_out=self.keep).irreps
        self.lin_up = IrrepsLinear(irreps_in, irreps_in, rngs=rngs)
        self.radial = invariant_mlp([n_basis, radial_hidden, radial_hidden, self.msg_irreps.num_irreps],
                                    rngs=rngs, bias=False)
        self.lin_a = IrrepsLinear(self.msg_irreps, a_irreps, rngs=rngs)
        self.product = ProductBasis(a_irreps, target, correlation=correlation,
                                    n_species=n_species, channels=channels, rngs=rngs)
        self.irreps_out = e3nn.Irreps(target)
        self.lin_out = IrrepsLinear(self.irreps_out, self.irreps_out, rngs=rngs)
        self.self_int = IrrepsLinear(irreps_in, self.irreps_out, n_species=n_species, rngs=rngs)
        self.norm = 1.0 / float(avg_neighbors)
        self.channels = channels

    def __call__(self, h, species, sh, radial, senders, receivers):
        hj = self.lin_up(h)[senders]
        msg = e3nn.tensor_product(hj, sh, filter_ir_out=self.keep).rechunk(self.msg_irreps)
        msg = msg * self.radial(radial)
        a = e3nn.scatter_sum(msg, dst=receivers, output_size=h.shape[0]) * self.norm
        a = self.lin_a(a).mul_to_axis(self.channels)  # (N, C, 0e+1o+...)
        m = self.product(a, species).axis_to_mul()
        return self.lin_out(m) + self.self_int(h, species)


class MACE(nnx.Module):
    """MACE-style potential.

    Args:
        n_species: size of the one-hot species embedding.
        channels: channels of every irrep.
        lmax: highest angular momentum of the spherical harmonics and of ``A``.
        hidden_lmax: highest angular momentum of the node features passed between layers
            (MACE's ``max_L``); the last layer keeps scalars only.
        correlation: body order of the product basis (``nu``).
        n_layers, cutoff, n_basis, radial_hidden, avg_neighbors: as for :class:`NequIP`.
    """

    def __init__(self, n_species: int, *, channels: int = 32, lmax: int = 2,
                 hidden_lmax: int = 1, correlation: int = 3, n_layers: int = 2,
                 cutoff: float = 5.0, n_basis: int = 8, radial_hidden: int = 64,
                 avg_neighbors: float = 10.0, rngs: nnx.Rngs):
        self.cutoff, self.lmax, self.n_basis = float(cutoff), int(lmax), int(n_basis)
        self.n_species = int(n_species)
        self.embed = IrrepsLinear(f"{n_species}x0e", f"{channels}x0e", rngs=rngs)
        layers, readouts, irreps = [], [], e3nn.Irreps(f"{channels}x0e")
        for k in range(n_layers):
            last = k == n_layers - 1
            target = e3nn.Irreps(f"{channels}x0e") if last else _irreps(channels, hidden_lmax)
            layer = MACELayer(irreps, channels=channels, lmax=lmax, target=target,
                              correlation=correlation, n_species=n_species, n_basis=n_basis,
                              radial_hidden=radial_hidden, avg_neighbors=avg_neighbors,
                              rngs=rngs)
            layers.append(layer)
            readouts.append(invariant_mlp([channels, 16, 1], rngs=rngs) if last
                            else invariant_mlp([channels, 1], rngs=rngs, bias=False))
            irreps = layer.irreps_out
        self.layers = nnx.List(layers)
        self.readouts = nnx.List(readouts)

    def __call__(self, species, vectors, senders, receivers, edge_mask):
        sh, radial = edge_geometry(vectors, edge_mask, self.lmax, self.n_basis, self.cutoff)
        onehot = jax.nn.one_hot(species, self.n_species, dtype=vectors.dtype)
        h = self.embed(e3nn.IrrepsArray(f"{self.n_species}x0e", onehot))
        energy = 0.0
        for layer, readout in zip(self.layers, self.readouts):
            h = layer(h, species, sh, radial, senders, receivers)
            energy = energy + readout(h.filter("0e").array)[:, 0]
        return energy
