"""How many time scales an evolution spans: the rates at which its equations, linearised at the
initial state, carry that state forward (an oscillation's ``|Im|``, a growth ``Re > 0``).

Time marching is chosen from them (:mod:`sciml.recipe`), and the verdict holds an evolution PDE
to a residual bound divided by them (:mod:`sciml.verdict`): an error in the rate of an evolution
adds up over every time scale it spans.
"""

from __future__ import annotations

import math

import numpy as np
import sympy as sp
from sympy.core.function import AppliedUndef

from sciml.functions import values_at

__all__ = ["carrying_rate", "local_rate", "local_time_scales"]


def carrying_rate(eigenvalues: np.ndarray) -> float:
    """The fastest rate among ``eigenvalues`` that carries a state forward: ``|Im|`` or ``Re > 0``
    (a decaying mode forgets the state)."""
    rate = float(np.max(np.maximum(np.abs(eigenvalues.imag), eigenvalues.real), initial=0.0))
    return rate if math.isfinite(rate) else 0.0


# Points of the initial state where an evolution PDE's local terms are linearised.
LOCAL_RATE_POINTS = 512


def local_rate(problem) -> float:
    """The fastest rate of a forward evolution PDE's local terms linearised at its initial state,
    over :data:`LOCAL_RATE_POINTS` points of it; 0 for any other problem.

    A forward evolution PDE gives each field's highest time derivative from one equation
    (``u_t = F``, ``u_tt = F``), declares every initial value and learns nothing. Its local terms
    are the additive terms of ``F`` without a spatial derivative (reaction, a nonlinear phase
    rotation ``|h|^2 h``): they carry the state forward pointwise, at rates the linearisation
    shows; transport and diffusion are left out (diffusion damps; transport moves the state
    rather than changing it). Gray-Scott from a bump over [0, 200]: fastest growth 0.082, 16
    time scales, 9 stages; collocated at once rel L2 0.157 (doubtful), marched 2.7e-4."""
    from sciml.dsl.conditions import Initial
    from sciml.dsl.symbols import field_name

    time = problem.space_time.time
    if (time is None or len(problem.coordinates) < 2 or problem.data is not None or problem.unknowns
            or problem.unknown_parameters):
        return 0.0
    t = time.coordinates[0]
    fields = {field_name(f): f for r in problem.residuals for f in r.atoms(AppliedUndef)}
    timed = {d for r in problem.residuals for d in r.atoms(sp.Derivative) if t in d.variables}
    if any(set(d.variables) != {t} for d in timed):  # a mixed derivative: no explicit evolution
        return 0.0
    top = {n: max((d.derivative_count for d in timed if field_name(d.expr) == n), default=0) for n in fields}
    chains = {n: [f] + [f.diff(t, k) for k in range(1, top[n])] for n, f in fields.items() if top[n]}
    states = {s: sp.Dummy() for chain in chains.values() for s in chain}
    spatial = {d: sp.Dummy() for r in problem.residuals for d in r.atoms(sp.Derivative) if t not in d.variables}
    held = set(spatial.values())
    rates: dict[str, sp.Expr] = {}
    for r in problem.residuals:
        names = {field_name(d.expr) for d in r.atoms(sp.Derivative) if d in timed}
        if len(names) != 1 or (name := names.pop()) in rates or name not in chains:
            return 0.0
        highest, rate = fields[name].diff(t, top[name]), sp.Dummy()
        equation = r.xreplace({highest: rate})
        slope = sp.diff(equation, rate)
        if slope == 0 or slope.has(rate):  # not solvable for the highest derivative as one expression
            return 0.0
        value = (-equation.subs(rate, 0) / slope).xreplace(spatial).xreplace(states)
        rates[name] = sp.Add(*(term for term in sp.Add.make_args(sp.expand(value, power_exp=False, log=False))
                               if not term.free_symbols & held))
    if set(rates) != set(chains):
        return 0.0
    # d(u)/dt = u_t, ..., d(u_t^(n-1))/dt = the local terms of the equation
    flow = [states[chain[k + 1]] if k + 1 < len(chain) else rates[n] for n, chain in chains.items()
            for k in range(len(chain))]
    initial = {}
    for c in problem.conditions:
        if isinstance(c, Initial) and c.field_name in chains and c.order < len(chains[c.field_name]):
            initial[states[chains[c.field_name][c.order]]] = sp.sympify(c.value)
    if len(initial) != len(states):
        return 0.0
    known = {p: p.value for p in problem.parameters if not p.learn}
    jacobian = sp.Matrix(flow).jacobian(list(states.values())).xreplace(initial).subs(known)
    points = problem.space_time.sample(LOCAL_RATE_POINTS, np.random.default_rng(0))
    points[:, problem.coordinates.index(t)] = float(time.a)
    try:
        entries = [values_at(e, problem.coordinates, points) for e in jacobian]
        matrices = np.stack(entries, axis=-1).reshape(len(points), *jacobian.shape)
        return carrying_rate(np.linalg.eigvals(matrices[np.all(np.isfinite(matrices), axis=(1, 2))]))
    except (TypeError, ValueError, NameError, np.linalg.LinAlgError):  # symbols left
        return 0.0


def local_time_scales(problem) -> float:
    """:func:`local_rate` times the length of the time interval (0 for any other problem)."""
    rate = local_rate(problem)
    if not rate:
        return 0.0
    time = problem.space_time.time
    return rate * (float(time.b) - float(time.a))
