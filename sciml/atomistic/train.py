r"""Training a potential: weighted energy/force/stress/property loss, Adam, EMA, evaluation.

The loss over a batch of structures :math:`s` with :math:`N_s` atoms is

.. math::
    \mathcal L = w_E \Big\langle \Big(\frac{\hat E_s - E_s}{N_s}\Big)^2 \Big\rangle_s
        + w_F \big\langle |\hat F_{ia} - F_{ia}|^2 \big\rangle_{i,a}
        + w_\sigma \big\langle |\hat\sigma_{s,ab} - \sigma_{s,ab}|^2 \big\rangle_{s,ab}
        + w_P \big\langle (\hat E_s / N_s - P_s)^2 \big\rangle_s ,

each average running only over the structures that carry that label (the padding graph and
unlabelled structures have zero weight). The property term treats an intensive
per-structure quantity (e.g. formation energy per atom) as the mean of atomic contributions.
Parameters are optimised with Adam under a cosine learning-rate decay; an exponential moving
average of the parameters (as in MACE) is what gets evaluated and returned.

Training progress is ``max(step / steps, elapsed / time_budget_s)``: with a wall-clock budget
the cosine schedule is stretched over the time actually available, so a run on a slow or busy
machine still finishes its learning-rate decay (it just takes fewer steps).
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx

from . import graphs as G
from .potential import Potential, predict


@dataclasses.dataclass(frozen=True)
class LossWeights:
    energy: float = 1.0
    forces: float = 10.0
    stress: float = 0.0
    property: float = 0.0


def loss_terms(potential: Potential, graph: G.GraphsTuple, weights: LossWeights):
    """Named loss terms (each a weighted mean squared error) and the predictions."""
    pred = predict(potential, graph)
    node_mask, _, graph_mask = G.masks(graph)
    gl = graph.globals
    n_atoms = jnp.maximum(graph.n_node, 1).astype(pred.energy.dtype)
    gm = graph_mask.astype(pred.energy.dtype)
    node_graph = G.node_graph_index(graph)

    def wmean(sq, w):
        return jnp.sum(w * sq) / jnp.maximum(jnp.sum(w), 1.0)

    terms = {}
    if weights.energy:
        err = (pred.energy - gl["energy"]) / n_atoms
        terms["energy"] = weights.energy * wmean(err**2, gm * gl["w_energy"])
    if weights.forces:
        w = (gl["w_forces"][node_graph] * node_mask)[:, None] * jnp.ones((1, 3))
        terms["forces"] = weights.forces * wmean((pred.forces - graph.nodes["forces"]) ** 2, w)
    if weights.stress:
        w = (gm * gl["w_stress"])[:, None, None] * jnp.ones((1, 3, 3))
        terms["stress"] = weights.stress * wmean((pred.stress - gl["stress"]) ** 2, w)
    if weights.property:
        err = pred.energy / n_atoms - gl["property"]
        terms["property"] = weights.property * wmean(err**2, gm * gl["w_property"])
    return terms, pred


@dataclasses.dataclass
class FitResult:
    potential: Potential
    history: dict  # step, wall_s, train_loss, val_energy_mae, val_force_mae ...
    steps: int
    wall_s: float
    structures_per_s: float


def fit(
    potential: Potential,
    batcher: G.GraphBatcher,
    train_idx,
    val_idx,
    *,
    steps: int,
    learning_rate: float = 5e-3,
    final_lr_fraction: float = 0.01,
    weights: LossWeights = LossWeights(),
    ema_decay: float = 0.99,
    eval_every: int = 500,
    time_budget_s: float | None = None,
    seed: int = 0,
    log: Callable[[str], None] | None = print,
) -> FitResult:
    """Train ``potential`` for ``steps`` batches (or until ``time_budget_s`` runs out).

    Returns the EMA parameters merged into a potential, the training history and the
    throughput in structures per second (compilation excluded).
    """
    if steps < 1:
        raise ValueError(f"steps must be >= 1; got {steps}")
    graphdef, params, rest = nnx.split(potential, nnx.Param, ...)
    opt = optax.chain(optax.clip_by_global_norm(10.0), optax.scale_by_adam())
    opt_state = opt.init(params)

    def lr_at(progress: float) -> float:
        cos = 0.5 * (1.0 + np.cos(np.pi * min(progress, 1.0)))
        return learning_rate * (final_lr_fraction + (1.0 - final_lr_fraction) * cos)

    def loss_fn(p, graph):
        pot = nnx.merge(graphdef, p, rest)
        terms, _ = loss_terms(pot, graph, weights)
        return sum(terms.values()), terms

    @jax.jit
    def step(p, ema, opt_state, graph, lr):
        (loss, terms), grads = jax.value_and_grad(loss_fn, has_aux=True)(p, graph)
        updates, opt_state = opt.update(grads, opt_state, p)
        p = jax.tree.map(lambda x, u: x - lr.astype(x.dtype) * u, p, updates)
        ema = jax.tree.map(lambda e, x: ema_decay * e + (1 - ema_decay) * x, ema, p)
        return p, ema, opt_state, loss, terms

    rng = np.random.default_rng(seed)
    ema = params
    history: dict[str, list] = {"step": [], "wall_s": [], "train_loss": [],
                                "val_energy_mae": [], "val_force_mae": [],
                                "val_property_mae": []}
    t0 = time.perf_counter()
    t_compiled = None
    done, running, progress = 0, [], 0.0
    targets = [k for k in ("energy", "forces", "stress", "property") if getattr(weights, k)]
    evaluate = make_evaluator(batcher, targets)
    last = False
    while not last:
        for graph in batcher.batches(train_idx, shuffle=True, rng=rng):
            lr = jnp.asarray(lr_at(progress), dtype=jnp.float32)
            params, ema, opt_state, loss, _ = step(params, ema, opt_state, graph, lr)
            done += 1
            if t_compiled is None:
                jax.block_until_ready(loss)
                t_compiled, done_at_compile = time.perf_counter(), done
            running.append(float(loss) if done % 50 == 0 else loss)
            progress = done / steps
            if time_budget_s:
                progress = max(progress, (time.perf_counter() - t0) / time_budget_s)
            last = progress >= 1.0
            if done % eval_every == 0 or last:
                pot = nnx.merge(graphdef, ema, rest)
                m = evaluate(pot, val_idx) if len(val_idx) else {}
                tl = float(np.mean([float(x) for x in running[-eval_every:]]))
                history["step"].append(done)
                history["wall_s"].append(time.perf_counter() - t0)
                history["train_loss"].append(tl)
                history["val_energy_mae"].append(m.get("energy_mae", np.nan))
                history["val_force_mae"].append(m.get("force_mae", np.nan))
                history["val_property_mae"].append(m.get("property_mae", np.nan))
                if log:
                    log(f"step {done:6d}  {time.perf_counter() - t0:7.1f}s  loss {tl:.3e}  "
                        + "  ".join(f"val {k} {v:.2f}" for k, v in m.items() if "mae" in k))
            if last:
                break
    wall = time.perf_counter() - t0
    n_struct = (done - done_at_compile) * batcher.batch_size
    rate = n_struct / max(1e-9, time.perf_counter() - t_compiled)
    return FitResult(nnx.merge(graphdef, ema, rest), history, done, wall, rate)


def make_evaluator(batcher: G.GraphBatcher, targets=("energy", "forces", "stress", "property")):
    """``evaluate(potential, indices) -> metrics`` with energies in meV (per structure and per
    atom), forces in meV/A, stress in meV/A^3 and property in meV (per atom); only the
    ``targets`` the potential was trained for are scored."""

    @nnx.jit
    def _predict(pot, graph):
        return predict(pot, graph)

    def evaluate(pot, indices, return_predictions: bool = False):
        out = collect(lambda g: _predict(pot, g), batcher, indices)
        m = metrics_from(out, batcher.structures[np.asarray(indices)], targets)
        return (m, out) if return_predictions else m

    return evaluate


def collect(fn, batcher, indices) -> dict[str, list]:
    """Run ``fn`` over padded batches, strip the padding, return per-structure arrays."""
    energy, forces, stress = [], [], []
    for graph in batcher.batches(indices):
        pred = jax.device_get(fn(graph))
        n_real = int(np.asarray(G.masks(graph)[2]).sum())
        offs = np.concatenate([[0], np.cumsum(graph.n_node)])
        for k in range(n_real):
            energy.append(float(pred.energy[k]))
            forces.append(np.asarray(pred.forces[offs[k]:offs[k + 1]]))
            stress.append(np.asarray(pred.stress[k]))
    return {"energy": energy, "forces": forces, "stress": stress}


def metrics_from(pred: dict, structures,
                 targets=("energy", "forces", "stress", "property")) -> dict[str, float]:
    """Mean absolute errors (meV units) of predictions against the labels present."""
    m: dict[str, float] = {}
    n = np.array([len(s) for s in structures])
    if "energy" in targets and structures.has("energy"):
        err = np.array(pred["energy"]) - structures.energies()
        m["energy_mae"] = 1e3 * float(np.mean(np.abs(err)))
        m["energy_mae_per_atom"] = 1e3 * float(np.mean(np.abs(err) / n))
        m["energy_rmse"] = 1e3 * float(np.sqrt(np.mean(err**2)))
    if "forces" in targets and structures.has("forces"):
        err = np.concatenate([p - s.forces for p, s in zip(pred["forces"], structures)])
        m["force_mae"] = 1e3 * float(np.mean(np.abs(err)))
        m["force_rmse"] = 1e3 * float(np.sqrt(np.mean(err**2)))
    if "stress" in targets and structures.has("stress"):
        err = np.stack([p - s.stress for p, s in zip(pred["stress"], structures)])
        m["stress_mae"] = 1e3 * float(np.mean(np.abs(err)))
    if "property" in targets and structures.has("property"):
        err = np.array(pred["energy"]) / n - np.array([s.property for s in structures])
        m["property_mae"] = 1e3 * float(np.mean(np.abs(err)))
    return m
