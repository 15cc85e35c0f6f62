"""Training configuration: everything the trainer needs that is not physics."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from sciml.training.quasi_newton import METHODS as QUASI_NEWTON

SCHEDULES = ("exponential", "cosine")
# Each stage takes a few hundred quasi-Newton iterations (to a balance of 1e-3, or to a stall):
# 16 stages of a compact network about fill the recipe's 480 s budget on a 2-core CPU
# (predator-prey, 2026-12-06).
MAX_TIME_STAGES = 16


@dataclass
class TrainConfig:
    """Settings of a training run, one set of names for every problem kind (the engine,
    :func:`sciml.training.engine.fit`, reads the optimisation settings; the collocation
    settings — ``points``, ``sampling``, refinement, weighting, causality — are the PDE
    trainer's).

    Attributes:
        steps: Adam steps.
        lbfgs_steps: quasi-Newton iterations after Adam (0 to skip), on a fixed batch.
        lbfgs_memory: curvature pairs L-BFGS keeps (optax's default is 10).
        quasi_newton: the method of that phase: ``"lbfgs"`` (optax), or dense ``"bfgs"`` /
            self-scaled ``"ssbfgs"`` (:mod:`sciml.training.quasi_newton`; an ``n x n``
            inverse-Hessian estimate, for networks of up to ~10^4 parameters).
        learning_rate: initial Adam learning rate.
        final_learning_rate: Adam's learning rate decays to this value over ``steps``
            (None: constant).
        schedule: the shape of that decay, ``"exponential"`` or ``"cosine"``.
        stretch_schedule: with a ``time_budget``, run the decay on the progress
            ``max(step / steps, elapsed / budget)`` instead of the step count, so a run on a slow
            or busy machine still finishes its decay (it just takes fewer steps; the default
            optimiser only).
        clip: clip gradients to this global norm before Adam (0: off).
        ema_decay: keep an exponential moving average of the parameters with this decay
            (Polyak averaging; 0: off); trainers that evaluate the average say so.
        points: collocation points per set: ``interior``, ``boundary`` (per condition),
            ``times`` (for conserved quantities).
        sampling: ``"uniform"`` or ``"sobol"``.
        resample_every: draw fresh collocation points every this many steps (0: never).
        rar_every, rar_candidates, rar_add: residual-based adaptive refinement (Lu et al. 2021,
            DeepXDE): every ``rar_every`` steps, evaluate the residual at ``rar_candidates``
            random points and add the ``rar_add`` worst to the collocation set (0: off).
        weighting: ``"fixed"`` or ``"gradnorm"`` (see :mod:`sciml.losses.weighting`).
        weights: per-term weight overrides, by term name.
        chunk: steps per compiled chunk; losses are checked for NaN/Inf and the progress bar
            is refreshed once per chunk (every step inside is still recorded).
        checkpoint_every: steps between checkpoints (0: none by step count), when a checkpoint
            path is given.
        checkpoint_seconds: wall-clock seconds between checkpoints (0: none by time). With a
            checkpoint path a run is also saved when Adam ends, at the end, and on SIGINT/SIGTERM,
            so an interrupted or killed run loses at most this much work.
        progress_seconds: when the progress bar is off, seconds between one-line progress
            messages (``logging`` at INFO level, logger ``sciml``; 0: none).
        precision: ``"float32"`` or ``"float64"``.
        grid_schedule: for KAN surrogates, ``[[step, G], ...]``: at each step every layer's
            grid is moved to the range of its current inputs and extended to ``G`` by
            least-squares refits that preserve the learned function (Liu et al. 2024); Adam's
            moments restart on the new parameters while its step count (and so the
            learning-rate schedule) carries on. Applied by the models package's callback
            :class:`~sciml.models.kan_grid.GridExtension`.
        gate_schedule: for hybrid networks (``mlp-lib``), ``[[step, temperature], ...]``: at
            each step every library gate's softmax temperature is set, so the gates anneal
            towards a hard choice (:class:`sciml.library.gates.GateAnnealing`; as after any
            model callback, Adam's moments restart there).
        causal_epsilon: for evolution equations, weigh the residual causally in time with this
            strictness (Wang, Sankaran & Perdikaris 2022; :mod:`sciml.losses.causal`; 0: off).
        causal_bins: time bins of the causal weighting.
        time_marching: for a problem on a time interval ``[t0, t1]``, grow the time span of the
            collocation points from ``t0``, ``1 / time_marching`` of the interval at a time
            (0 or 1: the whole interval at once). Adam and the quasi-Newton phase start on the
            first span; at each stall of the quasi-Newton phase the span is kept when its
            equations are balanced on fresh points (within 1e-2 of their largest term, the verdict's bound), and
            grows; otherwise training goes back to the last span kept, with half the step (see
            ``Trainer.constrain``). An evolution fitted all at once can settle on a wrong
            trajectory that balances its equations almost everywhere (a pendulum released from
            2.5 rad, collocated over 1.5 periods, climbs towards the inverted state); grown from
            the initial state, each span starts from a fit of the one before (time marching:
            Wight & Zhao 2020, Krishnapriyan et al. 2021). The interior, refinement and held-out
            points follow the span; condition and data points do not. Needs ``lbfgs_steps`` and
            ``stall_window`` (the stalls set the pace).
        march_when_unbalanced: with ``time_marching``, first train over the whole interval at
            once and march only when the quasi-Newton phase first stalls with the equations
            unbalanced on fresh points beyond 1e-2 of their largest term (the verdict's bound),
            from the parameters reached: marching costs time, and accuracy, where an evolution
            fits at once (nonlinear Schrodinger 9.4e-4 at once, 1.16e-3 in 6 stages, 3x the time).
        time_budget: wall-clock seconds for the whole run (0: none). When L-BFGS follows, Adam
            stops once half of it is spent (so a slow machine still gets a quasi-Newton phase);
            L-BFGS stops when it is all spent.
        stall_window, stall_tolerance: L-BFGS's progress is measured on held-out points (a
            fresh batch it never trains on): it stops when the best held-out loss of the last
            ``stall_window`` iterations improved on the best before them by less than the
            relative ``stall_tolerance``, or did not improve at all over a fifth of the window,
            or three iterations in a row left its training loss as it was, and ends on the
            parameters with the lowest held-out loss (``stall_window`` 0: plain L-BFGS on its
            batch, which the third such iteration ends).
        residual_target: with data competing with the equations, the share of its largest term
            an equation may leave unbalanced on fresh points (0: no target). When the
            quasi-Newton phase stalls above it, the residual terms' weights are raised and
            training goes on (a penalty method's continuation; see ``Trainer.constrain``).
        condition_target: the miss a soft condition may leave on fresh points, relative to what
            it prescribes (0: no target); above it at a stall, its weight is raised likewise.
        seed: seeds the network initialisation and every sampled batch.
        progress: show a progress bar with the loss terms.
        devices: how many of this process's devices the collocation batch is split over, with
            the parameters replicated (0: all of them). The count changes only the order of
            floating-point sums, so a run may resume on another count.
    """

    steps: int = 5000
    lbfgs_steps: int = 0
    lbfgs_memory: int = 10
    quasi_newton: str = "lbfgs"
    learning_rate: float = 1e-3
    final_learning_rate: float | None = None
    schedule: str = "exponential"
    stretch_schedule: bool = False
    clip: float = 0.0
    ema_decay: float = 0.0
    points: dict[str, int] = field(default_factory=lambda: {"interior": 2000, "boundary": 200, "times": 32})
    sampling: str = "uniform"
    resample_every: int = 0
    rar_every: int = 0
    rar_candidates: int = 10000
    rar_add: int = 100
    weighting: str = "fixed"
    weights: dict[str, float] = field(default_factory=dict)
    chunk: int = 100
    checkpoint_every: int = 0
    checkpoint_seconds: float = 60.0
    progress_seconds: float = 30.0
    precision: str = "float32"
    grid_schedule: list = field(default_factory=list)
    gate_schedule: list = field(default_factory=list)
    causal_epsilon: float = 0.0
    causal_bins: int = 32
    time_marching: int = 0
    march_when_unbalanced: bool = False
    time_budget: float = 0.0
    stall_window: int = 0
    stall_tolerance: float = 1e-2
    residual_target: float = 0.0
    condition_target: float = 0.0
    seed: int = 0
    progress: bool = True
    devices: int = 0

    @classmethod
    def from_options(cls, options: dict[str, Any]) -> "TrainConfig":
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(options) - known)
        if unknown:
            raise ValueError(f"unknown training options {unknown}; known: {sorted(known)}")
        cfg = cls(**options)
        if cfg.precision not in ("float32", "float64"):
            raise ValueError(f"precision must be 'float32' or 'float64', got {cfg.precision!r}")
        try:
            cfg.grid_schedule = sorted((int(s), int(g)) for s, g in cfg.grid_schedule)
        except (TypeError, ValueError):
            raise ValueError(f"grid_schedule must be [[step, G], ...], got {cfg.grid_schedule!r}") from None
        try:
            cfg.gate_schedule = sorted((int(s), float(t)) for s, t in cfg.gate_schedule)
        except (TypeError, ValueError):
            raise ValueError(f"gate_schedule must be [[step, temperature], ...], got {cfg.gate_schedule!r}") from None
        for name in ("steps", "lbfgs_steps", "checkpoint_every", "resample_every", "rar_every", "rar_add",
                     "stall_window", "devices", "time_marching"):
            _check_count(name, getattr(cfg, name), minimum=0)
        for name in ("chunk", "rar_candidates", "causal_bins"):
            _check_count(name, getattr(cfg, name), minimum=1)
        if not isinstance(cfg.points, dict):
            raise ValueError(f"points must be a dict such as {{'interior': 2000, 'boundary': 200}}, got {cfg.points!r}")
        unknown_sets = sorted(set(cfg.points) - {"interior", "boundary", "times"})
        if unknown_sets:
            raise ValueError(f"unknown point sets {unknown_sets} in points; known: interior, boundary, times")
        for name, n in cfg.points.items():
            _check_count(f"points[{name!r}]", n, minimum=1)
        for name in ("learning_rate", "checkpoint_seconds", "progress_seconds", "time_budget", "stall_tolerance",
                     "causal_epsilon", "clip", "residual_target", "condition_target"):
            value = getattr(cfg, name)
            if not _is_number(value) or not math.isfinite(value) or value < 0 or (name == "learning_rate" and value == 0):
                raise ValueError(f"{name} must be a {'positive' if name == 'learning_rate' else 'non-negative'} "
                                 f"finite number, got {value!r}")
        if cfg.final_learning_rate is not None and (not _is_number(cfg.final_learning_rate)
                                                    or not cfg.final_learning_rate > 0):
            raise ValueError(f"final_learning_rate must be a positive number, got {cfg.final_learning_rate!r}")
        if cfg.schedule not in SCHEDULES:
            raise ValueError(f"schedule must be one of {', '.join(SCHEDULES)}, got {cfg.schedule!r}")
        if not _is_number(cfg.ema_decay) or not 0 <= cfg.ema_decay < 1:
            raise ValueError(f"ema_decay must be a number in [0, 1), got {cfg.ema_decay!r}")
        if cfg.quasi_newton not in QUASI_NEWTON:
            raise ValueError(f"quasi_newton must be one of {', '.join(QUASI_NEWTON)}, got {cfg.quasi_newton!r}")
        if cfg.time_marching > 1 and not (cfg.lbfgs_steps and cfg.stall_window):
            raise ValueError("time_marching grows the time span each time the quasi-Newton phase stalls: it needs "
                             "lbfgs_steps > 0 and stall_window > 0")
        if not isinstance(cfg.march_when_unbalanced, bool):
            raise ValueError(f"march_when_unbalanced must be true or false, got {cfg.march_when_unbalanced!r}")
        if cfg.time_marching > MAX_TIME_STAGES:
            raise ValueError(f"time_marching must be at most {MAX_TIME_STAGES} stages, got {cfg.time_marching}")
        if cfg.lbfgs_memory < 1:
            raise ValueError(f"lbfgs_memory must be >= 1, got {cfg.lbfgs_memory}")
        return cfg

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _check_count(name: str, value, minimum: int) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
