"""Discovered primitives on a family of dynamical systems, and what the hybrid networks cost.

The family benchmark (default): ten planar vector fields (:mod:`sciml.library.family`), five
for discovery, five held out. A KAN fitted to each discovery task's samples is harvested and
deduplicated into a library (saved as JSON beside the results). On each held-out task:

(a) MLP regression of the vector field from ``(x, f(x))`` samples: the one MLP, two hidden
    layers, with the discovered library (``mlp-lib``, one softmax gate per layer, trained with
    its gates and evaluated as the trained mixture), tanh, ReLU, SiLU and PAU
    (:mod:`sciml.library.pade`), widths set so every network has the tanh network's parameter
    count within 5% (gate logits and PAU coefficients counted); relative L2 test error on fresh
    samples for several training-set sizes, over seeds. The library network's error after
    hardening its gates (arg-max member, no further training) is recorded beside it;
(b) CfC trajectory forecasting (the ``cfc`` forecaster, teacher-forced training, closed-loop
    rollouts from fresh initial states): ``cfc-lib`` against the CfC backbone with tanh, ReLU,
    SiLU and PAU;
(c) the same comparison on a PDE family through ``sciml.solve`` (``--parts pde``, its own
    results file): fronts of ``u_t = D u_xx + R(u)`` with five reaction terms (Fisher,
    Zeldovich, Nagumo for discovery; sine, Arrhenius-like held out). The library is harvested
    from the field KANs the recipe trains on the discovery problems; on each held-out problem
    ``mlp-lib`` and the MLP with each baseline activation (the recipe's depth, widths matched in
    parameters) train with the same fixed steps, scored by the relative L2 error to a
    method-of-lines reference.

Every task and activation shares the same settings; nothing is tuned per task. A task counts as
a win when the library's error (seed mean, geometric mean over training-set sizes) is below
every baseline's.

    python benchmarks/primitives.py --quick      # 1 held-out task, 2 seeds (PDE: 1), short fits (about 15 min on 2 cores)
    python benchmarks/primitives.py              # the full tables (results/primitives_{family,pde}.json)
    python benchmarks/primitives.py --cost [--quick]   # training-step cost of mlp-lib against tanh

The cost benchmark: the acceptance bound of the discovered-primitives issue is that after
hardening its gates a hybrid network costs at most 1.3x the same network with tanh per training
step. A training step is ``value_and_grad`` of a mean squared error plus an Adam update,
jit-compiled, on a batch of random inputs. Timed: the tanh MLP; the soft mixture (every member
evaluated); hardened networks with every layer on one member (each member in turn) and with a
per-neuron choice spread over all members; for the standard library and for the family run's
discovered one (``--library`` names others). The networks are timed in interleaved rounds (the
median of ``repeats`` steps per round, the least over rounds); the JSON records that time for
each network, its ratio to tanh and the load average.
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import statistics
import time

import jax
import jax.numpy as jnp
import numpy as np

from sciml.library import load_library
from sciml.library.family import MAX_ROUGHNESS
from sciml.library.gates import HardActivation, harden
from sciml.models import build_model

from kan_speed import nnx_step  # noqa: E402  (benchmarks/ is on the path: the one timed Adam step)

RESULTS = pathlib.Path(__file__).parent / "results"
DISCOVERED = RESULTS / "primitives_family_library.json"  # the family run's library
BOUND = 1.3


def interleaved_timings(steps: dict, repeats: int, rounds: int) -> dict:
    """Seconds per call of each of ``steps``: rounds of ``repeats`` calls of each in turn, the
    median of a round, the least over rounds. Interleaving spreads a shared machine's slow
    spells over every network instead of charging them to whichever was being timed."""
    medians = {name: [] for name in steps}
    for _ in range(rounds):
        for name, run in steps.items():
            times = []
            for _ in range(repeats):
                start = time.perf_counter()
                run()
                times.append(time.perf_counter() - start)
            medians[name].append(statistics.median(times))
    return {name: min(values) for name, values in medians.items()}


def run_cost(library: str = "standard", hidden=(128, 128, 128), batch: int = 4096, repeats: int = 20,
             rounds: int = 5) -> dict:
    """The timings and ratios (see the module docstring)."""
    members = list(load_library(library))
    x = jax.random.normal(jax.random.key(0), (batch, 2))
    y = jnp.sin(3 * x[:, :1]) * x[:, 1:]
    soft = build_model("mlp-lib", 2, 1, hidden=hidden, library=library)
    networks = {"tanh": build_model("mlp", 2, 1, hidden=hidden, activation="tanh"), "soft mixture": soft}
    for k, member in enumerate(members):
        networks[f"hard {member.name}"] = build_model("mlp", 2, 1, hidden=hidden,
                                                      activation=[HardActivation(members, k) for _ in hidden])
    # Per neuron, every member on a share of each layer: as harden() leaves a network (each
    # member's neurons one slice) and, for comparison, interleaved (gathers).
    shares = [tuple(i % len(members) for i in range(w)) for w in hidden]
    networks["hard per neuron (all members)"] = build_model("mlp", 2, 1, hidden=hidden, activation=[
        HardActivation(members, tuple(sorted(c))) for c in shares])
    networks["per neuron interleaved (gathers; not as harden leaves it)"] = build_model(
        "mlp", 2, 1, hidden=hidden, activation=[HardActivation(members, c) for c in shares])
    networks["hardened mlp-lib (arg-max of its gates)"] = harden(soft)
    steps = {name: nnx_step(model, x, y) for name, model in networks.items()}
    for run in steps.values():
        run()  # compile
    timings = interleaved_timings(steps, repeats, rounds)
    ratios = {k: v / timings["tanh"] for k, v in timings.items()}
    hardened = {k: r for k, r in ratios.items() if k.startswith("hard")}
    return {"library": str(library), "members": [m.name for m in members], "hidden": list(hidden), "batch": batch,
            "repeats": repeats, "rounds": rounds, "device": jax.devices()[0].device_kind,
            "load_average": list(os.getloadavg()), "seconds": timings, "ratio_to_tanh": ratios,
            "bound": BOUND, "worst_hardened": max(hardened.values()),
            "within_bound": max(hardened.values()) <= BOUND}


# ----------------------------------------------------------------------------- the task family
BASELINES = ("tanh", "relu", "silu", "pau")
SETTINGS = {  # the same for every task and every activation
    "full": {"sizes": (32, 128, 512), "seeds": 5, "steps": 200, "width": 16, "test": 2000,
             "cfc_sizes": (8,), "cfc_steps": 300, "cfc_units": 8, "cfc_backbone": 16, "points": 41,
             "discovery_steps": 200, "tasks": None,
             "pde_steps": 1000, "pde_lbfgs": 500, "pde_seeds": 3, "pde_width": 32, "pde_tasks": None},
    "quick": {"sizes": (32, 128), "seeds": 2, "steps": 100, "width": 16, "test": 1000,
              "cfc_sizes": (8,), "cfc_steps": 100, "cfc_units": 8, "cfc_backbone": 16, "points": 21,
              "discovery_steps": 60, "tasks": 1,
             "pde_steps": 200, "pde_lbfgs": 50, "pde_seeds": 1, "pde_width": 32, "pde_tasks": 1},
}
# mlp-lib and cfc-lib train with their gates (temperature 1, the default entropy penalty) for
# the same steps as every baseline, and are evaluated as trained. Annealed hardening was tried
# first (temperature 1 then 0.1, arg-max per neuron, fine-tuning): the gates had hardly left
# uniform (normalised entropy 0.99), so the arg-max network lost what the mixture had fitted
# (relative error 32 against 0.10 on Van der Pol); the hardened error is still recorded.
GATING = "layer"


def _count(model) -> int:
    from sciml.result import count_parameters

    return int(count_parameters(model))


def _activation(name: str, layers: int, library=None):
    """A baseline's activation, or ``member:NAME``: that member of ``library`` (already made
    activations by :func:`run_family`, as ``mlp-lib`` sees it) alone in every layer."""
    from sciml.library.pade import PadeActivation

    if name.startswith("member:"):
        members = list(load_library(library))
        k = [m.name for m in members].index(name.removeprefix("member:"))
        return [HardActivation(members, k) for _ in range(layers)]
    return [PadeActivation() for _ in range(layers)] if name == "pau" else name


def _mlp_options(name: str, width: int, library, gating: str = GATING, depth: int = 2) -> tuple[str, dict]:
    """The registered model and its options for network ``name`` (``library`` or a baseline)."""
    if name == "library":
        return "mlp-lib", {"hidden": (width,) * depth, "library": library, "gating": gating}
    return "mlp", {"hidden": (width,) * depth, "activation": _activation(name, depth, library)}


def _mlp(name: str, width: int, seed: int, library, gating: str = GATING, depth: int = 2, features=(2, 2)):
    model, options = _mlp_options(name, width, library, gating, depth)
    return build_model(model, *features, seed=seed, **options)


def matched_widths(width: int, library, gating: str = GATING, depth: int = 2, features=(2, 2)) -> tuple[dict, dict]:
    """Per activation, the hidden width whose trained parameter count (gate logits and PAU
    coefficients included) is closest to the tanh network's at ``width``."""
    count = lambda name, w: _count(_mlp(name, w, 0, library, gating, depth, features))  # noqa: E731
    target = count("tanh", width)
    widths, counts = {}, {}
    for name in ("library", *BASELINES):
        w = min(range(max(2, width - 6), width + 7), key=lambda w: (abs(count(name, w) - target), abs(w - width)))
        widths[name], counts[name] = w, count(name, w)
    return widths, {"target": target, "trained": counts}


