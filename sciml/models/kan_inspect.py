"""Inspection of KANs: every edge's learned function as named arrays, and the network drawing.

:func:`sample_edges` returns an :class:`xarray.Dataset` (what symbolification reads):

=========  =================================  ==============================================
variable   dims                               meaning
=========  =================================  ==============================================
``x``      ``(layer, in, sample)``            sample points on the input's range
``phi``    ``(layer, in, out, sample)``       ``phi_lij(x)`` (masked edges are exactly 0)
``mask``   ``(layer, in, out)``               1 for a live edge, 0 for a pruned one
``score``  ``(layer, in, out)``               attribution (only when ``samples`` are given)
=========  =================================  ==============================================

Layers narrower than the widest are padded with NaN. The input range of node ``i`` of layer
``l`` is the range of its values over ``samples`` when given (layer inputs pushed through the
network), else its grid range. Attributes record ``widths``, ``basis``, ``grid`` and ``order``.

:func:`plot_kan` draws nodes in rows (inputs at the bottom), each edge as a line whose opacity
follows its attribution score (``tanh(3 * score)``, as pykan), with the edge's curve drawn in a
small panel on the line (one slot per edge between the two rows, as pykan); saved as PNG or
SVG by the file suffix.
"""

from __future__ import annotations

import itertools
import os

import jax.numpy as jnp
import numpy as np
import xarray as xr

from sciml.models.kan import KAN

__all__ = ["plot_kan", "sample_edges"]


def _ranges(model: KAN, samples) -> list[np.ndarray]:
    """Per layer, ``(n_in, 2)`` input ranges."""
    if samples is not None:
        x = jnp.asarray(samples).reshape(-1, model.in_features)
        out = []
        for inp, _ in model.activations(x):
            inp = np.asarray(inp, dtype=np.float64)
            lo, hi = inp.min(axis=0), inp.max(axis=0)
            hi = np.where(hi > lo, hi, lo + 1e-6)
            out.append(np.stack([lo, hi], axis=-1))
        return out
    out = []
    for layer in model.layers:
        pts = np.asarray(layer.basis.interior(layer.grid[...]), dtype=np.float64)
        out.append(np.stack([pts[:, 0], pts[:, -1]], axis=-1))
    return out


def sample_edges(model: KAN, n_points: int = 101, samples=None) -> xr.Dataset:
    """Every edge of ``model`` sampled at ``n_points`` points (see the module docstring)."""
    if int(n_points) != n_points or n_points < 2:
        raise ValueError(f"n_points must be an integer >= 2, got {n_points!r}")
    n_points = int(n_points)
    n_layers = len(model.layers)
    n_in_max = max(model.widths[:-1])
    n_out_max = max(model.widths[1:])
    xs = np.full((n_layers, n_in_max, n_points), np.nan)
    phis = np.full((n_layers, n_in_max, n_out_max, n_points), np.nan)
    masks = np.full((n_layers, n_in_max, n_out_max), np.nan)
    t = np.linspace(0.0, 1.0, n_points)
    for l, (layer, rng) in enumerate(zip(model.layers, _ranges(model, samples))):
        n_in, n_out = layer.in_features, layer.out_features
        pts = rng[:, :1] + (rng[:, 1:] - rng[:, :1]) * t  # (n_in, sample)
        dtype = layer.coef[...].dtype
        phi = np.asarray(layer.edge_function(jnp.asarray(pts.T, dtype)), dtype=np.float64)
        xs[l, :n_in] = pts
        phis[l, :n_in, :n_out] = np.moveaxis(phi, 0, -1)
        masks[l, :n_in, :n_out] = np.asarray(layer.mask[...])
    ds = xr.Dataset(
        {
            "x": (("layer", "in", "sample"), xs),
            "phi": (("layer", "in", "out", "sample"), phis),
            "mask": (("layer", "in", "out"), masks),
        },
        coords={
            "layer": np.arange(n_layers),
            "in": np.arange(n_in_max),
            "out": np.arange(n_out_max),
            "sample": np.arange(n_points),
        },
        attrs={
            "widths": np.asarray(model.widths),
            "basis": model.basis_name,
            "grid": int(model.grid_size),
            "order": int(model.order),
            "description": "KAN edge functions phi_lij sampled on each input's range",
        },
    )
    if samples is not None:
        from sciml.models.kan_prune import attribution

        scores = np.full((n_layers, n_in_max, n_out_max), np.nan)
        for l, e in enumerate(attribution(model, samples).edges):
            scores[l, : e.shape[0], : e.shape[1]] = e
        ds["score"] = (("layer", "in", "out"), scores)
    return ds


