"""Accuracy and wall time of `sciml solve` on catalogue files (settings chosen by the generic
recipe: the files carry none), and the DeepXDE anchor on the same Burgers configuration
measured in the same run.

    python benchmarks/pinn_catalogue.py [--only burgers,poisson2d,...] [--no-deepxde]

Prints one line per study and writes ``benchmarks/results/pinn_catalogue.json``. The DeepXDE
run needs its benchmark venv (see ``benchmarks/deepxde_burgers.py``); it is skipped with a note
when the venv is missing.

Studies:

* ``burgers``, ``poisson2d``, ``heat``, ``burgers_inverse`` — the recipe's choices
  (``--model mlp``); goals: Burgers rel_l2 <= 5e-3, Poisson <= 1e-3, viscosity within 1%;
* ``burgers_fast`` — a short Burgers schedule, to compare time-to-accuracy with DeepXDE
  (goal: rel_l2 <= 1e-2 in less wall time than DeepXDE's 5000 Adam steps);
* ``poisson2d_kan``, ``burgers_kan`` — the recipe's ``--model kan`` choices (goals: Poisson
  <= 1e-3 with at most ~300 parameters, Burgers <= 5e-3);
* ``poisson2d_mlp300`` — the MLP baseline at the Poisson KAN's parameter budget ([15, 15],
  301 parameters) with the recipe's MLP training schedule.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import pathlib
import platform
import sys
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

# A short schedule on a DeepXDE-sized network ([20]*3) with fewer collocation points.
FAST_BURGERS = {"steps": 700, "lbfgs_steps": 500, "lbfgs_memory": 50, "rar_every": 0, "resample_every": 0, "learning_rate": 5e-3,
                "final_learning_rate": 1e-3, "points": {"interior": 2540}, "model_options": {"hidden": (20, 20, 20)}}

# Studies other than the recipe's choices: name -> (problem file, solve() options).
VARIANTS = {
    "burgers_fast": ("burgers", FAST_BURGERS),
    "poisson2d_kan": ("poisson2d", {"model": "kan"}),
    "burgers_kan": ("burgers", {"model": "kan"}),
    "poisson2d_mlp300": ("poisson2d", {"model_options": {"hidden": (15, 15)}}),
}


def machine() -> dict:
    info = {"platform": platform.platform(), "cpu_count": os.cpu_count(), "python": platform.python_version()}
    try:
        info["load_average"] = list(os.getloadavg())
    except OSError:
        pass
    return info


def study(name: str, problem_file: str, model: str = "mlp", model_options: dict | None = None, **train) -> dict:
    import sciml

    problem = sciml.load_problem(ROOT / "problems" / f"{problem_file}.py")
    start = time.perf_counter()
    sol = sciml.solve(problem, model=model, seed=0, progress=False, model_options=model_options, **train)
    wall = time.perf_counter() - start
    m = sol.metrics
    row = {"study": name, "model": model, "rel_l2": m.get("rel_l2"), "wall_s": wall, "train_s": m["wall_s"],
           "steps": m["steps"], "lbfgs_steps": m["lbfgs_steps"], "n_params": m["n_params"], "parameters": m["parameters"]}
    if name == "burgers_inverse":
        true = 0.01 / math.pi
        row["nu_relative_error"] = abs(m["parameters"]["nu"] / true - 1)
    return row


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", help="comma-separated studies")
    parser.add_argument("--no-deepxde", action="store_true")
    args = parser.parse_args(argv)
    names = ["burgers_fast", "burgers", "poisson2d", "heat", "burgers_inverse"]
    if args.only:
        names = [n for n in args.only.split(",") if n]
    rows = []
    if not args.no_deepxde and ("burgers" in names or "burgers_fast" in names):
        try:
            from deepxde_burgers import run_deepxde

            dde = run_deepxde(steps=5000, seed=0)
            rows.append({"study": "deepxde_burgers", **dde})
            print(f"deepxde_burgers  rel_l2={dde['rel_l2']:.3e}  wall={dde['wall_s']:.1f}s  {dde.get('ms_per_step', float('nan')):.2f} ms/step", flush=True)
        except Exception as err:  # the venv is optional
            rows.append({"study": "deepxde_burgers", "skipped": f"{type(err).__name__}: {err}"})
            print(f"deepxde_burgers skipped: {err}", flush=True)
    for name in names:
        problem_file, options = VARIANTS.get(name, (name, {}))
        row = study(name, problem_file, **options)
        rows.append(row)
        extra = f"  nu_err={row['nu_relative_error']:.2%}" if "nu_relative_error" in row else ""
        print(f"{name:<16} rel_l2={row['rel_l2']:.3e}  wall={row['wall_s']:.1f}s  params={row['n_params']}{extra}", flush=True)
    out = ROOT / "benchmarks" / "results" / "pinn_catalogue.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    # Studies run separately accumulate in one file; each row keeps the machine it ran on.
    previous = json.loads(out.read_text())["rows"] if out.exists() else []
    for row in rows:
        row["machine"] = machine()
    keep = [r for r in previous if r["study"] not in {row["study"] for row in rows}]
    out.write_text(json.dumps({"rows": keep + rows}, indent=2, default=str) + "\n")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