def mlp_error(task, name: str, width: int, n: int, seed: int, library, settings: dict, hardened: list,
              gating: str = GATING):
    """Relative L2 test error of one MLP regression of ``task``'s field from ``n`` samples
    (the library network's error after hardening is appended to ``hardened``)."""
    import numpy as np

    from sciml.models.kan_train import fit_data

    x, y = task.sample(n, 1000 * seed + n)
    xt, yt = task.sample(settings["test"], 10**6 + 1)
    lo, hi = np.asarray(task.box, float).T
    scale = lambda v: (2.0 * (v - lo) / (hi - lo) - 1.0).astype(np.float32)  # noqa: E731
    mean, std = y.mean(0), y.std(0) + 1e-12
    target = ((y - mean) / std).astype(np.float32)

    model = fit_data(_mlp(name, width, seed, library, gating), scale(x), target, steps=settings["steps"]).model

    def error(model):
        pred = np.asarray(model(jnp.asarray(scale(xt))), float) * std + mean
        return float(np.linalg.norm(pred - yt) / np.linalg.norm(yt))

    if name == "library":
        hardened.append(error(harden(model)))
    return error(model)


class _System:
    states = ["u", "v"]


def _cfc(name: str, ys, seed: int, settings: dict, library, backbone: int, gating: str = GATING):
    from sciml.models.registry import model_factory

    options = {"units": settings["cfc_units"], "backbone_units": backbone, "backbone_layers": 1}
    if name == "library":
        return model_factory("cfc-lib", "trajectory")(_System(), ys, seed=seed, library=library, gating=gating,
                                                       **options)
    act = _activation(name, 1) if name == "pau" else [{"tanh": jnp.tanh, "relu": jax.nn.relu,
                                                        "silu": jax.nn.silu}[name]]
    return model_factory("cfc", "trajectory")(_System(), ys, seed=seed, activation=act, **options)


