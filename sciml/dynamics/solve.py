"""Train a trajectory model on an ODE system, evaluate it, optionally recover the law.

Models (:mod:`sciml.dynamics.models`, ``sciml.solve(problem, model=...)`` on an ODE problem):

* ``node``: neural ODE; each unknown term of the problem is an MLP (a universal
  differential equation), or, if the problem declares no unknown term, the whole right-hand
  side is an MLP;
* ``kan-ode``: the same with KAN networks (``build_model("kan", ...)``);
* ``ltc`` / ``cfc``: liquid sequence surrogates that forecast the trajectory step by step
  with the real elapsed times (see :mod:`sciml.dynamics.liquid`).

With ``symbolify`` (UDE models) each learned unknown term is distilled by the symbolic stage of
every ``--symbolify`` (:mod:`sciml.symbolic.unknowns`: the searches of ``discover``, sparse
regression among them), each candidate judged by its misfit to the data once its constants
are refitted through the ODE, and the chosen laws' constants refitted together (the final
parameter estimation step of Rackauckas et al. 2020).
"""

from __future__ import annotations

import time as _time
from typing import TYPE_CHECKING, Any

import jax
import jax.numpy as jnp
import numpy as np
import sympy as sp

from sciml.dynamics.node import NeuralODE, ODESolver, UDEField, integrate_exact, integrate_rk4
from sciml.dynamics.result import (
    DynamicsResult,
    add_trajectory,
    evaluate,
    finish,
    training_metrics,
    trajectory_arrays,
    trajectory_metrics,
)
from sciml.dynamics.training import fit_trajectories, trajectory_config
from sciml.dynamics.verdict import assess_trajectories

if TYPE_CHECKING:
    from sciml.dynamics.problem import ODESystem

__all__ = ["solve_ode_problem", "recover_law"]

# Kass & Raftery (1995): a difference in BIC below 2 is "not worth more than a bare mention".
BIC_TIE = 2.0

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
    "progress": False,
    "optimizer": None,
    "members": 1,  # an ensemble of this many networks (seeds seed, seed+1, ...), trained together
}
# TrainConfig fields a trajectory fit takes besides those above (the rest are collocation's).
ENGINE_OPTIONS = {"final_learning_rate", "schedule", "clip", "ema_decay", "time_budget", "chunk", "quasi_newton",
                  "lbfgs_memory", "progress_seconds", "devices"}
# Options of each model's networks (the rest are training options).
_NETWORK_KEYS = {
    "node": {"hidden", "activation"},
    "kan-ode": {"hidden", "width", "grid", "order", "basis", "grid_range", "base_activation", "noise_scale"},
    "ltc": {"units", "wiring", "seq_lr"},
    "cfc": {"units", "wiring", "mode", "seq_lr"},
    "cfc-lib": {"units", "mode", "seq_lr", "library", "gating", "temperature", "entropy_weight", "backbone_units",
                "backbone_layers"},
}

FORECASTERS = ("ltc", "cfc", "cfc-lib")  # sequence models of the measured states, not of the equations


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
    keys = _NETWORK_KEYS.get(model, set())
    net.update({k: options.pop(k) for k in list(options) if k in keys})
    # The engine's own settings, under the one TrainConfig's names (time_budget, clip, ...).
    opts["train"] = {k: options.pop(k) for k in list(options) if k in ENGINE_OPTIONS}
    unknown = set(options) - set(_DEFAULTS)
    if unknown:
        raise ValueError(
            f"unknown option(s) {sorted(unknown)} for --model {model} on an ODE problem; known: "
            f"{sorted(set(_DEFAULTS) | keys | ENGINE_OPTIONS)}"
        )
    opts.update(options)
    opts["network_options"] = net
    return opts


