"""Built-in search: a ``[n, 1, 1]`` KAN fitted in closed form, then distilled edge by edge.

Many laws are *separable after an output transform*: ``T(y) = sum_i g_i(x_i)`` with
``T`` in {identity, log, 1/y, sqrt, y^2} — products of powers become sums under ``log``
(Coulomb, Newton), ``exp(sin(pi x) + y^2)`` is additive in ``log y``, Euclidean norms are
additive in ``y^2``. That is exactly a KAN of shape ``[n, 1, 1]`` whose last edge is ``T^-1``.

For each admissible ``T`` we fit the additive model with cubic B-spline edges by *linear*
least squares (a generalised additive model; the spline coefficients enter linearly, so no
training loop), read off each learned edge ``g_i`` on the data, and distil all edges with the
batched primitive fit of :mod:`sciml.symbolic.fit`. Composition gives one candidate formula per
transform; :func:`sciml.symbolic.refit.clean` then refits every constant jointly against the
untransformed data and rounds what it can.

Reference: T. Hastie, R. Tibshirani, *Generalized Additive Models* (1990); S.-M. Udrescu,
M. Tegmark, *AI Feynman* (2020) for separability tests under output transforms.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import sympy as sp
from scipy.interpolate import BSpline

from .fit import EdgeChoice, fit_edges
from .primitives import Library, edge_formula

__all__ = ["TRANSFORMS", "Transform", "spline_design", "spline_additive_fit", "pair_structures",
           "input_structures", "additive_candidates"]


@dataclasses.dataclass(frozen=True)
class Transform:
    name: str
    forward: object  # numpy y -> T(y)
    inverse: object  # sympy s -> y
    valid: object  # numpy y -> bool
    inverse_np: object  # numpy T(y) -> y
    slope: object = None  # numpy y -> T'(y), for the delta-method weights; None: linear


def _mostly_positive(y) -> bool:
    """Positive, up to a few values within noise of zero (a Gaussian tail measured with
    additive noise dips below zero; it is still a positive law)."""
    bad = y <= 0
    if not bad.any():
        return True
    rms = float(np.sqrt(np.mean(y**2)))
    return bool(bad.mean() <= 0.03 and np.all(np.abs(y[bad]) <= 0.05 * rms))


def _positive(y):
    """``y`` with non-positive values (noise, see :func:`_mostly_positive`) raised to half
    the smallest positive one; the delta-method weights give those rows almost no say."""
    if np.all(y > 0):
        return y
    return np.where(y > 0, y, 0.5 * np.min(y[y > 0]))


TRANSFORMS = [
    Transform("identity", lambda y: y, lambda s: s, lambda y: True, lambda t: t),
    Transform("log", lambda y: np.log(_positive(y)), sp.exp, _mostly_positive, np.exp,
              lambda y: 1.0 / _positive(y)),
    Transform("log(-y)", lambda y: np.log(_positive(-y)), lambda s: -sp.exp(s),
              lambda y: _mostly_positive(-y), lambda t: -np.exp(t), lambda y: 1.0 / _positive(-y)),
    Transform("1/y", lambda y: 1.0 / y, lambda s: 1 / s,
              lambda y: bool(np.all(y > 0) or np.all(y < 0)), lambda t: 1.0 / t, lambda y: -1.0 / y**2),
    # inverse_np is only used to judge fits in y: clipped to the domain, so that a fit a hair
    # below zero at a few noisy points counts as an error there rather than NaN everywhere
    Transform("y^2", lambda y: y**2, sp.sqrt, lambda y: bool(np.all(y > 0)),
              lambda t: np.sqrt(np.maximum(t, 0.0)), lambda y: 2.0 * y),
    Transform("sqrt", lambda y: np.sqrt(np.maximum(y, 0.0)), lambda s: s**2,
              lambda y: _mostly_positive(y) or bool(np.all(y >= 0)), np.square,
              lambda y: 0.5 / np.sqrt(_positive(y))),
    Transform("sin", np.sin, sp.asin, lambda y: bool(np.all(np.abs(y) <= np.pi / 2)),
              lambda t: np.arcsin(np.clip(t, -1.0, 1.0)), np.cos),
]


def spline_design(x, n_knots: int = 10, degree: int = 3, *, uniform: bool = False) -> np.ndarray:
    """Cubic B-spline basis of ``x`` without its first function (an intercept carries the
    constant): ``(N, n_basis)``. Knots at the quantiles of ``x``, or ``uniform`` over its range."""
    lo, hi = float(x.min()), float(x.max())
    if hi - lo < 1e-12:
        return np.zeros((len(x), 0))
    inner = np.linspace(lo, hi, n_knots) if uniform else np.quantile(x, np.linspace(0, 1, n_knots))
    inner = np.unique(np.concatenate([[lo], inner[1:-1], [hi]]))
    t = np.concatenate([[lo] * degree, inner, [hi] * degree])
    B = BSpline.design_matrix(np.clip(x, lo, hi), t, degree).toarray()
    return B[:, 1:]


def _one_blas_thread():
    """Small least-squares problems run fastest on one BLAS thread, and on a shared machine a
    multi-threaded BLAS on a 1000 x 40 matrix mostly waits for other processes."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - threadpoolctl comes with scikit-learn (pyoperon)
        import contextlib
        return contextlib.nullcontext()
    return threadpool_limits(1)


