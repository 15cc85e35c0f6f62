"""The physics-informed trainer: a compiled problem's loss and collocation batches on the engine.

The trainer turns a compiled problem into what :func:`sciml.training.engine.fit` trains: the
weighted loss of its named terms over the surrogate's and the learned physical parameters,
and the collocation batches (:class:`~sciml.training.engine.Batches`). Every batch is drawn
from a generator seeded by ``(seed, index)``, so a resumed run sees exactly the batches an
uninterrupted one would and reproduces it bit for bit on CPU. Points are resampled and refined
(RAR) by engine callbacks at their exact steps, term weights rebalanced at the start of a chunk;
model callbacks (:mod:`sciml.training.callbacks`, e.g. a KAN's grid extension, owned by the models
package: the trainer knows no model class) change the surrogate. Optimisation, the NaN/Inf
policy, checkpoints, signals, progress and the time budget are the engine's.

The quasi-Newton phase's batches come from here too: on a stall the engine asks for fresh
points (refined where the residual now is, when RAR is on), twice as many after a round that
fitted the points rather than the equations.

The collocation batch is placed with a ``NamedSharding`` over a one-axis device mesh
(``"batch"``): on several devices XLA splits the residual evaluation across them and reduces
the loss, with parameters replicated — the standard data-parallel layout of ``jax.sharding``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from pathlib import Path

import math

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx

from sciml.dsl.compile import INTERIOR
from sciml.dsl.terms import DEFAULT_COUNTS
from sciml.losses.weighting import global_norm, make_policy
from sciml.models.registry import model_penalty
from sciml.training.callbacks import ModelCallback
from sciml.training.checkpoint import restore_tree
from sciml.training.config import TrainConfig
from sciml.training.engine import Batches, Progress, batch_sharding, fit
from sciml.training.memory import check_batch_memory, check_dense_hessian_memory

HELD_OUT_INDEX = 2**31 - 1  # batch index of the held-out points that judge L-BFGS's progress
BALANCE_INDEX = 2**31 - 2  # batch index of the fresh points that measure the equations' balance
BALANCE_POINTS = 2048
MAX_RAISES = 3  # times the residual weights may be raised in one run
MAX_RAISE = 1e3  # the most one raise multiplies them by
# Time marching keeps a span whose equations are balanced within this share of their largest
# term (the verdict's bound: a span it would doubt is not built on; a tenth of it rejected spans
# of Lotka-Volterra at 1.5e-3-2.9e-3 that halving did not improve, until the budget was spent),
# and halves a rejected span's step at most this often.
MARCH_BALANCE = 1e-2
MARCH_HALVINGS = 3
# Between stalls a span balanced within a tenth of that is kept at once: waiting for the stall
# polishes a span the next ones are fitted together with anyway.
MARCH_EARLY = 1e-3
AIM = 3.0  # a raise aims the balance this far inside the target, so that other fresh points pass too


def _raise_factor(miss: float, target: float) -> float:
    """What a weight is multiplied by when its term misses ``target`` by ``miss`` (the loss is
    quadratic in the miss), at most :data:`MAX_RAISE`; two significant digits, as recorded."""
    return float(f"{min(MAX_RAISE, (AIM * miss / target) ** 2):.2g}")


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
    raises: tuple[str, ...] = ()  # why the residual weights were raised (Trainer.constrain), each time
    condition_raises: tuple[str, ...] = ()  # why condition weights were raised (Trainer.constrain), each time
    marching: dict | None = None  # time marching: the share of the interval reached, the spans rejected


class Trainer(Batches):
    """Train ``model`` on ``compiled`` (a :class:`~sciml.dsl.compile.CompiledProblem`)."""

    def __init__(self, compiled, model: nnx.Module, config: TrainConfig, checkpoint: str | Path | None = None,
                 settings: dict | None = None, callbacks: Sequence[ModelCallback] = (),
                 optimizer: optax.GradientTransformation | None = None):
        """
        Args:
            compiled: the compiled problem.
            model: the surrogate (a flax nnx module).
            config: training settings.
            checkpoint: where to save the run (and resume it from); None keeps nothing on disk.
            settings: a JSON-able record of what the run is (problem, model, options, seed);
                saved with every checkpoint and compared on resume.
            callbacks: changes of the surrogate at scheduled steps, after those the
                configuration asks for (``grid_schedule``); a resumed run needs the same ones.
            optimizer: the first-order phase (an optax ``GradientTransformation``); default
                Adam from ``config.learning_rate`` to ``config.final_learning_rate``.
        """
        self.compiled = compiled
        self.config = config
        self.callbacks = (*_config_callbacks(config), *callbacks)
        self.checkpoint = Path(checkpoint) if checkpoint else None
        self.settings = settings or {}
        self.optimizer = optimizer
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
        self.raises: list[str] = []  # why constrain() raised the residual weights, each time
        self.condition_raises: list[str] = []  # why constrain() raised condition weights, each time
        self.reduce_residual = _causal(compiled, config)
        self.time_span = _time_span(compiled, config)  # (time axis, t0, t1) when time marching
        self._start_marching()
        self.mesh, self.points_sharding, self.replicated = batch_sharding(config.devices)
        self._n_devices = self.mesh.devices.size
        self._jitted: dict = {}

    @classmethod
    def continuing(cls, compiled, model: nnx.Module, train_config: Mapping, raw_parameters: Mapping | None = None,
                   **changes) -> "Trainer":
        """A trainer that goes on from a finished run: its saved settings (``train_config``, as
        :meth:`TrainConfig.to_dict` wrote them) with ``changes``, and its learned parameters
        (``raw_parameters``) wherever ``compiled`` has a parameter of the same name."""
        known = {f.name for f in fields(TrainConfig)}
        options = {k: v for k, v in {**train_config, **changes}.items() if k in known}
        trainer = cls(compiled, model, TrainConfig.from_options(options))
        current = trainer.trainable["parameters"]
        trainer.trainable["parameters"] = {**current, **{k: v for k, v in (raw_parameters or {}).items()
                                                         if k in current}}
        return trainer

    # ------------------------------------------------------------------ the loss
    def loss(self, trainable, batch):
        """The weighted sum of the problem's terms, and the terms, on ``batch``."""
        model = nnx.merge(self.graphdef, trainable["model"], self.rest)
        terms = self.compiled.loss_terms(model, trainable["parameters"], batch["points"], self.reduce_residual)
        # A model's own regulariser (e.g. a hybrid network's gate entropy) is not a physics
        # term: it is added unweighted and kept out of the weighted terms.
        total = sum(batch["weights"][k] * v for k, v in terms.items()) + model_penalty(model)
        return total, terms

    def _jit(self, name, make):
        if name not in self._jitted:
            self._jitted[name] = jax.jit(make())
        return self._jitted[name]

    def _grad_norms(self, trainable, points):
        def make():
            names = self.compiled.term_names

            def norms(trainable, points):
                return {name: global_norm(jax.grad(lambda tr: self.loss(
                    tr, {"points": points, "weights": {n: float(n == name) for n in names}})[0])(trainable))
                    for name in names}
            return norms

        return self._jit("norms", make)(trainable, points)

    def _residual_magnitude(self, trainable, z):
        def make():
            def magnitude(trainable, z):
                model = nnx.merge(self.graphdef, trainable["model"], self.rest)
                params = self.compiled.physical_parameters(trainable["parameters"])
                field_fn = self.compiled.field_function(model, params)
                return jnp.sum(self.compiled.residual_values(field_fn, params, z) ** 2, axis=1)
            return magnitude

        return self._jit("rar", make)(trainable, z)

    # ------------------------------------------------------------------ the batches (engine.Batches)
    def _batch_index(self, step: int) -> int:
        resample = max(self.config.resample_every, 0)
        return step // resample if resample else 0

    def _sample(self, index: int, extra: np.ndarray, growth: int = 1) -> dict:
        rng = np.random.default_rng([self.config.seed, index])
        counts = self.config.points
        if growth != 1:
            counts = {k: int(v) * growth for k, v in {**DEFAULT_COUNTS, **counts}.items()}
        # Each process draws the rows of its own devices' shards (all of them in one process).
        needed = self._local_rows if jax.process_count() > 1 else None
        batch = self.compiled.sample(rng, counts, self.config.sampling, dtype=self.dtype, needed=needed)
        # Refined points were found inside the span of their time: they join as they are.
        batch[INTERIOR]["z"] = np.concatenate([self._within_span(batch[INTERIOR]["z"]), extra.astype(self.dtype)])
        return self._place(batch)

    def _within_span(self, z: np.ndarray) -> np.ndarray:
        """Points drawn over the whole interval, moved into the time span reached so far by time
        marching (``config.time_marching``): ``t -> t0 + (t - t0) * span``."""
        if self.time_span is None or self.span >= 1.0:
            return z
        axis, t0, _ = self.time_span
        z = np.array(z)
        z[:, axis] = t0 + (z[:, axis] - t0) * self.span
        return z

    def advance(self, params) -> str:
        """Between stalls: the next time-marching span as soon as the one fitted so far is
        balanced within :data:`MARCH_EARLY` of its largest term (see :meth:`_march`)."""
        if self.time_span is None or self.marched or self.span >= 1.0:
            return ""
        ratio = self._span_balance(params)
        return self._march(params, ratio) if ratio <= MARCH_EARLY else ""

    def _span_balance(self, params) -> float:
        """:meth:`_balance` on the span sampled now (its own fresh points for every span tried)."""
        return self._balance(params, self.rejected, int(self.span * 2**20))

    def _march(self, params, ratio: float | None = None) -> str:
        """Time marching on a stall: accept the span just fitted and grow it, or reject it.

        A span is accepted when its equations are balanced on fresh points within
        :data:`MARCH_BALANCE` of their largest term (the verdict's bound), or when
        its step can be halved no more (:data:`MARCH_HALVINGS`); a rejected span goes back to the
        parameters of the last one accepted with half the step — a fast transient the time scale
        chosen beforehand did not foresee (a relaxation oscillation's jump). After an acceptance
        the step doubles again, up to ``1 / time_marching`` of the interval. Returns why the
        loss changed ('' once the whole interval is accepted).
        """
        if self.deferred:
            return self._march_if_unbalanced(params)
        if self.time_span is None or self.marched:
            return ""
        if ratio is None:
            ratio = self._span_balance(params)
        axis, t0, t1 = self.time_span
        at = lambda span: f"{self.compiled.coordinate_names[axis]} = {t0 + (t1 - t0) * span:.4g}"  # noqa: E731
        smallest = 1.0 / (self.config.time_marching * 2**MARCH_HALVINGS)
        if ratio > MARCH_BALANCE and self.accepted is not None and self.step_fraction > smallest * 1.5:
            tried = self.span
            self.span -= self.step_fraction
            self.step_fraction /= 2
            self.restart_from = self.accepted
            note = (f"time marching: up to {at(tried)} the equations were left unbalanced by {ratio:.2e} of their "
                    f"largest term; back to the fit up to {at(self.span)}, on to {at(self.span + self.step_fraction)}")
            self.span += self.step_fraction
            self.rejected += 1
            return note
        self.accepted, self.restart_from = params, None
        if self.span >= 1.0:
            self.marched = True
            return ""
        self.step_fraction = min(2 * self.step_fraction, 1.0 / self.config.time_marching)
        self.span = min(1.0, self.span + self.step_fraction)
        return f"time marching: the collocation points now reach {at(self.span)}"

    def _march_if_unbalanced(self, params) -> str:
        """At the first stall of a run that marches only when needed (``config.march_when_unbalanced``):
        begin time marching from the parameters reached when the equations are left unbalanced
        over the whole interval by more than :data:`MARCH_BALANCE`; else never march."""
        self.deferred = False
        ratio = self.balance_at_first_stall = self._balance(params)
        if not ratio > MARCH_BALANCE:
            return ""
        self.span = self.step_fraction = 1.0 / self.config.time_marching
        self.marched = False
        axis, t0, t1 = self.time_span
        return (f"time marching: over the whole interval at once the equations were left unbalanced by {ratio:.2e} "
                f"of their largest term; the collocation points start again from {t0:.4g}, up to "
                f"{self.compiled.coordinate_names[axis]} = {t0 + (t1 - t0) * self.span:.4g}")

    def _balance(self, params, *key: int) -> float:
        """The largest share of its largest term an equation leaves unbalanced (the verdict's
        measure) on fresh points of the time span sampled, away from singular points, drawn
        from ``(seed, BALANCE_INDEX, *key)``; equations without a scale of their own left out."""
        from sciml.verdict import away_from_singular_points, equation_balance

        model = nnx.merge(self.graphdef, params["model"], self.rest)
        rng = np.random.default_rng([self.config.seed, BALANCE_INDEX, *key])
        points = self._within_span(self.compiled.problem.space_time.sample(BALANCE_POINTS, rng, "uniform"))
        points = away_from_singular_points(self.compiled, points.astype(self.dtype), keep_all_if_none=True)
        (balance,) = equation_balance(self.compiled, model, params["parameters"], points)
        return max((b["ratio"] for b in balance if math.isfinite(b["ratio"])), default=0.0)

    def restart(self, params):
        """The parameters a changed loss starts from: after a rejected time-marching span, those
        of the last span accepted; else ``params`` (the best so far)."""
        return params if self.restart_from is None else self.restart_from

    def _local_rows(self, n: int) -> list[tuple[int, int]]:
        """The rows of an ``n``-row set of points that this process's devices hold."""
        if n % self._n_devices:
            return [(0, n)]  # replicated
        shards = self.points_sharding.addressable_devices_indices_map((n,)).values()
        return [(index[0].start or 0, n if index[0].stop is None else index[0].stop) for index in shards]

    def _place(self, batch: dict) -> dict:
        def put(a):
            sharding = self.points_sharding if a.ndim and a.shape[0] % self._n_devices == 0 else self.replicated
            if jax.process_count() == 1:
                return jax.device_put(a, sharding)
            # Across processes each one hands over only its own devices' rows.
            return jax.make_array_from_callback(a.shape, sharding, lambda index: a[index])

        return jax.tree.map(put, batch)

    def _start_marching(self) -> None:
        marching = self.time_span is not None
        self.deferred = marching and self.config.march_when_unbalanced  # waiting for an unbalanced stall
        self.span = 1.0 / self.config.time_marching if marching and not self.deferred else 1.0  # the share sampled
        self.step_fraction = self.span  # its last growth
        self.marched = not marching or self.deferred  # the whole interval accepted
        self.accepted = None  # parameters of the last span accepted
        self.restart_from = None  # parameters a rejected span restarts from
        self.rejected = 0
        self.balance_at_first_stall = math.nan  # what deferred marching was decided on (nan: not yet)

    def _refine(self, trainable, step: int) -> None:
        cfg = self.config
        rng = np.random.default_rng([cfg.seed, 10_000_000 + step])
        candidates = self._within_span(self.compiled.problem.space_time.sample(cfg.rar_candidates, rng, "uniform")
                                       ).astype(self.dtype)
        magnitude = np.asarray(self._residual_magnitude(trainable, jnp.asarray(candidates)))
        worst = candidates[np.argsort(magnitude)[-cfg.rar_add :]]
        self.extra = np.concatenate([self.extra, worst]) if len(self.extra) else worst

    def points(self, step: int) -> dict:
        """The collocation points of the chunk starting at ``step`` (drawn afresh after a
        refinement or a resampling callback)."""
        if self._points is None:
            self._points = self._sample(self._batch_index(step), self.extra)
        return self._points

    def __call__(self, step: int, trainable) -> dict:
        points = self.points(step)
        if step > 0 and self.policy.needs_gradients:
            norms = self._grad_norms(trainable, points)
            self.weights = self.policy.update(self.weights, {k: float(v) for k, v in norms.items()}, self.base_weights)
        return {"points": points, "weights": self.weights}

    def quasi_newton(self, round: int, growth: int, trainable, step: int, iteration: int) -> dict:
        if round and self.config.rar_every:  # refinement goes on between rounds, where the residual is now
            self._refine(trainable, step + iteration)
        self._points = self._sample(self._batch_index(max(step - 1, 0)) + round, self.extra, growth)
        return {"points": self._points, "weights": self.weights}

    def held_out(self) -> dict:
        return {"points": self._sample(HELD_OUT_INDEX, self.extra[:0]), "weights": self.weights}

    def constrain(self, params) -> str:
        """On a stall of the quasi-Newton phase: the next stage of time marching while one is
        left (``config.time_marching``), else raise the weights of the terms the verdict would
        find missed: the residuals' when data pull the fields off their equations, else the
        soft conditions'.

        With noisy data and weights of one, a network can buy a smaller data misfit with an
        unbalanced equation (a logistic growth fitted through 3% noise left 23% of its
        equation's balance open, and the same problem in cells/mL more, since the trade depends
        on the units). When the quasi-Newton phase stalls with the equations left unbalanced by
        more than ``config.residual_target`` of their largest term (the verdict's measure, on
        fresh points away from singular points), the residual weights are multiplied by ``(AIM ratio / target)^2`` (at most
        :data:`MAX_RAISE`; the penalty method's continuation, the data then fitted within the
        equations) and the phase goes on. Not with user-given residual weights, another
        weighting policy, or no data; at most :data:`MAX_RAISES` times.

        Conditions kept as loss terms trade against the equations the same way, in units: a
        clamped beam in SI units (``EI w_xxxx = q``, ``EI = 2e4``, deflections of a millimetre)
        balanced its equation to 4e-5 and missed its slope condition by 1.6 times the slope's
        size, a residual of 1e3 outweighing a slope of 1e-3. A condition whose miss on fresh
        points exceeds ``config.condition_target`` of what it prescribes (the verdict's measure)
        has its weight raised by the same rule, each condition by its own miss; at most
        :data:`MAX_RAISES` times, never for a condition the user gave a weight.
        """
        marched = self._march(params)
        if marched:
            return marched
        # A stall at once after a raise (no step changed the loss) hands back the same
        # parameters, and the same miss raises the same weight again: the raise was too small
        # to register at the loss's precision. That second raise is what the SI beam needs
        # (slope weight x1000, x160, x160: 1.6e-5, trusted); refused, the run ended at 7.5e-3,
        # doubtful. MAX_RAISES bounds the repeats.
        return self._raise_residuals(params) or self._raise_conditions(params)

    def _raise_residuals(self, params) -> str:
        cfg = self.config
        residuals = [t.name for t in self.compiled.terms if t.kind == "residual"]
        if (not cfg.residual_target or len(self.raises) >= MAX_RAISES or cfg.weighting != "fixed" or not residuals
                or any(n in cfg.weights for n in residuals)
                or not any(t.kind == "data" for t in self.compiled.terms)):
            return ""
        ratio = self._balance(params)  # marching is over: the whole interval
        if not ratio > cfg.residual_target:
            return ""
        factor = _raise_factor(ratio, cfg.residual_target)
        self.weights = {n: w * factor if n in residuals else w for n, w in self.weights.items()}
        self.raises.append(f"the equations were left unbalanced by {ratio:.2e} of their largest term on fresh "
                           f"points (more than {cfg.residual_target:g}) while data compete: residual weights "
                           f"x{factor:g}")
        return self.raises[-1]

    def _raise_conditions(self, params) -> str:
        from sciml.verdict import fresh_misses

        cfg = self.config
        conditions = [t.name for t in self.compiled.terms if t.kind == "condition" and t.name not in cfg.weights]
        if (not cfg.condition_target or len(self.condition_raises) >= MAX_RAISES or cfg.weighting != "fixed"
                or not conditions):
            return ""
        model = nnx.merge(self.graphdef, params["model"], self.rest)
        rng = np.random.default_rng([cfg.seed, BALANCE_INDEX, 1])
        batch = self.compiled.sample(rng, {**cfg.points, "interior": BALANCE_POINTS}, "uniform", dtype=self.dtype)
        misses, _ = fresh_misses(self.compiled, model, params["parameters"], batch,
                                 self.compiled.interior_points(batch))
        missed = {n: misses[n] for n in conditions if misses.get(n, 0.0) > cfg.condition_target}
        if not missed:
            return ""
        factors = {n: _raise_factor(miss, cfg.condition_target) for n, miss in missed.items()}
        self.weights = {n: w * factors.get(n, 1.0) for n, w in self.weights.items()}
        self.condition_raises.append(
            f"conditions missed on fresh points by more than {cfg.condition_target:g} of what they prescribe: "
            + ", ".join(f"{n} {missed[n]:.2e} (weight x{factors[n]:g})" for n in missed))
        return self.condition_raises[-1]

    def state(self) -> tuple[dict, dict]:
        trees = {"rest": self.rest, **({"accepted": self.accepted} if self.accepted is not None else {})}
        return trees, {"extra": self.extra, "weights": self.weights, "raises": list(self.raises),
                       "condition_raises": list(self.condition_raises),
                       "marching": [self.span, self.step_fraction, self.marched, self.rejected, self.deferred,
                                    self.balance_at_first_stall]}

    def restore(self, trees: dict, values: dict) -> None:
        self.rest = restore_tree(self.rest, trees["rest"], "model state")
        self.extra = np.asarray(values["extra"], self.dtype).reshape(-1, self.extra.shape[1])
        self.weights = {k: float(v) for k, v in values["weights"].items()}
        self.raises = [str(r) for r in values.get("raises", [])]
        self.condition_raises = [str(r) for r in values.get("condition_raises", [])]
        if "marching" in values:
            span, step_fraction, marched, rejected, *deferral = values["marching"]
            self.span, self.step_fraction = float(span), float(step_fraction)
            self.marched, self.rejected = bool(marched), int(rejected)
            if deferral:
                self.deferred, self.balance_at_first_stall = bool(deferral[0]), float(deferral[1])
        if "accepted" in trees:
            self.accepted = restore_tree(self.trainable, trees["accepted"], "time marching's accepted parameters")
        self._points = None

    # ------------------------------------------------------------------ training
    def run(self, resume: bool = False) -> TrainOutcome:
        """Train, or with ``resume`` continue from the checkpoint (which must then exist).

        SIGINT and SIGTERM stop training at the end of the current chunk, after a checkpoint
        (when there is a checkpoint path), with
        :class:`~sciml.training.engine.TrainingInterrupted`; a second signal stops at once.
        """
        cfg = self.config
        if cfg.precision == "float64" and not jax.config.jax_enable_x64:
            raise ValueError("precision='float64' needs jax_enable_x64 set before the model is built; use sciml.solve")
        self.extra = np.zeros((0, len(self.compiled.coordinate_names)), self.dtype)
        self._start_marching()
        self._points = None
        self._jitted.clear()
        # Point callbacks first: a model callback then sees the points of its step.
        callbacks = [*_point_callbacks(self), *(_ModelStep(self, c) for c in self.callbacks)]
        outcome = fit(self.loss, self.trainable, cfg, batches=self, optimizer=self.optimizer,
                      callbacks=callbacks, checkpoint=self.checkpoint,
                      settings=self.settings, resume=resume, describe=self._parameter_note)
        history = {"loss": [], "phase": [], **{n: [] for n in self.compiled.term_names}, **outcome.history}
        params = self._marched_params(outcome.params)
        if outcome.batch is None:  # nothing left to train (no steps, or a finished run resumed)
            points = self._sample(self._batch_index(max(outcome.steps - 1, 0)), self.extra)
        else:
            points = outcome.batch["points"]
        return TrainOutcome(
            model=nnx.merge(self.graphdef, params["model"], self.rest),
            raw_parameters=params["parameters"],
            history={k: np.asarray(v) for k, v in history.items()},
            weights=self.weights,
            wall_s=outcome.wall_s,
            steps=outcome.steps,
            lbfgs_steps=outcome.lbfgs_steps,
            collocation=np.asarray(self.compiled.interior_points(points)),
            new_steps=outcome.new_steps,
            stopped=outcome.stopped,
            raises=tuple(self.raises),
            condition_raises=tuple(self.condition_raises),
            marching=self._marching_record(),
        )

    def _marching_record(self) -> dict | None:
        """What time marching did, for ``metrics.json["time_marching"]`` (None without it)."""
        if self.time_span is None:
            return None
        record = {"stages": self.config.time_marching, "reached": self.span, "whole_interval": self.marched,
                  "rejected": self.rejected}
        if self.config.march_when_unbalanced:
            record.update(when_unbalanced=True, started=self.balance_at_first_stall > MARCH_BALANCE)
            if math.isfinite(self.balance_at_first_stall):
                record["balance_at_first_stall"] = self.balance_at_first_stall
        return record

    def _marched_params(self, params):
        """The parameters to return when training ended before time marching reached the end of
        its interval: the last span kept unless the span tried since is balanced too. A span
        left unbalanced when the budget ran out is often a wrong trajectory over the whole
        span, the part already kept included (the optimiser flattens the fit it started from
        to lower the new part's large residuals); ``self.span`` then says what was kept."""
        if self.time_span is None or self.marched:
            return params
        if self._span_balance(params) <= MARCH_BALANCE:
            return params
        self.span -= self.step_fraction  # the end of the last span kept (0 if none was)
        return params if self.accepted is None else self.accepted

    def _parameter_note(self, trainable) -> str:
        values = {k: v for k, v in self.compiled.physical_parameters(trainable["parameters"]).items()
                  if k not in getattr(self.compiled, "unknown_networks", {})}  # scalars only, not networks
        if not values:
            return ""
        shown = ", ".join(f"{k}={float(np.asarray(v)):.6g}" for k, v in sorted(values.items()))
        return f"parameters before the failing chunk: {shown}"


