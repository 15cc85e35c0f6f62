"""``ODEProblem.solve``: train a dynamics surrogate, evaluate it, optionally recover the law.

Models:

* ``node``: neural ODE; each unknown term of the problem is an MLP (a universal
  differential equation), or, if the problem declares no unknown term, the whole right-hand
  side is an MLP;
* ``kan-ode``: the same with KAN networks (``build_model("kan", ...)``);
* ``ltc`` / ``cfc``: liquid sequence surrogates that forecast the trajectory step by step
  with the real elapsed times (see :mod:`sciml.dynamics.liquid`).

With ``symbolify`` (UDE models) the learned unknown terms are sampled along the fitted
trajectory, a sparse polynomial regression (:mod:`sciml.dynamics.sindy`) proposes closed
forms, and their constants are refitted jointly through the ODE solve against the data
(the final parameter estimation step of Rackauckas et al. 2020).
"""

from __future__ import annotations

import time as _time
from typing import TYPE_CHECKING, Any

import jax
import jax.numpy as jnp
import numpy as np
import sympy as sp

from sciml.dynamics.node import NeuralField, NeuralODE, ODESolver, UDEField, integrate_exact
from sciml.dynamics.result import (
    DynamicsResult,
    add_trajectory,
    evaluate,
    finish,
    training_metrics,
    trajectory_arrays,
    trajectory_metrics,
)
from sciml.dynamics.training import FitConfig, fit_trajectories

if TYPE_CHECKING:
    from sciml.dynamics.problem import ODEProblem

__all__ = ["solve_ode_problem", "MODELS", "recover_law"]

MODELS = ("node", "kan-ode", "ltc", "cfc")

_DEFAULTS: dict[str, Any] = {
    "learning_rate": 1e-2,
    "curriculum": (0.5, 1.0),
    "shooting": None,
    "lbfgs_steps": 60,
    "invariant_weight": 0.0,
    "solver": "tsit5",
    "rtol": 1e-4,
    "atol": 1e-6,
    "max_steps": 4096,
    "symbolify": False,
    "degree": 2,
    "threshold": None,
    "progress": False,
}
# Options of each model's networks (the rest are training options).
_NETWORK_KEYS = {
    "node": {"hidden", "activation"},
    "kan-ode": {"hidden", "width", "grid", "order", "basis", "grid_range", "base_activation", "noise_scale"},
    "ltc": {"units", "wiring", "seq_lr"},
    "cfc": {"units", "wiring", "mode", "seq_lr"},
}


def _normalise_options(options: dict, model: str) -> dict:
    """Merge user options with the defaults; the network's options go to ``network_options``.

    The names are those of :func:`sciml.solve` for every problem: ``learning_rate``,
    ``progress``, ``hidden`` (the hidden widths, ``[32, 64]`` is two layers of 32 and 64).
    """
    opts = dict(_DEFAULTS)
    options = dict(options)
    precision = options.pop("precision", None)
    if precision not in (None, "float32"):
        raise ValueError(f"dynamics problems train in float32; precision={precision!r} is not supported")
    net = dict(options.pop("network_options", None) or {})
    net.update({k: options.pop(k) for k in list(options) if k in _NETWORK_KEYS[model]})
    unknown = set(options) - set(_DEFAULTS)
    if unknown:
        raise ValueError(
            f"unknown option(s) {sorted(unknown)} for --model {model} on a dynamics problem; known: "
            f"{sorted(set(_DEFAULTS) | _NETWORK_KEYS[model])}"
        )
    opts.update(options)
    opts["network_options"] = net
    return opts


