"""The training engine: one ``fit`` for every kind of problem sciml trains.

``fit(loss_fn, params, config)`` minimises ``loss_fn(params, batch) -> (total, {term: value})``
over a pytree of parameters in two phases: a first-order phase (an optax
``GradientTransformation``: the caller's, or Adam decaying from ``learning_rate`` to
``final_learning_rate``), then a quasi-Newton phase (L-BFGS or dense BFGS,
:mod:`sciml.training.quasi_newton`). It knows no physics and no model class; what differs
between problems comes in through two small protocols:

* :class:`Batches` — what the loss is evaluated on at each step (collocation points with
  resampling and refinement, graph batches of structures, or one fixed batch);
* :class:`Callback` — changes at scheduled steps (a KAN's grid extension, validation, ...);
  a callback may replace the parameters, new shapes allowed.

The first-order phase runs in compiled chunks (``jax.lax.scan`` over ``config.chunk`` steps)
so per-step Python overhead vanishes; a quasi-Newton chunk (a ``jax.lax.while_loop``) also
ends once it has spent the loss evaluations the time budget has left, at the cost per
evaluation measured on the chunk before: its line search may take one evaluation an
iteration or twenty. After every chunk the engine applies one policy:

* a NaN or infinite loss raises :class:`TrainingDiverged`, naming the term, step and phase;
* the progress bar (or, without one, a log line every ``progress_seconds``) is refreshed;
* a checkpoint is written on schedule, and SIGINT/SIGTERM stop training after one
  (:class:`TrainingInterrupted`);
* the time budget and, in the quasi-Newton phase, the held-out stall test may end training
  (as do :data:`STUCK_ITERATIONS` iterations in a row that leave the loss as it was).

A resumed run restores the parameters, both optimiser states, the history and the batch
source's own state, and so reproduces an uninterrupted run bit for bit on CPU.
"""

from __future__ import annotations

import bisect
import json
import logging
import signal
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple, Protocol, runtime_checkable

import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from sciml.training.checkpoint import CheckpointError, load_checkpoint, restore_tree, save_checkpoint
from sciml.training.distributed import agree, is_primary, multi_process
from sciml.training.quasi_newton import for_new_batch, quasi_newton

log = logging.getLogger("sciml")

PHASES = ("adam", "lbfgs")  # names of the two phases in the history (first-order, quasi-Newton)
ADAM_SHARE = 0.5  # with a time budget and a quasi-Newton phase, the first phase stops at this share
# A first phase the budget would cut anyway hands over early when its loss has stalled: over the
# last half of its steps (at least ADAM_STALL_STEPS) the best loss improved by less than this share.
ADAM_STALL_TOLERANCE = 0.1
ADAM_STALL_STEPS = 500
MAX_REFRESHES = 20  # rounds of the quasi-Newton phase on fresh points after stalls
OVERFIT_RATIO = 2.0  # held-out loss this many times the batch's: the points, not the equations, are fitted
MAX_POINT_GROWTH = 8  # the quasi-Newton phase's batches grow at most this many times
MAX_EVALUATIONS = 2**30  # loss evaluations per quasi-Newton chunk when no time budget bounds them
PROBE_ITERATIONS = 10  # the first quasi-Newton chunk under a time budget, which measures their cost
REFUSED_INCREASE = 1e-3  # a quasi-Newton step that raises the loss by more than this fraction is refused
# Iterations in a row whose step left the loss's float as it was (a step refused, or one too small
# to change it) after which the quasi-Newton phase counts as stalled at once: the optimiser is at
# the precision of the arithmetic, and the held-out stall test, which sees a chunk's points once
# at its end, took a chunk or two (100-200 iterations) to say so. Measured on heat, Poisson 2-D
# and the wave equation, and on four forward ODEs: the same errors, in a third to a half of the
# time (benchmarks/README.md, "A stalled quasi-Newton phase is seen at once").
STUCK_ITERATIONS = 3

# Settings that make a run what it is: resuming a checkpoint under other values is refused.
# The rest of a configuration (steps, learning rates, ...) may change on resume, with a note.
IDENTITY = ("problem", "model", "model_options", "seed", "precision")
# Settings that never matter to the numbers.
# (The device count changes only the order of floating-point sums: a run resumes on another.)
COSMETIC = ("progress", "progress_seconds", "checkpoint_every", "checkpoint_seconds", "chunk", "time_budget",
            "devices")


class TrainingDiverged(RuntimeError):
    """A loss term became NaN or infinite; the message names the term, the step and the phase."""


class TrainingInterrupted(KeyboardInterrupt):
    """SIGINT or SIGTERM stopped training; ``checkpoint`` is where the run was saved (or None)."""

    def __init__(self, message: str, checkpoint: Path | None, step: int):
        super().__init__(message)
        self.checkpoint, self.step = checkpoint, step


