r"""Fix KAN edges to formulas, unfix them, and read the network's formula at any time.

The interactive KAN workflow (Liu et al. 2024, §2.5.1): look at the edges, fix some to a
formula, keep training the rest, repeat until the network is a formula. Every operation here
returns a *new* model (like :func:`~sciml.models.kan_prune.prune` and
:func:`~sciml.models.kan_grid.extend_grid`); parameter shapes change, so re-initialise the
optimiser on it.

* :func:`fix_edge` replaces edge ``(layer, i, j)`` by :math:`c\,f(a x + b) + d`. Unless
  ``constants`` are given, ``(a, b, c, d)`` are fitted to what the edge computes now, on its
  inputs (the layer inputs of ``samples``, else points spread over its grid range), by the
  same Levenberg–Marquardt fit that ranks suggestions (:func:`sciml.symbolic.fit.fit_edges`).
  The constants stay trainable; the formula itself is evaluated exactly.
* :func:`unfix_edge` turns a fixed edge back into a spline that reproduces its formula on the
  grid range: with the residual branch :math:`w^b\,\mathrm{silu}(x)` kept, the coefficients
  solve

  .. math::

      \min_c \sum_n \Big(w^s \sum_m c_m B_m(x_n) + w^b\,\mathrm{silu}(x_n)
                         - \big(c\, f(a x_n + b) + d\big)\Big)^2

  on dense points of the grid's interior (linear least squares), so training resumes from
  the formula rather than from the spline the edge had before it was fixed.
* :func:`network_formula` composes the network layer by layer: fixed edges as their formulas
  with current constants, spline edges as undefined functions ``phi_l_i_j(.)``, pruned edges
  left out. A wholly fixed network gives a closed form.
"""

from __future__ import annotations

from collections.abc import Sequence

import jax
import jax.numpy as jnp
import numpy as np
import sympy as sp
from flax import nnx

from sciml.models.kan import KAN, KANLayer
from sciml.models.kan_symbolic import (
    SymbolicEdges,
    edge_callable,
    edge_name,
    edge_sympy,
    function_key,
)

__all__ = ["edge_inputs", "fit_constants", "fix_edge", "fix_edges", "network_formula", "unfix_edge"]


def _check_edge(model: KAN, layer: int, i: int, j: int) -> KANLayer:
    if not 0 <= layer < len(model.layers):
        raise IndexError(f"layer {layer} out of range: this KAN has layers 0..{len(model.layers) - 1}")
    lay = model.layers[layer]
    if not (0 <= i < lay.in_features and 0 <= j < lay.out_features):
        raise IndexError(
            f"edge ({i}, {j}) out of range for layer {layer} of shape {lay.in_features} x {lay.out_features}"
        )
    return lay


def _grid_range(layer: KANLayer, i: int) -> tuple[float, float]:
    pts = np.asarray(layer.basis.interior(layer.grid[...]), dtype=np.float64)[i]
    return float(pts[0]), float(pts[-1])


def edge_inputs(model: KAN, layer: int, samples=None, n_points: int = 256) -> np.ndarray:
    """Inputs ``(N, n_in)`` of ``layer``: ``samples`` pushed through the layers before it, or
    (without samples) ``n_points`` points spread over each input's grid range."""
    lay = model.layers[layer]
    if samples is not None:
        x = jnp.asarray(samples).reshape(-1, model.in_features)
        return np.asarray(model.activations(x)[layer][0])
    t = np.linspace(0.0, 1.0, n_points)
    cols = [lo + (hi - lo) * t for lo, hi in (_grid_range(lay, i) for i in range(lay.in_features))]
    return np.stack(cols, axis=1)


def _one_primitive_library(key: str):
    from sciml.symbolic.primitives import DEFAULT_LIBRARY, Library, Primitive

    if key in DEFAULT_LIBRARY:
        return DEFAULT_LIBRARY.subset([key])
    return Library([Primitive(edge_name(key), edge_callable(key), lambda z: edge_sympy(key, z), 1)])


def fit_constants(model: KAN, layer: int, i: int, j: int, function: str | sp.Expr, samples=None
                  ) -> tuple[tuple[float, float, float, float], float]:
    """``((a, b, c, d), R^2)`` of ``c f(a x + b) + d`` fitted to edge ``(layer, i, j)`` as it is now."""
    from sciml.symbolic.fit import fit_edges

    lay = _check_edge(model, layer, i, j)
    key = function_key(function)
    x = edge_inputs(model, layer, samples)
    phi = np.asarray(lay.edge_function(jnp.asarray(x, lay.coef[...].dtype)), dtype=np.float64)[:, i, j]
    fits = fit_edges(x[:, i], phi, _one_primitive_library(key))
    params = tuple(float(v) for v in fits.params[0, 0])
    r2 = float(fits.r2[0, 0])
    if not np.isfinite(r2):
        raise ValueError(
            f"{edge_name(key)} is undefined on some inputs of edge ({layer}, {i}, {j}) "
            f"(range {x[:, i].min():.3g}..{x[:, i].max():.3g}); choose another function or pass constants"
        )
    return params, r2