def solve_ode_problem(
    problem: ODESystem,
    *,
    model: str = "node",
    steps: int | None = None,
    seed: int = 0,
    options: dict | None = None,
    checkpoint=None,
    resume: bool = False,
) -> DynamicsResult:
    """Train the trajectory model ``model`` on ``problem.observations`` (an
    :func:`~sciml.dynamics.problem.ode_system`) and evaluate it (see module docstring).

    Options (all optional): ``learning_rate``, ``curriculum``, ``shooting``, ``lbfgs_steps``,
    ``invariant_weight``, ``solver``, ``rtol``, ``atol``, ``max_steps``, ``symbolify``, ``progress``,
    ``optimizer`` (an optax ``GradientTransformation`` for the first-order phase) and the
    engine's settings in :data:`ENGINE_OPTIONS` (``time_budget``, ``final_learning_rate``, ...);
    ``members`` (an ensemble of that many networks, seeds ``seed, seed + 1, ...``, trained
    in one program with their members split over ``devices``; the prediction is their mean and
    the verdict weighs their disagreement);
    the networks' options: ``hidden`` (widths) and ``activation`` for ``node``, the KAN's for
    ``kan-ode``; ``units``, ``wiring``, ``mode`` and ``seq_lr`` (their Adam rate, 3e-3) for
    ``ltc`` / ``cfc``.

    Training is saved to ``checkpoint`` (a file; when given) as it goes, and ``resume``
    continues from it.
    """
    from sciml.dynamics.forecast import SequenceForecaster, solve_sequence
    from sciml.models.registry import model_factory

    factory = model_factory(model, "trajectory")
    if problem.observations is None:
        raise ValueError(f"problem {problem.name!r} has no data to train {model} on; pass data=... (an xarray "
                         "Dataset with the time coordinate) or choose --model mlp or kan")
    opts = _normalise_options(options or {}, model)
    if opts["symbolify"] and model in FORECASTERS:
        raise ValueError("symbolify needs a UDE model (--model node or kan-ode); ltc/cfc forecast trajectories only")
    if opts["symbolify"] and not problem.unknowns:
        raise ValueError("symbolify distils unknown terms into laws: declare Unknown(...) terms in the problem")
    start = _time.perf_counter()
    states = problem.state_names
    ts, ys = trajectory_arrays(problem.observations, states)
    unmeasured = [s for k, s in enumerate(states) if not np.isfinite(ys[..., k]).any()]
    if unmeasured and model in FORECASTERS:
        raise ValueError(f"{model} forecasts the measured states step by step, but the data never measure "
                         f"{', '.join(map(repr, unmeasured))}; choose --model node or kan-ode (the equations "
                         "carry an unmeasured state), or add its observations")
    # The sequence models' learning rate (seq_lr) is a training option that rides with theirs.
    network_options = {k: v for k, v in opts["network_options"].items() if k != "seq_lr"}
    field = factory(problem, ys, seed=seed, **network_options)
    members = int(opts["members"])
    if members < 1:
        raise ValueError(f"members must be a positive number of ensemble members; got {opts['members']!r}")
    settings = {"problem": problem.name, "model": model, "model_options": opts["network_options"], "seed": seed,
                "precision": "float32", "members": members}
    if isinstance(field, SequenceForecaster):
        if members > 1:
            raise ValueError(f"members={members}: ensembles train neural ODE fields (--model node or kan-ode), "
                             f"not {model}; train {model} with several --seed values instead")
        return solve_sequence(problem, model, field, steps, seed, opts, ts, ys, start, checkpoint=checkpoint,
                              settings=settings, resume=resume)

    compiled = problem.compile()
    solver = ODESolver(opts["solver"], rtol=opts["rtol"], atol=opts["atol"], max_steps=opts["max_steps"])
    kind = "ude" if isinstance(field, UDEField) else "black-box"
    fields = [field] + [factory(problem, ys, seed=seed + k, **network_options) for k in range(1, members)]
    nodes = [NeuralODE(f, solver) for f in fields]
    # Invariant penalties use the initial guesses of identified parameters (held fixed).
    theta0 = jnp.asarray(list(problem.identify.values()), jnp.float32)
    invariants = {n: (lambda u, g=g: g(u, theta0)) for n, g in compiled.invariants.items()}
    cfg = trajectory_config(600 if steps is None else int(steps), opts["learning_rate"],
                            lbfgs_steps=opts["lbfgs_steps"], progress=bool(opts["progress"]), **opts["train"])
    # A declared initial condition is known exactly: held fixed in training and in the law refit.
    known_u0 = None if problem.initial is None else np.broadcast_to(problem.initial_state(), ys[:, 0].shape)
    hist = fit_trajectories(nodes if members > 1 else nodes[0], ts, ys, cfg, curriculum=tuple(opts["curriculum"]),
                            shooting=opts["shooting"], invariant_weight=opts["invariant_weight"],
                            invariants=invariants, initial_states=known_u0, optimizer=opts["optimizer"],
                            checkpoint=checkpoint, settings=settings, resume=resume)
    u0s = np.asarray(hist["u0"]).reshape(members, *ys[:, 0].shape)
    # The member that fits its data best carries the law (symbolify) and the saved model.
    best = int(np.argmin(hist["member_loss"])) if members > 1 else 0
    node, u0 = nodes[best], u0s[best]

    metrics = training_metrics(model, kind, hist, seed, node)
    metrics["parameters"] = {}  # the identified parameters, under the key a collocation run uses
    if problem.identify:
        thetas = np.stack([np.asarray(f.theta[...]) for f in fields])
        metrics["parameters"] = {str(p): float(v) for p, v in zip(problem.identify, thetas.mean(axis=0))}
        if members > 1:
            metrics["parameters_spread"] = {str(p): float(v) for p, v in zip(problem.identify, thetas.std(axis=0))}
    if members > 1:
        metrics.update(members=members, member_loss=[float(v) for v in hist["member_loss"]], best_member=best)

    # Roll out from the fitted initial states (the model never sees the clean one); an
    # ensemble predicts the mean of its members.
    def member_rollouts(times):
        return np.stack([np.asarray(_rollout(n, times, jnp.asarray(u, jnp.float32))) for n, u in zip(nodes, u0s)])

    def predict(times):
        return member_rollouts(times).mean(axis=0) if members > 1 else _rollout(node, times, jnp.asarray(u0, jnp.float32))

    ds, tr, yr = evaluate(problem, compiled, ts, ys, lambda tr, yr: predict(tr), metrics, field)
    learned = (dict(zip(problem.unknown_names, compiled.unknown_inputs)) if kind == "ude"
               else {"right-hand side": lambda t, u: u})
    verdict = assess_trajectories(problem, ts, ys, predict, hist["loss"], learned, check_equations=False,
                                  members=member_rollouts if members > 1 else None)
    law = laws = None
    if opts["symbolify"]:
        law, laws, rhs = recover_law(problem, node, ts, ys, u0, fit_initial=known_u0 is None, seed=seed)
        if problem.reference is not None:
            law_pred = _law_rollout(problem, rhs, tr, np.asarray(law["initial_state"]))
            add_trajectory(ds, states, "law", law_pred)
            lm = trajectory_metrics(tr, yr, law_pred, ts[-1], prefix="law_")
            metrics.update(lm)
            law["metrics"] = lm
        else:  # the law's prediction beside the model's, on the same times
            times = ds["time_prediction"].values
            add_trajectory(ds, states, "law", _law_rollout(problem, rhs, times, np.asarray(law["initial_state"])),
                           dim="time_prediction")
    return finish(problem, model, metrics, ds, start, verdict, law=law, laws=laws, model=node)


