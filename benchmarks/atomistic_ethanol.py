"""Ethanol (GFN2-xTB MD, 500 K) potentials: our NequIP- and MACE-style models vs MACE-torch.

Same rMD17-style split for everyone (1000 train / 100 val / 200 test, test block last in time),
each model trained for the same wall-clock budget in the same run; then a learning curve
(100/300/1000 training configurations) and an NVE run with the learned NequIP-style potential
(energy drift over ``--nve-ps`` picoseconds).

    python benchmarks/atomistic_ethanol.py --budget-s 540
    python benchmarks/atomistic_ethanol.py --budget-s 120 --models nequip --curve 100,300 --nve-ps 1

MACE-torch runs through ``--mace-python`` (a benchmark venv: ``pip install torch==2.13.0
mace-torch``) with 32 channels, max_L=1, correlation 3, r_max 5, batch 10, float32. It has no
wall-clock option, so it is stopped at the budget and its last logged *validation* errors are
reported (ours are reported on both validation and test). Results: stdout and
``benchmarks/results/atomistic_ethanol.json`` with machine information.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def machine() -> dict:
    return {"platform": platform.platform(), "cpu_count": os.cpu_count(),
            "load_avg_1_5_15": list(os.getloadavg()), "python": platform.python_version()}


def ours(model: str, budget: float, seed: int, n_train: int | None = None) -> tuple[dict, object]:
    sys.path.insert(0, str(ROOT))
    from problems.ethanol_md import problem

    opts = {"time_budget_s": budget}
    if n_train:
        opts["n_train"] = n_train
    res = problem.solve(model=model, steps=10**7, seed=seed, options=opts)
    keep = ("energy_mae", "energy_mae_per_atom", "force_mae", "val_energy_mae",
            "val_energy_mae_per_atom", "val_force_mae", "steps", "train_wall_s",
            "structures_per_s", "n_params", "n_train")
    return {k: res.metrics[k] for k in keep}, res


def mace_torch(python: str, budget: float, seed: int, workdir: Path) -> dict:
    """Train MACE-torch for ``budget`` seconds; parse its validation log."""
    from sciml.atomistic.data import load

    structures, info = load("ethanol")
    split = info["split"]
    files = {}
    for name, idx in split.items():
        frames = []
        for i in idx:
            a = structures[int(i)].to_ase()
            a.info["REF_energy"] = structures[int(i)].energy
            a.arrays["REF_forces"] = structures[int(i)].forces
            a.calc = None
            frames.append(a)
        from ase.io import write

        files[name] = workdir / f"{name}.xyz"
        write(files[name], frames, format="extxyz")
    cmd = [python, "-m", "mace.cli.run_train", "--name", "ethanol", "--seed", str(seed),
           "--train_file", str(files["train"]), "--valid_file", str(files["val"]),
           "--test_file", str(files["test"]), "--energy_key", "REF_energy",
           "--forces_key", "REF_forces", "--E0s", "average", "--model", "MACE",
           "--num_channels", "32", "--max_L", "1", "--correlation", "3", "--r_max", "5.0",
           "--batch_size", "10", "--valid_batch_size", "20", "--max_num_epochs", "100000",
           "--eval_interval", "1", "--error_table", "PerAtomMAE", "--device", "cpu",
           "--default_dtype", "float32", "--work_dir", str(workdir), "--energy_weight", "1",
           "--forces_weight", "100"]
    t0 = time.perf_counter()
    with open(workdir / "stdout.log", "w") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, cwd=workdir)
        try:
            proc.wait(timeout=budget)
        except subprocess.TimeoutExpired:
            proc.terminate()
            proc.wait(timeout=30)
    wall = time.perf_counter() - t0
    text = "".join(p.read_text() for p in (workdir / "logs").glob("*.log")) if (
        workdir / "logs").exists() else (workdir / "stdout.log").read_text()
    epochs = re.findall(r"Epoch (\d+):.*?MAE_E_per_atom=\s*([\d.]+) meV.*?MAE_F=\s*([\d.]+) meV",
                        text)
    params = re.findall(r"Total number of parameters: (\d+)", text)
    out = {"wall_s": round(wall, 1), "epochs_logged": len(epochs),
           "n_params": int(params[0]) if params else None}
    if epochs:
        ep, e_pa, f = epochs[-1]
        out.update(val_energy_mae_per_atom=float(e_pa), val_force_mae=float(f),
                   epochs=int(ep) + 1,
                   structures_per_s=round(1000 * (int(ep) + 1) / wall, 1))
    else:
        out["log_tail"] = text[-2000:]
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--budget-s", type=float, default=540.0, help="training wall clock per model")
    ap.add_argument("--models", default="nequip,mace,mace-torch")
    ap.add_argument("--curve", default="100,300", help="extra training-set sizes (1000 = main)")
    ap.add_argument("--curve-budget-s", type=float, default=None)
    ap.add_argument("--nve-ps", type=float, default=10.0)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--mace-python", default="/work/benchenv-atomistic/bin/python")
    ap.add_argument("--out", default=str(ROOT / "benchmarks/results/atomistic_ethanol.json"))
    args = ap.parse_args(argv)
    report = {"benchmark": "atomistic_ethanol", "budget_s": args.budget_s,
              "machine_start": machine(), "models": {}, "learning_curve": {}, "nve": None,
              "units": {"energy_mae": "meV", "energy_mae_per_atom": "meV/atom",
                        "force_mae": "meV/A"}}
    results = {}

    def save():
        report["machine_end"] = machine()
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(report, indent=2) + "\n")

    for model in args.models.split(","):
        t = time.perf_counter()
        if model == "mace-torch":
            if not Path(args.mace_python).exists():
                report["models"][model] = {"skipped": f"no {args.mace_python}"}
                continue
            with tempfile.TemporaryDirectory() as d:
                report["models"][model] = mace_torch(args.mace_python, args.budget_s, args.seed,
                                                     Path(d))
        else:
            report["models"][model], results[model] = ours(model, args.budget_s, args.seed)
        report["models"][model]["load_avg_1min"] = os.getloadavg()[0]
        print(model, json.dumps(report["models"][model]), f"({time.perf_counter() - t:.0f}s)",
              flush=True)
        save()

    curve_budget = args.curve_budget_s or args.budget_s
    if "nequip" in results:
        report["learning_curve"]["1000"] = {k: report["models"]["nequip"][k] for k in
                                            ("energy_mae", "force_mae", "steps")}
    for n in [int(x) for x in args.curve.split(",") if x]:
        m, _ = ours("nequip", curve_budget, args.seed, n_train=n)
        report["learning_curve"][str(n)] = {k: m[k] for k in ("energy_mae", "force_mae", "steps")}
        print("learning curve nequip", n, report["learning_curve"][str(n)], flush=True)
        save()

    if args.nve_ps > 0 and "nequip" in results:
        from sciml.atomistic import PotentialCalculator
        from sciml.atomistic.md import run_nve

        res = results["nequip"]
        atoms = res.structures[0].to_ase()
        nve = run_nve(atoms, PotentialCalculator(res.potential), duration_ps=args.nve_ps,
                      timestep_fs=0.5, temperature_K=500.0, seed=args.seed)
        report["nve"] = {k: v for k, v in nve.items()
                         if k not in ("time_ps", "total_energy_eV", "potential_energy_eV")}
        print("NVE", json.dumps(report["nve"]), flush=True)
    save()
    print("wrote", args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
