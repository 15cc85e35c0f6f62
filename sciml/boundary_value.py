r"""A classical check of a steady problem on an interval: the two-point boundary-value solve.

A forward ODE problem is integrated classically, an evolution PDE on an interval solved by the
method of lines (:mod:`sciml.method_of_lines`); this module gives the remaining problems of one
dimension the same check: a steady problem on an interval ``[a, b]`` (a rod, a beam, a fin)
whose every equation gives one field's highest derivative (``-k T'' = q``, ``EI w'''' = q``,
:func:`sciml.dsl.explicit.explicit_in`), with as many conditions at the two ends as the system's
order — Dirichlet, Neumann, Robin or any :class:`~sciml.dsl.conditions.BoundaryEquation` (a
radiating end, a flux through a conductivity that depends on the field) — and nothing learned.

The first-order system is solved by scipy's ``solve_bvp`` (fourth-order collocation on a mesh it
refines itself), on ``[0, 1]`` with every state scaled to unit size. It starts from the surrogate,
so of several solutions of a nonlinear problem it converges to the one the surrogate is near,
and it is solved twice (tolerances :data:`LOOSE` and :data:`TIGHT`): the two solutions' distance
estimates the looser one's error, and a check whose estimate exceeds :data:`ACCURACY` is not made.
"""

from __future__ import annotations

import numpy as np
import sympy as sp
from sympy.core.function import AppliedUndef

from sciml.dsl.metrics import rms
from sciml.functions import lambdify

__all__ = ["ACCURACY", "POINTS", "boundary_value_distance"]

ACCURACY = 1e-3
"""The largest estimated relative error of a solution that is used: a tenth of the verdict's line."""
LOOSE, TIGHT = 1e-6, 1e-9
"""``solve_bvp``'s tolerances of the two solves."""
POINTS = 1001
"""Points of the interval where the surrogate and the solution are compared."""
MAX_NODES = 50_000


