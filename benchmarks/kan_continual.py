"""Continual learning: a KAN keeps what earlier phases taught it, an MLP of equal size forgets.

The KAN paper's toy (Liu et al. 2024, §3.4 and pykan's continual-learning example): the target
is five Gaussian peaks ``sum_k exp(-300 (x - c_k)^2)``, ``c_k = -0.8, -0.4, 0, 0.4, 0.8``,
and the data arrive in five phases, phase ``k`` holding 100 points of ``[c_k - 0.2, c_k + 0.2]``
only. Each phase is one fit on its own data (L-BFGS, 100 steps, a fresh optimiser state).

- KAN ``[1, 1]``, cubic B-splines on ``G = 200`` intervals, no residual branch, only the spline
  coefficients trained (pykan: ``base_fun='zero'``, ``sb_trainable=sp_trainable=False``): a
  basis function is nonzero on four knot intervals, so a phase moves only the coefficients
  under its region (grid-local updates).
- MLP ``[1, 68, 1]`` (tanh): 205 trainable parameters, as many as the KAN has in all (203
  coefficients and its two scales), trained the same way (L-BFGS, 100 steps per phase) and,
  as a second reference, with Adam (learning rate 1e-3, 500 steps per phase), which moves
  less far from what earlier phases left.

Forgetting error: the RMSE on the earlier regions (phases 1-4) after the last phase, on 2000
evenly spaced points of ``[-1, 0.6]``; also reported: the RMSE on each region right after its
own phase (what was learned) and on the whole interval at the end. Mean over 5 seeds
(initialisation). Goal: the KAN's forgetting error at least 10x below the MLP's.

    python benchmarks/kan_continual.py     # writes benchmarks/results/kan_continual.json
"""

from __future__ import annotations

import json
import os
import pathlib
import platform
import time

import jax
import numpy as np
from flax import nnx

from sciml.models.kan import KAN
from sciml.models.kan_train import fit_data
from sciml.models.mlp import MLP

OUT = pathlib.Path(__file__).parent / "results" / "kan_continual.json"
CENTRES = np.linspace(-0.8, 0.8, 5)
SEEDS = range(5)
STEPS = 100


def target(x):
    return sum(np.exp(-300.0 * (x - c) ** 2) for c in CENTRES)


def phases():
    """Five ``(x, y)`` tables, one region each (pykan's sampling: 100 evenly spaced points)."""
    out = []
    for c in CENTRES:
        x = np.linspace(c - 0.2, c + 0.2, 100)[:, None]
        out.append((x, target(x)))
    return out


def rmse(model, x):
    return float(np.sqrt(np.mean((np.asarray(model(x)) - target(x)) ** 2)))


def models(seed):
    """``{name: (model, variables to train, fit options)}``."""
    kan = KAN([1, 1], grid=200, order=3, base_activation="none", noise_scale=0.1, rngs=nnx.Rngs(seed))
    mlp = lambda: MLP(1, 1, hidden=(68,), activation="tanh", rngs=nnx.Rngs(seed))  # noqa: E731
    coefficients_only = nnx.All(nnx.Param, nnx.PathContains("coef"))
    return {
        "kan": (kan, coefficients_only, {"steps": STEPS}),
        "mlp": (mlp(), nnx.Param, {"steps": STEPS}),
        "mlp_adam": (mlp(), nnx.Param, {"steps": 500, "optimizer": "adam", "learning_rate": 1e-3}),
    }


def run_one(model, wrt, options, data):
    learned = []
    for k, (x, y) in enumerate(data):
        model = fit_data(model, x, y, wrt=wrt, **options).model
        learned.append(rmse(model, data[k][0]))
    earlier = np.linspace(-1.0, 0.6, 2000)[:, None]  # the regions of phases 1-4
    whole = np.linspace(-1.0, 1.0, 2000)[:, None]
    return {"forgetting_rmse": rmse(model, earlier), "learned_rmse": learned, "final_rmse_all": rmse(model, whole)}


def main():
    data = phases()
    t0 = time.perf_counter()
    per_seed = {"kan": [], "mlp": [], "mlp_adam": []}
    n_params = {}
    for seed in SEEDS:
        for name, (model, wrt, options) in models(seed).items():
            n_params[name] = int(sum(np.size(v) for v in jax.tree.leaves(nnx.state(model, nnx.Param))))
            per_seed[name].append(run_one(model, wrt, options, data))
            print(name, seed, per_seed[name][-1], flush=True)
    summary = {
        name: {
            "forgetting_rmse_mean": float(np.mean([r["forgetting_rmse"] for r in runs])),
            "learned_rmse_mean": float(np.mean([np.mean(r["learned_rmse"]) for r in runs])),
            "final_rmse_all_mean": float(np.mean([r["final_rmse_all"] for r in runs])),
            "n_params": n_params[name],
        }
        for name, runs in per_seed.items()
    }
    ratio = summary["mlp"]["forgetting_rmse_mean"] / summary["kan"]["forgetting_rmse_mean"]
    result = {
        "benchmark": "continual learning, five Gaussian peaks presented one region at a time",
        "summary": summary,
        "forgetting_ratio_mlp_over_kan": ratio,
        "forgetting_ratio_mlp_adam_over_kan": summary["mlp_adam"]["forgetting_rmse_mean"] / summary["kan"]["forgetting_rmse_mean"],
        "goal": "ratio >= 10",
        "goal_met": bool(ratio >= 10),
        "per_seed": per_seed,
        "settings": {"seeds": list(SEEDS), "lbfgs_steps_per_phase": STEPS, "points_per_phase": 100,
                     "kan": "[1, 1], G=200, k=3, no residual branch, coefficients trained",
                     "mlp": "[1, 68, 1], tanh, all parameters trained",
                     "mlp_adam": "the same MLP, Adam lr 1e-3, 500 steps per phase"},
        "wall_s": time.perf_counter() - t0,
        "load_average_at_end": os.getloadavg(),
        "note": "shared 2-core machine, other jobs running",
        "machine": platform.platform(),
    }
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps({k: result[k] for k in ("summary", "forgetting_ratio_mlp_over_kan",
                                                    "forgetting_ratio_mlp_adam_over_kan", "goal_met", "wall_s")}, indent=2))


if __name__ == "__main__":
    main()
