"""Forward ODEs by collocation, with and without time marching.

The problems in ``benchmarks/outside_odes/`` were written from the README as a new user would
(an initial state, no data, no settings) and never used to choose a recipe setting. Each is
solved by ``sciml solve`` with the recipe's choices (time marching where the recipe chooses it)
and again with ``--train time_marching=0``; the error is the relative L2 distance from the
classical integration the verdict runs (float64 Dopri8, tolerances 1e-10).

    python benchmarks/time_marching.py                 # every problem, seed 0
    python benchmarks/time_marching.py --only pendulum --seeds 0 1
    python benchmarks/time_marching.py --marching-only   # keep the saved runs without marching

Rows go to ``benchmarks/results/time_marching.json`` after every run, with the revision and
the load average (time nothing else beside it).
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import subprocess
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]
PROBLEMS = ROOT / "benchmarks" / "outside_odes"
RESULTS = ROOT / "benchmarks" / "results" / "time_marching.json"
sys.path.insert(0, str(ROOT))

from sciml.provenance import CODE_PATHS, git_revision  # noqa: E402


def run(problem: str, seed: int, marching: bool) -> dict:
    """One ``sciml solve`` of ``problem`` in a fresh process; its figures."""
    with tempfile.TemporaryDirectory() as tmp:
        out = pathlib.Path(tmp) / "run"
        command = [sys.executable, "-m", "sciml.cli", "solve", str(PROBLEMS / f"{problem}.py"), "--out", str(out),
                   "--seed", str(seed), "--no-progress", *([] if marching else ["--train", "time_marching=0"])]
        start = time.perf_counter()
        subprocess.run(command, check=True, capture_output=True, text=True)
        wall = time.perf_counter() - start
        metrics = json.loads((out / "metrics.json").read_text())
    verdict = metrics["verdict"]
    return {"problem": problem, "seed": seed, "marching": marching,
            "stages": metrics["recipe"]["train"].get("time_marching", 0) if marching else 0,
            "time_marching": metrics.get("time_marching"),
            "rel_l2": metrics.get("rel_l2"), "verdict": verdict["status"], "reasons": verdict["reasons"],
            "wall_s": round(wall, 1), "load": os.getloadavg(),
            "revision": git_revision(ROOT, (*CODE_PATHS, "benchmarks/time_marching.py"))}


def table(rows: list[dict]) -> str:
    lines = ["| problem | seed | time marching | rel L2 vs classical | verdict | wall (s) | load |",
             "|---|---|---|---|---|---|---|"]
    for r in rows:
        march = r["time_marching"]
        how = ("off" if not r["marching"] else
               f"{r['stages']} stages, {march['rejected']} rejected" if march else "not chosen")
        lines.append(f"| {r['problem']} | {r['seed']} | {how} | {r['rel_l2']:.2e} | {r['verdict']} | "
                     f"{r['wall_s']:.0f} | {r['load'][0]:.1f} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="*", help="problem names (files in benchmarks/outside_odes/)")
    parser.add_argument("--seeds", nargs="*", type=int, default=[0])
    parser.add_argument("--table-only", action="store_true", help="print the table of the saved rows")
    parser.add_argument("--marching-only", action="store_true",
                        help="rerun the runs with time marching only (the others do not depend on it)")
    args = parser.parse_args()
    rows = json.loads(RESULTS.read_text()) if RESULTS.exists() else []
    if not args.table_only:
        names = args.only or sorted(p.stem for p in PROBLEMS.glob("*.py"))
        modes = (True,) if args.marching_only else (True, False)
        rows = [r for r in rows if r["problem"] not in names or r["seed"] not in args.seeds or r["marching"] not in modes]
        for name in names:
            for seed in args.seeds:
                for marching in modes:
                    rows.append(run(name, seed, marching))
                    RESULTS.parent.mkdir(parents=True, exist_ok=True)
                    RESULTS.write_text(json.dumps(rows, indent=1))
                    print(table(rows[-1:]).splitlines()[-1], flush=True)
    print(table(sorted(rows, key=lambda r: (r["problem"], r["seed"], not r["marching"]))))


if __name__ == "__main__":
    main()
