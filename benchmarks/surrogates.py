"""Every surrogate on the same ODE problem files: collocation (mlp, kan) and trajectory models
(node, kan-ode, ltc, cfc) on Lotka–Volterra and Van der Pol, the library's defaults only.

Each problem is the catalogue's DSL file, loaded once with ``sciml.solver.load_problem`` and
given unchanged to ``sciml.solve(problem, model=M, seed=S)`` for every model: no per-problem
or per-model setting. The collocation models take the generic recipe's choices
(sciml/recipe.py); the only global override is ``--time-budget``, the wall-clock cap of their
runs (the recipe's own is 480 s), recorded in every row. The trajectory models take their
defaults (sciml/dynamics/solve.py).

The error is measured here, the same way for every model, from the model's prediction at the
reference's times: relative L2 of the states stacked together, ``||pred - ref|| / ||ref||``
over all states and times, over the reference's whole span (``rel_l2_span``) and over the
data window only, the reference times up to the last observation (``rel_l2_data_window``).
Both problems' domains run past their data (Lotka–Volterra: data on [0, 3], reference and
domain to 50; Van der Pol: data on [0, 8], to 30), so the span figure is mostly
extrapolation for the trajectory models and a long collocation domain for mlp and kan.

    python benchmarks/surrogates.py                          # 2 problems x 6 models, seed 0
    python benchmarks/surrogates.py --only van_der_pol --models node,cfc --seeds 0,1
    python benchmarks/surrogates.py --time-budget 480         # cap of the collocation runs
    python benchmarks/surrogates.py --table-only              # the README table from the JSON
    python benchmarks/surrogates.py --smoke                   # 2 steps each: plumbing only

Runs one model at a time, in this process (a failed run records its error and the next one
goes on), and writes benchmarks/results/surrogates.json after every run; each row carries the
load average at its start and end and the git revision it measured.
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import sys
import time
import traceback

import numpy as np

from sciml.provenance import CODE_PATHS, git_revision

ROOT = pathlib.Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
PROBLEMS = {"lotka_volterra": ROOT / "problems" / "lotka_volterra_ude.py",
            "van_der_pol": ROOT / "problems" / "van_der_pol.py"}
COLLOCATION = ["mlp", "kan"]  # surrogates of t, trained by the PDE trainer on the recipe's choices
TRAJECTORY = ["node", "kan-ode", "ltc", "cfc"]  # sciml/dynamics
MODELS = COLLOCATION + TRAJECTORY
TIME_BUDGET = 150.0  # s per collocation run (the recipe allows 480): 12 runs fit one sitting on 2 shared cores
SMOKE = {"steps": 2, "lbfgs_steps": 0}  # plumbing only: rows marked, left out of the table


def rel_l2(pred: np.ndarray, ref: np.ndarray) -> float:
    """``||pred - ref|| / ||ref||`` over every entry; ``inf`` when the prediction is not finite
    (a blown-up run must not look like a small error)."""
    if not np.all(np.isfinite(pred)):
        return float("inf")
    return float(np.linalg.norm(pred - ref) / np.linalg.norm(ref))


def prediction(result, states: list[str], times: np.ndarray) -> np.ndarray:
    """The states ``(time, state)`` a solve's result predicts at ``times`` (the reference's)."""
    if hasattr(result, "predict"):  # a collocation Solution: a surrogate of t
        pred = np.asarray(result.predict(times[:, None]), float)
        return pred[:, [list(result.compiled.field_names).index(s) for s in states]]
    ds = result.to_xarray()  # a trajectory model's rollout, already on the reference's times
    if not np.allclose(ds["time_ref"].values, times):
        raise ValueError("the trajectory model's prediction is not on the reference's times")
    return np.stack([ds[f"{s}_predicted"].isel(trajectory=0).values for s in states], -1).astype(float)


def scores(problem, pred: np.ndarray) -> dict:
    """Relative L2 errors of ``pred`` against the problem's reference, over its span and over
    the data window, stacked states and each state alone."""
    ref_ds = problem.reference.isel(trajectory=0) if "trajectory" in problem.reference.dims else problem.reference
    states = list(ref_ds.data_vars)
    times = np.asarray(ref_ds["t"].values, float)
    ref = np.stack([ref_ds[s].values for s in states], -1).astype(float)
    # Without data (nothing to fit) the window is the whole span.
    window = times <= (float(problem.data["t"].values.max()) if problem.data is not None else times[-1]) + 1e-9
    return {"rel_l2_span": rel_l2(pred, ref), "rel_l2_data_window": rel_l2(pred[window], ref[window]),
            "rel_l2_span_by_state": {s: rel_l2(pred[:, i], ref[:, i]) for i, s in enumerate(states)},
            "span": [float(times[0]), float(times[-1])], "data_window": [float(times[0]), float(times[window][-1])]}


def measure(name: str, path: pathlib.Path, model: str, seed: int, *, time_budget: float = TIME_BUDGET,
            smoke: bool = False, problem=None) -> dict:
    """One ``sciml.solve`` of the problem file ``path`` by ``model``, as a row. A run that raises
    is a row with ``error`` (its message) and no error figures."""
    import sciml
    from sciml.dynamics.problem import is_ode
    from sciml.solver import load_problem

    row = {"problem": name, "file": str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path),
           "model": model, "kind": "collocation" if model in COLLOCATION else "trajectory", "seed": seed,
           "smoke": smoke, "revision": git_revision(ROOT, (*CODE_PATHS, "benchmarks/surrogates.py")), "load_start": list(os.getloadavg())}
    options: dict = dict(SMOKE) if smoke else {}
    if model in COLLOCATION:
        # The trajectory models take no time budget; their defaults bound their steps.
        options["time_budget"] = time_budget
        row["time_budget_s"] = time_budget
    row["options"] = dict(options)
    start = time.perf_counter()
    try:
        problem = problem if problem is not None else load_problem(path)
        assert is_ode(problem), f"{path} is not an ODE problem"
        states = list(problem.reference.data_vars)
        solve_start = time.perf_counter()
        steps = options.pop("steps", None)
        result = sciml.solve(problem, model=model, seed=seed, steps=steps, **options)
        wall = time.perf_counter() - solve_start
        ref_t = np.asarray(problem.reference["t"].values, float)
        row.update(scores(problem, prediction(result, states, ref_t)))
        m = result.metrics
        verdict = m.get("verdict")
        unknown_params = sum(u.get("n_params", 0) for u in (m.get("unknowns") or {}).values())
        row.update({
            "wall_s": round(wall, 1),
            # For a collocation run, the networks of the Unknown terms are trained alongside the
            # surrogate of t but are not part of it: counted apart, and in the total.
            "n_params": int(m["n_params"]) + unknown_params,
            "n_params_unknowns": unknown_params if m.get("unknowns") else None,
            "library_rel_l2": m.get("rel_l2"),
            "steps": m.get("steps"), "lbfgs_steps": m.get("lbfgs_steps"), "stopped": m.get("stopped"),
            "verdict": verdict if isinstance(verdict, dict) else None,
            "status": verdict["status"] if isinstance(verdict, dict) else "no verdict reported",
            "settings": _settings(m),
        })
    except Exception as err:  # a failed run is recorded as failed, with the library's message
        row.update({"wall_s": round(time.perf_counter() - start, 1), "status": "error",
                    "error": f"{type(err).__name__}: {str(err).strip()[:500]}",
                    "traceback": traceback.format_exc()[-2000:]})
    row["load_end"] = list(os.getloadavg())
    return row


def _settings(metrics: dict) -> dict | None:
    """A collocation run's effective settings (the recipe's, with what was overridden), the few
    a reader needs to interpret its row; ``None`` for a trajectory model (its defaults)."""
    recipe = metrics.get("recipe")
    if not isinstance(recipe, dict):
        return None
    train = metrics.get("train") or {}
    return {"model_options": metrics.get("model_options"), "output_scales": recipe.get("output_scales"),
            "overridden": recipe.get("overridden"),
            "train": {k: train.get(k) for k in ("steps", "lbfgs_steps", "quasi_newton", "time_budget", "precision",
                                                "points", "learning_rate") if k in train}}


def _fmt(x) -> str:
    if x is None:
        return "-"
    return "inf" if x == float("inf") else f"{x:.2e}"


def table(rows: list[dict]) -> str:
    rows = [r for r in rows if not r.get("smoke")]
    lines = ["| problem | model | seed | rel L2, data window | rel L2, whole span | wall (s) | params | "
             "library's status | load (start -> end, 1 min) |",
             "|---|---|---|---|---|---|---|---|---|"]
    for r in sorted(rows, key=lambda r: (r["problem"], MODELS.index(r["model"]) if r["model"] in MODELS else 99,
                                         r["seed"])):
        load = f"{r['load_start'][0]:.1f} -> {r['load_end'][0]:.1f}"
        if r.get("error"):
            lines.append(f"| {r['problem']} | {r['model']} | {r['seed']} | failed | failed | {r['wall_s']:.0f} | - | "
                         f"error: {r['error'][:120].replace('|', '/')} | {load} |")
            continue
        status = r["status"] + (f" (stopped: {r['stopped']})" if r.get("stopped") else "")
        window = f"[{r['data_window'][0]:g}, {r['data_window'][1]:g}]"
        span = f"[{r['span'][0]:g}, {r['span'][1]:g}]"
        lines.append(f"| {r['problem']} | {r['model']} | {r['seed']} | {_fmt(r['rel_l2_data_window'])} on {window} | "
                     f"{_fmt(r['rel_l2_span'])} on {span} | {r['wall_s']:.0f} | {r['n_params']:,} | {status} | "
                     f"{load} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", help=f"comma-separated problems (default: {','.join(PROBLEMS)})")
    parser.add_argument("--models", default=",".join(MODELS), help=f"comma-separated (default: {','.join(MODELS)})")
    parser.add_argument("--seeds", default="0")
    parser.add_argument("--time-budget", type=float, default=TIME_BUDGET,
                        help="wall-clock cap (s) of each collocation run (mlp, kan), the recipe's time_budget; "
                             "recorded in the rows")
    parser.add_argument("--smoke", action="store_true",
                        help=f"{SMOKE['steps']} steps and no quasi-Newton phase per run: plumbing only, rows marked "
                             "and left out of the table")
    parser.add_argument("--out", default=str(RESULTS / "surrogates.json"))
    parser.add_argument("--table-only", action="store_true")
    args = parser.parse_args(argv)
    out = pathlib.Path(args.out)
    record = json.loads(out.read_text()) if out.exists() else {"runs": []}
    rows = record["runs"]
    if not args.table_only:
        from sciml.solver import load_problem

        names = args.only.split(",") if args.only else list(PROBLEMS)
        models = args.models.split(",")
        unknown = [n for n in names if n not in PROBLEMS] + [m for m in models if m not in MODELS]
        if unknown:
            parser.error(f"unknown problem(s) or model(s): {', '.join(unknown)}")
        record["machine"] = {"cpus": os.cpu_count(), "note": "shared 2-core CPU, no GPU" if os.cpu_count() == 2
                             else f"{os.cpu_count()} CPUs"}
        key = lambda r: (r["problem"], r["model"], r["seed"], bool(r.get("smoke")))  # noqa: E731
        for seed in [int(s) for s in args.seeds.split(",")]:
            for name in names:
                problem = load_problem(PROBLEMS[name])  # once per file: the same problem for every model
                for model in models:
                    row = measure(name, PROBLEMS[name], model, seed, time_budget=args.time_budget,
                                  smoke=args.smoke, problem=problem)
                    rows = [r for r in rows if key(r) != key(row)] + [row]
                    record["runs"] = rows
                    out.parent.mkdir(parents=True, exist_ok=True)
                    out.write_text(json.dumps(record, indent=1, default=str))
                    print(json.dumps({k: row.get(k) for k in ("problem", "model", "seed", "rel_l2_data_window",
                                                              "rel_l2_span", "wall_s", "n_params", "status",
                                                              "error")}), flush=True)
    print(table(rows))


if __name__ == "__main__":
    sys.exit(main())
