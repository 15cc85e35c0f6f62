"""The physics-informed trainer: optax Adam, then L-BFGS, on a compiled problem.

The trainer owns the optimiser state, the collocation batches, checkpoints and progress; it
knows nothing about physics beyond the ``loss_terms`` function of a compiled problem. Steps run
in compiled chunks (``jax.lax.scan``) so that per-step Python overhead vanishes; after every
chunk the recorded losses are checked for NaN/Inf, the progress bar is refreshed and, on
schedule, points are resampled or refined (RAR), term weights rebalanced, the surrogate changed
by model callbacks (:mod:`sciml.training.callbacks`, e.g. a KAN's grid extension, owned by the
models package: the trainer knows no model class) and a checkpoint written. Every batch is
drawn from a generator seeded by ``(seed, index)``, so a resumed run sees exactly the batches
an uninterrupted one would and reproduces it bit for bit on CPU.

The quasi-Newton phase is judged on held-out points. When it stalls with time left it goes on
in rounds, each from the best parameters on fresh points (refined where the residual now is,
when RAR is on); a round whose held-out loss ended well above its batch's had fitted the
points rather than the equations, and the next one draws twice as many.

The collocation batch is placed with a ``NamedSharding`` over a one-axis device mesh
(``"batch"``): on several devices XLA splits the residual evaluation across them and reduces
the loss, with parameters replicated — the standard data-parallel layout of ``jax.sharding``.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from sciml.dsl.terms import DEFAULT_COUNTS
from sciml.losses.weighting import global_norm, make_policy
from sciml.training.callbacks import ModelCallback
from sciml.training.checkpoint import CheckpointError, load_checkpoint, restore_tree, save_checkpoint
from sciml.training.config import TrainConfig
from sciml.training.memory import check_batch_memory, check_dense_hessian_memory
from sciml.training.quasi_newton import for_new_batch, quasi_newton

log = logging.getLogger("sciml")

PHASES = ("adam", "lbfgs")
ADAM_SHARE = 0.5  # with a time budget, Adam stops once it has used this share of it
HELD_OUT_INDEX = 2**31 - 1  # batch index of the held-out points that judge L-BFGS's progress
MAX_REFRESHES = 20  # rounds of the quasi-Newton phase on fresh points after stalls
OVERFIT_RATIO = 2.0  # held-out loss this many times the batch's: the points, not the equations, are fitted
MAX_POINT_GROWTH = 8  # the quasi-Newton phase's batches grow at most this many times
TAIL_CHUNK = 10  # quasi-Newton iterations per chunk once a full chunk would overrun the time budget

# Settings that make a run what it is: resuming a checkpoint under other values is refused.
# The rest of a configuration (steps, learning rates, ...) may change on resume, with a note.
IDENTITY = ("problem", "model", "model_options", "seed", "precision")
# Settings that never matter to the numbers.
COSMETIC = ("progress", "progress_seconds", "checkpoint_every", "checkpoint_seconds", "chunk", "time_budget")


class TrainingDiverged(RuntimeError):
    """A loss term became NaN or infinite; the message names the term and the step."""


class TrainingInterrupted(KeyboardInterrupt):
    """SIGINT or SIGTERM stopped training; ``checkpoint`` is where the run was saved (or None)."""

    def __init__(self, message: str, checkpoint: Path | None, step: int):
        super().__init__(message)
        self.checkpoint, self.step = checkpoint, step


@dataclass
class TrainOutcome:
    model: nnx.Module
    raw_parameters: dict[str, jax.Array]
    history: dict[str, np.ndarray]  # "step", "phase", "loss", and one array per term
    weights: dict[str, float]
    wall_s: float
    steps: int
    lbfgs_steps: int
    collocation: np.ndarray  # interior points used last (after refinement)
    new_steps: int = 0  # steps taken by this call (0 when a finished run was resumed)
    stopped: str = "steps"  # why training ended: "steps", "time budget" or "stalled"


def batch_sharding(n_devices: int | None = None) -> tuple[Mesh, NamedSharding, NamedSharding]:
    """A one-axis mesh over the available devices and the shardings for points / replicas."""
    devices = np.asarray(jax.devices()[: n_devices or jax.device_count()])
    mesh = Mesh(devices, ("batch",))
    return mesh, NamedSharding(mesh, PartitionSpec("batch")), NamedSharding(mesh, PartitionSpec())


class Trainer:
    """Train ``model`` on ``compiled`` (a :class:`~sciml.dsl.compile.CompiledProblem`)."""

    def __init__(self, compiled, model: nnx.Module, config: TrainConfig, checkpoint: str | Path | None = None,
                 settings: dict | None = None, callbacks: Sequence[ModelCallback] = ()):
        """
        Args:
            compiled: the compiled problem.
            model: the surrogate (a flax nnx module).
            config: training settings.
            checkpoint: where to save the run (and resume it from); None keeps nothing on disk.
            settings: a JSON-able record of what the run is (problem, model, options, seed);
                saved with every checkpoint and compared on resume (see :data:`IDENTITY`).
            callbacks: changes of the surrogate at scheduled steps, after those the
                configuration asks for (``grid_schedule``); a resumed run needs the same ones.
        """
        self.compiled = compiled
        self.config = config
        self.callbacks = (*_config_callbacks(config), *callbacks)
        self.checkpoint = Path(checkpoint) if checkpoint else None
        self.settings = {**(settings or {}), "train": config.to_dict()}
        self.dtype = np.float64 if config.precision == "float64" else np.float32
        check_batch_memory(config.points, len(compiled.problem.conditions), compiled.problem.equations,
                           len(compiled.coordinate_names), model, np.dtype(self.dtype).itemsize)
        self.graphdef, params, rest = nnx.split(model, nnx.Param, ...)
        cast = lambda a: jnp.asarray(a, self.dtype) if jnp.issubdtype(jnp.asarray(a).dtype, jnp.floating) else a  # noqa: E731
        self.trainable = {
            "model": jax.tree.map(cast, params),
            "parameters": jax.tree.map(cast, compiled.initial_parameters()),
        }
        self.rest = jax.tree.map(cast, rest)
        if config.lbfgs_steps and config.quasi_newton != "lbfgs":
            n_parameters = sum(int(np.size(a)) for a in jax.tree.leaves(self.trainable))
            check_dense_hessian_memory(n_parameters, np.dtype(self.dtype).itemsize)
        self.policy = make_policy(config.weighting)
        base = {**compiled.weights, **config.weights}
        unknown = sorted(set(config.weights) - set(compiled.weights))
        if unknown:
            raise ValueError(f"weights given for unknown loss terms {unknown}; terms are {compiled.term_names}")
        self.base_weights = base
        self.weights = self.policy.init(compiled.term_names, base)
        self.reduce_residual = _causal(compiled, config)
        self.mesh, self.points_sharding, self.replicated = batch_sharding()
        self._n_devices = self.mesh.devices.size
        self._compiled_fns: dict[str, Any] = {}

    # ------------------------------------------------------------------ losses
    def _loss(self, trainable, rest, batch, weights):
        model = nnx.merge(self.graphdef, trainable["model"], rest)
        terms = self.compiled.loss_terms(model, trainable["parameters"], batch, self.reduce_residual)
        total = sum(weights[k] * v for k, v in terms.items())
        return total, terms

    def _adam(self):
        cfg = self.config
        if cfg.final_learning_rate:
            rate = cfg.final_learning_rate / cfg.learning_rate
            schedule = optax.exponential_decay(cfg.learning_rate, max(cfg.steps, 1), rate)
        else:
            schedule = cfg.learning_rate
        return optax.adam(schedule)

    def _adam_chunk(self):
        if "adam" not in self._compiled_fns:
            opt = self._adam()

            def chunk(trainable, opt_state, rest, batch, weights, n_steps):
                def body(carry, _):
                    tr, st = carry
                    (loss, terms), grads = jax.value_and_grad(self._loss, has_aux=True)(tr, rest, batch, weights)
                    updates, st = opt.update(grads, st, tr)
                    return (optax.apply_updates(tr, updates), st), (loss, terms)

                return jax.lax.scan(body, (trainable, opt_state), None, length=n_steps)

            self._compiled_fns["adam"] = jax.jit(chunk, static_argnums=5)
        return self._compiled_fns["adam"]

    def _lbfgs(self):
        # The quasi-Newton phase (L-BFGS unless the config names dense BFGS), with optax's zoom
        # line search (strong Wolfe, first guess 1). For L-BFGS the memory is the setting
        # that matters for PINNs: with 10 pairs L-BFGS crawls on their ill-conditioned losses,
        # with 50 it converges several times faster per iteration at negligible extra cost.
        return quasi_newton(self.config.quasi_newton, memory=self.config.lbfgs_memory)

    def _lbfgs_chunk(self):
        if "lbfgs" not in self._compiled_fns:
            opt = self._lbfgs()

            def chunk(trainable, opt_state, rest, batch, weights, n_steps):
                value_fn = lambda tr: self._loss(tr, rest, batch, weights)[0]  # noqa: E731

                def body(carry, _):
                    tr, st = carry
                    value, grads = optax.value_and_grad_from_state(value_fn)(tr, state=st)
                    updates, st = opt.update(grads, st, tr, value=value, grad=grads, value_fn=value_fn)
                    return (optax.apply_updates(tr, updates), st), value

                (tr, st), values = jax.lax.scan(body, (trainable, opt_state), None, length=n_steps)
                _, terms = self._loss(tr, rest, batch, weights)
                return (tr, st), (values, terms)

            self._compiled_fns["lbfgs"] = jax.jit(chunk, static_argnums=5)
        return self._compiled_fns["lbfgs"]

    def _held_out_loss(self):
        if "held_out" not in self._compiled_fns:
            self._compiled_fns["held_out"] = jax.jit(lambda tr, rest, batch, weights: self._loss(tr, rest, batch, weights)[0])
        return self._compiled_fns["held_out"]

    def _grad_norms(self):
        if "norms" not in self._compiled_fns:

            def norms(trainable, rest, batch):
                out = {}
                for name in self.compiled.term_names:
                    g = jax.grad(lambda tr: self._loss(tr, rest, batch, {n: float(n == name) for n in self.compiled.term_names})[0])(trainable)
                    out[name] = global_norm(g)
                return out

            self._compiled_fns["norms"] = jax.jit(norms)
        return self._compiled_fns["norms"]

    def _residual_magnitude(self):
        if "rar" not in self._compiled_fns:

            def magnitude(trainable, rest, z):
                model = nnx.merge(self.graphdef, trainable["model"], rest)
                params = self.compiled.physical_parameters(trainable["parameters"])
                field_fn = self.compiled.field_function(model, params)
                return jnp.sum(self.compiled.residual_values(field_fn, params, z) ** 2, axis=1)

            self._compiled_fns["rar"] = jax.jit(magnitude)
        return self._compiled_fns["rar"]

    @property
    def _callback_steps(self) -> list[int]:
        """The Adam steps at which a model callback acts (ascending)."""
        return sorted({s for callback in self.callbacks for s in callback.steps if s > 0})

    def _call_back(self, trainable, step: int, points):
        """The trainable state after the model callbacks due at ``step`` (new shapes allowed),
        each given the surrogate's inputs at ``points``."""
        model = nnx.merge(self.graphdef, trainable["model"], self.rest)
        inputs = self.compiled.scale(jnp.asarray(points))
        for callback in self.callbacks:
            if step in callback.steps:
                model = callback(model, step, inputs)
        self.graphdef, params, self.rest = nnx.split(model, nnx.Param, ...)
        self._compiled_fns.clear()
        return {"model": params, "parameters": trainable["parameters"]}

    def _replicate(self, *trees):
        """Commit states to the replicated sharding with strong dtypes.

        That is how the compiled chunks return them; a fresh state (uncommitted, weakly typed
        scalars in optax's line-search info) would otherwise compile every chunk twice, which
        for a small PINN costs more than its training.
        """
        strong = jax.tree.map(lambda a: jnp.asarray(a, dtype=jnp.asarray(a).dtype), trees)
        return jax.device_put(strong, self.replicated)

    # ------------------------------------------------------------------ batches
    def _batch(self, index: int, extra: np.ndarray, growth: int = 1) -> dict:
        rng = np.random.default_rng([self.config.seed, index])
        counts = self.config.points
        if growth != 1:
            counts = {k: int(v) * growth for k, v in {**DEFAULT_COUNTS, **counts}.items()}
        return self._place(self.compiled.sample(rng, counts, self.config.sampling, dtype=self.dtype,
                                                refined=extra))

    def _place(self, batch: dict) -> dict:
        def put(a):
            if a.ndim and a.shape[0] % self._n_devices == 0:
                return jax.device_put(a, self.points_sharding)
            return jax.device_put(a, self.replicated)

        return jax.tree.map(put, batch)

    def _refine(self, trainable, step: int, extra: np.ndarray) -> np.ndarray:
        cfg = self.config
        rng = np.random.default_rng([cfg.seed, 10_000_000 + step])
        candidates = self.compiled.problem.space_time.sample(cfg.rar_candidates, rng, "uniform").astype(self.dtype)
        magnitude = np.asarray(self._residual_magnitude()(trainable, self.rest, jnp.asarray(candidates)))
        worst = candidates[np.argsort(magnitude)[-cfg.rar_add :]]
        return np.concatenate([extra, worst]) if len(extra) else worst

    # ------------------------------------------------------------------ main loop
    def run(self, resume: bool = False) -> TrainOutcome:
        """Train, or with ``resume`` continue from the checkpoint (which must then exist).

        SIGINT and SIGTERM stop training at the end of the current chunk, after a checkpoint
        (when there is a checkpoint path), with :class:`TrainingInterrupted`; a second signal
        stops at once.
        """
        cfg = self.config
        if cfg.precision == "float64" and not jax.config.jax_enable_x64:
            raise ValueError("precision='float64' needs jax_enable_x64 set before the model is built; use sciml.solve")
        with jax.default_matmul_precision("highest"), _StopSignals() as stop:
            self._stop = stop
            return self._run(resume)

    def _restore(self, trainable, opt_state, lbfgs_state, extra):
        """Load the checkpoint into states shaped like the given ones (after checking it is this run's)."""
        adam = self._adam()
        saved = load_checkpoint(self.checkpoint)
        trees, values = saved["trees"], saved["values"]
        adam_cut = int(values.get("adam_cut", -1))
        _check_same_run(self.settings, values.get("settings"), self.checkpoint,
                        int(values["step"]), int(values["lbfgs_step"]), adam_cut >= 0)
        for s_ in self._callback_steps:
            if s_ <= int(values["step"]):
                # Shapes of a changed model (a KAN's extended grid): rebuilt before loading the values.
                trainable = self._call_back(trainable, s_, self.compiled.interior_points(self._batch(0, extra)))
                opt_state = adam.init(trainable)
                lbfgs_state = self._lbfgs().init(trainable)
        trainable = restore_tree(trainable, trees["trainable"], "parameters")
        self.rest = restore_tree(self.rest, trees["rest"], "model state")
        opt_state = restore_tree(opt_state, trees["adam"], "Adam state")
        lbfgs_state = restore_tree(lbfgs_state, trees["lbfgs"], "L-BFGS state")
        history = {k: list(np.asarray(v).tolist()) for k, v in values["history"].items()}
        history["phase"] = [PHASES[int(p)] for p in history["phase"]]
        return dict(
            trainable=trainable, opt_state=opt_state, lbfgs_state=lbfgs_state,
            step=int(values["step"]), lbfgs_done=int(values["lbfgs_step"]),
            extra=np.asarray(values["extra"], self.dtype).reshape(-1, extra.shape[1]),
            weights={k: float(v) for k, v in values["weights"].items()},
            history=history, wall_before=float(values["wall_s"]), adam_cut=adam_cut,
            ended=str(values.get("ended", "")), refreshes=int(values.get("refreshes", 0)),
            growth=int(values.get("point_growth", 1)),
        )

    def _run(self, resume: bool) -> TrainOutcome:
        cfg = self.config
        adam = self._adam()
        trainable = self.trainable
        callback_steps = self._callback_steps
        opt_state = adam.init(trainable)
        lbfgs_state = self._lbfgs().init(trainable)
        step, lbfgs_done, extra = 0, 0, np.zeros((0, len(self.compiled.coordinate_names)), self.dtype)
        history: dict[str, list] = {"loss": [], "phase": [], **{n: [] for n in self.compiled.term_names}}
        weights = self.weights
        wall_before = 0.0
        adam_cut = -1  # the Adam step at which the time budget ended Adam early (-1: it did not)
        stopped = ""  # why L-BFGS ended before its step count ('' while it has not)
        refreshes = 0  # rounds of the quasi-Newton phase on fresh points so far
        growth = 1  # how many times the configured number of points the quasi-Newton batches hold
        self.saved_step: int | None = None  # the step of the last checkpoint on disk

        if resume:
            if self.checkpoint is None:
                raise CheckpointError("resume=True needs an output folder to resume from (out=...)")
            state = self._restore(trainable, opt_state, lbfgs_state, extra)
            trainable, opt_state, lbfgs_state = state["trainable"], state["opt_state"], state["lbfgs_state"]
            step, lbfgs_done, extra, weights = state["step"], state["lbfgs_done"], state["extra"], state["weights"]
            history, wall_before, adam_cut = state["history"], state["wall_before"], state["adam_cut"]
            stopped = state["ended"]  # a run that ended on a stall or its budget stays ended
            refreshes, growth = state["refreshes"], state["growth"]
            self.saved_step = step + lbfgs_done
            log.info("resuming from %s at step %d of %d", self.checkpoint, step + lbfgs_done,
                     cfg.steps + cfg.lbfgs_steps)

        total = cfg.steps + cfg.lbfgs_steps
        first = step + lbfgs_done
        bar = _progress(total, step + lbfgs_done, cfg.progress)
        start = time.perf_counter()
        last_saved, last_report = start, start

        def checkpoint_now():
            nonlocal last_saved
            if self.checkpoint is None:
                return
            save_checkpoint(
                self.checkpoint,
                trees={"trainable": trainable, "rest": self.rest, "adam": opt_state, "lbfgs": lbfgs_state},
                values={
                    "step": step, "lbfgs_step": lbfgs_done, "extra": extra, "weights": weights,
                    "history": {k: np.asarray([PHASES.index(p) for p in v] if k == "phase" else v) for k, v in history.items()},
                    "wall_s": wall_before + time.perf_counter() - start,
                    "settings": _json(self.settings),
                    "adam_cut": adam_cut,
                    "ended": stopped,
                    "refreshes": refreshes,
                    "point_growth": growth,
                },
            )
            self.saved_step = step + lbfgs_done
            last_saved = time.perf_counter()
            log.debug("checkpoint at step %d written to %s", step + lbfgs_done, self.checkpoint)

        def after_chunk(done: int, terms, phase: str):
            """Checkpoints, progress lines and signals, at the end of every chunk."""
            nonlocal last_report
            now = time.perf_counter()
            # The first chunk is saved at once (after compilation, the costly part of a short
            # run), then every checkpoint_seconds.
            due = (cfg.checkpoint_every and done % cfg.checkpoint_every == 0) or (
                cfg.checkpoint_seconds and (self.saved_step is None or now - last_saved >= cfg.checkpoint_seconds))
            if due or self._stop.received:
                checkpoint_now()
            if not cfg.progress and cfg.progress_seconds and now - last_report >= cfg.progress_seconds:
                last_report = now
                log.info("step %d/%d (%s) loss %.3e [%.0f s]", done, total, phase,
                         float(np.asarray(history["loss"][-1])), wall_before + now - start)
            if self._stop.received:
                where = (f"checkpoint at step {done} written to {self.checkpoint}; rerun with --resume to continue"
                         if self.checkpoint else "nothing was saved (no output folder)")
                raise TrainingInterrupted(f"training interrupted by {self._stop.received} at step {done}; {where}",
                                          self.checkpoint, done)

        def diverged(values, terms, first_step, phase):
            if not np.all(np.isfinite(np.asarray(values))):  # the notes cost a sync: only on failure
                _check_finite(values, terms, first_step, phase, self._checkpoint_note(),
                              self._parameter_note(trainable))

        resample = max(cfg.resample_every, 0)
        batch_index = lambda s: (s // resample) if resample else 0  # noqa: E731
        batch = None
        adam_steps = adam_cut if adam_cut >= 0 else cfg.steps
        while step < adam_steps:
            elapsed = wall_before + time.perf_counter() - start
            if cfg.time_budget and cfg.lbfgs_steps and elapsed >= ADAM_SHARE * cfg.time_budget and step > 0:
                # Leave the quasi-Newton phase its share of the budget on a slow machine.
                adam_cut = adam_steps = step
                log.info("Adam stopped at step %d of %d: %.0f%% of the time budget spent", step, cfg.steps,
                         100 * ADAM_SHARE)
                checkpoint_now()
                break
            # Scheduled work happens at the start of a chunk, after any checkpoint of the
            # previous one, so a resumed run performs exactly what an uninterrupted one does.
            if step > 0 and cfg.rar_every and step % cfg.rar_every == 0:
                extra = self._refine(trainable, step, extra)
                batch = None
            if step > 0 and resample and step % resample == 0:
                batch = None
            if batch is None:
                batch = self._batch(batch_index(step), extra)
            if step in callback_steps:
                trainable = self._call_back(trainable, step, self.compiled.interior_points(batch))
                opt_state = optax.tree_utils.tree_set(adam.init(trainable), count=jnp.asarray(step, jnp.int32))
                lbfgs_state = self._lbfgs().init(trainable)
            if step > 0 and self.policy.needs_gradients:
                norms = self._grad_norms()(trainable, self.rest, batch)
                weights = self.policy.update(weights, {k: float(v) for k, v in norms.items()}, self.base_weights)
            upcoming = [s_ for s_ in callback_steps if s_ > step]
            n = min(cfg.chunk, adam_steps - step, *(s_ - step for s_ in upcoming))
            (new_trainable, new_opt_state), (losses, terms) = self._adam_chunk()(*self._replicate(trainable, opt_state, self.rest), batch, weights, n)
            diverged(losses, terms, step, "Adam")
            trainable, opt_state = new_trainable, new_opt_state
            _record(history, losses, terms, "adam")
            step += n
            bar.update(n)
            bar.set_postfix(_postfix(terms), refresh=False)
            if step == adam_steps and cfg.lbfgs_steps and lbfgs_done == 0:
                checkpoint_now()  # the phase changes: save the end of Adam
            after_chunk(step, terms, "Adam")

        if cfg.lbfgs_steps and lbfgs_done < cfg.lbfgs_steps and not stopped:
            qn_batch = lambda k: self._batch(batch_index(max(adam_steps - 1, 0)) + k, extra, growth)  # noqa: E731
            batch = qn_batch(refreshes)
            lbfgs_fn = self._lbfgs_chunk()
            # A quasi-Newton method on a fixed batch can fit the collocation points rather than
            # the solution; its progress is judged on held-out points, and it ends on the best
            # of them. When it stalls with time left, it goes on from those parameters on fresh
            # points (keeping a dense curvature estimate), for as long as a round improves.
            held_out = self._batch(HELD_OUT_INDEX, extra[:0]) if cfg.stall_window else None
            held_out_loss = lambda tr: float(self._held_out_loss()(tr, self.rest, held_out, weights))  # noqa: E731
            validation = [held_out_loss(trainable)] if held_out is not None else []
            best = (validation[0], trainable) if validation else None
            round_start = best[0] if best else None
            seconds_per_iteration, first_chunk = 0.0, True
            batch_loss = float("inf")  # the training loss after the last chunk, on its batch
            while lbfgs_done < cfg.lbfgs_steps:
                stopped = _early_stop(cfg, validation, wall_before + time.perf_counter() - start)
                # A held-out loss well above the batch's says the points were fitted rather than
                # the equations: the next round draws more of them (measured on the L-shaped
                # Poisson and the lid-driven cavity, which stalled this way with time to spare).
                overfitted = (stopped.startswith("stalled") and growth < MAX_POINT_GROWTH
                              and validation[-1] > OVERFIT_RATIO * batch_loss)
                if stopped.startswith("stalled") and refreshes < MAX_REFRESHES and (
                        refreshes == 0 or overfitted or best[0] < round_start * (1.0 - cfg.stall_tolerance)):
                    refreshes += 1
                    if overfitted:
                        growth *= 2
                    log.info("quasi-Newton %s at step %d; fresh points (%d, %dx as many) from the best parameters",
                             stopped, lbfgs_done, refreshes, growth)
                    trainable, round_start = best[1], best[0]
                    if cfg.rar_every:  # refinement goes on between rounds, where the residual is now
                        extra = self._refine(trainable, adam_steps + lbfgs_done, extra)
                    batch = qn_batch(refreshes)
                    lbfgs_state = for_new_batch(cfg.quasi_newton, lbfgs_state, trainable, cfg.lbfgs_memory)
                    validation = [best[0]]
                    continue
                if stopped:
                    if refreshes:
                        stopped += (f" (after {refreshes} round{'s' if refreshes > 1 else ''} on fresh points"
                                    + (f", the last on {growth}x as many" if growth > 1 else "") + ")")
                    log.info("L-BFGS stopped at step %d of %d: %s", lbfgs_done, cfg.lbfgs_steps, stopped)
                    break
                n = min(cfg.chunk, cfg.lbfgs_steps - lbfgs_done)
                if cfg.time_budget and seconds_per_iteration:
                    # End near the budget, not a whole chunk past it: short chunks (one more
                    # compiled length) once a full one would overrun.
                    left = cfg.time_budget - (wall_before + time.perf_counter() - start)
                    if left < n * seconds_per_iteration:
                        n = min(n, TAIL_CHUNK)
                chunk_start = time.perf_counter()
                (new_trainable, new_state), (values, terms) = lbfgs_fn(*self._replicate(trainable, lbfgs_state, self.rest), batch, weights, n)
                diverged(values, terms, adam_steps + lbfgs_done, "L-BFGS")
                trainable, lbfgs_state = new_trainable, new_state
                _record(history, values, {k: jnp.full((n,), v) for k, v in terms.items()}, "lbfgs")
                lbfgs_done += n
                batch_loss = float(values[-1])
                if n == cfg.chunk and not first_chunk:  # (the first one's time includes compilation)
                    seconds_per_iteration = (time.perf_counter() - chunk_start) / n
                first_chunk = False
                if held_out is not None:
                    validation.extend([held_out_loss(trainable)] * n)
                    if validation[-1] < best[0]:
                        best = (validation[-1], trainable)
                bar.update(n)
                bar.set_postfix(_postfix(terms), refresh=False)
                after_chunk(adam_steps + lbfgs_done, terms, "L-BFGS")
            kept = ""
            if best is not None and best[0] < validation[-1]:
                trainable = best[1]
                kept = f"; parameters of the lowest held-out loss ({best[0]:.3e}) kept"
                self.saved_step = None  # the kept parameters are not the last ones saved
            if stopped:
                stopped += kept  # recorded in the checkpoint: a resumed run stays ended
        bar.close()
        if self.saved_step != step + lbfgs_done:
            checkpoint_now()
        reason = stopped or "steps"
        if adam_cut >= 0:
            reason = f"Adam cut at step {adam_cut} by the time budget; L-BFGS: {reason}"
        wall = wall_before + time.perf_counter() - start
        if batch is None:  # nothing left to train (no steps, or a finished run resumed)
            batch = self._batch(batch_index(max(step - 1, 0)), extra)
        model = nnx.merge(self.graphdef, trainable["model"], self.rest)
        return TrainOutcome(
            model=model,
            raw_parameters=trainable["parameters"],
            history={k: np.asarray(v) for k, v in history.items()},
            weights=weights,
            wall_s=wall,
            steps=step,
            lbfgs_steps=lbfgs_done,
            collocation=np.asarray(self.compiled.interior_points(batch)),
            new_steps=step + lbfgs_done - first,
            stopped=reason,
        )

    def _checkpoint_note(self) -> str:
        if self.checkpoint is not None and self.saved_step is not None and self.checkpoint.exists():
            return (f"the last checkpoint is {self.checkpoint} (step {self.saved_step}); resume from it "
                    "with --resume and a lower --lr")
        return "no checkpoint was written" + ("" if self.checkpoint else " (no output folder)")

    def _parameter_note(self, trainable) -> str:
        values = {k: v for k, v in self.compiled.physical_parameters(trainable["parameters"]).items()
                  if k not in getattr(self.compiled, "unknown_networks", {})}  # scalars only, not networks
        if not values:
            return ""
        shown = ", ".join(f"{k}={float(np.asarray(v)):.6g}" for k, v in sorted(values.items()))
        return f"parameters before the failing chunk: {shown}"


def _config_callbacks(config: TrainConfig) -> tuple[ModelCallback, ...]:
    """The model callbacks the configuration asks for, from the models package that owns them."""
    if not config.grid_schedule:
        return ()
    from sciml.models import GridExtension

    return (GridExtension(config.grid_schedule),)


def _causal(compiled, config: TrainConfig):
    """The causal residual reduction the configuration asks for (None: the plain mean)."""
    if not config.causal_epsilon:
        return None
    time = compiled.problem.space_time.time
    if time is None:
        raise ValueError("causal_epsilon weighs residuals along time, but this problem has no TimeInterval")
    from sciml.losses.causal import causal_reduction

    axis = compiled.problem.coordinates.index(time.coordinates[0])
    return causal_reduction(axis, float(time.a), float(time.b), config.causal_bins, config.causal_epsilon)


def _early_stop(cfg: TrainConfig, held_out: list[float], elapsed: float) -> str:
    """Why L-BFGS should stop now ('' to go on): the time budget is spent, or the held-out loss
    (one value per iteration, the first before L-BFGS) stalled."""
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
    import json

    from sciml.provenance import json_default

    return json.dumps(settings, sort_keys=True, default=json_default)


def _check_same_run(settings: dict, saved: str | None, path: Path, step: int, lbfgs_done: int,
                    adam_cut: bool = False) -> None:
    """Refuse to resume a checkpoint of another run; note the settings that changed."""
    import json

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


def _record(history, losses, terms, phase):
    history["loss"].extend(np.asarray(losses).tolist())
    history["phase"].extend([phase] * int(np.asarray(losses).shape[0]))
    for k, v in terms.items():
        history[k].extend(np.asarray(v).tolist())


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
