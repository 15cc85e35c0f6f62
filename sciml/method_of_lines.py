r"""A classical reference for a forward evolution PDE on an interval: the method of lines.

A forward ODE problem's surrogate is checked against a classical integration of the same
equations (:func:`sciml.dynamics.problem.classical_reference`); this module gives an evolution
PDE in one space dimension (:func:`sciml.time_scales.evolution`: each field's highest time
derivative from one equation, every initial value declared, nothing learned) the same check.

Space is discretised on a uniform grid: by Fourier collocation when every field is periodic in
``x``, by second-order central differences otherwise, with one condition at each end of a
field that diffuses: its value (Dirichlet) or its slope — Neumann, Robin, or any
:class:`~sciml.dsl.conditions.BoundaryEquation` of the field and its slope solvable for the
slope (a radiating end, ``-k u_x n = eps sigma (u^4 - T^4)``), held to second order by a ghost
point. The system of ODEs is integrated in float64 by scipy's Radau IIA (order 5, L-stable: a
fine grid's diffusion is stiff) with its Jacobian from JAX. The grid doubles until two
solutions agree — their distance estimates the reference's own error — or the finest grid
(:data:`LARGEST_CELLS`, :data:`LARGEST_MODES`) is reached; a reference whose estimate still
exceeds :data:`ACCURACY` (a shock thinner than the finest grid resolves) checks nothing and
says so. Burgers at viscosity 0.01/pi: 1024 and 2048 intervals agree, within 3.4e-4 of the
Cole-Hopf quadrature, in 6 s. Anything else — a second space dimension, a condition of another
kind, a field that is only transported — gets no reference: ``(None, None)``.
"""

from __future__ import annotations

import dataclasses
import time as clock
import weakref

import numpy as np
import sympy as sp
from sympy.core.function import AppliedUndef

from sciml.functions import jump_surfaces, lambdify
from sciml.time_scales import Evolution, evolution

__all__ = ["ACCURACY", "LINES", "LINES_TIMES", "lines_reference"]

CELLS = 256
"""Grid intervals of the first coarse finite-difference solve (the fine one has twice as many)."""
LARGEST_CELLS = 2048
"""The finest finite-difference grid tried: the grids double until two agree or this is reached."""
MODES = 128
"""Points of the first coarse Fourier solve."""
LARGEST_MODES = 512
"""The finest Fourier grid tried."""
ACCURACY = 1e-3
"""The largest estimated relative error of a reference that is used: a tenth of the verdict's line."""
TOLERANCE = 1e-7
"""Radau's relative tolerance on the fine grid (its absolute one: this times the initial state's
largest value); the coarse grid's is ten times looser."""
LINES_TIMES = 51
"""The times of a reference the evaluation grid and the verdict share."""
TIME_BUDGET = 120.0
"""Seconds the integrations may take together before the check is given up."""
LINES = "method of lines: float64 Radau IIA, the grid doubled until two solutions agree"

_SOLVED: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


class _OutOfTime(Exception):
    pass


@dataclasses.dataclass(frozen=True)
class _End:
    """One end of a field: its ``value`` (a Dirichlet condition) or its ``slope`` ``du/dx`` there
    (a flux condition solved for it), an expression of ``x``, ``t`` and the end's value
    :data:`_AT_END`."""

    value: sp.Expr | None = None
    slope: sp.Expr | None = None


_AT_END = sp.Dummy("u_end")


@dataclasses.dataclass(frozen=True)
class _Setup:
    """What :func:`_read` finds: the evolution, the interval and each field's end conditions."""

    found: Evolution
    x: sp.Symbol
    lower: float
    upper: float
    periodic: bool
    ends: dict[str, tuple[_End, _End]]  # (left, right) for every field of order 2 (not periodic)
    switches: tuple[float, ...] = ()  # times where the equations or the end data jump


def lines_reference(problem, times=None) -> tuple[object | None, str | None]:
    """The problem integrated by the method of lines at ``times`` (default: :data:`LINES_TIMES`
    evenly over its interval): ``(dataset, None)`` with one variable per field on the problem's
    coordinates (space: the coarse grid's points; attribute ``estimated_error``), ``(None, why)``
    when the integration failed or did not converge, or ``(None, None)`` for any problem outside
    this module's scope. Remembered per problem and times."""
    from sciml.dynamics.problem import remembered

    return remembered(_SOLVED, problem, times, LINES_TIMES, _solve)


