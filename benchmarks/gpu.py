"""The GPU figures in one run: KAN training steps, Burgers time to accuracy, potentials' throughput.

Run through ``bash benchmarks/gpu.sh`` (at most ~8 minutes on one GPU); it writes
``benchmarks/results/gpu.json`` with the card's name and the load average beside every figure.

* **KAN step** (forward + MSE + backward + Adam on a fixed batch), ``G = 10``, ``k = 3``, at
  ``[16, 128, 128, 1]`` batch 16384 and ``[64, 256, 256, 1]`` batch 65536: sciml's B-spline
  and RBF bases, jaxkan 0.3.7 ``spline`` and pykan 0.2.8 when importable (timed round-robin,
  :mod:`kan_speed`), and the *floor*: a Gaussian RBF expansion followed by one contraction per
  layer, of exactly the B-spline layer's shapes, the least any KAN layer of those shapes does.
* **Burgers** (``problems/burgers.py``, the generic recipe: no settings from the problem file)
  trained with wall-clock budgets of ``--burgers-budgets`` seconds, compilation included:
  the error at 60 s and the first budget that reaches rel L2 1e-3.
* **Potentials**: NequIP- and MACE-style training on the ethanol set for ``--atomistic-s``
  seconds each (structures per second after compilation, force MAE at the end), and
  MACE-torch on the same split and budget when ``--mace-python`` exists.

``--dry-run`` runs every part at toy sizes and budgets on whatever device there is (the
tests run it on the CPU): it checks the script, not the figures, and says so in its output.
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import sys
import tempfile
import time

import jax
import jax.numpy as jnp
import numpy as np
import optax

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(ROOT))

from kan_speed import _data, interleaved_median_ms, machine_info, run_size  # noqa: E402

KAN_SIZES = [([16, 128, 128, 1], 16384), ([64, 256, 256, 1], 65536)]
GRID, ORDER = 10, 3


def floor_step(widths, n_basis: int, x, y):
    """One Adam step of the cheapest layer stack with a KAN's shapes: per layer a Gaussian
    expansion of every input into ``n_basis`` functions on a fixed grid, then one contraction
    ``(batch, n_in * n_basis) @ (n_in * n_basis, n_out)``."""
    keys = jax.random.split(jax.random.PRNGKey(0), len(widths) - 1)
    params = [jax.random.normal(k, (a * n_basis, b)) / np.sqrt(a * n_basis)
              for k, a, b in zip(keys, widths[:-1], widths[1:])]
    centres = jnp.linspace(-1.0, 1.0, n_basis)
    inv_width = (n_basis - 1) / 2.0

    def forward(ps, h):
        for w in ps:
            phi = jnp.exp(-(((h[..., None] - centres) * inv_width) ** 2))
            h = phi.reshape(h.shape[0], -1) @ w
        return h

    opt = optax.adam(1e-3)

    @jax.jit
    def step(ps, st, x, y):
        loss, grads = jax.value_and_grad(lambda p: jnp.mean((forward(p, x) - y) ** 2))(ps)
        updates, st = opt.update(grads, st, ps)
        return optax.apply_updates(ps, updates), st, loss

    carry = [params, opt.init(params)]
    x, y = jax.device_put(x), jax.device_put(y)

    def run():
        carry[0], carry[1], loss = step(carry[0], carry[1], x, y)
        loss.block_until_ready()

    return run


def kan_figures(sizes, repeats: int, external: bool) -> list[dict]:
    out = []
    for widths, batch in sizes:
        row = run_size(widths, GRID, ORDER, batch, repeats, include_external=external)
        x, y = _data(widths[0], batch)
        floor_ms = interleaved_median_ms({"floor": floor_step(widths, GRID + ORDER, x, y)}, repeats)["floor"]
        row["ms_per_step"]["floor_rbf_matmul"] = {"ms": floor_ms}
        b = row["ms_per_step"]["sciml_bspline"]["ms"]
        row["ratios"]["bspline_over_floor"] = b / floor_ms
        row["load_avg_1min"] = round(os.getloadavg()[0], 2)
        out.append(row)
        print(f"KAN {widths} batch {batch}: " + ", ".join(
            f"{k} {v['ms']:.2f} ms" for k, v in row["ms_per_step"].items() if v.get("ms")), flush=True)
    return out


def burgers_figures(budgets, seed: int) -> dict:
    import sciml
    from sciml.solver import load_problem

    problem = load_problem(ROOT / "problems" / "burgers.py")
    runs = []
    for budget in budgets:
        t0 = time.perf_counter()
        res = sciml.solve(problem, seed=seed, time_budget=float(budget), progress=False)
        runs.append({"budget_s": budget, "wall_s": round(time.perf_counter() - t0, 2),
                     "rel_l2": float(res.metrics["rel_l2"]), "steps": res.metrics.get("steps"),
                     "load_avg_1min": round(os.getloadavg()[0], 2)})
        print(f"Burgers, budget {budget} s: rel L2 {runs[-1]['rel_l2']:.3e} in {runs[-1]['wall_s']:.1f} s",
              flush=True)
    at_60 = next((r["rel_l2"] for r in runs if r["budget_s"] == 60), None)
    reached = next((r["wall_s"] for r in runs if r["rel_l2"] <= 1e-3), None)
    return {"runs": runs, "rel_l2_at_60s": at_60, "wall_s_to_rel_l2_1e-3": reached,
            "note": "each budget is its own run from scratch, compilation included; the time to 1e-3 "
                    "is the wall time of the first budget that reached it (None: none did)"}


def atomistic_figures(budget: float, seed: int, mace_python: str | None, n_train: int | None) -> dict:
    from atomistic_ethanol import mace_torch, ours

    out = {}
    for model in ("nequip", "mace"):
        figures, _ = ours(model, budget, seed, n_train)
        figures.pop("history", None)
        out[model] = {**figures, "load_avg_1min": round(os.getloadavg()[0], 2)}
        print(f"{model}: {figures['structures_per_s']:.1f} structures/s, force MAE "
              f"{figures['force_mae']:.1f} meV/A after {budget:g} s", flush=True)
    if mace_python and pathlib.Path(mace_python).is_file():
        with tempfile.TemporaryDirectory() as d:
            out["mace-torch"] = mace_torch(mace_python, budget, seed, os.cpu_count() or 1, pathlib.Path(d))
    else:
        out["mace-torch"] = {"skipped": f"no interpreter at {mace_python} (a benchmark venv with mace-torch)"
                             if mace_python else "not run in a dry run"}
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dry-run", action="store_true", help="toy sizes and budgets: checks the script only")
    ap.add_argument("--repeats", type=int, default=20)
    ap.add_argument("--burgers-budgets", default="30,60,90", help="seconds, comma-separated")
    ap.add_argument("--atomistic-s", type=float, default=60.0, help="training seconds per potential")
    ap.add_argument("--mace-python", default="/work/benchenv-atomistic/bin/python")
    ap.add_argument("--no-external", action="store_true", help="skip jaxkan and pykan")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=pathlib.Path, default=None)
    args = ap.parse_args(argv)

    if args.dry_run:
        sizes, repeats, budgets, atom_s, n_train = [([2, 8, 8, 1], 256)], 2, [2], 20.0, 20
        out = args.out or pathlib.Path(tempfile.mkdtemp()) / "gpu.json"
    else:
        sizes, repeats, atom_s, n_train = KAN_SIZES, args.repeats, args.atomistic_s, None
        budgets = [float(b) for b in args.burgers_budgets.split(",")]
        out = args.out or HERE / "results" / "gpu.json"
    device = jax.devices()[0]
    report = {"benchmark": "gpu", "dry_run": args.dry_run, "card": device.device_kind,
              "backend": jax.default_backend(), "machine_start": machine_info()}
    if report["backend"] != "gpu" and not args.dry_run:
        print(f"warning: no GPU found (backend {report['backend']}); the figures are not GPU figures",
              file=sys.stderr)
    t0 = time.perf_counter()
    report["kan"] = kan_figures(sizes, repeats, external=not (args.no_external or args.dry_run))
    report["burgers"] = burgers_figures(budgets, args.seed)
    report["atomistic"] = atomistic_figures(atom_s, args.seed, None if args.dry_run else args.mace_python,
                                            n_train)
    report["wall_s"] = round(time.perf_counter() - t0, 1)
    report["machine_end"] = machine_info()
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=1, default=float) + "\n")
    print(f"{'dry run (figures mean nothing)' if args.dry_run else report['card']}: "
          f"{report['wall_s']:.0f} s; wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
