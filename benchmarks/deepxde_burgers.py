"""DeepXDE anchor: the standard PINN for Burgers 1D, timed and scored against Cole–Hopf.

The configuration of DeepXDE's own Burgers example (Lu et al. 2021), with its JAX backend:
network ``[2] + [20] * 3 + [1]``, tanh, Glorot normal; 2540 domain, 80 boundary and 160
initial collocation points; Adam with learning rate 1e-3 for 5000 steps. The error is the
relative L2 error of the trained network against the Cole–Hopf reference
(``sciml.datasets.load("burgers")``) on its full 256 x 101 grid, t in [0, 1].

DeepXDE is a benchmark-only dependency and lives in its own virtual environment::

    python -m venv --system-site-packages /work/benchenv-dde
    /work/benchenv-dde/bin/pip install deepxde

Run it (prints the figures and writes ``benchmarks/results/deepxde_burgers.json``)::

    python benchmarks/deepxde_burgers.py [--steps 5000] [--seed 0 [1 2 ...]] [--python VENV_PYTHON]

From another benchmark, in the same run::

    from deepxde_burgers import run_deepxde
    figures = run_deepxde(steps=5000, seed=0)   # dict: wall_s, ms_per_step, rel_l2, ...

The training runs in a subprocess with the venv's interpreter and ``DDE_BACKEND=jax``; its
figures come back as JSON. Timings: ``train_s`` is the wall time of ``model.train`` (JIT
compilation included, as a user experiences it); ``wall_s`` adds problem and model set-up;
``ms_per_step`` is ``train_s / steps``; ``ms_per_step_steady`` excludes the first display
interval (which holds the compilation); ``train_cpu_s`` is the CPU time of the training
process (all its threads), a figure less sensitive to other jobs on a shared machine.

Reference: Lu, Meng, Mao, Karniadakis (2021), "DeepXDE: A deep learning library for solving
differential equations", SIAM Review 63(1).
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import platform
import subprocess
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
DEFAULT_PYTHON = os.environ.get("DEEPXDE_PYTHON", "/work/benchenv-dde/bin/python")
NU = 0.01 / 3.141592653589793


def machine_info() -> dict:
    """Where the figures were measured: host, CPUs, load, Python."""
    info = {
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
    }
    try:
        info["load_average"] = list(os.getloadavg())
    except OSError:
        pass
    return info


def _load_reference():
    """The Cole–Hopf reference: through the installed package, or straight from the repo."""
    try:
        from sciml.datasets import load

        return load("burgers")
    except ImportError:
        import xarray as xr

        with xr.open_dataset(ROOT / "datasets" / "burgers.nc") as ds:
            return ds.load()


def _train(steps: int, seed: int) -> dict:
    """Train DeepXDE's Burgers PINN in this process (needs deepxde and DDE_BACKEND=jax)."""
    load_start = list(os.getloadavg())
    t_start = time.perf_counter()
    import deepxde as dde
    import jax
    import numpy as np

    if dde.backend.backend_name != "jax":
        raise RuntimeError(
            f"DeepXDE loaded backend {dde.backend.backend_name!r}; set DDE_BACKEND=jax"
        )
    dde.config.set_random_seed(seed)

    def pde(x, y):
        dy_x = dde.grad.jacobian(y, x, i=0, j=0)
        dy_t = dde.grad.jacobian(y, x, i=0, j=1)
        dy_xx = dde.grad.hessian(y, x, i=0, j=0)
        # With the JAX backend, y and its derivatives are (value, function) pairs.
        y, dy_x, dy_t, dy_xx = y[0], dy_x[0], dy_t[0], dy_xx[0]
        return dy_t + y * dy_x - NU * dy_xx

    geom = dde.geometry.Interval(-1, 1)
    timedomain = dde.geometry.TimeDomain(0, 1)
    geomtime = dde.geometry.GeometryXTime(geom, timedomain)
    bc = dde.icbc.DirichletBC(geomtime, lambda x: 0, lambda _, on_boundary: on_boundary)
    ic = dde.icbc.IC(
        geomtime, lambda x: -np.sin(np.pi * x[:, 0:1]), lambda _, on_initial: on_initial
    )
    data = dde.data.TimePDE(
        geomtime, pde, [bc, ic], num_domain=2540, num_boundary=80, num_initial=160
    )
    net = dde.nn.FNN([2] + [20] * 3 + [1], "tanh", "Glorot normal")
    model = dde.Model(data, net)
    model.compile("adam", lr=1e-3)

    display_every = min(1000, steps)
    marks: list[float] = []

    class _Clock(dde.callbacks.Callback):
        def on_epoch_end(self):
            if self.model.train_state.epoch % display_every == 0:
                marks.append(time.perf_counter())

    t_train, cpu_train = time.perf_counter(), time.process_time()
    losshistory, _ = model.train(
        iterations=steps, display_every=display_every, callbacks=[_Clock()], verbose=0
    )
    t_end, cpu_end = time.perf_counter(), time.process_time()

    ref = _load_reference()
    xx, tt = np.meshgrid(ref.x.values, ref.t.values, indexing="ij")
    points = np.stack([xx.ravel(), tt.ravel()], axis=1)
    pred = np.asarray(model.predict(points)).reshape(xx.shape)
    exact = ref.u.values
    rel_l2 = float(np.linalg.norm(pred - exact) / np.linalg.norm(exact))

    train_s = t_end - t_train
    steady = None
    if len(marks) >= 2 and steps > display_every:
        steady = (marks[-1] - marks[0]) / (steps - display_every) * 1e3
    n_params = sum(int(np.size(p)) for p in jax.tree.leaves(model.params[0]))
    return {
        "name": "deepxde_burgers",
        "problem": "burgers1d nu=0.01/pi, x in [-1,1], t in [0,1], u0=-sin(pi x)",
        "config": {
            "layers": [2] + [20] * 3 + [1],
            "activation": "tanh",
            "initializer": "Glorot normal",
            "num_domain": 2540,
            "num_boundary": 80,
            "num_initial": 160,
            "optimizer": "adam",
            "lr": 1e-3,
            "steps": steps,
            "seed": seed,
            "backend": "jax",
        },
        "steps": steps,
        "seed": seed,
        "n_params": n_params,
        "rel_l2": rel_l2,
        "reference": "Cole-Hopf (sciml.datasets burgers.nc), 256 x 101 grid",
        "train_s": train_s,
        "wall_s": t_end - t_start,
        "ms_per_step": train_s / steps * 1e3,
        "train_cpu_s": cpu_end - cpu_train,
        "ms_per_step_steady": steady,
        "final_train_loss": float(np.sum(losshistory.loss_train[-1])),
        "versions": {
            "deepxde": dde.__version__,
            "jax": jax.__version__,
            "numpy": np.__version__,
        },
        "devices": [str(d) for d in jax.devices()],
        "machine": machine_info(),
        "load_average_start": load_start,
    }