def _solve(problem, times: np.ndarray) -> tuple[object | None, str | None]:
    import xarray as xr

    setup = _read(problem)
    if setup is None:
        return None, None
    started = clock.monotonic()
    size, largest = (MODES, LARGEST_MODES) if setup.periodic else (CELLS, LARGEST_CELLS)
    # Second-order differences: the fine grid's error is a third of the two grids' distance (and
    # the extrapolation below is closer still); Fourier collocation converges faster than any
    # power, so the distance bounds the fine grid's error. Each coarse solve is also ten times
    # looser in time, so the distance holds its error in time as well as in space.
    share = 1.0 if setup.periodic else 1.0 / 3.0
    try:
        while True:
            nodes, coarse_values = _integrate(setup, size, times, started, 10 * TOLERANCE)
            fine = _integrate(setup, 2 * size, times, started, TOLERANCE)[1]
            fine_values = {name: values[:, ::2] for name, values in fine.items()}
            estimate = max(share * np.linalg.norm(fine_values[n] - coarse_values[n])
                           / max(np.linalg.norm(fine_values[n]), 1e-300) for n in fine_values)
            if not np.isfinite(estimate) or estimate <= ACCURACY or 2 * size >= largest:
                break
            size *= 2  # refine where the grid does not resolve the solution yet
    except _OutOfTime:
        return None, f"the method-of-lines integration took over {TIME_BUDGET:.0f} s"
    except (RuntimeError, ValueError, ArithmeticError) as error:
        return None, f"the method-of-lines integration failed ({error})"
    if not np.isfinite(estimate) or estimate > ACCURACY:
        return None, (f"the method-of-lines integration did not converge on grids of up to {2 * size} "
                      f"{'points' if setup.periodic else 'intervals'} (estimated error {estimate:.1e} > "
                      f"{ACCURACY:.0e})")
    if not setup.periodic:  # Richardson's extrapolation cancels the differences' second-order error
        fine_values = {n: v + (v - coarse_values[n]) / 3 for n, v in fine_values.items()}
    t, x = str(setup.found.coordinate), str(setup.x)
    dims = tuple(str(c) for c in problem.coordinates)
    data = {name: (dims, values if dims == (t, x) else values.T, {"long_name": f"{name} ({LINES})"})
            for name, values in fine_values.items()}
    return xr.Dataset(data, coords={t: times, x: nodes},
                      attrs={"source": LINES, "estimated_error": float(estimate)}), None


def _read(problem) -> _Setup | None:
    """The problem's setup for the method of lines, or ``None`` when it is out of scope."""
    from sciml.dsl.conditions import Initial, Periodic, ends_covered
    from sciml.dsl.domains import Interval
    from sciml.dsl.symbols import field_name

    from sciml.dsl.interfaces import material_interfaces

    found = evolution(problem)
    if found is None or len(problem.coordinates) != 2:
        return None
    if material_interfaces(problem):
        return None  # its differences of the strong form know no flux condition at a coefficient's jump
    space = [f for f in problem.space_time.factors if isinstance(f, Interval) and not f.is_time]
    if len(space) != 1:
        return None
    x, lower, upper = space[0].coordinates[0], float(space[0].a), float(space[0].b)
    orders = dict.fromkeys(found.chains, 0)
    for d in found.others:
        if set(d.variables) != {x} or field_name(d.expr) not in orders:
            return None
        orders[field_name(d.expr)] = max(orders[field_name(d.expr)], d.derivative_count)
    allowed = {*found.states.values(), *found.others.values(), x, found.coordinate}
    if any(r.atoms(AppliedUndef) or not r.free_symbols <= allowed for r in found.highest.values()):
        return None
    known = problem.known_values
    periodic, ends = set(), {name: [[], []] for name in orders}
    for c in problem.conditions:
        if isinstance(c, Initial):
            continue
        if isinstance(c, Periodic) and c.coordinate == x and c.field_name in orders:
            periodic.add(c.field_name)
            continue
        covered = (ends_covered(problem, c.on, x, lower, upper)
                   if c.field_name in orders and c.at_end(x, -1) is not None else None)
        if covered is None:
            return None  # a condition of another kind, inside the interval or at a time
        for side, normal in ((0, -1), (1, 1)):
            if covered[side]:
                end = _end(c.at_end(x, normal).subs(known), x, found.coordinate)
                if end is None:
                    return None
                ends[c.field_name][side].append(end)
    diffusing = {name for name, order in orders.items() if order}
    t = found.coordinate
    data = [*found.highest.values(), *(e.value if e.slope is None else e.slope for p in ends.values() for s in p for e in s)]
    time = problem.space_time.time
    switches = _switches(data, t, float(time.a), float(time.b))
    if periodic:
        if periodic != diffusing or any(e for pair in ends.values() for e in pair):
            return None
        return _Setup(found, x, lower, upper, True, {}, switches)
    if any(orders[n] != 2 or len(ends[n][0]) != 1 or len(ends[n][1]) != 1 for n in diffusing):
        return None  # transport needs an inflow side; a fourth order, two conditions an end
    if any(ends[n][0] or ends[n][1] for n in orders if n not in diffusing):
        return None
    return _Setup(found, x, lower, upper, False, {n: (ends[n][0][0], ends[n][1][0]) for n in diffusing}, switches)


