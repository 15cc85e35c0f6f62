"""Liquid networks (LTC, CfC) as sequence surrogates that forecast a trajectory.

The model reads the current state and the real elapsed time to the next sample and predicts
the next state as an increment,

.. math::  \\hat u_{k+1} = u_k + \\frac{t_{k+1} - t_k}{\\Delta}\\,\\sigma\\, W h_{k+1}, \\qquad h_{k+1} = \\mathrm{cell}(h_k, (u_k - m)/\\sigma, t_{k+1} - t_k),

trained with teacher forcing on the observed steps (masked where unobserved) and evaluated
in closed loop (predictions fed back) on any time grid — irregular and finer or coarser
than the training grid, since the elapsed times enter the cell and scale the increment
(:math:`\\Delta` is the training data's typical step: a rollout on a grid twice as fine takes
half steps instead of running at double speed). The drift of declared
invariants is added to the loss at ``invariant_weight``.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx

from sciml.dynamics.liquid import LiquidRNN
from sciml.dynamics.result import evaluate, finish, training_metrics
from sciml.dynamics.training import fill_nan, masked_mse
from sciml.training.config import TrainConfig
from sciml.training.engine import fit
from sciml.dynamics.verdict import assess_trajectories
from sciml.models.registry import model_penalty

__all__ = ["SequenceForecaster", "fit_forecaster", "forecaster_config", "solve_sequence"]


class SequenceForecaster(nnx.Module):
    """A :class:`LiquidRNN` wrapped as a one-step state forecaster (see module docstring)."""

    def __init__(self, cell: str, n_states: int, units: int = 32, *, mean=None, std=None, seed: int = 0, **cell_options):
        self.rnn = LiquidRNN(cell, n_states, units, n_states, seed=seed, **cell_options)
        self.mean = nnx.Variable(jnp.zeros(n_states) if mean is None else jnp.asarray(mean, jnp.float32))
        self.std = nnx.Variable(jnp.ones(n_states) if std is None else jnp.asarray(std, jnp.float32))
        self.n_states = n_states
        self.step = nnx.Variable(jnp.asarray(1.0, jnp.float32))  # set from the training data's times

    def teacher_forced(self, ts, u):
        """One-step predictions of ``u[:, 1:]`` from ``u[:, :-1]``: ``(B, T-1, n)``."""
        x = (u[:, :-1] - self.mean[...]) / self.std[...]
        dt = jnp.diff(jnp.asarray(ts))
        return u[:, :-1] + self.std[...] * self.rnn(x, dt) * (dt / self.step[...])[None, :, None]

    def rollout(self, ts, u0):
        """Closed-loop forecast ``(B, T, n)`` at ``ts`` from ``u0`` ``(B, n)``."""
        cell, proj = self.rnn.cell, self.rnn.proj
        p = cell.constrained()
        step = cell.step_fn()
        B = u0.shape[0]
        dts = jnp.diff(jnp.asarray(ts, u0.dtype))

        def body(carry, dt):
            h, u = carry
            x = (u - self.mean[...]) / self.std[...]
            h = step(p, h, x, jnp.broadcast_to(dt, (B,)))
            u = u + self.std[...] * proj(cell.readout(h)) * (dt / self.step[...])
            return (h, u), u

        h0 = jnp.zeros((B, cell.units), u0.dtype)
        _, us = jax.lax.scan(body, (h0, u0), dts)
        return jnp.concatenate([u0[:, None], jnp.swapaxes(us, 0, 1)], 1)

    def __call__(self, ts, u0):
        return self.rollout(ts, u0)


def forecaster_config(steps: int = 1000, learning_rate: float = 3e-3, **options) -> TrainConfig:
    """The :class:`~sciml.training.config.TrainConfig` of a forecaster: Adam after a gradient
    clip at norm 1, its rate cosine-decayed to 5%; ``options`` override any field."""
    return TrainConfig.from_options({
        "steps": int(steps), "learning_rate": learning_rate, "final_learning_rate": 0.05 * learning_rate,
        "schedule": "cosine", "clip": 1.0, "checkpoint_seconds": 0.0, "progress": False, **options})


def fit_forecaster(model: SequenceForecaster, ts, ys, config: TrainConfig | None = None, *, invariants=None,
                   invariant_weight: float = 0.0, optimizer: optax.GradientTransformation | None = None,
                   checkpoint=None, settings: dict | None = None, resume: bool = False) -> dict:
    """Teacher-forced training on ``ys`` ``(B, T, n)`` (``NaN`` = unobserved), on the training
    engine (default settings :func:`forecaster_config`; ``checkpoint``, ``settings`` and
    ``resume`` as for :func:`sciml.training.engine.fit`)."""
    config = forecaster_config() if config is None else config
    ts = jnp.asarray(ts, jnp.float32)
    model.step.value = jnp.asarray(np.median(np.diff(np.asarray(ts))), jnp.float32)
    y_obs = jnp.asarray(ys, jnp.float32)
    y_in = jnp.asarray(fill_nan(np.asarray(ys)), jnp.float32)
    graphdef, params, rest = nnx.split(model, nnx.Param, ...)

    def loss_fn(p, _batch):
        m = nnx.merge(graphdef, p, rest)
        pred = m.teacher_forced(ts, y_in)
        terms = {"data": masked_mse((pred - m.mean[...]) / m.std[...], (y_obs[:, 1:] - m.mean[...]) / m.std[...])}
        loss = terms["data"] + model_penalty(m)  # the model's own regulariser, e.g. gate entropy
        # Skipped entirely at weight 0: 0 * NaN (e.g. log of a negative prediction) is NaN.
        if invariants and invariant_weight:
            terms["invariant"] = sum(jnp.mean((inv(pred) - inv(y_in[:, :1])) ** 2) for inv in invariants.values())
            loss = loss + invariant_weight * terms["invariant"]
        return loss, terms

    outcome = fit(loss_fn, params, config, optimizer=optimizer, checkpoint=checkpoint, settings=settings,
                  resume=resume)
    nnx.update(model, outcome.params)
    return {"loss": outcome.history["loss"].tolist(), "wall_s": outcome.wall_s, "steps": outcome.steps}


def solve_sequence(problem, model_name, model: SequenceForecaster, steps, seed, opts, ts, ys, start, *,
                   checkpoint=None, settings: dict | None = None, resume: bool = False):
    """Train and evaluate the forecaster ``model`` (``--model ltc|cfc``, from :mod:`sciml.dynamics.solve`)."""
    net = opts["network_options"]
    compiled = problem.compile()
    theta0 = jnp.asarray(list(problem.identify.values()), jnp.float32)
    invariants = {n: (lambda u, g=g: g(u, theta0)) for n, g in compiled.invariants.items()}
    config = forecaster_config(1000 if steps is None else int(steps), net.get("seq_lr", 3e-3),
                               progress=bool(opts["progress"]), **opts["train"])
    hist = fit_forecaster(model, ts, ys, config, invariants=invariants, invariant_weight=opts["invariant_weight"],
                          optimizer=opts["optimizer"], checkpoint=checkpoint, settings=settings, resume=resume)
    metrics = training_metrics(model_name, "sequence", hist, seed, model)
    rollout = jax.jit(model.rollout)
    ds, _, _ = evaluate(problem, compiled, ts, ys, lambda tr, yr: rollout(jnp.asarray(tr, jnp.float32),
                        jnp.asarray(yr[:, 0], jnp.float32)), metrics, model)
    # The forecaster carries no equation: its prediction is checked against the known ones.
    verdict = assess_trajectories(problem, ts, ys, lambda times: rollout(jnp.asarray(times, jnp.float32),
                                  jnp.asarray(ys[:, 0], jnp.float32)), hist["loss"],
                                  {"forecaster": lambda t, u: u},
                                  check_equations=not problem.unknowns and not problem.identify)
    return finish(problem, model_name, metrics, ds, start, verdict, model=model.rnn)
