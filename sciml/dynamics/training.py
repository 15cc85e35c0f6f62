"""Fitting trajectory models to observed trajectories.

The loss is a weighted sum of named terms evaluated on predicted trajectories:

* ``data``: mean squared error on the observed entries (``NaN`` = not observed, so each
  trajectory may have its own irregular sampling on a shared time axis);
* ``invariant``: drift of declared invariants along the prediction,
  :math:`\\frac{1}{T}\\sum_t (I(u(t)) - I(u(t_0)))^2`;
* ``continuity`` (multiple shooting): mismatch between a segment's end state and the next
  segment's trainable start state.

Two training tricks make neural ODEs train reliably (Kidger, *On Neural Differential
Equations*, 2021, section 2.4; the diffrax neural-ODE example):

* **trajectory-length curriculum**: fit the first 10% of each trajectory, then all of it, so
  the model does not start in a poor local minimum of a long, chaotic rollout;
* **multiple shooting** (Bock & Plitt 1984): split the horizon into segments with their own
  trainable initial states, tied together by a continuity penalty.

Optimisation is the training engine's (:func:`sciml.training.engine.fit`): Adam, optionally
followed by L-BFGS (Rackauckas et al. 2020 use ADAM then BFGS for the UDE); a NaN or infinite
loss stops training with :class:`~sciml.training.engine.TrainingDiverged`.
"""

from __future__ import annotations

import dataclasses
from typing import Callable, Sequence

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx

from sciml.training.config import TrainConfig
from sciml.training.engine import fit

__all__ = ["fill_nan", "fit_trajectories", "masked_mse", "trajectory_config"]


def trajectory_config(steps: int = 1000, learning_rate: float = 3e-3, **options) -> TrainConfig:
    """The :class:`~sciml.training.config.TrainConfig` of a trajectory fit: Adam after a
    gradient clip at norm 10, its rate cosine-decayed to a tenth over each curriculum stage,
    then ``lbfgs_steps`` of L-BFGS on the full trajectories; ``options`` override any field."""
    return TrainConfig.from_options({
        "steps": int(steps), "learning_rate": learning_rate, "final_learning_rate": 0.1 * learning_rate,
        "schedule": "cosine", "clip": 10.0, "progress": False, **options})


def masked_mse(pred: jax.Array, obs: jax.Array) -> jax.Array:
    """Mean squared error over the finite entries of ``obs`` (``NaN`` = unobserved)."""
    mask = jnp.isfinite(obs)
    err = jnp.where(mask, pred - jnp.where(mask, obs, 0.0), 0.0)
    return jnp.sum(err**2) / jnp.maximum(jnp.sum(mask), 1)


def _segments(n_time: int, n_seg: int) -> list[tuple[int, int]]:
    """Index ranges ``[a, b]`` (inclusive) of ``n_seg`` segments that share end points."""
    edges = np.unique(np.round(np.linspace(0, n_time - 1, n_seg + 1)).astype(int))
    return [(int(a), int(b)) for a, b in zip(edges[:-1], edges[1:])]


