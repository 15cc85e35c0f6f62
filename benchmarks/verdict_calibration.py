"""Does the verdict agree with the error it cannot see?

Runs catalogue problems with their full settings and with deliberately starved budgets, and
records for each run the relative L2 error against the reference (which the verdict never
reads) beside the verdict and its indicators. The confusion table is the check: every run with
rel L2 > 1e-2 must be ``doubtful``; most runs at or below 1e-2 should be ``trusted``.

    python benchmarks/verdict_calibration.py                 # the default grid of runs
    python benchmarks/verdict_calibration.py --table-only    # recompute the table from the JSON

Writes benchmarks/results/verdict_calibration.json (one row per run, with the load average).
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import time

RESULTS = pathlib.Path(__file__).parent / "results"
ROOT = pathlib.Path(__file__).resolve().parents[1]
GOOD = 1e-2

# (problem, model, training overrides): the problem file's settings, and starved budgets.
RUNS = [
    ("heat", None, {}),
    ("heat", None, {"steps": 100, "lbfgs_steps": 0}),
    ("heat", None, {"steps": 1000, "lbfgs_steps": 0}),
    ("poisson2d", None, {}),
    ("poisson2d", None, {"steps": 300, "lbfgs_steps": 0}),
    ("poisson2d", "kan", {}),
    ("burgers", None, {}),
    ("burgers", None, {"steps": 1000, "lbfgs_steps": 0}),
    ("burgers", None, {"steps": 3000, "lbfgs_steps": 200}),
    ("burgers_inverse", None, {}),
    ("burgers_inverse", None, {"steps": 200, "lbfgs_steps": 0}),
]


def run_one(name: str, model: str | None, overrides: dict, seed: int) -> dict:
    import sciml

    problem = sciml.load_problem(ROOT / "problems" / f"{name}.py")
    steps = overrides.get("steps")
    train = {k: v for k, v in overrides.items() if k != "steps"}
    start = time.perf_counter()
    solution = sciml.solve(problem, model=model, steps=steps, seed=seed, progress=False, **train)
    metrics = solution.metrics
    return {"problem": name, "model": solution.model_name, "overrides": overrides, "seed": seed,
            "rel_l2": metrics.get("rel_l2"), "verdict": metrics["verdict"],
            "wall_s": round(time.perf_counter() - start, 1), "load": os.getloadavg()}


def table(rows: list[dict]) -> str:
    """Confusion table of the verdict (re-judged with today's thresholds from the recorded
    indicators) against rel L2 <= 1e-2, and one line per run."""
    from sciml.verdict import judge

    counts = {(g, s): 0 for g in (True, False) for s in ("trusted", "doubtful")}
    lines = ["| problem | model | budget | rel L2 | verdict | first reason |", "|---|---|---|---|---|---|"]
    for r in rows:
        good = r["rel_l2"] is not None and r["rel_l2"] <= GOOD
        reasons = judge(r["verdict"]["indicators"])
        status = "doubtful" if reasons else "trusted"
        counts[(good, status)] += 1
        budget = ", ".join(f"{k}={v}" for k, v in r["overrides"].items()) or "problem file"
        lines.append(f"| {r['problem']} | {r['model']} | {budget} | {r['rel_l2']:.2e} | "
                     f"{status} | {(reasons or ['-'])[0]} |")
    head = [
        "| | trusted | doubtful |", "|---|---|---|",
        f"| rel L2 <= 1e-2 | {counts[(True, 'trusted')]} | {counts[(True, 'doubtful')]} |",
        f"| rel L2 > 1e-2 | {counts[(False, 'trusted')]} | {counts[(False, 'doubtful')]} |",
    ]
    return "\n".join(head + [""] + lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(RESULTS / "verdict_calibration.json"))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--only", help="comma-separated problem names")
    parser.add_argument("--table-only", action="store_true")
    args = parser.parse_args()
    out = pathlib.Path(args.out)
    rows = json.loads(out.read_text())["runs"] if out.exists() else []
    if not args.table_only:
        wanted = set(args.only.split(",")) if args.only else None
        rows = [r for r in rows if wanted is not None and r["problem"] not in wanted]
        for name, model, overrides in RUNS:
            if wanted is not None and name not in wanted:
                continue
            rows.append(run_one(name, model, overrides, args.seed))
            print(json.dumps({k: rows[-1][k] for k in ("problem", "model", "overrides", "rel_l2", "wall_s")}
                             | {"verdict": rows[-1]["verdict"]["status"]}), flush=True)
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_text(json.dumps({"runs": rows}, indent=1))
    print(table(rows))


if __name__ == "__main__":
    main()
