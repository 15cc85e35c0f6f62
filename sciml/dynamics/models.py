"""The trajectory models of ODE problems, in the one model registry (``kind="trajectory"``).

A factory builds, for an :class:`~sciml.dynamics.problem.ODESystem` and its observations
``ys (trajectory, time, state)``, what :mod:`sciml.dynamics.solve` trains: a vector field
(``node``, ``kan-ode``: the system with its unknown terms as networks, a universal differential
equation, or the whole right-hand side as one network when the system has no unknown term nor
learned parameter) or a sequence forecaster (``ltc``, ``cfc``).
"""

from __future__ import annotations

import numpy as np

from sciml.models.registry import register_model


@register_model("node", "ODE problems: neural ODE, the unknown terms (or the whole vector field) as MLPs", kind="trajectory")
def node(system, ys, *, seed: int = 0, **options):
    return _field(system, "mlp", seed, {"final_scale": 0.1} | options)


@register_model("kan-ode", "ODE problems: neural ODE, the unknown terms (or the whole vector field) as KANs", kind="trajectory")
def kan_ode(system, ys, *, seed: int = 0, **options):
    # KAN grids must cover the states the unknown terms see (observed range + margin).
    lo, hi = float(np.nanmin(ys)), float(np.nanmax(ys))
    return _field(system, "kan", seed, {"grid_range": (lo - 0.2 * (hi - lo), hi + 0.2 * (hi - lo))} | options)


@register_model("ltc", "ODE problems: liquid time-constant network forecasting step by step", kind="trajectory")
def ltc(system, ys, *, seed: int = 0, **options):
    return _forecaster("ltc", system, ys, seed, options)


@register_model("cfc", "ODE problems: closed-form continuous-time network forecasting step by step",
                kind="trajectory")
def cfc(system, ys, *, seed: int = 0, **options):
    return _forecaster("cfc", system, ys, seed, options)


def _field(system, network: str, seed: int, options: dict):
    from sciml.dynamics.node import NeuralField, UDEField

    if system.unknowns or system.identify:
        return UDEField(system.compile(), list(system.identify.values()), network=network, seed=seed, **options)
    return NeuralField(len(system.states), network=network, seed=seed, **options)


def _forecaster(cell: str, system, ys, seed: int, options: dict):
    from sciml.dynamics.forecast import SequenceForecaster

    flat = ys.reshape(-1, ys.shape[-1])
    return SequenceForecaster(cell, len(system.states), options.pop("units", 32), mean=np.nanmean(flat, 0),
                              std=np.nanstd(flat, 0) + 1e-8, seed=seed, **options)
