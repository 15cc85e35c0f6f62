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
Training runs on the engine (:func:`sciml.training.engine.fit`), one shuffled batch of
structures per step: Adam after a gradient clip, under a cosine learning-rate decay from
``learning_rate`` to ``final_learning_rate`` (:func:`potential_config`); an exponential moving
average of the parameters (as in MACE) is what gets evaluated and returned. A wall-clock
``time_budget`` ends training early, and the cosine decay is stretched over it (progress
``max(step / steps, elapsed / time_budget)``), so a run on a slow or busy machine still
finishes its learning-rate decay; a NaN or infinite loss raises
:class:`~sciml.training.engine.TrainingDiverged`.
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

from sciml.training.config import TrainConfig
from sciml.training.engine import Batches, Progress, averaged_params, batch_sharding
from sciml.training.engine import fit as train

from . import graphs as G
from .potential import Potential, predict


@dataclasses.dataclass(frozen=True)
class LossWeights:
    """The weight of each loss term (0: not trained), and the energy's in a last stage: over
    the last ``final_stage`` share of the run (in steps or time, whichever is further) the
    energy per atom weighs ``final_energy`` (MACE's second stage: once the forces have shaped
    the surface, the energies set what no force sees -- the energy of a homogeneous strain, of
    a change of composition)."""

    energy: float = 1.0
    forces: float = 10.0
    stress: float = 0.0
    property: float = 0.0
    final_energy: float | None = None
    final_stage: float = 0.0

    def energy_at(self, fraction: float) -> float:
        """The energy's weight when ``fraction`` of the run is done."""
        staged = (self.energy and self.final_energy is not None and self.final_stage > 0
                  and fraction >= 1.0 - self.final_stage)
        return float(self.final_energy if staged else self.energy)


def loss_sums(potential: Potential, graph: G.GraphsTuple, weights: LossWeights) -> dict:
    """Each loss term's ``(sum of w * squared error, sum of w)`` on one padded graph.

    Sums rather than means, so that the shards of a data-parallel batch add up to exactly the
    loss of the whole batch (:func:`loss_terms`)."""
    pred = predict(potential, graph)
    node_mask, _, graph_mask = G.masks(graph)
    gl = graph.globals
    n_atoms = jnp.maximum(graph.n_node, 1).astype(pred.energy.dtype)
    gm = graph_mask.astype(pred.energy.dtype)
    node_graph = G.node_graph_index(graph)

    def pair(sq, w):
        return jnp.stack([jnp.sum(w * sq), jnp.sum(w)])

    sums = {}
    if weights.energy:
        err = (pred.energy - gl["energy"]) / n_atoms
        sums["energy"] = pair(err**2, gm * gl["w_energy"])
    if weights.forces:
        w = (gl["w_forces"][node_graph] * node_mask)[:, None] * jnp.ones((1, 3))
        sums["forces"] = pair((pred.forces - graph.nodes["forces"]) ** 2, w)
    if weights.stress:
        w = (gm * gl["w_stress"])[:, None, None] * jnp.ones((1, 3, 3))
        sums["stress"] = pair((pred.stress - gl["stress"]) ** 2, w)
    if weights.property:
        err = pred.energy / n_atoms - gl["property"]
        sums["property"] = pair(err**2, gm * gl["w_property"])
    return sums


def loss_terms(potential: Potential, sharded: G.GraphsTuple, weights: LossWeights, energy_weight=None) -> dict:
    """Named loss terms, each a weighted mean squared error times its weight, on a batch of
    shards stacked along the first axis (:meth:`~sciml.atomistic.graphs.GraphBatcher.sharded_batch`):
    the shards' sums are added before dividing, so the loss does not depend on the split.
    ``energy_weight`` (a traced scalar: the stage's) replaces ``weights.energy`` in the sum."""
    sums = jax.vmap(lambda g: loss_sums(potential, g, weights))(sharded)
    def weight(name):
        return energy_weight if name == "energy" and energy_weight is not None else getattr(weights, name)

    return {name: weight(name) * jnp.sum(s[:, 0]) / jnp.maximum(jnp.sum(s[:, 1]), 1.0) for name, s in sums.items()}


@dataclasses.dataclass
class FitResult:
    potential: Potential
    history: dict  # step, wall_s, train_loss, val_energy_mae, val_force_mae ...
    steps: int
    wall_s: float
    structures_per_s: float


def potential_config(steps: int, learning_rate: float = 5e-3, final_learning_rate: float = 5e-5, *,
                     ema_decay: float = 0.99, time_budget: float | None = None, seed: int = 0,
                     **options) -> TrainConfig:
    """The :class:`~sciml.training.config.TrainConfig` of a potential: one batch per step, Adam
    after a gradient clip at norm 10, a cosine decay to ``final_learning_rate`` (stretched over
    a ``time_budget``) and a
    parameter average of ``ema_decay``; ``options`` override any other field."""
    if int(steps) < 1:
        raise ValueError(f"steps must be >= 1; got {steps}")
    return TrainConfig.from_options({
        "steps": int(steps), "learning_rate": learning_rate, "final_learning_rate": final_learning_rate,
        "schedule": "cosine", "stretch_schedule": True, "clip": 10.0, "ema_decay": ema_decay, "time_budget": float(time_budget or 0.0),
        "seed": seed, "chunk": 1, "progress": False, **options})