# ---------------------------------------------------------------------------------- protocols
class Batches:
    """Where the loss is evaluated: the engine asks for a batch at the start of every chunk.

    This base class trains on one fixed batch (any pytree ``loss_fn`` takes, or None); a
    source that resamples overrides the methods, drawing from generators seeded by the step so
    that a resumed run sees the batches an uninterrupted one would.
    """

    #: How far the first-order phase is when the engine asks for a batch, from 0 to 1: its
    #: steps done over its step count or, under a time budget, the budget spent, whichever is
    #: further (what a stretched schedule follows). Set by the engine before every call, so a
    #: source can change what it serves over a run (e.g. loss weights in a last stage).
    fraction: float = 0.0

    def __init__(self, batch=None):
        self.batch = batch

    def __call__(self, step: int, params) -> Any:
        """The batch of the first-order chunk that starts at ``step``."""
        return self.batch

    def quasi_newton(self, round: int, growth: int, params, step: int, iteration: int) -> Any:
        """The batch of the quasi-Newton phase's ``round`` (0 first; later rounds go on after a
        stall, from the best parameters, ``growth`` times as many points), which began after
        ``step`` first-order steps and is now at its ``iteration``."""
        return self(step, params)

    def held_out(self) -> Any | None:
        """Points never trained on, that judge the quasi-Newton phase (None: no stall test)."""
        return None

    def constrain(self, params) -> str:
        """Called when the quasi-Newton phase stalls, with its best parameters: change the
        loss (e.g. raise a penalty's weight) and say why, so the phase goes on with the changed
        loss; or ``""`` to leave it as it is. Bounds itself: the engine calls it on every stall."""
        return ""

    def advance(self, params) -> str:
        """Called between stalls of the quasi-Newton phase (every fifth of its stall window), with
        its best parameters: change the loss before it stalls and say why (e.g. the next span of
        time marching, once the current one is fitted), or ``""`` to go on."""
        return ""

    def restart(self, params):
        """The parameters the loss :meth:`constrain` or :meth:`advance` changed starts from, given
        the best so far."""
        return params

    def state(self) -> tuple[dict, dict]:
        """``(pytrees, plain values)`` to save with a checkpoint."""
        return {}, {}

    def restore(self, trees: dict, values: dict) -> None:
        """Take back what :meth:`state` saved."""


@dataclass
class Progress:
    """What a callback sees: the run at the start of a chunk."""

    step: int
    params: Any
    opt_state: Any
    history: dict[str, list]
    elapsed: float
    replay: bool = False  # True while a resume rebuilds the shapes of earlier calls


@runtime_checkable
class Callback(Protocol):
    """Acts at given first-order steps; the engine ends its compiled chunks there.

    Returns new parameters (possibly of new shapes, e.g. a finer KAN grid: the optimiser's
    moments then restart while its step count, and so the schedule, carries on) or None to
    leave them. On resume the engine replays the calls up to the checkpoint's step (with
    ``progress.replay``) before loading the saved values, so the shapes a call produces must
    depend only on the step.
    """

    steps: tuple[int, ...]

    def __call__(self, progress: Progress) -> Any | None:
        ...


# ---------------------------------------------------------------------------------- optimisers
def learning_rate_schedule(config):
    """``learning_rate`` decaying to ``final_learning_rate`` over ``steps`` (``schedule``
    "exponential" or "cosine"), or the constant ``learning_rate`` without a final rate."""
    rate = config.learning_rate
    if not config.final_learning_rate:
        return rate
    n = max(config.steps, 1)
    if config.schedule == "cosine":
        return optax.cosine_decay_schedule(rate, n, alpha=config.final_learning_rate / rate)
    return optax.exponential_decay(rate, n, config.final_learning_rate / rate)


def stretches_schedule(config) -> bool:
    """Does the default optimiser of ``config`` take its learning rate from the run's progress
    in time (``stretch_schedule`` with a ``time_budget`` and a decay)?"""
    return bool(config.stretch_schedule and config.time_budget and config.final_learning_rate)


def default_optimizer(config) -> optax.GradientTransformation:
    """The first-order phase of ``config``: Adam under :func:`learning_rate_schedule`, after a
    global-norm ``clip`` and with a parameter average of ``ema_decay`` when set. With
    :func:`stretches_schedule` the rate is a hyperparameter the engine sets before every chunk."""
    if stretches_schedule(config):
        optimizer = optax.inject_hyperparams(optax.adam)(learning_rate=config.learning_rate)
    else:
        optimizer = optax.adam(learning_rate_schedule(config))
    if config.clip:
        optimizer = optax.chain(optax.clip_by_global_norm(config.clip), optimizer)
    return averaged(optimizer, config.ema_decay) if config.ema_decay else optimizer


def _with_learning_rate(opt_state, rate: float):
    """``opt_state`` with every injected ``learning_rate`` hyperparameter set to ``rate``."""

    def put(state):
        if isinstance(state, optax.InjectStatefulHyperparamsState) and "learning_rate" in state.hyperparams:
            old = state.hyperparams["learning_rate"]
            return state._replace(hyperparams={**state.hyperparams,  # (per member, see per_member)
                                               "learning_rate": jnp.full(jnp.shape(old), rate, old.dtype)})
        return state

    return jax.tree.map(put, opt_state, is_leaf=lambda x: isinstance(x, optax.InjectStatefulHyperparamsState))


class AveragedState(NamedTuple):
    inner: Any
    average: Any  # exponential moving average of the parameters after each update


def averaged(optimizer: optax.GradientTransformation, decay: float) -> optax.GradientTransformation:
    r"""``optimizer`` that also keeps an exponential moving average of the parameters it
    produces, :math:`\bar\theta \leftarrow d\,\bar\theta + (1 - d)\,\theta` (Polyak averaging,
    as MACE and NequIP evaluate); read it with :func:`averaged_params`."""

    def init_fn(params):
        return AveragedState(optimizer.init(params), params)

    def update_fn(updates, state, params=None):
        if params is None:
            raise ValueError("averaged() needs the current parameters: pass params to update()")
        updates, inner = optimizer.update(updates, state.inner, params)
        new = optax.apply_updates(params, updates)
        average = jax.tree.map(lambda a, p: decay * a + (1 - decay) * p, state.average, new)
        return updates, AveragedState(inner, average)

    return optax.GradientTransformation(init_fn, update_fn)


def per_member(optimizer: optax.GradientTransformation) -> optax.GradientTransformation:
    """``optimizer`` applied to each member of an ensemble on its own: every leaf of the
    parameters carries a leading member axis, and the state and update are vmapped over it, so
    a global-norm clip or a line of Adam's statistics never mixes two members."""
    return optax.GradientTransformation(
        jax.vmap(optimizer.init),
        lambda updates, state, params=None: jax.vmap(optimizer.update)(updates, state, params))


