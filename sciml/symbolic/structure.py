"""Structure of a law read from a fitted surrogate: separability, symmetries, decomposition.

AI Feynman's idea (Udrescu & Tegmark 2020; Udrescu et al., *AI Feynman 2.0: Pareto-optimal
symbolic regression exploiting graph modularity*, NeurIPS 2020): fit a smooth network to the
data, ask the network — not the data — whether the unknown ``f`` has structure, and if it has,
split the problem into smaller ones that the searches solve more easily.

**Surrogate.** A small tanh MLP (:class:`sciml.models.mlp.MLP`) fitted in float64 by L-BFGS
(:func:`sciml.models.kan_train.fit_data`) to standardised data; a quarter of the rows is held
out and its mean squared residual ``sigma^2`` is the noise level every test is judged against
(on noiseless data it is the surrogate's own error; never below ``1e-14 Var(y)``, the level
of floating-point rounding).

**Tests.** Each hypothesis ``H`` defines a structured approximation ``P_H f`` of the surrogate
built from ``f`` itself:

- additive separability ``f(a, b) = g(a) + h(b)``: the functional-ANOVA projection
  ``P f(a, b) = E_b' f(a, b') + E_a' f(a', b) - E_{a', b'} f(a', b')``;
- multiplicative separability ``f = g(a) h(b)``:
  ``P f(a, b) = E_b' f(a, b') E_a' f(a', b) / E_{a', b'} f(a', b')``;
- symmetries ``f(x_i, x_j, ...) = g(u(x_i, x_j), ...)`` with ``u`` one of ``x_i - x_j``,
  ``x_i + x_j``, ``x_i / x_j``, ``x_i x_j``: ``P f`` is the mean of ``f`` over points of the
  orbit of ``u`` (the level set ``u = const``) inside the data's box;
- homogeneity ``f = x_j^k g(x_i / x_j, ...)`` (scaling both by ``l`` scales ``f`` by
  ``l^k``, the ratio symmetry being ``k = 0``): ``k`` is read from Euler's relation
  ``x_i f_i + x_j f_j = k f`` on the surrogate and rounded to a multiple of 1/2, and ``P f``
  is the orbit mean of ``f / x_j^k`` times ``x_j^k``;
- affinity in one variable ``f = g(rest) + x_k h(rest)`` (AI Feynman's polynomial fit in one
  variable, degree one): ``P f`` is the straight line through ``f`` at two values
  ``x_k = a, b`` (the quartiles of ``x_k``), ``P f = f_a + (x_k - a) (f_b - f_a) / (b - a)``.
  It splits a node that no separability or symmetry splits — a law such as
  ``(t - u x / c^2) / sqrt(1 - u^2 / c^2)``, affine in ``x``, becomes two functions of
  ``(u, c)`` that the symmetries reduce further.

If ``H`` holds, ``P_H f = f`` up to the surrogate's error, which the projections average
rather than amplify (``P`` is an orthogonal projection for the product measure). The test
compares the whole structured model with the data on the held-out rows: with
``d_n = (P_H f(x_n) - y_n)^2 - (f(x_n) - y_n)^2`` the increase of the squared residual,
``H`` is accepted when

.. math::
    \\bar d \\le \\max\\big(2\\,\\mathrm{se}(d),\\ 2\\sqrt{2/n}\\,\\sigma^2\\big),

i.e. when the structured model is not measurably worse than the unstructured surrogate: two
standard errors of the paired difference, or two standard errors of a held-out mean squared
error of ``n`` Gaussian residuals (the bound of the Pareto selection rule,
:mod:`sciml.symbolic.law`), whichever is larger. The statistic reported is the relative
increase ``\\bar d / \\sigma^2`` and its threshold. Alongside, the pointwise derivative tests of
AI Feynman 2.0 are reported (median over held-out points, central differences of the
surrogate): ``|H_ab| / |H|`` for additive and ``|f H_ab - g_a g_b| / (|f H| + |g g^T|)``
(the Hessian of ``log |f|``) for multiplicative separability, and
``|g_i + g_j| / (|g_i| + |g_j|)`` (difference), ``|x_i g_i + x_j g_j| / (...)`` (ratio) and so
on for symmetries. They are 0 when the structure holds; they carry no calibrated null
distribution (a noisy fit's curvature is itself noisy), so they inform but do not decide.

**Decomposition.** Every accepted step is tested within the model built so far (child tests
are judged for the whole structured model against the data), so errors cannot accumulate
unseen. A node is split by the accepted separability with the smallest excess, else reduced
by the accepted symmetry or homogeneity with the smallest excess, else split by the accepted
affinity with the smallest excess into intercept and slope, else it is a leaf. Leaves are solved by
the caller's searches on the leaf's own variables (targets: the data themselves when only
symmetries lie above the leaf, else the surrogate's projection), and the leaf formulas are
recombined (``c + g + h``, ``c g h``) into proposals in the original variables that the
caller refits jointly on the data (:func:`sciml.symbolic.refit.clean`).

A projection carries the surrogate's error, amplified on the way down (a division by ``x^k``,
the line through two quartiles): each sub-problem keeps that gain, and its leaf is searched
against the surrogate's error times the gain. Projections are only accurate to the
surrogate's fit (about ``1e-3`` of the spread on noiseless data), so wherever a part is
solved exactly the rest goes back to the data: the other side of a separable node
(``y - g``, ``y / g``), the slope or the intercept of an affine node (``(y - g) / z``,
``y - z h``), and the intercept of ``y = g (1 + z k)`` once the ratio ``k`` of slope to
intercept is exact (``y / (1 + z k)``) — a Lorentz transformation ``gamma (t - u x / c^2)``
is found that way.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
import time
from collections.abc import Callable, Sequence

import numpy as np
import sympy as sp

from .rounding import NOISE_FLOOR

__all__ = ["STRUCTURE_RULE", "Surrogate", "fit_surrogate", "StructureTest", "StructureNode", "Decomposition",
           "decompose", "SYMMETRIES", "Symmetry", "derivatives"]


STRUCTURE_RULE = (
    "a structure (additive or multiplicative separability of two variable groups, f depending "
    "on two variables only through their difference, sum, ratio or product, or f homogeneous "
    "in two variables, or f affine in one variable) is accepted when "
    "the whole structured model built from the surrogate is not measurably worse than the "
    "surrogate on held-out rows: mean increase of the squared residual <= max(2 standard errors "
    "of that increase, 2*sqrt(2/n) * sigma^2), sigma^2 = the surrogate's held-out mean squared "
    "residual (the noise level); a node is split by the accepted separability with the smallest "
    "excess, else reduced by the accepted symmetry or homogeneity with the smallest excess, "
    "else split into intercept and slope by the accepted affinity with the smallest excess, "
    "else solved as one problem")


# ----------------------------------------------------------------------------- surrogate


@dataclasses.dataclass(frozen=True)
class Surrogate:
    """A fitted tanh MLP evaluated in NumPy float64: ``f(X) -> (N,)`` in the data's units.

    Attributes:
        layers: ``(W, b)`` per layer on standardised inputs and output.
        noise_var: mean squared residual on the rows held out of the fit (``sigma^2``).
        heldout: indices of those rows in the ``X`` given to :func:`fit_surrogate`.
    """

    layers: tuple
    x_shift: np.ndarray
    x_scale: np.ndarray
    y_shift: float
    y_scale: float
    noise_var: float
    heldout: np.ndarray

    def __call__(self, X) -> np.ndarray:
        h = (np.asarray(X, np.float64) - self.x_shift) / self.x_scale
        for W, b in self.layers[:-1]:
            h = np.tanh(h @ W + b)
        W, b = self.layers[-1]
        return (h @ W + b)[:, 0] * self.y_scale + self.y_shift


def fit_surrogate(X, y, *, hidden: Sequence[int] = (32, 32), steps: int = 800, rounds: int = 3,
                  holdout: float = 0.25, seed: int = 0) -> Surrogate:
    """Fit :class:`Surrogate` to ``(X, y)``: L-BFGS in float64, ``rounds`` chunks of
    ``steps`` iterations, keeping the parameters with the lowest held-out error.

    Raises:
        ValueError: fewer than 20 rows (too few to hold any out).
    """
    import jax
    import jax.numpy as jnp
    from flax import nnx

    from sciml.models.kan_train import fit_data
    from sciml.models.mlp import MLP

    X = np.asarray(X, np.float64)
    y = np.asarray(y, np.float64)
    if len(y) < 20:
        raise ValueError(f"a surrogate needs at least 20 rows to hold some out, got {len(y)}")
    perm = np.random.default_rng(seed).permutation(len(y))
    n_val = max(5, int(round(holdout * len(y))))
    val, fit = perm[:n_val], perm[n_val:]
    x_shift, x_scale = X.mean(0), np.where(X.std(0) > 0, X.std(0), 1.0)
    y_shift, y_scale = float(y.mean()), float(y.std()) or 1.0
    xs, ys = (X - x_shift) / x_scale, (y - y_shift) / y_scale
    with jax.enable_x64(True):
        model = MLP(X.shape[1], 1, hidden=tuple(hidden), activation="tanh", rngs=nnx.Rngs(seed))
        graphdef, state = nnx.split(model)
        model = nnx.merge(graphdef, jax.tree.map(lambda a: jnp.asarray(a, jnp.float64), state))
        best, best_err = None, math.inf
        for _ in range(rounds):
            model = fit_data(model, xs[fit], ys[fit, None], steps=steps, optimizer="lbfgs").model
            layers = tuple((np.asarray(lay.kernel[...], np.float64), np.asarray(lay.bias[...], np.float64))
                           for lay in model.layers)
            cand = Surrogate(layers, x_shift, x_scale, y_shift, y_scale, math.nan, val)
            err = float(np.mean((cand(X[val]) - y[val]) ** 2))
            if err < best_err:
                best, best_err = cand, err
    if best is None:
        raise ValueError("the surrogate fit diverged (non-finite held-out error)")
    return dataclasses.replace(best, noise_var=best_err)


# ----------------------------------------------------------------------------- derivatives


def derivatives(fn: Callable, X, steps) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(f, gradient, Hessian)`` of ``fn`` at the rows of ``X`` by central differences.

    ``steps[i]`` is the step in variable ``i``; one batched call of ``fn`` on
    ``1 + 2d + 2d(d-1)`` points per row. Second differences of a float64 surrogate with steps
    of ``1e-3`` of each variable's range err by ``~1e-6`` relative.
    """
    X = np.asarray(X, np.float64)
    n, d = X.shape
    h = np.asarray(steps, np.float64)
    E = np.eye(d) * h
    shifts = [np.zeros(d)] + [s * E[i] for i in range(d) for s in (1, -1)]
    pairs = [(i, j) for i in range(d) for j in range(i + 1, d)]
    shifts += [si * E[i] + sj * E[j] for i, j in pairs for si in (1, -1) for sj in (1, -1)]
    S = np.array(shifts)
    F = fn((X[:, None, :] + S[None]).reshape(-1, d)).reshape(n, len(S))
    f0 = F[:, 0]
    plus, minus = F[:, 1:1 + 2 * d:2], F[:, 2:2 + 2 * d:2]
    grad = (plus - minus) / (2 * h)
    hess = np.zeros((n, d, d))
    hess[:, range(d), range(d)] = (plus - 2 * f0[:, None] + minus) / h**2
    base = 1 + 2 * d
    for k, (i, j) in enumerate(pairs):
        pp, pm, mp, mm = (F[:, base + 4 * k + m] for m in range(4))
        hess[:, i, j] = hess[:, j, i] = (pp - pm - mp + mm) / (4 * h[i] * h[j])
    return f0, grad, hess


