r"""Symbolic edges of a KAN layer: edges fixed to a formula, with trainable affine constants.

A *fixed* edge of layer ``l`` no longer evaluates its spline; it computes

.. math::

    \phi_{lij}(x) = c\, f(a x + b) + d,

exactly, with ``f`` a primitive of :data:`sciml.symbolic.primitives.DEFAULT_LIBRARY` (``"sin"``,
``"x^2"``, ...) or any sympy expression of one variable, and ``(a, b, c, d)`` trainable
parameters (``nnx.Param``, so every trainer that trains a model's parameters trains them).
The edge's spline coefficients stay in the layer, dormant: they are multiplied by zero, so
they neither contribute nor receive gradient until the edge is unfixed.

:class:`SymbolicEdges` holds the fixed edges of one layer; ``KANLayer.symbolic`` is one, or
``None`` when no edge of the layer is fixed. Which edges are fixed and to which function is
static structure (part of the graph definition, like the widths); their constants are state.
The operations that fix and unfix edges of a whole network live in
:mod:`sciml.models.kan_fix`.

**Function keys.** A fixed edge names its function by a string key: a primitive's name, or
``"expr:" + str(expr)`` for an expression in the symbol ``x`` (:func:`function_key`). Keys
are what checkpoints store; an expression is read back by
:func:`sciml.symbolic.parse.parse_formula`, which builds it without evaluating the text, so a
checkpoint cannot run code.

Reference: Liu et al., "KAN: Kolmogorov–Arnold Networks", arXiv:2404.19756 (2024), §2.5.1
(pykan's ``fix_symbolic``).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence

import jax.numpy as jnp
import numpy as np
import sympy as sp
from flax import nnx

__all__ = ["EXPRESSION_PREFIX", "SymbolicEdges", "edge_callable", "edge_name", "edge_sympy", "function_key"]

EXPRESSION_PREFIX = "expr:"
_X = sp.Symbol("x", real=True)


def _library():
    # Imported when first needed: the primitives module pulls in the symbolic package, which
    # a plain KAN never needs.
    from sciml.symbolic.primitives import DEFAULT_LIBRARY

    return DEFAULT_LIBRARY


def function_key(function: str | sp.Expr) -> str:
    """The key of a primitive name or a one-variable expression (string or sympy).

    ``"sin"`` (a primitive) stays ``"sin"``; ``"x**2 + sin(x)"`` or a sympy expression in any
    single symbol becomes ``"expr:..."`` with the symbol renamed ``x``.

    Raises:
        ValueError: the string is neither a primitive nor parseable, or the expression has
            more than one free symbol.
    """
    if isinstance(function, str):
        if function in _library():
            return function
        text = function[len(EXPRESSION_PREFIX):] if function.startswith(EXPRESSION_PREFIX) else function
        expr = _parse(text)
    else:
        expr = sp.sympify(function)
        free = sorted(expr.free_symbols, key=str)
        if len(free) > 1:
            raise ValueError(f"an edge is a function of one variable; {expr} depends on {free}")
        if free:
            expr = expr.xreplace({free[0]: _X})
    return EXPRESSION_PREFIX + str(expr)


def _parse(text: str) -> sp.Expr:
    from sciml.symbolic.parse import FormulaError, parse_formula

    try:
        return parse_formula(text, {"x": _X})
    except FormulaError as err:
        raise ValueError(
            f"{text!r} is neither a primitive ({', '.join(_library().names)}) nor an expression in x "
            f"such as 'x**2 + sin(x)' ({err})"
        ) from None


def _expression(key: str) -> sp.Expr:
    return _parse(key[len(EXPRESSION_PREFIX):])


@functools.lru_cache(maxsize=256)
def edge_callable(key: str) -> Callable:
    """The elementwise JAX function ``f`` of a key (exact, not a domain-safe variant)."""
    if not key.startswith(EXPRESSION_PREFIX):
        return _library()[key].fn
    expr = _expression(key)
    symbol = next(iter(expr.free_symbols), _X)
    from sciml.functions import lambdify

    g = lambdify(symbol, expr, "jax")
    return lambda u: g(u) + jnp.zeros_like(u)  # a constant expression still maps arrays to arrays


def edge_sympy(key: str, z: sp.Expr) -> sp.Expr:
    """``f(z)`` as a sympy expression."""
    if not key.startswith(EXPRESSION_PREFIX):
        return _library()[key].sympy_fn(z)
    expr = _expression(key)
    return expr.xreplace({s: z for s in expr.free_symbols})


def edge_name(key: str) -> str:
    """A short readable name: the primitive's name, or the expression in ``x``."""
    return key if not key.startswith(EXPRESSION_PREFIX) else str(_expression(key))


class SymbolicEdges(nnx.Module):
    """The fixed edges of one layer: ``phi_ij(x) = c f_ij(a x_i + b) + d``.

    Args:
        edges: ``((i, j, key), ...)``: input ``i``, output ``j`` and function key per edge.
        affine: ``(len(edges), 4)`` constants ``(a, b, c, d)`` in the same order.
    """

    def __init__(self, edges: Sequence[tuple[int, int, str]], affine):
        self.edges = tuple((int(i), int(j), str(k)) for i, j, k in edges)
        affine = jnp.asarray(affine)
        if affine.shape != (len(self.edges), 4):
            raise ValueError(f"affine must have shape ({len(self.edges)}, 4), got {affine.shape}")
        if len({(i, j) for i, j, _ in self.edges}) != len(self.edges):
            raise ValueError(f"an edge is listed twice in {self.edges}")
        self.affine = nnx.Param(affine)

    def fixed_mask(self, n_in: int, n_out: int) -> np.ndarray:
        """``(n_in, n_out)``: 1 where the edge is fixed (static, NumPy)."""
        out = np.zeros((n_in, n_out))
        for i, j, _ in self.edges:
            out[i, j] = 1.0
        return out

    def values(self, x2d: jnp.ndarray) -> jnp.ndarray:
        """``c f(a x_i + b) + d`` of every fixed edge at ``x2d (N, n_in)``: ``(N, n_fixed)``.

        Edges sharing a function are evaluated together, one call of ``f`` per function.
        """
        theta = self.affine[...].astype(x2d.dtype)
        columns = [None] * len(self.edges)
        by_key: dict[str, list[int]] = {}
        for k, (_, _, key) in enumerate(self.edges):
            by_key.setdefault(key, []).append(k)
        for key, ks in by_key.items():
            rows = np.asarray(ks)
            a, b, c, d = (theta[rows, p] for p in range(4))
            u = a * x2d[:, [self.edges[k][0] for k in ks]] + b
            z = c * edge_callable(key)(u) + d
            for n, k in enumerate(ks):
                columns[k] = z[:, n]
        return jnp.stack(columns, axis=-1)

    def formula(self, k: int, z: sp.Expr) -> sp.Expr:
        """Fixed edge ``k`` as a sympy formula in ``z``, with its current constants."""
        # str() of the stored dtype gives its shortest repr (0.1, not 0.100000001490116 from float32)
        a, b, c, d = (float(str(v)) for v in np.asarray(self.affine[...][k]))
        key = self.edges[k][2]
        if not key.startswith(EXPRESSION_PREFIX):
            from sciml.symbolic.primitives import edge_formula

            return edge_formula(_library()[key], (a, b, c, d), z)
        F = sp.Float
        return F(c) * edge_sympy(key, F(a) * z + F(b)) + F(d)
