"""Recover closed forms of the unknown terms of a trained universal differential equation.

Procedure (after Rackauckas et al. 2020, section 2.1, with an explicit model-selection step):

1. **Sample** the trained UDE's trajectory densely over the observed time span and evaluate
   each unknown network there — its training domain, never an extrapolation.
2. **Propose** sparse polynomial forms by STLSQ (:func:`~sciml.dynamics.sindy.stlsq`) over
   a sweep of thresholds; each distinct support (set of monomials per unknown) is a
   candidate law. Every combination of single monomials (one per unknown) is added when
   there are at most ``max_single`` of them: on a single short trajectory, library columns
   are nearly collinear along the observed curve, so the learned term alone cannot always
   tell ``x y`` from ``y`` — the data must.
3. **Refit** each candidate's coefficients, identified parameters and initial states (unless
   the initial condition is known) jointly through the ODE solve against the *data* (L-BFGS,
   all candidates vectorised with ``vmap``), so the constants are not limited by how well
   the network learned the term.
4. **Select** the candidate with the lowest Bayesian information criterion
   :math:`n \\log(\\mathrm{MSE}) + k \\log n` on the data (``k`` = number of coefficients):
   a spurious term must pay for itself in data fit.
"""

from __future__ import annotations

import itertools
from typing import Sequence

import jax
import jax.numpy as jnp
import numpy as np
import optax
import sympy as sp

from sciml.dynamics.node import ODESolver, integrate
from sciml.dynamics.sindy import evaluate_library, polynomial_library, stlsq
from sciml.dynamics.training import masked_mse

__all__ = ["recover_unknown_terms"]


def _exponents(terms: Sequence[sp.Expr], symbols: Sequence[sp.Symbol]) -> tuple[tuple[int, ...], ...]:
    out = []
    for t in terms:
        powers = sp.Poly(t, *symbols).monoms()[0] if t != 1 else (0,) * len(symbols)
        out.append(tuple(int(p) for p in powers))
    return tuple(out)


def _features(x: jax.Array, exps) -> jax.Array:
    """Monomials ``prod_i x_i^{e_i}`` (static integer powers) -> ``(..., n_terms)``."""
    cols = []
    for row in exps:
        v = jnp.ones(x.shape[:-1], x.dtype)
        for i, e in enumerate(row):
            if e:
                v = v * x[..., i] ** e
        cols.append(v)
    return jnp.stack(cols, -1)


