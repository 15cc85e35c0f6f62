"""Recover closed forms of the unknown terms of a trained universal differential equation.

Procedure (after Rackauckas et al. 2020, section 2.1, with an explicit model-selection step):

1. **Sample** the trained UDE's trajectory densely over the observed time span and evaluate
   each unknown network there — its training domain, never an extrapolation.
2. **Propose** sparse polynomial forms by STLSQ (:func:`~sciml.dynamics.sindy.stlsq`) over
   a sweep of thresholds; each distinct support (set of monomials per unknown) is a
   candidate law.
3. **Refit** each candidate's coefficients (and any identified parameters) jointly through
   the ODE solve against the *data* (L-BFGS), so the constants are not limited by how well
   the network learned the term.
4. **Select** the candidate with the lowest Bayesian information criterion
   :math:`n \\log(\\mathrm{MSE}) + k \\log n` on the data (``k`` = number of coefficients):
   a spurious term must pay for itself in data fit.
"""

from __future__ import annotations

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
    solver: ODESolver = ODESolver(rtol=1e-6, atol=1e-8),
    refit_steps: int = 100,
) -> dict:
    """Candidate laws for the problem's unknown terms, refitted and ranked by BIC.

    Args:
        samples_u: ``(N, n_states)`` states along the fitted trajectory.
        unknown_values: ``(N, n_unknowns)`` learned term values at those states.
        ts, ys: the data (``(T,)``, ``(B, T, n)``, ``NaN`` = unobserved).
        theta0: current identified parameter values.
        u0: ``(B, n)`` fitted initial states (refitted too).

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

    # Candidate supports from an STLSQ threshold sweep (the same threshold for every unknown).
    candidates: dict[tuple, list[np.ndarray]] = {}
    for thr in thresholds:
        coefs = [stlsq(Xs[j], unknown_values[:, j], thr)[:, 0] for j in range(len(libs))]
        key = tuple(tuple(bool(c != 0) for c in cj) for cj in coefs)
        if any(not any(k) for k in key) and len(candidates):
            continue  # an empty term is kept only if nothing else was proposed
        candidates.setdefault(key, coefs)

    ts_j = jnp.asarray(ts, jnp.float32)
    ys_j = jnp.asarray(ys, jnp.float32)
    n_obs = int(np.isfinite(ys).sum())

    def loss(params, masks):
        coefs, theta, u0 = params

        def field(t, u):
            vals = []
            for j, g in enumerate(compiled.unknown_inputs):
                vals.append(_features(g(t, u), exps[j]) @ (coefs[j] * masks[j]))
            uv = jnp.stack(vals, -1) if vals else jnp.zeros(u.shape[:-1] + (0,))
            return compiled.rhs(t, u, theta, uv)

        pred = jax.vmap(lambda y0: integrate(field, y0, ts_j, solver))(u0)
        return masked_mse(pred, ys_j)

    @jax.jit
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

    results = []
    theta0 = jnp.asarray(theta0, jnp.float32).reshape(-1)
    for key, coefs in candidates.items():
        masks = [jnp.asarray(k, jnp.float32) for k in key]
        params = ([jnp.asarray(c, jnp.float32) for c in coefs], theta0, jnp.asarray(u0, jnp.float32))
        (c_fit, th_fit, u0_fit), mse = refit(params, masks)
        mse = float(mse)
        k = int(sum(sum(m) for m in key)) + len(theta0)
        bic = n_obs * np.log(mse) + k * np.log(n_obs) if np.isfinite(mse) and mse > 0 else np.inf
        exprs = {}
        for j, un in enumerate(problem.unknowns):
            cj = np.asarray(c_fit[j], np.float64) * np.asarray(key[j], float)
            exprs[un.func.__name__] = sp.Add(*[sp.Float(float(f"{c:.6g}")) * t for c, t in zip(cj, libs[j]) if c != 0])
        results.append({"expressions": exprs, "theta": np.asarray(th_fit, np.float64), "u0": np.asarray(u0_fit, np.float64), "mse": mse, "bic": float(bic), "n_terms": k})
    results.sort(key=lambda r: r["bic"])
    best = results[0]
    return {
        "expressions": best["expressions"],
        "theta": best["theta"],
        "u0": best["u0"],
        "candidates": [
            {"expressions": {n: str(e) for n, e in r["expressions"].items()}, "data_mse": r["mse"], "bic": r["bic"], "n_coefficients": r["n_terms"]}
            for r in results
        ],
    }
