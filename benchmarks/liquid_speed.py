"""CfC and LTC forward + backward time: sciml (JAX) against ncps 1.0.1 (PyTorch) in one run.

Setting of the issue: input 2, 32 units, batch 64, sequence length 100; LTC with the fused
solver at 6 unfolds; CfC in the default mode with ncps' default backbone (1 x 128). The
timed step is ``loss = sum(outputs); grad(loss)`` — one forward and one backward pass — and
the median over repeats is reported. Both libraries run on the CPU here, single process;
torch uses its default intra-op threads unless ``TORCH_THREADS`` is set (on a loaded 2-core
machine one thread avoids oversubscription; the JSON records the count). ncps is optional: without it, only the sciml
figures are written.

    python benchmarks/liquid_speed.py            # writes benchmarks/results/liquid_speed.json

Run it in an environment with ``pip install torch==2.13.0 ncps`` for the comparison.
"""

from __future__ import annotations

import json
import os
import pathlib
import platform
import statistics
import time

import jax
import jax.numpy as jnp
import numpy as np

from sciml.dynamics.liquid import LiquidRNN

B, T, N_IN, UNITS = 64, 100, 2, 32
REPEATS = int(os.environ.get("REPEATS", 20))


def machine() -> dict:
    return {
        "platform": platform.platform(),
        "processor": platform.processor(),
        "cpus": os.cpu_count(),
        "load_avg_1m_5m_15m": os.getloadavg(),
        "jax": jax.__version__,
        "jax_backend": jax.default_backend(),
    }


def median_time(fn, repeats=REPEATS, warmup=3) -> float:
    for _ in range(warmup):
        fn()
    ts = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t0)
    return statistics.median(ts)


def time_sciml(cell: str) -> float:
    from flax import nnx

    model = LiquidRNN(cell, N_IN, UNITS, seed=0)
    graphdef, params, rest = nnx.split(model, nnx.Param, ...)
    x = jnp.asarray(np.random.default_rng(0).normal(size=(B, T, N_IN)), jnp.float32)

    @jax.jit
    def fwd_bwd(p, x):
        return jax.value_and_grad(lambda p: jnp.sum(nnx.merge(graphdef, p, rest)(x)))(p)

    def run():
        jax.block_until_ready(fwd_bwd(params, x))

    return median_time(run)


def time_ncps(cell: str) -> float | None:
    try:
        import torch
        from ncps.torch import CfC, LTC
    except ImportError:
        return None
    if os.environ.get("TORCH_THREADS"):
        torch.set_num_threads(int(os.environ["TORCH_THREADS"]))
    torch.manual_seed(0)
    model = LTC(N_IN, UNITS, batch_first=True) if cell == "ltc" else CfC(N_IN, UNITS, batch_first=True)
    x = torch.randn(B, T, N_IN)

    def run():
        model.zero_grad()
        out, _ = model(x)
        out.sum().backward()

    return median_time(run)


def main() -> dict:
    res: dict = {"setting": {"input": N_IN, "units": UNITS, "batch": B, "length": T, "ltc_unfolds": 6, "cfc_mode": "default", "repeats": REPEATS}}
    for cell in ("cfc", "ltc"):
        ours = time_sciml(cell)
        ref = time_ncps(cell)
        res[cell] = {"sciml_ms": ours * 1e3, "ncps_ms": None if ref is None else ref * 1e3, "speedup": None if ref is None else ref / ours}
        print(f"{cell.upper()}: sciml {ours * 1e3:8.2f} ms   ncps {'n/a' if ref is None else f'{ref * 1e3:8.2f} ms'}   "
              f"speed-up {'n/a' if ref is None else f'{ref / ours:.1f}x'}", flush=True)
    res["sciml_ltc_over_cfc"] = res["ltc"]["sciml_ms"] / res["cfc"]["sciml_ms"]
    if res["cfc"]["ncps_ms"]:
        res["ncps_ltc_over_cfc"] = res["ltc"]["ncps_ms"] / res["cfc"]["ncps_ms"]
        import ncps
        import torch

        res["torch"] = torch.__version__
        res["torch_threads"] = torch.get_num_threads()
    res["target"] = ">= 3x faster than ncps for each cell"
    res["machine"] = machine()
    out = pathlib.Path(__file__).parent / "results" / "liquid_speed.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(res, indent=2))
    print(f"LTC/CfC time ratio (sciml): {res['sciml_ltc_over_cfc']:.2f}; wrote {out}")
    return res


if __name__ == "__main__":
    main()
