"""Exact-recovery benchmark on the Feynman set: sciml.discover vs pyoperon alone.

For each equation of :mod:`sciml.datasets.feynman` and each noise level, both methods get the
same 1000 samples (seeded). A law counts as *exactly recovered* when it is symbolically
equal to the truth after constant rounding, or when its max relative error on 2000 fresh
noiseless points is below 1e-6. pyoperon alone is run with the same time budget per equation
(its chosen model, and the same model after sciml's constant rounding; either counts).

Runnable in chunks because machines are shared::

    python benchmarks/symbolic_feynman.py --limit 10                 # first 10 equations
    python benchmarks/symbolic_feynman.py --offset 10 --limit 10 --resume
    python benchmarks/symbolic_feynman.py --noise 0 --time-budget 30 --skip-operon
    python benchmarks/symbolic_feynman.py --merge part0.json part1.json   # one summary
    python benchmarks/symbolic_feynman.py --set second --noise 0 --skip-operon \
        --out benchmarks/results/symbolic_feynman_second.json   # the other 62 equations, no units

Prints a line per run and writes ``benchmarks/results/symbolic_feynman.json`` (machine info,
settings, per-equation rows and the summary over all rows present).
"""

from __future__ import annotations

import argparse
import faulthandler
import json
import os
import pathlib
import platform
import signal
import statistics
import time

import numpy as np
import sympy as sp

OUT = pathlib.Path(__file__).parent / "results" / "symbolic_feynman.json"


def machine() -> dict:
    return {"platform": platform.platform(), "python": platform.python_version(),
            "cpus": os.cpu_count(), "load_avg_start": os.getloadavg()}


class WallCapExceeded(BaseException):
    """A method ran past the per-equation wall-clock cap (the row counts as not recovered).

    A ``BaseException``: the pipeline drops candidates that raise ``Exception``, which would
    swallow the signal and let the run continue past the cap."""


def _alarm(signum, frame):
    raise WallCapExceeded


def _arm(seconds: float) -> None:
    """Raise :class:`WallCapExceeded` after ``seconds`` of wall time, and again every second
    after: a signal that lands in a garbage-collection callback (JAX's) is lost, the next one
    is not."""
    signal.signal(signal.SIGALRM, _alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds, 1.0)


def _disarm() -> None:
    signal.setitimer(signal.ITIMER_REAL, 0, 0)


def exact(expr, truth_expr, truth_syms, eq, rng) -> tuple[bool, float]:
    from sciml.datasets.feynman import evaluate, sample_inputs

    X = sample_inputs(eq, 2000, rng)
    y = evaluate(eq, X)
    by_name = {s.name: s for s in truth_syms}
    e = expr.xreplace({s: by_name.get(s.name, s) for s in expr.free_symbols})
    try:
        f = sp.lambdify(truth_syms, e, "numpy")
        with np.errstate(all="ignore"):
            p = np.broadcast_to(np.asarray(f(*X.T), float), y.shape)
        err = float(np.max(np.abs(p - y) / np.maximum(np.abs(y), 1e-12)))
    except Exception:
        err = float("inf")
    if not np.isfinite(err):
        err = float("inf")
    if err < 1e-6:
        return True, err
    # numerically off by more than 1e-6: symbolic equality is still checked, but sympy's
    # simplify can run for many minutes on a large wrong formula, so it gets 60 s
    _arm(60)
    try:
        same = sp.simplify(e - truth_expr) == 0
    except (Exception, WallCapExceeded):
        same = False
    finally:
        _disarm()
    return bool(same), err


def run_sciml(eq, ds, seed, budget, generations, cap, units=None):
    from sciml.symbolic import discover

    t0, c0 = time.time(), time.process_time()
    _arm(cap)
    try:
        law = discover(ds, target=eq.target, inputs=eq.variables, seed=seed, time_budget=budget,
                       operon_options={"generations": generations}, units=units)
        # Columns such as `gamma` get safe identifiers in a law (gamma_): compare by column.
        expr = law.expr.xreplace({s: sp.Symbol(name) for s, name in zip(law.symbols, law.inputs)})
        source, verdict = law.record.get("chosen_from"), law.verdict
    except WallCapExceeded:
        expr, source, verdict = sp.nan, f"stopped at the {cap:.0f} s cap", None
    finally:
        _disarm()
    return expr, time.time() - t0, time.process_time() - c0, source, verdict


