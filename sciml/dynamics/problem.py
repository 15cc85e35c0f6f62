"""Ordinary differential equation problems: known physics, unknown terms, data.

An :class:`ODEProblem` is a frozen, validated description of

.. math::

    \\frac{d\\mathbf{u}}{dt} = \\mathbf{f}(t, \\mathbf{u}; \\theta, U_1, \\dots, U_k),
    \\qquad \\mathbf{u}(t_0) = \\mathbf{u}_0,

where the right-hand sides are sympy expressions mixing *known* terms, *parameters* (known
values or values to identify) and *unknown* learned terms ``U_j(inputs)``
(:func:`Unknown`). Declared *invariants* (energy, mass, ...) are expressions of the state
that the exact flow keeps constant; *symmetries* (time reversal, state reflections) are
transformations that map solutions to solutions. *Observations* are an
:class:`xarray.Dataset` with a ``time`` coordinate (irregular times allowed) and, for several
trajectories, a ``trajectory`` dimension; each data variable is named after a state.

Nothing here is JAX-specific: :meth:`ODEProblem.compile` turns the sympy description into
pure ``jax.numpy`` functions (see :class:`CompiledODE`) that the models in
:mod:`sciml.dynamics` consume. This mirrors the PDE side of :mod:`sciml.dsl` (validate, then
compile) for problems whose independent variable is time alone.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable, Mapping, Sequence

import numpy as np
import sympy as sp
from sympy.core.function import AppliedUndef

__all__ = [
    "Unknown",
    "TimeReversal",
    "Reflection",
    "ODEProblem",
    "CompiledODE",
]


def Unknown(name: str, inputs: Sequence[sp.Symbol]) -> sp.Expr:
    """A learned scalar term ``name(*inputs)`` to use inside a right-hand side.

    It is an applied, undefined sympy function, so it composes with any expression
    (``alpha * x + Unknown("U1", inputs=[x, y])``). The compiled problem replaces each
    unknown by a network of its inputs.

    Args:
        name: identifier of the term, e.g. ``"U1"``; used in ``law.json`` and reports.
        inputs: state variables (or the time symbol) the term depends on.
    """
    if not isinstance(name, str) or not name.isidentifier():
        raise ValueError(f"Unknown name must be a Python identifier, got {name!r}")
    inputs = list(inputs)
    if not inputs:
        raise ValueError(f"Unknown {name!r} needs at least one input, e.g. inputs=[x, y]")
    for s in inputs:
        if not isinstance(s, sp.Symbol):
            raise TypeError(
                f"Unknown {name!r}: inputs must be sympy Symbols (state variables or time), "
                f"got {s!r} of type {type(s).__name__}"
            )
    return sp.Function(name)(*inputs)


@dataclasses.dataclass(frozen=True)
class TimeReversal:
    """``t -> -t`` together with a sign flip of the listed states maps solutions to solutions.

    For a Hamiltonian system with ``H(q, p) = H(q, -p)`` the momenta are ``odd``.
    """

    odd: tuple[sp.Symbol, ...] = ()


@dataclasses.dataclass(frozen=True)
class Reflection:
    """A state map ``u -> R u`` (sign flips) that commutes with the flow: ``f(Ru) = R f(u)``."""

    flip: tuple[sp.Symbol, ...]


@dataclasses.dataclass(frozen=True, eq=False)
class CompiledODE:
    """Pure ``jax.numpy`` functions of an :class:`ODEProblem` (no sympy at run time).

    Attributes:
        rhs: ``rhs(t, u, theta, unknowns) -> du/dt`` with ``u`` of shape ``(n_states,)``,
            ``theta`` the identified parameter values ``(n_identified,)`` and ``unknowns`` the
            values of the unknown terms ``(n_unknowns,)``.
        known_rhs: the right-hand side with every unknown term set to zero.
        unknown_inputs: for each unknown, ``inputs(t, u) -> (n_inputs,)``.
        invariants: name -> ``I(u, theta) -> scalar``.
    """

    states: tuple[str, ...]
    unknowns: tuple[str, ...]
    identified: tuple[str, ...]
    rhs: Callable
    known_rhs: Callable
    unknown_inputs: tuple[Callable, ...]
    unknown_arity: tuple[int, ...]
    invariants: Mapping[str, Callable]


class ODEProblem:
    """A system of ODEs with known terms, identified parameters and unknown learned terms.

    Args:
        states: the state variables, e.g. ``sp.symbols("x y")``.
        rhs: the right-hand side of each state, as a mapping ``state -> expression`` or a
            sequence in the order of ``states``.
        parameters: known parameter values ``{symbol: value}``; they are substituted.
        identify: parameters to identify from data ``{symbol: initial guess}``.
        initial: initial condition ``{state: value}``; optional when observations are given
            (their first time is then used per trajectory).
        invariants: ``{name: expression}`` of the state (and parameters) that the exact flow
            keeps constant.
        symmetries: :class:`TimeReversal` / :class:`Reflection` instances.
        observations: :class:`xarray.Dataset` with a ``time`` coordinate, one data variable
            per observed state (named like the state), optionally a ``trajectory`` dimension.
        reference: optional clean, dense solution (same layout) used only for evaluation,
            e.g. to report extrapolation error on held-out times.
        time: the time symbol (default ``t``).
        name, description: catalogue entries.
    """

    def __init__(
        self,
        states: Sequence[sp.Symbol],
        rhs: Mapping[sp.Symbol, sp.Expr] | Sequence[sp.Expr],
        *,
        parameters: Mapping[sp.Symbol, float] | None = None,
        identify: Mapping[sp.Symbol, float] | None = None,
        initial: Mapping[sp.Symbol, float] | None = None,
        invariants: Mapping[str, sp.Expr] | None = None,
        symmetries: Sequence[TimeReversal | Reflection] = (),
        observations: Any = None,
        reference: Any = None,
        time: sp.Symbol | None = None,
        name: str = "ode",
        description: str = "",
    ):
        self.time = time if time is not None else sp.Symbol("t")
        self.states = tuple(_check_states(states))
        self.rhs = _check_rhs(self.states, rhs)
        self.parameters = {k: float(v) for k, v in _check_params(parameters, "parameters").items()}
        self.identify = {k: float(v) for k, v in _check_params(identify, "identify").items()}
        clash = set(self.parameters) & set(self.identify)
        if clash:
            raise ValueError(
                f"parameters {sorted(map(str, clash))} are both known (parameters=) and to be "
                "identified (identify=); keep each in one of the two"
            )
        clash = (set(self.parameters) | set(self.identify)) & (set(self.states) | {self.time})
        if clash:
            raise ValueError(f"{sorted(map(str, clash))} are declared both as parameters and states/time")
        self.unknowns = _collect_unknowns(self.rhs, self.states, self.time)
        self._check_free_symbols()
        self.initial = _check_initial(self.states, initial)
        self.invariants = _check_invariants(invariants, self.states, self.parameters, self.identify)
        self.symmetries = tuple(_check_symmetry(s, self.states) for s in symmetries)
        self.observations = _check_observations(observations, self.states, "observations")
        self.reference = _check_observations(reference, self.states, "reference")
        if self.initial is None and self.observations is None:
            raise ValueError(
                "ODEProblem needs an initial condition: pass initial={state: value} or "
                "observations whose first time gives it"
            )
        self.name = name
        self.description = description

    # ------------------------------------------------------------------ inspection
    @property
    def state_names(self) -> tuple[str, ...]:
        return tuple(str(s) for s in self.states)

    @property
    def unknown_names(self) -> tuple[str, ...]:
        return tuple(u.func.__name__ for u in self.unknowns)

    def known_terms(self) -> tuple[sp.Expr, ...]:
        """Right-hand sides with every unknown term set to zero (parameters substituted)."""
        zero = {u: 0 for u in self.unknowns}
        return tuple(sp.expand(e.subs(zero).subs(self.parameters)) for e in self.rhs)

    def initial_state(self) -> np.ndarray:
        """``(n_trajectories, n_states)`` initial states: declared, else first observation."""
        if self.initial is not None:
            return np.asarray([[self.initial[s] for s in self.states]], dtype=float)
        obs = self.observations
        first = np.stack([obs[n].isel(time=0).values for n in self.state_names], axis=-1)
        return np.atleast_2d(first)

    def __repr__(self) -> str:
        eqs = ", ".join(f"d{s}/dt = {e}" for s, e in zip(self.states, self.rhs))
        return f"ODEProblem({self.name!r}: {eqs})"

    # ------------------------------------------------------------------ compilation
    def compile(self) -> CompiledODE:
        """Lambdify the right-hand side, unknown inputs and invariants to ``jax.numpy``."""
        import jax.numpy as jnp

        t = self.time
        theta = sp.symbols(f"_theta0:{len(self.identify)}") if self.identify else ()
        usyms = sp.symbols(f"_U0:{len(self.unknowns)}") if self.unknowns else ()
        to_theta = dict(zip(self.identify, theta))
        to_u = dict(zip(self.unknowns, usyms))
        exprs = [e.subs(to_u).subs(self.parameters).subs(to_theta) for e in self.rhs]
        args = (t, self.states, theta, usyms)
        f = sp.lambdify(args, exprs, modules="jax")
        zero = dict.fromkeys(usyms, 0)
        fk = sp.lambdify((t, self.states, theta), [e.subs(zero) for e in exprs], modules="jax")

        def rhs(tt, u, th, uv):
            return jnp.stack([jnp.broadcast_to(v, jnp.shape(u)[:-1]) for v in f(tt, _unstack(u), _unstack(th), _unstack(uv))], -1)

        def known_rhs(tt, u, th):
            return jnp.stack([jnp.broadcast_to(jnp.asarray(v, u.dtype), jnp.shape(u)[:-1]) for v in fk(tt, _unstack(u), _unstack(th))], -1)

        inputs = []
        for un in self.unknowns:
            g = sp.lambdify((t, self.states), list(un.args), modules="jax")
            inputs.append(
                lambda tt, u, g=g: jnp.stack([jnp.broadcast_to(v, jnp.shape(u)[:-1]) for v in g(tt, _unstack(u))], -1)
            )
        invs = {}
        for name, expr in self.invariants.items():
            ex = expr.subs(self.parameters).subs(to_theta)
            g = sp.lambdify((self.states, theta), ex, modules="jax")
            invs[name] = lambda u, th, g=g: g(_unstack(u), _unstack(th))
        return CompiledODE(
            states=self.state_names,
            unknowns=self.unknown_names,
            identified=tuple(str(p) for p in self.identify),
            rhs=rhs,
            known_rhs=known_rhs,
            unknown_inputs=tuple(inputs),
            unknown_arity=tuple(len(u.args) for u in self.unknowns),
            invariants=invs,
        )

    # ------------------------------------------------------------------ solving
    def solve(
        self,
        *,
        model: str | None = None,
        steps: int | None = None,
        seed: int = 0,
        out=None,
        options: dict | None = None,
    ):
        """Train a dynamics surrogate on the observations (``sciml solve`` protocol).

        ``model`` is one of ``node`` (MLP terms), ``kan-ode`` (KAN terms), ``ltc``, ``cfc``;
        see :func:`sciml.dynamics.solve.solve_ode_problem` for the options.
        """
        from sciml.dynamics.solve import solve_ode_problem

        result = solve_ode_problem(self, model=model, steps=steps, seed=seed, options=options or {})
        if out is not None:
            result.write(out)
        return result

    def _check_free_symbols(self) -> None:
        allowed = set(self.states) | {self.time} | set(self.parameters) | set(self.identify)
        for s, e in zip(self.states, self.rhs):
            free = e.free_symbols - allowed
            if free:
                names = ", ".join(sorted(map(str, free)))
                raise ValueError(
                    f"right-hand side of d{s}/dt uses undeclared symbol(s) {names}; declare them "
                    "as states, give a value in parameters={...}, or list them in identify={...}"
                )


# ---------------------------------------------------------------------- validation helpers
def _unstack(a):
    import jax.numpy as jnp

    a = jnp.asarray(a)
    return [a[..., i] for i in range(a.shape[-1])] if a.ndim else []


def _check_states(states) -> list[sp.Symbol]:
    states = list(states) if not isinstance(states, sp.Symbol) else [states]
    if not states:
        raise ValueError("ODEProblem needs at least one state variable, e.g. states=sp.symbols('x y')")
    for s in states:
        if not isinstance(s, sp.Symbol):
            raise TypeError(f"states must be sympy Symbols, got {s!r} ({type(s).__name__}); use sp.symbols('x y')")
    if len(set(states)) != len(states):
        raise ValueError(f"duplicate state variables in {states}")
    return states


def _check_rhs(states, rhs) -> tuple[sp.Expr, ...]:
    if isinstance(rhs, Mapping):
        missing = [s for s in states if s not in rhs]
        extra = [k for k in rhs if k not in states]
        if missing or extra:
            raise ValueError(
                f"rhs must give one expression per state: missing {[str(m) for m in missing]}, "
                f"not states {[str(e) for e in extra]}"
            )
        exprs = [rhs[s] for s in states]
    else:
        exprs = list(rhs)
        if len(exprs) != len(states):
            raise ValueError(f"rhs has {len(exprs)} expressions for {len(states)} states; give one per state")
    out = []
    for s, e in zip(states, exprs):
        try:
            out.append(sp.sympify(e))
        except (sp.SympifyError, TypeError) as err:
            raise ValueError(f"right-hand side of d{s}/dt is not a sympy expression: {e!r} ({err})") from None
    return tuple(out)


def _check_params(params, what) -> dict:
    params = dict(params or {})
    for k, v in params.items():
        if not isinstance(k, sp.Symbol):
            raise TypeError(f"{what} keys must be sympy Symbols, got {k!r}")
        try:
            v = float(v)
        except (TypeError, ValueError):
            raise TypeError(f"{what}[{k}] must be a number, got {v!r}") from None
        if not np.isfinite(v):
            raise ValueError(f"{what}[{k}] = {v} is not finite")
    return params


def _collect_unknowns(rhs, states, time) -> tuple:
    found: dict[str, sp.Expr] = {}
    for e in rhs:
        for u in sorted(e.atoms(AppliedUndef), key=str):
            name = u.func.__name__
            if name in found and found[name] != u:
                raise ValueError(
                    f"unknown term {name!r} is used with different inputs: {found[name]} and {u}; "
                    "give each learned term one fixed list of inputs"
                )
            bad = [a for a in u.args if a not in states and a != time]
            if bad:
                raise ValueError(
                    f"unknown term {u} has inputs {[str(b) for b in bad]} that are neither states "
                    f"nor the time symbol {time}; unknown terms take state variables or time"
                )
            found[name] = u
    return tuple(found[k] for k in sorted(found))


def _check_initial(states, initial):
    if initial is None:
        return None
    initial = dict(initial)
    missing = [str(s) for s in states if s not in initial]
    if missing:
        raise ValueError(f"initial condition misses state(s) {missing}; give a value for every state")
    extra = [str(k) for k in initial if k not in states]
    if extra:
        raise ValueError(f"initial condition names {extra}, which are not states")
    return {s: float(initial[s]) for s in states}


def _check_invariants(invariants, states, parameters, identify):
    out = {}
    allowed = set(states) | set(parameters) | set(identify)
    for name, expr in dict(invariants or {}).items():
        expr = sp.sympify(expr)
        free = expr.free_symbols - allowed
        if free:
            raise ValueError(
                f"invariant {name!r} uses {sorted(map(str, free))}, which are not states or "
                "parameters; an invariant is a function of the state (and parameters) only"
            )
        if expr.atoms(AppliedUndef):
            raise ValueError(f"invariant {name!r} may not contain unknown terms")
        out[str(name)] = expr
    return out


def _check_symmetry(sym, states):
    if isinstance(sym, TimeReversal):
        syms = sym.odd
    elif isinstance(sym, Reflection):
        syms = sym.flip
    else:
        raise TypeError(f"symmetries must be TimeReversal(...) or Reflection(...), got {sym!r}")
    bad = [str(s) for s in syms if s not in states]
    if bad:
        raise ValueError(f"{type(sym).__name__} names {bad}, which are not states {[str(s) for s in states]}")
    return sym


def _check_observations(obs, states, what):
    if obs is None:
        return None
    import xarray as xr

    if not isinstance(obs, xr.Dataset):
        raise TypeError(f"{what} must be an xarray.Dataset with a 'time' coordinate, got {type(obs).__name__}")
    if "time" not in obs.coords:
        raise ValueError(f"{what} has no 'time' coordinate; build it with xr.Dataset(..., coords={{'time': t}})")
    names = [str(s) for s in states]
    present = [n for n in names if n in obs.data_vars]
    if not present:
        raise ValueError(
            f"{what} has none of the state variables {names} as data variables "
            f"(it has {list(obs.data_vars)}); name each variable after its state"
        )
    extra = set(obs.dims) - {"time", "trajectory"}
    if extra:
        raise ValueError(f"{what} has dimensions {sorted(extra)}; only 'time' and 'trajectory' are allowed")
    t = np.asarray(obs["time"].values, dtype=float)
    if t.ndim != 1 or len(t) < 2:
        raise ValueError(f"{what}: 'time' must be a 1-d coordinate with at least two times")
    if not np.all(np.diff(t) > 0):
        raise ValueError(f"{what}: 'time' must be strictly increasing (sort with ds.sortby('time'))")
    if "trajectory" not in obs.dims:
        obs = obs.expand_dims("trajectory")
    return obs.transpose("trajectory", "time", ...)
