"""The mathematical functions an expression may hold, evaluated on NumPy and JAX arrays.

Every sympy expression sciml evaluates — equations, conditions, exact solutions, laws — goes
through :func:`lambdify` here, so a function is either known on both backends or refused where
the problem is written (:func:`unsupported_functions`, called by the DSL's checks) rather than
failing as a ``NameError`` in generated code. Beyond what sympy prints for JAX by itself, the
error function, the gamma function and Bessel functions of integer order are provided:

- ``besselj(n, x)`` and ``besseli(n, x)`` on JAX are the trapezoidal rule on their integral
  representations over one period, ``J_n(x) = mean_k cos(n s_k - x sin s_k)`` and
  ``I_n(x) = mean_k exp(x cos s_k) cos(n s_k)``, ``s_k = 2 pi k / M``; for a periodic integrand
  the rule's error is the aliased order ``n + M``, below float32 resolution for ``|x| <= 100``
  with ``M = 160``. Derivatives of every order, as a residual takes them through an initial
  condition, are those of the integrand, so as accurate as the values. NumPy uses SciPy's.
- Discovered primitives that name a function sympy does not know register its implementation
  in :data:`NUMERIC_FUNCTIONS` (:func:`sciml.symbolic.primitives.register_primitive`).
"""

from __future__ import annotations

from typing import Callable

import jax.numpy as jnp
import jax.scipy.special as jsp
import numpy as np
import scipy.special as ssp
import sympy as sp
from sympy.core.function import AppliedUndef

__all__ = ["NUMERIC_FUNCTIONS", "SUPPORTED_FUNCTIONS", "finite_numbers", "jump_across", "jump_surfaces", "lambdify", "numeric_modules",
           "onto_zero_set", "same_surface", "unsupported_functions", "values_at"]

_NODES = 160
_ANGLES = 2 * np.pi * np.arange(_NODES) / _NODES


def _integer_order(order) -> int:
    n = float(order)
    if not n.is_integer():  # refused where the problem is written (unsupported_functions)
        raise ValueError(f"Bessel functions of integer order only, got order {order}")
    return int(n)


def _bessel_j(order, x):
    n = _integer_order(order)  # the rule holds for negative orders too: J_{-n} = (-1)^n J_n
    s = jnp.asarray(_ANGLES, dtype=jnp.result_type(x, jnp.float32))
    return jnp.mean(jnp.cos(n * s - jnp.asarray(x)[..., None] * jnp.sin(s)), axis=-1)


def _bessel_i(order, x):
    n = _integer_order(order)  # I_{-n} = I_n, as cos(-n s) = cos(n s)
    s = jnp.asarray(_ANGLES, dtype=jnp.result_type(x, jnp.float32))
    return jnp.mean(jnp.exp(jnp.asarray(x)[..., None] * jnp.cos(s)) * jnp.cos(n * s), axis=-1)


_SPECIAL = {
    "jax": {"erf": jsp.erf, "erfc": jsp.erfc, "gamma": jsp.gamma, "loggamma": jsp.gammaln,
            "besselj": _bessel_j, "besseli": _bessel_i},
    "numpy": {"erf": ssp.erf, "erfc": ssp.erfc, "gamma": ssp.gamma, "loggamma": ssp.gammaln,
              "besselj": ssp.jv, "besseli": ssp.iv},
}

SUPPORTED_FUNCTIONS: tuple[type, ...] = (
    sp.sin, sp.cos, sp.tan, sp.sec, sp.csc, sp.cot, sp.asin, sp.acos, sp.atan, sp.atan2,
    sp.sinh, sp.cosh, sp.tanh, sp.sech, sp.csch, sp.coth, sp.asinh, sp.acosh, sp.atanh,
    sp.exp, sp.log, sp.Abs, sp.sign, sp.Heaviside, sp.Piecewise, sp.Max, sp.Min,
    sp.floor, sp.ceiling, sp.frac, sp.Mod, sp.sinc, sp.re,
    sp.erf, sp.erfc, sp.gamma, sp.loggamma, sp.besselj, sp.besseli,
)
"""The sympy functions :func:`lambdify` evaluates on both backends (``sqrt`` and powers are
``Pow``, not functions)."""

NUMERIC_FUNCTIONS: dict[str, Callable] = {}
"""Implementations of the functions a law may name that sympy does not know (discovered
primitives, :meth:`sciml.library.collection.PrimitiveLibrary.register`), by name; each takes
NumPy and JAX arrays alike."""


def numeric_modules(backend: str) -> list:
    """``modules`` for :func:`sympy.lambdify` on ``backend`` (``"numpy"`` or ``"jax"``)."""
    return [{**_SPECIAL[backend], **NUMERIC_FUNCTIONS}, backend]


def lambdify(args, expr, backend: str = "numpy") -> Callable:
    """:func:`sympy.lambdify` of ``expr`` in ``args`` on ``backend`` (``"numpy"`` or ``"jax"``)."""
    return sp.lambdify(args, expr, modules=numeric_modules(backend))


