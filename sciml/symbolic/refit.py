"""Joint refit of every constant of a formula, and rounding that is kept only if it is free.

Edge-by-edge fitting leaves each constant right *locally*; errors compound once edges are
composed (the reason pykan's composed formulas can predict far worse than the network).
:func:`refit` treats every floating-point number in a sympy expression as a parameter and
minimises the squared error of the *whole* formula against the data with Levenberg–Marquardt
in float64 JAX. :func:`round_constants` then tries to replace each constant by a simple
number (``0``, small rationals, rational multiples of ``pi``, ``sqrt`` of small rationals),
re-fitting the others with that one fixed, and keeps a rounding only when the mean squared
error does not grow beyond what fixing a parameter at its true value costs under noise:

.. math::
    \\mathrm{MSE}_\\text{rounded} \\le \\mathrm{MSE}_\\text{fit}\\,(1 + (10 + 2k)/n)
    + 10^{-14}\\,\\mathrm{Var}(y)

(``k`` constants fixed so far, ``n`` samples; fixing a parameter at its true value raises the
sum of squares by a :math:`\\sigma^2\\chi^2_1` amount, so the allowance is a few ``sigma^2/n``
per constant, and a tiny floor for noiseless data).

:func:`clean` chains both with simplification, twice, because simplification exposes new
constants (``exp(log(x) + d) -> e^d x``) and rounding exposes new simplifications.
"""

from __future__ import annotations

import dataclasses
import math
from fractions import Fraction

import jax
import jax.numpy as jnp
import numpy as np
import sympy as sp

__all__ = ["refit", "round_constants", "clean", "simplify", "evaluate", "CleanResult"]


def _float_atoms(expr: sp.Expr) -> list[sp.Float]:
    return sorted(expr.atoms(sp.Float), key=lambda f: (abs(float(f)), str(f)))


def _parametrise(expr, symbols):
    consts = _float_atoms(expr)
    params = sp.symbols(f"_p0:{len(consts)}") if consts else ()
    templ = expr.xreplace(dict(zip(consts, params)))
    return templ, list(params), np.array([float(c) for c in consts], dtype=np.float64)


def _lambdify(templ, symbols, params):
    f = sp.lambdify([list(symbols), list(params)], templ, modules="jax")

    def g(X, theta):
        out = f([X[:, i] for i in range(X.shape[1])], [theta[i] for i in range(theta.shape[0])])
        return jnp.broadcast_to(jnp.asarray(out, dtype=X.dtype), (X.shape[0],))

    return g


def evaluate(expr, symbols, X) -> np.ndarray:
    """Evaluate ``expr`` on the columns of ``X`` (float64, NaN where undefined)."""
    X = np.asarray(X, dtype=np.float64)
    with jax.enable_x64(True):
        g = _lambdify(expr, symbols, [])
        with np.errstate(all="ignore"):
            return np.asarray(g(jnp.asarray(X), jnp.zeros((0,))))


def _lm(g, X, y, theta0, mask, steps):
    """Masked Levenberg–Marquardt on ``sum (g(X, theta) - y)^2`` (masked entries stay fixed)."""

    def resid(th):
        return g(X, th) - y

    def loss(th):
        r = resid(th)
        return jnp.where(jnp.all(jnp.isfinite(r)), (r**2).mean(), jnp.inf)

    k = theta0.shape[0]

    def body(carry, _):
        th, lam, cur = carry
        r = resid(th)
        jac = jax.jacfwd(resid)(th) * mask[None, :]
        jac = jnp.where(jnp.isfinite(jac), jac, 0.0)
        r = jnp.where(jnp.isfinite(r), r, 0.0)
        h = jac.T @ jac
        damp = lam * (jnp.diag(h) + 1e-12) + (1.0 - mask)  # masked rows -> identity
        step = jnp.linalg.solve(h + jnp.diag(damp), jac.T @ r) * mask
        new = th - step
        new_loss = loss(new)
        better = jnp.isfinite(new_loss) & (new_loss < cur)
        th = jnp.where(better, new, th)
        cur = jnp.where(better, new_loss, cur)
        lam = jnp.clip(jnp.where(better, lam * 0.3, lam * 10.0), 1e-15, 1e12)
        return (th, lam, cur), None

    (th, _, cur), _ = jax.lax.scan(body, (theta0, 1e-3, loss(theta0)), None, length=steps)
    return th, cur


