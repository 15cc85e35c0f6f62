"""How many time scales an evolution spans: the rates at which its equations, linearised at the
initial state, carry that state forward (an oscillation's ``|Im|``, a growth ``Re > 0``).

Time marching is chosen from them (:mod:`sciml.recipe`), and the verdict holds an evolution PDE
to a residual bound divided by them (:mod:`sciml.verdict`): an error in the rate of an evolution
adds up over every time scale it spans.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import sympy as sp

from sciml.dsl.explicit import Explicit, explicit_in
from sciml.functions import values_at

__all__ = ["Evolution", "carrying_rate", "evolution", "local_rate", "local_time_scales"]


def carrying_rate(eigenvalues: np.ndarray) -> float:
    """The fastest rate among ``eigenvalues`` that carries a state forward: ``|Im|`` or ``Re > 0``
    (a decaying mode forgets the state)."""
    rate = float(np.max(np.maximum(np.abs(eigenvalues.imag), eigenvalues.real), initial=0.0))
    return rate if math.isfinite(rate) else 0.0


# Points of the initial state where an evolution PDE's local terms are linearised.
LOCAL_RATE_POINTS = 512


@dataclasses.dataclass(frozen=True)
class Evolution(Explicit):
    """A forward evolution PDE: its equations solved for each field's highest time derivative
    (:class:`~sciml.dsl.explicit.Explicit` in time: ``others`` the spatial derivatives,
    ``highest`` the rates ``u_t = F``), and ``initial``, ``{state symbol: its initial value}``
    as an expression of the coordinates."""

    initial: dict[sp.Dummy, sp.Expr] = dataclasses.field(default_factory=dict)


def evolution(problem) -> Evolution | None:
    """The problem as a forward evolution PDE (:class:`Evolution`), or ``None`` when it is not one.

    A forward evolution PDE gives each field's highest time derivative from one equation
    (``u_t = F``, ``u_tt = F``; no mixed derivative), declares every initial value and learns
    nothing (no data, no unknown term or parameter)."""
    from sciml.dsl.conditions import Initial

    time = problem.space_time.time
    if (time is None or len(problem.coordinates) < 2 or problem.data is not None or problem.unknowns
            or problem.unknown_parameters):
        return None
    found = explicit_in(problem, time.coordinates[0])
    if found is None:
        return None
    known = problem.known_values
    initial = {}
    for c in problem.conditions:
        if isinstance(c, Initial) and c.field_name in found.chains and c.order < len(found.chains[c.field_name]):
            initial[found.states[found.chains[c.field_name][c.order]]] = sp.sympify(c.value).subs(known)
    if len(initial) != len(found.states):
        return None
    return Evolution(**{f.name: getattr(found, f.name) for f in dataclasses.fields(found)}, initial=initial)


def local_rate(problem) -> float:
    """The fastest rate of a forward evolution PDE's local terms linearised at its initial state,
    over :data:`LOCAL_RATE_POINTS` points of it; 0 for any other problem.

    A forward evolution PDE is one :func:`evolution` reads. Its local terms are the additive
    terms of ``F`` in ``u_t = F`` without a spatial derivative (reaction, a nonlinear phase
    rotation ``|h|^2 h``): they carry the state forward pointwise, at rates the linearisation
    shows; transport and diffusion are left out (diffusion damps; transport moves the state
    rather than changing it). Gray-Scott from a bump over [0, 200]: fastest growth 0.082, 16
    time scales, 9 stages; collocated at once rel L2 0.157 (doubtful), marched 2.7e-4."""
    found = evolution(problem)
    if found is None:
        return 0.0
    held = set(found.others.values())
    local = {name: sp.Add(*(term for term in sp.Add.make_args(sp.expand(rate, power_exp=False, log=False))
                            if not term.free_symbols & held)) for name, rate in found.highest.items()}
    states = found.states
    # d(u)/dt = u_t, ..., d(u_t^(n-1))/dt = the local terms of the equation
    flow = [states[chain[k + 1]] if k + 1 < len(chain) else local[n] for n, chain in found.chains.items()
            for k in range(len(chain))]
    jacobian = sp.Matrix(flow).jacobian(list(states.values())).xreplace(found.initial)
    points = problem.space_time.sample(LOCAL_RATE_POINTS, np.random.default_rng(0))
    points[:, problem.coordinates.index(found.coordinate)] = float(problem.space_time.time.a)
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
