"""A DSL problem read as an explicit first-order ODE system, the form the dynamics models consume.

An ODE problem is a :class:`sciml.dsl.Problem` whose only coordinate is time
(``TimeInterval(t, t0, t1)``) and whose equations each give one field's first time derivative,

.. math::

    \\frac{d\\mathbf{u}}{dt} = \\mathbf{f}(t, \\mathbf{u}; \\theta, U_1, \\dots, U_k),
    \\qquad \\mathbf{u}(t_0) = \\mathbf{u}_0,

with known terms, parameters (known, or learned: ``Parameter(..., learn=True)``) and unknown
terms ``Unknown("U1", inputs=[x, y])``. :func:`ode_system` solves each equation for its
derivative (sympy) and gives an :class:`ODESystem`: the fields as plain state symbols, the
right-hand sides, ``Initial`` values, ``Conserved(q, over=[])`` quantities as invariants and the
data as trajectories (dimensions ``trajectory``, ``time``). Its :meth:`ODESystem.compile` turns
the sympy description into pure ``jax.numpy`` functions (:class:`CompiledODE`).
"""

from __future__ import annotations

import dataclasses
import weakref
from typing import Any, Callable, Mapping

import numpy as np
import sympy as sp
from sympy.core.function import AppliedUndef

from sciml.dsl.conditions import Initial
from sciml.dsl.errors import ProblemError
from sciml.dsl.symbols import field_name
from sciml.dsl.symmetries import Conserved
from sciml.dsl.unknowns import unknown_terms
from sciml.functions import lambdify

__all__ = ["is_ode", "ode_system", "ODESystem", "CompiledODE"]


def is_ode(problem) -> bool:
    """Whether ``problem`` lives on a time interval alone (its fields are functions of time)."""
    time = problem.space_time.time
    return time is not None and len(problem.coordinates) == 1


@dataclasses.dataclass(frozen=True, eq=False)
class CompiledODE:
    """Pure ``jax.numpy`` functions of an :class:`ODESystem` (no sympy at run time).

    Attributes:
        rhs: ``rhs(t, u, theta, unknowns) -> du/dt`` with ``u`` of shape ``(n_states,)``,
            ``theta`` the learned parameter values ``(n_identified,)`` and ``unknowns`` the
            values of the unknown terms ``(n_unknowns,)``.
        unknown_inputs: for each unknown, ``inputs(t, u) -> (n_inputs,)``.
        invariants: name -> ``I(u, theta) -> scalar``.
    """

    states: tuple[str, ...]
    unknowns: tuple[str, ...]
    identified: tuple[str, ...]
    rhs: Callable
    unknown_inputs: tuple[Callable, ...]
    unknown_arity: tuple[int, ...]
    invariants: Mapping[str, Callable]