def plot_kan(
    model: KAN,
    samples=None,
    path: str | os.PathLike | None = None,
    *,
    n_points: int = 101,
    beta: float = 3.0,
    max_panels: int = 256,
    title: str | None = None,
):
    """Draw ``model``: nodes, edges with opacity by importance, and each edge's curve.

    Args:
        model: the network.
        samples: inputs ``(N, in_features)`` for attribution scores and input ranges; without
            them every live edge is drawn opaque over its grid range.
        path: where to save (``.png`` or ``.svg``, by suffix); not saved when ``None``.
        n_points: samples per edge curve.
        beta: opacity ``tanh(beta * score)``.
        max_panels: above this many edges only lines are drawn (no curve panels).
        title: figure title.

    Returns:
        The :class:`matplotlib.figure.Figure`.
    """
    from matplotlib.figure import Figure

    ds = sample_edges(model, n_points=n_points, samples=samples)
    widths = list(model.widths)
    n_layers = len(widths) - 1
    most = max(a * b for a, b in itertools.pairwise(widths))
    fig = Figure(figsize=(min(max(4.0, 0.75 * most), 40.0), 2.4 * n_layers + 0.6))
    ax = fig.add_axes((0.02, 0.02, 0.96, 0.92 if title else 0.96))
    ax.set_xlim(-0.05, 1.05)
    ax.set_ylim(-0.15, n_layers + 0.15)
    ax.axis("off")
    if title:
        fig.suptitle(title)

    def node_x(width: int) -> np.ndarray:
        return (np.arange(width) + 0.5) / width

    n_edges = sum(a * b for a, b in itertools.pairwise(widths))
    draw_panels = n_edges <= max_panels
    height = 0.36  # panel height in layer units
    for l in range(n_layers):
        n_in, n_out = widths[l], widths[l + 1]
        x0, x1 = node_x(n_in), node_x(n_out)
        # As pykan: one slot per edge in a row between the two layers, ordered (in, out),
        # so panels never overlap; the edge runs node -> panel -> node.
        slot = 1.0 / (n_in * n_out)
        for i in range(n_in):
            for j in range(n_out):
                if float(ds["mask"][l, i, j]) == 0:
                    continue
                alpha = float(np.tanh(beta * float(ds["score"][l, i, j]))) if "score" in ds else 1.0
                alpha = min(max(alpha, 0.03), 1.0)
                if not draw_panels:
                    ax.plot([x0[i], x1[j]], [l, l + 1], color="k", alpha=alpha, lw=1.0, zorder=1)
                    continue
                px = (i * n_out + j + 0.5) * slot
                lo, hi = l + 0.5 - height / 2, l + 0.5 + height / 2
                ax.plot([x0[i], px], [l, lo], color="k", alpha=alpha, lw=1.0, zorder=1)
                ax.plot([px, x1[j]], [hi, l + 1], color="k", alpha=alpha, lw=1.0, zorder=1)
                sub = ax.inset_axes(
                    (px - 0.4 * slot, lo, 0.8 * slot, height), transform=ax.transData, zorder=2
                )
                sub.plot(ds["x"][l, i].values, ds["phi"][l, i, j].values, color="C0", alpha=alpha, lw=1.2)
                sub.set_xticks([])
                sub.set_yticks([])
                for spine in sub.spines.values():
                    spine.set_alpha(alpha)
        ax.scatter(x0, np.full(n_in, l), s=40, c="k", zorder=3)
    ax.scatter(node_x(widths[-1]), np.full(widths[-1], n_layers), s=40, c="k", zorder=3)
    if path is not None:
        fig.savefig(path, dpi=150)
    return fig