def _median(v) -> float | None:
    v = np.asarray(v, np.float64)
    v = v[np.isfinite(v)]
    return float(np.median(v)) if len(v) else None


def _additive_gradient(hess, A, B) -> float | None:
    """Median ``|H_AB|_F / |H|_F``: the mixed block of the Hessian vanishes iff additive."""
    mixed = np.linalg.norm(hess[:, A][:, :, B], axis=(1, 2))
    return _median(mixed / (np.linalg.norm(hess, axis=(1, 2)) + 1e-300))


def _multiplicative_gradient(f0, grad, hess, A, B) -> float | None:
    """Median ``|f H_AB - g_A g_B^T| / (|f H| + |g g^T|)``: ``f^2`` times the mixed Hessian of
    ``log |f|``, which vanishes iff ``f = g(a) h(b)``."""
    fh = f0[:, None, None] * hess
    gg = grad[:, :, None] * grad[:, None, :]
    mixed = np.linalg.norm((fh - gg)[:, A][:, :, B], axis=(1, 2))
    scale = np.linalg.norm(fh, axis=(1, 2)) + np.linalg.norm(gg, axis=(1, 2)) + 1e-300
    return _median(mixed / scale)


# ----------------------------------------------------------------------------- symmetries


@dataclasses.dataclass(frozen=True)
class Symmetry:
    """``u = op(x_i, x_j)``; ``orbit`` gives the allowed range of ``x_j`` on the level set
    ``u = const`` inside the box, ``partner`` the ``x_i`` that goes with a chosen ``x_j``, and
    ``generator`` the weights ``(w_i, w_j)`` with ``w_i g_i + w_j g_j = 0`` under the symmetry
    (AI Feynman 2.0's gradient condition)."""

    name: str
    op: Callable
    expr: Callable
    orbit: Callable  # (u, lo_i, hi_i, lo_j, hi_j) -> (lo, hi) of x_j
    partner: Callable  # (u, x_j) -> x_i
    generator: Callable  # (x_i, x_j) -> (w_i, w_j)
    positive: bool = False  # needs both variables positive
    geometric: bool = False  # orbit points spaced geometrically


