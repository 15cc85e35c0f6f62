r"""Kolmogorov–Arnold networks (KANs): learnable univariate functions on edges, sums at nodes.

A KAN of widths ``[n_0, n_1, ..., n_L]`` is a composition of layers; layer ``l`` maps
``x in R^{n_l}`` to

.. math::

    y_j = \sum_{i=1}^{n_l} \phi_{lij}(x_i),\qquad
    \phi_{lij}(x) = m_{ij}\Big(w^b_{ij}\,\mathrm{silu}(x)
                    + w^s_{ij} \sum_{m=1}^{M} c_{ijm} B_m(x; \tau_i)\Big),

with ``B`` a basis from :mod:`sciml.models.kan_bases` (cubic B-splines by default), per-input
grids ``tau_i``, and a 0/1 edge mask ``m`` (all ones until :func:`sciml.models.kan_prune.prune`).
There are no node biases or scales outside the edge functions: the output of a layer is
exactly the sum of its edge outputs.

**Speed.** The basis is evaluated once per input (``(batch, n_in, M)``) and contracted with
the weights in a single matmul of shape ``(batch, n_in (M + 1)) x (n_in (M + 1), n_out)``; no
Python loop runs over edges, so the cost is that of a dense layer with ``M + 1`` times as
many inputs. Physics residuals call the network one point at a time (vmapped) under nested
forward-mode derivatives; for B-splines those calls take another route,
:func:`sciml.models.kan_bases.bspline_contract`, which turns each edge into one polynomial per
knot interval so that a derivative costs a Horner step rather than a pass through the
Cox–de Boor recursion (same numbers to rounding).

**The KAN contract** (what grid, pruning, inspection and symbolification code rely on):

* ``KAN.in_features``, ``KAN.out_features``, ``KAN.widths`` (e.g. ``[2, 5, 1]``) and
  ``KAN.layers`` (an ``nnx.List`` of :class:`KANLayer`).
* ``KAN.activations(x)`` for ``x (batch, in_features)`` returns one tuple per layer
  ``(layer_inputs (batch, n_in), edge_outputs (batch, n_in, n_out))``;
  ``edge_outputs.sum(axis=1)`` is the next layer's input, and for the last layer the output.
* ``KANLayer.edge_function(x)`` evaluates every edge of a layer at per-input points
  ``x (..., n_in)`` giving ``(..., n_in, n_out)``;
  :func:`sciml.models.kan_inspect.sample_edges` returns every edge as an
  :class:`xarray.Dataset` (inspection lives beside the model, not in it).

**Options** (``build_model("kan", n_in, n_out, **options)``):

* ``hidden=(5,)``: hidden widths, or ``width=[2, 5, 1]`` for the full list (its ends must be
  ``n_in`` and ``n_out``). Strings ``"5,5"`` / ``"[2,5,1]"`` are accepted from the command line.
* ``grid=5`` (``G``), ``order=3`` (``k``), ``basis="bspline" | "chebyshev" | "rbf"``,
  ``grid_range=(-1, 1)`` (the range of every layer's initial grid; adapt it to data with
  :func:`sciml.models.kan_grid.update_grid`).
* ``base_activation="silu" | "none"``, ``noise_scale=0.1`` (initial spline coefficients),
  ``param_dtype="float32" | "float64"`` (float64 needs ``jax_enable_x64``). Computation runs
  in the dtype of the inputs.

**Grid extension** changes parameter shapes: use :func:`sciml.models.kan_grid.extend_grid`,
which returns a new model, and re-initialise the optimiser on it.

**Fixed edges.** An edge can be fixed to a formula ``c f(a x + b) + d`` with trainable
constants (:mod:`sciml.models.kan_fix`; the layer-level state is
:class:`~sciml.models.kan_symbolic.SymbolicEdges` in ``KANLayer.symbolic``). A fixed edge is
evaluated exactly, its spline is dormant, and ``edge_function``/``activations`` report the
formula's values, so inspection, pruning and symbolification see what the network computes.

**Checkpoints**: :func:`save_kan` / :func:`load_kan` store the configuration, grids, masks,
parameters and fixed edges (flax msgpack; bitwise round trip). A trainer that saves ``nnx.state(model)``
(all variables, not only ``nnx.Param``) also keeps the grids; ``KAN.config`` rebuilds a model
of matching shapes before restoring.

Reference: Liu et al., "KAN: Kolmogorov–Arnold Networks", arXiv:2404.19756 (2024).
"""

from __future__ import annotations

import functools
import itertools
import json
import math
import os
from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx, serialization