def _switches(expressions, t: sp.Symbol, start: float, end: float) -> tuple[float, ...]:
    """The times strictly inside ``(start, end)`` where one of ``expressions`` may jump in time
    (``Heaviside(t - 1/2)``, a ``Piecewise`` in ``t``: :func:`sciml.functions.jump_surfaces`)."""
    found = set()
    for expr in expressions:
        for phi in jump_surfaces(sp.sympify(expr), (t,)):
            for root in sp.solve(phi, t):
                if root.is_real and start < float(root) < end:
                    found.add(float(root))
    return tuple(sorted(found))


def _end(relation: sp.Expr, x: sp.Symbol, t: sp.Symbol) -> _End | None:
    """A condition at an end (:meth:`~sciml.dsl.conditions.Condition.at_end`, known parameters
    substituted) as the field's value or slope there, or ``None`` when it is neither."""
    from sciml.dsl.explicit import solved_for

    fields = relation.atoms(AppliedUndef)
    if len(fields) != 1:
        return None
    u = fields.pop()
    derivatives = relation.atoms(sp.Derivative)
    if not derivatives:  # the field's value (Dirichlet; Robin without its flux)
        value = solved_for(relation, u)
        return _End(value=value) if value is not None and value.free_symbols <= {x, t} else None
    if derivatives != {u.diff(x)}:
        return None  # another or a higher derivative: not a slope at the end
    symbol = sp.Dummy("slope")
    slope = solved_for(relation.xreplace({u.diff(x): symbol}).xreplace({u: _AT_END}), symbol)
    return _End(slope=slope) if slope is not None and slope.free_symbols <= {x, t, _AT_END} else None


