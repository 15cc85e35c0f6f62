r"""Output scales: so that no equation term dwarfs what the network can change at the start.

A network of tanh layers starts with outputs and derivatives of order one (its inputs are
scaled to [-1, 1]). The terms it must balance need not be: a source of magnitude 300, a
solution of size 10^3, or a hard condition ``u = g + D(x) N(x)`` whose distance factor
``D`` is small where the equation needs large corrections (the wave equation's ``u_tt``
at ``t = 0`` is ``2 x (1 - x) N`` under ``u = u_0 + t u_1 + t^2 x (1 - x) N``). Adam's
steps are of the size of its learning rate per weight, so a network that must grow its
outputs a hundredfold spends most of its steps doing only that.

:func:`estimate_output_scales` measures the mismatch on the untrained network, per field,
as the ratio of what the equations ask for to what the network contributes:

.. math::
    s = \frac{\lVert R[0] \rVert}{\lVert R[N] - R[0] \rVert},\qquad
    s_f = \max\Big(s,\ \frac{\lVert g_f \rVert}{\lVert N \rVert}\Big),

with :math:`R[\cdot]` the equation residuals at collocation points for the network part of
every field set to zero or to the untrained network, :math:`\lVert N \rVert` the size the
untrained outputs start at (the RMS over every field of the network and of seven siblings of
its architecture drawn with other seeds: one field of one network is a single draw of its last
layer), and :math:`g_f` the values the conditions and data prescribe for field ``f`` (for a forward ODE, also the values its classical
integration reaches: a trajectory can grow far beyond its initial state). Only mismatches beyond an order of magnitude
(:data:`DWARF`) are corrected; within it the network adapts by itself and scales of one keep
well-posed problems exactly as they were. A scale below one is set for a forward ODE, whose
solution's size its classical integration tells, where the equations and that size both ask
for outputs a tenth of the untrained network's or less; and for a field no condition or datum
gives a size (homogeneous conditions) where the equations' sources ask for that little.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np

from sciml.dsl.metrics import rms
from sciml.functions import lambdify

__all__ = ["DWARF", "SIBLINGS", "estimate_output_scales"]

DWARF = 10.0  # a term larger than this multiple of what the network contributes dwarfs it
N_POINTS = 1024
SIBLINGS = 7  # further networks drawn to measure the size an architecture's outputs start at


def _round(value: float) -> float:
    """Two significant digits: a recorded choice, not a fitted constant."""
    return float(f"{value:.2g}")


def estimate_output_scales(compiled, model, seed: int = 0, siblings=()) -> dict[str, float]:
    """``{field: scale}`` for the fields whose network outputs must be rescaled (others: 1).

    Args:
        compiled: the :class:`~sciml.dsl.compile.CompiledProblem` (no output scales yet).
        model: the untrained surrogate.
        seed: seeds the collocation points of the estimate.
        siblings: untrained networks of the same architecture drawn with other seeds: the size
            the outputs start at is measured over them too. One network's output is a single
            draw of its last layer: over a time interval, where the hidden features hardly vary,
            a field's output RMS ranged 0.002-0.35 across eight seeds, and a Kepler orbit's x
            scale from none to 640 with it.
    """
    rng = np.random.default_rng(seed)
    batch = compiled.sample(rng, {"interior": N_POINTS, "boundary": N_POINTS // 4}, dtype=np.float64)
    z = jnp.asarray(compiled.interior_points(batch), jnp.float32)
    params = compiled.physical_parameters(compiled.initial_parameters())
    zero = lambda inputs: jnp.zeros(inputs.shape[:-1] + (len(compiled.field_names),), inputs.dtype)  # noqa: E731
    r0 = np.asarray(compiled.residual_values(compiled.field_function(zero, rectify=False), params, z))
    r1 = np.asarray(compiled.residual_values(compiled.field_function(model), params, z))
    # A positive state's equation is balanced as its logarithm's (``w' = g``): its terms are
    # rates whatever the fields' units, and they speak for no other field's outputs (a dose's
    # absorption rate 1.2/h would otherwise scale up a concentration of 1e-5).
    problem = compiled.problem
    kept = [k for k, (plain, balanced) in enumerate(zip(problem.residuals, problem.balanced_residuals))
            if plain == balanced]
    r0, r1 = r0[:, kept], r1[:, kept]
    contribution = rms(r1 - r0) if kept else 0.0
    needed = rms(r0) if kept else 0.0
    residual_ratio = needed / contribution if contribution > 0 and math.isfinite(needed) else 1.0
    outputs = np.asarray(jax.vmap(lambda p: compiled.surrogate_outputs(model, p))(z))
    drawn = [outputs] + [np.asarray(jax.vmap(lambda p, m=m: compiled.surrogate_outputs(m, p))(z)) for m in siblings]
    integrated = _integrated_sizes(compiled.problem)
    magnitudes = _prescribed_magnitudes(compiled, integrated)
    scales = {}
    # A positive field's network output is the logarithm's change (u = u0 exp(tau N)), of a few
    # units whatever the field's size.
    sized = [k for k, name in enumerate(compiled.field_names)
             if name not in compiled.problem.positive_fields and rms(outputs[:, k]) > 0]
    # The size the outputs start at: every sized field of every network drawn, as one sample.
    start = rms(np.concatenate([out[:, sized].ravel() for out in drawn])) if sized else 0.0
    for k, name in enumerate(compiled.field_names):
        if k not in sized:
            # A network that starts at zero (a read-out initialised to zeros) shows no magnitude
            # to compare: nothing is estimated and its outputs stay unscaled.
            continue
        ratio = max(residual_ratio, magnitudes.get(name, 0.0) / start)
        if ratio > DWARF and math.isfinite(ratio):
            scales[name] = _round(ratio)
        elif ratio < 1 / DWARF and residual_ratio > 0 and not magnitudes.get(name, 0.0):
            # Nothing prescribes a size (homogeneous conditions, no data) and the equations'
            # sources ask for outputs a tenth of the untrained network's or less: a plate in SI
            # units, D lap^2 w = q with D = 1e4, deflects by 2.6e-4 m; a network of outputs 0.1
            # balanced its equation and missed its boundary condition by 25% (a term 1e5 below
            # the residual's) until that weight was raised 1e9-fold (1.7e-4); scaled, 3.5e-6.
            scales[name] = _round(ratio)
        elif integrated.get(name, 0.0) > 0 and ratio < 1 / DWARF:
            # The whole solution's size is known only from a classical integration: a state
            # that stays a hundred-thousandth (Robertson's intermediate, 1e-5) leaves the
            # untrained network's outputs of order 0.1 dwarfing every term of its equation,
            # and a network that must shrink its outputs 1e4-fold learns nothing else first.
            scales[name] = _round(ratio)
    return scales


def _integrated_sizes(problem) -> dict[str, float]:
    """RMS over the interval of each field of a forward ODE's classical integration (empty for
    any other problem, or when the integration failed)."""
    from sciml.dynamics.problem import classical_reference

    reference, _ = classical_reference(problem)
    return {} if reference is None else {name: rms(reference[name].values) for name in reference.data_vars}


def _prescribed_magnitudes(compiled, integrated: dict[str, float] | None = None) -> dict[str, float]:
    """RMS of the values conditions and data prescribe, per field; for a forward ODE, also the
    RMS its classical integration reaches over the interval (the verdict's reference, computed
    once): a solution may grow far beyond its initial state (Lorenz from (1, 1, 1) reaches
    z = 46), and a network scaled to the initial state must then grow its weights to follow
    — time marching's spans were left unbalanced one after another on such a growth. Only the
    size is taken, never the trajectory (``integrated``: those sizes, when already measured by
    :func:`_integrated_sizes`)."""
    import sympy as sp

    from sciml.dsl.conditions import Dirichlet, Initial

    problem = compiled.problem
    out: dict[str, float] = {}
    rng = np.random.default_rng(0)
    for cond in problem.conditions:
        # Values of the field itself; a Neumann or first-order initial value is a derivative.
        if not (isinstance(cond, Dirichlet) or (isinstance(cond, Initial) and getattr(cond, "order", 0) == 0)):
            continue
        name = cond.field_name
        try:
            expr = sp.sympify(cond.value).subs({p: p.value for p in problem.parameters})
            coords = problem.coordinates
            if expr.free_symbols - set(coords):
                continue
            fn = lambdify(coords, expr, "numpy")
            pts = problem.space_time.sample(256, rng, "uniform")
            vals = np.broadcast_to(np.asarray(fn(*pts.T), dtype=np.float64), (pts.shape[0],))
        except Exception:  # noqa: BLE001 - a value we cannot evaluate here gives no magnitude
            continue
        out[name] = max(out.get(name, 0.0), rms(vals))
    for name, size in (_integrated_sizes(problem) if integrated is None else integrated).items():
        if name in compiled.field_names:
            out[name] = max(out.get(name, 0.0), size)
    if problem.data is not None:
        for name in compiled.field_names:
            if name in problem.data:
                out[name] = max(out.get(name, 0.0), rms(np.asarray(problem.data[name].values)))
    return out