from sciml.models.kan_bases import (
    BASES,
    AbstractBasis,
    BSplineBasis,
    _check_range,
    bspline_contract,
    get_basis,
)
from sciml.models.kan_symbolic import SymbolicEdges, function_key
from sciml.models.registry import register_model

__all__ = [
    "KAN", "KANGrid", "KANLayer", "KANMask", "attach_fixed_edges", "fixed_edges", "kan_from_bytes",
    "kan_to_bytes", "load_kan", "save_kan",
]


class KANGrid(nnx.Variable):
    """A layer's per-input grid (knots, centres or range): state, but not trained."""


class KANMask(nnx.Variable):
    """A layer's 0/1 edge mask: 0 marks a pruned edge. State, not trained."""


_ACTIVATIONS = {"silu": jax.nn.silu, "none": None}


def _as_dtype(dtype) -> jnp.dtype:
    try:
        dt = jnp.dtype(dtype)
    except TypeError:
        raise TypeError(f"param_dtype must name a float dtype such as 'float32', got {dtype!r}") from None
    if not jnp.issubdtype(dt, jnp.floating):
        raise TypeError(f"param_dtype must be a floating dtype, got {dt}")
    if dt == jnp.float64 and not jax.config.jax_enable_x64:
        raise ValueError("param_dtype=float64 needs 64-bit JAX: set jax.config.update('jax_enable_x64', True) first")
    return dt


# Pure, jitted cores of the layer. Eager calls (inspection, grid refits, tests) then run one
# compiled kernel per shape; inside an outer jit they are inlined.


def _init_edges(key, n_in, n_out, n_fn, noise_scale, dtype):
    # pykan's initialisation: a random residual branch of unit scale over the fan-in, splines
    # of scale 1/sqrt(n_in) with small random coefficients, every edge live. Drawn with NumPy
    # from the nnx key so that building a model compiles nothing.
    rng = np.random.default_rng(np.asarray(jax.random.key_data(key)).ravel().tolist())
    inv = 1.0 / math.sqrt(n_in)
    shape = (n_in, n_out)
    return tuple(
        jnp.asarray(a, dtype=dtype)
        for a in (
            rng.uniform(-inv, inv, shape),
            np.full(shape, inv),
            noise_scale * rng.standard_normal((*shape, n_fn)),
            np.ones(shape),
        )
    )


@functools.partial(jax.jit, static_argnames=("basis", "activation"))
def _layer_apply(x2d, grid, coef, scale_base, scale_spline, mask, *, basis, activation):
    w_spline = (scale_spline * mask)[..., None] * coef  # (n_in, n_out, M)
    if isinstance(basis, BSplineBasis) and x2d.shape[0] == 1:
        # One point per call is how the physics compiler evaluates a surrogate: vmapped over
        # points, under nested forward-mode derivatives. There the local-polynomial form
        # repeats only a Horner step per tangent instead of the whole basis recursion.
        y = bspline_contract(x2d, grid, w_spline, basis.order)
    else:
        # Features are (M, n_in, N) with the batch fastest, so the basis recursion vectorises
        # over the batch; the weights are ordered to match, (M * n_in, n_out): one matmul.
        feats = basis.features(x2d, grid)
        n_fn, n_in = feats.shape[:2]
        w_flat = jnp.moveaxis(w_spline, -1, 0).reshape(n_fn * n_in, -1)
        y = jnp.einsum("fn,fo->no", feats.reshape(n_fn * n_in, -1), w_flat)
    act = _ACTIVATIONS[activation]
    if act is not None:
        y = y + act(x2d) @ (scale_base * mask)
    return y


@functools.partial(jax.jit, static_argnames="basis")
def _spline_apply(x2d, grid, coef, *, basis):
    return jnp.einsum("min,iom->nio", basis.features(x2d, grid), coef)


@functools.partial(jax.jit, static_argnames=("basis", "activation"))
def _edge_apply(x2d, grid, coef, scale_base, scale_spline, mask, *, basis, activation):
    feats = basis.features(x2d, grid)  # (M, n_in, N)
    out = scale_spline * jnp.einsum("min,iom->nio", feats, coef)
    act = _ACTIVATIONS[activation]
    if act is not None:
        out = out + scale_base * act(x2d)[..., None]
    return mask * out


