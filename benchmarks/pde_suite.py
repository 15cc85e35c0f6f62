"""The public PDE suite through the generic recipe alone: accuracy, wall time, verdict.

Each problem file in SUITE carries no training settings; `sciml solve FILE --seed S` chooses
everything from the problem (sciml/recipe.py). For each problem and seed the run's relative L2
error against its verified reference, the recipe's choices, the wall time and the verdict
(computed without the reference) are recorded.

    python benchmarks/pde_suite.py                       # every problem, seeds 0, 1, 2
    python benchmarks/pde_suite.py --only heat,wave1d --seeds 0
    python benchmarks/pde_suite.py --table-only          # the README table from the JSON
    python benchmarks/pde_suite.py --skip-done           # measure only what the JSON lacks
    python benchmarks/pde_suite.py --starved             # 100-step runs that calibrate the verdict
    python benchmarks/pde_suite.py --deepxde             # and DeepXDE's examples, in the same run
    python benchmarks/pde_suite.py --deepxde-only --seeds 0   # DeepXDE alone (keeps sciml's rows)
    python benchmarks/pde_suite.py --outside --seeds 0   # the problems outside the suite (see below)

With ``--deepxde``, each problem where DeepXDE has an example (burgers, wave1d, schrodinger,
poisson_lshape; settings and sources in benchmarks/deepxde_suite.py) is also trained by DeepXDE
with that example's settings, right after sciml's run of the same problem, at the seeds of
``--deepxde-seeds`` (default: the first of ``--seeds``; the examples run for hours on 2 cores),
and scored against the same reference on the same grid. Its rel L2 and wall time (the DeepXDE
process's, start to exit, like a `sciml solve` row's) fill the table's DeepXDE column; full records go to benchmarks/results/deepxde_suite.json. DeepXDE runs in
its own venv (``DEEPXDE_PYTHON``, default /work/benchenv-dde/bin/python).

The long examples can train on another machine (a GPU) that has DeepXDE and its backend but not
sciml: ``python benchmarks/deepxde_suite.py --only wave1d,schrodinger --export DIR`` writes the
scoring points and prints the worker commands to run there; with their outputs copied back into
DIR, ``python benchmarks/pde_suite.py --only wave1d,schrodinger --deepxde-collect DIR`` scores
them, adds the rows (their ``device`` named in the table) and merges the full records.

``--outside`` runs, instead of the suite, the problems in benchmarks/outside_suite/: PDEs
written from the README alone, as a new user would (heat 2-D, Helmholtz, Klein-Gordon, a
boundary layer, pure Neumann with a mean value, Allen-Cahn, advection, Poisson on a disk and in
3-D), never used to choose the recipe's settings; rows go to results/pde_outside.json.

Runs one training process at a time (time them on a quiet machine) and writes
benchmarks/results/pde_suite.json after every run (rows carry the load average), so an
interrupted suite keeps what it measured.
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import statistics
import subprocess
import sys
import tempfile
import time

import deepxde_suite  # benchmarks/, beside this file
from deepxde_suite import device_of, run_key

from sciml.provenance import CODE_PATHS, git_revision

ROOT = pathlib.Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
SUITE = ["burgers", "poisson2d", "heat", "wave1d", "kdv", "schrodinger", "cavity", "poisson_highfreq",
         "poisson_lshape"]
LIMIT_S = 900  # a run that takes longer has failed the suite's 10-minute goal anyway
GOOD = 1e-2  # the suite's accuracy goal, and the line the verdict must draw


OUTSIDE = ROOT / "benchmarks" / "outside_suite"
"""Problems outside the suite, written from the README as a new user would (not tuned for):
``--outside`` runs them through the same recipe, into ``results/pde_outside.json``."""


def problem_file(problem: str) -> pathlib.Path:
    """The catalogue's file of ``problem``, else the one outside the suite."""
    catalogue = ROOT / "problems" / f"{problem}.py"
    return catalogue if catalogue.exists() else OUTSIDE / f"{problem}.py"


STARVED = ["--steps", "100", "--train", "lbfgs_steps=0"]  # runs that cannot have converged
DEEPXDE = ["burgers", "wave1d", "schrodinger", "poisson_lshape"]  # problems with a DeepXDE example