class _Problem:
    """A parametrised formula with a compiled masked-LM solver (compiled once per formula)."""

    def __init__(self, expr, symbols, X, y, steps):
        self.templ, self.params, self.theta = _parametrise(expr, symbols)
        self.symbols = symbols
        self.n = len(y)
        with jax.enable_x64(True):
            self.X = jnp.asarray(X, dtype=jnp.float64)
            self.y = jnp.asarray(y, dtype=jnp.float64)
            g = _lambdify(self.templ, symbols, self.params)
            self._solve = jax.jit(lambda th, m: _lm(g, self.X, self.y, th, m, steps))
            self._loss = jax.jit(lambda th: jnp.mean((g(self.X, th) - self.y) ** 2))

    def solve(self, theta, mask):
        if len(theta) == 0:
            return theta, self.loss(theta)
        with jax.enable_x64(True):
            th, cur = self._solve(jnp.asarray(theta), jnp.asarray(mask, dtype=jnp.float64))
            return np.asarray(th), float(cur)

    def loss(self, theta):
        with jax.enable_x64(True), np.errstate(all="ignore"):
            v = float(self._loss(jnp.asarray(theta, dtype=jnp.float64)))
        return v if math.isfinite(v) else math.inf

    def expr(self, theta, exact: dict | None = None):
        exact = exact or {}
        sub = {p: exact.get(i, sp.Float(float(t), 15)) for i, (p, t) in enumerate(zip(self.params, theta))}
        return self.templ.xreplace(sub)


def refit(expr: sp.Expr, symbols, X, y, *, steps: int = 200) -> tuple[sp.Expr, float]:
    """Refit all float constants of ``expr`` jointly; returns ``(expr, mse)``.

    The refit is kept only if it lowers the error (it never makes a formula worse).
    """
    prob = _Problem(expr, symbols, X, y, steps)
    start = prob.loss(prob.theta)
    if len(prob.theta) == 0:
        return expr, start
    th, cur = prob.solve(prob.theta, np.ones(len(prob.theta)))
    if not (cur < start) and math.isfinite(start):
        return expr, start
    return prob.expr(th), cur


_PI_POWERS = [(sp.Integer(1), 1.0), (sp.pi, math.pi), (1 / sp.pi, 1 / math.pi),
              (sp.pi**2, math.pi**2), (sp.pi**-2, math.pi**-2), (sp.sqrt(sp.pi), math.sqrt(math.pi)),
              (1 / sp.sqrt(sp.pi), 1 / math.sqrt(math.pi)),
              (sp.sqrt(2 * sp.pi), math.sqrt(2 * math.pi)),
              (1 / sp.sqrt(2 * sp.pi), 1 / math.sqrt(2 * math.pi))]


def _candidates(v: float, max_den: int = 12, rel: float = 0.02) -> list[tuple[int, sp.Expr, float]]:
    """Simple numbers near ``v`` as ``(cost, sympy value, float value)``, cheapest first."""
    out = [(0, sp.Integer(0), 0.0)]
    for basis, bval in _PI_POWERS:
        fr = Fraction(v / bval).limit_denominator(max_den)
        if fr.numerator == 0 or abs(fr.numerator) > (64 if bval == 1.0 else 12):
            continue
        val = float(fr) * bval
        if abs(val - v) <= rel * abs(v):
            cost = 1 + (fr.denominator != 1) + (bval != 1.0) + len(str(abs(fr.numerator))) // 2
            out.append((cost, sp.Rational(fr.numerator, fr.denominator) * basis, val))
    fr = Fraction(v * v).limit_denominator(max_den)
    if 0 < fr.numerator <= max_den and abs(math.copysign(math.sqrt(float(fr)), v) - v) <= rel * abs(v):
        root = sp.sqrt(sp.Rational(fr.numerator, fr.denominator))
        if not root.is_Rational:
            out.append((3, sp.sign(v) * root, math.copysign(math.sqrt(float(fr)), v)))
    seen, uniq = set(), []
    for c in sorted(out, key=lambda t: (t[0], abs(t[2] - v))):
        if c[2] not in seen:
            seen.add(c[2])
            uniq.append(c)
    return uniq