def cfc_matched(settings: dict, library, gating: str = GATING) -> tuple[dict, dict]:
    """Backbone width per activation matching the tanh CfC's trained parameter count."""
    import numpy as np

    ys = np.zeros((1, 3, 2), np.float32)
    target = _count(_cfc("tanh", ys, 0, settings, library, settings["cfc_backbone"]))
    widths, counts = {}, {}
    base = settings["cfc_backbone"]
    for name in ("library", *BASELINES):
        w = min(range(max(2, base - 6), base + 7),
                key=lambda w: (abs(_count(_cfc(name, ys, 0, settings, library, w, gating)) - target), abs(w - base)))
        widths[name], counts[name] = w, _count(_cfc(name, ys, 0, settings, library, w, gating))
    return widths, {"target": target, "trained": counts}


def cfc_error(task, name: str, backbone: int, n: int, seed: int, library, settings: dict, hardened: list,
              gating: str = GATING):
    """Relative L2 error of closed-loop CfC rollouts of ``task`` from fresh initial states,
    after teacher-forced training on ``n`` trajectories (hardened library error appended to ``hardened``)."""
    import numpy as np

    from sciml.dynamics.forecast import fit_forecaster, forecaster_config

    ts, ys = task.trajectories(n, 1000 * seed + n, settings["points"])
    _, yt = task.trajectories(16, 10**6 + 1, settings["points"])

    model = _cfc(name, ys, seed, settings, library, backbone, gating)
    fit_forecaster(model, ts, ys, forecaster_config(settings["cfc_steps"]))

    def error(model):
        pred = np.asarray(jax.jit(model.rollout)(jnp.asarray(ts, jnp.float32), jnp.asarray(yt[:, 0], jnp.float32)))
        return float(np.linalg.norm(pred - yt) / np.linalg.norm(yt)) if np.all(np.isfinite(pred)) else float("inf")

    if name == "library":
        hardened.append(error(harden(model)))
    return error(model)