def spline_additive_fit(X, t, n_knots: int = 10, weights=None, weighted=None):
    """Least-squares ``t ≈ beta_0 + sum_i B_i(x_i) beta_i``.

    Returns ``(edge curves, intercept, R^2, fitted t)``. ``t`` may be ``(N,)`` or ``(N, T)``
    (several transformed targets sharing one design matrix, solved in one factorisation);
    curves are then ``(T, n, N)``, intercept and ``R^2`` arrays of length ``T`` and the
    fitted values ``(N, T)``. ``weights`` ``(N, len(weighted))`` makes the columns listed in
    ``weighted`` (default: all) weighted least squares, one solve per column.
    """
    designs = [spline_design(X[:, i], n_knots) for i in range(X.shape[1])]
    A = np.concatenate([np.ones((len(t), 1))] + designs, axis=1)
    single = t.ndim == 1
    t2 = t[:, None] if single else t
    cols = [] if weights is None else list(range(t2.shape[1]) if weighted is None else weighted)
    if len(cols) < t2.shape[1]:
        coef2, *_ = np.linalg.lstsq(A, t2, rcond=None)
    else:
        coef2 = np.empty((A.shape[1], t2.shape[1]))
    if cols:
        w = np.sqrt(weights).reshape(len(t), -1)
        for i, j in enumerate(cols):
            coef2[:, j] = np.linalg.lstsq(A * w[:, i:i + 1], t2[:, j] * w[:, i], rcond=None)[0]
    curves, k = [], 1
    for D in designs:
        curves.append(D @ coef2[k:k + D.shape[1]])  # (N, T)
        k += D.shape[1]
    fitted = A @ coef2
    resid = t2 - fitted
    sst = np.maximum(((t2 - t2.mean(0)) ** 2).sum(0), 1e-300)
    r2 = 1.0 - (resid**2).sum(0) / sst
    curves = np.stack(curves).transpose(2, 0, 1)  # (T, n, N)
    if single:
        return curves[0], float(coef2[0, 0]), float(r2[0]), fitted[:, 0]
    return curves, coef2[0], r2, fitted


PAIR_OPS = [
    ("*", lambda a, b: a * b), ("/", lambda a, b: a / b), ("\\", lambda a, b: b / a),
    ("-", lambda a, b: a - b), ("+", lambda a, b: a + b),
    # squared ratios: relativistic factors sqrt(1 - v^2/c^2) are f(a u + b) in u = (v/c)^2
    ("/^2", lambda a, b: (a / b) ** 2), ("\\^2", lambda a, b: (b / a) ** 2),
    # sums of squares: kinetic energies, norms, omega^2 + omega_0^2
    ("^2+^2", lambda a, b: a**2 + b**2),
]


def pair_structures(label, feats, cols):
    """Every structure made from ``(label, feats, cols)`` by combining two of its features.

    A pair feature ``u = f_i (op) f_j`` replaces one of the two features (both choices are
    tried), so ``exp(-(theta/sigma)^2/2)/sigma`` becomes additive in ``log`` over
    ``(theta/sigma, sigma)`` and ``sqrt((x2-x1)^2 + ...)`` additive in ``y^2``.
    """
    n = cols.shape[1]
    out = []
    for i in range(n):
        for j in range(i + 1, n):
            for name, op in PAIR_OPS:
                with np.errstate(all="ignore"):
                    u = op(cols[:, i], cols[:, j])
                if not np.all(np.isfinite(u)) or np.ptp(u) < 1e-12:
                    continue
                ue = op(feats[i], feats[j])
                for drop in (i, j):
                    keep = [k for k in range(n) if k != drop]
                    new_label = f"{feats[i]}{name}{feats[j]}|-{feats[drop]}"
                    out.append((new_label if label == "x" else f"{label}; {new_label}",
                                [ue] + [feats[k] for k in keep],
                                np.column_stack([u] + [cols[:, k] for k in keep])))
    return out


def input_structures(X, symbols):
    """Input structures: the raw variables, and each pair combined into one feature."""
    return [("x", list(symbols), X)] + pair_structures("x", list(symbols), X)