def recover_unknown_terms(
    problem,
    compiled,
    samples_u: np.ndarray,
    samples_t: float,
    unknown_values: np.ndarray,
    ts: np.ndarray,
    ys: np.ndarray,
    theta0: np.ndarray,
    u0: np.ndarray,
    *,
    degree: int = 2,
    thresholds: Sequence[float] | None = None,
    refit_steps: int = 40,
    single_terms: bool = True,
    max_single: int = 64,
    fit_initial: bool = True,
) -> dict:
    """Candidate laws for the problem's unknown terms, refitted and ranked by BIC.

    Args:
        samples_u: ``(N, n_states)`` states along the fitted trajectory.
        unknown_values: ``(N, n_unknowns)`` learned term values at those states.
        ts, ys: the data (``(T,)``, ``(B, T, n)``, ``NaN`` = unobserved).
        theta0: current identified parameter values.
        u0: ``(B, n)`` fitted initial states, refitted too unless ``fit_initial=False``
            (a known initial condition, held fixed).

    Returns:
        ``{"expressions": {name: sympy expr}, "theta": array, "candidates": [...]}``.
    """
    thresholds = np.geomspace(0.02, 1.0, 10) if thresholds is None else thresholds
    libs, exps, Xs = [], [], []
    for un in problem.unknowns:
        inputs = list(un.args)
        lib = polynomial_library(inputs, degree)
        X = np.stack([samples_u[:, problem.states.index(a)] if a in problem.states else np.full(len(samples_u), samples_t) for a in inputs], -1)
        libs.append(lib)
        exps.append(_exponents(lib, inputs))
        Xs.append(evaluate_library(lib, inputs, X))

    # Candidate supports: an STLSQ threshold sweep on the learned terms (same threshold for
    # every unknown), plus every combination of single monomials (one per unknown) when that
    # is a small set, so that the simplest forms always compete on the data.
    candidates: dict[tuple, tuple[list[np.ndarray], str]] = {}
    for thr in thresholds:
        coefs = [stlsq(Xs[j], unknown_values[:, j], thr)[:, 0] for j in range(len(libs))]
        key = tuple(tuple(bool(c != 0) for c in cj) for cj in coefs)
        if not all(any(k) for k in key):
            continue
        candidates.setdefault(key, (coefs, "stlsq"))
    n_single = int(np.prod([len(lib) for lib in libs])) if libs else 0
    if single_terms and 0 < n_single <= max_single:
        for combo in itertools.product(*[range(len(lib)) for lib in libs]):
            key, coefs = [], []
            for j, k in enumerate(combo):
                m = np.zeros(len(libs[j]), bool)
                m[k] = True
                col = Xs[j][:, k]
                coefs.append(np.where(m, float(col @ unknown_values[:, j] / max(col @ col, 1e-12)), 0.0))
                key.append(tuple(m))
            candidates.setdefault(tuple(key), (coefs, "single-term"))
    if not candidates:
        raise ValueError("no candidate law: the learned unknown terms are zero everywhere")

    ts_j = jnp.asarray(ts, jnp.float32)
    ys_j = jnp.asarray(ys, jnp.float32)
    n_obs = int(np.isfinite(ys).sum())
    # Fixed small steps: every candidate is integrated the same way (vectorised refit).
    refit_solver = ODESolver("tsit5", dt=float(ts[-1] - ts[0]) / 150.0, max_steps=200)

    def loss(params, masks):
        coefs, theta, u0 = params
        if not fit_initial:
            # Zero gradient: L-BFGS then never moves the known initial state.
            u0 = jax.lax.stop_gradient(u0)

        def field(t, u):
            vals = []
            for j, g in enumerate(compiled.unknown_inputs):
                vals.append(_features(g(t, u), exps[j]) @ (coefs[j] * masks[j]))
            uv = jnp.stack(vals, -1) if vals else jnp.zeros(u.shape[:-1] + (0,))
            return compiled.rhs(t, u, theta, uv)

        pred = jax.vmap(lambda y0: integrate(field, y0, ts_j, refit_solver))(u0)
        return masked_mse(pred, ys_j)

    def refit(params, masks):
        f = lambda p: loss(p, masks)
        opt = optax.lbfgs()
        vg = optax.value_and_grad_from_state(f)

        def body(_, carry):
            p, st, best_p, best_v = carry
            v, g = vg(p, state=st)
            upd, st = opt.update(g, st, p, value=v, grad=g, value_fn=f)
            new_p = optax.apply_updates(p, upd)
            better = jnp.isfinite(v) & (v < best_v)
            best_p = jax.tree.map(lambda a, b: jnp.where(better, a, b), p, best_p)
            best_v = jnp.where(better, v, best_v)
            return new_p, st, best_p, best_v

        init = (params, opt.init(params), params, jnp.asarray(jnp.inf, jnp.float32))
        _, _, best_p, _ = jax.lax.fori_loop(0, refit_steps, body, init)
        return best_p, f(best_p)

    keys = list(candidates)
    C = len(keys)
    theta0 = jnp.asarray(theta0, jnp.float32).reshape(-1)
    coef_b = [jnp.asarray(np.stack([candidates[k][0][j] for k in keys]), jnp.float32) for j in range(len(libs))]
    mask_b = [jnp.asarray(np.stack([k[j] for k in keys]), jnp.float32) for j in range(len(libs))]
    params_b = (coef_b, jnp.broadcast_to(theta0, (C,) + theta0.shape), jnp.broadcast_to(jnp.asarray(u0, jnp.float32), (C,) + np.shape(u0)))
    (c_fit, th_fit, u0_fit), mses = jax.jit(jax.vmap(refit))(params_b, mask_b)

    results = []
    for i, key in enumerate(keys):
        mse = float(mses[i])
        k = int(sum(sum(m) for m in key)) + len(theta0)
        bic = n_obs * np.log(mse) + k * np.log(n_obs) if np.isfinite(mse) and mse > 0 else np.inf
        exprs = {}
        for j, un in enumerate(problem.unknowns):
            cj = np.asarray(c_fit[j][i], np.float64) * np.asarray(key[j], float)
            exprs[un.func.__name__] = sp.Add(*[sp.Float(float(f"{c:.6g}")) * t for c, t in zip(cj, libs[j]) if c != 0])
        results.append({"expressions": exprs, "theta": np.asarray(th_fit[i], np.float64), "u0": np.asarray(u0_fit[i], np.float64),
                        "mse": mse, "bic": float(bic), "n_terms": k, "source": candidates[key][1]})
    results.sort(key=lambda r: r["bic"])
    best = results[0]
    return {
        "expressions": best["expressions"],
        "theta": best["theta"],
        "u0": best["u0"],
        "candidates": [
            {"expressions": {n: str(e) for n, e in r["expressions"].items()}, "data_mse": r["mse"], "bic": r["bic"],
             "n_coefficients": r["n_terms"], "proposed_by": r["source"]}
            for r in results[:12]
        ],
    }