def _summary(errors: dict, sizes) -> dict:
    """Per activation and size: mean, std and every seed; the task's verdict (see module docstring)."""
    import numpy as np

    table = {name: {str(n): {"mean": float(np.mean(v[str(n)])), "std": float(np.std(v[str(n)])),
                             "seeds": v[str(n)]} for n in sizes} for name, v in errors.items()}
    score = {name: float(np.exp(np.mean([np.log(table[name][str(n)]["mean"]) for n in sizes]))) for name in table}
    best_baseline = min(BASELINES, key=lambda b: score[b])
    wins_per_size = {str(n): bool(table["library"][str(n)]["mean"] < min(table[b][str(n)]["mean"] for b in BASELINES))
                     for n in sizes}
    return {"errors": table, "score": score, "best_baseline": best_baseline,
            "library_better": bool(score["library"] < score[best_baseline]), "library_better_per_size": wins_per_size}



def _compare(part: str, tasks, sizes, seeds: int, error, extra=()) -> dict:
    """``error(task, network, n, seed, hardened)`` of every network (and the ``extra`` ones) at
    every size and seed, per task, summarised (``hardened`` collects the library network's error
    after hardening)."""
    out = {}
    for task in tasks:
        t0 = time.perf_counter()
        hardened: list = []
        errors = {name: {str(n): [error(task, name, n, seed, hardened) for seed in range(seeds)] for n in sizes}
                  for name in ("library", *BASELINES, *extra)}
        out[task.name] = _summary(errors, sizes) | {"library_hardened_by_size_then_seed": hardened,
                                                    "seconds": time.perf_counter() - t0}
        _print_task(part, task.name, out[task.name], sizes)
    return out