def _targets(X, y, symbols):
    """Transformed targets ``(name, values, inverse, back, weights)``: ``T(y)``, ``T(y) / x_k``,
    ``T(y) x_k`` and ``T(y) / (x_j x_k)``; ``weights`` (delta method) only on plain ``T(y)``.

    ``inverse`` maps a sympy model of the target back to ``y``; ``back`` does the same for
    fitted values (NumPy), so every target's fit is judged by its error in ``y`` itself.
    Dividing by one input is AI Feynman's multiplicative-separability step for a single
    variable: ``m (u^2 + v^2 + w^2) / 2`` is additive once divided by ``m``, and
    ``asin(n sin(theta))`` once ``sin(y)`` is divided by ``n``.
    """
    out = []
    for T in (T for T in TRANSFORMS if T.valid(y)):
        with np.errstate(all="ignore"):
            t = T.forward(y)
        if not np.all(np.isfinite(t)):
            continue
        weights = None
        if T.slope is not None:
            with np.errstate(all="ignore"):
                weights = 1.0 / T.slope(y) ** 2
            if np.all(np.isfinite(weights)):
                # capped: where T' vanishes (y^2 near y = 0) the observed y is mostly noise
                # and would get an unbounded say
                weights = np.minimum(weights, np.quantile(weights, 0.9))
                weights = weights / np.max(weights)
            else:
                weights = None
        out.append((T.name, t, T.inverse, T.inverse_np, weights))
        for k, x in enumerate(X.T):
            if np.min(np.abs(x)) < 1e-12:
                continue
            sym = symbols[k]
            out.append((f"{T.name}/{sym}", t / x, lambda s, T=T, sym=sym: T.inverse(s * sym),
                        lambda f, T=T, x=x: T.inverse_np(f * x), None))
            out.append((f"{T.name}*{sym}", t * x, lambda s, T=T, sym=sym: T.inverse(s / sym),
                        lambda f, T=T, x=x: T.inverse_np(f / x), None))
        for j in range(X.shape[1]):
            for k in range(j + 1, X.shape[1]):
                x = X[:, j] * X[:, k]
                if np.min(np.abs(x)) < 1e-12:
                    continue
                sym = symbols[j] * symbols[k]
                out.append((f"{T.name}/({sym})", t / x, lambda s, T=T, sym=sym: T.inverse(s * sym),
                            lambda f, T=T, x=x: T.inverse_np(f * x), None))
    return out


TIE = 1.25  # errors within this factor of each other count as tied (the data cannot rank them)
_ZERO_EDGE = EdgeChoice("0", (0.0, 0.0, 0.0, 0.0), 1.0, 0, [])


def _best_per_target(scored, n, per_target=1, depth=None):
    """The ``n`` lowest-error entries, at most ``per_target`` of them per target.

    With ``depth`` (structure index -> nesting level), errors within 25% of each other count
    as tied and the shallower structure goes first: on noisy data a second-level pair
    structure fits the noise a little better than the right first-level one.
    """
    key = lambda s: s[0]  # noqa: E731
    if depth is not None and scored:
        best = max(min(s[0] for s in scored), 1e-300)
        key = lambda s: (math.floor(math.log(max(s[0], best) / best) / math.log(TIE)),  # noqa: E731
                         depth(s[2]), s[0])
    out, seen = [], {}
    for s in sorted(scored, key=key):
        if seen.get(s[1][0], 0) < per_target:
            seen[s[1][0]] = seen.get(s[1][0], 0) + 1
            out.append(s)
            if len(out) == n:
                break
    return out


