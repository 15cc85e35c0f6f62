"""Per-edge symbolic fitting speed: sciml's batched fit vs pykan's ``auto_symbolic``.

One pykan 0.2.8 KAN ``[2, 5, 1]`` is trained briefly on pykan's tutorial law
``exp(sin(pi x) + y^2)`` (1000 points); its edges (``acts``/``spline_postacts``) are then
distilled by both tools over the same 19-function library, in the same run:

- sciml: :func:`sciml.symbolic.fit.fit_edges` + :func:`select` on all 15 edges at once
  (timed after one compilation call; best of 5, wall and CPU time),
- pykan: ``model.auto_symbolic(lib=...)`` (a 101 x 101 grid sweep per edge and function).

Needs torch and pykan, which are benchmark-only dependencies::

    python -m venv --system-site-packages /work/benchenv-symbolic
    /work/benchenv-symbolic/bin/pip install torch==2.13.0 pykan==0.2.8
    /work/benchenv-symbolic/bin/python benchmarks/symbolic_edges.py

Writes ``benchmarks/results/symbolic_edges.json``. Target: sciml < 1 s after compilation.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import pathlib
import platform
import time

import numpy as np

OUT = pathlib.Path(__file__).parent / "results" / "symbolic_edges.json"
PYKAN_LIB = ["0", "x", "x^2", "x^3", "x^4", "x^5", "1/x", "1/x^2", "sqrt", "1/sqrt(x)", "exp",
             "log", "sin", "cos", "tan", "tanh", "abs", "arctan", "gaussian"]


def main():
    import torch
    from kan import KAN, create_dataset

    from sciml.symbolic import DEFAULT_LIBRARY, fit_edges

    torch.manual_seed(0)
    f = lambda x: torch.exp(torch.sin(torch.pi * x[:, [0]]) + x[:, [1]] ** 2)  # noqa: E731
    dataset = create_dataset(f, n_var=2, train_num=1000, test_num=1000, seed=0)
    model = KAN(width=[2, 5, 1], grid=5, k=3, seed=0, auto_save=False)
    with contextlib.redirect_stdout(io.StringIO()):
        model.fit(dataset, opt="LBFGS", steps=5, lamb=0.001)
    model(dataset["train_input"])  # cache activations on the training inputs

    xs, ys = [], []
    for l in range(len(model.width_in) - 1):
        for i in range(model.width_in[l]):
            for j in range(model.width_out[l + 1]):
                xs.append(model.acts[l][:, i].detach().numpy().astype(np.float64))
                ys.append(model.spline_postacts[l][:, j, i].detach().numpy().astype(np.float64))
    X, Y = np.stack(xs), np.stack(ys)
    n_edges = len(X)

    t0 = time.perf_counter()
    fit_edges(X, Y, DEFAULT_LIBRARY)
    first = time.perf_counter() - t0
    times, cpu_times, loads = [], [], []
    for _ in range(5):
        t0, c0 = time.perf_counter(), time.process_time()
        fits = fit_edges(X, Y, DEFAULT_LIBRARY)
        choices = fits.select()
        times.append(time.perf_counter() - t0)
        cpu_times.append(time.process_time() - c0)
        loads.append(os.getloadavg()[0])
    ours = min(times)

    t0, c0 = time.perf_counter(), time.process_time()
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        model.auto_symbolic(lib=PYKAN_LIB)
    pykan_s = time.perf_counter() - t0
    pykan_cpu = time.process_time() - c0
    pykan_choices = [line for line in buf.getvalue().splitlines() if line.startswith("fixing")]

    result = {
        "benchmark": "symbolic_edges",
        "network": "pykan KAN [2,5,1], grid 5, k 3, 5 LBFGS steps on exp(sin(pi x)+y^2), 1000 pts",
        "n_edges": n_edges, "n_primitives": len(DEFAULT_LIBRARY), "samples_per_edge": int(X.shape[1]),
        "sciml_fit_s_after_compile": ours, "sciml_fit_s_runs": times,
        "sciml_fit_cpu_s_runs": cpu_times, "sciml_load_avg_runs": loads, "sciml_first_call_s": first,
        "pykan_auto_symbolic_s": pykan_s, "pykan_auto_symbolic_cpu_s": pykan_cpu,
        "speedup": pykan_s / ours,
        "sciml_choices": [(c.name, round(c.r2, 6)) for c in choices],
        "pykan_choices": pykan_choices,
        "machine": {"platform": platform.platform(), "cpus": os.cpu_count(),
                    "load_avg": os.getloadavg(), "torch": torch.__version__},
    }
    print(f"edges={n_edges} primitives={len(DEFAULT_LIBRARY)}: sciml {ours:.3f}s after compile "
          f"(cpu {min(cpu_times):.3f}s) "
          f"(first call {first:.1f}s), pykan auto_symbolic {pykan_s:.2f}s, speedup {pykan_s / ours:.0f}x, "
          f"load {os.getloadavg()[0]:.1f}")
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