SYMMETRIES = (
    Symmetry("-", lambda a, b: a - b, lambda a, b: a - b,
             lambda u, li, hi, lj, hj: (np.maximum(lj, li - u), np.minimum(hj, hi - u)),
             lambda u, b: u + b, lambda a, b: (np.ones_like(a), np.ones_like(b))),
    Symmetry("+", lambda a, b: a + b, lambda a, b: a + b,
             lambda u, li, hi, lj, hj: (np.maximum(lj, u - hi), np.minimum(hj, u - li)),
             lambda u, b: u - b, lambda a, b: (np.ones_like(a), -np.ones_like(b))),
    Symmetry("/", lambda a, b: a / b, lambda a, b: a / b,
             lambda u, li, hi, lj, hj: (np.maximum(lj, li / u), np.minimum(hj, hi / u)),
             lambda u, b: u * b, lambda a, b: (a, b), positive=True, geometric=True),
    Symmetry("*", lambda a, b: a * b, lambda a, b: a * b,
             lambda u, li, hi, lj, hj: (np.maximum(lj, u / hi), np.minimum(hj, u / li)),
             lambda u, b: u / b, lambda a, b: (a, -b), positive=True, geometric=True),
)


def _orbit_points(sym: Symmetry, u, lo, hi, m: int) -> np.ndarray:
    """``(N, m)`` values of ``x_j`` spread over each orbit's allowed range."""
    t = (np.arange(m) + 0.5) / m
    lo, hi = np.minimum(lo, hi), np.maximum(lo, hi)
    if sym.geometric:
        return np.exp(np.log(lo)[:, None] + t[None] * (np.log(hi) - np.log(lo))[:, None])
    return lo[:, None] + t[None] * (hi - lo)[:, None]


# ----------------------------------------------------------------------------- problems


@dataclasses.dataclass
class _Node:
    """A sub-problem: a function of its own variables and how to see it in the whole model.

    ``fn`` maps ``(N, k)`` node variables to values; ``values`` are the node variables on
    every row; ``lift(g)`` gives the whole structured model's predictions on the held-out
    rows when the node's function is replaced by ``g``; ``target`` is the data's own target
    on every row when the node is ``y`` in new variables (only symmetries above it), else
    ``None``; ``variables`` are the node variables as expressions in the original symbols;
    ``gain`` is the error variance of ``fn`` per unit of the surrogate's (how the projections
    above the node carry the surrogate's error: a mean keeps it, a division by ``x^k`` scales it
    by ``x^-2k``, the intercept and slope through two points amplify it)."""

    fn: Callable
    values: np.ndarray
    lift: Callable
    target: np.ndarray | None
    variables: list
    gain: float = 1.0

    @property
    def box(self) -> tuple[np.ndarray, np.ndarray]:
        return self.values.min(0), self.values.max(0)


@dataclasses.dataclass
class StructureTest:
    """One hypothesis tested at a node: its statistic, threshold and decision.

    ``excess`` is the relative increase of the held-out mean squared residual of the whole
    structured model over the surrogate's (``mean d / sigma^2``), ``threshold`` the largest
    increase the noise allows (module docstring), ``gradient`` the derivative statistic of AI
    Feynman 2.0 (0 when the structure holds exactly; reported only)."""

    kind: str
    groups: list[list[int]]
    excess: float | None
    threshold: float | None
    accepted: bool
    gradient: float | None = None
    note: str = ""
    op: str = ""  # symmetries: "-", "+", "/" or "*"
    degree: float = 0.0  # homogeneity: f = x_j^degree g(x_i / x_j, ...)

    def describe(self, variables: Sequence[str]) -> str:
        """The hypothesis in words, with the node's variable names."""
        if self.kind == "symmetry":
            i, j = self.groups[0]
            return f"f depends on {variables[i]} and {variables[j]} only through ({variables[i]}) {self.op} ({variables[j]})"
        if self.kind == "homogeneous":
            i, j = self.groups[0]
            return (f"f = ({variables[j]})^{self.degree:g} g(({variables[i]}) / ({variables[j]}), ...): "
                    f"homogeneous of degree {self.degree:g} in {variables[i]}, {variables[j]}")
        if self.kind == "affine":
            (k,), rest = self.groups
            others = ", ".join(variables[i] for i in rest)
            return f"f = g({others}) + ({variables[k]}) h({others}): affine in {variables[k]}"
        a, b = (", ".join(variables[i] for i in g) for g in self.groups)
        sign = "+" if self.kind == "additive" else "*"
        return f"f = g({a}) {sign} h({b})"

    def as_dict(self, variables: Sequence[str]) -> dict:
        return {"kind": self.kind, "hypothesis": self.describe(variables), "degree": self.degree,
                "groups": [[variables[i] for i in g] for g in self.groups],
                "excess": _finite(self.excess), "threshold": _finite(self.threshold),
                "accepted": self.accepted, "gradient_statistic": _finite(self.gradient),
                "note": self.note}


def _finite(v):
    return float(v) if v is not None and math.isfinite(v) else None


@dataclasses.dataclass
class _Context:
    """What every test shares: held-out rows, their targets, the surrogate's residuals."""

    y_val: np.ndarray
    ref_sq: np.ndarray
    noise_var: float  # floored at NOISE_FLOOR * Var(y): floating-point error, not noise
    anchors: np.ndarray  # row indices (into node values) used for projections
    n_child_anchors: int
    n_orbit: int
    val: np.ndarray
    deriv_rows: np.ndarray