# ----------------------------------------------------------------------------- helpers
def _bic(scored, n_points: int) -> float:
    """``n log(misfit) + k log(n)`` of a judged candidate ``(candidate, formula, misfit)``, ``k``
    its refitted constants."""
    return n_points * np.log(max(scored[2], 1e-300)) + len(_parametrised(scored[1])[2]) * np.log(n_points)


def _rollout(node, ts, u0):
    return jax.jit(lambda t, y: node(t, y))(jnp.asarray(ts, jnp.float32), u0)


def recover_law(problem: ODESystem, node: NeuralODE, ts: np.ndarray, ys: np.ndarray, u0: np.ndarray, *,
                fit_initial: bool = True, seed: int = 0) -> tuple[dict, dict, list[sp.Expr]]:
    """Closed forms of the learned unknown terms by the symbolic stage of every ``--symbolify``
    (:mod:`sciml.symbolic.unknowns`; the ODE's side: :class:`_Trajectories`), then every law's
    constants, ``theta`` and unknown initial states refitted together (the final parameter
    estimation of Rackauckas et al. 2020). Returns ``(law.json content, {name: Law}, right-hand
    sides)``: a PDE's ``law.json`` plus ``rhs``, ``identified``, ``initial_state``, ``system``.
    """
    from sciml.symbolic.unknowns import distil_unknowns, law_is_doubtful, law_record, restate

    equation = _Trajectories(problem, node.field, ts, ys, u0, fit_initial)
    # One-term laws join each front: a network fitted to a few noisy points learns its term
    # only roughly, and the data can still tell the right term.
    laws = distil_unknowns(equation, seed=seed, single_terms=6)
    misfit, exprs, theta, y0 = equation.refit({n: (law.expr, law.symbols) for n, law in laws.items()})
    laws = {n: restate(law, exprs[n]) for n, law in laws.items()}
    values = {p: float(v) for p, v in zip(problem.identify, theta)}
    subs = {un: laws[un.func.__name__].expr.xreplace(dict(zip(laws[un.func.__name__].symbols, un.args)))
            for un in problem.unknowns}
    rhs = [_round(sp.expand(e.subs(subs).subs(problem.parameters).subs(values))) for e in problem.rhs]
    doubtful = law_is_doubtful(misfit, equation.network_residual, equation.scale(None, None))
    record = law_record(laws) | {
        "rhs": {str(s): str(e) for s, e in zip(problem.states, rhs)},
        "identified": {str(p): v for p, v in values.items()},
        "states": list(problem.state_names),
        "initial_state": y0.tolist(),
        "system": {"law_residual_mse": misfit, "network_residual_mse": equation.network_residual,
                   "residual": equation.residual_name, "verdict": "doubtful" if doubtful else "law found",
                   "rule": "every law in place at once, their constants, identified parameters and unknown initial "
                           "states refitted together; doubtful by the same test as each law"},
    }
    return record, laws, rhs