@dataclasses.dataclass(frozen=True, eq=False)
class ODESystem:
    """``du/dt = rhs`` on state symbols named after the problem's fields (see module docstring).

    ``parameters`` are the known values, ``identify`` the learned parameters' initial guesses,
    ``initial`` the declared initial state (``None``: the first observation gives it),
    ``observations`` / ``reference`` datasets with dimensions ``(trajectory, time)``.
    """

    name: str
    description: str
    time: sp.Symbol
    states: tuple[sp.Symbol, ...]
    rhs: tuple[sp.Expr, ...]
    parameters: Mapping[sp.Symbol, float]
    identify: Mapping[sp.Symbol, float]
    unknowns: tuple[sp.Expr, ...]
    initial: Mapping[sp.Symbol, float] | None
    invariants: Mapping[str, sp.Expr]
    observations: Any
    reference: Any
    span: tuple[float, float] | None = None  # the time interval the problem asks about

    @property
    def state_names(self) -> tuple[str, ...]:
        return tuple(str(s) for s in self.states)

    @property
    def unknown_names(self) -> tuple[str, ...]:
        return tuple(u.name for u in self.unknowns)

    def initial_state(self) -> np.ndarray:
        """``(n_trajectories, n_states)`` initial states: declared, else first observation."""
        if self.initial is not None:
            return np.asarray([[self.initial[s] for s in self.states]], dtype=float)
        first = np.stack([self.observations[n].isel(time=0).values for n in self.state_names], axis=-1)
        return np.atleast_2d(first)

    @property
    def is_forward(self) -> bool:
        """Whether the system is fixed by itself: a declared initial state, no learned parameter,
        no unknown term (then a classical integrator solves it, :meth:`integrate`)."""
        return self.initial is not None and not self.identify and not self.unknowns

    def integrate(self, times) -> np.ndarray:
        """The classical solution of a forward system at ``times`` (float64 Dopri8, tolerances
        1e-10; see :func:`sciml.dynamics.node.integrate_exact`): ``(len(times), n_states)``,
        ``inf`` from where the integration fails (a blow-up, a stiff system's step budget)."""
        import jax.numpy as jnp

        from sciml.dynamics.node import integrate_exact

        if not self.is_forward:
            raise ValueError(f"{self.name!r} is not a forward system (it needs a declared initial state and no "
                             "learned parameter or unknown term)")
        rhs = self.compile().rhs
        empty = jnp.zeros((0,))
        ys = integrate_exact(lambda t, u, args: rhs(t, u, empty, empty), self.initial_state(), np.asarray(times, float),
                             max_steps=200_000, throw=False)
        return ys[0]

    def compile(self) -> CompiledODE:
        """Lambdify the right-hand side, unknown inputs and invariants to ``jax.numpy``."""
        import jax.numpy as jnp

        t = self.time
        theta = sp.symbols(f"_theta0:{len(self.identify)}") if self.identify else ()
        usyms = sp.symbols(f"_U0:{len(self.unknowns)}") if self.unknowns else ()
        to_theta = dict(zip(self.identify, theta))
        exprs = [e.xreplace(dict(zip(self.unknowns, usyms))).subs(self.parameters).subs(to_theta) for e in self.rhs]
        f = lambdify((t, self.states, theta, usyms), exprs, "jax")

        def stacked(values, u):
            return jnp.stack([jnp.broadcast_to(jnp.asarray(v, u.dtype), jnp.shape(u)[:-1]) for v in values], -1)

        def rhs(tt, u, th, uv):
            return stacked(f(tt, _unstack(u), _unstack(th), _unstack(uv)), u)

        inputs = []
        for un in self.unknowns:
            g = lambdify((t, self.states), list(un.args), "jax")
            inputs.append(lambda tt, u, g=g: stacked(g(tt, _unstack(u)), u))
        invs = {}
        for name, expr in self.invariants.items():
            g = lambdify((self.states, theta), expr.subs(self.parameters).subs(to_theta), "jax")
            invs[name] = lambda u, th, g=g: g(_unstack(u), _unstack(th))
        return CompiledODE(states=self.state_names, unknowns=self.unknown_names,
                           identified=tuple(str(p) for p in self.identify), rhs=rhs, unknown_inputs=tuple(inputs),
                           unknown_arity=tuple(len(u.args) for u in self.unknowns), invariants=invs)


def _unstack(a):
    import jax.numpy as jnp

    a = jnp.asarray(a)
    return [a[..., i] for i in range(a.shape[-1])] if a.ndim else []


def ode_system(problem) -> ODESystem:
    """Read ``problem`` (a :class:`sciml.dsl.Problem`) as an explicit first-order ODE system.

    Raises:
        ProblemError: the problem is not one: a coordinate besides time, an equation with no
            or several time derivatives, a second derivative, an equation not solvable for its
            derivative, a field with two equations or none, a condition other than an initial
            value, or data with dimensions other than time and ``trajectory``.
    """
    time = problem.space_time.time
    if not is_ode(problem):
        raise ProblemError(f"problem {problem.name!r} has the coordinates {problem.coordinate_names}; an ODE "
                           "problem lives on a time interval alone (domain=TimeInterval(t, t0, t1)); solve this "
                           "one with --model mlp or kan")
    t = time.coordinates[0]
    fields = {field_name(f): f for r in problem.residuals for f in r.atoms(AppliedUndef)}
    top = _orders(problem)
    chains = _state_chains(problem, t, top)  # field -> its state symbols, derivative orders 0 .. top - 1
    # Derivatives below a field's highest order are states; the highest is what an equation gives.
    lower = {fields[n].diff(t, k): chain[k] for n, chain in chains.items() if n in fields
             for k in range(1, len(chain))}
    to_state = {**lower, **{f: chains[n][0] for n, f in fields.items()}}
    rhs: dict[str, sp.Expr] = {}
    by_equation = []  # the fields in the order of their equations
    for k, r in enumerate(problem.residuals):
        name, value = _rate(r.xreplace(lower), k, t, fields, top)
        by_equation.append(name)
        state = str(chains[name][-1])
        if state in rhs:
            raise ProblemError(f"equations {list(rhs).index(state) + 1} and {k + 1} both give "
                               f"{_derivative_text(name, t, top[name])}; an ODE system has one equation per "
                               f"field: merge them into {name}.diff({_order_args(t, top[name])}) - (...)")
        rhs[state] = value.xreplace(to_state)
    missing = [n for n in problem.field_names if str(chains[n][-1]) not in rhs]
    if missing:
        raise ProblemError(f"field {missing[0]!r} has no equation giving {missing[0]}.diff({t}); add one, e.g. "
                           f"{missing[0]}.diff({t}) - (...)")
    # A field of order n > 1 adds n - 1 states, its derivatives: d(x)/dt = x_t, d(x_t)/dt = x_tt, ...
    states = {str(s): s for name in by_equation for s in chains[name]}
    rhs = {**{str(a): b for c in chains.values() for a, b in zip(c, c[1:])}, **rhs}
    exprs = tuple(rhs[n] for n in states)  # the states in the order of their equations
    return ODESystem(
        name=problem.name, description=problem.description, time=t, states=tuple(states.values()),
        rhs=exprs, parameters=problem.known_values,
        identify={p: p.value for p in problem.parameters if p.learn},
        unknowns=tuple(sorted({u for e in exprs for u in unknown_terms(e)}, key=lambda u: u.name)),
        initial=_initial_values(problem, chains, t), invariants=_invariants(problem, to_state),
        observations=_trajectories(problem.data, t, "data"), reference=_trajectories(problem.reference, t, "reference"),
        span=(float(time.a), float(time.b)))