def run_family(settings: dict, parts=("mlp", "cfc"), library_file=None, unit_slope: bool = True,
               max_roughness: float | None = MAX_ROUGHNESS, gating: str = GATING, grow: str | None = None,
               members_alone: bool = False) -> dict:
    """Discover the library, then compare on the held-out tasks (see the module docstring)."""
    import os

    from sciml.library import save_library
    from sciml.library.family import DISCOVERY, HELD_OUT, as_activations, discover_library

    start = time.perf_counter()
    found_library, edges = discover_library(DISCOVERY, steps=settings["discovery_steps"],
                                            into=load_library(grow) if grow else None)
    library = as_activations(found_library, "family", unit_slope=unit_slope, max_roughness=max_roughness)
    where = save_library(library, pathlib.Path(library_file or DISCOVERED))
    discovery_s = time.perf_counter() - start
    print(f"discovery {discovery_s:.0f} s: {len(edges)} edges -> {found_library.names} -> activations "
          f"{library.names} ({where})", flush=True)
    tasks = HELD_OUT[: settings["tasks"]] if settings["tasks"] else HELD_OUT
    result = {"settings": {k: list(v) if isinstance(v, tuple) else v for k, v in settings.items()},
              "gating": gating, "grown_from": grow, "library_evaluated_as": "trained soft mixture",
              "members_scaled_to_unit_slope": unit_slope, "max_roughness": max_roughness, "baselines": list(BASELINES),
              "machine": _machine(),
              "discovery": {"tasks": [t.name for t in DISCOVERY], "edges": len(edges), "seconds": discovery_s,
                            "members": [{"name": m.name, "exact": m.exact.primitive if m.exact else None,
                                         "fit_r2": m.fit_r2, "support": len(m.provenance),
                                         "from": sorted({p.problem for p in m.provenance})}
                                        for m in found_library],
                            "activations": library.names, "file": str(where)},
              "held_out": [t.name for t in tasks]}
    if "mlp" in parts:
        widths, counts = matched_widths(settings["width"], library, gating)
        # Each member alone in every layer has the tanh network's parameters: what the best
        # hard choice per task could reach (chosen after the fact, so no rule could do better).
        alone = tuple(f"member:{m.name}" for m in library) if members_alone else ()
        widths |= {name: widths["tanh"] for name in alone}
        result["mlp"] = {"widths": widths, "parameters": counts, "tasks": _compare(
            "mlp", tasks, settings["sizes"], settings["seeds"],
            lambda task, name, n, seed, hardened: mlp_error(task, name, widths[name], n, seed, library, settings,
                                                            hardened, gating), alone)}
        result["mlp"]["wins"] = sum(v["library_better"] for v in result["mlp"]["tasks"].values())
    if "cfc" in parts:
        widths, counts = cfc_matched(settings, library, gating)
        result["cfc"] = {"backbone_widths": widths, "parameters": counts, "tasks": _compare(
            "cfc", tasks, settings["cfc_sizes"], settings["seeds"],
            lambda task, name, n, seed, hardened: cfc_error(task, name, widths[name], n, seed, library, settings,
                                                            hardened, gating))}
        result["cfc"]["wins"] = sum(v["library_better"] for v in result["cfc"]["tasks"].values())
    result["machine"]["load_average_end"] = list(os.getloadavg())
    result["seconds"] = time.perf_counter() - start
    result["target"] = "library better on >= 4 of 5 held-out tasks"
    for part in parts:
        result[part]["target_met"] = bool(len(tasks) == 5 and result[part]["wins"] >= 4)
    return result


def _machine() -> dict:
    import os
    import platform

    return {"platform": platform.platform(), "processor": platform.processor(), "cpus": os.cpu_count(),
            "device": jax.devices()[0].device_kind, "load_average_start": list(os.getloadavg())}


# ----------------------------------------------------------------------------- the PDE family
# u_t = D u_xx + R(u) on x in [0, 1], t in [0, 3], no-flux walls, a front (1 - tanh((x - 0.2)/0.05))/2
# invading u = 0: five reaction terms, each as a function of u and a module (numpy or sciml.dsl)
# and its derivative (the reference solver's Jacobian).
REACTIONS = {
    "fisher": ("discovery", lambda u, m: u * (1 - u), lambda u: 1 - 2 * u),
    "zeldovich": ("discovery", lambda u, m: 2 * u**2 * (1 - u), lambda u: 4 * u - 6 * u**2),
    "nagumo": ("discovery", lambda u, m: 4 * u * (1 - u) * (u - 0.25), lambda u: -12 * u**2 + 10 * u - 1),
    "sine": ("held-out", lambda u, m: 0.5 * m.sin(m.pi * u), lambda u: 0.5 * np.pi * np.cos(np.pi * u)),
    "arrhenius": ("held-out", lambda u, m: 3 * u * (1 - u) * m.exp(2 * (u - 1)),
                  lambda u: 3 * np.exp(2 * (u - 1)) * (1 - 2 * u + 2 * u * (1 - u))),
}
DIFFUSIVITY, HORIZON = 0.01, 3.0


def reaction_diffusion(name: str):
    """The DSL problem of reaction ``name`` with its reference solution (method of lines,
    :func:`sciml.datasets.fisher_kpp.fisher_kpp_solve`, 800 cells, on 101 x 31 points)."""
    import xarray as xr

    from sciml.datasets.fisher_kpp import fisher_kpp_solve
    import sciml.dsl as dsl
    from sciml.dsl import Coordinate, Field, Initial, Interval, Neumann, Problem, TimeInterval, tanh

    _, reaction, slope = REACTIONS[name]
    ts = np.linspace(0.0, HORIZON, 31)
    xs, us = fisher_kpp_solve(ts, cells=800, d=DIFFUSIVITY, reaction=lambda u: reaction(u, np), reaction_slope=slope)
    reference = xr.Dataset({"u": (("x", "t"), us[::8])}, coords={"x": xs[::8], "t": ts})
    x, t = Coordinate("x"), Coordinate("t")
    space = Interval(x, 0, 1)
    u = Field("u", x, t)
    return Problem(name=f"reaction_diffusion_{name}", description=f"front of u_t = D u_xx + R(u), R: {name}",
                   domain=space * TimeInterval(t, 0, HORIZON),
                   equations=[u.diff(t) - DIFFUSIVITY * u.diff(x, 2) - reaction(u, dsl)],
                   conditions=[Initial(u, (1 - tanh((x - 0.2) / 0.05)) / 2), Neumann(u, 0, on=space.boundary)],
                   reference=reference)