def _judge(pred, ctx: _Context) -> tuple[float, float, bool]:
    """``(excess, threshold, accepted)`` for predictions ``pred`` on the held-out rows."""
    with np.errstate(all="ignore"):
        d = (pred - ctx.y_val) ** 2 - ctx.ref_sq
    if not np.all(np.isfinite(d)):
        return math.inf, math.nan, False
    n = len(d)
    s2 = max(ctx.noise_var, 1e-300)
    tol = max(2.0 * float(np.std(d)) / math.sqrt(n), 2.0 * math.sqrt(2.0 / n) * s2)
    mean = float(np.mean(d))
    return mean / s2, tol / s2, mean <= tol


def _mean_over(fn, k: int, cols: list[int], anchors: np.ndarray) -> Callable:
    """``w -> mean_a fn(x)`` with ``x[cols] = w`` and the other variables taken from each
    anchor row ``a``: the partial mean (a function of the ``cols`` variables only)."""

    def g(W):
        W = np.asarray(W, np.float64).reshape(len(W), len(cols))
        Z = np.repeat(anchors[None], len(W), axis=0)
        Z[:, :, cols] = W[:, None, :]
        with np.errstate(all="ignore"):
            return fn(Z.reshape(-1, k)).reshape(len(W), len(anchors)).mean(1)

    return g


def _separable_parts(node: _Node, A, B, anchors):
    k = node.values.shape[1]
    fa = _mean_over(node.fn, k, A, anchors)
    fb = _mean_over(node.fn, k, B, anchors)
    mean = float(np.mean(fa(anchors[:, A])))
    return fa, fb, mean


def _combine(kind, fa, fb, mean, A, B):
    if kind == "additive":
        return lambda V: fa(V[:, A]) + fb(V[:, B]) - mean
    return lambda V: fa(V[:, A]) * fb(V[:, B]) / mean


def _separability(kind: str, node: _Node, A, B, ctx: _Context, derivs) -> tuple[StructureTest, tuple]:
    anchors = node.values[ctx.anchors]
    fa, fb, mean = _separable_parts(node, A, B, anchors)
    if kind == "multiplicative":
        rms = math.sqrt(float(np.mean(node.fn(anchors) ** 2)))
        if not abs(mean) > 1e-2 * rms:
            return StructureTest(kind, [A, B], None, None, False,
                                 note="mean of f near zero: product projection undefined"), ()
    excess, thr, ok = _judge(node.lift(_combine(kind, fa, fb, mean, A, B)), ctx)
    f0, grad, hess = derivs
    gstat = _additive_gradient(hess, A, B) if kind == "additive" else \
        _multiplicative_gradient(f0, grad, hess, A, B)
    return StructureTest(kind, [A, B], excess, thr, ok, gstat), (fa, fb, mean)


def _additive_test(node, A, B, ctx, derivs):
    """Additive separability ``f = g(A) + h(B)`` at ``node`` (module docstring)."""
    return _separability("additive", node, A, B, ctx, derivs)


def _multiplicative_test(node, A, B, ctx, derivs):
    """Multiplicative separability ``f = g(A) h(B)`` at ``node`` (module docstring)."""
    return _separability("multiplicative", node, A, B, ctx, derivs)


def _reduced(node: _Node, sym: Symmetry, i: int, j: int, m: int, degree: float = 0.0):
    """The node function in the variables ``(u, others)``: mean over ``m`` orbit points of
    ``f / x_j^degree`` (``degree`` 0: a symmetry; else homogeneity, ``sym`` the ratio)."""
    k = node.values.shape[1]
    lo, hi = node.box
    others = [c for c in range(k) if c not in (i, j)]

    def fn(W):
        W = np.asarray(W, np.float64)
        u = W[:, 0]
        with np.errstate(all="ignore"):
            a, b = sym.orbit(u, lo[i], hi[i], lo[j], hi[j])
            xj = _orbit_points(sym, u, a, b, m)  # (N, m)
            xi = sym.partner(u[:, None], xj)
        Z = np.empty((len(W), m, k))
        Z[:, :, i], Z[:, :, j] = xi, xj
        Z[:, :, others] = W[:, None, 1:]
        with np.errstate(all="ignore"):
            vals = node.fn(Z.reshape(-1, k)).reshape(len(W), m)
            return (vals / xj**degree).mean(1) if degree else vals.mean(1)

    def transform(V):
        with np.errstate(all="ignore"):
            return np.column_stack([sym.op(V[:, i], V[:, j])] + [V[:, c] for c in others])

    return fn, transform, others


def _symmetry_test(node: _Node, sym: Symmetry, i: int, j: int, ctx: _Context, derivs):
    """Symmetry ``f(x_i, x_j, ...) = g(op(x_i, x_j), ...)`` at ``node`` (module docstring)."""
    kind = "symmetry"
    V = node.values
    if sym.positive and not (np.all(V[:, i] > 0) and np.all(V[:, j] > 0)):
        return StructureTest(kind, [[i, j]], None, None, False, note="needs positive variables",
                             op=sym.name), ()
    fn, transform, _ = _reduced(node, sym, i, j, ctx.n_orbit)
    excess, thr, ok = _judge(node.lift(lambda W: fn(transform(W))), ctx)
    _, grad, _ = derivs
    X = V[ctx.deriv_rows]
    wi, wj = sym.generator(X[:, i], X[:, j])
    a, b = wi * grad[:, i], wj * grad[:, j]
    gstat = _median(np.abs(a + b) / (np.abs(a) + np.abs(b) + 1e-300))
    return StructureTest(kind, [[i, j]], excess, thr, ok, gstat, op=sym.name), ()


def _degree(derivs, X, i: int, j: int) -> float | None:
    """Euler's degree ``(x_i f_i + x_j f_j) / f`` (constant iff ``f`` is homogeneous in
    ``(x_i, x_j)``), median over the derivative rows, rounded to a multiple of 1/2."""
    f0, grad, _ = derivs
    with np.errstate(all="ignore"):
        ratio = (X[:, i] * grad[:, i] + X[:, j] * grad[:, j]) / f0
    ok = np.abs(f0) > 1e-8 * np.max(np.abs(f0))
    k = _median(ratio[ok])
    return None if k is None else round(2.0 * k) / 2.0


