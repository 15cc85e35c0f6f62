"""Primitive functions that a learned edge can be distilled into.

A primitive ``f`` enters an edge as the affine sandwich ``c * f(a * x + b) + d``. Each primitive
carries

- ``fn``: the JAX function used to evaluate and fit it (elementwise),
- ``sympy_fn``: the same function on sympy expressions, used to write the law,
- ``complexity``: a small integer cost (roughly the number of nodes it adds to a formula);
  Pareto ranking trades it against goodness of fit,
- ``safe_fn``: a domain-safe variant used for gradients during fitting (finite everywhere,
  equal to ``fn`` on its domain). A fit is only *accepted* if ``fn`` itself is finite on every
  sample, so a ``log`` edge is never reported for inputs where ``a * x + b <= 0``.

Users extend the library with :func:`register_primitive` or by building their own
:class:`Library` from :class:`Primitive` objects.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Callable, Iterable, Iterator

import jax.numpy as jnp
import sympy as sp

from sciml.functions import NUMERIC_FUNCTIONS

__all__ = ["Primitive", "Library", "DEFAULT_LIBRARY", "register_primitive", "default_library", "edge_formula"]

_TINY = 1e-6  # distance from a singularity kept by the safe variants


@dataclasses.dataclass(frozen=True)
class Primitive:
    """One candidate edge function ``f`` (fitted as ``c * f(a * x + b) + d``)."""

    name: str
    fn: Callable
    sympy_fn: Callable[[sp.Expr], sp.Expr]
    complexity: int
    safe_fn: Callable | None = None

    def __post_init__(self):
        if not self.name or not isinstance(self.name, str):
            raise ValueError("Primitive needs a non-empty string name, e.g. Primitive('sinh', ...).")
        if not callable(self.fn) or not callable(self.sympy_fn):
            raise TypeError(f"Primitive {self.name!r}: fn and sympy_fn must be callables.")
        if int(self.complexity) < 0:
            raise ValueError(f"Primitive {self.name!r}: complexity must be >= 0.")

    @property
    def safe(self) -> Callable:
        return self.safe_fn if self.safe_fn is not None else self.fn

    def __repr__(self) -> str:
        return f"Primitive({self.name!r}, complexity={self.complexity})"


def _safe_inv(x, p=1.0):
    # keep the sign, push |x| away from zero so gradients stay finite
    s = jnp.where(x >= 0, 1.0, -1.0)
    return s / jnp.maximum(jnp.abs(x), _TINY) ** p


def _zero(x):
    # x * 0 rather than zeros_like: a constant would make XLA constant-fold the whole
    # (grid x samples) evaluation at compile time, which is very slow
    return x * 0.0


_BUILTIN = [
    Primitive("0", _zero, lambda z: sp.Integer(0), 0),
    Primitive("x", lambda x: x, lambda z: z, 1),
    Primitive("x^2", lambda x: x**2, lambda z: z**2, 2),
    Primitive("x^3", lambda x: x**3, lambda z: z**3, 3),
    Primitive("x^4", lambda x: x**4, lambda z: z**4, 3),
    Primitive("x^5", lambda x: x**5, lambda z: z**5, 3),
    Primitive("1/x", lambda x: 1.0 / x, lambda z: 1 / z, 2, lambda x: _safe_inv(x)),
    Primitive("1/x^2", lambda x: 1.0 / x**2, lambda z: z**-2, 3,
              lambda x: 1.0 / jnp.maximum(x**2, _TINY**2)),
    Primitive("sqrt", jnp.sqrt, sp.sqrt, 2, lambda x: jnp.sqrt(jnp.maximum(x, _TINY))),
    Primitive("1/sqrt", lambda x: 1.0 / jnp.sqrt(x), lambda z: 1 / sp.sqrt(z), 3,
              lambda x: 1.0 / jnp.sqrt(jnp.maximum(x, _TINY))),
    Primitive("exp", jnp.exp, sp.exp, 2, lambda x: jnp.exp(jnp.clip(x, -60.0, 60.0))),
    Primitive("log", jnp.log, sp.log, 2, lambda x: jnp.log(jnp.maximum(x, _TINY))),
    Primitive("sin", jnp.sin, sp.sin, 2),
    Primitive("cos", jnp.cos, sp.cos, 2),
    Primitive("tan", jnp.tan, sp.tan, 3),
    Primitive("tanh", jnp.tanh, sp.tanh, 3),
    Primitive("abs", jnp.abs, sp.Abs, 2),
    Primitive("arctan", jnp.arctan, sp.atan, 3),
    Primitive("gaussian", lambda x: jnp.exp(-(x**2)), lambda z: sp.exp(-(z**2)), 3),
    # Compositions that physics formulas keep producing: log(1 + u^2) (sums of squares under a
    # log), hypot-like sqrt(1 + u^2) and the Lorentzian 1 / (1 + u^2).
    Primitive("log(1+x^2)", lambda x: jnp.log1p(x**2), lambda z: sp.log(1 + z**2), 4),
    Primitive("sqrt(1+x^2)", lambda x: jnp.sqrt(1.0 + x**2), lambda z: sp.sqrt(1 + z**2), 4),
    Primitive("1/(1+x^2)", lambda x: 1.0 / (1.0 + x**2), lambda z: 1 / (1 + z**2), 4),
    # and the Lorentz factor's pieces, log(1 - u^2) and 1 / sqrt(1 - u^2) for |u| < 1. The
    # argument is scaled, u = z / 4, so the edge fit's (a, b) grid (on standardised inputs,
    # spacing 2/3) has points inside the domain; a finer grid near zero would also let
    # cos(small a x) imitate every parabola.
    Primitive("log(1-x^2)", lambda x: jnp.log1p(-((x / 4) ** 2)), lambda z: sp.log(1 - (z / 4) ** 2), 4,
              lambda x: jnp.log(jnp.maximum(1.0 - (x / 4) ** 2, _TINY))),
    Primitive("1/sqrt(1-x^2)", lambda x: 1.0 / jnp.sqrt(1.0 - (x / 4) ** 2),
              lambda z: 1 / sp.sqrt(1 - (z / 4) ** 2), 5,
              lambda x: 1.0 / jnp.sqrt(jnp.maximum(1.0 - (x / 4) ** 2, _TINY))),
]


class Library:
    """An ordered, name-indexed collection of :class:`Primitive` objects."""

    def __init__(self, primitives: Iterable[Primitive]):
        self._prims: dict[str, Primitive] = {}
        for p in primitives:
            self.add(p)

    def add(self, primitive: Primitive) -> "Library":
        if not isinstance(primitive, Primitive):
            raise TypeError(f"expected a Primitive, got {type(primitive).__name__}")
        self._prims[primitive.name] = primitive
        return self

    def subset(self, names: Iterable[str]) -> "Library":
        """A library restricted to ``names`` (in the order given)."""
        names = list(names)
        missing = [n for n in names if n not in self._prims]
        if missing:
            raise ValueError(f"unknown primitives {missing}; available: {list(self._prims)}")
        return Library(self._prims[n] for n in names)

    def __getitem__(self, name: str) -> Primitive:
        try:
            return self._prims[name]
        except KeyError:
            raise KeyError(f"no primitive {name!r}; available: {list(self._prims)}") from None

    def __iter__(self) -> Iterator[Primitive]:
        return iter(self._prims.values())

    def __len__(self) -> int:
        return len(self._prims)

    def __contains__(self, name) -> bool:
        return name in self._prims

    @property
    def names(self) -> list[str]:
        return list(self._prims)

    def __repr__(self) -> str:
        return f"Library({self.names})"


DEFAULT_LIBRARY = Library(_BUILTIN)


def default_library() -> Library:
    """A fresh copy of the built-in library (safe to extend without side effects)."""
    return Library(DEFAULT_LIBRARY)


def register_primitive(name: str, fn: Callable, sympy_fn: Callable, complexity: int,
                       safe_fn: Callable | None = None, *, numeric: Callable | None = None) -> Primitive:
    """Add a primitive to :data:`DEFAULT_LIBRARY` (used whenever no library is passed).

    ``numeric``: for a ``sympy_fn`` that is an undefined function (``sympy.Function(name)``),
    its implementation on NumPy and JAX arrays, used wherever a law is evaluated.
    """
    p = Primitive(name, fn, sympy_fn, complexity, safe_fn)
    if numeric is not None:
        if not name.isidentifier():
            raise ValueError(f"a primitive evaluated by name needs an identifier for a name, got {name!r}")
        NUMERIC_FUNCTIONS[name] = numeric
    DEFAULT_LIBRARY.add(p)
    return p


# f(a z) = a^k f(z) for the power laws: c f(a z + b) = (c a^k) f(z + b / a)
_POWERS = {"x^2": 2, "x^3": 3, "x^4": 4, "x^5": 5, "1/x": -1, "1/x^2": -2, "sqrt": 0.5, "1/sqrt": -0.5}


def edge_formula(primitive: Primitive, params, z: sp.Expr) -> sp.Expr:
    """``c f(a z + b) + d`` as a sympy formula with as few constants as the primitive allows.

    The sandwich has redundant constants for power laws (``c (a z + b)^k`` is
    ``c a^k (z + b/a)^k``), ``log`` (``c log(a z + b) = c log(z + b/a) + c log a``) and ``exp``
    (``c e^(a z + b) = c e^b e^(a z)``). Redundant constants can drift together in a joint refit
    and block each other's rounding (``-21.48 / (6.54 u)^2`` never rounds; ``-0.502 / u^2``
    rounds to ``-1/(2 u^2)``), so they are folded here.
    """
    a, b, c, d = (float(v) for v in params)
    F = sp.Float
    name = primitive.name
    if name == "x":
        return F(c * a) * z + F(c * b + d)
    if a != 0.0 and name in _POWERS:
        k = _POWERS[name]
        if float(k).is_integer() or a > 0:  # a^k is real
            return F(c * a ** k) * primitive.sympy_fn(z + F(b / a)) + F(d)
    if a != 0.0 and name == "log":
        return F(c) * sp.log((z if a > 0 else -z) + F(b / abs(a))) + F(d + c * math.log(abs(a)))
    if name == "exp":
        return F(c * math.exp(b)) * sp.exp(F(a) * z) + F(d)
    return F(c) * primitive.sympy_fn(F(a) * z + F(b)) + F(d)