def _fingerprint(library) -> str:
    """A digest of the members' names and coefficients."""
    import hashlib

    text = json.dumps([(m.name, list(m.coefficients), m.exact and list(m.exact.affine)) for m in library])
    return hashlib.sha256(text.encode()).hexdigest()[:16]


class _FinishedRuns:
    """The runs of an interrupted PDE comparison, kept in ``path`` (JSON) after each one and
    reused by the next invocation when ``key`` (settings and library) is the same: an hour of
    solves is not lost to a stopped job."""

    def __init__(self, path: pathlib.Path, key: dict):
        self.path, self.key = path, json.loads(json.dumps(key))
        old = json.loads(path.read_text()) if path.exists() else {}
        self.runs = old.get("runs", {}) if old.get("key") == self.key else {}

    def run(self, name: str, solve) -> dict:
        if name not in self.runs:
            start = time.perf_counter()
            solution = solve()
            self.runs[name] = {"rel_l2": float(solution.metrics["rel_l2"]), "verdict": solution.verdict.status,
                               "seconds": time.perf_counter() - start}
            self.path.write_text(json.dumps({"key": self.key, "runs": self.runs}, indent=1))
        return self.runs[name]


def _solve_pde(problem, model: str, options: dict, seed: int, settings: dict):
    import sciml

    return sciml.solve(problem, model=model, seed=seed, model_options=options, steps=settings["pde_steps"],
                       lbfgs_steps=settings["pde_lbfgs"], time_budget=0)


def run_pde_family(settings: dict, library_file) -> dict:
    """Discovery by KAN solves of the discovery reactions (their field surrogates' edges harvested),
    then every network on each held-out reaction through ``sciml.solve`` with the same settings:
    the recipe's MLP depth (4 hidden layers) at widths matching the tanh network's parameter count."""
    import jax

    from sciml.library import save_library
    from sciml.library.collection import as_activations
    from sciml.library.dedup import deduplicate
    from sciml.library.harvest import harvest

    import os

    start, load_start = time.perf_counter(), list(os.getloadavg())
    found = []
    for name, (role, _, _) in REACTIONS.items():
        if role != "discovery":
            continue
        problem = reaction_diffusion(name)
        solution = _solve_pde(problem, "kan", {}, 0, settings)
        points = np.random.default_rng(0).uniform((0.0, 0.0), (1.0, HORIZON), (2000, 2)).astype(np.float32)
        inputs = np.asarray(jax.vmap(solution.compiled.scale)(jnp.asarray(points)))
        found += harvest(solution.model, problem=problem.name, samples=inputs)
        print(f"[pde] discovery {name}: KAN rel L2 {solution.metrics['rel_l2']:.3g}, {len(found)} edges so far",
              flush=True)
    raw = deduplicate(found, name="reaction-diffusion", tolerance=1e-2)
    library = as_activations(raw)
    where = save_library(library, pathlib.Path(library_file))
    discovery_s = time.perf_counter() - start
    print(f"[pde] discovery {discovery_s:.0f} s: {len(found)} edges -> {raw.names} -> activations {library.names}",
          flush=True)
    widths, counts = matched_widths(settings["pde_width"], library, depth=4, features=(2, 1))
    done = _FinishedRuns(pathlib.Path(library_file).with_name(pathlib.Path(library_file).stem + "_runs.json"),
                         {"settings": {k: v for k, v in settings.items() if k.startswith("pde_") and k != "pde_seeds"},
                          "library": _fingerprint(library)})
    tasks = [n for n, (role, _, _) in REACTIONS.items() if role == "held-out"][: settings["pde_tasks"] or None]
    out = {}
    for name in tasks:
        problem, t0 = reaction_diffusion(name), time.perf_counter()
        errors, verdicts = {}, {}
        for net in ("library", *BASELINES):
            model, options = _mlp_options(net, widths[net], library, depth=4)
            runs = [done.run(f"{name}/{net}/{seed}", lambda: _solve_pde(problem, model, options, seed, settings))
                    for seed in range(settings["pde_seeds"])]
            errors[net] = {"front": [r["rel_l2"] for r in runs]}
            verdicts[net] = [r["verdict"] for r in runs]
        out[name] = _summary(errors, ("front",)) | {"verdicts": verdicts, "seconds": time.perf_counter() - t0}
        _print_task("pde", name, out[name], ("front",))
    import os

    wins = sum(v["library_better"] for v in out.values())
    machine = _machine() | {"load_average_start": load_start, "load_average_end": list(os.getloadavg())}
    return {"settings": {k: v for k, v in settings.items() if k.startswith("pde_")}, "machine": machine,
            "baselines": list(BASELINES), "library_evaluated_as": "trained soft mixture",
            "discovery": {"tasks": [n for n, (r, _, _) in REACTIONS.items() if r == "discovery"],
                          "edges": len(found), "members": raw.names, "activations": library.names,
                          "file": str(where), "seconds": discovery_s},
            "held_out": tasks, "pde": {"widths": widths, "parameters": counts, "tasks": out, "wins": wins,
                                       "target_met": bool(len(tasks) == 2 and wins == 2)},
            "seconds": time.perf_counter() - start}