def boundary_value_distance(problem, predict) -> tuple[dict[str, float], str | None]:
    """Per field, the relative L2 distance of the surrogate from the boundary-value solution over
    :data:`POINTS` points of the interval, ``({}, None)`` for a problem outside this module's
    scope, ``({}, why)`` when the solve failed or did not converge.

    ``predict``: ``points (n, 1) -> fields (n, n_fields)``, the surrogate (in the problem's
    field order); it is also where the solve starts."""
    system = _read(problem)
    if system is None:
        return {}, None
    lower, upper, members, rates, conditions, joints, joined = system
    length = upper - lower
    x = np.linspace(lower, upper, POINTS)
    predicted = np.asarray(predict(x[:, None]), np.float64)
    if not np.all(np.isfinite(predicted)):
        return {}, "the surrogate is not finite on the interval, so no boundary-value solve could start from it"
    names = list(problem.field_names)
    guess = []
    for name, k in members:  # the surrogate's values and derivatives, as the solve's start
        values = predicted[:, names.index(name)]
        for _ in range(k):
            values = np.gradient(values, x, edge_order=2)
        guess.append(values)
    guess = np.array(guess)
    field_size = {name: rms(predicted[:, names.index(name)]) for name in names}
    scale = np.array([max(rms(g), 1e-2 * field_size[name] / length**k, 1e-300)
                      for g, (name, k) in zip(guess, members)])
    # A condition's miss is judged against its largest term across the interval, as the verdict
    # judges a condition (at its end alone, a wall's zero value would have no size).
    weights = np.array([max(max((rms(np.broadcast_to(part(x, *guess), x.shape)) for part in parts), default=0.0),
                            1e-300) for _, _, parts in conditions])

    # The slope of a state is the next state of its field's chain; of the last, the equation's.
    following = [i + 1 if i + 1 < len(members) and members[i + 1] == (name, k + 1) else None
                 for i, (name, k) in enumerate(members)]
    # Where a coefficient jumps (a layered wall), the interval is solved in pieces, each mapped to
    # [0, 1] with states of its own, joined by the value of every state below the last and the
    # flux of every equation (dsl.interfaces): the strong form holds inside each piece alone.
    edges = np.array([lower, *(p for p, _ in joints), upper])
    m, pieces = len(members), len(edges) - 1
    flux_weights = [np.array([max(rms(np.broadcast_to(flux(x, *guess), x.shape)), abs(jump), 1e-300)
                              for flux, jump in fluxes]) for _, fluxes in joints]
    joins = [(i, joined.get(members[i], lambda at, *states, i=i: states[i]))
             for i, j in enumerate(following) if j is not None]
    # a joined state that carries a coefficient (a beam's moment EI w'') is weighed by its size
    join_scale = {i: rms(np.broadcast_to(join(x, *guess), x.shape)) / max(rms(guess[i]), 1e-300) or 1.0
                  for i, join in joins}

    def fun(xi, z):
        out = []
        for r in range(pieces):
            y = z[r * m:(r + 1) * m] * scale[:, None]
            # each piece's own coefficients up to its ends (a joint belongs to one piece only)
            inside = np.clip(edges[r] + (edges[r + 1] - edges[r]) * xi, edges[r] + 1e-12 * length,
                             edges[r + 1] - 1e-12 * length) if pieces > 1 else edges[r] + length * xi
            highest = iter(rates(inside, *y))
            slopes = [y[j] if j is not None else next(highest) for j in following]
            out.append((edges[r + 1] - edges[r]) * np.array([np.broadcast_to(s, xi.shape) for s in slopes])
                       / scale[:, None])
        return np.concatenate(out)

    def bc(za, zb):
        start, end = za[:m] * scale, zb[(pieces - 1) * m:] * scale
        ends = {0: (lower, start), 1: (upper, end)}
        out = [float(residual(ends[side][0], *ends[side][1])) / w
               for (side, residual, _), w in zip(conditions, weights)]
        for r, ((at, fluxes), fw) in enumerate(zip(joints, flux_weights)):
            before, after = zb[r * m:(r + 1) * m] * scale, za[(r + 1) * m:(r + 2) * m] * scale
            shift = 1e-12 * length  # each side's coefficient, not the one the jump itself takes
            out += [(join(at - shift, *before) - join(at + shift, *after)) / (scale[i] * join_scale[i])
                    for i, join in joins]
            out += [float(flux(at - shift, *before) - flux(at + shift, *after) - jump) / w
                    for (flux, jump), w in zip(fluxes, fw)]
        return np.array(out)

    from scipy.integrate import solve_bvp

    xi = np.linspace(0.0, 1.0, 201)
    start = np.concatenate([np.array([np.interp(edges[r] + (edges[r + 1] - edges[r]) * xi, x, g) for g in guess])
                            for r in range(pieces)]) / np.tile(scale, pieces)[:, None]
    try:
        with np.errstate(all="ignore"):
            first = solve_bvp(fun, bc, xi, start, tol=LOOSE, max_nodes=MAX_NODES)
            second = solve_bvp(fun, bc, first.x, first.y, tol=TIGHT, max_nodes=MAX_NODES) if first.success else first
    except (ValueError, ArithmeticError, np.linalg.LinAlgError) as error:
        return {}, f"the boundary-value solve failed ({error})"
    if not second.success:
        return {}, f"the boundary-value solve from the surrogate did not converge ({second.message})"

    def values(solution):
        out = np.zeros((m, len(x)))
        for r in range(pieces):
            inside = (x >= edges[r]) & (x <= edges[r + 1])
            at = (x[inside] - edges[r]) / (edges[r + 1] - edges[r])
            out[:, inside] = solution.sol(at)[r * m:(r + 1) * m] * scale[:, None]
        return out

    fields = [i for i, (_, k) in enumerate(members) if k == 0]
    loose, tight = values(first), values(second)
    estimate = max(np.linalg.norm(loose[i] - tight[i]) / max(np.linalg.norm(tight[i]), 1e-300) for i in fields)
    if not np.isfinite(estimate) or estimate > ACCURACY:
        return {}, (f"the boundary-value solve did not converge (estimated error {estimate:.1e} > {ACCURACY:.0e})")
    return {members[i][0]: float(np.linalg.norm(predicted[:, names.index(members[i][0])] - tight[i])
                                 / max(np.linalg.norm(tight[i]), 1e-300)) for i in fields}, None


