"""The verdict on a trajectory model (``node``, ``kan-ode``, ``ltc``, ``cfc``), without a reference.

The indicators and thresholds are those of :mod:`sciml.verdict`, measured where a trajectory
model can be checked: along its prediction on a dense grid over the problem's time interval
(from the first observation to the interval's end) and at the observations.

* **health**: finite losses, and a prediction finite over the whole interval;
* **data**: per state, the RMS misfit at the observations over their standard deviation;
* **learned terms within their data**: the share of the dense prediction where the inputs of
  a learned term leave the range they take at the observations. The learned terms are the
  problem's unknown terms for a universal differential equation; the whole right-hand side
  (inputs: the states) for a black-box neural ODE or a sequence forecaster. Outside that
  range nothing but the network's extrapolation drives the prediction;
* **forecast beyond the data**: the share of the problem's time interval after the last
  observation (or before the first), where the learned terms drive the prediction unchecked
  (:func:`sciml.verdict.share_beyond`); their small errors add up along it;
* **members' disagreement** (an ensemble, ``members > 1``): per state, the RMS deviation of
  the members' predictions from their mean along the dense grid, over the observations'
  standard deviation: where independently started networks part, the data did not decide;
* **equations along the prediction** (models that do not carry the equations, ``ltc`` and
  ``cfc``, on problems with no unknown or learned parameter): per equation, the RMS of
  ``du/dt - rhs`` over the RMS of its largest term (``du/dt`` by second-order finite
  differences of the dense prediction), the fraction of its balance the forecast leaves
  unbalanced.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import jax.numpy as jnp
import numpy as np
import sympy as sp

from sciml.functions import lambdify
from sciml.verdict import Verdict, share_beyond, share_outside, verdict_from

__all__ = ["DENSE_TIMES", "assess_trajectories"]

DENSE_TIMES = 1001  # points of the grid the prediction is checked on


def assess_trajectories(problem, ts: np.ndarray, ys: np.ndarray, rollout: Callable, losses,
                        learned: Mapping[str, Callable], check_equations: bool,
                        members: Callable | None = None) -> Verdict:
    """The verdict on a trained trajectory model (see the module docstring).

    Args:
        problem: the :class:`~sciml.dynamics.problem.ODESystem` solved.
        ts, ys: observation times ``(T,)`` and values ``(trajectory, T, state)`` (NaN: missing).
        rollout: ``rollout(times) -> (trajectory, len(times), state)``, the prediction from the
            fitted initial states at ``ts[0]``.
        losses: the training losses recorded.
        learned: the learned terms, ``{name: inputs(t, u) -> (..., n_inputs)}``.
        check_equations: whether to measure the equations' balance along the prediction.
        members: for an ensemble, ``members(times) -> (member, trajectory, len(times), state)``,
            each member's prediction (``rollout`` is then their mean and is not called); their
            disagreement is then an indicator.
    """
    losses = np.asarray(losses, np.float64)
    end = max(float(ts[-1]), problem.span[1] if problem.span else float(ts[-1]))
    dense = np.linspace(float(ts[0]), end, DENSE_TIMES)
    times = np.union1d(ts, dense)  # one rollout (one compilation) for both
    # An ensemble's members are rolled out once: their mean is the prediction.
    each = None if members is None else np.asarray(members(times), np.float64)
    prediction = np.asarray(rollout(times), np.float64) if each is None else each.mean(axis=0)
    at_data, along = prediction[:, np.searchsorted(times, ts)], prediction[:, np.searchsorted(times, dense)]
    indicators: dict = {"loss_finite": bool(np.all(np.isfinite(losses))),
                        "prediction_finite": bool(np.all(np.isfinite(along)))}
    if losses.size and indicators["loss_finite"]:  # recorded for the reader, not judged
        indicators["loss_drop"] = float(losses[-1] / max(losses[0], 1e-300))
    # A state never measured (an epidemic's susceptibles when only the infected are counted)
    # has no misfit: the equations alone carry it, and the other indicators judge them.
    measured = np.isfinite(ys).any(axis=tuple(range(ys.ndim - 1)))
    indicators["data"] = {f"observations of {s}": _misfit(at_data[..., k], ys[..., k])
                          for k, s in enumerate(problem.state_names) if measured[k]}
    if not measured.all():
        indicators["unmeasured_states"] = [s for k, s in enumerate(problem.state_names) if not measured[k]]
    # The states at the observations: measured where they were, else as predicted there.
    observed = np.any(np.isfinite(ys), axis=-1)
    times_observed = np.broadcast_to(ts, ys.shape[:-1])[observed]
    states_observed = np.where(np.isfinite(ys), ys, at_data)[observed]
    indicators["unknown_outside_data"] = {
        name: share_outside(inputs(jnp.asarray(times_observed), jnp.asarray(states_observed)),
                            inputs(jnp.asarray(dense), jnp.asarray(along)))
        for name, inputs in learned.items()}
    if learned:
        start = problem.span[0] if problem.span else float(ts[0])
        indicators["forecast_beyond_data"] = share_beyond(times_observed, start, end)
    if check_equations and indicators["prediction_finite"]:
        indicators["residual"] = _balance(problem, dense, along)
    if members is not None and indicators["prediction_finite"]:
        each = each[:, :, np.searchsorted(times, dense)]
        indicators["disagreement"] = {
            f"members' predictions of {s}": _misfit(each[..., k], np.broadcast_to(along[..., k], each.shape[:-1]),
                                                    scale=ys[..., k] if measured[k] else along[..., k])
            for k, s in enumerate(problem.state_names)}
    return verdict_from(indicators)


def _misfit(pred: np.ndarray, data: np.ndarray, scale: np.ndarray | None = None) -> float:
    """RMS of ``pred - data`` over the standard deviation of ``scale`` (default ``data``)."""
    ok = np.isfinite(data)
    if not np.all(np.isfinite(pred[ok])):
        return float("inf")
    reference = np.asarray(data if scale is None else scale)
    std = float(np.std(reference[np.isfinite(reference)])) or 1.0
    return float(np.sqrt(np.mean((pred[ok] - data[ok]) ** 2)) / std)


def _balance(problem, times: np.ndarray, u: np.ndarray) -> list[float]:
    """Per equation ``du/dt = sum of terms``: RMS of ``du/dt - sum`` over RMS of the largest
    of ``|du/dt|`` and the terms, inside the grid (one-sided differences at its ends are not)."""
    rate = np.gradient(u, times, axis=1)[:, 1:-1]
    t, u = times[1:-1], u[:, 1:-1]
    ratios = []
    for k, rhs in enumerate(problem.rhs):
        terms = sp.Add.make_args(sp.expand(rhs.subs(problem.parameters)))
        f = lambdify((problem.time, problem.states), list(terms), "numpy")
        values = np.stack([np.broadcast_to(v, u.shape[:-1]) for v in
                           f(t, [u[..., i] for i in range(u.shape[-1])])], -1).astype(np.float64)
        residual = rate[..., k] - values.sum(-1)
        scale = np.maximum(np.abs(rate[..., k]), np.abs(values).max(-1))
        ratios.append(float(np.sqrt(np.mean(residual**2)) / max(np.sqrt(np.mean(scale**2)), 1e-300)))
    return ratios