def _homogeneity_test(node: _Node, i: int, j: int, ctx: _Context, derivs):
    """Homogeneity ``f(l x_i, l x_j, ...) = l^k f``, i.e. ``f = x_j^k g(x_i / x_j, ...)``, with
    ``k`` read from Euler's relation on the surrogate and rounded to a multiple of 1/2 (the
    test then judges the rounded ``k``); ``k = 0`` is the ratio symmetry, tested there."""
    V = node.values
    X = V[ctx.deriv_rows]
    if not (np.all(V[:, i] > 0) and np.all(V[:, j] > 0)):
        return StructureTest("homogeneous", [[i, j]], None, None, False, note="needs positive variables",
                             op="/"), ()
    k = _degree(derivs, X, i, j)
    if k is None or k == 0.0 or abs(k) > 4:
        return None, ()
    fn, transform, _ = _reduced(node, SYMMETRIES[2], i, j, ctx.n_orbit, degree=k)
    excess, thr, ok = _judge(node.lift(lambda W: fn(transform(W)) * W[:, j] ** k), ctx)
    f0, grad, _ = derivs
    with np.errstate(all="ignore"):
        euler = X[:, i] * grad[:, i] + X[:, j] * grad[:, j]
    gstat = _median(np.abs(euler - k * f0) / (np.abs(euler) + np.abs(k * f0) + 1e-300))
    return StructureTest("homogeneous", [[i, j]], excess, thr, ok, gstat, op="/", degree=k), ()


def _quartiles(node: _Node, k: int) -> tuple[float, float]:
    a, b = np.quantile(node.values[:, k], [0.25, 0.75])
    return float(a), float(b)


def _affine_parts(node: _Node, k: int):
    """``(intercept, slope)`` of ``f`` as a straight line in ``x_k`` through its values at the
    quartiles ``a, b`` of ``x_k``: functions of the other variables (in column order)."""
    a, b = _quartiles(node, k)
    rest = [c for c in range(node.values.shape[1]) if c != k]

    def at(W, value):
        Z = np.empty((len(W), len(rest) + 1))
        Z[:, rest], Z[:, k] = W, value
        with np.errstate(all="ignore"):
            return node.fn(Z)

    def slope(W):
        return (at(W, b) - at(W, a)) / (b - a)

    def intercept(W):
        return at(W, a) - a * slope(W)

    return intercept, slope, rest


def _affine_test(node: _Node, k: int, ctx: _Context, derivs):
    """Affinity ``f = g(rest) + x_k h(rest)`` at ``node`` (module docstring); the derivative
    statistic is ``|f_kk| / |H|``, 0 when ``f`` is affine in ``x_k``."""
    if node.values.shape[1] < 2 or np.ptp(node.values[:, k]) == 0:
        return None, ()
    intercept, slope, rest = _affine_parts(node, k)
    excess, thr, ok = _judge(node.lift(lambda V: intercept(V[:, rest]) + V[:, k] * slope(V[:, rest])), ctx)
    _, _, hess = derivs
    gstat = _median(np.abs(hess[:, k, k]) / (np.linalg.norm(hess, axis=(1, 2)) + 1e-300))
    return StructureTest("affine", [[k], rest], excess, thr, ok, gstat), (intercept, slope, rest)


def _children_affine(node: _Node, k: int, parts) -> list[_Node]:
    """Intercept and slope as sub-problems in the other variables; each child's lift keeps the
    other part as the parent's test had it."""
    intercept, slope, rest = parts
    values = node.values[:, rest]
    variables = [node.variables[c] for c in rest]
    a, b = _quartiles(node, k)  # f_a, f_b each err by sigma: the line through them amplifies it
    return [_Node(intercept, values, lambda g: node.lift(lambda V: g(V[:, rest]) + V[:, k] * slope(V[:, rest])),
                  None, variables, node.gain * (a * a + b * b) / (b - a) ** 2),
            _Node(slope, values, lambda g: node.lift(lambda V: intercept(V[:, rest]) + V[:, k] * g(V[:, rest])),
                  None, variables, node.gain * 2.0 / (b - a) ** 2)]


# ----------------------------------------------------------------------------- decomposition


@dataclasses.dataclass
class StructureNode:
    """A node of the decomposition tree.

    ``kind`` is ``"leaf"``, ``"additive"``, ``"multiplicative"``, ``"symmetry"`` or ``"affine"``
    (children: intercept, then slope; ``factor`` the variable they are affine in; ``formulas``
    the node's own, when its values are the data's and it was also solved as one problem); ``step`` the
    accepted test (why the node was split), ``tests`` every test made at the node,
    ``variables`` the node's variables in the original symbols, ``formula`` (leaves, after
    :meth:`Decomposition.solve`) the leaf's chosen formula in the original symbols."""

    kind: str
    variables: list
    tests: list[StructureTest]
    step: StructureTest | None = None
    children: list = dataclasses.field(default_factory=list)
    formulas: list = dataclasses.field(default_factory=list)
    problem: _Node | None = dataclasses.field(default=None, repr=False)
    note: str = ""
    factor: sp.Expr | None = None  # homogeneity: the child's formula times this
    within_noise: bool = False  # leaves: the first formula fits within the noise of the values

    def leaves(self) -> list[StructureNode]:
        return [self] if self.kind == "leaf" else [x for c in self.children for x in c.leaves()]

    def as_dict(self, show: Callable[[sp.Expr], str]) -> dict:
        names = [show(v) for v in self.variables]
        tested = sorted(self.tests, key=lambda t: (not t.accepted, math.inf if t.excess is None else t.excess))
        out = {"kind": self.kind, "variables": names,
               "why": self.note,
               "step": None if self.step is None else self.step.as_dict(names),
               "tests": [t.as_dict(names) for t in tested],
               "children": [c.as_dict(show) for c in self.children]}
        if self.kind == "leaf":
            out["formulas"] = [show(f) for f in self.formulas]
            out["within_noise"] = self.within_noise
        return out