class _ModelStep:
    """A :class:`ModelCallback` on the surrogate as an engine callback on the trained pytree."""

    def __init__(self, trainer: Trainer, callback: ModelCallback):
        self.trainer, self.callback, self.steps = trainer, callback, tuple(callback.steps)

    def __call__(self, progress: Progress):
        tr, trainable = self.trainer, progress.params
        model = nnx.merge(tr.graphdef, trainable["model"], tr.rest)
        points = tr.compiled.interior_points(tr.points(progress.step))
        model = self.callback(model, progress.step, tr.compiled.scale(jnp.asarray(points)))
        tr.graphdef, params, tr.rest = nnx.split(model, nnx.Param, ...)
        tr._jitted.clear()
        return {"model": params, "parameters": trainable["parameters"]}


class _Resampling:
    """Fresh collocation points at each of its steps (an engine callback): the draw of step
    ``s`` comes from a generator seeded by ``(seed, s // every)``."""

    def __init__(self, trainer: Trainer, steps):
        self.trainer, self.steps = trainer, tuple(steps)

    def __call__(self, progress: Progress):
        self.trainer._points = None


class _Refinement(_Resampling):
    """Residual-based adaptive refinement (RAR) as an engine callback: at each of its steps the
    worst of fresh candidate points (by residual) join the collocation set for good. A resumed
    run replays nothing here: the refined points come back with the checkpoint."""

    def __call__(self, progress: Progress):
        if not progress.replay:
            self.trainer._refine(progress.params, progress.step)
            super().__call__(progress)