def fit_trajectories(
    model: nnx.Module | Sequence[nnx.Module],
    ts: np.ndarray,
    ys: np.ndarray,
    config: TrainConfig | None = None,
    *,
    curriculum: Sequence[float] = (0.1, 1.0),
    shooting: int | None = None,
    continuity_weight: float = 10.0,
    invariant_weight: float = 0.0,
    fit_initial: bool = True,
    invariants: dict[str, Callable] | None = None,
    extra_loss: Callable | None = None,
    initial_states: np.ndarray | None = None,
    optimizer: optax.GradientTransformation | None = None,
    checkpoint=None,
    settings: dict | None = None,
    resume: bool = False,
) -> dict:
    """Fit ``model(ts, u0) -> u(ts)`` (e.g. :class:`~sciml.dynamics.node.NeuralODE`) in place,
    on the training engine (:func:`sciml.training.engine.fit`, once per curriculum stage).

    Args:
        model: trajectory model; called as ``model(ts, u0)`` with ``u0`` of shape ``(B, n)``.
            A list of models of one structure (e.g. built with different seeds) trains them
            as an ensemble in one program: the members' losses are summed, each member has
            its own first-order optimiser state, and ``config.devices`` splits the members
            over the devices (:func:`sciml.training.engine.fit` with ``members``).
        ts: ``(T,)`` shared observation times.
        ys: ``(B, T, n)`` observations, ``NaN`` where not observed. The initial state of each
            trajectory is ``ys[:, 0]`` (must be fully observed); with multiple shooting the
            segment starts are trainable.
        config: training settings (default :func:`trajectory_config`); ``steps`` are split
            evenly across the curriculum stages, ``lbfgs_steps`` follow the last one.
        curriculum: fractions of each trajectory used per stage, e.g. ``(0.1, 1.0)``.
        shooting: number of multiple-shooting segments (``None`` or 1: single shooting).
        continuity_weight: weight of the multiple-shooting continuity term.
        invariant_weight: weight of the invariant-drift term (needs ``invariants``).
        fit_initial: treat the initial states as parameters (initialised at the first
            observation), since a noisy first observation is only an observation. Ignored
            when known ``initial_states`` are given.
        invariants: ``{name: I(u) -> scalar}`` penalised with ``invariant_weight``.
        extra_loss: optional ``extra_loss(model) -> scalar`` added to the loss (e.g. a
            known-term residual or a parameter prior).
        initial_states: ``(B, n)`` known initial states, held fixed (single shooting); the
            first observation is then only an observation.
        optimizer: the first-order phase (an optax ``GradientTransformation``, restarted at
            each stage); default Adam as ``config`` says.
        checkpoint: a file the fit is saved to as it goes (on ``config``'s schedule, at the
            end of each stage and on SIGINT/SIGTERM); it holds the stage it belongs to and
            the losses of the stages before.
        settings: what the run is (compared on resume, see :func:`sciml.training.engine.fit`).
        resume: continue from ``checkpoint``: the stages before its stage are done, its stage
            goes on where it stopped, the later ones follow.

    Returns:
        history ``{"loss": [...], "wall_s": float, "steps": int, "u0": fitted initial states}``
        (for an ensemble, ``u0`` and ``shooting_starts`` have a leading member axis and
        ``member_loss`` holds each member's final loss).

    Raises:
        sciml.training.engine.TrainingDiverged: the loss became NaN or infinite (e.g. an ODE
            solve that failed); the message names the term and the step.
    """
    config = trajectory_config() if config is None else config
    if not curriculum or any(not (0 < f <= 1) for f in curriculum):
        raise ValueError(f"curriculum fractions must lie in (0, 1], got {tuple(curriculum)}")
    if shooting is not None and shooting < 1:
        raise ValueError(f"shooting must be a positive number of segments, got {shooting}")
    ts = jnp.asarray(ts, dtype=jnp.float32)
    ys = jnp.asarray(ys, dtype=jnp.float32)
    if ys.ndim != 3 or ys.shape[1] != ts.shape[0]:
        raise ValueError(f"ys must be (trajectories, times, states) matching ts {ts.shape}, got {ys.shape}")
    known_u0 = None if initial_states is None else jnp.broadcast_to(jnp.asarray(initial_states, jnp.float32), ys[:, 0].shape)
    if known_u0 is None and not bool(jnp.all(jnp.isfinite(ys[:, 0]))):
        raise ValueError(
            "the first observation of every trajectory must be complete (it is the initial "
            "state); drop leading partially observed times or pass initial states"
        )
    n_time = ts.shape[0]
    inv = dict(invariants or {}) if invariant_weight else {}

    ensemble = isinstance(model, (list, tuple))
    models = list(model) if ensemble else [model]
    parts = [nnx.split(m, nnx.Param, ...) for m in models]
    graphdef = parts[0][0]
    stack = lambda trees: jax.tree.map(lambda *leaves: jnp.stack(leaves), *trees)  # noqa: E731
    params = stack([p for _, p, _ in parts]) if ensemble else parts[0][1]
    rest = stack([r for _, _, r in parts]) if ensemble else parts[0][2]

    def invariant_drift(pred):
        tot = 0.0
        for f in inv.values():
            vals = f(pred)  # (..., T)
            tot = tot + jnp.mean((vals - vals[..., :1]) ** 2)
        return tot

    def with_extra(m, total, terms):
        if extra_loss is not None:
            terms["extra"] = extra_loss(m)
            total = total + terms["extra"]
        return total, terms

    def single_loss(p, n_use, rest):
        m = nnx.merge(graphdef, p["model"], rest)
        pred = m(ts[:n_use], p["u0"] if "u0" in p else (ys[:, 0] if known_u0 is None else known_u0))
        terms = {"data": masked_mse(pred, ys[:, :n_use])}
        total = terms["data"]
        if inv:
            terms["invariant"] = invariant_drift(pred)
            total = total + invariant_weight * terms["invariant"]
        return with_extra(m, total, terms)

    segs = _segments(n_time, shooting) if shooting and shooting > 1 else None

    def shooting_loss(p, _n_use, rest):
        m = nnx.merge(graphdef, p["model"], rest)
        data, drift, cont = 0.0, 0.0, 0.0
        starts = p["starts"]  # (S, B, n)
        for k, (a, b) in enumerate(segs):
            pred = m(ts[a : b + 1], starts[k])
            data = data + masked_mse(pred, ys[:, a : b + 1]) * (b - a + 1)
            if inv:
                drift = drift + invariant_drift(pred)
            if k + 1 < len(segs):
                cont = cont + jnp.mean((pred[:, -1] - starts[k + 1]) ** 2)
        terms = {"data": data / n_time, "invariant": drift / n_time, "continuity": cont}
        total = terms["data"] + invariant_weight * terms["invariant"] + continuity_weight * cont
        return with_extra(m, total, terms)

    p = {"model": params}
    copies = (lambda a: jnp.broadcast_to(a, (len(models), *a.shape))) if ensemble else (lambda a: a)  # noqa: E731
    if fit_initial and segs is None and known_u0 is None:
        p["u0"] = copies(ys[:, 0])
    if segs is not None:
        # Start states initialised from the data (NaN-free by linear fill along time).
        y_fill = fill_nan(np.asarray(ys))
        p["starts"] = copies(jnp.stack([jnp.asarray(y_fill[:, a]) for a, _ in segs]))
        member_loss, stages = shooting_loss, [n_time]
    else:
        member_loss, stages = single_loss, [max(2, int(round(f * n_time))) for f in curriculum]
    if ensemble:
        def loss_fn(q, n_use):  # the sum of the members' losses, each term summed too
            totals, terms = jax.vmap(member_loss, in_axes=(0, None, 0))(q, n_use, rest)
            return jnp.sum(totals), {k: jnp.sum(v) for k, v in terms.items()}
    else:
        loss_fn = lambda q, n_use: member_loss(q, n_use, rest)  # noqa: E731

    history: list[float] = []
    wall, first_stage = 0.0, 0
    if resume:
        first_stage, history, wall = _stage_of(checkpoint)
    for i, n_use in enumerate(stages):
        if i < first_stage:
            continue
        last = i == len(stages) - 1
        n_steps = config.steps // len(stages) + (1 if i < config.steps % len(stages) else 0)
        # A time budget is the whole fit's: each stage has its share, the last what is left.
        budget = config.time_budget and max(config.time_budget * (1 if last else (i + 1) / len(stages)) - wall, 1e-3)
        stage = dataclasses.replace(config, steps=n_steps, lbfgs_steps=config.lbfgs_steps if last else 0,
                                    time_budget=budget)
        if n_steps == 0 and stage.lbfgs_steps == 0:
            continue
        record = {**(settings or {}), "stage": i, "losses_before": history, "wall_before": wall}
        outcome = fit(lambda q, _batch, n_use=n_use: loss_fn(q, n_use), p, stage, optimizer=optimizer,
                      members=len(models) if ensemble else 0, checkpoint=checkpoint, settings=record,
                      resume=resume and i == first_stage)
        p, wall = outcome.params, wall + outcome.wall_s
        history.extend(outcome.history["loss"].tolist())
    for k, m in enumerate(models):
        nnx.update(m, jax.tree.map(lambda a, k=k: a[k], p["model"]) if ensemble else p["model"])
    out = {"loss": history, "wall_s": wall, "steps": len(history)}
    if ensemble:
        out["member_loss"] = np.asarray(jax.jit(jax.vmap(member_loss, in_axes=(0, None, 0)),
                                                static_argnums=1)(p, stages[-1], rest)[0])
    if segs is not None:
        out["shooting_starts"] = np.asarray(p["starts"])
        out["u0"] = np.asarray(p["starts"][:, 0] if ensemble else p["starts"][0])
    else:
        fixed = ys[:, 0] if known_u0 is None else known_u0
        out["u0"] = np.asarray(p["u0"] if "u0" in p else (copies(fixed) if ensemble else fixed))
    return out


def _stage_of(checkpoint) -> tuple[int, list[float], float]:
    """The stage a trajectory fit's checkpoint belongs to, the losses and the wall time of the
    stages before it."""
    import json

    from sciml.training.checkpoint import CheckpointError, load_checkpoint

    values = load_checkpoint(checkpoint)["values"]
    record = json.loads(values.get("settings") or "{}")
    if "stage" not in record:
        raise CheckpointError(f"checkpoint {checkpoint} is not a trajectory fit's; resume it with the model that "
                              "wrote it, or start afresh with --overwrite")
    return int(record["stage"]), [float(v) for v in record["losses_before"]], float(record["wall_before"])


def fill_nan(y: np.ndarray) -> np.ndarray:
    """Linear interpolation of NaNs along time (axis 1), for initial guesses only."""
    y = y.copy()
    t = np.arange(y.shape[1])
    for b in range(y.shape[0]):
        for j in range(y.shape[2]):
            col = y[b, :, j]
            ok = np.isfinite(col)
            if not ok.all() and ok.any():
                y[b, :, j] = np.interp(t, t[ok], col[ok])
    return y