def round_constants(expr: sp.Expr, symbols, X, y, *, steps: int = 100, max_tries: int = 3,
                    refit_first: bool = False) -> tuple[sp.Expr, float]:
    """Replace constants by simple exact numbers wherever the fit does not suffer.

    With ``refit_first`` all constants are first refitted jointly (same compiled solver).
    Returns ``(expr, mse)``; see the module docstring for the acceptance rule.
    """
    prob = _Problem(expr, symbols, X, y, steps)
    k = len(prob.theta)
    if k == 0:
        return expr, prob.loss(prob.theta)
    theta, mask = prob.theta.copy(), np.ones(k)
    ref = prob.loss(theta)
    if refit_first:
        th, cur = prob.solve(theta, mask)
        if cur < ref or not math.isfinite(ref):
            theta, ref = th, cur
    var_y = float(np.var(y))
    exact: dict[int, sp.Expr] = {}
    # constants closest to a simple number first
    order = sorted(range(k), key=lambda i: min(abs(c[2] - theta[i]) / (abs(theta[i]) + 1e-300)
                                                for c in _candidates(theta[i])))
    for i in order:
        for cost, value, fval in _candidates(float(theta[i]))[:max_tries + 1]:
            trial, m = theta.copy(), mask.copy()
            trial[i], m[i] = fval, 0.0
            trial, cur = prob.solve(trial, m) if m.any() else (trial, prob.loss(trial))
            n_fixed = int(k - m.sum())
            if cur <= ref * (1.0 + (10.0 + 2.0 * n_fixed) / prob.n) + 1e-14 * var_y:
                theta, mask = trial, m
                exact[i] = value
                break
    return prob.expr(theta, exact), prob.loss(theta)


def fold_numbers(expr: sp.Expr) -> sp.Expr:
    """Fold numeric sub-products/sums that contain a float into one float
    (``0.0317*sqrt(2)*sqrt(pi)*x -> 0.0796*x``) so rounding sees the combined constant."""
    if expr.is_Atom:
        return expr
    args = [fold_numbers(a) for a in expr.args]
    if expr.is_Mul or expr.is_Add:
        num = [a for a in args if not a.free_symbols]
        if len(num) > 1 and any(a.has(sp.Float) for a in num):
            rest = [a for a in args if a.free_symbols]
            return expr.func(sp.Float(complex(expr.func(*num).evalf()).real), *rest)
    return expr.func(*args)


def simplify(expr: sp.Expr, max_ops: int = 80) -> sp.Expr:
    """Cheap, predictable simplification: expand products of sums and powers of sums,
    split ``exp`` of sums, drop zero terms; full ``sympy.simplify`` only for small formulas and
    only when it makes the formula shorter."""
    e = sp.expand(expr, power_exp=True, log=False, mul=True, multinomial=True, basic=True)
    e = fold_numbers(sp.powsimp(e))
    if sp.count_ops(e) > sp.count_ops(expr):
        e = expr
    if sp.count_ops(e) <= max_ops:
        try:
            s = sp.simplify(e)
            if sp.count_ops(s) < sp.count_ops(e):
                e = fold_numbers(s)
        except Exception:  # sympy can raise on exotic forms; the unsimplified formula is fine
            pass
    return e


@dataclasses.dataclass
class CleanResult:
    expr: sp.Expr
    mse_before: float
    mse_refit: float
    mse: float


def clean(expr: sp.Expr, symbols, X, y, *, rounds: int = 2) -> CleanResult:
    """simplify -> joint refit -> round (twice): the formula's final form and its errors."""
    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    before = _mse(expr, symbols, X, y)
    e = simplify(expr)
    refit_mse = None
    for r in range(rounds):
        prev = e
        e, m = round_constants(e, symbols, X, y, refit_first=True)
        refit_mse = m if refit_mse is None else refit_mse
        e = simplify(e)
        if e == prev or not e.atoms(sp.Float):
            break  # nothing new for another round
    return CleanResult(e, before, refit_mse, _mse(e, symbols, X, y))


def _mse(expr, symbols, X, y) -> float:
    with np.errstate(all="ignore"):
        p = evaluate(expr, symbols, X)
        v = float(np.mean((p - y) ** 2))
    return v if math.isfinite(v) else math.inf
