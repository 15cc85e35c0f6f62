"""Scaling of KAN test error with grid size: RMSE ~ G^-(k+1) until the data limit.

The KAN paper's experiment (Liu et al. 2024, fig. 2.3): fit ``f(x, y) = exp(sin(pi x) + y^2)``
on ``[-1, 1]^2`` with a ``[2, 1, 1]`` cubic KAN (``k = 3``) from 1000 training points, refining
the grid ``3 -> 5 -> 10 -> 20 -> 50 -> 100 -> 200`` with :func:`sciml.models.kan_grid.extend_grid`
and L-BFGS (optax) after each extension (after an Adam warm-up at the first grid), in float64. The test RMSE on 1000 fresh points should
fall as ``G^-4`` before it levels off (too few data per interval, then rounding).

    python benchmarks/kan_scaling.py            # ~ a few minutes on 2 cores

Writes ``benchmarks/results/kan_scaling.json`` and ``benchmarks/results/kan_scaling.png``.
"""

from __future__ import annotations

import argparse
import json
import pathlib
import sys
import time

import jax

jax.config.update("jax_enable_x64", True)

import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

from benchmarks.kan_speed import machine_info
from sciml.models.kan import KAN
from sciml.models.kan_grid import extend_grid, update_grid

RESULTS = pathlib.Path(__file__).resolve().parent / "results"


def target(x):
    return jnp.exp(jnp.sin(jnp.pi * x[:, :1]) + x[:, 1:] ** 2)


def lbfgs_fit(model: KAN, x, y, steps: int) -> KAN:
    """Full-batch L-BFGS (zoom line search, 50 curvature pairs) on the mean squared error."""
    graphdef, params, rest = nnx.split(model, nnx.Param, ...)

    def loss(p):
        return jnp.mean((nnx.merge(graphdef, p, rest)(x) - y) ** 2)

    opt = optax.lbfgs(memory_size=50)
    value_and_grad = optax.value_and_grad_from_state(loss)

    @jax.jit
    def run(params):
        def body(_, carry):
            params, state = carry
            value, grad = value_and_grad(params, state=state)
            updates, state = opt.update(grad, state, params, value=value, grad=grad, value_fn=loss)
            return optax.apply_updates(params, updates), state

        return jax.lax.fori_loop(0, steps, body, (params, opt.init(params)))[0]

    return nnx.merge(graphdef, run(params), rest)


def adam_fit(model: KAN, x, y, steps: int, lr: float = 1e-2) -> KAN:
    """Adam warm-up: L-BFGS from a random start stalls on this problem."""
    graphdef, params, rest = nnx.split(model, nnx.Param, ...)
    opt = optax.adam(lr)

    @jax.jit
    def run(params):
        def body(_, carry):
            params, state = carry
            grads = jax.grad(lambda p: jnp.mean((nnx.merge(graphdef, p, rest)(x) - y) ** 2))(params)
            updates, state = opt.update(grads, state, params)
            return optax.apply_updates(params, updates), state

        return jax.lax.fori_loop(0, steps, body, (params, opt.init(params)))[0]

    return nnx.merge(graphdef, run(params), rest)


def rmse(model, x, y) -> float:
    return float(jnp.sqrt(jnp.mean((model(x) - y) ** 2)))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--grids", default="3,5,10,20,50,100,200")
    parser.add_argument("--steps", type=int, default=500, help="L-BFGS steps per grid")
    parser.add_argument("--n-train", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=str(RESULTS / "kan_scaling.json"))
    args = parser.parse_args(argv)
    grids = [int(g) for g in args.grids.split(",")]
    order = 3

    load_before = machine_info().get("loadavg_1_5_15")
    t_start = time.perf_counter()
    key_train, key_test = jax.random.split(jax.random.key(args.seed))
    x_train = jax.random.uniform(key_train, (args.n_train, 2), jnp.float64, -1.0, 1.0)
    x_test = jax.random.uniform(key_test, (1000, 2), jnp.float64, -1.0, 1.0)
    y_train, y_test = target(x_train), target(x_test)

    model = KAN([2, 1, 1], grid=grids[0], order=order, param_dtype="float64", rngs=nnx.Rngs(args.seed))
    rows = []
    for g in grids:
        if g != model.grid_size:
            model = extend_grid(model, g, x_train)
        else:
            # First stage: an Adam warm-up, then move the grids onto the data (the hidden
            # node's values, sin(pi x) + y^2, leave [-1, 1]) before L-BFGS.
            model = adam_fit(model, x_train, y_train, 500)
            model = update_grid(model, x_train, grid_eps=1.0)
        t0 = time.perf_counter()
        model = lbfgs_fit(model, x_train, y_train, args.steps)
        row = {
            "grid": g,
            "n_params": model.n_params(),
            "train_rmse": rmse(model, x_train, y_train),
            "test_rmse": rmse(model, x_test, y_test),
            "fit_s": time.perf_counter() - t0,
        }
        rows.append(row)
        print(f"G={g:4d} params={row['n_params']:5d} train RMSE={row['train_rmse']:.3e} test RMSE={row['test_rmse']:.3e}")

    g = np.array([r["grid"] for r in rows], float)
    err = np.array([r["test_rmse"] for r in rows])
    # Slope over the points before the error levels off: up to the grid with the least error,
    # and at most G <= 50 (1000 points give ~20 per interval there).
    last = int(np.argmin(err))
    fit = [i for i in range(last + 1) if g[i] <= 50]
    slope = float(np.polyfit(np.log(g[fit]), np.log(err[fit]), 1)[0]) if len(fit) >= 2 else float("nan")
    print(f"log-log slope of test RMSE vs G over G={g[fit].astype(int).tolist()}: {slope:.2f} (theory -(k+1) = {-(order + 1)})")

    from matplotlib.figure import Figure

    fig = Figure(figsize=(5, 4))
    ax = fig.add_subplot()
    ax.loglog(g, err, "o-", label="test RMSE")
    ax.loglog(g, [r["train_rmse"] for r in rows], "s--", alpha=0.6, label="train RMSE")
    ref = err[0] * (g / g[0]) ** (-(order + 1))
    ax.loglog(g, ref, "k:", label=r"$\propto G^{-4}$")
    ax.set_xlabel("grid size G")
    ax.set_ylabel("RMSE")
    ax.set_title(f"[2,1,1] KAN, exp(sin(pi x)+y^2): slope {slope:.2f}")
    ax.legend()
    fig.tight_layout()
    out = pathlib.Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out.with_suffix(".png"), dpi=120)
    out.write_text(
        json.dumps(
            {
                "benchmark": "kan_scaling",
                "target": "exp(sin(pi x) + y^2) on [-1,1]^2",
                "widths": [2, 1, 1],
                "order": order,
                "n_train": args.n_train,
                "lbfgs_steps_per_grid": args.steps,
                "rows": rows,
                "slope": slope,
                "slope_fit_grids": g[fit].astype(int).tolist(),
                "wall_s": time.perf_counter() - t_start,
                "machine": machine_info(),
                "loadavg_before": load_before,
            },
            indent=2,
        )
    )
    print(f"wrote {out} and {out.with_suffix('.png')}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
