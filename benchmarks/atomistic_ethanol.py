"""Ethanol (GFN2-xTB MD, 500 K) potentials: our NequIP- and MACE-style models vs MACE-torch.

Same rMD17-style split for everyone (1000 train / 100 val / 200 test, test block last in time),
each model trained for the same wall-clock budget with the same number of CPU threads
(``--threads``, default 1: XLA without its multi-threaded Eigen pool, torch with one OpenMP
thread), one after another in the same run, or with ``--concurrent`` all at once in separate
processes so that a shared machine's load hits them equally; the 1-minute load average is
recorded with every result. A learning curve (training-set sizes ``--curve``,
same test set) and an NVE run with the learned NequIP-style potential (energy drift over
``--nve-ps`` picoseconds) follow.

    python benchmarks/atomistic_ethanol.py --budget-s 600 --curve "" --nve-ps 0
    python benchmarks/atomistic_ethanol.py --models "" --curve 100,300,1000 --nve-ps 10 \
        --out benchmarks/results/atomistic_ethanol_curve.json
    python benchmarks/atomistic_ethanol.py --budget-s 600 --concurrent --nve-ps 0 \
        --out benchmarks/results/atomistic_ethanol_concurrent.json
    python benchmarks/atomistic_ethanol.py --plot   # figure from the result files

MACE-torch runs through ``--mace-python`` (a benchmark venv: ``pip install torch==2.13.0
mace-torch``) with 32 channels, max_L=1, correlation 3, r_max 5, batch 10, float32, and the
EMA of the weights (decay 0.99) as MACE recommends. Its clock starts when its training loop
starts (data loading and model set-up are not charged to it); at the budget it is stopped, and
its best-validation checkpoint (what ``mace.cli.run_train`` itself evaluates) is scored on the
test split by ``MACECalculator`` with the same error definitions as ours. Results: stdout and
``benchmarks/results/atomistic_ethanol*.json`` with machine information.
"""

from __future__ import annotations

import argparse
import datetime
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
RESULTS = ROOT / "benchmarks/results"


def limit_threads(n: int) -> None:
    """Cap XLA and torch/OpenMP at ``n`` threads; must run before jax or torch is imported."""
    os.environ["OMP_NUM_THREADS"] = os.environ["MKL_NUM_THREADS"] = str(n)
    if n == 1:
        flags = "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"
        os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") + " " + flags).strip()


def machine() -> dict:
    return {"platform": platform.platform(), "cpu_count": os.cpu_count(),
            "load_avg_1_5_15": [round(x, 2) for x in os.getloadavg()],
            "python": platform.python_version()}


def ours(model: str, budget: float, seed: int, n_train: int | None = None) -> tuple[dict, object]:
    sys.path.insert(0, str(ROOT))
    import sciml
    from problems.ethanol_md import problem

    opts = {"time_budget": budget}
    if n_train:
        opts["n_train"] = n_train
    res = sciml.solve(problem, model=model, steps=10**7, seed=seed, **opts)
    keep = ("energy_mae", "energy_mae_per_atom", "force_mae", "val_energy_mae",
            "val_energy_mae_per_atom", "val_force_mae", "steps", "train_wall_s",
            "structures_per_s", "n_params", "n_train")
    out = {k: res.metrics[k] for k in keep}
    h = res.history
    out["history"] = {"wall_s": [round(x, 1) for x in h["wall_s"]],
                      "val_force_mae": [round(x, 2) for x in h["val_force_mae"]]}
    return out, res


def _write_mace_files(workdir: Path) -> dict[str, Path]:
    from ase.io import write

    from sciml.atomistic.data import load

    structures, info = load("ethanol")
    files = {}
    for name, idx in info["split"].items():
        frames = []
        for i in idx:
            s = structures[int(i)]
            a = s.to_ase()
            a.calc = None
            a.info["REF_energy"] = s.energy
            a.arrays["REF_forces"] = s.forces
            frames.append(a)
        files[name] = workdir / f"{name}.xyz"
        write(files[name], frames, format="extxyz")
    return files


# Runs in the MACE-torch environment: test-split errors of a saved model, in meV and meV/A.
_MACE_SCORE = """
import json, sys, numpy as np, torch
from ase.io import read
from mace.calculators import MACECalculator
torch.set_num_threads(int(sys.argv[3]))
calc = MACECalculator(model_paths=sys.argv[1], device="cpu", default_dtype="float32")
de, df, n = [], [], []
for a in read(sys.argv[2], ":"):
    e, f = a.info["REF_energy"], a.arrays["REF_forces"].copy()
    a.calc = calc
    de.append(a.get_potential_energy() - e); df.append(a.get_forces() - f); n.append(len(a))
de, df = np.abs(np.array(de)), np.abs(np.concatenate(df))
print(json.dumps({"energy_mae": 1e3 * de.mean(), "energy_mae_per_atom": 1e3 * (de / n).mean(),
                  "force_mae": 1e3 * df.mean(),
                  "n_params": sum(p.numel() for p in calc.models[0].parameters())}))
"""

_STAMP = r"(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+) INFO: "