def averaged_params(opt_state, params):
    """The parameter average an :func:`averaged` optimiser keeps (``params`` without one)."""
    found = [s for s in jax.tree.leaves(opt_state, is_leaf=lambda s: isinstance(s, AveragedState))
             if isinstance(s, AveragedState)]
    return found[0].average if found else params


def batch_sharding(n_devices: int = 0) -> tuple[Mesh, NamedSharding, NamedSharding]:
    """A one-axis mesh (``"batch"``) over the first ``n_devices`` of this process's devices
    (0: all) and the shardings for points (split along their first axis) and for replicas."""
    available = jax.local_devices()
    if n_devices > len(available):
        platform = available[0].platform
        hint = (" (on a CPU, XLA_FLAGS=--xla_force_host_platform_device_count=N makes N host "
                "devices)" if platform == "cpu" else "")
        raise ValueError(f"devices={n_devices} asked for, but this process sees {len(available)} "
                         f"{platform} device(s){hint}; use devices <= {len(available)}, or 0 for all")
    n = n_devices or len(available)
    # In a multi-process run the mesh spans the same number of devices of every process.
    by_process: dict[int, list] = {}
    for device in jax.devices():
        by_process.setdefault(device.process_index, []).append(device)
    devices = np.asarray([d for p in sorted(by_process) for d in sorted(by_process[p], key=lambda d: d.id)[:n]])
    mesh = Mesh(devices, ("batch",))
    return mesh, NamedSharding(mesh, PartitionSpec("batch")), NamedSharding(mesh, PartitionSpec())


# ---------------------------------------------------------------------------------- the loop
@dataclass
class FitOutcome:
    params: Any
    opt_state: Any  # of the first-order phase (e.g. for an averaged optimiser's average)
    history: dict[str, np.ndarray]  # "loss", "phase" and one array per term, one entry per step
    wall_s: float
    steps: int  # first-order steps
    lbfgs_steps: int  # quasi-Newton iterations
    new_steps: int = 0  # steps taken by this call (0 when a finished run was resumed)
    stopped: str = "steps"  # why training ended: "steps", or the time budget, or a stall
    batch: Any = None  # the last batch trained on (None when this call trained nothing)


def fit(loss_fn: Callable, params, config, *, batches: Batches | None = None,
        optimizer: optax.GradientTransformation | None = None, callbacks: Sequence[Callback] = (),
        checkpoint: str | Path | None = None, settings: dict | None = None, resume: bool = False,
        describe: Callable[[Any], str] | None = None, members: int = 0) -> FitOutcome:
    """Minimise ``loss_fn(params, batch) -> (total, {term: value})`` (see the module docstring).

    Args:
        loss_fn: a pure JAX function; traced again after a callback replaces the parameters.
        params: the initial pytree of trained values.
        config: a :class:`~sciml.training.config.TrainConfig`.
        batches: the batch source (a :class:`Batches`); None trains on ``batch=None``.
        optimizer: the first-order phase (any optax ``GradientTransformation``); default
            :func:`default_optimizer` of ``config``.
        callbacks: changes at scheduled steps (:class:`Callback`).
        checkpoint: file to save the run to (and resume it from); None keeps nothing on disk.
        settings: a JSON-able record of what the run is, saved with every checkpoint and
            compared on resume (see :data:`IDENTITY`).
        resume: continue from ``checkpoint``, which must then exist.
        describe: ``describe(params) -> str``, a note on the parameters for the message of a
            divergence (e.g. the values of identified physical constants).
        members: train an ensemble: every leaf of ``params`` has a leading axis of this many
            independent members, ``loss_fn`` returns the sum of their losses, the default
            optimiser runs on each member alone (:func:`per_member`), and the member axis is
            split over ``config.devices`` when they divide it. The quasi-Newton phase, if any,
            minimises the sum (one line search for all).

    Raises:
        TrainingDiverged: a loss term became NaN or infinite.
        TrainingInterrupted: SIGINT or SIGTERM stopped training (after a checkpoint).
    """
    if optimizer is not None and not isinstance(optimizer, optax.GradientTransformation):
        raise TypeError(f"optimizer must be an optax GradientTransformation (e.g. optax.adam(1e-3)), "
                        f"got {type(optimizer).__name__}")
    # The default optimiser's schedule may follow the run's progress in time (stretch_schedule).
    stretched = optimizer is None and stretches_schedule(config)
    if optimizer is None:
        optimizer = per_member(default_optimizer(config)) if members else default_optimizer(config)
    run = _Run(loss_fn, params, config, batches or Batches(), optimizer, tuple(callbacks),
               Path(checkpoint) if checkpoint else None, settings or {}, describe, stretched, members)
    with jax.default_matmul_precision("highest"), _StopSignals() as stop:
        run.stop = stop
        return run.fit(resume)