def run(problem: str, seed: int, model: str, starved: bool = False) -> dict:
    out = pathlib.Path(tempfile.mkdtemp(prefix=f"suite-{problem}-"))
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "sciml.cli", "--quiet", "solve", str(problem_file(problem)),
                           "--model", model, "--seed", str(seed), "--no-progress", "--out", str(out / "run"),
                           *(STARVED if starved else [])],
                          capture_output=True, text=True, timeout=LIMIT_S)
    wall = time.perf_counter() - start
    row = {"problem": problem, "model": model, "seed": seed, "kind": "starved" if starved else "recipe",
           "wall_s": round(wall, 1), "load": os.getloadavg(),
           "revision": git_revision(ROOT, (*CODE_PATHS, "benchmarks/pde_suite.py"))}
    if proc.returncode != 0:
        return {**row, "error": proc.stderr.strip().splitlines()[-1][:300] if proc.stderr.strip() else "failed"}
    m = json.loads((out / "run" / "metrics.json").read_text())
    recipe = m.get("recipe")
    return {**row, "rel_l2": m.get("rel_l2"), "rel_l2_by_field": m.get("rel_l2_by_field"),
            "train_s": m.get("wall_s"), "stopped": m.get("stopped"), "n_params": m.get("n_params"),
            "recipe": recipe if isinstance(recipe, dict) else None, "verdict": m.get("verdict")}


def deepxde_row(problem: str, seed: int, figures: dict, steps_scale: float = 1.0, smoke: bool = False) -> dict:
    """A suite row from DeepXDE's figures (``deepxde_suite.run_deepxde`` or ``collect_exported``);
    ``device`` names the accelerator where it trained ("cpu" if none)."""
    f = figures
    # wall: the DeepXDE process from start to exit, as a `sciml solve` row's is its process's
    return {"problem": problem, "model": "deepxde", "seed": seed, "kind": "deepxde", "smoke": smoke,
            "steps_scale": steps_scale, "wall_s": round(f["process_wall_s"], 1),
            "load": f.get("load_average_end") or f["machine"].get("load_average"), "rel_l2": f["rel_l2"],
            "rel_l2_by_field": f["rel_l2_by_field"], "rel_l2_derived": f.get("rel_l2_derived"),
            "train_s": round(f["train_s"], 1), "ms_per_step": f["ms_per_step"], "steps": f["steps"],
            "backend": f["backend"], "source": f["source"], "deepxde": f["versions"]["deepxde"],
            "device": ", ".join(f.get("devices") or ["cpu"])}


def run_deepxde(problem: str, seed: int, steps_scale: float = 1.0, smoke: bool = False,
                deepxde_out: pathlib.Path = RESULTS / "deepxde_suite.json") -> dict:
    """DeepXDE's example for ``problem`` (benchmarks/deepxde_suite.py), as a suite row; the full
    record is merged into ``deepxde_out``."""
    start = time.perf_counter()
    try:
        f = deepxde_suite.run_deepxde(problem, seed, steps_scale=steps_scale, smoke=smoke)
    except (OSError, RuntimeError, subprocess.SubprocessError) as err:
        return {"problem": problem, "model": "deepxde", "seed": seed, "kind": "deepxde", "smoke": smoke,
                "steps_scale": steps_scale, "wall_s": round(time.perf_counter() - start, 1), "load": os.getloadavg(),
                "error": f"{type(err).__name__}: {str(err).strip().splitlines()[-1][:300] if str(err).strip() else ''}"}
    deepxde_suite.save(f, deepxde_out)
    return deepxde_row(problem, seed, f, steps_scale, smoke)


def deepxde_cell(rows: list[dict], problem: str) -> str:
    """The table's DeepXDE column: median rel L2 over seeds (and median wall) of the example's full
    settings; scaled runs marked; smoke runs left out."""
    if problem not in DEEPXDE:
        return "no example"
    tried = [r for r in rows if r.get("kind") == "deepxde" and r["problem"] == problem and not r.get("smoke")]
    rs = [r for r in tried if r.get("rel_l2") is not None]
    if not rs:
        return "failed (error in the JSON)" if tried else "not measured"
    full = [r for r in rs if r.get("steps_scale", 1.0) == 1.0]
    rs = full or rs  # the example's own length when measured; shortened runs only otherwise
    devices = sorted({device_of(r) for r in rs}, key=lambda d: (d != "cpu", d))  # this suite's CPU first
    return "; ".join(_deepxde_figure([r for r in rs if device_of(r) == d]) for d in devices)


def _deepxde_figure(rs: list[dict]) -> str:
    """Median rel L2 (and |h|) and wall of runs on one device, the device named unless a CPU."""
    scale = {r.get("steps_scale", 1.0) for r in rs}
    errs = [r["rel_l2"] for r in rs]
    derived = [r["rel_l2_derived"]["h"] for r in rs if (r.get("rel_l2_derived") or {}).get("h") is not None]
    device = device_of(rs[0])
    return (f"{statistics.median(errs):.2e}" + (f" (\\|h\\| {statistics.median(derived):.2e})" if derived else "")
            + f", {statistics.median(r['wall_s'] for r in rs):.0f} s"
            + ("" if device == "cpu" else f" on {device}")
            + (f", {len(rs)} seeds" if len(rs) > 1 else "")
            + ("" if scale == {1.0} else f", steps x{'/'.join(f'{x:g}' for x in sorted(scale))}"))


