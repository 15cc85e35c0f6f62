r"""One library primitive in a portable form: a Chebyshev series on ``[-1, 1]``.

A primitive ``g`` is a function of one variable on the normalised interval ``t in [-1, 1]``
(the harvested edge's input range mapped there), with zero mean and unit scale over that
interval (its output affinely normalised). Its portable form is a Chebyshev series of bounded
degree,

.. math::  g(t) = \sum_{k=0}^{n} c_k T_k(t), \qquad |t| \le 1,

evaluated by Clenshaw's recurrence and continued *linearly* outside ``[-1, 1]`` (value and
slope of the end point): a polynomial continued as itself explodes on the pre-activations a
network sometimes produces, a linear continuation keeps the Lipschitz bound of the interval.
That bound is Markov's, :math:`\max |g'| \le \sum_k k^2 |c_k|`.

A primitive that matches a function of the symbolic stage (:mod:`sciml.symbolic.primitives`,
found by :mod:`sciml.library.dedup`) also carries that *exact form*, ``c f(a t + b) + d`` with
``f`` named by a whitelisted primitive name; networks then evaluate the exact form (its
domain-safe variant), which is also correct beyond ``[-1, 1]``.

:class:`Provenance` records where a harvested primitive came from: the problem, the KAN edge
(layer, input, output), the edge's input range and output mean and scale (so the original
edge is ``scale * g(t) + mean`` with ``t`` the input mapped to ``[-1, 1]``), and the ``R^2`` of
the Chebyshev fit.
"""

from __future__ import annotations

import dataclasses
import re
from typing import Sequence

import jax
import jax.numpy as jnp
import numpy as np
from jax.custom_derivatives import SymbolicZero
from numpy.polynomial import chebyshev as C

from sciml import trig

__all__ = ["MAX_DEGREE", "ExactForm", "PortablePrimitive", "Provenance", "chebyshev_fit", "chebyshev_series",
           "from_samples", "from_symbolic"]

MAX_DEGREE = 24
"""The highest Chebyshev degree a primitive may have (what a library file may hold)."""

_NAME = re.compile(r"^[A-Za-z0-9_^+\-*/().]{1,64}$")
# Operation counts per evaluation: a transcendental function costs about as much as a
# degree-10 polynomial on CPUs and GPUs (XLA's tanh is a rational approximation of that size).
_TRANSCENDENTAL_FLOPS = 20
_CHEAP = {"x", "x^2", "x^3", "x^4", "x^5", "abs", "0"}


@dataclasses.dataclass(frozen=True)
class Provenance:
    """Where one harvested primitive came from (one KAN edge)."""

    problem: str
    layer: int
    input: int
    output: int
    r2: float
    x_range: tuple[float, float]
    y_mean: float
    y_scale: float

    def to_json(self) -> dict:
        return {"problem": self.problem, "layer": self.layer, "input": self.input, "output": self.output,
                "r2": self.r2, "x_range": list(self.x_range), "y_mean": self.y_mean, "y_scale": self.y_scale}


# A member evaluates inside networks, on moderate float32 pre-activations, where these cost less
# than XLA's sine and cosine (see sciml.trig); the symbolic stage fits with XLA's own.
_ACTIVATION_KERNELS = {"sin": trig.sin, "cos": trig.cos}


@dataclasses.dataclass(frozen=True)
class ExactForm:
    """``c f(a t + b) + d`` with ``f`` a primitive of the symbolic stage, named by ``primitive``."""

    primitive: str
    affine: tuple[float, float, float, float]

    def function(self):
        """The elementwise JAX function ``t -> c f(a t + b) + d`` (``f``'s domain-safe variant;
        ``sin`` and ``cos`` from :mod:`sciml.trig`, as a network's activations are)."""
        from sciml.symbolic.primitives import DEFAULT_LIBRARY

        f = _ACTIVATION_KERNELS.get(self.primitive) or DEFAULT_LIBRARY[self.primitive].safe
        a, b, c, d = self.affine
        return lambda t: c * f(a * t + b) + d