CLASSICAL = "classical integration: float64 Dopri8, relative and absolute tolerance 1e-10"
# The evaluation grid and the verdict ask for the same integration of the same problem.
_INTEGRATED: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


CLASSICAL_TIMES = 1001  # the times of the classical integration the evaluation grid, the verdict and the scales share


def classical_reference(problem, times=None) -> tuple[Any, str | None]:
    """A forward ODE problem (a time interval alone, its initial state declared, nothing learned)
    integrated classically at ``times`` (default: :data:`CLASSICAL_TIMES` evenly over its
    interval): ``(dataset, None)`` with one variable per field, or ``(None, why)`` when the
    integration failed (a blow-up, a stiff system's step budget), or ``(None, None)`` for any
    other problem (PDE, inverse, unknown terms, a condition at the end). Remembered per problem
    and times."""
    return remembered(_INTEGRATED, problem, times, CLASSICAL_TIMES, _integrated)


def remembered(cache, problem, times, count: int, solve) -> tuple[Any, str | None]:
    """``solve(problem, times)``, remembered in ``cache`` (weak in the problem) per problem and
    times; ``times`` by default ``count`` evenly over the problem's time interval (``(None,
    None)`` without one)."""
    if times is None:
        time = problem.space_time.time
        if time is None:
            return None, None
        times = np.linspace(float(time.a), float(time.b), count)
    times = np.asarray(times, float)
    done = cache.setdefault(problem, {})
    key = times.tobytes()
    if key not in done:
        done[key] = solve(problem, times)
    return done[key]


def _integrated(problem, times: np.ndarray) -> tuple[Any, str | None]:
    import xarray as xr

    if not is_ode(problem):
        return None, None
    try:
        system = ode_system(problem)
    except ProblemError:  # not an initial-value problem in explicit form
        return None, None
    if not system.is_forward:
        return None, None
    states = system.integrate(times)
    failed = ~np.all(np.isfinite(states), axis=1)
    if failed.any():
        return None, (f"the classical integration failed from {system.time} = {times[np.argmax(failed)]:.4g} on "
                      "(a blow-up or a stiff system)")
    t = str(system.time)
    data = {name: (t, states[:, system.state_names.index(name)], {"long_name": f"{name} ({CLASSICAL})"})
            for name in problem.field_names if name in system.state_names}
    return xr.Dataset(data, coords={t: times}, attrs={"source": CLASSICAL}), None


def _orders(problem) -> dict[str, int]:
    """Each field's highest time derivative in the equations (0 where none appears)."""
    top = dict.fromkeys(problem.field_names, 0)
    for r in problem.residuals:
        for d in r.atoms(sp.Derivative):
            name = field_name(d.expr)
            top[name] = max(top[name], d.derivative_count)
    return top


def _state_chains(problem, t, top: dict) -> dict[str, tuple[sp.Symbol, ...]]:
    """``{field: (x, x_t, x_tt, ...)}``: the field and its derivatives below the highest order."""
    chains, taken = {}, set(problem.field_names)
    for name in problem.field_names:
        extra = [f"{name}_{str(t) * k}" for k in range(1, max(top[name], 1))]
        clash = [e for e in extra if e in taken]
        if clash:
            raise ProblemError(f"field {name!r} appears with derivatives up to order {top[name]}, whose state "
                               f"{clash[0]!r} (d{name}/d{t}) is also the name of a field; rename that field")
        taken.update(extra)
        chains[name] = tuple(sp.Symbol(n) for n in (name, *extra))
    return chains


