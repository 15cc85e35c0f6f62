"""CfC and LTC forward + backward time: sciml (JAX) against ncps 1.0.1 (PyTorch) in one run.

Setting of the issue: input 2, 32 units, batch 64, sequence length 100; LTC with the fused
solver at 6 unfolds; CfC in the default mode with ncps' default backbone (1 x 128). The
timed step is ``loss = sum(outputs); grad(loss)`` — one forward and one backward pass.
Both libraries run on the CPU, single process, with the same number of threads
(``THREADS``, default 1: XLA's intra-op pool and torch's). With one thread the process is
also pinned to one core: XLA's runtime can still run independent operations on helper
threads, so without the pin its CPU time exceeds its wall time and the comparison would not
be one core against one core. ``THREADS=2`` runs both libraries unpinned on two threads. The
JSON records the median wall time and the median process CPU time of ``REPEATS`` calls per
library and the load average around the run. ncps is optional: without it, only the sciml
figures are written.

    python benchmarks/liquid_speed.py            # one core each: results/liquid_speed.json
    THREADS=2 python benchmarks/liquid_speed.py  # two threads each: results/liquid_speed_2threads.json

Run it in an environment with ``pip install torch==2.13.0 ncps`` for the comparison.
"""

from __future__ import annotations

import json
import os
import pathlib
import platform
import statistics
import time

THREADS = int(os.environ.get("THREADS", 1))
PINNED_CORE = None
if THREADS == 1:
    PINNED_CORE = max(os.sched_getaffinity(0))
    os.sched_setaffinity(0, {PINNED_CORE})
    if "XLA_FLAGS" not in os.environ:
        # Set before jax is imported: XLA reads its flags once.
        os.environ["XLA_FLAGS"] = "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"

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


def median_time(fn, repeats=REPEATS, warmup=3) -> tuple[float, float]:
    """Median wall time and median process CPU time of ``fn()`` in seconds."""
    for _ in range(warmup):
        fn()
    wall, cpu = [], []
    for _ in range(repeats):
        t0, c0 = time.perf_counter(), time.process_time()
        fn()
        wall.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    return statistics.median(wall), statistics.median(cpu)


def time_sciml(cell: str) -> tuple[float, float]:
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


def time_ncps(cell: str) -> tuple[float, float] | None:
    try:
        import torch
        from ncps.torch import CfC, LTC
    except ImportError:
        return None
    torch.set_num_threads(THREADS)
    torch.manual_seed(0)
    model = LTC(N_IN, UNITS, batch_first=True) if cell == "ltc" else CfC(N_IN, UNITS, batch_first=True)
    x = torch.randn(B, T, N_IN)

    def run():
        model.zero_grad()
        out, _ = model(x)
        out.sum().backward()

    return median_time(run)


def main() -> dict:
    res: dict = {"setting": {"input": N_IN, "units": UNITS, "batch": B, "length": T, "ltc_unfolds": 6, "cfc_mode": "default",
                             "repeats": REPEATS, "threads": THREADS, "pinned_core": PINNED_CORE}, "load_avg_before": os.getloadavg()}
    for cell in ("cfc", "ltc"):
        ours = time_sciml(cell)
        ref = time_ncps(cell)
        res[cell] = {"sciml_ms": ours[0] * 1e3, "sciml_cpu_ms": ours[1] * 1e3,
                     "ncps_ms": None if ref is None else ref[0] * 1e3, "ncps_cpu_ms": None if ref is None else ref[1] * 1e3,
                     "speedup": None if ref is None else ref[0] / ours[0],
                     "speedup_cpu_time": None if ref is None else ref[1] / ours[1]}
        print(f"{cell.upper()}: sciml {ours[0] * 1e3:8.2f} ms (cpu {ours[1] * 1e3:.2f})   ncps "
              f"{'n/a' if ref is None else f'{ref[0] * 1e3:8.2f} ms (cpu {ref[1] * 1e3:.2f})'}   "
              f"speed-up {'n/a' if ref is None else f'{ref[0] / ours[0]:.1f}x (cpu {ref[1] / ours[1]:.1f}x)'}", flush=True)
    res["sciml_ltc_over_cfc"] = res["ltc"]["sciml_ms"] / res["cfc"]["sciml_ms"]
    if res["cfc"]["ncps_ms"]:
        res["ncps_ltc_over_cfc"] = res["ltc"]["ncps_ms"] / res["cfc"]["ncps_ms"]
        import ncps
        import torch

        res["torch"] = torch.__version__
        res["ncps"] = getattr(ncps, "__version__", "1.0.1")
        res["torch_threads"] = torch.get_num_threads()
    res["xla_flags"] = os.environ.get("XLA_FLAGS", "")
    res["load_avg_after"] = os.getloadavg()
    res["target"] = ">= 3x faster than ncps for each cell"
    res["machine"] = machine()
    out = pathlib.Path(__file__).parent / "results" / ("liquid_speed.json" if THREADS == 1 else f"liquid_speed_{THREADS}threads.json")
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(res, indent=2))
    print(f"LTC/CfC time ratio (sciml): {res['sciml_ltc_over_cfc']:.2f}; wrote {out}")
    return res


if __name__ == "__main__":
    main()