class _Trajectories:
    """The :class:`~sciml.symbolic.unknowns.Equation` of a trained UDE.

    An unknown is sampled where the model went (along the fitted trajectories; uniformly on
    that range for one input). A formula is judged by its mean squared misfit to the data once
    its constants, ``theta`` and unknown initial states are refitted through the ODE
    (Levenberg–Marquardt, float64 :func:`~sciml.dynamics.node.integrate_rk4`): the data decide
    between forms the samples cannot tell apart and fix the constants. The other unknowns are
    then their networks' values along the fitted trajectories (interpolated in time): a network
    inside every candidate's solve would be compiled with it, seconds per candidate for a KAN.
    """

    residual_name = "data misfit after refit"

    def __init__(self, problem, field: UDEField, ts, ys, u0, fit_initial: bool):
        from sciml.symbolic.unknowns import DOUBT_FLOOR, DOUBT_RATIO

        self.problem, self.field, self.fit_initial = problem, field, fit_initial
        self.names = problem.unknown_names
        self.ts, self.ys = np.asarray(ts, np.float64), np.asarray(ys, np.float64)
        self.observed = np.isfinite(self.ys)
        self.n_points = int(self.observed.sum())
        self.theta0 = np.asarray(field.theta[...], np.float64).reshape(-1)
        self.u0 = np.asarray(u0, np.float64).reshape(self.ys.shape[0], -1)
        dense = np.linspace(ts[0], ts[-1], 1000)
        traj = np.asarray(_rollout(NeuralODE(field), dense, jnp.asarray(self.u0, jnp.float32)), np.float64)
        times = np.broadcast_to(dense[:, None], traj.shape[:-1] + (1,))
        ok = np.all(np.isfinite(traj), -1)
        self.visited = (times[ok][:, 0], traj[ok])
        self.dense = dense
        self.along = np.stack([np.asarray(net(g(jnp.asarray(dense), jnp.asarray(traj, jnp.float32)))[..., 0])
                               for net, g in zip(field.nets, field.compiled.unknown_inputs)], 1)
        self.network_residual = self.refit({}, fit=False)[0]
        self.rule = ("candidates (the Pareto front and the closest one-term laws) put into the ODE in place of the "
                     "network, the other unknowns their networks' values along the fitted trajectories; constants, "
                     "identified parameters and unknown initial states refitted to the observations; the simplest "
                     "(fewest tree nodes) whose n_points * log(mean squared misfit) + n_constants * log(n_points) is "
                     f"within {BIC_TIE:g} of the least; doubtful when its misfit "
                     f"exceeds the network's by more than {DOUBT_RATIO:g}x and by more than {DOUBT_FLOOR:g} of the "
                     "observations' mean square")

    def samples(self, name, n, rng):
        j = self.names.index(name)
        t, u = self.visited
        X = np.asarray(self.field.compiled.unknown_inputs[j](jnp.asarray(t), jnp.asarray(u)), np.float64)
        low, high = X.min(axis=0), X.max(axis=0)
        if X.shape[1] == 1:  # dwell time would weight the samples; the law should hold across the range
            X = rng.uniform(low, high, (n, 1))
        y = np.asarray(self.field.nets[j](jnp.asarray(X, jnp.float32))[..., 0], np.float64)
        return X, y, [str(a) for a in self.problem.unknowns[j].args], (low, high)

    def scale(self, name, values):
        return float(np.mean(self.ys[self.observed] ** 2))

    @staticmethod
    def choose(scored, n_points):
        """The simplest candidate whose Bayesian information criterion ``n log(misfit) + k
        log(n)`` (``k`` refitted constants) is within :data:`BIC_TIE` of the least. The misfits
        are on the data the constants were fitted to, so each constant must pay for itself (a
        looser rule lets ``-0.25 y`` stand for ``-0.9 x y`` on one short Lotka–Volterra
        trajectory); within the tie the data cannot tell the forms apart, and the simpler is
        the better bet (a 3-constant ``atan`` form edged out ``-2 u / (1 + u)`` by 1.0 on 61
        noisy points)."""
        tied = _Trajectories.ties(scored, None, n_points)
        return min(tied, key=lambda s: (s[0].complexity, _bic(s, n_points)))

    @staticmethod
    def ties(scored, chosen, n_points):
        """The candidates the data cannot tell apart: BIC within :data:`BIC_TIE` of the least
        (the set :meth:`choose` picks from; ``chosen`` is among them)."""
        best = min(_bic(s, n_points) for s in scored)
        return [s for s in scored if _bic(s, n_points) <= best + BIC_TIE]

    def residual(self, name, expr, symbols):
        misfit, exprs, _, _ = self.refit({name: (expr, symbols)}, networks=False)
        return misfit, exprs[name]

    def refit(self, formulas: dict, fit: bool = True, networks: bool = True) -> tuple[float, dict, np.ndarray,
                                                                                      np.ndarray]:
        """The misfit with ``formulas`` (``{name: (expr, symbols)}``) in place of those unknowns'
        networks (of the others' values along the fitted trajectories unless ``networks``), after
        refitting (``fit``) their constants, ``theta`` and the initial states.
        Returns ``(misfit, {name: expr}, theta, initial states)``."""
        from scipy.optimize import least_squares

        from sciml.functions import lambdify

        compiled, nets = self.field.compiled, self.field.nets
        fns, start = {}, []
        for name, (expr, symbols) in formulas.items():
            template, consts, values = _parametrised(expr)
            fn = lambdify([list(symbols), consts], template, "jax")
            fns[name] = (fn, slice(len(start), len(start) + len(consts)), template, consts)
            start += values
        k, m = len(start), len(self.theta0)
        free_u0 = self.fit_initial and fit
        p0 = np.concatenate([start, self.theta0] + ([self.u0.ravel()] if free_u0 else []))

        def residuals(p):
            theta = p[k:k + m]
            y0 = p[k + m:].reshape(self.u0.shape) if free_u0 else jnp.asarray(self.u0)

            def solve(y0, along):
                def f(t, u):
                    vals = []
                    for j, name in enumerate(self.names):
                        x = compiled.unknown_inputs[j](t, u)
                        if name in fns:
                            fn, sl, _, _ = fns[name]
                            vals.append(jnp.broadcast_to(fn([x[..., i] for i in range(x.shape[-1])], p[sl]),
                                                         u.shape[:-1]))
                        else:
                            vals.append(nets[j](x)[..., 0] if networks else jnp.interp(t, self.dense, along[j]))
                    return compiled.rhs(t, u, theta, jnp.stack(vals, -1))

                return integrate_rk4(f, y0, self.ts)

            pred = jax.vmap(solve)(y0, jnp.asarray(self.along))
            r = (pred - self.ys)[self.observed]
            # A formula that blows up gets a huge misfit, which the optimiser steps away from.
            return jnp.where(jnp.isfinite(r), r, 1e10)

        with jax.enable_x64(True):
            both = jax.jit(lambda p: (residuals(p), jax.jacfwd(residuals)(p)))
            cache = {}

            def value(p, i):
                key = p.tobytes()
                if key not in cache:
                    cache.clear()
                    cache[key] = [np.asarray(a, np.float64) for a in both(jnp.asarray(p))]
                return cache[key][i]

            p = p0
            if fit and len(p0):
                sol = least_squares(lambda q: value(q, 0), p0, jac=lambda q: value(q, 1), max_nfev=200,
                                    method="lm" if self.n_points >= len(p0) else "trf")
                p = sol.x if np.mean(value(sol.x, 0) ** 2) <= np.mean(value(p0, 0) ** 2) else p0
            misfit = float(np.mean(value(p, 0) ** 2))
        exprs = {name: expr.xreplace({c: sp.Float(float(f"{v:.6g}")) for c, v in zip(consts, p[sl])})
                 for name, (_, sl, expr, consts) in fns.items()}
        u0 = p[k + m:].reshape(self.u0.shape) if free_u0 else self.u0
        return misfit, exprs, np.asarray(p[k:k + m]), u0


