"""Per-training-step time of KANs: sciml (B-spline, RBF, Chebyshev) vs pykan, jaxkan and an MLP.

One step = forward + mean-squared-error + backward + Adam update on a fixed batch, for a
KAN of widths ``[2, 32, 32, 1]`` with ``G = 10``, ``k = 3`` and batch 4096 (issue 3). pykan
0.2.8 (``save_act=False``, ``symbolic_enabled=False``) and jaxkan 0.3.7
(``layer_type="spline"``) are timed in the same run when importable; install them in a
separate environment::

    python -m venv --system-site-packages /work/benchenv-kan
    /work/benchenv-kan/bin/pip install torch==2.13.0 pykan==0.2.8 jaxkan==0.3.7
    /work/benchenv-kan/bin/python benchmarks/kan_speed.py            # CPU, issue sizes
    /work/benchenv-kan/bin/python benchmarks/kan_speed.py --gpu      # + the GPU sizes

Each figure is the median over ``--repeats`` steps after compilation/warm-up, the variants
timed round-robin so that changes of machine load hit all of them alike. Results go to
``benchmarks/results/kan_speed.json`` together with the machine description and load.
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import platform
import statistics
import sys
import time

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

from sciml.models.kan import KAN

RESULTS = pathlib.Path(__file__).resolve().parent / "results"


def _data(n_in: int, batch: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    x = rng.uniform(-1, 1, (batch, n_in)).astype(np.float32)
    y = np.sin(np.pi * x[:, :1]) * np.cos(x.sum(axis=1, keepdims=True))
    return x, y.astype(np.float32)


class MLP(nnx.Module):
    """Plain tanh MLP used as the equal-parameter baseline."""

    def __init__(self, widths, *, rngs):
        self.layers = nnx.List([nnx.Linear(a, b, rngs=rngs) for a, b in zip(widths[:-1], widths[1:])])

    def __call__(self, x):
        for layer in self.layers[:-1]:
            x = jnp.tanh(layer(x))
        return self.layers[-1](x)


def _n_params(model) -> int:
    return sum(int(np.prod(v.shape)) for v in jax.tree.leaves(nnx.state(model, nnx.Param)))


def nnx_step(model, x, y):
    """A closure running one jitted Adam step of any flax nnx model."""
    graphdef, params, rest = nnx.split(model, nnx.Param, ...)
    opt = optax.adam(1e-3)
    opt_state = opt.init(params)

    @jax.jit
    def step(params, opt_state, x, y):
        def loss(p):
            out = nnx.merge(graphdef, p, rest)(x)
            return jnp.mean((out - y) ** 2)

        val, grads = jax.value_and_grad(loss)(params)
        updates, opt_state = opt.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state, val

    x, y = jax.device_put(x), jax.device_put(y)
    carry = [params, opt_state]

    def run():
        carry[0], carry[1], val = step(carry[0], carry[1], x, y)
        val.block_until_ready()

    return run


def mlp_width_matching(n_params: int, n_in: int, n_out: int, depth: int = 2) -> int:
    """Hidden width ``h`` of a ``depth``-hidden-layer MLP with about ``n_params`` parameters."""
    best = min(
        range(1, 4096),
        key=lambda h: abs(n_in * h + h + (depth - 1) * (h * h + h) + h * n_out + n_out - n_params),
    )
    return best


def pykan_step(widths, grid, order, x, y):
    import torch
    from kan import KAN as PyKAN

    torch.set_num_threads(os.cpu_count() or 1)
    device = "cuda" if torch.cuda.is_available() and jax.default_backend() == "gpu" else "cpu"
    model = PyKAN(
        width=list(widths), grid=grid, k=order, save_act=False, symbolic_enabled=False,
        auto_save=False, device=device, seed=0,
    )
    xt = torch.tensor(x, device=device)
    yt = torch.tensor(y, device=device)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)

    def run():
        opt.zero_grad()
        loss = torch.mean((model(xt) - yt) ** 2)
        loss.backward()
        opt.step()
        if device == "cuda":
            torch.cuda.synchronize()

    return run


def jaxkan_step(widths, grid, order, x, y):
    from jaxkan.models.KAN import KAN as JaxKAN

    model = JaxKAN(list(widths), layer_type="spline", required_parameters={"k": order, "G": grid}, seed=0)
    return nnx_step(model, x, y)


def interleaved_median_ms(runs: dict, repeats: int, warmup: int = 3) -> dict:
    """Median ms per step of each runner, timed round-robin so that a change of machine load
    during the run affects every variant alike."""
    for run in runs.values():
        for _ in range(warmup):
            run()
    times = {name: [] for name in runs}
    for _ in range(repeats):
        for name, run in runs.items():
            t0 = time.perf_counter()
            run()
            times[name].append(time.perf_counter() - t0)
    return {name: statistics.median(t) * 1e3 for name, t in times.items()}


def machine_info() -> dict:
    info = {
        "platform": platform.platform(),
        "python": platform.python_version(),
        "processor": platform.processor(),
        "cpu_count": os.cpu_count(),
        "jax": jax.__version__,
        "backend": jax.default_backend(),
        "devices": [str(d) for d in jax.devices()],
    }
    try:
        info["loadavg_1_5_15"] = list(os.getloadavg())
    except OSError:
        pass
    try:
        for line in pathlib.Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                info["cpu_model"] = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return info


def run_size(widths, grid, order, batch, repeats, include_external=True) -> dict:
    x, y = _data(widths[0], batch)
    models = {
        "sciml_bspline": KAN(widths, grid=grid, order=order, basis="bspline", rngs=nnx.Rngs(0)),
        "sciml_rbf": KAN(widths, grid=grid, order=order, basis="rbf", rngs=nnx.Rngs(0)),
        # The RBF basis has G + 1 functions per input against G + k for B-splines; these rows
        # have the same matmul shapes as the B-spline layer.
        "sciml_rbf_same_shapes": KAN(widths, grid=grid + order - 1, basis="rbf", rngs=nnx.Rngs(0)),
        "sciml_chebyshev_same_shapes": KAN(widths, grid=grid + order - 1, basis="chebyshev", rngs=nnx.Rngs(0)),
    }
    rows = {name: {"n_params": m.n_params()} for name, m in models.items()}
    runs = {name: nnx_step(m, x, y) for name, m in models.items()}
    n_kan = rows["sciml_bspline"]["n_params"]
    h = mlp_width_matching(n_kan, widths[0], widths[-1], depth=len(widths) - 2)
    mlp = MLP([widths[0]] + [h] * (len(widths) - 2) + [widths[-1]], rngs=nnx.Rngs(0))
    rows["mlp_same_params"] = {"n_params": _n_params(mlp), "hidden": h}
    runs["mlp_same_params"] = nnx_step(mlp, x, y)
    if include_external:
        for name, fn in (("jaxkan_0.3.7_spline", jaxkan_step), ("pykan_0.2.8", pykan_step)):
            try:
                runs[name] = fn(widths, grid, order, x, y)
                rows[name] = {}
            except ImportError as err:
                rows[name] = {"ms": None, "skipped": f"not installed: {err}"}
    for name, ms in interleaved_median_ms(runs, repeats).items():
        rows[name]["ms"] = ms
    b = rows["sciml_bspline"]["ms"]
    ratios = {
        "bspline_over_rbf": b / rows["sciml_rbf"]["ms"],
        "bspline_over_rbf_same_shapes": b / rows["sciml_rbf_same_shapes"]["ms"],
        "bspline_over_mlp": b / rows["mlp_same_params"]["ms"],
    }
    for name in ("jaxkan_0.3.7_spline", "pykan_0.2.8"):
        if rows.get(name, {}).get("ms"):
            ratios[f"speedup_vs_{name}"] = rows[name]["ms"] / b
    return {"widths": list(widths), "grid": grid, "order": order, "batch": batch, "ms_per_step": rows, "ratios": ratios}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--gpu", action="store_true", help="also the GPU sizes of issue 3")
    parser.add_argument("--no-external", action="store_true", help="skip pykan and jaxkan")
    parser.add_argument("--out", default=str(RESULTS / "kan_speed.json"))
    args = parser.parse_args(argv)

    sizes = [([2, 32, 32, 1], 10, 3, 4096)]
    if args.gpu:
        sizes += [([16, 128, 128, 1], 10, 3, 16384), ([64, 256, 256, 1], 10, 3, 65536)]
    load_before = machine_info().get("loadavg_1_5_15")
    results = []
    for widths, grid, order, batch in sizes:
        res = run_size(widths, grid, order, batch, args.repeats, include_external=not args.no_external)
        results.append(res)
        print(f"\nKAN {widths} G={grid} k={order} batch={batch} ({jax.default_backend()})")
        for name, row in res["ms_per_step"].items():
            ms = row["ms"]
            extra = f"  params={row['n_params']}" if "n_params" in row else ""
            print(f"  {name:30s} {'skipped' if ms is None else f'{ms:9.2f} ms/step'}{extra}")
        for name, value in res["ratios"].items():
            print(f"  {name:30s} {value:9.2f}")
    out = {"benchmark": "kan_speed", "machine": machine_info(), "loadavg_before": load_before, "results": results}
    pathlib.Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    pathlib.Path(args.out).write_text(json.dumps(out, indent=2))
    print(f"\nwrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