def _read(problem):
    """``(lower, upper, members, rates, conditions, joints, joined)`` of a steady problem on an interval,
    or ``None``: ``members`` the states ``(field, derivative order)``, ``rates`` the highest
    derivatives as a NumPy function of ``(x, *states)``, ``conditions`` ``(side, residual,
    parts)`` with ``residual(x, *states)`` vanishing where it holds and ``parts`` its additive
    terms (the size its miss is judged against), ``joints`` ``(position, fluxes)`` for every
    material interface or surface source inside the interval, ``fluxes`` ``(flux, jump)`` for
    each equation: its flux as a function of ``(x, *states)`` and what it jumps by there, and
    ``joined`` ``{(field, k): relation}`` for states joined with a coefficient (a beam's moment)."""
    from sciml.dsl.conditions import ends_covered
    from sciml.dsl.domains import Interval
    from sciml.dsl.explicit import explicit_in

    from sciml.dsl.interfaces import joined_derivatives, material_interfaces, normal_flux, surface_sources
    from sciml.dsl.symbols import Normal, field_name

    if (problem.space_time.time is not None or len(problem.coordinates) != 1 or problem.data is not None
            or problem.unknowns or problem.unknown_parameters):
        return None
    (space,) = problem.space_time.factors if len(problem.space_time.factors) == 1 else (None,)
    if not isinstance(space, Interval):
        return None
    x, lower, upper = space.coordinates[0], float(space.a), float(space.b)
    found = explicit_in(problem, x)
    if found is None:
        return None
    members = [(name, k) for name, chain in found.chains.items() for k in range(len(chain))]
    symbols = [found.states[found.chains[name][k]] for name, k in members]
    allowed = {*symbols, x}
    if any(e.atoms(AppliedUndef) or not e.free_symbols <= allowed for e in found.highest.values()):
        return None
    known = problem.known_values
    conditions = []
    for c in problem.conditions:
        covered = ends_covered(problem, c.on, x, lower, upper) if c.at_end(x, -1) is not None else None
        if covered is None:
            return None  # a condition of another kind, or inside the interval
        for side, normal in ((0, -1), (1, 1)):
            if not covered[side]:
                continue
            relation = c.at_end(x, normal).subs(known)
            if any(d not in found.states for d in relation.atoms(sp.Derivative)):
                return None  # a derivative at or above the equation's order
            relation = relation.xreplace(found.states)
            if relation.atoms(AppliedUndef) or not relation.free_symbols <= allowed:
                return None
            parts = [lambdify((x, *symbols), term, "numpy") for term in sp.Add.make_args(sp.expand(relation))]
            conditions.append((side, lambdify((x, *symbols), relation, "numpy"), parts))
    if len(conditions) != len(members):
        return None
    rates = lambdify((x, *symbols), [found.highest[name] for name in found.chains], "numpy")
    positions = sorted({round(float(p), 12) for i in material_interfaces(problem)
                        for p in i.points(problem.space_time, 16, np.random.default_rng(0))[:, 0]})
    sources = surface_sources(problem)
    fluxes = {k: normal_flux(r, (x,)).xreplace({Normal(x): 1}).subs(known).xreplace(found.states)
              for k, r in enumerate(problem.residuals)}
    fluxes = {k: f for k, f in fluxes.items() if f != 0}
    if positions and any(f.atoms(AppliedUndef, sp.Derivative) or not f.free_symbols <= allowed for f in fluxes.values()):
        return None
    joints = []
    for p in positions:
        # the flux jumps by -s/|phi'| where the equation holds s * DiracDelta(phi), phi(p) = 0
        jumps = {k: sum((s / sp.Abs(sp.diff(phi, x)) for e, phi, s in sources
                         if e == k and abs(float(phi.subs(x, p))) <= 1e-9 * (upper - lower)), sp.Integer(0)).subs(x, p)
                 for k in fluxes}
        if any(not j.is_number for j in jumps.values()):
            return None  # a source strength that depends on the field
        joints.append((p, [(lambdify((x, *symbols), f, "numpy"), float(jumps[k])) for k, f in fluxes.items()]))
    # what else joins the pieces: a state times a coefficient (a beam's moment EI w'')
    joined = {}
    for f, k, relation in joined_derivatives(problem) if joints else ():
        relation = relation.xreplace({Normal(x): 1}).xreplace(found.states)
        if relation.atoms(AppliedUndef, sp.Derivative) or not relation.free_symbols <= allowed:
            return None
        joined[(field_name(f), k)] = lambdify((x, *symbols), relation, "numpy")
    return lower, upper, members, rates, conditions, joints, joined
