"""HNN energy-error protocol on the ideal mass-spring (Greydanus, Dzamba & Yosinski 2019).

Protocol (as in the paper's mass-spring task): 25 training trajectories, 30 samples each on
t in [0, 2 pi], initial energies from radii r ~ U(0.1, 1) in the (q, p) plane; Gaussian
noise (std 0.1) on the observed states; targets are the exact time derivatives. Both models
are trained by regressing the vector field (no ODE solve in the loss), 2000 full-batch Adam
steps at lr 1e-3, tanh MLPs of width 200:

* baseline: a plain neural ODE ``du/dt = MLP(u)``, integrated with Tsit5 (rtol 1e-8);
* HNN: separable ``H = T(p) + V(q)``, field ``(dH/dp, -dH/dq)``, integrated with the
  symplectic leapfrog (:mod:`sciml.dynamics.hamiltonian`).

Test: 25 new initial conditions integrated over t in [0, 20] (200 steps). Reported: the
mean squared error of the *true* energy along the predicted trajectory against the true
(constant) energy, and the state MSE. Target: HNN energy MSE at least 100x below the baseline.

    python benchmarks/dynamics_hnn.py    # writes benchmarks/results/dynamics_hnn.json
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
import optax
from flax import nnx

from sciml.datasets.dynamics import mass_spring
from sciml.dynamics.hamiltonian import HamiltonianField, HamiltonianODE
from sciml.dynamics.node import NeuralField, NeuralODE, ODESolver

STEPS = int(os.environ.get("STEPS", 2000))


def energy(u):
    return 0.5 * u[..., 0] ** 2 + 0.5 * u[..., 1] ** 2


def train_field(field, X, dX, steps=STEPS, lr=1e-3):
    graphdef, params, rest = nnx.split(field, nnx.Param, ...)
    opt = optax.adam(lr)
    state = opt.init(params)

    def loss(p):
        return jnp.mean((nnx.merge(graphdef, p, rest)(0.0, X) - dX) ** 2)

    @jax.jit
    def step(p, s):
        l, g = jax.value_and_grad(loss)(p)
        u, s = opt.update(g, s, p)
        return optax.apply_updates(p, u), s, l

    for _ in range(steps):
        params, state, l = step(params, state)
    nnx.update(field, params)
    return float(l)


def main(seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    train = mass_spring(25, np.linspace(0, 2 * np.pi, 30), seed=seed)
    u = np.stack([train.q.values, train.p.values], -1).reshape(-1, 2)
    dX = np.stack([u[:, 1], -u[:, 0]], -1)  # exact derivatives at the clean states
    X = u + 0.1 * rng.standard_normal(u.shape)  # noisy observed states
    X, dX = jnp.asarray(X, jnp.float32), jnp.asarray(dX, jnp.float32)

    test = mass_spring(25, np.linspace(0, 20, 201), seed=seed + 1000)
    ts = jnp.asarray(test.time.values, jnp.float32)
    true = np.stack([test.q.values, test.p.values], -1)
    u0 = jnp.asarray(true[:, 0], jnp.float32)

    res = {}
    t0 = time.perf_counter()
    base = NeuralField(2, hidden=(200, 200), activation="tanh", seed=seed)
    res["baseline_train_loss"] = train_field(base, X, dX)
    pred_b = np.asarray(NeuralODE(base, ODESolver(rtol=1e-8, atol=1e-8, max_steps=100_000))(ts, u0))
    res["baseline_wall_s"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    hnn = HamiltonianField(1, hidden=(200, 200), seed=seed)
    res["hnn_train_loss"] = train_field(hnn, X, dX)
    pred_h = np.asarray(HamiltonianODE(hnn, substeps=10)(ts, u0))
    res["hnn_wall_s"] = time.perf_counter() - t0

    e_true = energy(true)
    for name, pred in (("baseline", pred_b), ("hnn", pred_h)):
        res[f"{name}_energy_mse"] = float(np.mean((energy(pred) - e_true) ** 2))
        res[f"{name}_state_mse"] = float(np.mean((pred - true) ** 2))
    res["energy_mse_ratio_baseline_over_hnn"] = res["baseline_energy_mse"] / res["hnn_energy_mse"]
    res["target"] = "HNN energy MSE >= 100x below the plain neural ODE"
    res["protocol"] = "Greydanus et al. 2019 mass-spring: 25x30 noisy train samples (std 0.1), 25 test trajectories on [0, 20]"
    res["steps"], res["seed"] = STEPS, seed
    res["machine"] = {"platform": platform.platform(), "cpus": os.cpu_count(), "load_avg": os.getloadavg(), "jax": jax.__version__}
    print(f"energy MSE: baseline {res['baseline_energy_mse']:.3e}, HNN {res['hnn_energy_mse']:.3e}, "
          f"ratio {res['energy_mse_ratio_baseline_over_hnn']:.0f}x; state MSE: baseline {res['baseline_state_mse']:.3e}, "
          f"HNN {res['hnn_state_mse']:.3e}")
    out = pathlib.Path(__file__).parent / "results" / "dynamics_hnn.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(res, indent=2))
    return res


if __name__ == "__main__":
    main()