class KANLayer(nnx.Module):
    """One KAN layer: ``n_in * n_out`` learnable edge functions, summed at each output node.

    Args:
        in_features, out_features: ``n_in`` and ``n_out``.
        grid: resolution ``G`` (knot intervals; the degree for Chebyshev).
        order: B-spline order ``k``.
        basis: ``"bspline"``, ``"chebyshev"`` or ``"rbf"``.
        grid_range: ``(lo, hi)`` of the initial uniform grid.
        base_activation: ``"silu"`` or ``"none"`` (no residual branch).
        noise_scale: standard deviation of the initial spline coefficients.
        param_dtype: dtype of parameters and grid.
        rngs: random streams (``params``).
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        *,
        grid: int = 5,
        order: int = 3,
        basis: str = "bspline",
        grid_range: Sequence[float] = (-1.0, 1.0),
        base_activation: str = "silu",
        noise_scale: float = 0.1,
        param_dtype: Any = jnp.float32,
        rngs: nnx.Rngs,
    ):
        if base_activation not in _ACTIVATIONS:
            raise ValueError(f"base_activation must be one of {sorted(_ACTIVATIONS)}, got {base_activation!r}")
        dtype = _as_dtype(param_dtype)
        self.in_features = int(in_features)
        self.out_features = int(out_features)
        self.basis: AbstractBasis = get_basis(basis, grid=grid, order=order)
        self.base_activation = base_activation
        self.grid = KANGrid(self.basis.initial_grid(grid, grid_range, self.in_features, dtype))
        n_fn = self.basis.num_functions(grid)
        self.scale_base, self.scale_spline, self.coef, self.mask = (
            cls(v)
            for cls, v in zip(
                (nnx.Param, nnx.Param, nnx.Param, KANMask),
                _init_edges(rngs.params(), self.in_features, self.out_features, n_fn, float(noise_scale), dtype.name),
            )
        )
        # Edges fixed to formulas (sciml.models.kan_fix); None while every edge is a spline.
        self.symbolic: SymbolicEdges | None = nnx.data(None)

    @property
    def grid_size(self) -> int:
        """The current resolution ``G``."""
        return self.basis.grid_size(self.grid[...])

    def _check(self, x: jax.Array) -> jax.Array:
        x = jnp.asarray(x)
        if x.ndim == 0 or x.shape[-1] != self.in_features:
            raise ValueError(
                f"KAN layer expects inputs of shape (..., {self.in_features}), got {x.shape}"
            )
        if not jnp.issubdtype(x.dtype, jnp.floating):
            x = x.astype(self.coef[...].dtype)
        return x

    @property
    def fixed(self) -> np.ndarray:
        """``(n_in, n_out)`` 0/1: edges fixed to a formula (static structure, NumPy)."""
        if self.symbolic is None:
            return np.zeros((self.in_features, self.out_features))
        return self.symbolic.fixed_mask(self.in_features, self.out_features)

    def _params(self, dt):
        coef, scale_base, scale_spline, mask = (
            v[...].astype(dt) for v in (self.coef, self.scale_base, self.scale_spline, self.mask)
        )
        if self.symbolic is not None:
            mask = mask * jnp.asarray(1.0 - self.fixed, dt)  # a fixed edge's spline is dormant
        return coef, scale_base, scale_spline, mask

    def _symbolic_values(self, x2d: jax.Array) -> jax.Array:
        """Fixed edges' formulas times their (pruning) masks: ``(N, n_fixed)``."""
        rows, cols = (np.asarray(v) for v in zip(*((i, j) for i, j, _ in self.symbolic.edges)))
        return self.symbolic.values(x2d) * self.mask[...].astype(x2d.dtype)[rows, cols]

    def __call__(self, x: jax.Array) -> jax.Array:
        """``(..., n_in) -> (..., n_out)``: one basis evaluation and one matmul."""
        x = self._check(x)
        lead = x.shape[:-1]
        x2d = x.reshape(-1, self.in_features)
        y = _layer_apply(
            x2d, self.grid[...], *self._params(x.dtype), basis=self.basis, activation=self.base_activation,
        )
        if self.symbolic is not None:
            cols = np.asarray([j for _, j, _ in self.symbolic.edges])
            y = y.at[:, cols].add(self._symbolic_values(x2d))
        return y.reshape(*lead, self.out_features)

    def edge_function(self, x: jax.Array) -> jax.Array:
        """Every edge at per-input points: ``x (..., n_in) -> phi (..., n_in, n_out)``."""
        x = self._check(x)
        lead = x.shape[:-1]
        x2d = x.reshape(-1, self.in_features)
        phi = _edge_apply(
            x2d, self.grid[...], *self._params(x.dtype), basis=self.basis, activation=self.base_activation,
        )
        if self.symbolic is not None:
            rows, cols = (np.asarray(v) for v in zip(*((i, j) for i, j, _ in self.symbolic.edges)))
            phi = phi.at[:, rows, cols].add(self._symbolic_values(x2d))
        return phi.reshape(*lead, self.in_features, self.out_features)

    def spline_part(self, x: jax.Array) -> jax.Array:
        """``sum_m c_ijm B_m(x_i)`` without scales or mask: ``(..., n_in, n_out)``."""
        x = self._check(x)
        lead = x.shape[:-1]
        out = _spline_apply(x.reshape(-1, self.in_features), self.grid[...], self.coef[...].astype(x.dtype), basis=self.basis)
        return out.reshape(*lead, self.in_features, self.out_features)


