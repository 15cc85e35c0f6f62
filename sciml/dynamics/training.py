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

Optimisation is Adam, optionally followed by L-BFGS (Rackauckas et al. 2020 use ADAM then
BFGS for the UDE).
"""

from __future__ import annotations

import dataclasses
import time as _time
from typing import Callable, Sequence

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx

__all__ = ["FitConfig", "fill_nan", "fit_trajectories", "masked_mse"]


@dataclasses.dataclass(frozen=True)
class FitConfig:
    """Training options.

    Args:
        steps: Adam steps (split evenly across curriculum stages).
        lr: Adam learning rate (cosine-decayed to ``lr * lr_final`` per stage).
        curriculum: fractions of each trajectory used per stage, e.g. ``(0.1, 1.0)``.
        shooting: number of multiple-shooting segments (``None`` or 1: single shooting).
        continuity_weight: weight of the multiple-shooting continuity term.
        invariant_weight: weight of the invariant-drift term (needs ``invariants``).
        lbfgs_steps: L-BFGS steps after Adam on the full trajectories (0: none).
        fit_initial: treat the initial states as parameters (initialised at the first
            observation), since a noisy first observation is only an observation. Ignored
            when known initial states are passed to :func:`fit_trajectories`.
        clip: global gradient-norm clip.
        log_every: print a progress line every this many steps (0: quiet).
    """

    steps: int = 1000
    lr: float = 3e-3
    lr_final: float = 0.1
    curriculum: Sequence[float] = (0.1, 1.0)
    shooting: int | None = None
    continuity_weight: float = 10.0
    invariant_weight: float = 0.0
    lbfgs_steps: int = 0
    fit_initial: bool = True
    clip: float = 10.0
    log_every: int = 0

    def __post_init__(self):
        if self.steps < 0:
            raise ValueError(f"steps must be >= 0, got {self.steps}")
        if not self.curriculum or any(not (0 < f <= 1) for f in self.curriculum):
            raise ValueError(f"curriculum fractions must lie in (0, 1], got {self.curriculum}")
        if self.shooting is not None and self.shooting < 1:
            raise ValueError(f"shooting must be a positive number of segments, got {self.shooting}")


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
    model: nnx.Module,
    ts: np.ndarray,
    ys: np.ndarray,
    config: FitConfig = FitConfig(),
    *,
    invariants: dict[str, Callable] | None = None,
    extra_loss: Callable | None = None,
    initial_states: np.ndarray | None = None,
) -> dict:
    """Fit ``model(ts, u0) -> u(ts)`` (e.g. :class:`~sciml.dynamics.node.NeuralODE`) in place.

    Args:
        model: trajectory model; called as ``model(ts, u0)`` with ``u0`` of shape ``(B, n)``.
        ts: ``(T,)`` shared observation times.
        ys: ``(B, T, n)`` observations, ``NaN`` where not observed. The initial state of each
            trajectory is ``ys[:, 0]`` (must be fully observed); with multiple shooting the
            segment starts are trainable.
        invariants: ``{name: I(u) -> scalar}`` penalised with ``config.invariant_weight``.
        extra_loss: optional ``extra_loss(model) -> scalar`` added to the loss (e.g. a
            known-term residual or a parameter prior).
        initial_states: ``(B, n)`` known initial states, held fixed (single shooting); the
            first observation is then only an observation.

    Returns:
        history ``{"loss": [...], "wall_s": float, "steps": int, "u0": fitted initial states}``.
    """
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
    inv = dict(invariants or {})

    graphdef, params, rest = nnx.split(model, nnx.Param, ...)

    def invariant_drift(pred):
        if not inv or config.invariant_weight == 0:
            return 0.0
        tot = 0.0
        for f in inv.values():
            vals = f(pred)  # (..., T)
            tot = tot + jnp.mean((vals - vals[..., :1]) ** 2)
        return tot

    def single_loss(p, n_use):
        m = nnx.merge(graphdef, p["model"], rest)
        t = ts[:n_use]
        pred = m(t, p["u0"] if "u0" in p else (ys[:, 0] if known_u0 is None else known_u0))
        loss = masked_mse(pred, ys[:, :n_use]) + config.invariant_weight * invariant_drift(pred)
        if extra_loss is not None:
            loss = loss + extra_loss(m)
        return loss

    segs = _segments(n_time, config.shooting) if config.shooting and config.shooting > 1 else None

    def shooting_loss(p, _n_use):
        m = nnx.merge(graphdef, p["model"], rest)
        loss, cont = 0.0, 0.0
        starts = p["starts"]  # (S, B, n)
        for k, (a, b) in enumerate(segs):
            pred = m(ts[a : b + 1], starts[k])
            loss = loss + masked_mse(pred, ys[:, a : b + 1]) * (b - a + 1)
            loss = loss + config.invariant_weight * invariant_drift(pred)
            if k + 1 < len(segs):
                cont = cont + jnp.mean((pred[:, -1] - starts[k + 1]) ** 2)
        loss = loss / n_time + config.continuity_weight * cont
        if extra_loss is not None:
            loss = loss + extra_loss(m)
        return loss

    p = {"model": params}
    if config.fit_initial and segs is None and known_u0 is None:
        p["u0"] = ys[:, 0]
    if segs is not None:
        # Start states initialised from the data (NaN-free by linear fill along time).
        y_fill = fill_nan(np.asarray(ys))
        p["starts"] = jnp.stack([jnp.asarray(y_fill[:, a]) for a, _ in segs])
        loss_fn = shooting_loss
        stages = [n_time]
    else:
        loss_fn = single_loss
        stages = [max(2, int(round(f * n_time))) for f in config.curriculum]

    history: list[float] = []
    start = _time.perf_counter()
    n_stage = len(stages)
    for i, n_use in enumerate(stages):
        n_steps = config.steps // n_stage + (1 if i < config.steps % n_stage else 0)
        if n_steps == 0:
            continue
        sched = optax.cosine_decay_schedule(config.lr, n_steps, alpha=config.lr_final)
        opt = optax.chain(optax.clip_by_global_norm(config.clip), optax.adam(sched))
        opt_state = opt.init(p)

        @jax.jit
        def step(p, opt_state, n_use=n_use):
            loss, g = jax.value_and_grad(loss_fn)(p, n_use)
            # A failed solve (inf) or NaN gradient skips the step instead of poisoning params.
            ok = jnp.isfinite(loss) & jax.tree.reduce(
                lambda a, b: a & b, jax.tree.map(lambda x: jnp.all(jnp.isfinite(x)), g)
            )
            upd, new_state = opt.update(g, opt_state, p)
            new_p = optax.apply_updates(p, upd)
            keep = lambda new, old: jax.tree.map(lambda a, b: jnp.where(ok, a, b), new, old)
            return keep(new_p, p), keep(new_state, opt_state), loss

        for k in range(n_steps):
            p, opt_state, loss = step(p, opt_state)
            history.append(float(loss))
            if config.log_every and (len(history) % config.log_every == 0):
                print(f"step {len(history):5d}  stage {i + 1}/{n_stage} ({n_use} pts)  loss {float(loss):.4e}", flush=True)

    if config.lbfgs_steps:
        p, lb_hist = _lbfgs(lambda q: loss_fn(q, stages[-1]), p, config.lbfgs_steps, config.log_every)
        history.extend(lb_hist)
    nnx.update(model, p["model"])
    out = {"loss": history, "wall_s": _time.perf_counter() - start, "steps": len(history)}
    if segs is not None:
        out["shooting_starts"] = np.asarray(p["starts"])
        out["u0"] = np.asarray(p["starts"][0])
    else:
        out["u0"] = np.asarray(p["u0"] if "u0" in p else (ys[:, 0] if known_u0 is None else known_u0))
    return out


def _lbfgs(f, p, n_steps, log_every):
    opt = optax.lbfgs()
    state = opt.init(p)
    vg = optax.value_and_grad_from_state(f)

    @jax.jit
    def step(p, state):
        value, grad = vg(p, state=state)
        upd, new_state = opt.update(grad, state, p, value=value, grad=grad, value_fn=f)
        new_p = optax.apply_updates(p, upd)
        ok = jnp.isfinite(value) & jax.tree.reduce(
            lambda a, b: a & b, jax.tree.map(lambda x: jnp.all(jnp.isfinite(x)), new_p)
        )
        return jax.tree.map(lambda a, b: jnp.where(ok, a, b), new_p, p), new_state, value, ok

    hist = []
    for k in range(n_steps):
        p_new, state, value, ok = step(p, state)
        if not bool(ok):
            break
        p = p_new
        hist.append(float(value))
        if log_every and (k + 1) % log_every == 0:
            print(f"lbfgs {k + 1:5d}  loss {float(value):.4e}", flush=True)
    return p, hist


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