def solve_ode_problem(
    problem: ODEProblem,
    *,
    model: str | None = None,
    steps: int | None = None,
    seed: int = 0,
    options: dict | None = None,
) -> DynamicsResult:
    """Train ``model`` on ``problem.observations`` and evaluate it (see module docstring).

    Options (all optional): ``learning_rate``, ``curriculum``, ``shooting``, ``lbfgs_steps``,
    ``invariant_weight``, ``solver``, ``rtol``, ``atol``, ``max_steps``, ``symbolify``,
    ``degree``, ``threshold``, ``progress``; the networks' options: ``hidden`` (widths) and
    ``activation`` for ``node``, the KAN's for ``kan-ode``; ``units``, ``wiring``, ``mode`` and
    ``seq_lr`` (their Adam rate, 3e-3) for ``ltc`` / ``cfc``.
    """
    model = model or "node"
    if model not in MODELS:
        raise ValueError(f"unknown dynamics model {model!r}; choose one of {', '.join(MODELS)}")
    if problem.observations is None:
        raise ValueError(f"problem {problem.name!r} has no observations to train on; pass observations=...")
    opts = _normalise_options(options or {}, model)
    if opts["symbolify"] and model in ("ltc", "cfc"):
        raise ValueError("symbolify needs a UDE model (--model node or kan-ode); ltc/cfc forecast trajectories only")
    if opts["symbolify"] and not (problem.unknowns or problem.identify):
        raise ValueError("symbolify recovers unknown terms: declare Unknown(...) terms in the problem")
    start = _time.perf_counter()
    states = problem.state_names
    ts, ys = trajectory_arrays(problem.observations, states)
    if model in ("ltc", "cfc"):
        from sciml.dynamics.forecast import solve_sequence

        return solve_sequence(problem, model, steps, seed, opts, ts, ys, start)

    compiled = problem.compile()
    solver = ODESolver(opts["solver"], rtol=opts["rtol"], atol=opts["atol"], max_steps=opts["max_steps"])
    network = "mlp" if model == "node" else "kan"
    net_opts = opts["network_options"]
    if network == "mlp":
        net_opts = {"final_scale": 0.1} | net_opts
    else:
        # KAN grids must cover the states the unknown terms see (observed range + margin).
        lo, hi = float(np.nanmin(ys)), float(np.nanmax(ys))
        net_opts = {"grid_range": (lo - 0.2 * (hi - lo), hi + 0.2 * (hi - lo))} | net_opts
    if problem.unknowns or problem.identify:
        field = UDEField(compiled, list(problem.identify.values()), network=network, seed=seed, **net_opts)
        kind = "ude"
    else:
        field = NeuralField(len(states), network=network, seed=seed, **net_opts)
        kind = "black-box"
    node = NeuralODE(field, solver)
    # Invariant penalties use the initial guesses of identified parameters (held fixed).
    theta0 = jnp.asarray(list(problem.identify.values()), jnp.float32)
    invariants = {n: (lambda u, g=g: g(u, theta0)) for n, g in compiled.invariants.items()}
    cfg = FitConfig(
        steps=600 if steps is None else int(steps),
        lr=opts["learning_rate"],
        curriculum=tuple(opts["curriculum"]),
        shooting=opts["shooting"],
        invariant_weight=opts["invariant_weight"],
        lbfgs_steps=opts["lbfgs_steps"],
        log_every=100 if opts["progress"] else 0,
    )
    # A declared initial condition is known exactly: held fixed in training and in the law refit.
    known_u0 = None if problem.initial is None else np.broadcast_to(problem.initial_state(), ys[:, 0].shape)
    hist = fit_trajectories(node, ts, ys, cfg, invariants=invariants if cfg.invariant_weight else None,
                            initial_states=known_u0)

    metrics = training_metrics(model, kind, hist, seed, node)
    if problem.identify:
        metrics["identified"] = {str(p): float(v) for p, v in zip(problem.identify, np.asarray(field.theta[...]))}
    u0 = np.asarray(hist["u0"])
    # Roll out from the fitted initial state: the model never sees the clean one.
    ds, tr, yr = evaluate(problem, compiled, ts, ys, lambda tr, yr: _rollout(node, tr, jnp.asarray(u0, jnp.float32)),
                          metrics, field)
    law = None
    if opts["symbolify"]:
        law = recover_law(problem, node, ts, ys, u0, degree=opts["degree"], threshold=opts["threshold"],
                          fit_initial=known_u0 is None)
        if problem.reference is not None:
            law_pred = _law_rollout(problem, law, tr, np.asarray(law["initial_state"]))
            add_trajectory(ds, states, "law", law_pred)
            lm = trajectory_metrics(tr, yr, law_pred, ts[-1], prefix="law_")
            metrics.update(lm)
            law["metrics"] = lm
    return finish(problem, model, metrics, ds, start, law=law, model=node)