def _parametrised(expr: sp.Expr) -> tuple[sp.Expr, list[sp.Symbol], list[float]]:
    """``expr`` with a constant of its own on each term and in place of every other number but
    exponents and signs: ``(template, constants, their values)``. The data, not the network's
    samples, then fix what the rounding chose (``8 x y / 11``, ``u / (1 + u)``)."""
    values: list[float] = []

    def const(v):
        values.append(float(v))
        return sp.Symbol(f"_c{len(values) - 1}")

    def free(e):
        if e.is_number:
            return const(e)
        if e.is_Pow and e.exp.is_number:
            return free(e.base) ** e.exp
        if e.is_Mul:
            c, rest = e.as_independent(*e.free_symbols, as_Add=False)
            return (c if c in (1, -1) else const(c)) * sp.Mul(*map(free, sp.Mul.make_args(rest)))
        return e.func(*map(free, e.args)) if e.args else e

    def factor(e):
        # A sum with a number raised to a power as a factor of a term, (d + b u)^-1: d only
        # scales the term, which has a constant of its own, so d stays as it is (freed, it would
        # be a constant the data cannot fix, and the information criterion would count it) and
        # every other summand gets a constant, b = 1 included.
        if e.is_Pow and e.exp.is_number and e.base.is_Add and any(a.is_number for a in e.base.args):
            def scaled(a):
                c, rest = a.as_independent(*a.free_symbols, as_Add=False)
                return const(c) * free(rest)

            return sp.Add(*[a if a.is_number else scaled(a) for a in e.base.args]) ** e.exp
        return free(e)

    terms = [a.as_independent(*a.free_symbols, as_Add=False) for a in sp.Add.make_args(expr)]
    template = sp.Add(*[const(c) * (sp.Mul(*map(factor, sp.Mul.make_args(t))) if t != 1 else 1) for c, t in terms])
    return template, [sp.Symbol(f"_c{k}") for k in range(len(values))], values


def _round(expr, digits: int = 6):
    return expr.xreplace({n: sp.Float(float(f"{float(n):.{digits}g}")) for n in expr.atoms(sp.Float)})


def _law_rollout(problem, rhs, tr, y0):
    """Integrate the recovered right-hand sides ``rhs`` (float64, tight tolerance) from ``y0``."""
    from sciml.functions import lambdify

    f = lambdify((problem.time, problem.states), rhs, "jax")

    def vf(t, u, a):
        return jnp.stack([jnp.broadcast_to(v, ()) for v in f(t, [u[i] for i in range(len(problem.states))])])

    # A recovered law may blow up in extrapolation: the failed part is returned as inf.
    return integrate_exact(vf, np.asarray(y0), tr, max_steps=200_000, throw=False)