def additive_candidates(X, y, symbols, library: Library | None = None, *,
                        r2_threshold: float = 0.9, keep_factor: float = 100.0,
                        n_raw: int = 8, n_pairs: int = 16, n_expand: int = 4,
                        n_out: int = 8) -> list[tuple[str, sp.Expr, float]]:
    """Candidate formulas ``T^-1(sum_k g_k(u_k))``: ``(label, expr, spline R^2)``.

    Every admissible transform is tried on the raw variables, and on pair-feature structures
    (:func:`input_structures`); the raw structures within ``keep_factor`` of the best spline error
    and the ``n_pairs`` best pair structures (if they beat the raw ones) are distilled. Edges
    whose best primitive fit is below ``r2_threshold`` are left out of that candidate (the joint
    refit then decides how good the remaining formula is). Returns the ``n_out`` best of the
    pool and the ``n_out // 2`` best of the raw structures tied with it at the noise floor
    that it left out.
    """
    from .primitives import DEFAULT_LIBRARY

    library = DEFAULT_LIBRARY if library is None else library
    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    structures = input_structures(X, symbols)
    scored = []  # (err, transform, structure index, curves, intercept)
    targets = _targets(X, y, symbols)
    if not targets:
        return []
    tmat = np.stack([t[1] for t in targets], axis=1)
    var_y = max(float(np.var(y)), 1e-300)

    # The plain nonlinear transforms T(y) are refitted by weighted least squares with the
    # delta-method weights 1 / T'(y)^2, so their residuals stand for residuals in y: unweighted,
    # log y of a noisy Gaussian tail is dominated by its noisiest, smallest values. (The
    # divided targets keep one shared unweighted solve: weighting each is too slow.)
    plain = [j for j, t in enumerate(targets) if t[4] is not None]
    wmat = np.stack([targets[j][4] for j in plain], axis=1) if plain else None

    def score(first):
        with _one_blas_thread():
            for k in range(first, len(structures)):
                curves, c0, _, fitted = spline_additive_fit(structures[k][2], tmat, weights=wmat,
                                                            weighted=plain)
                for j, target in enumerate(targets):
                    with np.errstate(all="ignore"):
                        err = float(np.mean((target[3](fitted[:, j]) - y) ** 2)) / var_y
                    if math.isfinite(err):
                        scored.append((err, target, k, curves[j], float(c0[j])))

    score(0)
    # Second level: pairs of features of the best first-level pair structures, so two
    # combinations (theta - theta1, then / sigma; x2 - x1 and y2 - y1) can both be found.
    best_pairs = []
    for err, _, k, _, _ in sorted((s for s in scored if s[2] != 0), key=lambda s: s[0]):
        if k not in best_pairs:
            best_pairs.append(k)
        if len(best_pairs) == n_expand:
            break
    first = len(structures)
    for k in best_pairs:
        structures += pair_structures(*structures[k])
    score(first)
    raw = [s for s in scored if s[2] == 0]
    best_raw = min(s[0] for s in raw)
    # The pool: the best structures per target (near-exact spline fits differ by rounding
    # noise, and the target whose edges are simple primitives need not be the first).
    near = [s for s in raw if s[0] <= keep_factor * max(best_raw, 1e-10)]
    pool = _best_per_target(near, n_raw)
    pool += _best_per_target([s for s in scored if s[2] != 0 and s[0] < 0.1 * best_raw], n_pairs,
                             per_target=4, depth=lambda k: int(k >= first))
    # Targets whose spline errors are tied with the pool's (within TIE of the best: on noisy
    # data they all sit at the noise floor) but left out of it: which n_raw of them came first
    # was the noise's choice, and the outer function whose edges are simple primitives (log y
    # of an Arrhenius rate, exp(-b/T)) would be missed by chance. They are distilled too, and
    # their best join the candidates (never in place of the pool's).
    pooled = {id(s) for s in pool}
    extra = [s for s in _best_per_target(near, 4 * n_raw) if id(s) not in pooled and s[0] <= TIE * best_raw]
    n_pool = len(pool)
    pool += extra
    # every learned edge of every pooled structure in one batched fit
    xs = np.concatenate([structures[k][2].T for _, _, k, _, _ in pool])
    ys = np.concatenate([curves for _, _, _, curves, _ in pool])
    choices = fit_edges(xs, ys, library).select(r2_threshold=r2_threshold)
    ranked, pos = [], 0
    for err, (target, t_values, inverse, _, _), k, curves, c0 in pool:
        label, feats, _ = structures[k]
        edges = choices[pos:pos + len(feats)]
        pos += len(feats)
        # A small edge that no primitive matches is the spline's noise, not a term: smaller
        # than 1e-3 of the target's spread, or than half the fit's residual (a spline edge
        # fitted to pure noise has about sqrt(11 / N) of the residual's spread).
        resid = float(np.sqrt(np.mean((t_values - c0 - curves.sum(0)) ** 2)))
        small = max(1e-3 * float(np.std(t_values)), 0.5 * resid)
        edges = [_ZERO_EDGE if ch.numeric and np.std(curve) < small else ch
                 for ch, curve in zip(edges, curves)]
        s = sp.Float(c0)
        for f, ch in zip(feats, edges):
            if ch.numeric or ch.name == "0":
                continue
            s = s + edge_formula(library[ch.name], ch.params, f)
        # Distillability: a structure whose every edge is a primitive beats a slightly
        # better spline fit with an edge no primitive matches.
        worst_edge = max([1.0 - ch.r2 for ch in edges if not ch.numeric and ch.name != "0"], default=0.0)
        n_numeric = sum(ch.numeric for ch in edges)
        cost = sum(ch.complexity for ch in edges if not ch.numeric)
        bucket = math.floor(math.log10(max(worst_edge, err) + 1e-16) / 3)  # three decades wide
        ranked.append(((n_numeric, bucket, cost, err), (f"{target}:{label}", inverse(s), 1.0 - err)))
    first_choice = sorted(ranked[:n_pool], key=lambda r: r[0])[:n_out]
    tied_extra = sorted(ranked[n_pool:], key=lambda r: r[0])[:n_out // 2]
    return [c for _, c in first_choice + tied_extra]