@dataclasses.dataclass(frozen=True)
class PortablePrimitive:
    """A library member: Chebyshev coefficients on ``[-1, 1]``, an optional exact form, provenance.

    Args:
        name: the member's name in its library (a primitive name such as ``"sin"`` when it
            matches one, else a new name such as ``"burgers_0"``).
        coefficients: Chebyshev coefficients ``c_0 .. c_n`` (``n <= MAX_DEGREE``).
        exact: the matching symbolic primitive, if any.
        provenance: the edges it was harvested from (empty for a built-in member).
        fit_r2: ``R^2`` of the Chebyshev series against the samples it was fitted to.
    """

    name: str
    coefficients: tuple[float, ...]
    exact: ExactForm | None = None
    provenance: tuple[Provenance, ...] = ()
    fit_r2: float = 1.0

    def __post_init__(self):
        if not isinstance(self.name, str) or not _NAME.match(self.name):
            raise ValueError(f"primitive name {self.name!r} must be 1-64 characters of letters, digits and "
                             "_^+-*/(). such as 'sin' or 'burgers_0'")
        coefficients = tuple(float(c) for c in self.coefficients)
        if not 1 <= len(coefficients) <= MAX_DEGREE + 1 or not all(np.isfinite(coefficients)):
            raise ValueError(f"primitive {self.name!r}: needs 1 to {MAX_DEGREE + 1} finite Chebyshev coefficients, "
                             f"got {len(coefficients)}")
        object.__setattr__(self, "coefficients", coefficients)

    @property
    def degree(self) -> int:
        return len(self.coefficients) - 1

    @property
    def cost(self) -> float:
        """Floating-point operations per evaluation (a transcendental function counts 20)."""
        if self.exact is not None:
            return 4.0 + (2.0 if self.exact.primitive in _CHEAP else _TRANSCENDENTAL_FLOPS)
        return 2.0 * self.degree + 6.0  # Clenshaw, then the clip and the linear continuation

    @property
    def lipschitz(self) -> float:
        """An upper bound of ``|g'|`` on ``[-1, 1]`` and beyond (Markov: ``sum k^2 |c_k|``)."""
        k = np.arange(len(self.coefficients))
        return float(np.sum(k**2 * np.abs(self.coefficients)))

    def series(self, t):
        """The Chebyshev form at ``t`` (JAX, any shape), continued linearly outside ``[-1, 1]``."""
        return chebyshev_series(self.coefficients, t)

    def __call__(self, t):
        """``g(t)``: the exact form when there is one, else the Chebyshev form."""
        return self.exact.function()(t) if self.exact is not None else self.series(t)

    def with_name(self, name: str, exact: ExactForm | None = None) -> "PortablePrimitive":
        return dataclasses.replace(self, name=name, exact=exact)

    def scaled(self, factor: float) -> "PortablePrimitive":
        """``factor * g``: the Chebyshev form and the exact form (its ``c`` and ``d``) scaled alike."""
        factor = float(factor)
        if not (np.isfinite(factor) and factor != 0.0):
            raise ValueError(f"primitive {self.name!r}: scale factor must be finite and non-zero, got {factor}")
        exact = None
        if self.exact is not None:
            a, b, c, d = self.exact.affine
            exact = ExactForm(self.exact.primitive, (a, b, c * factor, d * factor))
        return dataclasses.replace(self, coefficients=tuple(c * factor for c in self.coefficients), exact=exact)

    def rms_slope(self, points: int = 1001) -> float:
        """The root-mean-square slope of ``g`` over ``[-1, 1]`` (central differences on a grid)."""
        return self._rms_derivatives(points)[0]

    def roughness(self, points: int = 1001) -> float:
        """RMS curvature over RMS slope on ``[-1, 1]``: how many radians a sine of the same
        wiggliness would turn through per unit of input (tanh 0.8, ``sin(pi t)`` 3.1,
        ``sin(2 pi t)`` 6.3); scale-free."""
        slope, curvature = self._rms_derivatives(points)
        return curvature / slope if slope > 0 else float("inf")

    def _rms_derivatives(self, points: int) -> tuple[float, float]:
        t = np.linspace(-1.0, 1.0, int(points))
        d1 = np.gradient(np.asarray(self(jnp.asarray(t)), np.float64), t)
        d2 = np.gradient(d1, t)
        return float(np.sqrt(np.mean(d1**2))), float(np.sqrt(np.mean(d2**2)))


def chebyshev_series(coefficients, t):
    """``sum_k c_k T_k(t)`` by Clenshaw's recurrence, continued linearly outside ``[-1, 1]``.

    ``coefficients`` may be numbers or a JAX array (trained coefficients, see
    :class:`sciml.library.hunger.ChebyshevActivation`); the end slopes are
    ``T_k'(1) = k^2`` and ``T_k'(-1) = (-1)^(k+1) k^2``. Derivatives of every order, in ``t``
    and in the coefficients, are series again (custom JVP): differentiating through the
    recurrence would keep every one of its steps for the backward pass, which made a network
    with a degree-16 member cost 8x its tanh twin per training step (1.3x this way).
    """
    t = jnp.asarray(t)
    return _series(jnp.asarray(coefficients, t.dtype), t)


def _clenshaw(coefficients, t):
    # b_k = c_k + 2 t b_{k+1} - b_{k+2}; g = c_0 + t b_1 - b_2
    b1 = b2 = jnp.zeros_like(t)
    for k in range(coefficients.shape[0] - 1, 0, -1):
        b1, b2 = coefficients[k] + 2.0 * t * b1 - b2, b1
    return coefficients[0] + t * b1 - b2


def _derivative_coefficients(coefficients):
    """The series of ``g'`` (numpy's ``chebder`` recurrence, ``d_{k-1} = d_{k+1} + 2 k c_k``)."""
    n = coefficients.shape[0]
    if n == 1:
        return jnp.zeros_like(coefficients)
    d = [None] * (n - 1)
    for k in range(n - 1, 0, -1):
        d[k - 1] = 2.0 * k * coefficients[k] + (d[k + 1] if k + 1 <= n - 2 else 0.0)
    d[0] = d[0] / 2.0
    return jnp.stack(d)


