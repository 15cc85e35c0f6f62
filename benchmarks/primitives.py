"""Cost of the hybrid networks: a training step of ``mlp-lib`` against the same MLP with tanh.

The acceptance bound of the discovered-primitives issue: after hardening its gates a hybrid
network costs at most 1.3x the same network with tanh per training step. A training step is
``value_and_grad`` of a mean squared error plus an Adam update, jit-compiled, on a batch of
random inputs. Timed: the tanh MLP; the soft mixture (every member evaluated, the price of
training with gates); hardened networks with every layer on one member (each member of the
library in turn) and with a per-neuron choice spread over all members. The JSON records the
median wall time of ``repeats`` steps for each and its ratio to tanh.

    python benchmarks/primitives.py --quick      # small network, few repeats (about a minute)
    python benchmarks/primitives.py              # hidden (128, 128, 128), batch 4096
    python benchmarks/primitives.py --library mine
"""

from __future__ import annotations

import argparse
import json
import pathlib
import statistics
import time

import jax
import jax.numpy as jnp
import optax
from flax import nnx

from sciml.library import load_library
from sciml.library.gates import HardActivation, harden
from sciml.models import build_model

RESULTS = pathlib.Path(__file__).parent / "results"
BOUND = 1.3


def step_time(model: nnx.Module, x: jax.Array, y: jax.Array, repeats: int) -> float:
    """Median seconds of one jit-compiled training step (loss, gradient, Adam update)."""
    graphdef, params, rest = nnx.split(model, nnx.Param, ...)
    optimizer = optax.adam(1e-3)
    state = optimizer.init(params)

    @jax.jit
    def step(params, state):
        def loss(p):
            return jnp.mean((nnx.merge(graphdef, p, rest)(x) - y) ** 2)

        value, grads = jax.value_and_grad(loss)(params)
        updates, state = optimizer.update(grads, state, params)
        return optax.apply_updates(params, updates), state, value

    params, state, value = step(params, state)  # compile
    value.block_until_ready()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        params, state, value = step(params, state)
        value.block_until_ready()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def run(library: str = "standard", hidden=(128, 128, 128), batch: int = 4096, repeats: int = 50) -> dict:
    """The timings and ratios (see the module docstring)."""
    members = list(load_library(library))
    x = jax.random.normal(jax.random.key(0), (batch, 2))
    y = jnp.sin(3 * x[:, :1]) * x[:, 1:]
    tanh = step_time(build_model("mlp", 2, 1, hidden=hidden, activation="tanh"), x, y, repeats)
    soft = build_model("mlp-lib", 2, 1, hidden=hidden, library=library)
    timings = {"tanh": tanh, "soft mixture": step_time(soft, x, y, repeats)}
    for k, member in enumerate(members):
        hard = build_model("mlp", 2, 1, hidden=hidden, activation=[HardActivation(members, k) for _ in hidden])
        timings[f"hard {member.name}"] = step_time(hard, x, y, repeats)
    spread = build_model("mlp", 2, 1, hidden=hidden, activation=[
        HardActivation(members, tuple(i % len(members) for i in range(w))) for w in hidden])
    timings["hard per neuron (all members)"] = step_time(spread, x, y, repeats)
    timings["hardened mlp-lib (arg-max of its gates)"] = step_time(harden(soft), x, y, repeats)
    ratios = {k: v / tanh for k, v in timings.items()}
    hardened = {k: r for k, r in ratios.items() if k.startswith("hard")}
    return {"library": library, "hidden": list(hidden), "batch": batch, "repeats": repeats,
            "device": jax.devices()[0].device_kind, "seconds": timings, "ratio_to_tanh": ratios,
            "bound": BOUND, "worst_hardened": max(hardened.values()),
            "within_bound": max(hardened.values()) <= BOUND}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="hidden (32, 32), batch 1024, 20 repeats")
    parser.add_argument("--library", default="standard")
    args = parser.parse_args()
    settings = {"hidden": (32, 32), "batch": 1024, "repeats": 20} if args.quick else {}
    result = run(args.library, **settings)
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / ("primitives_quick.json" if args.quick else "primitives.json")
    out.write_text(json.dumps(result, indent=2))
    for name, ratio in result["ratio_to_tanh"].items():
        print(f"{name:42s} {result['seconds'][name] * 1e3:8.3f} ms  {ratio:5.2f}x tanh")
    print(f"worst hardened {result['worst_hardened']:.2f}x (bound {BOUND}x): "
          f"{'within' if result['within_bound'] else 'ABOVE'}; written to {out}")


if __name__ == "__main__":
    main()
