"""The generic training recipe: settings chosen from the problem itself, with the reasons.

A problem file says what is true (equations, domain, conditions, data); how to train it is
chosen here, from what the problem shows:

* its **dimension**, **time dependence** and **derivative orders**, and whether the equations
  are **nonlinear** in the fields (products of fields and derivatives: steep fronts, shocks);
* its **periodic conditions**, made exact by construction (a Fourier embedding of the periodic
  coordinate, :class:`sciml.dsl.Periodic` ``hard=True``) rather than penalised;
* the **frequencies visible** in its sources, conditions and exact solution (``sin(k x)``):
  beyond a few periods across the domain, random Fourier features with a matching scale
  counter the spectral bias of plain networks (Tancik et al. 2020, Wang et al. 2021);
* the **number of fields** and whether **parameters are learned**
  from data (identification converges after the fields fit: a longer quasi-Newton phase);
* its **unknown terms** (:func:`sciml.dsl.Unknown`): each a small MLP of its inputs, trained
  with the fields (:data:`UNKNOWN_NETWORK`).

The optimisation is Adam with an exponentially decaying rate on collocation points drawn afresh
every few hundred steps, then a quasi-Newton phase — self-scaled dense BFGS for networks of up to
a few thousand parameters (:mod:`sciml.training.quasi_newton`), L-BFGS with a long memory for
larger ones — stopped by a time budget or when its
progress on held-out points stalls (keeping its best parameters) — not only by a step count.

The network's outputs are scaled so that no equation term dwarfs what the untrained network
contributes (:mod:`sciml.scales`, estimated when the network is built).

Every choice is recorded with its reason (``metrics.json["recipe"]``), and every one stays
overridable: a problem file's ``defaults``, ``sciml solve --option/--train`` and the keyword
arguments of :func:`sciml.solve` all take precedence.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import numpy as np
import sympy as sp
from sympy.core.function import AppliedUndef

from sciml.functions import lambdify, values_at
from sciml.time_scales import carrying_rate, local_rate

__all__ = ["Features", "Recipe", "features", "choose"]

TIME_BUDGET = 480.0  # seconds per run: the quasi-Newton phase stops when it is spent
MAX_LBFGS = 20000  # iterations; the budget or a stall ends it long before on most problems
DENSE_BFGS_PARAMETERS = 5000  # up to this many, the quasi-Newton phase keeps a dense inverse Hessian
ADAM_BEFORE_DENSE_BFGS = 1000  # Adam steps before a dense quasi-Newton phase (4000 before L-BFGS)
FOURIER_PERIODS = 4.0  # more periods than this across the domain call for Fourier features
FOURIER_FEATURES = 64  # random Fourier features, when they are called for
POINTS_PER_PARAMETER = 1.0  # interior points per network parameter and equation, at least
RESAMPLE_EVERY = 500  # Adam steps between fresh collocation points
POINTS_PER_PERIOD = 10.0  # interior points per period of a visible frequency, along each coordinate
# Time marching of a forward ODE: each stage adds this many of the fastest time scales of the
# linearisation at the initial state (pendulum from 2.5 rad over [0, 5], 14 time scales: at once,
# rel L2 1.9; 4 stages of equal size 3e-4 in one run and 1.6 in another; 8 stages 1.2e-3). The
# trainer halves a stage whose equations are left unbalanced (a fast transient the linearisation
# at the start does not see).
TIME_SCALES_PER_STAGE = 2.0
# The network of each unknown term: a closure of a few inputs is a smooth, low-dimensional
# function, which two tanh layers of 16 represent; its last layer starts small, so training
# begins from the known physics rather than from a random term of order one.
UNKNOWN_NETWORK = {"hidden": [16, 16], "activation": "tanh", "final_scale": 0.1}


@dataclasses.dataclass(frozen=True)
class Features:
    """What the recipe reads from a problem."""

    dimension: int
    time_dependent: bool
    derivative_order: int
    nonlinear: bool
    n_fields: int
    periodic: tuple[str, ...]
    soft_periodic: tuple[str, ...]
    periods: dict[str, float]  # highest number of periods across the domain, per coordinate
    spectrum: dict[str, tuple[float, ...]]  # every number of periods seen, per coordinate
    learned_parameters: int
    has_data: bool
    unknowns: int = 0  # unknown terms (networks inside the equations)


@dataclasses.dataclass
class Recipe:
    """Chosen settings: ``model``, ``model_options``, ``train`` and the problem to train on
    (periodic conditions made exact), with ``reasons[choice] = why``."""

    model: str
    model_options: dict[str, Any]
    train: dict[str, Any]
    problem: Any
    reasons: dict[str, str]

    def record(self, applied_model: dict, applied_train: dict) -> dict[str, Any]:
        """The ``metrics.json["recipe"]`` entry: what was chosen, why, and what was overridden."""
        overridden = sorted({*(k for k in self.model_options if applied_model.get(k) != self.model_options[k]),
                             *(k for k in self.train if applied_train.get(k) != self.train[k])})
        return {"model": self.model, "model_options": self.model_options, "train": self.train,
                "reasons": self.reasons, "overridden": overridden}


def _expressions(problem):
    yield from problem.residuals
    for c in problem.conditions:
        if getattr(c, "value", None) is not None:
            yield sp.sympify(c.value)
    for e in (problem.exact or {}).values():
        yield sp.sympify(e)


# A sin/cos term of a sum counts as visible when its amplitude is at least this share of the
# largest term's of the same sum: a series written to 39 modes (a membrane's, falling like
# 1/(m n (m^2 + n^2))) asked for 38,500 points to resolve modes a thousandth of the first.
VISIBLE_AMPLITUDE = 1e-2


def _visible_terms(expr):
    """The additive terms of ``expr`` holding a sin/cos whose numeric amplitude is at least
    :data:`VISIBLE_AMPLITUDE` of the largest such term's (a term without a numeric coefficient
    counts as amplitude one), and every term when there is no sum."""
    terms = [t for t in sp.Add.make_args(expr) if t.has(sp.sin, sp.cos)]

    def amplitude(term) -> float:
        coefficient, _ = term.as_coeff_Mul()
        try:
            return abs(float(coefficient))
        except (TypeError, ValueError):
            return 1.0

    amplitudes = [amplitude(t) for t in terms]
    largest = max(amplitudes, default=0.0)
    return [t for t, a in zip(terms, amplitudes) if a >= VISIBLE_AMPLITUDE * largest]


def _spectrum(problem) -> dict[str, tuple[float, ...]]:
    """Numbers of periods across the domain of every sin/cos in the sources, conditions and
    exact solution, per coordinate (ascending); in a sum, only the terms of a visible amplitude
    (:data:`VISIBLE_AMPLITUDE`)."""
    lower, upper = problem.space_time.bounds()
    extent = {c: float(hi - lo) for c, lo, hi in zip(problem.coordinates, lower, upper)}
    out: dict[str, set[float]] = {str(c): set() for c in problem.coordinates}
    for expr in _expressions(problem):
        for f in set().union(*(t.atoms(sp.sin, sp.cos) for t in _visible_terms(expr))):
            arg = f.args[0]
            for c in problem.coordinates:
                k = sp.diff(arg, c)
                if k.free_symbols or k == 0:
                    continue
                out[str(c)].add(round(abs(float(k)) * extent[c] / (2 * math.pi), 6))
    return {c: tuple(sorted(v)) for c, v in out.items()}


def _nonlinear(problem) -> bool:
    """Whether an equation is nonlinear in the fields: a product of fields or derivatives, or a
    function (sin u, exp u) of one."""
    for r in problem.residuals:
        unknowns = sorted(r.atoms(sp.Derivative) | r.atoms(AppliedUndef), key=sp.default_sort_key)
        dummies = {u: sp.Dummy() for u in unknowns}
        body, names = r.xreplace(dummies), list(dummies.values())
        if names and (not body.is_polynomial(*names) or sp.Poly(body, *names).total_degree() > 1):
            return True
    return False


def features(problem) -> Features:
    """Read the :class:`Features` of a problem."""
    from sciml.dsl.conditions import Periodic

    order = 0
    for r in problem.residuals:
        for d in r.atoms(sp.Derivative):
            order = max(order, sum(int(n) for _, n in d.variable_count))
    periodic = tuple(dict.fromkeys(str(c.coordinate) for c in problem.conditions if isinstance(c, Periodic)))
    soft = tuple(dict.fromkeys(str(c.coordinate) for c in problem.conditions
                               if isinstance(c, Periodic) and not c.hard))
    spectrum = _spectrum(problem)
    return Features(
        dimension=len(problem.coordinates),
        time_dependent=problem.space_time.time is not None,
        derivative_order=order,
        nonlinear=_nonlinear(problem),
        n_fields=len(problem.field_names),
        periodic=periodic,
        soft_periodic=soft,
        periods={c: max(v, default=0.0) for c, v in spectrum.items()},
        spectrum=spectrum,
        learned_parameters=len(problem.unknown_parameters),
        has_data=problem.data is not None,
        unknowns=len(problem.unknowns),
    )


def _exact_periodic(problem, feats: Features, reasons: dict) -> Any:
    """The problem with its periodic conditions made exact, with direct access to the
    harmonics the sources and conditions show (a few modes at most)."""
    if not feats.soft_periodic:
        return problem
    modes = max(1, min(8, math.ceil(max(feats.periods.get(c, 0.0) for c in feats.periodic))))
    try:
        exact = problem.with_exact_periodicity(modes=modes)
    except Exception as err:  # noqa: BLE001 - a rejected rewrite keeps the soft conditions
        reasons["periodic"] = f"kept soft: exact periodicity was not possible here ({err})"
        return problem
    reasons["periodic"] = (f"periodic in {', '.join(feats.soft_periodic)}: imposed exactly by a Fourier "
                           f"embedding of the coordinate ({modes} mode{'s' if modes > 1 else ''}; values and "
                           "all derivatives periodic) instead of a penalty")
    return exact


def _touches(problem, condition, points) -> bool:
    """Whether ``condition``'s piece passes through (within 1% of the domain's extent of) one of
    ``points``."""
    from sciml.dsl.problem import condition_piece, domain_extent

    if not points:
        return False
    distance = values_at(condition_piece(problem, condition).distance, problem.coordinates, points)
    return bool(np.min(np.abs(distance)) < 1e-2 * domain_extent(problem))


def _periodic_data(problem, condition, derivatives: int = 2) -> bool:
    """Whether a condition's data are periodic, with their first ``derivatives`` derivatives, in
    every coordinate the problem makes exactly periodic. An exact initial value ``u0 + t N``
    with a periodic ``N`` is periodic only if ``u0`` is: ``2 sech x`` on ``[-5, 5]`` is not
    (its slope differs at the ends), and imposing both exactly would leave no exact solution."""
    from sciml.dsl.conditions import Periodic

    lower, upper = problem.space_time.bounds()
    ends = {c: (float(lo), float(hi)) for c, lo, hi in zip(problem.coordinates, lower, upper)}
    value = sp.sympify(condition.value)
    for c in {p.coordinate for p in problem.conditions if isinstance(p, Periodic) and p.hard}:
        others = [o for o in problem.coordinates if o != c]
        z = np.random.default_rng(0).uniform(0, 1, (64, len(others)))
        at = {o: ends[o][0] + (ends[o][1] - ends[o][0]) * z[:, k] for k, o in enumerate(others)}
        for order in range(derivatives + 1):
            expr = sp.diff(value, c, order) if order else value
            left = values_at(expr, [c, *others], np.column_stack([np.full(len(z), ends[c][0]), *at.values()]))
            right = values_at(expr, [c, *others], np.column_stack([np.full(len(z), ends[c][1]), *at.values()]))
            scale = max(1.0, float(np.max(np.abs(left))))
            if np.max(np.abs(left - right)) > 1e-6 * scale:
                return False
    return True


def _exact_conditions(problem, reasons: dict) -> Any:
    """The problem with its Dirichlet and initial conditions imposed exactly where the data
    allow it, so the loss holds only the equations (and what cannot be exact).

    Dirichlet conditions become exact unless their piece passes through a point where boundary
    or initial data jump (:func:`~sciml.dsl.problem.jump_points`: a driven lid against still
    walls), for every field; an initial value becomes
    exact too, and a first-order initial condition with it, when their data are periodic
    wherever the problem is exactly periodic (see :func:`_periodic_data`). Conditions whose data hold a
    learned parameter stay soft (the parameter must be free to move). If the exact version does
    not compile (data that disagree at the start of time), the problem is kept as written."""
    from sciml.dsl.compile import compile_problem
    from sciml.dsl.conditions import Dirichlet, Initial
    from sciml.dsl.diffusion_front import DiffusionFront
    from sciml.dsl.errors import ProblemError
    from sciml.dsl.point_source import PointSource
    from sciml.dsl.problem import jump_points
    from sciml.dsl.symmetries import DivergenceFree

    learned = set(problem.unknown_parameters)
    # Fields built from a stream function cannot also be built by a distance factor.
    streamed = {n for s in problem.symmetries if isinstance(s, DivergenceFree) and s.hard for n in s.field_names}

    # A diffusion front's tail (a point source's far field) reaches the held values of its
    # field: the network meets them.
    fronted = {e.field for e in problem.enrichments if isinstance(e, (DiffusionFront, PointSource))}

    def candidate(c) -> bool:
        return (not c.hard and isinstance(c, (Dirichlet, Initial)) and c.weight == 1.0
                and c.field_name not in streamed and not (sp.sympify(c.value).free_symbols & learned)
                and not (isinstance(c, Dirichlet) and c.field_name in fronted))

    # Near a point where boundary data jump (a driven lid against still walls) every field of
    # the exact solution is singular; an exact piece through it (u = G + D N, D vanishing on
    # the piece) would make the network itself singular there. Such pieces stay loss terms
    # (the residuals fade out near the jump: CompiledProblem.fade). Measured on the lid-driven
    # cavity: still walls exact and the lid soft, rel L2 0.38-0.46; every wall soft, 0.16. With
    # the corner flow carrying the lid's corners, v = 0 exact on every wall (its data do not
    # jump): 1.3e-2 against 4.2e-3 soft (seed 2).
    jumps = jump_points(problem)
    promote: set[int] = set()
    initial: set[int] = set()
    for name in problem.field_names:
        promote.update(i for i, c in enumerate(problem.conditions)
                       if isinstance(c, Dirichlet) and c.field_name == name and candidate(c)
                       and not _touches(problem, c, jumps))
        orders = {c.order: i for i, c in enumerate(problem.conditions)
                  if isinstance(c, Initial) and c.field_name == name}
        if (0 in orders and (problem.conditions[orders[0]].hard or candidate(problem.conditions[orders[0]]))
                and not _touches(problem, problem.conditions[orders[0]], jumps)
                and all(_periodic_data(problem, problem.conditions[i]) for i in orders.values())):
            initial.update(i for i in orders.values() if candidate(problem.conditions[i]))

    def rewritten(chosen):
        return dataclasses.replace(problem, conditions=tuple(
            dataclasses.replace(c, hard=True) if i in chosen else c for i, c in enumerate(problem.conditions)))

    why_soft = ("pieces through a point where data jump, data that disagree with the boundary data at the start, "
                "are not periodic where the problem is, hold a learned parameter, or hold a field whose added "
                "singular part reaches them: a diffusion front, a point source")
    soft = [c.describe() for c in problem.conditions if not c.hard and isinstance(c, (Dirichlet, Initial))]
    # Initial data that disagree with the boundary data at the start of time stay soft.
    for promote in (promote | initial, promote):
        if not promote:
            if soft and "exact_conditions" not in reasons:
                reasons["exact_conditions"] = f"kept as loss terms ({why_soft}): {', '.join(soft)}"
            return problem
        exact = rewritten(promote)
        try:
            compile_problem(exact)
            break
        except ProblemError as err:
            reasons["exact_conditions"] = f"kept as written: imposing them exactly was not possible here ({err})"
    else:
        return problem
    made = [problem.conditions[i].describe() for i in sorted(promote)]
    kept = [c.describe() for i, c in enumerate(problem.conditions)
            if i not in promote and not c.hard and isinstance(c, (Dirichlet, Initial))]
    reasons["exact_conditions"] = ("imposed exactly by the output transform (a distance factor times the "
                                   "network), not penalised: " + ", ".join(made)
                                   + (f"; kept as loss terms ({why_soft}): {', '.join(kept)}" if kept else ""))
    return exact


def _positive_states(problem, reasons: dict) -> Any:
    """The problem with the initial condition of every state of a forward ODE system that stays
    positive marked ``positive`` (represented as ``u0 exp(tau N)``; see
    :class:`~sciml.dsl.conditions.Initial`).

    A state stays positive when its initial value is positive and its rate vanishes wherever the
    state does (``du/dt = u g(...)``: populations, concentrations consumed in proportion to
    themselves, a logistic or exponential decay): ``u = 0`` is then a solution the trajectory
    cannot cross. Its hard initial condition is the only one on the field. Such a state may
    fall by orders of magnitude between peaks (predator and prey: 12 down to 0.02), where a
    network of the field itself must resolve a thousandth of its peak; its logarithm changes by
    a few units."""
    from sciml.dsl.conditions import Initial

    system = _forward_system(problem)
    if system is None:
        return problem
    chosen = []
    for i, c in enumerate(problem.conditions):
        if not (isinstance(c, Initial) and c.hard and c.order == 0 and not c.positive):
            continue
        if sum(d.field_name == c.field_name and d.hard for d in problem.conditions) > 1:
            continue
        k = system.state_names.index(c.field_name)
        rate = system.rhs[k].subs(system.parameters)
        value = sp.sympify(c.value).subs({p: p.value for p in problem.parameters})
        if value.is_number and value.is_positive and sp.simplify(rate.subs(system.states[k], 0)) == 0:
            chosen.append(i)
    return _mark_initial(problem, chosen, "positive", reasons, (
        "start positive and their rates vanish with them (du/dt = u g): they stay positive, and may fall by orders "
        "of magnitude between peaks; represented as u0 exp(tau N), the network learns their logarithms, and their "
        "equations are divided by them (w' = g for w = log u), so a growth rate in a trough counts as much as one "
        "at a peak"))


def _mark_initial(problem, chosen: list[int], flag: str, reasons: dict, why: str) -> Any:
    """``problem`` with the initial conditions numbered ``chosen`` given ``flag=True`` (a
    representation of their fields), and ``reasons[f"{flag}_states"]`` naming the fields and ``why``."""
    if not chosen:
        return problem
    names = [problem.conditions[i].field_name for i in chosen]
    reasons[f"{flag}_states"] = f"{', '.join(names)} {why}"
    return dataclasses.replace(problem, conditions=tuple(
        dataclasses.replace(c, **{flag: True}) if i in chosen else c for i, c in enumerate(problem.conditions)))


def _nonnegative_states(problem, reasons: dict) -> Any:
    """The problem with the initial condition of every state of a forward ODE system that starts
    at zero and can never turn negative marked ``nonnegative`` (represented as ``tau softplus(N)``;
    see :class:`~sciml.dsl.conditions.Initial`).

    A system is essentially nonnegative when each state's rate, where that state is zero and the
    others are not negative, is not negative either: mass-action kinetics, epidemics,
    compartments. Read from the equations: with the state set to zero its rate must be a
    polynomial in states of the same kind with positive coefficients (or zero), the set found by
    striking out states until every remaining one passes. A state of it that starts at zero (a
    reaction's product, a recovered count) may otherwise be fitted through negative values: on
    Robertson's kinetics a network stalled with the intermediate below zero, where ``3e7 y2^2``
    is as large as above it."""
    from sciml.dsl.conditions import Initial

    system = _forward_system(problem)
    if system is None:
        return problem
    known = {p: p.value for p in problem.parameters}
    starts = {c.field_name: (i, sp.sympify(c.value).subs(known)) for i, c in enumerate(problem.conditions)
              if isinstance(c, Initial) and c.hard and c.order == 0}
    states = dict(zip(system.state_names, system.states))
    inner = {n for n, (_, v) in starts.items() if n in states and v.is_number and v >= 0}
    gains = {}
    for name in inner:
        k = system.state_names.index(name)
        gains[name] = sp.expand(system.rhs[k].subs(system.parameters).subs(states[name], 0))
    changed = True
    while changed:  # strike out states whose gain could be negative, given the states left
        changed = False
        for name in sorted(inner):
            gain = gains[name]
            symbols = {states[n] for n in inner}
            ok = gain.is_zero or (gain.free_symbols <= symbols and gain.is_polynomial(*symbols)
                                  and all(c.is_number and c > 0 for c in sp.Poly(gain, *symbols).coeffs()))
            if not ok:
                inner.discard(name)
                changed = True
    alone = {n for n in inner if sum(d.field_name == n and d.hard for d in problem.conditions) == 1}
    chosen = [starts[n][0] for n in sorted(alone) if starts[n][1].is_zero]  # (a positive start is never zero)
    return _mark_initial(problem, chosen, "nonnegative", reasons, (
        "start at zero in a system whose rates are never negative where a state is zero (the others not "
        "negative): they never turn negative; represented as tau softplus(N), the network cannot fit them through "
        "negative values"))


def _equation_weights(problem) -> dict[str, float]:
    """``{residual term: weight}`` that put the equations of a forward ODE system with positive
    states on one footing: ``1 / s²``, ``s`` the RMS of an equation's largest balanced term along
    the classical integration (the verdict's reference; only its size is taken). A positive
    state's equation, divided by the state, is a rate of order one; its neighbours' (an
    epidemic's recovered count, ``R' = gamma I``) keep the units of their states, and without
    weights they dominate the loss (SIR: 20% of the interval reached, doubtful). Empty for a
    single equation, a system of higher order or a failed integration."""
    from sympy.core.function import AppliedUndef

    from sciml.dsl.symbols import field_name
    from sciml.dsl.terms import additive_terms
    from sciml.dynamics.problem import classical_reference

    residuals = problem.balanced_residuals
    system = _forward_system(problem)  # (a state marked positive by hand may belong to any problem)
    if len(residuals) < 2 or system is None:
        return {}
    reference, _ = classical_reference(problem)
    if reference is None or len(system.states) != len(problem.field_names):
        return {}
    t = system.time
    fields = {field_name(f): f for r in problem.residuals for f in r.atoms(AppliedUndef)}
    states = dict(zip(system.state_names, system.states))
    rates = {fields[n].diff(t): rate for n, rate in zip(system.state_names, system.rhs)}
    values = [reference[n].values for n in system.state_names]
    weights = {}
    for k, r in enumerate(residuals):
        terms = [sp.sympify(term).xreplace(rates).xreplace({f: states[n] for n, f in fields.items()})
                 .subs(system.parameters) for term in additive_terms(r)]
        sizes = np.abs(np.array([np.broadcast_to(lambdify([t, *system.states], term, "numpy")(
            reference[str(t)].values, *values), values[0].shape) for term in terms], dtype=float))
        size = float(np.sqrt(np.mean(np.max(sizes, axis=0) ** 2)))
        if not (math.isfinite(size) and size > 0):
            return {}
        weights[f"residual:{k}"] = float(f"{size ** -2:.2g}")
    return weights


def rewrite_record(problem) -> dict[str, Any]:
    """What the recipe changed in a problem, as plain data for ``metrics.json``: the conditions
    it trains as hard (index, and Fourier modes of an exact periodic one), the initial ones it
    represents as positive or nonnegative (index) and its enrichments.
    A finished run is rebuilt from this record (:func:`apply_rewrite`), not by choosing again:
    a later recipe may choose otherwise."""
    from sciml.dsl.conditions import Periodic

    return {"hard": [[i, c.modes if isinstance(c, Periodic) else None] for i, c in enumerate(problem.conditions)
                     if c.hard],
            "positive": [i for i, c in enumerate(problem.conditions) if getattr(c, "positive", False)],
            "nonnegative": [i for i, c in enumerate(problem.conditions) if getattr(c, "nonnegative", False)],
            "enrichments": [{"kind": e.KIND, **dataclasses.asdict(e)} for e in problem.enrichments]}


def apply_rewrite(problem, record: Any) -> Any:
    """``problem`` as a run recorded by :func:`rewrite_record` trained it. The record is data
    from a file: every entry is checked against the problem and rebuilt from plain numbers and
    names; anything else is refused with a ``ValueError``."""
    from sciml.dsl.conditions import Initial, Periodic
    from sciml.dsl.corner_flow import StokesCorner
    from sciml.dsl.diffusion_front import DiffusionFront
    from sciml.dsl.errors import ProblemError
    from sciml.dsl.point_source import PointSource

    def refuse(what: str):
        raise ValueError(f"the run's recorded problem rewrite {what}; it was not trained on this problem")

    if not isinstance(record, dict) or not isinstance(record.get("hard"), list) or not isinstance(
            record.get("enrichments"), list) or set(record) - {"hard", "positive", "nonnegative", "enrichments"}:
        refuse("is not a record of hard conditions and enrichments")
    conditions = list(problem.conditions)
    for entry in record["hard"]:
        if not (isinstance(entry, list) and len(entry) == 2 and type(entry[0]) is int
                and 0 <= entry[0] < len(conditions) and (entry[1] is None or type(entry[1]) is int)):
            refuse(f"names a condition {entry!r} the problem does not have")
        c = conditions[entry[0]]
        if isinstance(c, Periodic) != (entry[1] is not None):
            refuse(f"makes condition {entry[0]} ({c.describe()}) hard in a way it cannot be")
        conditions[entry[0]] = dataclasses.replace(c, hard=True, **({"modes": entry[1]} if entry[1] else {}))
    for flag in ("positive", "nonnegative"):
        marked = record.get(flag, [])  # (absent from the records of earlier runs)
        if not isinstance(marked, list):
            refuse(f"holds {flag} states that are not a list of condition numbers")
        for entry in marked:
            if not (type(entry) is int and 0 <= entry < len(conditions) and isinstance(conditions[entry], Initial)
                    and conditions[entry].hard):
                refuse(f"marks a condition {entry!r} {flag} that is not a hard initial condition of the problem")
            conditions[entry] = dataclasses.replace(conditions[entry], **{flag: True})
    kinds = {kind.KIND: kind for kind in (StokesCorner, DiffusionFront, PointSource)}
    enrichments = []
    for entry in record["enrichments"]:
        kind = kinds.get(entry.get("kind")) if isinstance(entry, dict) else None
        names = [f.name for f in dataclasses.fields(kind)] if kind else []
        if kind is None or set(entry) != {"kind", *names}:
            refuse(f"holds an enrichment {str(entry)[:80]!r} that is not one sciml adds")
        values = {}
        for name in names:
            value = entry[name]
            items = value if isinstance(value, list) else [value]
            if not all(isinstance(v, (str, int, float)) and not isinstance(v, bool) for v in items):
                refuse(f"holds a {kind.__name__} {name} that is not plain numbers or names")
            values[name] = tuple(value) if isinstance(value, list) else value
        enrichments.append(kind(**values))
    try:  # a representation the condition cannot take (a nonzero start marked nonnegative) is the record's fault
        return dataclasses.replace(problem, conditions=tuple(conditions), enrichments=tuple(enrichments))
    except ProblemError as error:
        refuse(f"does not fit the problem ({error})")


def _duration(problem) -> float:
    time = problem.space_time.time
    return float(time.b) - float(time.a)


def _forward_system(problem):
    """The explicit ODE system of a forward ODE problem (a time interval alone, its initial
    state declared, nothing learned), or None for any other problem."""
    from sciml.dsl.errors import ProblemError
    from sciml.dynamics.problem import is_ode, ode_system

    if not is_ode(problem):
        return None
    try:
        system = ode_system(problem)
    except ProblemError:
        return None
    return system if system.is_forward else None


def _ode_rate(problem) -> float:
    """The fastest rate of a forward ODE system's Jacobian at its initial state (0 for any other
    problem): an oscillation's frequency ``|Im|`` or a growth rate ``Re > 0``."""
    system = _forward_system(problem)
    if system is None:
        return 0.0
    at = {**system.parameters, **system.initial, system.time: problem.space_time.time.a}
    try:
        jacobian = np.array(sp.Matrix(system.rhs).jacobian(system.states).subs(at).evalf(), dtype=float)
        return carrying_rate(np.linalg.eigvals(jacobian))
    except (TypeError, ValueError, np.linalg.LinAlgError):  # symbols left, or not finite there
        return 0.0


def _marching_stages(problem) -> tuple[int, float]:
    """``(stages, rate)``: the time-marching stages of a forward evolution, from the fastest rate
    that carries its initial state forward (:func:`_ode_rate` for an ODE system,
    :func:`sciml.time_scales.local_rate` for a PDE), :data:`TIME_SCALES_PER_STAGE` time scales a stage; ``(1, 0.0)`` for any other
    problem. A decaying mode forgets the initial state, so its rate does not count (a relaxation
    ``y' = -50 (y - cos t)`` over [0, 3], all at once: 1.95e-4 from the classical integration in
    30 s; in 16 stages: 6.7e-5 in 269 s). Forcing that depends on time explicitly is not seen by
    the linearisation."""
    from sciml.training.config import MAX_TIME_STAGES

    rate = _ode_rate(problem) or local_rate(problem)
    if rate <= 0.0:
        return 1, 0.0
    stages = math.ceil(round(rate * _duration(problem) / TIME_SCALES_PER_STAGE, 9))  # 8.000000001 is 8
    return max(1, min(stages, MAX_TIME_STAGES)), rate


def _network_parameters(compiled, model: str, options: dict) -> int:
    """Trainable parameters of the surrogate the options describe, on the compiled problem's inputs."""
    from sciml.models import build_model
    from sciml.result import count_parameters

    return count_parameters(build_model(model, compiled.input_dimension, len(compiled.field_names), **options))


def _corner_flows(problem, reasons: dict) -> Any:
    """The problem with the known singular parts added where its data jump, unless it declares
    enrichments itself: the local Stokes flow at every corner where its wall velocities jump
    (:func:`sciml.dsl.corner_flow.stokes_corners`), the diffusion front where a held end meets
    another start (:func:`sciml.dsl.diffusion_front.diffusion_fronts`), the free-space solution of
    a source at a point (:func:`sciml.dsl.point_source.point_sources`)."""
    from sciml.dsl.corner_flow import stokes_corners
    from sciml.dsl.diffusion_front import diffusion_fronts
    from sciml.dsl.point_source import point_sources

    if problem.enrichments:
        return problem
    corners, why = stokes_corners(problem)
    fronts, why_fronts = diffusion_fronts(problem)
    sources, why_sources = point_sources(problem)
    if sources:
        reasons["point_sources"] = why_sources
    if corners:
        # Measured on the lid-driven cavity (480 s): rel L2 4.3e-2 / 3.3e-2 without (seeds 0, 1),
        # 1.65e-3 / 1.73e-3 / 4.15e-3 with (seeds 0, 1, 2).
        reasons["corner_flows"] = why
    if fronts:
        reasons["diffusion_fronts"] = why_fronts
    if corners or fronts or sources:
        return dataclasses.replace(problem, enrichments=(*corners, *fronts, *sources))
    return problem


def choose(problem, model: str | None = None, *, exact_conditions: bool = True, corner_flows: bool = True,
           model_options: dict | None = None) -> Recipe:
    """The generic recipe for ``problem`` and surrogate ``model`` (``"mlp"`` by default).

    For ``mlp`` and ``kan`` the recipe chooses the architecture; any other registered field
    surrogate (``mlp-lib``, one a user registers) keeps its own, built with ``model_options``,
    and gets the same rewrite, points and optimiser settings, sized by its parameter count.

    ``exact_conditions=False`` keeps the Dirichlet and initial conditions as the problem states
    them (soft unless marked ``hard``) instead of imposing them exactly where the data allow;
    ``corner_flows=False`` adds no known singular part: no local Stokes flow at corners where
    wall velocities jump, no diffusion front where a held end meets another start."""
    from sciml.dsl.compile import compile_problem
    from sciml.dsl.interfaces import material_interfaces

    model = model or "mlp"
    feats = features(problem)
    reasons: dict[str, str] = {}
    target = _exact_periodic(problem, feats, reasons)
    if corner_flows:
        target = _corner_flows(target, reasons)
    if exact_conditions:
        target = _exact_conditions(target, reasons)
        target = _positive_states(target, reasons)
        target = _nonnegative_states(target, reasons)
    compiled = compile_problem(target)
    interfaces = material_interfaces(target)
    if interfaces:
        reasons["interfaces"] = (
            "a coefficient of the highest derivatives jumps across " + ", ".join(i.describe() for i in interfaces)
            + ": the network also sees the distance to each surface (the fields may bend there) and each "
            "second-order equation's normal flux is held equal on both sides (a loss term); differentiated "
            "piece by piece, the equations alone do not say so")
    wide = feats.dimension > 2
    hard_front = feats.nonlinear and feats.time_dependent
    max_periods = max(feats.periods.values(), default=0.0)

    options: dict[str, Any] = {}
    if model == "mlp":
        width = 64 if wide else 32
        options = {"hidden": (width,) * 4, "activation": "tanh"}
        reasons["architecture"] = (f"tanh MLP, 4 hidden layers of {width}: smooth derivatives of every order; "
                                   + ("wider for more than two coordinates" if wide else
                                      "compact (a few thousand parameters) on at most two coordinates, so the "
                                      "quasi-Newton phase can keep a dense inverse Hessian (Urbán et al. 2025, "
                                      "Kiyani et al. 2025)"))
        if max_periods > FOURIER_PERIODS:
            # The embedding sees coordinates scaled to [-1, 1]: n periods across the domain is a
            # frequency of n/2 in those units; the Gaussian scale covers it at about 2 sigma.
            scale = round(max_periods / 4.0, 3)
            lowest = min((p for v in feats.spectrum.values() for p in v if p > 0), default=max_periods)
            multiscale = max_periods >= FOURIER_PERIODS * lowest
            options["fourier_scale"] = (max(round(lowest / 4.0, 3), 0.25), scale) if multiscale else scale
            # (Fixed features at the frequencies the sources show, and at their sums and
            # differences, did worse on poisson_highfreq: 0.10 and 0.26 against 5.8e-2.)
            # As many random features as keep the network within reach of the dense quasi-Newton
            # phase (it gains far more than extra features do), between 16 and 64.
            n_features = FOURIER_FEATURES
            while n_features > 16 and _network_parameters(
                    compiled, model, {**options, "fourier_features": n_features}) > DENSE_BFGS_PARAMETERS:
                n_features -= 8
            options["fourier_features"] = n_features
            reasons["fourier_features"] = (
                f"up to {max_periods:.1f} periods across the domain in the sources/conditions: {n_features} "
                f"random Fourier features (spectral bias of plain networks; as many as keep the network "
                f"within the dense quasi-Newton size) with scale {scale}"
                + (f", half of them at {options['fourier_scale'][0]} for the {lowest:g} period(s) also there "
                   "(one scale fits one end of the spectrum and misses the other)" if multiscale else ""))
    elif model == "kan":
        if hard_front or feats.n_fields > 1:
            options = {"hidden": (8, 8), "grid": 5, "basis": "chebyshev"}
            reasons["architecture"] = ("KAN with two hidden layers of 8 and Chebyshev edges T_n(tanh u): "
                                       "compositions of edges form the steep fronts a nonlinear evolution "
                                       "equation develops")
        else:
            options = {"hidden": (10,), "grid": 5}
            reasons["architecture"] = ("KAN with one hidden layer of 10 and cubic B-spline edges (G = 5): "
                                       "a smooth solution of a linear problem needs few, local edges")

    n_points = 2000 * max(feats.dimension - 1, 1) + (2000 if hard_front else 0)
    parameters = _network_parameters(compiled, model, options if model in ("mlp", "kan") else
                                     dict(model_options or {}))
    # More residual equations than unknowns, so the network cannot interpolate a point set.
    enough = POINTS_PER_PARAMETER * parameters / max(len(problem.residuals), 1)
    # And enough points per period of the finest visible frequency along every coordinate.
    resolved = math.prod(max(1.0, POINTS_PER_PERIOD * p) for p in feats.periods.values())
    n_points = max(n_points, int(math.ceil(max(enough, resolved) / 500.0)) * 500)
    dense = parameters <= DENSE_BFGS_PARAMETERS
    # Adam only has to bring a compact network into the basin the dense quasi-Newton phase then
    # descends far faster (measured on poisson_highfreq, seed 0: 4000 Adam steps left BFGS too
    # little of the budget, rel L2 5.8e-2 to 0.10; 1000 steps, 1.4e-3).
    train: dict[str, Any] = {
        "steps": (ADAM_BEFORE_DENSE_BFGS if dense else 4000) if model != "kan" else 3000,
        "learning_rate": 2e-3 if model != "kan" else (5e-3 if "basis" in options else 1e-2),
        "points": {"interior": n_points, "boundary": 200 * max(feats.dimension - 1, 1)},
        "lbfgs_steps": MAX_LBFGS,
        "lbfgs_memory": 50,
        "time_budget": TIME_BUDGET,
        "stall_window": 1000,
        "stall_tolerance": 1e-2,
    }
    train["final_learning_rate"] = train["learning_rate"] / 10
    if dense:
        train["quasi_newton"] = "ssbfgs"
    method = (f"self-scaled dense BFGS ({parameters} parameters: the n x n inverse-Hessian estimate costs "
              "less than a loss evaluation and keeps all curvature seen, where L-BFGS forgets)" if dense else
              f"L-BFGS (memory 50; {parameters} parameters are too many for a dense inverse Hessian)")
    reasons["optimiser"] = (f"Adam {train['steps']} steps, rate {train['learning_rate']:g} decaying tenfold, "
                            f"then {method}, until its loss on held-out points stalls (< 1% better "
                            f"over 1000 iterations; the best parameters are kept) or {TIME_BUDGET:g} s "
                            "have passed (Adam stops at half of them, or sooner when its loss has stalled and "
                            "it would not finish in that half)")
    train["resample_every"] = RESAMPLE_EVERY
    reasons["points"] = (f"{n_points} interior points, fresh every {RESAMPLE_EVERY} Adam steps"
                         + (f" (at least {POINTS_PER_PARAMETER:g} residual equations per network parameter, "
                            f"{parameters})" if parameters else "")
                         + (", more for the fronts of a nonlinear evolution" if hard_front else "")
                         + (f"; at least {POINTS_PER_PERIOD:g} per period of the finest visible frequency along "
                            f"each coordinate ({resolved:.0f})" if resolved >= n_points - 500 else "")
                         + ": the network learns the equation, not a point set")
    if feats.nonlinear:
        # Measured on the lid-driven cavity (steady): rel L2 0.16 without, 0.096 with.
        train.update(rar_every=1000, rar_add=250)
        reasons["refinement"] = ("nonlinear equations: residual-based refinement (250 worst of 10000 "
                                 "candidates every 1000 steps) where "
                                 + ("fronts form" if hard_front else "boundary and shear layers form"))
    if target.positive_fields:
        weights = _equation_weights(target)
        if weights:
            train["weights"] = weights
            reasons["equation_weights"] = (
                "the equations of positive states are divided by them (rates of order one) and their neighbours' "
                "keep their units: each equation weighted by 1/s^2, s the RMS of its largest term along the classical "
                "integration (only its size is taken): " + ", ".join(f"{k} {v:g}" for k, v in weights.items()))
    stages, rate = _marching_stages(problem)
    if stages > 1:
        train["time_marching"] = stages
        evolution_pde = len(problem.coordinates) > 1
        if evolution_pde:
            train["march_when_unbalanced"] = True
        reasons["time_marching"] = (
            f"the interval spans {rate * _duration(problem):.1f} time scales of the equations"
            f"{' (their terms without a spatial derivative)' if evolution_pde else ''} linearised at "
            f"the initial state (fastest oscillation or growth rate {rate:.3g}): collocated at once, an evolution can settle on a wrong "
            f"trajectory that balances its equations almost everywhere; the collocation points grow from the "
            f"initial state in {stages} stages of {TIME_SCALES_PER_STAGE:g} time scales, each kept only when its "
            "equations are balanced: at once within 1e-3 of their largest term, else at a stall of the "
            "quasi-Newton phase within 1e-2 (time marching)"
            + ("; a PDE is first trained over the whole interval at once and marches only when the first stall "
               "leaves its equations unbalanced beyond 1e-2 (Gray-Scott from a bump: 0.157 at once, doubtful; "
               "marched after its first stall, 4.8e-4; the nonlinear Schrodinger, balanced at once: 9.4e-4, "
               "marched from the start 1.16e-3 in three times the time)" if evolution_pde else ""))
    if feats.unknowns:
        train["unknown_network"] = dict(UNKNOWN_NETWORK)
        reasons["unknowns"] = (
            f"{feats.unknowns} unknown term(s), each an MLP of its inputs with hidden layers "
            f"{UNKNOWN_NETWORK['hidden']} ({UNKNOWN_NETWORK['activation']}; last layer scaled by "
            f"{UNKNOWN_NETWORK['final_scale']:g} so training starts from the known physics): a closure of a few "
            "inputs is smooth and low-dimensional, and a small network keeps it identifiable from the data")
    if feats.has_data:
        from sciml.verdict import THRESHOLDS

        train["residual_target"] = THRESHOLDS["residual"]
        reasons["data_and_equations"] = (
            "data compete with the equations, and with weights of one their trade depends on the units (noise "
            "fitted at the equations' expense): when the quasi-Newton phase stalls with an equation left "
            f"unbalanced by more than {train['residual_target']:g} of its largest term on fresh points (the "
            "verdict's bound), the residual weights are raised to aim well inside it and training goes on "
            "(Trainer.constrain; --train residual_target=0 turns it off)")
    soft = [c.describe() for c in target.conditions if not c.hard]
    if soft:
        from sciml.verdict import THRESHOLDS

        train["condition_target"] = THRESHOLDS["condition"]
        reasons["conditions_and_equations"] = (
            f"{len(soft)} condition(s) kept as loss terms trade against the equations, and with weights of one "
            "their trade depends on the units (a clamped beam's slope of 1e-3 against a residual of 1e3): when "
            "the quasi-Newton phase stalls with a condition missed on fresh points by more than "
            f"{train['condition_target']:g} of what it prescribes (the verdict's bound), its weight is raised to "
            "aim well inside it and training goes on (Trainer.constrain; --train condition_target=0 turns it off)")
    if feats.learned_parameters or feats.unknowns:
        train["stall_window"] = 2000
        reasons["identification"] = (f"{feats.learned_parameters} parameter(s) and {feats.unknowns} unknown term(s) "
                                     "learned from data: they converge "
                                     "after the fields fit, so L-BFGS waits 2000 iterations before calling a stall")
    return Recipe(model, options, train, target, reasons)