def _parse_widths(value, name: str) -> list[int]:
    if isinstance(value, str):
        raise ValueError(f"{name} must be a list of integers such as [2, 5, 1], not the text {value!r} "
                         "(the command line turns '2,5,1' into a list)")
    if isinstance(value, (int, np.integer)):
        value = [value]
    try:
        out = [int(v) for v in value]
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a list of integers such as [2, 5, 1], got {value!r}") from None
    if any(v < 1 or v != float(w) for v, w in zip(out, value)):
        raise ValueError(f"{name} must contain positive integers, got {value!r}")
    return out


class KAN(nnx.Module):
    """A Kolmogorov–Arnold network of the given widths (see the module docstring).

    Args:
        widths: ``[n_in, hidden..., n_out]``, at least two entries.
        grid, order, basis, grid_range, base_activation, noise_scale, param_dtype: as for
            :class:`KANLayer`, shared by every layer.
        rngs: random streams.
    """

    def __init__(
        self,
        widths: Sequence[int],
        *,
        grid: int = 5,
        order: int = 3,
        basis: str = "bspline",
        grid_range: Sequence[float] = (-1.0, 1.0),
        base_activation: str = "silu",
        noise_scale: float = 0.1,
        param_dtype: Any = jnp.float32,
        rngs: nnx.Rngs,
    ):
        widths = _parse_widths(widths, "widths")
        if len(widths) < 2:
            raise ValueError(f"widths needs at least [n_in, n_out], got {widths}")
        if basis not in BASES:
            raise ValueError(f"unknown KAN basis {basis!r}; choose one of: {', '.join(BASES)}")
        grid_range = _check_range(grid_range)
        dtype = _as_dtype(param_dtype)
        self.widths = list(widths)
        self.in_features = widths[0]
        self.out_features = widths[-1]
        self.basis_name = basis
        self.order = int(order)
        self.grid_range = grid_range
        self.base_activation = base_activation
        self.noise_scale = float(noise_scale)
        self.param_dtype = dtype.name
        self.layers = nnx.List(
            [
                KANLayer(
                    n_in, n_out, grid=grid, order=order, basis=basis, grid_range=grid_range,
                    base_activation=base_activation, noise_scale=noise_scale, param_dtype=dtype,
                    rngs=rngs,
                )
                for n_in, n_out in itertools.pairwise(widths)
            ]
        )

    @property
    def grid_size(self) -> int:
        """The current resolution ``G`` (shared by all layers)."""
        return self.layers[0].grid_size

    @property
    def config(self) -> dict:
        """Keyword arguments that rebuild a model of the same shapes (JSON-able)."""
        return {
            "widths": list(self.widths),
            "grid": int(self.grid_size),
            "order": self.order,
            "basis": self.basis_name,
            "grid_range": list(self.grid_range),
            "base_activation": self.base_activation,
            "noise_scale": self.noise_scale,
            "param_dtype": self.param_dtype,
        }

    def __call__(self, x: jax.Array) -> jax.Array:
        """``(..., in_features) -> (..., out_features)``."""
        x = jnp.asarray(x)
        if x.ndim == 0 or x.shape[-1] != self.in_features:
            raise ValueError(f"KAN expects inputs of shape (..., {self.in_features}), got {x.shape}")
        for layer in self.layers:
            x = layer(x)
        return x

    def activations(self, x: jax.Array) -> list[tuple[jax.Array, jax.Array]]:
        """Per layer ``(layer_inputs (..., n_in), edge_outputs (..., n_in, n_out))``."""
        x = jnp.asarray(x)
        out = []
        for layer in self.layers:
            phi = layer.edge_function(x)
            out.append((x, phi))
            x = phi.sum(axis=-2)
        return out

    def n_params(self) -> int:
        """Number of trainable scalars."""
        return sum(int(np.prod(v.shape)) for v in jax.tree.leaves(nnx.state(self, nnx.Param)))


