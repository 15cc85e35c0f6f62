"""The KAN paper's interactive workflow, sciml vs pykan 0.2.8, timed in the same run.

f(x, y) = exp(sin(pi x) + y^2) on [-1, 1]^2, 1000 training points, float64, a [2, 5, 1] KAN
(G = 5, cubic), the same steps in both tools:

1. L-BFGS, 200 steps, sparsity lambda = 0.01, grid updates (pykan: ``fit(lamb=0.01)``),
2. prune (default thresholds), L-BFGS 100 steps,
3. per-edge suggestions, every edge fixed to its first suggestion (pykan:
   ``suggest_symbolic`` + ``fix_symbolic``; sciml: :func:`sciml.symbolic.suggest.suggest` +
   :func:`sciml.models.kan_fix.fix_edge` with the suggested constants),
4. L-BFGS 100 steps on the constants, then the formula and its relative L2 error against f on
   1000 fresh points.

Wall time of each stage and in total (compilation included for sciml: it is part of what a
user waits for). pykan runs in its own virtual environment (torch is not a sciml dependency)::

    python -m venv /work/benchenv-kan
    /work/benchenv-kan/bin/pip install torch==2.13.0 pykan==0.2.8 numpy scipy sympy matplotlib \\
        scikit-learn pandas tqdm pyyaml
    python benchmarks/kan_interactive.py        # writes benchmarks/results/kan_interactive.json

Set ``PYKAN_PYTHON`` to use another interpreter for the pykan side.
"""

from __future__ import annotations

import json
import os
import pathlib
import platform
import subprocess
import tempfile
import time

import numpy as np

OUT = pathlib.Path(__file__).parent / "results" / "kan_interactive.json"
PYKAN_PYTHON = os.environ.get("PYKAN_PYTHON", "/work/benchenv-kan/bin/python")

PYKAN_SCRIPT = r'''
import contextlib, io, json, os, sys, time
import numpy as np, torch
os.makedirs("model", exist_ok=True)  # pykan logs prune/fix steps to ./model/history.txt even without auto_save
torch.set_default_dtype(torch.float64)
from kan import KAN, create_dataset

times = {}
t_all = t = time.perf_counter()
def lap(name):
    global t
    now = time.perf_counter(); times[name] = now - t; t = now

f = lambda x: torch.exp(torch.sin(torch.pi * x[:, [0]]) + x[:, [1]] ** 2)
data = create_dataset(f, n_var=2, train_num=1000, test_num=1000, seed=0)
quiet = contextlib.redirect_stdout(io.StringIO())
with quiet:
    model = KAN(width=[2, 5, 1], grid=5, k=3, seed=1, auto_save=False)
    model.fit(data, opt="LBFGS", steps=200, lamb=0.01)
lap("sparse_fit")
with contextlib.redirect_stdout(io.StringIO()):
    model = model.prune()
    widths = [w[0] if isinstance(w, list) else w for w in model.width]
    model.fit(data, opt="LBFGS", steps=100)
lap("prune_and_fit")
chosen = {}
with contextlib.redirect_stdout(io.StringIO()):
    for l in range(len(widths) - 1):
        for i in range(widths[l]):
            for j in range(widths[l + 1]):
                name = model.suggest_symbolic(l, i, j, verbose=False)[0]
                model.fix_symbolic(l, i, j, name, verbose=False)
                chosen[f"{l},{i},{j}"] = name
lap("suggest_and_fix")
with contextlib.redirect_stdout(io.StringIO()):
    model.fit(data, opt="LBFGS", steps=100, update_grid=False)
lap("constants_fit")
expr = model.symbolic_formula()[0][0]
import sympy as sp
xs = sorted(expr.free_symbols, key=str)
g = sp.lambdify(xs, expr, "numpy")
X = np.random.default_rng(1).uniform(-1, 1, (1000, 2))
truth = np.exp(np.sin(np.pi * X[:, 0]) + X[:, 1] ** 2)
pred = np.asarray(g(*[X[:, int(str(s)[2:]) - 1] for s in xs]), float)
rel = float(np.linalg.norm(pred - truth) / np.linalg.norm(truth))
times["total"] = time.perf_counter() - t_all
print(json.dumps({"widths_after_prune": widths, "chosen": chosen, "formula": str(expr),
                  "rel_l2": rel, "times_s": times, "torch": torch.__version__}))
'''