@dataclasses.dataclass
class Decomposition:
    """The tree found by :func:`decompose`, the surrogate's noise level and the timings."""

    root: StructureNode
    noise_var: float
    var_y: float
    n_heldout: int
    seconds: float
    surrogate: Surrogate | None = None  # fitted to the rows given: it never saw other rows

    @property
    def has_structure(self) -> bool:
        return self.root.kind != "leaf"

    def solve(self, search: Callable, *, per_leaf: int = 3, max_proposals: int = 4, n_freed: int = 2
              ) -> list[tuple[str, sp.Expr]]:
        """Solve each leaf with ``search(X, y, leaf_symbols, noise_var) -> (exprs, within)``
        (formulas best first, and whether the first is within the noise of ``y``;
        ``noise_var`` estimates the error variance of ``y``: for the data's own
        targets the surrogate's held-out MSE, carried through ``y / g`` by the delta
        method; for the surrogate's projections its held-out MSE times the leaf's gain, the
        amplification of the projections above it) and recombine: proposals
        ``(source, expr)`` in the original ``symbols``.

        Leaf variables get fresh symbols (positive where the values are); a leaf's formulas
        are written back in the original variables. The two sides of a separable node whose
        values are the data's own targets are solved smaller side first; when that side's
        best formula is exact (no fitted float left), the other side gets the data with it
        taken out (``y - g``, ``y / g``) instead of the surrogate's projection — data keep
        noiseless laws exact, where a surrogate is only accurate to its fit. Likewise for the
        intercept ``g`` and slope ``h`` of an affine node ``y = g + z h`` on the data: when one
        is exact, the other is solved again on ``(y - g) / z`` or ``y - z h``; when neither is,
        but their ratio ``k = h / g`` is, ``y = g (1 + z k)`` and ``g`` is solved again on
        ``y / (1 + z k)`` (a Lorentz transformation's ``gamma (t - u x / c^2)``). Each combination
        carries free constants (``c + g + h``, ``c g h``) for the caller's joint refit; the
        first ``n_freed`` also come in a copy with every non-integer number of the leaf
        formulas freed, so that constants rounded on the surrogate's values are refitted on
        the data.
        """
        root_values = self.root.problem.values
        symbols = self.root.variables

        def formulas(values, variables, y, noise) -> tuple[list[sp.Expr], bool]:
            z = [sp.Dummy(f"z{i + 1}", positive=True) if np.all(values[:, i] > 0)
                 else sp.Dummy(f"z{i + 1}", real=True) for i in range(values.shape[1])]
            found, within = search(values, y, z, noise)
            back = dict(zip(z, variables))
            return [sp.sympify(e).xreplace(back) for e in found[:per_leaf]], within

        def solve_leaf(node: StructureNode, target) -> None:
            prob = node.problem
            if target is not None:
                y, noise = target
            else:
                y = prob.fn(prob.values)
                noise = self.noise_var * prob.gain
            node.formulas, node.within_noise = formulas(prob.values, node.variables, y, noise)

        def solve_factored(node: StructureNode, target) -> None:
            """``y = g (1 + z k)``: when ``k = h / g`` (from the projections) is exact, the
            intercept ``g`` is solved on ``y / (1 + z k)``, and ``g + z g k`` is proposed first."""
            from .refit import evaluate, nearest_simple

            intercept, slope = (c.problem for c in node.children)
            g, h = intercept.fn(intercept.values), slope.fn(slope.values)
            if not np.min(np.abs(g)) > 1e-3 * np.max(np.abs(g)):
                return
            k = h / g
            noise = self.noise_var * float(np.mean((slope.gain + k**2 * intercept.gain) / g**2))
            found, within = formulas(intercept.values, node.children[0].variables, k, noise)
            if not (found and within):
                return
            # k is read off the surrogate, whose smooth error no noise test can round through:
            # its simplest nearby numbers are a guess that the intercept's search on the data
            # then confirms (an exact formula) or not
            ratio = nearest_simple(found[0])
            if ratio.atoms(sp.Float) or not ratio.free_symbols:
                return
            w = 1.0 + evaluate(node.factor * ratio, symbols, root_values)
            if not np.all(np.isfinite(w)) or np.min(np.abs(w)) < 1e-6 * np.max(np.abs(w)):
                return
            solve_node(node.children[0], _divided(target, w))
            first = _exact_formula(node.children[0])
            if first is not None:
                node.formulas.insert(0, first + node.factor * first * ratio)

        def solve_node(node: StructureNode, target) -> None:
            if node.kind == "leaf":
                solve_leaf(node, target)
                return
            if node.kind == "symmetry":
                if node.factor is not None and target is not None:
                    from .refit import evaluate

                    w = evaluate(node.factor, symbols, root_values)
                    target = _divided(target, w)
                solve_node(node.children[0], target)
                return
            if node.kind == "affine":  # intercept and slope: projections of the surrogate
                if target is not None:  # the data themselves come first: they keep a law exact
                    solve_leaf(node, target)
                for child in node.children:
                    solve_node(child, None)
                for known, other in (node.children, node.children[::-1]):
                    data = _affine_remainder(node, known, target, symbols, root_values)
                    if data is not None:
                        solve_node(other, data)
                        return
                if target is not None:
                    solve_factored(node, target)
                return
            first, second = sorted(node.children, key=lambda c: len(c.variables))
            solve_node(first, None)
            solve_node(second, _remainder(node.kind, target, first, symbols, root_values))

        solve_node(self.root, (self.root.problem.target, self.noise_var))
        combos = _combinations(self.root)[:max_proposals]
        out, seen = [], set()
        for k, e in enumerate(combos):
            for variant in (e, _free_numbers(e)) if k < n_freed else (e,):
                if variant not in seen:
                    seen.add(variant)
                    out.append(("structure", variant))
        return out


def _remainder(kind: str, target, solved: StructureNode, symbols, values):
    """``(y - g, sigma^2)`` or ``(y / g, sigma^2 mean(1/g^2))``: the data (with their noise
    variance) with an exactly solved side ``g`` taken out, or ``None``.

    The solved side must be a leaf whose first formula fits its values within their noise.
    An additive constant (additive node) or a constant factor (multiplicative node) of the
    solved side is left out: the other side absorbs it, and the joint refit fixes it; every
    other constant must be exact."""
    from .refit import evaluate

    if target is None or not solved.formulas or not solved.within_noise:
        return None
    target, noise = target
    best = solved.formulas[0]
    shape = best.as_coeff_Add()[1] if kind == "additive" else best.as_coeff_Mul()[1]
    if shape.atoms(sp.Float) or not shape.free_symbols:
        return None
    g = evaluate(shape, symbols, values)
    with np.errstate(all="ignore"):
        out = target - g if kind == "additive" else target / g
    if not np.all(np.isfinite(out)) or (kind != "additive" and np.min(np.abs(g)) < 1e-12 * np.max(np.abs(g))):
        return None
    return out, noise if kind == "additive" else noise * float(np.mean(1.0 / g**2))


def _divided(data, w) -> tuple[np.ndarray, float]:
    """Data ``(y, sigma^2)`` divided by ``w``: ``(y / w, sigma^2 mean(1 / w^2))`` (the delta
    method); the caller checks that ``w`` stays away from zero."""
    y, noise = data
    return y / w, noise * float(np.mean(1.0 / w**2))