# ----------------------------------------------------------------------------- helpers
def _rollout(node, ts, u0):
    return jax.jit(lambda t, y: node(t, y))(jnp.asarray(ts, jnp.float32), u0)


def recover_law(
    problem: ODEProblem,
    node: NeuralODE,
    ts: np.ndarray,
    ys: np.ndarray,
    u0: np.ndarray,
    *,
    degree: int = 2,
    threshold: float | None = None,
    refit_steps: int = 40,
    fit_initial: bool = True,
) -> dict:
    """Closed forms of the learned unknown terms (see :mod:`sciml.dynamics.law`).

    The trained model's trajectory is sampled densely over the observed span, the unknown
    networks are evaluated there, STLSQ proposes sparse polynomial candidates (a threshold
    sweep, or the single ``threshold``), each candidate is refitted through the ODE against the
    data and the lowest-BIC candidate is returned as the ``law.json`` content:
    ``expressions`` maps each unknown to its recovered expression in the state variables,
    ``rhs`` gives the full recovered right-hand sides. ``fit_initial=False`` holds ``u0`` fixed
    (a known initial condition) in the refit.
    """
    from sciml.dynamics.law import recover_unknown_terms

    field = node.field
    dense = np.linspace(ts[0], ts[-1], 200)
    traj = np.asarray(_rollout(node, dense, jnp.asarray(u0, jnp.float32))).reshape(-1, len(problem.states))
    traj = traj[np.all(np.isfinite(traj), -1)]
    uvals = np.asarray(field.unknown_values(jnp.asarray(dense[0]), jnp.asarray(traj, jnp.float32)), np.float64)
    found = recover_unknown_terms(
        problem, field.compiled, traj, float(dense[0]), uvals, ts, ys, np.asarray(field.theta[...]), u0,
        degree=degree, thresholds=None if threshold is None else [threshold], refit_steps=refit_steps,
        fit_initial=fit_initial,
    )
    expressions = found["expressions"]
    values = {p: float(v) for p, v in zip(problem.identify, found["theta"])}
    full_rhs = [
        _round(sp.expand(e.subs({un: expressions[un.func.__name__] for un in problem.unknowns}).subs(problem.parameters).subs(values)))
        for e in problem.rhs
    ]
    return {
        "expressions": {k: str(v) for k, v in expressions.items()},
        "rhs": {str(s): str(e) for s, e in zip(problem.states, full_rhs)},
        "identified": {str(p): v for p, v in values.items()},
        "states": list(problem.state_names),
        "candidates": found["candidates"],
        "initial_state": found["u0"].tolist(),
        "method": (
            f"STLSQ over monomials up to degree {degree} on the learned unknown terms "
            f"({'threshold sweep' if threshold is None else f'threshold {threshold}'}) plus single-monomial "
            f"forms; each candidate refitted through the ODE against the data (L-BFGS, {refit_steps} steps"
            f"{'' if fit_initial else ', known initial state held fixed'}), "
            "lowest BIC kept"
        ),
    }


def _round(expr, digits: int = 6):
    return expr.xreplace({n: sp.Float(float(f"{float(n):.{digits}g}")) for n in expr.atoms(sp.Float)})


def _law_rollout(problem, law, tr, y0):
    """Integrate the recovered right-hand sides (float64, tight tolerance) from ``y0``."""
    rhs = [sp.sympify(law["rhs"][s], locals={str(x): x for x in problem.states}) for s in problem.state_names]
    f = sp.lambdify((problem.time, problem.states), rhs, modules="jax")

    def vf(t, u, a):
        return jnp.stack([jnp.broadcast_to(v, ()) for v in f(t, [u[i] for i in range(len(problem.states))])])

    # A recovered law may blow up in extrapolation: the failed part is returned as inf.
    return integrate_exact(vf, np.asarray(y0), tr, max_steps=200_000, throw=False)