def run_deepxde(
    steps: int = 5000, seed: int = 0, *, python: str = DEFAULT_PYTHON, timeout: float = 1800
) -> dict:
    """Train DeepXDE's Burgers PINN in the benchmark venv; return its figures as a dict.

    Raises:
        FileNotFoundError: ``python`` (the venv interpreter) does not exist.
        RuntimeError: the subprocess failed; the message holds the end of its output.
    """
    if not pathlib.Path(python).exists():
        raise FileNotFoundError(
            f"no interpreter at {python}; create the benchmark venv with `python -m venv "
            "--system-site-packages /work/benchenv-dde && /work/benchenv-dde/bin/pip install "
            "deepxde`, or pass python=..."
        )
    env = dict(os.environ, DDE_BACKEND="jax", JAX_PLATFORMS=os.environ.get("JAX_PLATFORMS", "cpu"))
    cmd = [
        python,
        str(pathlib.Path(__file__).resolve()),
        "--worker",
        "--steps",
        str(steps),
        "--seed",
        str(seed),
    ]
    proc = subprocess.run(
        cmd, check=False, capture_output=True, text=True, env=env, timeout=timeout
    )
    marker = "DEEPXDE_RESULT "
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith(marker)]
    if proc.returncode != 0 or not lines:
        tail = (proc.stdout + proc.stderr)[-3000:]
        raise RuntimeError(f"DeepXDE run failed (exit {proc.returncode}):\n{tail}")
    return json.loads(lines[-1][len(marker) :])


def _summary(figures: dict) -> str:
    steady = figures["ms_per_step_steady"]
    return (
        f"DeepXDE {figures['versions']['deepxde']} (jax {figures['versions']['jax']}), "
        f"{figures['steps']} Adam steps, seed {figures['seed']}: "
        f"train {figures['train_s']:.1f} s, {figures['ms_per_step']:.2f} ms/step"
        + (f" (steady {steady:.2f})" if steady is not None else "")
        + f", rel_l2 {figures['rel_l2']:.3e}"
    )


def main(argv: list[str] | None = None) -> dict | None:
    """Run one or several seeds; write the figures (one seed: flat; several: runs + medians)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=5000)
    parser.add_argument("--seed", type=int, nargs="+", default=[0], help="one or more seeds")
    parser.add_argument("--python", default=DEFAULT_PYTHON, help="benchmark venv interpreter")
    parser.add_argument("--out", default=str(RESULTS / "deepxde_burgers.json"))
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:  # inside the venv: train and hand the figures back on stdout
        print("DEEPXDE_RESULT " + json.dumps(_train(args.steps, args.seed[0])), flush=True)
        return None
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
