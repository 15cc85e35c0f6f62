"""From a KAN's edges to one sympy expression per output.

Relies only on the KAN contract: ``model.widths`` and ``model.activations(x)``, which returns
one ``(layer_inputs (B, n_in), edge_outputs (B, n_in, n_out))`` tuple per layer, with node
``j`` of the next layer equal to ``sum_i edge_outputs[:, i, j]`` (no biases outside edges).
Every edge is then a univariate function sampled on the data, so all edges of all layers are
distilled in one :func:`~sciml.symbolic.fit.fit_edges` call and composed layer by layer:

.. math::
    x^{(l+1)}_j = \\sum_i c_{lij}\\, f_{lij}(a_{lij} x^{(l)}_i + b_{lij}) + d_{lij}.

Edges whose best fit is below the ``R^2`` threshold stay numeric and appear as an undefined
function ``phi_l_i_j(.)`` so the formula says honestly where it is incomplete.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import sympy as sp

from .fit import EdgeChoice, EdgeFits, fit_edges
from .primitives import DEFAULT_LIBRARY, Library, edge_formula

__all__ = ["EdgeSamples", "edge_samples", "compose", "distil_kan"]


@dataclasses.dataclass
class EdgeSamples:
    """All edges of a network sampled on a batch: ``x, y`` of shape (edges, batch)."""

    x: np.ndarray
    y: np.ndarray
    index: list[tuple[int, int, int]]  # (layer, in, out) per row
    widths: list[int]


def edge_samples(model, X) -> EdgeSamples:
    """Sample every edge of ``model`` (KAN contract) on the inputs ``X`` (batch, in)."""
    if not hasattr(model, "activations"):
        raise TypeError(f"{type(model).__name__} has no activations(x); symbolic distillation "
                        "edge by edge needs a KAN (sciml.models.kan.KAN) — for other models use "
                        "sciml.symbolic.discover on their predictions")
    acts = model.activations(np.asarray(X))
    xs, ys, index, widths = [], [], [], []
    for l, (inp, out) in enumerate(acts):
        inp, out = np.asarray(inp, np.float64), np.asarray(out, np.float64)
        if out.ndim != 3 or inp.shape[1] != out.shape[1]:
            raise ValueError(f"layer {l}: activations must be (inputs (B, n_in), edge outputs "
                             f"(B, n_in, n_out)); got {inp.shape} and {out.shape}")
        widths.append(inp.shape[1])
        for i in range(out.shape[1]):
            for j in range(out.shape[2]):
                xs.append(inp[:, i])
                ys.append(out[:, i, j])
                index.append((l, i, j))
    widths.append(acts[-1][1].shape[2])
    return EdgeSamples(np.stack(xs), np.stack(ys), index, widths)


def edge_expr(choice: EdgeChoice, z: sp.Expr, library: Library, label: str) -> sp.Expr:
    if choice.numeric:
        return sp.Function(label)(z)
    return edge_formula(library[choice.name], choice.params, z)


def compose(choices: list[EdgeChoice], index, widths, symbols, library: Library | None = None
            ) -> list[sp.Expr]:
    """Compose chosen edge forms into one expression per network output."""
    library = DEFAULT_LIBRARY if library is None else library
    if len(symbols) != widths[0]:
        raise ValueError(f"need {widths[0]} input symbols, got {len(symbols)}")
    by_edge = dict(zip(index, choices))
    nodes = list(symbols)
    for l in range(len(widths) - 1):
        nxt = [sp.Integer(0)] * widths[l + 1]
        for j in range(widths[l + 1]):
            for i in range(widths[l]):
                ch = by_edge[(l, i, j)]
                nxt[j] = nxt[j] + edge_expr(ch, nodes[i], library, f"phi_{l}_{i}_{j}")
        nodes = nxt
    return nodes


def distil_kan(model, X, symbols, library: Library | None = None, *, r2_threshold: float = 0.99
               ) -> tuple[list[sp.Expr], EdgeSamples, EdgeFits, list[EdgeChoice]]:
    """Sample, fit and compose a KAN: ``(expressions, samples, fits, choices)``."""
    library = DEFAULT_LIBRARY if library is None else library
    s = edge_samples(model, X)
    fits = fit_edges(s.x, s.y, library)
    choices = fits.select(r2_threshold=r2_threshold)
    return compose(choices, s.index, s.widths, symbols, library), s, fits, choices