def _stamp(s: str) -> float:
    return datetime.datetime.strptime(s, "%Y-%m-%d %H:%M:%S.%f").timestamp()


def mace_torch(python: str, budget: float, seed: int, threads: int, workdir: Path) -> dict:
    """Train MACE-torch for ``budget`` seconds of its training loop; score it on the test split."""
    files = _write_mace_files(workdir)
    common = ["--name", "ethanol", "--seed", str(seed), "--train_file", str(files["train"]),
              "--valid_file", str(files["val"]), "--test_file", str(files["test"]),
              "--energy_key", "REF_energy", "--forces_key", "REF_forces", "--E0s", "average",
              "--model", "MACE", "--num_channels", "32", "--max_L", "1", "--correlation", "3",
              "--r_max", "5.0", "--batch_size", "10", "--valid_batch_size", "20",
              "--eval_interval", "1", "--error_table", "PerAtomMAE", "--device", "cpu",
              "--default_dtype", "float32", "--work_dir", str(workdir), "--energy_weight", "1",
              "--forces_weight", "100", "--ema", "--ema_decay", "0.99"]
    log_path = workdir / "train.log"
    with open(log_path, "w") as log:
        proc = subprocess.Popen([python, "-m", "mace.cli.run_train", *common,
                                 "--max_num_epochs", "100000"],
                                stdout=log, stderr=subprocess.STDOUT, cwd=workdir)
        started = None
        while proc.poll() is None:
            time.sleep(1.0)
            if started is None and "Started training" in log_path.read_text():
                started = time.time()
            if started is not None and time.time() - started >= budget:
                proc.terminate()
                proc.wait(timeout=60)
    text = log_path.read_text()
    t_start = re.search(_STAMP + "Started training", text)
    epochs = re.findall(_STAMP + r"Epoch (\d+):.*?MAE_E_per_atom=\s*([\d.]+) meV.*?"
                        r"MAE_F=\s*([\d.]+) meV", text)
    out = {"budget_s": budget, "epochs": len(epochs)}
    if not epochs or t_start is None:
        out["log_tail"] = text[-2000:]
        return out
    t0 = _stamp(t_start.group(1))
    wall = [_stamp(s) - t0 for s, *_ in epochs]
    out.update(val_energy_mae_per_atom=float(epochs[-1][2]), val_force_mae=float(epochs[-1][3]),
               train_wall_s=round(wall[-1], 1),
               structures_per_s=round(1000 * len(epochs) / wall[-1], 1),
               history={"wall_s": [round(w, 1) for w in wall],
                        "val_force_mae": [float(f) for *_, f in epochs]})
    # Rebuild the model from its latest (best-validation) checkpoint without training further.
    ckpts = sorted(workdir.glob("checkpoints/*_epoch-*.pt"),
                   key=lambda p: int(re.search(r"epoch-(\d+)", p.name).group(1)))
    if not ckpts:
        out["log_tail"] = text[-2000:]
        return out
    best_epoch = int(re.search(r"epoch-(\d+)", ckpts[-1].name).group(1))
    out["best_val_epoch"] = best_epoch
    subprocess.run([python, "-m", "mace.cli.run_train", *common, "--restart_latest",
                    "--max_num_epochs", str(best_epoch)], cwd=workdir, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    model = workdir / "ethanol.model"
    score = subprocess.run([python, "-c", _MACE_SCORE, str(model), str(files["test"]),
                            str(threads)], capture_output=True, text=True, check=True)
    out.update(json.loads(score.stdout.strip().splitlines()[-1]))
    return out


def plot(paths: list[Path], png: Path) -> None:
    """Learning curve and validation force MAE against training wall clock."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    reports = [json.loads(p.read_text()) for p in paths if p.exists()]
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 4))
    colours = {"nequip": "C0", "mace": "C1", "mace-torch": "C2"}
    for rep in reports:
        mode = rep.get("mode", "sequential")
        for name, m in rep.get("models", {}).items():
            h = m.get("history")
            if h:
                ax1.plot(h["wall_s"], h["val_force_mae"], marker=".", color=colours.get(name),
                         ls="--" if mode == "concurrent" else "-", label=f"{name} ({mode})")
        curve = rep.get("learning_curve", {})
        if curve:
            n = sorted(curve, key=int)
            ax2.loglog([int(k) for k in n], [curve[k]["force_mae"] for k in n], "o-",
                       label="force MAE (meV/A)")
            ax2.loglog([int(k) for k in n], [curve[k]["energy_mae"] for k in n], "s-",
                       label="energy MAE (meV)")
    ax1.set(xlabel="training wall clock (s)", ylabel="validation force MAE (meV/A)",
            yscale="log", title="ethanol: same budget, 1 thread each")
    ax2.set(xlabel="training configurations", ylabel="test MAE",
            title="NequIP-style learning curve (same budget each)")
    for ax in (ax1, ax2):
        ax.grid(alpha=0.3, which="both")
    ax1.legend(fontsize=7, ncol=2)
    ax2.legend()
    fig.tight_layout()
    fig.savefig(png, dpi=120)


def run_concurrently(models: list[str], args) -> dict:
    """Every contestant in its own process, all started together, so that on a shared
    machine they train under the same load rather than one after another."""
    procs = {}
    with tempfile.TemporaryDirectory() as d:
        for model in models:
            out = Path(d) / f"{model}.json"
            cmd = [sys.executable, __file__, "--models", model, "--budget-s", str(args.budget_s),
                   "--threads", str(args.threads), "--seed", str(args.seed), "--nve-ps", "0",
                   "--mace-python", args.mace_python, "--out", str(out)]
            procs[model] = (subprocess.Popen(cmd, stdout=subprocess.DEVNULL), out)
        results = {}
        for model, (proc, out) in procs.items():
            proc.wait()
            results[model] = (json.loads(out.read_text())["models"][model] if out.exists()
                              else {"failed": f"exit code {proc.returncode}"})
            print(model, json.dumps({k: v for k, v in results[model].items() if k != "history"}),
                  flush=True)
    return results


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--budget-s", type=float, default=600.0, help="training wall clock per model")
    ap.add_argument("--models", default="nequip,mace,mace-torch")
    ap.add_argument("--curve", default="", help="training-set sizes for the learning curve")
    ap.add_argument("--curve-budget-s", type=float, default=None)
    ap.add_argument("--nve-ps", type=float, default=10.0)
    ap.add_argument("--threads", type=int, default=1, help="CPU threads per contestant")
    ap.add_argument("--concurrent", action="store_true",
                    help="train the contestants at the same time, one process each")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--mace-python", default="/work/benchenv-atomistic/bin/python")
    ap.add_argument("--out", default=str(RESULTS / "atomistic_ethanol.json"))
    ap.add_argument("--plot", action="store_true", help="only draw the figure from the results")
    args = ap.parse_args(argv)
    if args.plot:
        png = RESULTS / "atomistic_ethanol.png"
        plot([RESULTS / f"atomistic_ethanol{x}.json" for x in ("", "_concurrent", "_curve")],
             png)
        print("wrote", png)
        return 0
    limit_threads(args.threads)
    report = {"benchmark": "atomistic_ethanol", "budget_s": args.budget_s,
              "threads_per_model": args.threads, "machine_start": machine(), "models": {},
              "learning_curve": {}, "nve": None,
              "units": {"energy_mae": "meV", "energy_mae_per_atom": "meV/atom",
                        "force_mae": "meV/A"}}
    results = {}

    def save():
        report["machine_end"] = machine()
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(report, indent=2) + "\n")

    models = [m for m in args.models.split(",") if m]
    if args.concurrent and len(models) > 1:
        report["mode"] = "concurrent"
        report["models"] = run_concurrently(models, args)
        models = []
    for model in models:
        t = time.perf_counter()
        load_before = round(os.getloadavg()[0], 2)
        if model == "mace-torch":
            if not Path(args.mace_python).exists():
                report["models"][model] = {"skipped": f"no {args.mace_python}"}
                continue
            with tempfile.TemporaryDirectory() as d:
                report["models"][model] = mace_torch(args.mace_python, args.budget_s, args.seed,
                                                     args.threads, Path(d))
        else:
            report["models"][model], results[model] = ours(model, args.budget_s, args.seed)
        report["models"][model]["load_avg_1min_start_end"] = [load_before,
                                                              round(os.getloadavg()[0], 2)]
        print(model, json.dumps({k: v for k, v in report["models"][model].items()
                                 if k != "history"}),
              f"({time.perf_counter() - t:.0f}s)", flush=True)
        save()

    curve_budget = args.curve_budget_s or args.budget_s
    curve_results = {}
    for n in [int(x) for x in args.curve.split(",") if x]:
        load_before = round(os.getloadavg()[0], 2)
        m, res = ours("nequip", curve_budget, args.seed, n_train=n)
        report["learning_curve"][str(n)] = {
            k: m[k] for k in ("energy_mae", "energy_mae_per_atom", "force_mae", "steps",
                              "train_wall_s")}
        report["learning_curve"][str(n)]["load_avg_1min_start_end"] = [
            load_before, round(os.getloadavg()[0], 2)]
        curve_results[n] = res
        print("learning curve nequip", n, report["learning_curve"][str(n)], flush=True)
        save()

    # NVE with the main NequIP-style potential, else the curve's largest training set.
    nve_result = results.get("nequip") or (curve_results[max(curve_results)]
                                           if curve_results else None)
    if args.nve_ps > 0 and nve_result is not None:
        from sciml.atomistic import PotentialCalculator
        from sciml.atomistic.md import run_nve

        res = nve_result
        atoms = res.structures[0].to_ase()
        nve = run_nve(atoms, PotentialCalculator(res.potential), duration_ps=args.nve_ps,
                      timestep_fs=0.5, temperature_K=500.0, seed=args.seed)
        report["nve"] = {k: v for k, v in nve.items()
                         if k not in ("time_ps", "total_energy_eV", "potential_energy_eV")}
        report["nve"]["n_train_of_potential"] = res.metrics["n_train"]
        print("NVE", json.dumps(report["nve"]), flush=True)
    save()
    print("wrote", args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