def fix_edge(model: KAN, layer: int, i: int, j: int, function: str | sp.Expr, *, samples=None,
             constants: Sequence[float] | None = None) -> KAN:
    """A copy of ``model`` with edge ``(layer, i, j)`` fixed to ``c f(a x + b) + d``.

    Args:
        model: the network.
        layer, i, j: the edge (input node ``i`` of ``layer`` to its output node ``j``).
        function: a primitive's name (``"sin"``, ``"x^2"``, ``"exp"``, ...; see
            :data:`sciml.symbolic.primitives.DEFAULT_LIBRARY`) or an expression in one
            variable (``"x**2 + sin(x)"`` or a sympy expression).
        samples: network inputs ``(N, in_features)`` on which the constants are fitted to the
            edge; default points over the edge's grid range.
        constants: ``(a, b, c, d)`` to use instead of fitting.
    """
    lay = _check_edge(model, layer, i, j)
    key = function_key(function)
    if constants is None:
        constants, _ = fit_constants(model, layer, i, j, key, samples)
    constants = np.asarray(constants, dtype=np.float64).reshape(4)
    new = nnx.clone(model)
    target = new.layers[layer]
    edges, affine = _without(lay, i, j)
    target.symbolic = SymbolicEdges(
        [*edges, (i, j, key)], jnp.asarray(np.vstack([affine, constants[None]]), lay.coef[...].dtype)
    )
    return new


def fix_edges(model: KAN, choices: dict[tuple[int, int, int], str | sp.Expr], *, samples=None) -> KAN:
    """Fix several edges at once: ``{(layer, i, j): function}`` (see :func:`fix_edge`).

    The constants of every edge are fitted to the network as it was before any of them was
    fixed.
    """
    fitted = {edge: fit_constants(model, *edge, fn, samples)[0] for edge, fn in choices.items()}
    for (layer, i, j), fn in choices.items():
        model = fix_edge(model, layer, i, j, fn, constants=fitted[(layer, i, j)])
    return model


def _without(layer: KANLayer, i: int, j: int) -> tuple[list, np.ndarray]:
    """The layer's fixed edges and constants other than ``(i, j)``."""
    if layer.symbolic is None:
        return [], np.zeros((0, 4))
    affine = np.asarray(layer.symbolic.affine[...], dtype=np.float64)
    keep = [k for k, (a, b, _) in enumerate(layer.symbolic.edges) if (a, b) != (i, j)]
    return [layer.symbolic.edges[k] for k in keep], affine[keep]


def unfix_edge(model: KAN, layer: int, i: int, j: int, *, n_points: int | None = None) -> KAN:
    """A copy of ``model`` with fixed edge ``(layer, i, j)`` a spline again, fitted to its
    formula on the grid range (see the module docstring).

    Raises:
        ValueError: the edge is not fixed.
    """
    lay = _check_edge(model, layer, i, j)
    if lay.fixed[i, j] == 0:
        raise ValueError(f"edge ({layer}, {i}, {j}) is not fixed; nothing to unfix")
    dtype = lay.coef[...].dtype
    n_fn = lay.coef[...].shape[-1]
    n_points = n_points or max(64, 20 * n_fn)
    x = edge_inputs(model, layer, None, n_points)  # every input over its grid range
    phi = np.asarray(lay.edge_function(jnp.asarray(x, dtype)), dtype=np.float64)[:, i, j]
    mask = float(lay.mask[...][i, j])
    target = phi / mask if mask else phi
    w_base = float(lay.scale_base[...][i, j])
    if lay.base_activation == "silu":
        target = target - w_base * np.asarray(jax.nn.silu(x[:, i]))
    w_spline = float(lay.scale_spline[...][i, j])
    if abs(w_spline) < 1e-8:
        w_spline = 1.0
    with jax.enable_x64(True):
        design = np.asarray(lay.basis(jnp.asarray(x, jnp.float64), jnp.asarray(lay.grid[...], jnp.float64)))[:, i, :]
    coef_ij, *_ = np.linalg.lstsq(design, target / w_spline, rcond=None)
    new = nnx.clone(model)
    dst = new.layers[layer]
    dst.coef = nnx.Param(dst.coef[...].at[i, j].set(jnp.asarray(coef_ij, dtype)))
    dst.scale_spline = nnx.Param(dst.scale_spline[...].at[i, j].set(jnp.asarray(w_spline, dtype)))
    edges, affine = _without(lay, i, j)
    dst.symbolic = SymbolicEdges(edges, jnp.asarray(affine, dtype)) if edges else None
    return new


def network_formula(model: KAN, symbols: Sequence[sp.Symbol | str] | None = None) -> list[sp.Expr]:
    """One sympy expression per output of ``model`` as it is now (see the module docstring)."""
    if symbols is None:
        symbols = [sp.Symbol(f"x{k + 1}", real=True) for k in range(model.in_features)]
    symbols = [sp.Symbol(s, real=True) if isinstance(s, str) else s for s in symbols]
    if len(symbols) != model.in_features:
        raise ValueError(f"need {model.in_features} input symbols, got {len(symbols)}")
    nodes: list[sp.Expr] = list(symbols)
    for l, lay in enumerate(model.layers):
        mask = np.asarray(lay.mask[...])
        fixed = {(i, j): k for k, (i, j, _) in enumerate(lay.symbolic.edges)} if lay.symbolic is not None else {}
        nxt = [sp.Integer(0)] * lay.out_features
        for j in range(lay.out_features):
            for i in range(lay.in_features):
                if mask[i, j] == 0:
                    continue
                if (i, j) in fixed:
                    term = lay.symbolic.formula(fixed[(i, j)], nodes[i])
                    if mask[i, j] != 1:
                        term = sp.Float(float(mask[i, j])) * term
                else:
                    term = sp.Function(f"phi_{l}_{i}_{j}")(nodes[i])
                nxt[j] = nxt[j] + term
        nodes = nxt
    return nodes