def _point_callbacks(trainer: Trainer) -> list:
    """The refinement and resampling the configuration asks for, at their exact steps (the
    engine ends its compiled chunks there)."""
    cfg, out = trainer.config, []
    if cfg.rar_every:
        out.append(_Refinement(trainer, range(cfg.rar_every, cfg.steps, cfg.rar_every)))
    if cfg.resample_every:
        out.append(_Resampling(trainer, range(cfg.resample_every, cfg.steps, cfg.resample_every)))
    return out


def _config_callbacks(config: TrainConfig) -> tuple[ModelCallback, ...]:
    """The model callbacks the configuration asks for, from the packages that own them."""
    callbacks = []
    if config.grid_schedule:
        from sciml.models import GridExtension

        callbacks.append(GridExtension(config.grid_schedule))
    if config.gate_schedule:
        from sciml.library.gates import GateAnnealing

        callbacks.append(GateAnnealing(config.gate_schedule))
    return tuple(callbacks)


def _time_axis(compiled, needs: str) -> tuple[int, float, float]:
    """``(time axis, t0, t1)`` of the problem; ``needs`` says which option asked, for the error."""
    time = compiled.problem.space_time.time
    if time is None:
        raise ValueError(f"{needs}, but this problem has no TimeInterval")
    return compiled.problem.coordinates.index(time.coordinates[0]), float(time.a), float(time.b)


def _time_span(compiled, config: TrainConfig) -> tuple[int, float, float] | None:
    """``(time axis, t0, t1)`` of a problem trained by time marching (None without it)."""
    if config.time_marching <= 1:
        return None
    return _time_axis(compiled, "time_marching grows the time span of the collocation points")


def _causal(compiled, config: TrainConfig):
    """The causal residual reduction the configuration asks for (None: the plain mean)."""
    if not config.causal_epsilon:
        return None
    axis, t0, t1 = _time_axis(compiled, "causal_epsilon weighs residuals along time")
    from sciml.losses.causal import causal_reduction

    return causal_reduction(axis, t0, t1, config.causal_bins, config.causal_epsilon)