def run_operon(eq, ds, seed, budget, generations):
    from pyoperon.sklearn import SymbolicRegressor

    from sciml.symbolic.backends import OperonBackend
    from sciml.symbolic.refit import round_constants

    X = np.stack([ds[v].values for v in eq.variables], 1).astype(np.float64)
    y = ds[eq.target].values.astype(np.float64)
    t0, c0 = time.time(), time.process_time()
    reg = SymbolicRegressor(allowed_symbols=OperonBackend.SYMBOLS, generations=generations,
                            n_threads=1, random_state=seed, max_time=int(budget))
    reg.fit(X, y)
    names = [f"X{i + 1}" for i in range(X.shape[1])]
    syms = [sp.Symbol(v, positive=True) if ds[v].values.min() > 0 else sp.Symbol(v, real=True)
            for v in eq.variables]
    raw = sp.sympify(reg.get_model_string(reg.model_, 16, names), locals=dict(zip(names, syms)))
    try:
        rounded, _ = round_constants(raw, syms, X, y)
    except Exception:
        rounded = raw
    return raw, rounded, time.time() - t0, time.process_time() - c0


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--offset", type=int, default=0)
    ap.add_argument("--limit", type=int, default=None)
    ap.add_argument("--only", default=None, help="comma-separated equation ids")
    ap.add_argument("--set", choices=("first", "second"), default="first",
                    help="'first': the 30 equations with units (EQUATIONS); 'second': the other 62 "
                         "AI Feynman equations with at most five variables (SECOND_SET, no units)")
    ap.add_argument("--noise", default="0,0.01", help="comma-separated noise levels")
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--time-budget", type=float, default=60.0, help="seconds for genetic search")
    ap.add_argument("--generations", type=int, default=1000)
    ap.add_argument("--cap", type=float, default=240.0,
                    help="wall-clock cap per equation for sciml; past it the row is a failure")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--skip-operon", action="store_true")
    ap.add_argument("--units", action="store_true",
                    help="give discover the equations' units (method 'sciml+units': the search "
                         "then starts in the Buckingham-pi groups, as AI Feynman does)")
    ap.add_argument("--resume", action="store_true", help="keep rows already in the JSON")
    ap.add_argument("--out", type=pathlib.Path, default=OUT)
    ap.add_argument("--merge", nargs="+", type=pathlib.Path, default=None,
                    help="combine the rows of these result files into --out (no runs)")
    args = ap.parse_args(argv)

    from sciml.datasets.feynman import EQUATIONS, SECOND_SET, generate, truth, units as eq_units

    pool = EQUATIONS if args.set == "first" else SECOND_SET
    if args.units and args.set == "second":
        ap.error("--units needs the first set: the second set has no units table")
    eqs = pool[args.offset:]
    if args.only:
        ids = set(args.only.split(","))
        eqs = [e for e in pool if e.id in ids]
    if args.limit is not None:
        eqs = eqs[: args.limit]
    noises = [float(v) for v in args.noise.split(",")]
    rows = []
    if args.resume and args.out.exists():
        rows = json.loads(args.out.read_text()).get("rows", [])
    done = {(r["id"], r["noise"], r["method"]) for r in rows}
    settings = json.loads(json.dumps(vars(args), default=str))  # paths as strings

    def save():
        summary = {}
        for method in sorted({r["method"] for r in rows}):
            for noise in sorted({r["noise"] for r in rows}):
                sel = [r for r in rows if r["method"] == method and r["noise"] == noise]
                if sel:
                    summary[f"{method}@noise={noise}"] = {
                        "n_equations": len(sel), "exact": sum(r["exact"] for r in sel),
                        "exact_rate": sum(r["exact"] for r in sel) / len(sel),
                        "median_wall_s": statistics.median(r["wall_s"] for r in sel),
                        "median_cpu_s": statistics.median(r.get("cpu_s", float("nan")) for r in sel),
                        "median_load_avg": statistics.median(r["load_avg"] for r in sel)}
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps({"benchmark": "symbolic_feynman", "machine": machine(),
                                        "settings": settings, "summary": summary, "rows": rows},
                                       indent=1))
        return summary

    if args.merge:
        for path in args.merge:
            part = json.loads(path.read_text())
            rows += [r for r in part["rows"] if (r["id"], r["noise"], r["method"]) not in done]
            done.update((r["id"], r["noise"], r["method"]) for r in part["rows"])
            settings.setdefault("merged_settings", []).append(part["settings"])
        eqs = []

    for eq in eqs:
        texpr, tsyms = truth(eq)
        for noise in noises:
            ds = generate(eq, n=args.n, noise=noise, seed=args.seed)
            rng = np.random.default_rng(1234)
            method = "sciml+units" if args.units else "sciml"
            if (eq.id, noise, method) not in done:
                expr, wall, cpu, source, verdict = run_sciml(eq, ds, args.seed, args.time_budget,
                                                    args.generations, args.cap,
                                                    eq_units(eq) if args.units else None)
                ok, err = exact(expr, texpr, tsyms, eq, rng)
                rows.append({"id": eq.id, "noise": noise, "method": method, "exact": ok,
                             "max_rel_err": err, "wall_s": wall, "cpu_s": cpu, "expression": str(expr),
                             "source": source, "verdict": verdict, "load_avg": os.getloadavg()[0]})
                print(f"{eq.id:9s} noise={noise:<5} {method}  exact={ok!s:5} err={err:.1e} {verdict} "
                      f"{wall:6.1f}s [{source}] {str(expr)[:70]}", flush=True)
                save()
            if not args.skip_operon and (eq.id, noise, "operon") not in done:
                raw, rounded, wall, cpu = run_operon(eq, ds, args.seed, args.time_budget,
                                                     args.generations)
                ok_raw, err = exact(raw, texpr, tsyms, eq, rng)
                ok_r, err_r = exact(rounded, texpr, tsyms, eq, rng)
                rows.append({"id": eq.id, "noise": noise, "method": "operon",
                             "exact": ok_raw or ok_r, "max_rel_err": min(err, err_r),
                             "wall_s": wall, "cpu_s": cpu, "expression": str(rounded),
                             "load_avg": os.getloadavg()[0]})
                print(f"{eq.id:9s} noise={noise:<5} operon exact={ok_raw or ok_r!s:5} "
                      f"err={min(err, err_r):.1e} {wall:6.1f}s {str(rounded)[:70]}", flush=True)
                save()
    summary = save()
    for k, v in summary.items():
        print(f"{k}: exact {v['exact']}/{v['n_equations']} ({100 * v['exact_rate']:.0f}%), "
              f"median wall {v['median_wall_s']:.1f}s")


if __name__ == "__main__":
    faulthandler.register(signal.SIGUSR1)  # `kill -USR1 PID` prints where a slow row is
    main()
