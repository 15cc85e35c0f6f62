"""Small equivariant building blocks as flax ``nnx`` modules over e3nn-jax ``IrrepsArray``.

* :class:`IrrepsLinear` -- the most general equivariant linear map between two irreps
  (channel mixing within each irrep type; biases on scalars only), optionally with one set of
  weights per chemical species (NequIP's self-interaction / MACE's species-dependent update).
* :func:`invariant_mlp` -- the project's :class:`~sciml.models.mlp.MLP` as used on invariant
  inputs (radial weights, readouts): SiLU, unit-variance fan-in weights.
"""

from __future__ import annotations

import e3nn_jax as e3nn
import jax
import jax.numpy as jnp
from flax import nnx

from sciml.models.mlp import MLP


class IrrepsLinear(nnx.Module):
    """Equivariant linear map ``irreps_in -> irreps_out``.

    With ``n_species`` set, each node uses the weights of its species: the map is
    :math:`x_i \\mapsto W_{z_i} x_i`, which is still equivariant because the species are
    invariant under E(3).
    """

    def __init__(self, irreps_in, irreps_out, *, n_species: int | None = None, rngs: nnx.Rngs):
        self.irreps_in = e3nn.Irreps(irreps_in)
        self.irreps_out = e3nn.Irreps(irreps_out)
        self._lin = e3nn.FunctionalLinear(self.irreps_in, self.irreps_out)
        shape = (self._lin.num_weights,) if n_species is None else (n_species, self._lin.num_weights)
        # Unit-variance weights: FunctionalLinear already divides by sqrt(fan-in).
        self.w = nnx.Param(jax.random.normal(rngs.params(), shape))
        self.n_species = n_species

    def __call__(self, x: e3nn.IrrepsArray, species: jnp.ndarray | None = None) -> e3nn.IrrepsArray:
        x = x.rechunk(self.irreps_in) if x.irreps != self.irreps_in else x
        w = self.w[...]
        lead = x.shape[:-1]
        flat = x.reshape((-1, x.irreps.dim))
        if self.n_species is None:
            out = e3nn.vmap(lambda v: self._lin(w.astype(v.dtype), v))(flat)
            return out.reshape(lead + (-1,))
        if species is None:
            raise ValueError("this linear map is species dependent: pass `species`")
        per_species = jax.vmap(
            lambda ws: e3nn.vmap(lambda v: self._lin(ws.astype(v.dtype), v))(flat).array
        )(w)  # (S, n, dim)
        idx = jnp.broadcast_to(species.reshape(species.shape + (1,) * (len(lead) - species.ndim)),
                               lead).reshape(-1)
        out = jnp.take_along_axis(per_species, idx[None, :, None], axis=0)[0]
        return e3nn.IrrepsArray(self.irreps_out, out.reshape(lead + (-1,)))


def invariant_mlp(sizes, *, rngs: nnx.Rngs, bias: bool = True) -> MLP:
    """``sizes[0] -> ... -> sizes[-1]`` with SiLU between layers and unit-variance fan-in weights.

    ``bias=False`` gives a map with ``MLP(0) = 0`` (SiLU(0) = 0): radial weights built that way
    vanish, smoothly, wherever the radial basis does -- at the cutoff and on padded edges.
    """
    return MLP(sizes[0], sizes[-1], hidden=sizes[1:-1], activation="silu", init="fan_in_normal",
               bias=bias, rngs=rngs)
