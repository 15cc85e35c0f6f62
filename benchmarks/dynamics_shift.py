"""Distribution shift on the damped pendulum: LTC, CfC, neural ODE, GRU and LSTM.

Liquid networks are claimed to generalise better out of distribution. Measured here on a
small, honest setting (sized for a 2-core CPU):

* train regime: damped pendulum ``theta'' = -sin(theta) - 0.1 theta'``, 16 trajectories
  from rest at angles ``U(0.3, 1.2)``, 41 samples on t in [0, 8];
* test regimes (16 new trajectories each, same times):
  ``in-distribution`` (same law, new angles), ``amplitude`` (angles ``U(1.8, 2.6)``: the
  strongly nonlinear part of state space never seen) and ``damping`` (damping 0.3: a different
  law at the same states);
* sequence models (LTC fused 6 unfolds, CfC default, GRU, LSTM; 16 hidden units) are
  one-step forecasters with teacher forcing, evaluated in closed loop from the initial state;
  the neural ODE (MLP field 2x32) is fitted through its solver with a 10% -> 100% curriculum.

Reported: rel_l2 of the closed-loop forecast per regime, training time and parameters.

    python benchmarks/dynamics_shift.py   # writes benchmarks/results/dynamics_shift.json
"""

from __future__ import annotations

import json
import os
import pathlib
import platform
import time

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from sciml.datasets.dynamics import damped_pendulum
from sciml.dynamics.forecast import SequenceForecaster, fit_forecaster, forecaster_config
from sciml.dynamics.node import NeuralField, NeuralODE, ODESolver
from sciml.dynamics.training import fit_trajectories, trajectory_config

STEPS = int(os.environ.get("STEPS", 600))
UNITS = 16
TS = np.linspace(0, 8, 41)


def regime(lo, hi, damping, seed):
    rng = np.random.default_rng(seed)
    u0 = np.stack([rng.uniform(lo, hi, 16) * rng.choice([-1, 1], 16), np.zeros(16)], -1)
    ds = damped_pendulum(TS, u0, damping=damping)
    return np.stack([ds.theta.values, ds.omega.values], -1)


class RNNForecaster(nnx.Module):
    """GRU / LSTM baseline with the same one-step interface (elapsed time as an extra input)."""

    def __init__(self, kind, n, units, mean, std, seed=0):
        rngs = nnx.Rngs(seed)
        self.kind = kind
        self.cell = (nnx.GRUCell if kind == "gru" else nnx.OptimizedLSTMCell)(n + 1, units, rngs=rngs)
        self.proj = nnx.Linear(units, n, rngs=rngs)
        self.mean = nnx.Variable(jnp.asarray(mean, jnp.float32))
        self.std = nnx.Variable(jnp.asarray(std, jnp.float32))
        self.units = units

    def _scan(self, xs, dts, u_first=None, closed=False):
        B = xs.shape[0] if not closed else u_first.shape[0]
        carry0 = self.cell.initialize_carry((B, self.units), nnx.Rngs(0))

        def body(c, inp):
            carry, u = c
            x, dt = inp
            if closed:
                x = (u - self.mean.value) / self.std.value
            carry, h = self.cell(carry, jnp.concatenate([x, jnp.broadcast_to(dt, (B, 1))], -1))
            du = self.std.value * self.proj(h)
            return (carry, u + du if closed else u), du

        u0 = u_first if closed else jnp.zeros((B, xs.shape[-1]))
        seq = jnp.swapaxes(xs, 0, 1) if not closed else jnp.zeros((dts.shape[0], B, u_first.shape[-1]))
        _, dus = jax.lax.scan(body, (carry0, u0), (seq, dts))
        return jnp.swapaxes(dus, 0, 1)

    def teacher_forced(self, ts, u):
        x = (u[:, :-1] - self.mean.value) / self.std.value
        return u[:, :-1] + self._scan(x, jnp.diff(ts))

    def rollout(self, ts, u0):
        dus = self._scan(None, jnp.diff(jnp.asarray(ts)), u_first=u0, closed=True)
        return jnp.concatenate([u0[:, None], u0[:, None] + jnp.cumsum(dus, 1)], 1)


def rel_l2(p, r):
    p = np.asarray(p)
    return float(np.linalg.norm(p - r) / np.linalg.norm(r)) if np.all(np.isfinite(p)) else float("inf")


def main(seed: int = 0) -> dict:
    train = regime(0.3, 1.2, 0.1, seed)
    tests = {"in_distribution": regime(0.3, 1.2, 0.1, seed + 1), "amplitude": regime(1.8, 2.6, 0.1, seed + 2),
             "damping": regime(0.3, 1.2, 0.3, seed + 3)}
    flat = train.reshape(-1, 2)
    mean, std = flat.mean(0), flat.std(0)
    ts = jnp.asarray(TS, jnp.float32)
    res: dict = {"models": {}}
    for name in ("ltc", "cfc", "gru", "lstm", "node"):
        t0 = time.perf_counter()
        if name in ("ltc", "cfc"):
            model = SequenceForecaster(name, 2, UNITS, mean=mean, std=std, seed=seed)
            fit_forecaster(model, TS, train, forecaster_config(STEPS, 3e-3))
            predict = jax.jit(model.rollout)
        elif name in ("gru", "lstm"):
            model = RNNForecaster(name, 2, UNITS, mean, std, seed)
            fit_forecaster(model, TS, train, forecaster_config(STEPS, 3e-3))
            predict = jax.jit(model.rollout)
        else:
            model = NeuralODE(NeuralField(2, hidden=(32, 32), seed=seed), ODESolver(rtol=1e-4, atol=1e-6))
            fit_trajectories(model, TS, train, trajectory_config(STEPS, 3e-3), curriculum=(0.1, 1.0), fit_initial=False)
            predict = jax.jit(lambda t, y: model(t, y))
        wall = time.perf_counter() - t0
        n_params = int(sum(np.size(x) for x in jax.tree.leaves(nnx.state(model, nnx.Param))))
        scores = {k: rel_l2(predict(ts, jnp.asarray(v[:, 0], jnp.float32)), v) for k, v in tests.items()}
        res["models"][name] = {"rel_l2": scores, "train_wall_s": wall, "n_params": n_params}
        print(f"{name:5s} " + "  ".join(f"{k} {v:.3f}" for k, v in scores.items()) + f"   ({wall:.0f} s, {n_params} params)", flush=True)
    res["setting"] = {"train": "damping 0.1, angles U(0.3,1.2)", "amplitude": "angles U(1.8,2.6)", "damping": "damping 0.3",
                      "times": "41 samples on [0, 8]", "trajectories": 16, "steps": STEPS, "units": UNITS, "seed": seed}
    res["machine"] = {"platform": platform.platform(), "cpus": os.cpu_count(), "load_avg": os.getloadavg(), "jax": jax.__version__}
    out = pathlib.Path(__file__).parent / "results" / "dynamics_shift.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(res, indent=2))
    return res


if __name__ == "__main__":
    main()
