"""DeepXDE anchor: the standard PINN for Burgers 1D, timed and scored against Cole–Hopf.

The configuration of Lu et al. (2021) for Burgers, with DeepXDE's JAX backend: network
``[2] + [20] * 3 + [1]``, tanh, Glorot normal; 2540 domain, 80 boundary and 160 initial
collocation points; Adam with learning rate 1e-3 for 5000 steps. The error is the relative L2
error of the trained network against the Cole–Hopf reference (``sciml.datasets.load("burgers")``)
on its full 256 x 101 grid, t in [0, 1].

This is the ``burgers_anchor`` entry of ``deepxde_suite.py``, which holds the subprocess,
timing, scoring and machine-information code; DeepXDE's current Burgers *example* (15000 Adam
steps, then L-BFGS, PyTorch backend) is its ``burgers`` entry. DeepXDE is a benchmark-only
dependency and lives in its own virtual environment::

    python -m venv --system-site-packages /work/benchenv-dde
    /work/benchenv-dde/bin/pip install deepxde

Run it (prints the figures and writes ``benchmarks/results/deepxde_burgers.json``)::

    python benchmarks/deepxde_burgers.py [--steps 5000] [--seed 0 [1 2 ...]] [--python VENV_PYTHON]

From another benchmark, in the same run::

    from deepxde_burgers import run_deepxde
    figures = run_deepxde(steps=5000, seed=0)   # dict: wall_s, ms_per_step, rel_l2, ...

Timings as in ``deepxde_suite.py``: ``train_s`` is the wall time of ``model.train`` (JIT
compilation included, as a user experiences it); ``wall_s`` adds DeepXDE's import and problem
and model set-up; ``ms_per_step`` is ``train_s / steps``; ``ms_per_step_steady`` excludes the
first display interval (which holds the compilation); ``train_cpu_s`` is the CPU time of the
training process (all its threads), a figure less sensitive to other jobs on a shared machine.

Reference: Lu, Meng, Mao, Karniadakis (2021), "DeepXDE: A deep learning library for solving
differential equations", SIAM Review 63(1).
"""

from __future__ import annotations

import argparse
import json
import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))

from deepxde_suite import DEFAULT_PYTHON, RESULTS, machine_info  # noqa: F401 (re-exported)
from deepxde_suite import run_deepxde as _run_example

ANCHOR_STEPS = 5000


def run_deepxde(
    steps: int = ANCHOR_STEPS, seed: int = 0, *, python: str = DEFAULT_PYTHON, timeout: float = 1800
) -> dict:
    """Train the Burgers anchor in the benchmark venv; return its figures as a dict.

    Raises:
        FileNotFoundError: ``python`` (the venv interpreter) does not exist.
        RuntimeError: the subprocess failed; the message holds the end of its output.
    """
    figures = _run_example("burgers_anchor", seed, steps_scale=steps / ANCHOR_STEPS, python=python,
                           timeout=timeout)
    adam = figures["phases"][0]
    figures["name"] = "deepxde_burgers"
    figures["problem"] = "burgers1d nu=0.01/pi, x in [-1,1], t in [0,1], u0=-sin(pi x)"
    figures["config"].update({"optimizer": "adam", "lr": adam["lr"], "steps": adam["iterations"]})
    return figures


def _summary(figures: dict) -> str:
    steady = figures["ms_per_step_steady"]
    return (
        f"DeepXDE {figures['versions']['deepxde']} (jax {figures['versions']['jax']}), "
        f"{figures['steps']} Adam steps, seed {figures['seed']}: "
        f"train {figures['train_s']:.1f} s, {figures['ms_per_step']:.2f} ms/step"
        + (f" (steady {steady:.2f})" if steady is not None else "")
        + f", rel_l2 {figures['rel_l2']:.3e}"
    )


def main(argv: list[str] | None = None) -> dict:
    """Run one or several seeds; write the figures (one seed: flat; several: runs + medians)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=ANCHOR_STEPS)
    parser.add_argument("--seed", type=int, nargs="+", default=[0], help="one or more seeds")
    parser.add_argument("--python", default=DEFAULT_PYTHON, help="benchmark venv interpreter")
    parser.add_argument("--out", default=str(RESULTS / "deepxde_burgers.json"))
    args = parser.parse_args(argv)
    runs = []
    for seed in args.seed:  # sequentially: one training at a time on a shared machine
        runs.append(run_deepxde(args.steps, seed, python=args.python))
        print(_summary(runs[-1]), flush=True)
    if len(runs) == 1:
        figures = runs[0]
    else:
        import statistics

        figures = {
            "name": "deepxde_burgers",
            "seeds": args.seed,
            "rel_l2_median": statistics.median(r["rel_l2"] for r in runs),
            "rel_l2_min": min(r["rel_l2"] for r in runs),
            "rel_l2_max": max(r["rel_l2"] for r in runs),
            "train_s_median": statistics.median(r["train_s"] for r in runs),
            "ms_per_step_median": statistics.median(r["ms_per_step"] for r in runs),
            "runs": runs,
        }
        print(
            f"median over seeds {args.seed}: rel_l2 {figures['rel_l2_median']:.3e} "
            f"(min {figures['rel_l2_min']:.3e}, max {figures['rel_l2_max']:.3e}), "
            f"train {figures['train_s_median']:.1f} s, {figures['ms_per_step_median']:.2f} ms/step"
        )
    out = pathlib.Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(figures, indent=2) + "\n")
    print(f"wrote {out}")
    return figures


if __name__ == "__main__":
    main()