def run_sciml() -> dict:
    import jax

    jax.config.update("jax_enable_x64", True)
    import sympy as sp
    from flax import nnx

    from sciml.models.kan import KAN
    from sciml.models.kan_fix import fix_edge, network_formula
    from sciml.models.kan_prune import prune
    from sciml.models.kan_train import fit_data
    from sciml.symbolic.suggest import suggest

    times = {}
    t_all = t = time.perf_counter()

    def lap(name):
        nonlocal t
        now = time.perf_counter()
        times[name] = now - t
        t = now

    rng = np.random.default_rng(0)
    X = rng.uniform(-1, 1, (1000, 2))
    Y = np.exp(np.sin(np.pi * X[:, :1]) + X[:, 1:] ** 2)
    model = KAN([2, 5, 1], grid=5, rngs=nnx.Rngs(1), param_dtype="float64")
    model = fit_data(model, X, Y, steps=200, sparsity=1e-2, grid_updates=10).model
    lap("sparse_fit")
    model = prune(model, X)
    widths = list(model.widths)
    model = fit_data(model, X, Y, steps=100, grid_updates=5).model
    lap("prune_and_fit")
    chosen = {}
    for s in suggest(model, X, top_k=1):
        model = fix_edge(model, *s.edge, s.best.name, constants=s.best.params)
        chosen[",".join(map(str, s.edge))] = s.best.name
    lap("suggest_and_fix")
    model = fit_data(model, X, Y, steps=100).model
    lap("constants_fit")
    x, y = sp.symbols("x y", real=True)
    expr = network_formula(model, [x, y])[0]
    Xt = np.random.default_rng(1).uniform(-1, 1, (1000, 2))
    truth = np.exp(np.sin(np.pi * Xt[:, 0]) + Xt[:, 1] ** 2)
    pred = np.asarray(sp.lambdify((x, y), expr, "numpy")(Xt[:, 0], Xt[:, 1]), float)
    times["total"] = time.perf_counter() - t_all
    return {"widths_after_prune": widths, "chosen": chosen, "formula": str(expr),
            "rel_l2": float(np.linalg.norm(pred - truth) / np.linalg.norm(truth)), "times_s": times}


def run_pykan() -> dict:
    if not pathlib.Path(PYKAN_PYTHON).exists():
        return {"error": f"no pykan interpreter at {PYKAN_PYTHON} (see the module docstring)"}
    with tempfile.TemporaryDirectory() as tmp:  # pykan writes files next to its working directory
        done = subprocess.run([PYKAN_PYTHON, "-c", PYKAN_SCRIPT], capture_output=True, text=True, cwd=tmp,
                              env={**os.environ, "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "2")})
    if done.returncode != 0:
        return {"error": done.stderr[-2000:]}
    return json.loads(done.stdout.strip().splitlines()[-1])


def main():
    load_before = os.getloadavg()
    pykan = run_pykan()
    print("pykan", json.dumps(pykan, indent=1), flush=True)
    sciml = run_sciml()
    print("sciml", json.dumps(sciml, indent=1), flush=True)
    result = {
        "benchmark": "KAN interactive workflow on exp(sin(pi x) + y^2): fit, prune, suggest, fix, retrain",
        "sciml": sciml,
        "pykan": pykan,
        "speedup_total": (pykan["times_s"]["total"] / sciml["times_s"]["total"]) if "times_s" in pykan else None,
        "load_average_before": load_before,
        "load_average_after": os.getloadavg(),
        "machine": platform.platform(),
        "note": "shared machine with 2 cores: other jobs ran at the same time; sciml times include compilation",
    }
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