@register_model("kan", "Kolmogorov-Arnold network: B-spline/Chebyshev/RBF edge functions")
def kan(
    in_features: int,
    out_features: int,
    *,
    rngs: nnx.Rngs,
    hidden: Sequence[int] | int = (5,),
    width: Sequence[int] | None = None,
    grid: int = 5,
    order: int = 3,
    basis: str = "bspline",
    grid_range: Sequence[float] = (-1.0, 1.0),
    base_activation: str = "silu",
    noise_scale: float = 0.1,
    param_dtype: Any = "float32",
) -> KAN:
    """Kolmogorov-Arnold network: B-spline/Chebyshev/RBF edge functions.

    ``hidden`` lists the hidden widths (``hidden=(5,)`` gives ``[n_in, 5, n_out]``); ``width``
    gives the whole list instead and must start with ``n_in`` and end with ``n_out``.
    """
    if width is not None:
        widths = _parse_widths(width, "width")
        if widths[0] != in_features or widths[-1] != out_features:
            raise ValueError(
                f"width {widths} must start with the {in_features} inputs and end with the "
                f"{out_features} outputs of this problem, e.g. [{in_features}, 5, {out_features}]"
            )
    else:
        hidden_widths = [] if hidden in ((), [], None) else _parse_widths(hidden, "hidden")
        widths = [in_features, *hidden_widths, out_features]
    return KAN(
        widths, grid=int(grid), order=int(order), basis=basis, grid_range=grid_range,
        base_activation=base_activation, noise_scale=float(noise_scale), param_dtype=param_dtype,
        rngs=rngs,
    )


# ----------------------------------------------------------------------------------------
# Checkpoints
# ----------------------------------------------------------------------------------------

_FORMAT = "sciml.kan/1"


def _stringify_keys(tree):
    if isinstance(tree, dict):
        return {str(k): _stringify_keys(v) for k, v in tree.items()}
    return tree


def _restore_keys(template, tree):
    if isinstance(template, dict):
        return {k: _restore_keys(v, tree[str(k)]) for k, v in template.items()}
    return tree


def fixed_edges(model: KAN) -> list[list[tuple[int, int, str]]]:
    """Per layer, the edges fixed to formulas as ``(i, j, function key)``."""
    return [list(layer.symbolic.edges) if layer.symbolic is not None else [] for layer in model.layers]


def attach_fixed_edges(model: KAN, edges: Sequence[Sequence[tuple[int, int, str]]]) -> KAN:
    """Give ``model``'s layers symbolic edges of these keys (constants zero), in place.

    The structure a checkpoint restores into; :func:`sciml.models.kan_fix.fix_edge` is the
    user's way to fix an edge.
    """
    for layer, layer_edges in zip(model.layers, edges):
        if layer_edges:
            affine = jnp.zeros((len(layer_edges), 4), layer.coef[...].dtype)
            # keys are checked (and expressions parsed without evaluation) before use
            keys = [function_key(str(key)) for _, _, key in layer_edges]
            layer.symbolic = SymbolicEdges([(i, j, k) for (i, j, _), k in zip(layer_edges, keys)], affine)
        else:
            layer.symbolic = None
    return model


def kan_to_bytes(model: KAN) -> bytes:
    """Serialise configuration, grids, masks, parameters and fixed edges (flax msgpack, no pickle)."""
    state = _stringify_keys(nnx.to_pure_dict(nnx.state(model)))
    state = jax.tree.map(np.asarray, state)
    return serialization.msgpack_serialize(
        {"format": _FORMAT, "config": json.dumps(model.config), "state": state,
         "fixed_edges": json.dumps(fixed_edges(model))}
    )


def kan_from_bytes(data: bytes) -> KAN:
    """Inverse of :func:`kan_to_bytes`."""
    payload = serialization.msgpack_restore(data)
    if payload.get("format") != _FORMAT:
        raise ValueError(f"not a sciml KAN checkpoint (format {payload.get('format')!r}, expected {_FORMAT!r})")
    config = json.loads(payload["config"])
    model = KAN(**config, rngs=nnx.Rngs(0))
    attach_fixed_edges(model, json.loads(payload.get("fixed_edges", "[]")))
    state = nnx.state(model)
    pure = _restore_keys(nnx.to_pure_dict(state), payload["state"])
    nnx.replace_by_pure_dict(state, jax.tree.map(jnp.asarray, pure))
    nnx.update(model, state)
    return model


def save_kan(model: KAN, path: str | os.PathLike) -> None:
    """Write :func:`kan_to_bytes` to ``path``."""
    with open(path, "wb") as fh:
        fh.write(kan_to_bytes(model))


def load_kan(path: str | os.PathLike) -> KAN:
    """Read a model written by :func:`save_kan`."""
    with open(path, "rb") as fh:
        return kan_from_bytes(fh.read())