def _integrate(setup: _Setup, n: int, times: np.ndarray, started: float,
               tolerance: float) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """``(nodes, {field: values (times, nodes)})`` on a grid of ``n`` intervals (Fourier: ``n``
    points), integrated to the relative ``tolerance``."""
    import jax
    import jax.numpy as jnp
    from scipy.integrate import solve_ivp
    from scipy.sparse import csc_matrix

    from sciml.dsl.symbols import field_name

    found, x, t = setup.found, setup.x, setup.found.coordinate
    length = setup.upper - setup.lower
    nodes = setup.lower + length * np.arange(n) / n if setup.periodic else np.linspace(setup.lower, setup.upper, n + 1)
    h = length / n
    members = [(name, k) for name, chain in found.chains.items() for k in range(len(chain))]
    symbols = [found.states[found.chains[name][k]] for name, k in members]
    spatial = list(found.others.items())
    rates = lambdify((x, t, *symbols, *(s for _, s in spatial)), [found.highest[name] for name in found.chains], "jax")
    size = len(nodes)
    with jax.enable_x64(True):
        grid = jnp.asarray(nodes)
        ends = {name: [(end, at, lambdify((x, t), [end.value, sp.diff(end.value, t)], "jax") if end.slope is None
                        else lambdify((_AT_END, x, t), end.slope, "jax")) for end, at in zip(pair, (setup.lower, setup.upper))]
                for name, pair in setup.ends.items()}
        wave = 2 * np.pi / length * np.arange(n // 2 + 1)

        def with_ghosts(name, u, tt):
            """The field's values, the two ghost values its end conditions imply and the rates of
            its held ends (``None`` at a flux end)."""
            ghosts, held = [], []
            for side, (end, at, known) in enumerate(ends[name]):
                inner = u[1] if side == 0 else u[-2]
                if end.slope is None:  # held at its value; the ghost only completes the stencil
                    value, rate = known(at, tt)
                    u = u.at[0 if side == 0 else -1].set(value)
                    ghosts.append(2 * value - inner)
                    held.append(rate)
                else:  # du/dx at the end by a central difference over the ghost
                    slope = known(u[0] if side == 0 else u[-1], at, tt)
                    ghosts.append(inner - 2 * h * slope if side == 0 else inner + 2 * h * slope)
                    held.append(None)
            return u, tuple(ghosts), tuple(held)

        def rhs(tt, y):
            parts = {member: y[i * size:(i + 1) * size] for i, member in enumerate(members)}
            rates_at_ends = {}
            for name in setup.ends:
                u, ghosts, end_rates = with_ghosts(name, parts[(name, 0)], tt)
                parts[(name, 0)] = u
                rates_at_ends[name] = end_rates
                if (name, 1) in parts:  # a second-order field: its Dirichlet ends move at g'(t)
                    v = parts[(name, 1)]
                    for index, rate in zip((0, -1), end_rates):
                        if rate is not None:
                            v = v.at[index].set(rate)
                    parts[(name, 1)] = v
                parts[(name, "ghosts")] = ghosts
            derivatives = []
            for d, _ in spatial:
                name = field_name(d.expr)
                u = parts[(name, 0)]
                if not setup.periodic:
                    left, right = parts[(name, "ghosts")]
                    u = jnp.concatenate([jnp.atleast_1d(left), u, jnp.atleast_1d(right)])
                derivatives.append(_differentiate(u, int(d.derivative_count), setup.periodic, n, h, wave))
            values = rates(grid, tt, *(parts[m] for m in members), *derivatives)
            out = []
            for name, k in members:
                chain = found.chains[name]
                rate = parts[(name, k + 1)] if k + 1 < len(chain) else jnp.broadcast_to(
                    values[list(found.chains).index(name)], grid.shape)
                if name in rates_at_ends:  # a Dirichlet end is held at its value, not evolved
                    for index, end_rate in zip((0, -1), rates_at_ends[name]):
                        if end_rate is not None:
                            rate = rate.at[index].set(0.0)
                out.append(rate)
            return jnp.concatenate(out)

        rhs_jit = jax.jit(rhs)
        jacobian_jit = jax.jit(jax.jacfwd(rhs, argnums=1))

        def fun(tt, y):
            if clock.monotonic() - started > TIME_BUDGET:
                raise _OutOfTime
            return np.asarray(rhs_jit(tt, jnp.asarray(y)))

        def jac(tt, y):
            matrix = np.asarray(jacobian_jit(tt, jnp.asarray(y)))
            return matrix if setup.periodic else csc_matrix(matrix)

        initial = np.concatenate([np.asarray(lambdify((x,), found.initial[s], "numpy")(nodes), float) * np.ones(size)
                                  for s in symbols])
        # The absolute tolerance is relative to the states' size: the initial state's or the held
        # ends' (a wall set oscillating from rest), or from a cold start (zero, a source switched
        # on later) what the rates move it by over the span. Rates alone would take the size of
        # an end's first pull on its neighbour, ~1/h^2 times too large: atol 1e-2 on a unit wave.
        held = [abs(float(known(at, tt)[0])) for pair in ends.values() for end, at, known in pair
                if end.slope is None for tt in times]
        scale = max(float(np.max(np.abs(initial), initial=0.0)), max(held, default=0.0))
        if scale == 0.0:
            span = float(times[-1] - times[0])
            scale = max(max(float(np.max(np.abs(fun(tt, initial)))) for tt in times) * span, 1e-12)
        # Integrated piece by piece between the times where the equations or end data jump (a
        # heater switched on): across such a time no step size satisfies the error control.
        edges = [float(times[0]), *(b for b in setup.switches if times[0] < b < times[-1]), float(times[-1])]
        state, columns = initial, []
        for k, (a, b) in enumerate(zip(edges[:-1], edges[1:])):
            last = k == len(edges) - 2
            wanted = times[(times >= a) & ((times <= b) if last else (times < b))]
            solution = solve_ivp(fun, (a, b), state, method="Radau", t_eval=np.unique(np.append(wanted, b)),
                                 rtol=tolerance, atol=tolerance * scale, jac=jac)
            if not solution.success:
                raise RuntimeError(solution.message)
            state = solution.y[:, -1]
            columns.append(solution.y[:, :len(wanted)])
        y = np.concatenate(columns, axis=1)
        if y.shape[1] != len(times):
            raise RuntimeError("the integration did not reach every time asked for")
        values = {}
        for i, (name, k) in enumerate(members):
            if k:
                continue
            field = y[i * size:(i + 1) * size].T.copy()
            for side, index in ((0, 0), (1, -1)):
                if name in ends and ends[name][side][0].slope is None:
                    _, at, known = ends[name][side]
                    field[:, index] = [float(known(at, tt)[0]) for tt in times]
            values[name] = field
    return nodes, values


def _differentiate(u, order: int, periodic: bool, n: int, h: float, wave: np.ndarray):
    """The ``order``-th derivative of ``u`` on the grid: by FFT when periodic, else by central
    differences of ``u`` padded with its two ghost values."""
    import jax.numpy as jnp

    if periodic:
        factor = (1j * wave) ** order
        if order % 2:
            factor[-1] = 0  # the Nyquist mode of an odd derivative
        return jnp.fft.irfft(jnp.asarray(factor) * jnp.fft.rfft(u), n=n)
    if order == 1:
        return (u[2:] - u[:-2]) / (2 * h)
    return (u[2:] - 2 * u[1:-1] + u[:-2]) / h**2