class _Shuffled(Batches):
    """One batch of training structures per step (chunk of one step), reshuffled every epoch,
    split into one padded shard per device of the run's mesh (data parallel: the compiler
    reduces the gradients), with the energy's weight at this point of the run. Epoch ``e`` is
    shuffled by a generator seeded ``(seed, e)``, so the batch of any step is known from the
    step alone and a resumed run sees the batches an uninterrupted one would."""

    def __init__(self, batcher: G.GraphBatcher, indices, seed: int, weights: LossWeights, devices: int = 0):
        self.batcher, self.indices, self.seed, self.weights = batcher, np.asarray(indices), seed, weights
        mesh, self.sharding, _ = batch_sharding(devices)
        self.shards = mesh.devices.size
        self.per_epoch = -(-len(self.indices) // batcher.batch_size)
        self._epoch: tuple[int, list] = (-1, [])
        self.first_trained = None  # when the first step (its compilation included) had run

    def __call__(self, step, params):
        if self.first_trained is None and step >= 1:
            self.first_trained = time.perf_counter()
        epoch, k = divmod(step, self.per_epoch)
        if self._epoch[0] != epoch:
            self._epoch = (epoch, self.batcher.plan(self.indices, np.random.default_rng([self.seed, epoch])))
        graph = jax.device_put(self.batcher.sharded_batch(self._epoch[1][k], self.shards), self.sharding)
        return graph, np.float32(self.weights.energy_at(self.fraction))


@dataclasses.dataclass
class _Validation:
    """Every ``every`` steps: the training loss since the last time and the averaged potential's
    validation errors, into ``history`` (and the log)."""

    steps: tuple[int, ...]
    every: int
    evaluate: Callable
    merge: Callable
    val_idx: np.ndarray
    log: Callable | None
    start: float = dataclasses.field(default_factory=time.perf_counter)
    history: dict = dataclasses.field(default_factory=lambda: {
        "step": [], "wall_s": [], "train_loss": [], "val_energy_mae": [], "val_force_mae": [],
        "val_property_mae": []})

    def __call__(self, progress: Progress):
        if progress.replay:  # a resumed run passing the step it stopped at: measured before
            return None
        pot = self.merge(averaged_params(progress.opt_state, progress.params))
        m = self.evaluate(pot, self.val_idx) if len(self.val_idx) else {}
        tl = float(np.mean(progress.history["loss"][-self.every:]))
        for key, value in (("step", progress.step), ("wall_s", time.perf_counter() - self.start), ("train_loss", tl),
                           ("val_energy_mae", m.get("energy_mae", np.nan)),
                           ("val_force_mae", m.get("force_mae", np.nan)),
                           ("val_property_mae", m.get("property_mae", np.nan))):
            self.history[key].append(value)
        if self.log:
            self.log(f"step {progress.step:6d}  {self.history['wall_s'][-1]:7.1f}s  loss {tl:.3e}  "
                     + "  ".join(f"val {k} {v:.2f}" for k, v in m.items() if "mae" in k))


def fit(
    potential: Potential,
    batcher: G.GraphBatcher,
    train_idx,
    val_idx,
    config: TrainConfig,
    *,
    weights: LossWeights = LossWeights(),
    eval_every: int = 500,
    optimizer: optax.GradientTransformation | None = None,
    log: Callable[[str], None] | None = print,
    checkpoint=None,
    settings: dict | None = None,
    resume: bool = False,
) -> FitResult:
    """Train ``potential`` for ``config.steps`` batches (or until ``config.time_budget`` runs out)
    on the training engine (settings: :func:`potential_config`). With a ``checkpoint`` path the
    run is saved on the config's schedule, at the end and on SIGINT/SIGTERM, and ``resume``
    continues it (``settings``: what the run is, compared on resume); the validation history
    then starts at the resumed step.

    Returns the averaged parameters merged into a potential (the last ones when the optimiser
    keeps no average), the training history and the throughput in structures per second
    (compilation excluded).
    """
    graphdef, params, rest = nnx.split(potential, nnx.Param, ...)

    def loss_fn(p, batch):
        sharded, energy_weight = batch
        terms = loss_terms(nnx.merge(graphdef, p, rest), sharded, weights, energy_weight)
        return sum(terms.values()), terms

    targets = [k for k in ("energy", "forces", "stress", "property") if getattr(weights, k)]
    merge = lambda p: nnx.merge(graphdef, p, rest)  # noqa: E731
    validation = _Validation(tuple(range(eval_every, config.steps, eval_every)), eval_every,
                             make_evaluator(batcher, targets), merge, np.asarray(val_idx), log)
    batches = _Shuffled(batcher, train_idx, config.seed, weights, config.devices)
    outcome = train(loss_fn, params, config, batches=batches, optimizer=optimizer, callbacks=[validation],
                    checkpoint=checkpoint, settings=settings, resume=resume)
    done_at = time.perf_counter()
    final = outcome.history["loss"]
    validation(Progress(outcome.steps, outcome.params, outcome.opt_state, {"loss": list(final)}, outcome.wall_s))
    n_struct = (outcome.steps - 1) * batcher.batch_size
    rate = n_struct / max(1e-9, done_at - (batches.first_trained or done_at))
    return FitResult(merge(averaged_params(outcome.opt_state, outcome.params)), validation.history,
                     outcome.steps, outcome.wall_s, rate)


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