def _exact_formula(node: StructureNode) -> sp.Expr | None:
    """The node's formula when it is exact: a leaf whose first formula fits within the noise and
    has no fitted float, or a symmetry over such a node (times its factor); else ``None``."""
    if node.kind == "leaf":
        ok = node.formulas and node.within_noise and not node.formulas[0].atoms(sp.Float)
        return node.formulas[0] if ok else None
    if node.kind == "symmetry":
        inner = _exact_formula(node.children[0])
        return inner if inner is None or node.factor is None else inner * node.factor
    return None


def _affine_remainder(node: StructureNode, known: StructureNode, target, symbols, values):
    """For an affine node ``y = g + z h`` on the data (``target``): with the intercept ``g``
    exact, ``((y - g) / z, sigma^2 mean(1/z^2))``; with the slope ``h`` exact,
    ``(y - z h, sigma^2)``; else ``None``."""
    from .refit import evaluate

    if target is None:
        return None
    formula = _exact_formula(known)
    if formula is None or not formula.free_symbols:
        return None
    target, noise = target
    g = evaluate(formula, symbols, values)
    z = evaluate(node.factor, symbols, values)
    with np.errstate(all="ignore"):
        if known is node.children[0]:
            if np.min(np.abs(z)) < 1e-12 * np.max(np.abs(z)):
                return None
            out, noise = _divided((target - g, noise), z)
        else:
            out = target - z * g
    return (out, noise) if np.all(np.isfinite(out)) else None


def _free_numbers(expr: sp.Expr) -> sp.Expr:
    """Non-integer rationals outside exponents as floats (free for a joint refit)."""
    exponents = {node.exp for node in sp.preorder_traversal(expr) if node.is_Pow}
    odd = [r for r in expr.atoms(sp.Rational) if not r.is_Integer and r not in exponents]
    return expr.xreplace({r: sp.Float(float(r)) for r in odd})


def _combinations(node: StructureNode) -> list[sp.Expr]:
    """Formulas for ``node`` from its children's, best combinations first."""
    if node.kind == "leaf":
        return list(node.formulas)
    whole = list(node.formulas)  # an affine node solved on the data as one problem: first
    parts = [_combinations(c) for c in node.children]
    if any(not p for p in parts):
        return whole
    combos = sorted(itertools.product(*[range(len(p)) for p in parts]), key=lambda t: (sum(t), t))
    out = []
    for idx in combos:
        chosen = [p[i] for p, i in zip(parts, idx)]
        if node.kind == "additive":
            out.append(sp.Add(*chosen) + sp.Float(1e-3))  # free offset, refitted by the caller
        elif node.kind == "multiplicative":
            out.append(sp.Float(1.0) * sp.Mul(*chosen))  # free scale, refitted by the caller
        elif node.kind == "affine":
            out.append(chosen[0] + node.factor * chosen[1])
        else:
            out.append(chosen[0] if node.factor is None else chosen[0] * node.factor)
    return whole + out