def _print_task(part: str, name: str, summary: dict, sizes) -> None:
    cells = "  ".join(f"{a}: " + "/".join(f"{summary['errors'][a][str(n)]['mean']:.3g}" for n in sizes)
                      for a in summary["errors"])
    print(f"[{part}] {name:14s} {cells}  -> library {'better' if summary['library_better'] else 'not better'} "
          f"({summary['seconds']:.0f} s)", flush=True)


def markdown_table(result: dict, part: str) -> str:
    """The table of one part (mlp, cfc or pde): mean ± std of the relative L2 error per task and size."""
    sizes = ("front",) if part == "pde" else result["settings"]["sizes" if part == "mlp" else "cfc_sizes"]
    first = next(iter(result[part]["tasks"].values()))["errors"]
    names = ["library", *BASELINES, *(a for a in first if a not in ("library", *BASELINES))]
    head = "| task | n | " + " | ".join(names) + " |\n|---|---|" + "---|" * len(names) + "\n"
    rows = []
    for task, summary in result[part]["tasks"].items():
        for n in sizes:
            e = summary["errors"]
            best = min(names, key=lambda a: e[a][str(n)]["mean"])
            cells = [(f"**{e[a][str(n)]['mean']:.3g} ± {e[a][str(n)]['std']:.2g}**" if a == best else
                      f"{e[a][str(n)]['mean']:.3g} ± {e[a][str(n)]['std']:.2g}") for a in names]
            rows.append(f"| {task} | {n} | " + " | ".join(cells) + " |")
    return head + "\n".join(rows) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a small run (minutes)")
    parser.add_argument("--cost", action="store_true", help="the training-step cost benchmark instead")
    parser.add_argument("--library", action="append",
                        help="(--cost) a library to time, by name or file (repeatable; default: the standard "
                             "library and the family run's discovered one)")
    parser.add_argument("--parts", default="mlp,cfc,pde",
                        help="(family) comma-separated: mlp, cfc (the vector fields), pde (reaction-diffusion)")
    parser.add_argument("--seeds", type=int, default=None, help="(family) override the number of seeds")
    parser.add_argument("--table-only", action="store_true", help="(family) print the tables of the last run")
    parser.add_argument("--raw-members", action="store_true",
                        help="(family) use the members as harvested (unit spread): no scaling to unit slope, "
                             "no roughness bound (how the first runs were made)")
    parser.add_argument("--max-roughness", type=float, default=MAX_ROUGHNESS,
                        help="(family) drop library members rougher than this (RMS curvature / RMS slope on "
                             "[-1, 1]; default 2 pi)")
    parser.add_argument("--gating", default=GATING, choices=("layer", "neuron"),
                        help="(family) one gate per layer or per neuron in the library networks")
    parser.add_argument("--grow", default=None,
                        help="(family) grow this library (e.g. standard) with the discovered members instead of "
                             "starting from none")
    parser.add_argument("--members-alone", action="store_true",
                        help="(mlp) also each library member alone in every layer (the best hard choice's reach)")
    parser.add_argument("--out", help="(family) results file (default results/primitives_family[_quick].json)")
    args = parser.parse_args()
    RESULTS.mkdir(exist_ok=True)
    if args.table_only:
        result = json.loads((RESULTS / ("primitives_family_quick.json" if args.quick else
                                        "primitives_family.json")).read_text())
        for name in ("family", "pde"):
            path = RESULTS / f"primitives_{name}{'_quick' if args.quick else ''}.json"
            result = json.loads(path.read_text()) if path.exists() else {}
            for part in ("mlp", "cfc", "pde"):
                if part in result:
                    print(f"{part} (library better on {result[part]['wins']} of {len(result['held_out'])}):\n")
                    print(markdown_table(result, part))
        return
    if args.cost:
        settings = {"hidden": (32, 32), "batch": 1024, "repeats": 10, "rounds": 3} if args.quick else {}
        libraries = args.library or ["standard"] + ([str(DISCOVERED)] if DISCOVERED.exists() else [])
        results = []
        for library in libraries:
            result = run_cost(library, **settings)
            results.append(result)
            print(f"library {library} (load average {result['load_average'][0]:.2f})")
            for name, ratio in result["ratio_to_tanh"].items():
                print(f"  {name:42s} {result['seconds'][name] * 1e3:8.3f} ms  {ratio:5.2f}x tanh")
            print(f"  worst hardened {result['worst_hardened']:.2f}x (bound {BOUND}x): "
                  f"{'within' if result['within_bound'] else 'ABOVE'}")
        out = RESULTS / ("primitives_quick.json" if args.quick else "primitives.json")
        out.write_text(json.dumps({"libraries": results, "within_bound": all(r["within_bound"] for r in results)},
                                  indent=2))
        print(f"written to {out}")
        return
    settings = dict(SETTINGS["quick" if args.quick else "full"])
    if args.seeds:
        settings["seeds"] = settings["pde_seeds"] = args.seeds
    parts = tuple(p for p in args.parts.split(",") if p)
    if not parts or set(parts) - {"mlp", "cfc", "pde"}:
        parser.error(f"--parts takes mlp, cfc and pde, comma-separated; got {args.parts!r}")
    suffix = "_quick" if args.quick else ""
    if "pde" in parts:
        out = RESULTS / f"primitives_pde{suffix}.json"
        result = run_pde_family(settings, out.with_name(out.stem + "_library.json"))
        out.write_text(json.dumps(result, indent=2))
        _print_part(result, "pde", settings["pde_seeds"])
        print(f"{result['seconds']:.0f} s; load average {result['machine']['load_average_end']}; written to {out}")
    parts = tuple(p for p in parts if p != "pde")
    if not parts:
        return
    out = pathlib.Path(args.out) if args.out else RESULTS / f"primitives_family{suffix}.json"
    result = run_family(settings, parts, out.with_name(out.stem + "_library.json"), unit_slope=not args.raw_members,
                        max_roughness=None if args.raw_members else args.max_roughness, gating=args.gating,
                        grow=args.grow, members_alone=args.members_alone)
    result["overrides"] = {k: v for k, v in (("seeds", args.seeds), ("gating", args.gating != GATING and args.gating),
                                             ("grow", args.grow)) if v}
    out.write_text(json.dumps(result, indent=2))
    for part in parts:
        _print_part(result, part, settings["seeds"])
    print(f"{result['seconds']:.0f} s; load average {result['machine']['load_average_end']}; written to {out}")


def _print_part(result: dict, part: str, seeds: int) -> None:
    held_out = len(result["held_out"])
    print(f"\n{part}: relative L2 test error, mean ± std over {seeds} seeds\n")
    print(markdown_table(result, part))
    print(f"library better on {result[part]['wins']} of {held_out} held-out tasks "
          f"(target: >= 4 of 5, all of 2 on the PDE family): {'met' if result[part]['target_met'] else 'not met'}")

if __name__ == "__main__":
    main()