def confusion(rows: list[dict]) -> str:
    """Verdict against the reference over every run (recipe and starved): the verdict never sees
    the reference, so this is its calibration."""
    ok = [r for r in rows if r.get("rel_l2") is not None and r.get("verdict")]
    cells = {(good, status): 0 for good in (True, False) for status in ("trusted", "doubtful")}
    for r in ok:
        cells[(r["rel_l2"] <= GOOD, r["verdict"]["status"])] += 1
    good = cells[(True, "trusted")] + cells[(True, "doubtful")]
    return "\n".join([
        f"| {len(ok)} runs | trusted | doubtful |", "|---|---|---|",
        f"| rel L2 <= {GOOD:g} | {cells[(True, 'trusted')]} | {cells[(True, 'doubtful')]} |",
        f"| rel L2 > {GOOD:g} | {cells[(False, 'trusted')]} | {cells[(False, 'doubtful')]} |",
        "",
        f"Bad runs called trusted: {cells[(False, 'trusted')]} (goal 0); good runs trusted: "
        f"{cells[(True, 'trusted')]}/{good} (goal >= 80%).",
    ])


def describe(recipe: dict | None) -> str:
    """The recipe's main choices in a few words."""
    if not recipe:
        return "-"
    options, train = recipe.get("model_options", {}), recipe.get("train", {})
    hidden = options.get("hidden") or []
    parts = [f"{recipe.get('model', '?')} {'x'.join(str(h) for h in hidden)}"]
    if options.get("fourier_features"):
        parts.append(f"Fourier {options['fourier_features']} (scale {options.get('fourier_scale')})")
    reasons = recipe.get("reasons", {})
    if "periodic" in reasons and "exact" in reasons["periodic"]:
        parts.append("exact periodic")
    if reasons.get("exact_conditions", "").startswith("imposed exactly"):
        parts.append("exact conditions" + (" (some kept soft)" if "kept as loss terms" in reasons["exact_conditions"]
                                           else ""))
    if "corner_flows" in reasons:
        parts.append("Stokes corner flows")
    parts.append(train.get("quasi_newton", "lbfgs"))
    scales = recipe.get("output_scales")
    if scales:
        parts.append("scale " + ", ".join(f"{k} {v:g}" for k, v in scales.items()))
    if train.get("rar_every"):
        parts.append("RAR")
    return ", ".join(parts)