@jax.custom_jvp
def _series(coefficients, t):
    inside = jnp.clip(t, -1.0, 1.0)
    k = np.arange(coefficients.shape[0])
    high_slope = jnp.sum(coefficients * (k**2).astype(np.float64))
    low_slope = jnp.sum(coefficients * ((-1.0) ** (k + 1) * k**2))
    return _clenshaw(coefficients, inside) + jnp.where(t > 1.0, high_slope, low_slope).astype(t.dtype) * (t - inside)


def _series_jvp(primals, tangents):
    coefficients, t = primals
    d_coefficients, dt = tangents
    value = _series(coefficients, t)
    tangent = jnp.zeros_like(value)
    if not isinstance(dt, SymbolicZero):  # g' inside, the end slopes (g' at +-1) outside
        tangent = tangent + _series(_derivative_coefficients(coefficients), jnp.clip(t, -1.0, 1.0)) * dt
    if not isinstance(d_coefficients, SymbolicZero):  # g is linear in its coefficients
        tangent = tangent + _series(d_coefficients, t)
    return value, tangent


_series.defjvp(_series_jvp, symbolic_zeros=True)


def chebyshev_fit(t, y, *, max_degree: int = 16, r2_target: float = 0.999999) -> tuple[np.ndarray, float]:
    """The lowest-degree Chebyshev series (up to ``max_degree``) reaching ``R^2 >= r2_target``.

    Returns:
        ``(coefficients, r2)``; the degree ``max_degree`` series when none reaches the target.
    """
    if not 0 <= max_degree <= MAX_DEGREE:
        raise ValueError(f"max_degree must be between 0 and {MAX_DEGREE}, got {max_degree}")
    t, y = np.asarray(t, np.float64), np.asarray(y, np.float64)
    total = np.sum((y - y.mean()) ** 2) or 1.0
    best = None
    for degree in range(0, min(max_degree, len(t) - 1) + 1):
        coefficients = C.chebfit(t, y, degree)
        r2 = 1.0 - float(np.sum((C.chebval(t, coefficients) - y) ** 2) / total)
        best = (coefficients, r2)
        if r2 >= r2_target:
            break
    return best


def from_samples(name: str, x: Sequence[float], y: Sequence[float], *, provenance: Provenance | None = None,
                 max_degree: int = 16, r2_target: float = 0.999999) -> PortablePrimitive:
    """A primitive from one sampled function ``y(x)``: ``x``'s range mapped to ``[-1, 1]``, ``y``
    to zero mean and unit scale, then a Chebyshev fit (:func:`chebyshev_fit`).

    ``provenance`` (when given) is completed with the range, the mean, the scale and ``R^2``.

    Raises:
        ValueError: ``x`` spans no interval, or ``y`` is constant (a dead edge has no shape).
    """
    x, y = np.asarray(x, np.float64).ravel(), np.asarray(y, np.float64).ravel()
    lo, hi = float(x.min()), float(x.max())
    mean, scale = float(y.mean()), float(y.std())
    if not hi > lo:
        raise ValueError(f"primitive {name!r}: the samples' inputs span no interval ({lo} to {hi})")
    if not scale > 1e-9 * max(1.0, abs(mean)):
        raise ValueError(f"primitive {name!r}: the samples are constant ({mean}); a constant has no shape")
    t = 2.0 * (x - lo) / (hi - lo) - 1.0
    coefficients, r2 = chebyshev_fit(t, (y - mean) / scale, max_degree=max_degree, r2_target=r2_target)
    origin = () if provenance is None else (dataclasses.replace(
        provenance, r2=r2, x_range=(lo, hi), y_mean=mean, y_scale=scale),)
    return PortablePrimitive(name, tuple(coefficients), None, origin, r2)


def from_symbolic(name: str, *, a: float = 1.0, b: float = 0.0, max_degree: int = 16) -> PortablePrimitive:
    """The symbolic stage's primitive ``name`` as a library member ``f(a t + b)`` (exact form, with
    its Chebyshev form on ``[-1, 1]`` for comparisons); e.g. ``from_symbolic("tanh")``.

    Raises:
        KeyError: ``name`` is not a primitive of :data:`sciml.symbolic.primitives.DEFAULT_LIBRARY`.
    """
    exact = ExactForm(name, (float(a), float(b), 1.0, 0.0))
    t = np.cos(np.pi * (np.arange(4 * max_degree + 1) + 0.5) / (4 * max_degree + 1))  # Chebyshev nodes
    y = np.asarray(exact.function()(t), np.float64)
    coefficients, r2 = chebyshev_fit(t, y, max_degree=max_degree, r2_target=1.0 - 1e-10)
    return PortablePrimitive(name, tuple(coefficients), exact, (), r2)