def values_at(expr, symbols, points) -> np.ndarray:
    """``expr`` of ``symbols`` at ``points`` (rows, one column per symbol) as floats, a constant
    broadcast to every point."""
    points = np.asarray(points)
    return np.asarray(lambdify(symbols, sp.sympify(expr), "numpy")(*points.T), float) * np.ones(len(points))


def unsupported_functions(expr: sp.Expr) -> list[str]:
    """Names of the functions in ``expr`` that :func:`lambdify` cannot evaluate (fields,
    unknown terms and registered primitives are not functions of this kind)."""
    bad = set()
    for f in sp.sympify(expr).atoms(sp.Function):
        # Fields and primitives by name are undefined functions, the DSL's unknown terms its own
        # class: neither is evaluated from a sympy name here.
        if isinstance(f, AppliedUndef) or type(f).__module__.startswith("sciml."):
            continue
        if not isinstance(f, SUPPORTED_FUNCTIONS):
            bad.add(type(f).__name__)
        elif isinstance(f, (sp.besselj, sp.besseli)) and not f.args[0].is_integer:
            bad.add(f"{type(f).__name__} of order {f.args[0]}")
    return sorted(bad)


def jump_surfaces(expr: sp.Expr, coordinates) -> list[sp.Expr]:
    """``φ`` of every surface ``φ = 0`` of the ``coordinates`` where ``expr`` may jump: the
    relations of its ``Piecewise`` conditions and the arguments of its ``Heaviside`` and
    ``sign``, those that vary with the coordinates alone (whether ``expr`` does jump there is
    for the caller to check: ``Piecewise((x, x < 0), (0, True))`` does not)."""
    expr = sp.sympify(expr)
    found: list[sp.Expr] = []
    for piecewise in expr.atoms(sp.Piecewise):
        for _, condition in piecewise.args:
            relations = [condition] if isinstance(condition, sp.core.relational.Relational) else \
                list(condition.atoms(sp.core.relational.Relational))
            found += [sp.sympify(r.lhs - r.rhs) for r in relations]
    found += [f.args[0] for f in expr.atoms(sp.Heaviside, sp.sign)]
    out: list[sp.Expr] = []
    for phi in found:
        if phi.free_symbols and phi.free_symbols <= set(coordinates) and not any(same_surface(phi, f) for f in out):
            out.append(phi)
    return out


def same_surface(a: sp.Expr, b: sp.Expr) -> bool:
    """Whether ``a = 0`` and ``b = 0`` are one surface written alike or with the sign turned."""
    return sp.simplify(a - b) == 0 or sp.simplify(a + b) == 0


def jump_across(evaluate: Callable, z: np.ndarray, normals: np.ndarray, size: float) -> tuple[np.ndarray, np.ndarray]:
    """``(jump, scale)`` of ``evaluate(points) -> values`` across a surface at its points ``z``
    (unit ``normals``, ``size`` the domain's extent): how far the values differ from one side to
    the other as the sides close in, zero where the difference shrinks with their distance (a
    continuous function), and the larger side's size."""

    def gap(offset):
        before, after = (np.asarray(evaluate(z + sign * offset * size * normals), float) * np.ones(len(z))
                         for sign in (-1, 1))
        return np.abs(after - before), np.maximum(np.abs(after), np.abs(before))

    near, scale = gap(1e-8)
    far, _ = gap(1e-6)
    return np.where(near > 0.5 * far, near, 0.0), scale


def onto_zero_set(distance: sp.Expr, coords, z: np.ndarray, size: float) -> np.ndarray:
    """Each point of ``z`` moved onto the zero set of ``distance`` by a few Newton steps along
    its gradient; a point the steps do not bring there, or carry further than a quarter of
    ``size`` (a runaway step where the gradient nearly vanishes), stays."""
    d = lambdify(coords, distance, "numpy")
    grad = [lambdify(coords, sp.diff(distance, c), "numpy") for c in coords]
    moved = z.astype(np.float64, copy=True)
    for _ in range(8):
        value = np.asarray(d(*moved.T), float) * np.ones(len(moved))
        g = np.stack([np.asarray(f(*moved.T), float) * np.ones(len(moved)) for f in grad], axis=1)
        norm2 = np.sum(g * g, axis=1)
        step = np.where(norm2 > 0, value / np.where(norm2 > 0, norm2, 1.0), 0.0)
        moved = moved - step[:, None] * g
    residual = np.abs(np.asarray(d(*moved.T), float) * np.ones(len(moved)))
    ok = (residual <= 1e-9 * size) & (np.linalg.norm(moved - z, axis=1) <= 0.25 * size)
    return np.where(ok[:, None], moved, z)


def finite_numbers(values) -> bool:
    """Whether every one of ``values`` is a finite real number (an enrichment's fields, read back
    from a run's record, may be anything)."""
    try:
        return bool(np.all(np.isfinite(np.asarray(values, float))))
    except (TypeError, ValueError):
        return False
