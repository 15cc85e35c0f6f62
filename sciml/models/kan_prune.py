r"""Sparsification of KANs: the paper's regulariser, attribution scores and pruning.

**Regulariser** (Liu et al. 2024, eq. 2.17–2.20). With the batch mean
:math:`|\phi_{lij}|_1 = \frac{1}{N}\sum_n |\phi_{lij}(x^{(n)}_i)|` of an edge's *activation*
(not its weights), layer norm :math:`|\Phi_l|_1 = \sum_{ij} |\phi_{lij}|_1` and entropy
:math:`S(\Phi_l) = -\sum_{ij} p_{lij} \log p_{lij}`, :math:`p_{lij} = |\phi_{lij}|_1 / |\Phi_l|_1`,

.. math::

    \ell_\text{reg} = \sum_l \big(\mu_1 |\Phi_l|_1 + \mu_2 S(\Phi_l)\big),

added to the loss as :math:`\lambda\,\ell_\text{reg}` (paper: :math:`\mu_1 = 1, \mu_2 = 2`).

**Attribution** (pykan 0.2's ``attribute``). Output nodes score 1; going backwards, an edge
scores the spread of its activation relative to the spread of the node it feeds, times that
node's score, and a node scores the sum of its outgoing edges:

.. math::

    E_{lij} = \frac{\sigma(\phi_{lij})}{\sigma(x_{l+1,j}) + 10^{-4}}\, A_{l+1,j},\qquad
    A_{li} = \sum_j E_{lij}.

**Pruning** masks edges with :math:`E < ` ``edge_threshold``, removes hidden nodes with
:math:`A < ` ``node_threshold`` (with all their edges) and hidden nodes left without incoming
or outgoing edges, and returns a smaller :class:`~sciml.models.kan.KAN` that computes exactly
what the original computes with those edges masked (:func:`apply_masks`).
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from sciml.models.kan import KAN, KANGrid, KANMask
from sciml.models.kan_symbolic import SymbolicEdges

__all__ = [
    "Attribution",
    "apply_masks",
    "attribution",
    "compact",
    "edge_l1",
    "edge_spread",
    "prune",
    "prune_masks",
    "regularization",
]


def edge_l1(activations) -> list[jax.Array]:
    """Per layer, the batch mean of ``|phi_lij|``: ``(n_in, n_out)``."""
    return [jnp.abs(phi.reshape(-1, *phi.shape[-2:])).mean(axis=0) for _, phi in activations]


def edge_spread(activations) -> list[jax.Array]:
    """Per layer, ``std(phi_lij) / (std(x_li) + 0.1)``: ``(n_in, n_out)`` (pykan 0.2's default
    edge measure, ``edge_forward_spline_n``: blind to constant offsets and to the input's scale)."""
    out = []
    for inp, phi in activations:
        phi = phi.reshape(-1, *phi.shape[-2:])
        out.append(phi.std(axis=0) / (inp.reshape(-1, inp.shape[-1]).std(axis=0)[:, None] + 0.1))
    return out


_MEASURES = {"l1": edge_l1, "spread": edge_spread}


def regularization(model: KAN, x: jax.Array, *, l1: float = 1.0, entropy: float = 2.0, eps: float = 1e-8,
                   measure: str = "l1") -> jax.Array:
    """The paper's L1 + entropy regulariser of the edge activations at inputs ``x``.

    Args:
        model: the network.
        x: ``(..., in_features)`` inputs (collocation or data points).
        l1: weight ``mu_1`` of the layer L1 norms.
        entropy: weight ``mu_2`` of the layer entropies.
        eps: guards the logarithm and the normalisation of all-zero layers.
        measure: ``"l1"`` (the paper's batch mean ``|phi|``) or ``"spread"``
            (:func:`edge_spread`, what pykan 0.2 regularises by default).
    """
    if measure not in _MEASURES:
        raise ValueError(f"measure must be one of {sorted(_MEASURES)}, got {measure!r}")
    total = 0.0
    for mag in _MEASURES[measure](model.activations(x)):
        norm = mag.sum()
        p = mag / (norm + eps)
        total = total + l1 * norm - entropy * jnp.sum(p * jnp.log(p + eps))
    return total


@dataclasses.dataclass(frozen=True)
class Attribution:
    """Scores from :func:`attribution`: ``edges[l]`` is ``(n_l, n_{l+1})`` and ``nodes[l]`` is
    ``(n_l,)`` for ``l = 0..L`` (``nodes[L]`` are the outputs, scored 1)."""

    edges: list[np.ndarray]
    nodes: list[np.ndarray]


def attribution(model: KAN, x: jax.Array) -> Attribution:
    """Edge and node importance of ``model`` on inputs ``x (N, in_features)``."""
    acts = model.activations(jnp.asarray(x).reshape(-1, model.in_features))
    node = np.ones(model.out_features)
    edges, nodes = [], [node]
    for _, phi in reversed(acts):
        phi = np.asarray(phi, dtype=np.float64)
        spread_edge = phi.std(axis=0)  # (n_in, n_out)
        spread_node = phi.sum(axis=1).std(axis=0)  # (n_out,)
        score = spread_edge / (spread_node + 1e-4) * node[None, :]
        node = score.sum(axis=1)
        edges.append(score)
        nodes.append(node)
    return Attribution(edges=edges[::-1], nodes=nodes[::-1])


def prune_masks(
    model: KAN, x: jax.Array, *, node_threshold: float = 1e-2, edge_threshold: float = 3e-2
) -> list[np.ndarray]:
    """0/1 masks per layer after pruning weak edges and hidden nodes (see module docstring)."""
    scores = attribution(model, x)
    masks = [
        (np.asarray(layer.mask[...]) > 0) & (score >= edge_threshold)
        for layer, score in zip(model.layers, scores.edges)
    ]
    alive = [np.ones(w, bool) for w in model.widths]
    for l in range(1, len(model.widths) - 1):
        alive[l] = scores.nodes[l] >= node_threshold
    # A hidden node without incoming or outgoing edges is removed with all its edges; that can
    # strand others, so repeat until nothing changes.
    while True:
        for l in range(1, len(model.widths) - 1):
            alive[l] &= masks[l - 1].any(axis=0) & masks[l].any(axis=1)
        new = [m & alive[l][:, None] & alive[l + 1][None, :] for l, m in enumerate(masks)]
        if all((a == b).all() for a, b in zip(new, masks)):
            break
        masks = new
    return [m.astype(np.float64) for m in masks]


def apply_masks(model: KAN, masks) -> KAN:
    """A copy of ``model`` whose edge masks are multiplied by ``masks`` (same shapes)."""
    new = nnx.clone(model)
    for layer, mask in zip(new.layers, masks):
        mask = jnp.asarray(mask)
        if mask.shape != layer.mask[...].shape:
            raise ValueError(f"mask of shape {mask.shape} for a layer of shape {layer.mask[...].shape}")
        layer.mask = KANMask(layer.mask[...] * mask.astype(layer.mask[...].dtype))
    return new


def compact(model: KAN) -> KAN:
    """The same function on fewer nodes: drops hidden nodes whose outgoing edges are all masked
    (they contribute exactly zero)."""
    keep = [np.arange(w) for w in model.widths]
    for l in range(1, len(model.widths) - 1):
        keep[l] = np.flatnonzero(np.asarray(model.layers[l].mask[...]).any(axis=1))
    widths = [len(k) for k in keep]
    if any(w == 0 for w in widths):
        raise ValueError(
            "pruning removed every node of a hidden layer; lower node_threshold/edge_threshold"
        )
    new = KAN(widths, **{k: v for k, v in model.config.items() if k != "widths"}, rngs=nnx.Rngs(0))
    for l, (dst, src) in enumerate(zip(new.layers, model.layers)):
        rows, cols = keep[l], keep[l + 1]
        dst.basis = src.basis
        dst.grid = KANGrid(src.grid[...][rows])
        dst.coef = nnx.Param(src.coef[...][np.ix_(rows, cols)])
        dst.scale_base = nnx.Param(src.scale_base[...][np.ix_(rows, cols)])
        dst.scale_spline = nnx.Param(src.scale_spline[...][np.ix_(rows, cols)])
        dst.mask = KANMask(src.mask[...][np.ix_(rows, cols)])
        dst.symbolic = _kept_symbolic(src.symbolic, rows, cols)
    return new


def _kept_symbolic(symbolic, rows, cols):
    """The fixed edges among the kept nodes, renumbered (``None`` if none is left)."""
    if symbolic is None:
        return None
    new_row = {int(r): k for k, r in enumerate(rows)}
    new_col = {int(c): k for k, c in enumerate(cols)}
    keep = [k for k, (i, j, _) in enumerate(symbolic.edges) if i in new_row and j in new_col]
    if not keep:
        return None
    edges = [(new_row[i], new_col[j], key) for i, j, key in (symbolic.edges[k] for k in keep)]
    return SymbolicEdges(edges, symbolic.affine[...][np.asarray(keep)])


def prune(model: KAN, x: jax.Array, *, node_threshold: float = 1e-2, edge_threshold: float = 3e-2) -> KAN:
    """A smaller KAN computing ``model`` restricted to its important edges on inputs ``x``.

    Equal (to rounding) to ``apply_masks(model, prune_masks(model, x, ...))``.
    """
    masks = prune_masks(model, x, node_threshold=node_threshold, edge_threshold=edge_threshold)
    return compact(apply_masks(model, masks))