class _Run:
    """One call of :func:`fit`: its compiled chunks, its state, its checkpoints."""

    def __init__(self, loss_fn, params, config, batches, optimizer, callbacks, checkpoint, settings, describe,
                 stretched: bool, members: int = 0):
        self.loss_fn, self.params, self.config = loss_fn, params, config
        self.stretched = stretched
        self.batches, self.optimizer, self.callbacks = batches, optimizer, callbacks
        self.checkpoint, self.describe = checkpoint, describe
        self.settings = {**settings, "train": config.to_dict()}
        self.quasi_newton = quasi_newton(config.quasi_newton, memory=config.lbfgs_memory)
        self.mesh, split, self.replicated = batch_sharding(config.devices)
        # An ensemble's member axis is split over the devices when they divide it.
        n_devices = self.mesh.devices.size
        self._split = split if members and n_devices > 1 and members % n_devices == 0 else None
        self.members = members
        self._jitted: dict[str, Any] = {}
        self._schedule = learning_rate_schedule(config)
        # The first-order steps at which a callback acts (ascending).
        self._callback_steps = sorted({s for callback in callbacks for s in callback.steps if s > 0})

    # ---------------------------------------------------------------- compiled pieces
    def _adam_chunk(self):
        if "adam" not in self._jitted:
            opt, loss_fn = self.optimizer, self.loss_fn

            def chunk(params, opt_state, batch, n_steps):
                def body(carry, _):
                    p, st = carry
                    (loss, terms), grads = jax.value_and_grad(loss_fn, has_aux=True)(p, batch)
                    updates, st = opt.update(grads, st, p)
                    return (optax.apply_updates(p, updates), st), (loss, terms)

                return jax.lax.scan(body, (params, opt_state), None, length=n_steps)

            self._jitted["adam"] = jax.jit(chunk, static_argnums=3)
        return self._jitted["adam"]

    def _quasi_newton_chunk(self):
        # optax's zoom line search (strong Wolfe, first guess 1) after the L-BFGS or dense BFGS
        # direction; with optax.value_and_grad_from_state the search's last evaluation is reused.
        # A chunk ends after ``n_steps`` iterations or once it has spent ``max_evaluations``
        # loss evaluations, whichever comes first: near the precision floor the line search
        # takes up to 20 evaluations an iteration, and a chunk sized by the iterations alone
        # then overran the time budget by minutes (the cavity: 100 iterations in 110 s).
        if "lbfgs" not in self._jitted:
            opt, loss_fn, length = self.quasi_newton, self.loss_fn, self.config.chunk

            def chunk(params, opt_state, batch, n_steps, max_evaluations):
                value_fn = lambda p: loss_fn(p, batch)[0]  # noqa: E731

                def more(carry):
                    _, _, done, evaluations, _, still = carry
                    return (done < n_steps) & (evaluations < max_evaluations) & (still < STUCK_ITERATIONS)

                def body(carry):
                    p, st, done, evaluations, values, still = carry
                    value, grads = optax.value_and_grad_from_state(value_fn)(p, state=st)
                    updates, st = opt.update(grads, st, p, value=value, grad=grads, value_fn=value_fn)
                    searched = optax.tree_utils.tree_get(st, "num_linesearch_steps")
                    # A search that fails without a step of sufficient decrease still takes its
                    # last step, whatever the value there (optax 0.2.8): Burgers went from 1e-7
                    # to 1e9 that way after fresh points. Such a step is refused and the
                    # optimiser restarted at ``p`` (its curvature estimate led there).
                    reached = optax.tree_utils.tree_get(st, "value")
                    failed = ~(reached <= value + REFUSED_INCREASE * jnp.abs(value))
                    p, st = jax.lax.cond(failed, lambda: (p, _like(opt.init(p), st)),
                                         lambda: (optax.apply_updates(p, updates), st))
                    still = jnp.where(failed | (reached == value), still + 1, 0)
                    return (p, st, done + 1, evaluations + 1 + jnp.asarray(searched, jnp.int32),
                            values.at[done].set(value), still)

                values = jnp.zeros((length,), jnp.result_type(*jax.tree.leaves(params)))
                zero = jnp.zeros((), jnp.int32)
                p, st, done, evaluations, values, still = jax.lax.while_loop(
                    more, body, (params, opt_state, zero, zero, values, zero))
                _, terms = loss_fn(p, batch)
                return (p, st), (values, terms, done, evaluations, still >= STUCK_ITERATIONS)

            self._jitted["lbfgs"] = jax.jit(chunk)
        return self._jitted["lbfgs"]

    def _held_out_loss(self, params, batch) -> float:
        if "held_out" not in self._jitted:
            self._jitted["held_out"] = jax.jit(lambda p, b: self.loss_fn(p, b)[0])
        return float(self._jitted["held_out"](params, batch))

    def _replicate(self, *trees):
        """Commit states to the replicated sharding (an ensemble's members to their devices)
        with strong dtypes.

        That is how the compiled chunks return them; a fresh state (uncommitted, weakly typed
        scalars in optax's line-search info) would otherwise compile every chunk twice, which
        for a small network costs more than its training.
        """
        strong = jax.tree.map(lambda a: jnp.asarray(a, dtype=jnp.asarray(a).dtype), trees)
        if self._split is None:
            return jax.device_put(strong, self.replicated)
        return jax.tree.map(lambda a: jax.device_put(a, self._split if a.ndim and a.shape[0] == self.members
                                                     else self.replicated), strong)


    def _call_back(self, step: int, replay: bool = False) -> bool:
        """Run the callbacks due at ``step``; True when they replaced the parameters."""
        changed = False
        for callback in self.callbacks:
            if step in callback.steps:
                progress = Progress(step, self.params, self.opt_state, self.history, self._elapsed(), replay)
                new = callback(progress)
                if new is not None and new is not self.params:
                    self.params, changed = new, True
        if changed:
            self._jitted.clear()  # the loss is traced again on the new parameters
            count = jnp.asarray(step, jnp.int32)
            self.opt_state = self.optimizer.init(self.params)
            try:  # the moments restart; the step count (and so the schedule) carries on
                self.opt_state = optax.tree_utils.tree_set(self.opt_state, count=count)
            except (KeyError, ValueError):
                pass
            self.qn_state = self.quasi_newton.init(self.params)
        return changed

    # ---------------------------------------------------------------- state and checkpoints
    def _elapsed(self) -> float:
        return self.wall_before + time.perf_counter() - self.start

    def _save(self):
        if self.checkpoint is None:
            return
        trees, values = self.batches.state()
        if is_primary():  # one copy of a multi-process run's checkpoint
            save_checkpoint(
                self.checkpoint,
                trees={"trainable": self.params, "adam": self.opt_state, "lbfgs": self.qn_state, **trees},
                values={
                    "step": self.step, "lbfgs_step": self.qn_done, **values,
                    "history": {k: np.asarray([PHASES.index(p) for p in v] if k == "phase" else v)
                                for k, v in self.history.items()},
                    "wall_s": self._elapsed(), "settings": _json(self.settings), "adam_cut": self.adam_cut,
                    "adam_cut_why": self.adam_cut_why,
                    "ended": self.stopped, "refreshes": self.refreshes, "point_growth": self.growth,
                },
            )
        self.saved_step = self.step + self.qn_done
        self.last_saved = time.perf_counter()
        log.debug("checkpoint at step %d written to %s", self.saved_step, self.checkpoint)

    def _restore(self):
        """Load the checkpoint into states shaped like the current ones (after checking it is this run's)."""
        if self.checkpoint is None:
            raise CheckpointError("resume=True needs an output folder to resume from (out=...)")
        saved = load_checkpoint(self.checkpoint)
        trees, values = saved["trees"], saved["values"]
        self.adam_cut = int(values.get("adam_cut", -1))
        self.adam_cut_why = str(values.get("adam_cut_why", "by the time budget"))
        step = int(values["step"])
        _check_same_run(self.settings, values.get("settings"), self.checkpoint, step, int(values["lbfgs_step"]),
                        self.adam_cut >= 0)
        # Shapes of changed parameters (a KAN's finer grid), before the values. A checkpoint at
        # step s precedes the callbacks of s (they open the next chunk), so those run afresh.
        for s in self._callback_steps:
            if s < step:
                self._call_back(s, replay=True)
        self.params = restore_tree(self.params, trees["trainable"], "parameters")
        self.opt_state = restore_tree(self.opt_state, trees["adam"], "first-order optimiser state")
        self.qn_state = restore_tree(self.qn_state, trees["lbfgs"], "quasi-Newton state")
        self.batches.restore(trees, values)
        self.history = {k: list(np.asarray(v).tolist()) for k, v in values["history"].items()}
        self.history["phase"] = [PHASES[int(p)] for p in self.history["phase"]]
        self.step, self.qn_done = step, int(values["lbfgs_step"])
        self.wall_before = float(values["wall_s"])
        self.stopped = str(values.get("ended", ""))  # a run that ended on a stall or its budget stays ended
        self.refreshes, self.growth = int(values.get("refreshes", 0)), int(values.get("point_growth", 1))
        self.saved_step = self.step + self.qn_done
        log.info("resuming from %s at step %d of %d", self.checkpoint, self.saved_step,
                 self.config.steps + self.config.lbfgs_steps)

    # ---------------------------------------------------------------- after every chunk
    def _record(self, losses, terms, phase: str):
        losses = np.asarray(losses)
        self.history.setdefault("loss", []).extend(losses.tolist())
        self.history.setdefault("phase", []).extend([phase] * losses.shape[0])
        for k, v in terms.items():
            self.history.setdefault(k, []).extend(np.broadcast_to(np.asarray(v), losses.shape).tolist())

    def _check(self, values, terms, first_step: int, phase: str):
        if not np.all(np.isfinite(np.asarray(values))):  # the notes cost a sync: only on failure
            _check_finite(values, terms, first_step, phase, self._checkpoint_note(),
                          self.describe(self.params) if self.describe else "")

    def _checkpoint_note(self) -> str:
        if self.checkpoint is not None and self.saved_step is not None and self.checkpoint.exists():
            return (f"the last checkpoint is {self.checkpoint} (step {self.saved_step}); resume from it "
                    "with --resume and a lower --lr (learning_rate)")
        return "no checkpoint was written" + ("" if self.checkpoint else " (no output folder)")

    def _after_chunk(self, done: int, terms, phase: str):
        """Progress, checkpoints and signals, at the end of every chunk."""
        cfg, now = self.config, time.perf_counter()
        stop = agree(self.stop.received is not None)  # a signal to process 0 stops every process
        self.bar.set_postfix(_postfix(terms), refresh=False)
        # The first chunk is saved at once (after compilation, the costly part of a short
        # run), then every checkpoint_seconds.
        due = (cfg.checkpoint_every and done % cfg.checkpoint_every == 0) or (
            cfg.checkpoint_seconds and (self.saved_step is None or now - self.last_saved >= cfg.checkpoint_seconds))
        if due or stop:
            self._save()
        if not cfg.progress and cfg.progress_seconds and now - self.last_report >= cfg.progress_seconds:
            self.last_report = now
            log.info("step %d/%d (%s) loss %.3e [%.0f s]", done, self.total, phase,
                     float(np.asarray(self.history["loss"][-1])), self._elapsed())
        if stop:
            where = (f"checkpoint at step {done} written to {self.checkpoint}; rerun with --resume to continue"
                     if self.checkpoint else "nothing was saved (no output folder)")
            signal = self.stop.received or "a signal to process 0"
            raise TrainingInterrupted(f"training interrupted by {signal} at step {done}; {where}",
                                      self.checkpoint, done)

    # ---------------------------------------------------------------- the two phases
    def fit(self, resume: bool) -> FitOutcome:
        cfg = self.config
        self.opt_state = self.optimizer.init(self.params)
        self.qn_state = self.quasi_newton.init(self.params)
        self.step = self.qn_done = 0
        self.history: dict[str, list] = {"loss": [], "phase": []}
        self.wall_before, self.start = 0.0, time.perf_counter()
        self.adam_cut = -1  # the step at which the time budget ended the first phase early (-1: it did not)
        self.adam_cut_why = ""
        self.stopped = ""  # why the quasi-Newton phase ended before its step count ('' while it has not)
        self.refreshes = 0  # rounds of the quasi-Newton phase on fresh points so far
        self.growth = 1  # how many times the configured number of points its batches hold
        self.saved_step: int | None = None  # the step of the last checkpoint on disk
        if resume:
            self._restore()
        self.total = cfg.steps + cfg.lbfgs_steps
        first = self.step + self.qn_done
        self.bar = _progress(self.total, first, cfg.progress)
        self.start = self.last_saved = self.last_report = time.perf_counter()
        self.batch = None
        self._first_order()
        self._second_order()
        self.bar.close()
        if self.saved_step != self.step + self.qn_done:
            self._save()
        reason = self.stopped or "steps"
        if self.adam_cut >= 0:
            reason = f"Adam cut at step {self.adam_cut} {self.adam_cut_why}; L-BFGS: {reason}"
        if multi_process():  # what follows (evaluation, outputs) runs in each process alone
            self.params, self.opt_state, self.batch = _local((self.params, self.opt_state, self.batch))
        return FitOutcome(
            params=self.params, opt_state=self.opt_state,
            history={k: np.asarray(v) for k, v in self.history.items()}, wall_s=self._elapsed(),
            steps=self.step, lbfgs_steps=self.qn_done, new_steps=self.step + self.qn_done - first,
            stopped=reason, batch=self.batch,
        )

    def _first_order(self):
        cfg = self.config
        callback_steps = self._callback_steps
        adam_steps = self.adam_cut if self.adam_cut >= 0 else cfg.steps
        share = ADAM_SHARE if cfg.lbfgs_steps else 1.0
        pace = None  # (step, seconds) after the first chunk of this process: the clock of Adam's steps
        while self.step < adam_steps:
            step = self.step
            stalled = self._adam_stalled(pace, adam_steps, share * (cfg.time_budget or 0.0)) if cfg.lbfgs_steps else ""
            if cfg.time_budget and step > 0 and (stalled or agree(self._elapsed() >= share * cfg.time_budget)):
                # Leave the quasi-Newton phase its share of the budget on a slow machine.
                self.adam_cut = self.step
                self.adam_cut_why = ("as its loss stalled, before the time budget would have cut it" if stalled
                                     else "by the time budget")
                log.info("Adam stopped at step %d of %d: %s", step, cfg.steps,
                         stalled or f"{100 * share:.0f}% of the time budget spent")
                self._save()
                break
            # Scheduled work happens at the start of a chunk, after any checkpoint of the
            # previous one, so a resumed run performs exactly what an uninterrupted one does.
            if step in callback_steps:
                self._call_back(step)
            spent = min(1.0, agree(self._elapsed()) / (share * cfg.time_budget)) if cfg.time_budget else 0.0
            self.batches.fraction = max(step / max(cfg.steps, 1), spent)
            self.batch = self.batches(step, self.params)
            if self.stretched:  # the decay follows the run's progress in time as well as in steps
                at = max(step, cfg.steps * spent)
                self.opt_state = _with_learning_rate(self.opt_state, float(self._schedule(at)))
            upcoming = callback_steps[bisect.bisect_right(callback_steps, step):][:1]
            n = min(cfg.chunk, adam_steps - step, *(s - step for s in upcoming))
            (params, opt_state), (losses, terms) = self._adam_chunk()(
                *self._replicate(self.params, self.opt_state), self.batch, n)
            self._check(losses, terms, step, "Adam")
            self.params, self.opt_state = params, opt_state
            self._record(losses, terms, "adam")
            self.step += n
            if pace is None:
                pace = (self.step, self._elapsed())  # after compilation
            self.bar.update(n)
            if self.step == adam_steps and cfg.lbfgs_steps and self.qn_done == 0:
                self._save()  # the phase changes: save the end of the first one
            self._after_chunk(self.step, terms, "Adam")

    def _adam_stalled(self, pace, adam_steps: int, adam_budget: float) -> str:
        """Why the first phase should hand over now ('' to go on): the time budget would cut it
        before its last step anyway, and its loss has stalled.

        Under a budget the quasi-Newton phase is where a loss falls by orders of magnitude; an
        Adam plateau only spends its time (heat in an annulus, three coordinates: Adam's loss
        fell 1.18e-2 -> 1.04e-2 over its last 1600 steps, four minutes, and the quasi-Newton
        phase 100-fold in the four minutes left). Runs whose first phase ends within its share
        of the budget are left as they are.
        """
        if pace is None or not adam_budget:
            return ""
        losses, step = self.history["loss"], self.step
        recent = max(ADAM_STALL_STEPS, step // 2)
        if step - pace[0] < 1 or len(losses) < 2 * recent:
            return ""
        seconds_per_step = (self._elapsed() - pace[1]) / (step - pace[0])
        if not agree(self._elapsed() + (adam_steps - step) * seconds_per_step > adam_budget):
            return ""
        before, now = min(losses[:-recent]), min(losses[-recent:])
        if now < before * (1.0 - ADAM_STALL_TOLERANCE):  # (the same losses on every process)
            return ""
        return (f"its loss stalled (best {now:.3e} over the last {recent} steps, {before:.3e} before) and the "
                f"time budget would have cut it before step {adam_steps}")

    def _second_order(self):
        """The quasi-Newton phase, judged on held-out points.

        A quasi-Newton method on a fixed batch can fit the batch's points rather than the
        solution; its progress is judged on held-out points, and it ends on the best of them.
        When it stalls with time left, it goes on from those parameters on fresh points
        (keeping a dense curvature estimate), for as long as a round improves.
        """
        cfg = self.config
        if not cfg.lbfgs_steps or self.qn_done >= cfg.lbfgs_steps or self.stopped:
            return
        start_step = self.step
        self.batch = self.batches.quasi_newton(self.refreshes, self.growth, self.params, start_step, self.qn_done)
        held_out = self.batches.held_out() if cfg.stall_window else None
        validation = [self._held_out_loss(self.params, held_out)] if held_out is not None else []
        best = (validation[0], self.params) if validation else None
        round_start = best[0] if best else None
        advanced = 0  # the held-out record's length when `advance` was last asked (0: not since a change)
        seconds_per_evaluation = 0.0  # measured on every chunk, for the next one
        batch_loss = float("inf")  # the training loss after the last chunk, on its batch
        stuck = False  # the last chunk ended on STUCK_ITERATIONS iterations in a row that changed nothing
        while self.qn_done < cfg.lbfgs_steps:
            stopped = _early_stop(cfg, validation, agree(self._elapsed()))
            if stuck and not stopped:  # without held-out points (no stall test) the phase simply ends
                stopped = (f"{'stalled' if validation else 'stuck'} (no step changed the loss, "
                           f"{STUCK_ITERATIONS} iterations in a row)")
            stuck = False
            # A held-out loss well above the batch's says the points were fitted rather than
            # the equations: the next round draws more of them (measured on the L-shaped
            # Poisson and the lid-driven cavity, which stalled this way with time to spare).
            overfitted = (stopped.startswith("stalled") and self.growth < MAX_POINT_GROWTH
                          and validation[-1] > OVERFIT_RATIO * batch_loss)
            changed = ""
            if stopped.startswith("stalled"):
                # Every process reaches a stall together (agreed clock): each judges whole arrays.
                changed = self.batches.constrain(_local(best[1]) if multi_process() else best[1])
            elif not stopped and validation and len(validation) - advanced > max(cfg.stall_window // 5, 1):
                advanced = len(validation)
                changed = self.batches.advance(_local(best[1]) if multi_process() else best[1])
            if changed:
                # A new loss: its own held-out judge and best, from the best parameters so far
                # (or those the batches go back to).
                self.refreshes += 1
                log.info("quasi-Newton %s at step %d; %s", stopped or "(before a stall)", self.qn_done, changed)
                advanced = 0
                self.params = self.batches.restart(best[1])
                self.batch = self.batches.quasi_newton(self.refreshes, self.growth, self.params,
                                                       start_step, self.qn_done)
                self.qn_state = for_new_batch(cfg.quasi_newton, self.qn_state, self.params, cfg.lbfgs_memory)
                held_out = self.batches.held_out()
                validation = [self._held_out_loss(self.params, held_out)]
                best, round_start = (validation[0], self.params), validation[0]
                continue
            if stopped.startswith("stalled") and self.refreshes < MAX_REFRESHES and (
                    self.refreshes == 0 or overfitted or best[0] < round_start * (1.0 - cfg.stall_tolerance)):
                self.refreshes += 1
                if overfitted:
                    self.growth *= 2
                    seconds_per_evaluation *= 2  # an evaluation on twice the points
                log.info("quasi-Newton %s at step %d; fresh points (%d, %dx as many) from the best parameters",
                         stopped, self.qn_done, self.refreshes, self.growth)
                self.params, round_start = best[1], best[0]
                self.batch = self.batches.quasi_newton(self.refreshes, self.growth, self.params,
                                                       start_step, self.qn_done)
                self.qn_state = for_new_batch(cfg.quasi_newton, self.qn_state, self.params, cfg.lbfgs_memory)
                validation, advanced = [best[0]], 0
                continue
            if stopped:
                if self.refreshes:
                    stopped += (f" (after {self.refreshes} round{'s' if self.refreshes > 1 else ''} on fresh points"
                                + (f", the last on {self.growth}x as many" if self.growth > 1 else "") + ")")
                log.info("L-BFGS stopped at step %d of %d: %s", self.qn_done, cfg.lbfgs_steps, stopped)
                self.stopped = stopped
                break
            n = min(cfg.chunk, cfg.lbfgs_steps - self.qn_done)
            max_evaluations = MAX_EVALUATIONS
            if cfg.time_budget and seconds_per_evaluation:
                # End at the budget: the chunk stops once its evaluations would overrun it.
                left = agree(cfg.time_budget - self._elapsed())
                max_evaluations = int(min(MAX_EVALUATIONS, max(1.0, left / seconds_per_evaluation)))
            elif cfg.time_budget:
                n = min(n, PROBE_ITERATIONS)  # no cost known yet: a short first chunk measures it
            chunk_start = time.perf_counter()
            (params, state), (values, terms, done, evaluations, stuck) = self._quasi_newton_chunk()(
                *self._replicate(self.params, self.qn_state), self.batch, jnp.asarray(n, jnp.int32),
                jnp.asarray(max_evaluations, jnp.int32))
            done, stuck = int(done), bool(stuck)
            values = values[:done]
            self._check(values, terms, start_step + self.qn_done, "L-BFGS")
            self.params, self.qn_state = params, state
            self._record(values, {k: jnp.full((done,), v) for k, v in terms.items()}, "lbfgs")
            self.qn_done += done
            batch_loss = float(values[-1])
            # (The first chunk's time includes compilation: an overestimate, on the safe side.)
            seconds_per_evaluation = (time.perf_counter() - chunk_start) / max(int(evaluations), 1)
            if held_out is not None:
                validation.extend([self._held_out_loss(self.params, held_out)] * done)
                if validation[-1] < best[0]:
                    best = (validation[-1], self.params)
            self.bar.update(done)
            self._after_chunk(start_step + self.qn_done, terms, "L-BFGS")
        if best is not None and best[0] < validation[-1]:
            self.params = best[1]
            self.saved_step = None  # the kept parameters are not the last ones saved
            if self.stopped:  # recorded in the checkpoint: a resumed run stays ended
                self.stopped += f"; parameters of the lowest held-out loss ({best[0]:.3e}) kept"


# ---------------------------------------------------------------------------------- helpers
def _like(tree, template):
    """``tree`` with the dtypes of ``template`` (a fresh optimiser state, as a running one)."""
    return jax.tree.map(lambda a, b: jax.lax.convert_element_type(a, jnp.asarray(b).dtype), tree, template)


def _local(tree):
    """A tree of a multi-process run's global arrays, whole, as this process's own arrays (a
    collective: every process calls it at the same point)."""
    from jax.experimental import multihost_utils

    return jax.tree.map(jnp.asarray, multihost_utils.process_allgather(tree, tiled=True))


def _early_stop(cfg, held_out: list[float], elapsed: float) -> str:
    """Why the quasi-Newton phase should stop now ('' to go on): the time budget is spent, or
    the held-out loss (one value per iteration, the first before the phase) stalled."""
    if cfg.time_budget and elapsed >= cfg.time_budget:
        return f"time budget of {cfg.time_budget:g} s spent"
    # Slow progress over the window, or none at all over a fifth of it (the line search is
    # stuck at the precision of the arithmetic, or the points are being overfitted).
    for window, tolerance in ((cfg.stall_window, cfg.stall_tolerance),
                              (cfg.stall_window // 5, cfg.stall_tolerance / 10)):
        if window and len(held_out) > window:
            before, recent = min(held_out[:-window]), min(held_out[-window:])
            if recent > before * (1.0 - tolerance):
                return (f"stalled (best held-out loss {recent:.3e} over the last {window} iterations, "
                        f"{before:.3e} before)")
    return ""


def _json(settings: dict) -> str:
    from sciml.provenance import json_default

    return json.dumps(settings, sort_keys=True, default=json_default)


def _check_same_run(settings: dict, saved: str | None, path: Path, step: int, lbfgs_done: int,
                    adam_cut: bool = False) -> None:
    """Refuse to resume a checkpoint of another run; note the settings that changed."""
    if saved is None:
        log.warning("checkpoint %s records no settings (older format): they cannot be compared", path)
        return
    current, before = json.loads(_json(settings)), json.loads(saved)
    differences = [f"{k}: {before.get(k)!r} in the checkpoint, {current.get(k)!r} now"
                   for k in IDENTITY if current.get(k) != before.get(k)]
    if differences:
        raise CheckpointError(
            f"checkpoint {path} belongs to another run; refusing to resume with different "
            f"{', '.join(d.split(':')[0] for d in differences)} ({'; '.join(differences)}). Resume with "
            "the same settings, or choose another --out (or --overwrite) to start afresh"
        )
    train_now, train_then = current.get("train", {}), before.get("train", {})
    if train_now.get("steps", 0) < step or train_now.get("lbfgs_steps", 0) < lbfgs_done or (
            lbfgs_done and not adam_cut and train_now.get("steps") != step):
        raise CheckpointError(
            f"checkpoint {path} is at Adam step {step} and L-BFGS step {lbfgs_done}; resuming with "
            f"steps={train_now.get('steps')} and lbfgs_steps={train_now.get('lbfgs_steps')} would go back. "
            "Give at least as many steps (and once L-BFGS has begun, the same Adam steps)"
        )
    changed = sorted(k for k in set(train_now) | set(train_then)
                     if k not in COSMETIC and train_now.get(k) != train_then.get(k))
    if changed:
        log.warning("resuming with changed training settings: %s",
                    ", ".join(f"{k} {train_then.get(k)!r} -> {train_now.get(k)!r}" for k in changed))


class _StopSignals:
    """Turn SIGINT/SIGTERM into a flag read between chunks (main thread only); a second one
    interrupts at once."""

    def __init__(self):
        self.received: str | None = None
        self._previous = {}

    def _handle(self, signum, frame):
        if self.received:
            raise KeyboardInterrupt
        self.received = signal.Signals(signum).name
        log.warning("%s received: stopping after the current chunk (send it again to stop now)", self.received)

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(self, *exc):
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
        return False


def _check_finite(losses, terms, first_step: int, phase: str, checkpoint_note: str, parameter_note: str) -> None:
    losses = np.asarray(losses)
    if np.all(np.isfinite(losses)):
        return
    bad = int(np.argmax(~np.isfinite(losses)))
    culprits = [k for k, v in terms.items() if not np.isfinite(np.asarray(v).reshape(-1)[min(bad, np.asarray(v).size - 1)])]
    raise TrainingDiverged(
        f"loss term {', '.join(repr(c) for c in culprits) or 'total'} became "
        f"{'NaN' if np.isnan(losses[bad]) else 'infinite'} at step {first_step + bad} ({phase})"
        f"{'; ' + parameter_note if parameter_note else ''}; {checkpoint_note}. Possible causes: a step "
        "too large for this loss (lower --lr), equations or data of very different scales, outliers "
        "in the data, or a parameter driven outside the range where the equations are defined."
    )


def _postfix(terms) -> dict[str, str]:
    return {k: f"{float(np.asarray(v).reshape(-1)[-1]):.2e}" for k, v in terms.items()}


class _NoBar:
    def update(self, n): ...
    def set_postfix(self, *a, **k): ...
    def close(self): ...


def _progress(total: int, initial: int, enabled: bool):
    if not enabled:
        return _NoBar()
    from tqdm.auto import tqdm

    return tqdm(total=total, initial=initial, desc="training", unit="step", dynamic_ncols=True, leave=True)


__all__ = ["Batches", "Callback", "FitOutcome", "Progress", "TrainingDiverged", "TrainingInterrupted",
           "averaged", "averaged_params", "batch_sharding", "default_optimizer", "fit", "per_member"]