def _partitions(k: int, max_small: int | None):
    """Bipartitions ``(A, B)`` of ``range(k)``, each once, the smaller side first."""
    seen = set()
    for r in range(1, k // 2 + 1):
        if max_small is not None and r > max_small:
            break
        for A in itertools.combinations(range(k), r):
            B = tuple(c for c in range(k) if c not in A)
            key = frozenset([A, B])
            if key not in seen:
                seen.add(key)
                yield list(A), list(B)


def _children_separable(kind, node: _Node, A, B, parts, n_child: int, rng, ctx_anchors
                        ) -> list[_Node]:
    fa_full, fb_full, mean = parts
    k = node.values.shape[1]
    # the children's functions use fewer anchors than the test (their cost multiplies down the tree)
    sub = node.values[rng.choice(len(node.values), size=min(n_child, len(node.values)), replace=False)]
    fns = {tuple(A): _mean_over(node.fn, k, A, sub), tuple(B): _mean_over(node.fn, k, B, sub)}
    anchors = node.values[ctx_anchors]
    kids = []
    for mine, other, f_mine, f_other in ((A, B, fa_full, fb_full), (B, A, fb_full, fa_full)):
        # with fewer anchors the child's function differs from the test's partial mean by a
        # constant (additive) or a factor (multiplicative) when the structure holds: the lift
        # takes it out, so the child's tests see the structured model the parent accepted
        a_child = float(np.mean(fns[tuple(mine)](anchors[:, mine])))
        a_full = float(np.mean(f_mine(anchors[:, mine])))

        def lift(g, mine=mine, other=other, f_other=f_other, a_child=a_child, a_full=a_full):
            if kind == "additive":
                return node.lift(lambda V: g(V[:, mine]) - a_child + a_full + f_other(V[:, other]) - mean)
            return node.lift(lambda V: g(V[:, mine]) * (a_full / a_child) * f_other(V[:, other]) / mean)

        kids.append(_Node(fns[tuple(mine)], node.values[:, mine], lift, None,
                          [node.variables[c] for c in mine], node.gain))
    return kids


def _child_symmetry(node: _Node, sym: Symmetry, i: int, j: int, m: int, degree: float = 0.0) -> _Node:
    """The sub-problem in ``(op(x_i, x_j), others)``; with a ``degree``, of ``f / x_j^degree``."""
    fn, transform, others = _reduced(node, sym, i, j, m, degree)

    def lift(g):
        if degree:
            return node.lift(lambda V: g(transform(V)) * V[:, j] ** degree)
        return node.lift(lambda V: g(transform(V)))

    variables = [sym.expr(node.variables[i], node.variables[j])] + [node.variables[c] for c in others]
    target = node.target
    gain = node.gain
    if degree:
        if target is not None:
            target = target / node.values[:, j] ** degree
        gain *= float(np.mean(node.values[:, j] ** (-2.0 * degree)))
    return _Node(fn, transform(node.values), lift, target, variables, gain)


def _test_node(node: _Node, ctx: _Context, max_small) -> tuple[list[StructureTest], dict]:
    """Every test at ``node``; returns the tests and, per accepted test, what builds its children."""
    k = node.values.shape[1]
    lo, hi = node.box
    steps = 1e-3 * np.where(hi > lo, hi - lo, np.maximum(np.abs(hi), 1.0))
    derivs = derivatives(node.fn, node.values[ctx.deriv_rows], steps)
    tests, builders = [], {}
    for A, B in _partitions(k, max_small):
        for test in (_additive_test, _multiplicative_test):
            t, parts = test(node, A, B, ctx, derivs)
            tests.append(t)
            if t.accepted:
                builders[id(t)] = ("separable", A, B, parts)
    for i, j in itertools.combinations(range(k), 2):  # g(x_i - x_j) = g'(x_j - x_i): one order
        for sym in SYMMETRIES:
            t, _ = _symmetry_test(node, sym, i, j, ctx, derivs)
            tests.append(t)
            if t.accepted:
                builders[id(t)] = ("symmetry", sym, i, j, 0.0)
        for a, b in ((i, j), (j, i)):  # f = x_b^k g(x_a / x_b): the factor's variable matters
            t, _ = _homogeneity_test(node, a, b, ctx, derivs)
            if t is not None:
                tests.append(t)
                if t.accepted:
                    builders[id(t)] = ("symmetry", SYMMETRIES[2], a, b, t.degree)
    for c in range(k):
        t, parts = _affine_test(node, c, ctx, derivs)
        if t is not None:
            tests.append(t)
            if t.accepted:
                builders[id(t)] = ("affine", c, parts)
    return tests, builders


def _grow(node: _Node, ctx: _Context, rng, depth: int, max_depth: int, deadline: float,
          max_small) -> StructureNode:
    k = node.values.shape[1]
    if k == 1:
        return StructureNode("leaf", node.variables, [], problem=node, note="one variable")
    if depth >= max_depth or time.time() > deadline:
        return StructureNode("leaf", node.variables, [], problem=node,
                             note="depth or time limit reached: solved as one problem")
    tests, builders = _test_node(node, ctx, max_small)
    accepted = [t for t in tests if t.accepted]
    separable = [t for t in accepted if t.kind in ("additive", "multiplicative")]
    symmetric = [t for t in accepted if t.kind in ("symmetry", "homogeneous")]
    affine = [t for t in accepted if t.kind == "affine"]
    pick = min(separable or symmetric or affine, key=lambda t: (t.excess, t.kind != "additive"), default=None)
    if pick is None:
        return StructureNode("leaf", node.variables, tests, problem=node,
                             note="no structure accepted at the noise level: solved as one problem")
    how = builders[id(pick)]
    if how[0] == "separable":
        _, A, B, parts = how
        kids = _children_separable(pick.kind, node, A, B, parts, ctx.n_child_anchors, rng, ctx.anchors)
        note = (f"{pick.kind} separability accepted with the smallest excess "
                f"({pick.excess:.3g} <= {pick.threshold:.3g})")
        children = [_grow(c, ctx, rng, depth + 1, max_depth, deadline, max_small) for c in kids]
        return StructureNode(pick.kind, node.variables, tests, pick, children, problem=node, note=note)
    if how[0] == "affine":
        _, c, parts = how
        note = (f"no separability or symmetry accepted; affinity in {node.variables[c]} accepted with the "
                f"smallest excess ({pick.excess:.3g} <= {pick.threshold:.3g}): intercept and slope")
        children = [_grow(kid, ctx, rng, depth + 1, max_depth, deadline, max_small)
                    for kid in _children_affine(node, c, parts)]
        return StructureNode("affine", node.variables, tests, pick, children, problem=node, note=note,
                             factor=node.variables[c])
    _, sym, i, j, degree = how
    child = _child_symmetry(node, sym, i, j, max(1, ctx.n_orbit // 2), degree)
    what = f"symmetry ({pick.op})" if pick.kind == "symmetry" else f"homogeneity of degree {degree:g}"
    note = (f"no separability accepted; {what} accepted with the smallest excess "
            f"({pick.excess:.3g} <= {pick.threshold:.3g})")
    factor = node.variables[j] ** sp.nsimplify(degree) if degree else None
    return StructureNode("symmetry", node.variables, tests, pick,
                         [_grow(child, ctx, rng, depth + 1, max_depth, deadline, max_small)],
                         problem=node, note=note, factor=factor)


def decompose(X, y, symbols, *, seed: int = 0, surrogate: Surrogate | None = None,
              n_anchors: int = 32, n_child_anchors: int = 12, n_orbit: int = 8,
              n_derivative_rows: int = 32, max_depth: int = 4, time_limit: float = 30.0,
              max_small_for_many: int = 2) -> Decomposition:
    """Test separability and symmetries on a surrogate of ``y = f(X)`` and split recursively.

    Args:
        X, y: the samples (rows the caller may hold out for choosing the law should not be
            given here).
        symbols: one sympy symbol per column; the tree's variables are expressions in them.
        surrogate: a fitted :class:`Surrogate`; default :func:`fit_surrogate` on ``(X, y)``.
        n_anchors: rows averaged over by the projections of a test.
        n_child_anchors, n_orbit: the same for the sub-problems' functions (their cost
            multiplies down the tree).
        max_depth, time_limit: beyond them (seconds of testing after the surrogate's fit) a
            node is solved as one problem.
        max_small_for_many: with more than six variables only splits whose smaller side has at
            most this many variables are tested.

    Returns:
        the :class:`Decomposition`; call :meth:`Decomposition.solve` to get proposals.
    """
    t0 = time.time()
    X = np.asarray(X, np.float64)
    y = np.asarray(y, np.float64)
    if X.ndim != 2 or X.shape[1] != len(symbols) or len(y) != len(X):
        raise ValueError(f"X must be (N, {len(symbols)}) and y (N,), got {X.shape} and {y.shape}")
    sur = surrogate if surrogate is not None else fit_surrogate(X, y, seed=seed)
    deadline = time.time() + time_limit  # for the tests; the surrogate's fit is not counted
    rng = np.random.default_rng(seed + 1)
    val = np.asarray(sur.heldout)
    fit_rows = np.setdiff1d(np.arange(len(y)), val)
    noise_var = max(sur.noise_var, NOISE_FLOOR * float(np.var(y)))
    ctx = _Context(y_val=y[val], ref_sq=(sur(X[val]) - y[val]) ** 2, noise_var=noise_var,
                   anchors=rng.choice(fit_rows, size=min(n_anchors, len(fit_rows)), replace=False),
                   n_child_anchors=n_child_anchors, n_orbit=n_orbit, val=val,
                   deriv_rows=val[:n_derivative_rows])
    root = _Node(sur, X, lambda g: g(X[val]), y, list(symbols))
    max_small = max_small_for_many if X.shape[1] > 6 else None
    tree = _grow(root, ctx, rng, 0, max_depth, deadline, max_small)
    return Decomposition(tree, sur.noise_var, float(np.var(y)), len(val), time.time() - t0, sur)