def table(rows: list[dict]) -> str:
    every = rows
    rows = [r for r in rows if r.get("kind", "recipe") == "recipe"]
    by_problem: dict[str, list[dict]] = {}
    for r in rows:
        by_problem.setdefault(f"{r['problem']} ({r['model']})", []).append(r)
    for r in every:  # problems DeepXDE ran on but sciml has no row for yet
        if r.get("kind") == "deepxde" and not any(k.startswith(f"{r['problem']} (") for k in by_problem):
            by_problem[f"{r['problem']} (-)"] = []
    lines = ["| problem | recipe | seeds | median rel L2 | worst rel L2 | median wall (s) | verdicts | DeepXDE (its example) |",
             "|---|---|---|---|---|---|---|---|"]
    for name, rs in by_problem.items():
        dde = deepxde_cell(every, name.split(" (")[0])
        if not rs:
            lines.append(f"| {name} | - | 0 | - | - | - | - | {dde} |")
            continue
        ok = [r for r in rs if r.get("rel_l2") is not None]
        errs = sorted(r["rel_l2"] for r in ok)
        recipe = ok[0]["recipe"] if ok and ok[0].get("recipe") else {}
        choice = describe(recipe)
        verdicts = ", ".join(f"{r['verdict']['status']}" for r in ok if r.get("verdict"))
        failed = len(rs) - len(ok)
        lines.append(f"| {name} | {choice} | {len(rs)}{f' ({failed} failed)' if failed else ''} | "
                     f"{statistics.median(errs):.2e} | {errs[-1]:.2e} | "
                     f"{statistics.median(r['wall_s'] for r in ok):.0f} | {verdicts} | {dde} |" if ok else
                     f"| {name} | - | {len(rs)} (all failed: {rs[0].get('error', '')[:80]}) | - | - | - | - | {dde} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", help="comma-separated problems (default: the whole suite)")
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--model", default="mlp")
    parser.add_argument("--out", help="results file (default results/pde_suite.json, with --outside "
                                      "results/pde_outside.json)")
    parser.add_argument("--outside", action="store_true",
                        help=f"the problems outside the suite ({OUTSIDE.relative_to(ROOT)}/), written from the README "
                             "and not tuned for, instead of the suite")
    parser.add_argument("--table-only", action="store_true")
    parser.add_argument("--starved", action="store_true",
                        help="instead: 100 Adam steps and no quasi-Newton phase per problem and seed, runs that "
                             "cannot have converged, to calibrate the verdict")
    parser.add_argument("--skip-done", action="store_true",
                        help="keep rows already in the JSON instead of measuring them again (a suite spread over "
                             "several sittings)")
    parser.add_argument("--deepxde", action="store_true",
                        help=f"also train DeepXDE's example on each problem that has one ({', '.join(DEEPXDE)}), "
                             "right after sciml's run, and fill the table's DeepXDE column")
    parser.add_argument("--deepxde-only", action="store_true",
                        help="measure DeepXDE only (implies --deepxde); sciml's rows in the JSON are kept")
    parser.add_argument("--deepxde-seeds", help="seeds for DeepXDE (default: the first of --seeds)")
    parser.add_argument("--deepxde-steps-scale", type=float, default=1.0,
                        help="multiply every DeepXDE phase's iterations (rows marked; default: the example's)")
    parser.add_argument("--deepxde-collect", metavar="DIR",
                        help="score DeepXDE workers run elsewhere from `deepxde_suite.py --export DIR` "
                             "(problems of --only) and add their rows; trains nothing")
    parser.add_argument("--deepxde-smoke", action="store_true",
                        help="DeepXDE at most 50 Adam / 5 L-BFGS iterations per phase: plumbing only, rows left "
                             "out of the table")
    args = parser.parse_args()
    args.deepxde = args.deepxde or args.deepxde_only
    out = pathlib.Path(args.out or RESULTS / ("pde_outside.json" if args.outside else "pde_suite.json"))
    rows = json.loads(out.read_text())["runs"] if out.exists() else []
    if args.deepxde_collect:
        for problem in (args.only.split(",") if args.only else DEEPXDE):
            f = deepxde_suite.collect_exported(problem, args.deepxde_collect)
            deepxde_suite.save(f, out.parent / "deepxde_suite.json")
            new = deepxde_row(problem, f["seed"], f, f.get("steps_scale", 1.0), bool(f.get("smoke")))
            rows = [r for r in rows if not (r.get("kind") == "deepxde" and run_key(r) == run_key(new))] + [new]
            print(deepxde_suite.summary(f), flush=True)
        out.write_text(json.dumps({"runs": rows}, indent=1))
    elif not args.table_only:
        everything = sorted(f.stem for f in OUTSIDE.glob("*.py")) if args.outside else SUITE
        problems = args.only.split(",") if args.only else everything
        missing = [p for p in problems if not problem_file(p).exists()]
        if missing:
            parser.error(f"no problem file for {', '.join(missing)} (in problems/ or {OUTSIDE.relative_to(ROOT)}/)")
        seeds = [int(s) for s in args.seeds.split(",")]
        kind = "starved" if args.starved else "recipe"
        key = lambda r: (r["problem"], r["model"], r["seed"], r.get("kind", "recipe"))  # noqa: E731
        done = {key(r) for r in rows}
        dde_seeds = [int(s) for s in args.deepxde_seeds.split(",")] if args.deepxde_seeds else seeds[:1]
        for seed in seeds:  # seed-major: a partial suite still covers every problem once
            for problem in problems:
                measured = []
                if not args.deepxde_only and not ((problem, args.model, seed, kind) in done and args.skip_done):
                    rows = [r for r in rows if key(r) != (problem, args.model, seed, kind)]
                    measured.append(run(problem, seed, args.model, starved=args.starved))
                    rows.append(measured[-1])
                    out.parent.mkdir(parents=True, exist_ok=True)
                    out.write_text(json.dumps({"runs": rows}, indent=1))
                this = (problem, seed, args.deepxde_smoke, args.deepxde_steps_scale)
                if (args.deepxde and not args.starved and problem in DEEPXDE and seed in dde_seeds and not
                        (args.skip_done and any(r.get("kind") == "deepxde" and run_key(r)[:4] == this
                                                and r.get("rel_l2") is not None for r in rows))):
                    new = run_deepxde(problem, seed, args.deepxde_steps_scale, args.deepxde_smoke,
                                      out.parent / "deepxde_suite.json")
                    rows = [r for r in rows if not (r.get("kind") == "deepxde" and run_key(r) == run_key(new))]
                    measured.append(new)
                    rows.append(new)
                    out.parent.mkdir(parents=True, exist_ok=True)
                    out.write_text(json.dumps({"runs": rows}, indent=1))
                for row in measured:
                    print(json.dumps({k: row.get(k) for k in ("problem", "model", "seed", "rel_l2", "wall_s", "stopped",
                                                              "error")}
                                     | {"verdict": (row.get("verdict") or {}).get("status")}), flush=True)
    print(table(rows))
    print()
    print(confusion(rows))


if __name__ == "__main__":
    main()