def _derivative_text(name: str, t, order: int) -> str:
    return f"d{name}/d{t}" if order == 1 else f"d^{order}{name}/d{t}^{order}"


def _order_args(t, order: int) -> str:
    return f"{t}" if order == 1 else f"{t}, {order}"


def _rate(r: sp.Expr, k: int, t, fields: dict, top: dict) -> tuple[str, sp.Expr]:
    """``(field, expression of its highest derivative)`` from the equation ``r = 0``, whose lower
    derivatives are already states."""
    where = f"equation {k + 1} ({r} = 0)"
    names = sorted({field_name(d.expr) for d in r.atoms(sp.Derivative)})
    if len(names) != 1:
        raise ProblemError(f"{where}: " + (f"no time derivative of a field; each equation of an ODE system gives "
                                           f"one field's rate, e.g. x.diff({t}) - (...)" if not names else
                                           f"highest time derivatives of {' and '.join(names)}; each equation "
                                           f"gives one field's: write one equation per field, e.g. "
                                           f"{names[0]}.diff({_order_args(t, top[names[0]])}) - (...)"))
    name, rate = names[0], sp.Dummy("rate")
    highest = _derivative_text(name, t, top[name])
    solutions = sp.solve(r.xreplace({fields[name].diff(t, top[name]): rate}), rate, dict=False)
    if len(solutions) != 1 or solutions[0].has(rate):
        raise ProblemError(f"{where} does not give {highest} as one expression (solutions: {solutions}); "
                           f"write it as {name}.diff({_order_args(t, top[name])}) - (...)")
    return name, solutions[0]


def _initial_values(problem, chains: dict, t) -> dict | None:
    values = {}
    for c in problem.conditions:
        chain = chains.get(getattr(c, "field_name", None), ())
        if not isinstance(c, Initial) or c.order >= len(chain):
            raise ProblemError(f"{c.describe()}: a trajectory model takes initial values only (Initial(x, value), "
                               f"and Initial(x, value, order=1) for a field whose equation holds d^2x/d{t}^2); "
                               "drop this condition, or solve with --model mlp or kan, which take any condition")
        value = sp.sympify(c.value).subs(problem.known_values)
        if not value.is_number:
            raise ProblemError(f"{c.describe()}: the initial value {c.value} is not a number; give a number or "
                               "known parameters")
        values[chain[c.order]] = float(value)
    states = [s for chain in chains.values() for s in chain]
    if values and len(values) != len(states):
        missing = next(s for s in states if s not in values)
        field, order = next((n, c.index(missing)) for n, c in chains.items() if missing in c)
        what = "" if order == 0 else f" (Initial({field}, value, order={order}))"
        raise ProblemError(f"the initial value of {str(missing)!r}{what} is missing; give every field's "
                           "(Initial(field, value)) or none (the first observation is the initial state)")
    if not values and problem.data is None:
        raise ProblemError(f"problem {problem.name!r} has neither initial values nor data to start from; add "
                           "Initial(field, value) for every field or observations (data=...)")
    if not values:
        unmeasured = [str(s) for s in states if str(s) not in problem.data]
        if unmeasured:
            raise ProblemError(f"the data do not measure {', '.join(map(repr, unmeasured))}, so the first "
                               "observation cannot be the initial state; declare the initial values "
                               "(Initial(field, value), and order=1 for a derivative)")
    return values or None


def _invariants(problem, to_state: dict) -> dict[str, sp.Expr]:
    """``{name: quantity}`` of the ``Conserved(q, over=[])`` symmetries (names as their loss terms')."""
    out = {}
    for k, s in enumerate(problem.symmetries):
        if isinstance(s, Conserved):
            if s.over:
                raise ProblemError(f"{s.describe()}: an ODE has no coordinate to integrate over besides time; "
                                   "declare the conserved quantity with over=[]")
            out[s.term_name(k)] = s.quantity.xreplace(to_state)
    return out


def _trajectories(ds, t, role: str):
    """``ds`` with dimensions ``(trajectory, time)`` (a ``trajectory`` of one added if absent)."""
    if ds is None:
        return None
    extra = set(ds.dims) - {str(t), "trajectory"}
    if extra:
        raise ProblemError(f"{role} has dimensions {sorted(extra)}; an ODE problem's data have the time "
                           f"coordinate {t!r} and, for several trajectories, a 'trajectory' dimension")
    ds = ds.rename({str(t): "time"}) if str(t) != "time" else ds
    ds = ds.sortby("time")
    if "trajectory" not in ds.dims:
        ds = ds.expand_dims("trajectory")
    return ds.transpose("trajectory", "time", ...)
