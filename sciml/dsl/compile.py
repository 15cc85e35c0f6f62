"""Compile a :class:`~sciml.dsl.problem.Problem` into pure JAX functions.

The compiled problem exposes

* :meth:`CompiledProblem.field_function` — wraps a surrogate into a per-point function
  ``z (d,) -> fields (n_fields,)``: the :class:`InputMap` (scaling to ``[-1, 1]``, exact
  periodic embeddings) in front of the surrogate, exact (hard) conditions and built-in
  symmetries behind it;
* :meth:`CompiledProblem.sample` — a batch of points for every loss term (host side, NumPy);
* :meth:`CompiledProblem.loss_terms` — ``{term name: mean squared residual}``.

Derivatives of any order, mixed ones included, are taken in forward mode: a derivative
``∂^{a+b} u / ∂x^a ∂t^b`` is ``a + b`` nested ``jax.jvp`` along unit directions of a single
point, vectorised over points with ``jax.vmap``. One chain of nested products yields every
lower derivative along its axes too, so an expression's derivatives are grouped into the
fewest chains (``u``, ``u_x``, ``u_xx`` from one, ``u_t`` from another).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
import dataclasses
from dataclasses import dataclass, field
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import sympy as sp
from sympy.core.function import AppliedUndef

from sciml.dsl.conditions import Dirichlet, Initial, MeanValue, Neumann, Periodic, Pin, Robin
from sciml.dsl.domains import ProductDomain
from sciml.dsl.errors import ProblemError
from sciml.dsl.networks import UnknownNetwork, missing_network, unknown_inputs
from sciml.dsl.problem import Problem, observation_points, resolve_piece, singular_point_proximity
from sciml.dsl.symbols import Parameter, field_name
from sciml.dsl.symmetries import Conserved, Reflection, Translation
from sciml.dsl.unknowns import UnknownTerm

FieldFunction = Callable[[jax.Array], jax.Array]  # z (d,) -> (n_fields,)
Params = dict[str, jax.Array]


def nested_derivative(fn: FieldFunction, directions: tuple[jax.Array, ...]) -> FieldFunction:
    """``z -> D_{v1} D_{v2} ... fn(z)`` by nested forward-mode products."""

    def along(g: FieldFunction, v) -> FieldFunction:
        return lambda z: jax.jvp(g, (z,), (jnp.asarray(v, z.dtype),))[1]

    for v in reversed(directions):
        fn = along(fn, v)
    return fn


def derivative_chains(needed: list[tuple[int, ...]]) -> list[tuple[int, ...]]:
    """Fewest nested-jvp chains (axis tuples) whose sub-multisets cover every needed derivative.

    ``k`` nested ``jvp`` along axes ``a_1..a_k`` evaluate the derivative along every subset of
    those axes anyway (``2^k`` values); returning them all lets ``u``, ``u_x`` and ``u_xx``
    come from one chain ``(x, x)`` instead of three separate traces of the network.
    """
    chains: list[tuple[int, ...]] = []
    for axes in sorted(set(needed), key=lambda a: (-len(a), a)):
        if not any(all(chain.count(a) >= axes.count(a) for a in set(axes)) for chain in chains):
            chains.append(axes)
    return chains


def chain_derivatives(fn: FieldFunction, z: jax.Array, chain: tuple[int, ...]) -> dict[tuple[int, ...], jax.Array]:
    """Every derivative of ``fn`` at ``z`` along a sub-multiset of ``chain``, keyed by sorted axes."""

    def level(g, axis):
        def h(z):
            primal, tangent = jax.jvp(g, (z,), (jnp.zeros_like(z).at[axis].set(1),))
            out = dict(primal)
            for key, value in tangent.items():
                out.setdefault(tuple(sorted(key + (axis,))), value)
            return out

        return h

    g = lambda z: {(): fn(z)}
    for axis in chain:
        g = level(g, axis)
    return g(z)


class PointExpression:
    """A sympy expression of coordinates, fields, their derivatives, parameters and unknown
    terms, evaluated at one point ``z`` given a field function.

    Each field ``u(x, t)``, derivative ``Derivative(u(x, t), x, 2)`` and unknown term
    ``R(u(x, t))`` is replaced by a placeholder symbol; the rest is turned into a JAX function
    by ``sympy.lambdify``. An unknown term is its network (``unknowns[name]``) of its inputs,
    with the network's parameters read from ``params[name]``.
    """

    def __init__(self, expr: sp.Expr, coordinates: tuple[sp.Symbol, ...], field_names: tuple[str, ...], parameters: tuple[str, ...],
                 unknowns: Mapping[str, UnknownNetwork] | None = None):
        expr = sp.sympify(expr)
        self.unknowns: list[tuple[str, UnknownNetwork | None]] = []  # in placeholder order
        replace_unknowns: dict[sp.Expr, sp.Symbol] = {}
        for k, term in enumerate(sorted(expr.atoms(UnknownTerm), key=sp.default_sort_key)):
            self.unknowns.append((term.name, (unknowns or {}).get(term.name)))
            replace_unknowns[term] = sp.Symbol(f"_unknown{k}")
        axis = {c: i for i, c in enumerate(coordinates)}
        d = len(coordinates)
        self.derivatives: list[tuple[int, tuple[int, ...]]] = []  # (field, sorted axes)
        replace: dict[sp.Expr, sp.Symbol] = {}
        for k, der in enumerate(sorted(expr.atoms(sp.Derivative), key=sp.default_sort_key)):
            axes = tuple(sorted(axis[v] for v, n in der.variable_count for _ in range(int(n))))
            self.derivatives.append((field_names.index(field_name(der.expr)), axes))
            replace[der] = sp.Symbol(f"_deriv{k}")
        self._chains = derivative_chains([axes for _, axes in self.derivatives])
        self.fields_used: list[int] = []
        for f in sorted(expr.atoms(AppliedUndef), key=sp.default_sort_key):
            self.fields_used.append(field_names.index(field_name(f)))
            replace[f] = sp.Symbol(f"_field{field_names.index(field_name(f))}")
        body = expr.xreplace(replace_unknowns).xreplace(replace)
        replace.update(replace_unknowns)
        symbols = [sp.Symbol(f"_z{i}") for i in range(d)]
        body = body.xreplace(dict(zip(coordinates, symbols)))
        param_syms = [sp.Symbol(f"_p_{p}") for p in parameters]
        body = body.xreplace({s: sp.Symbol(f"_p_{s.name}") for s in body.free_symbols if isinstance(s, Parameter)})
        args = symbols + [replace[k] for k in replace] + param_syms
        self._fn = sp.lambdify(args, body, modules="jax")
        self.parameters = parameters
        self.expr = expr

    def __call__(self, field_fn: FieldFunction, params: Params, z: jax.Array) -> jax.Array:
        known: dict[tuple[int, ...], jax.Array] = {}
        for chain in self._chains:
            for key, value in chain_derivatives(field_fn, z, chain).items():
                known.setdefault(key, value)
        if () not in known and (self.fields_used or self.unknowns):
            known[()] = field_fn(z)
        values = [known[axes][field_index] for field_index, axes in self.derivatives]
        values += [known[()][i] for i in self.fields_used]
        for name, network in self.unknowns:
            if network is None:
                missing_network(name)()
            values.append(network(params[name], network.inputs.values(z, known[()])))
        result = self._fn(*z, *values, *(params[p] for p in self.parameters))
        return jnp.asarray(result, dtype=z.dtype)


@dataclass
class Term:
    """One named loss term: which point set it uses and how to evaluate its residual."""

    name: str
    kind: str  # residual | condition | symmetry | data
    weight: float
    points: str  # key of the point set in a batch


@dataclass(frozen=True)
class ConditionTerm:
    """A condition imposed by a loss term.

    ``sample(n, rng, method)`` draws the term's points (host side, a dict of arrays);
    ``evaluate(field_fn, params, batch)`` returns its residuals, whose mean square is the term.
    """

    name: str
    sample: Callable[[int, np.random.Generator, str], dict]
    evaluate: Callable[[FieldFunction, Params, dict], jax.Array]


@dataclass(frozen=True)
class PeriodicEmbedding:
    """Exact periodicity in one coordinate: ``z_axis -> (cos 2πk(z-a)/L, sin 2πk(z-a)/L)_{k<=K}``."""

    axis: int
    lower: float
    period: float
    modes: int

    def __call__(self, z: jax.Array) -> jax.Array:
        k = jnp.arange(1, self.modes + 1, dtype=z.dtype)
        phase = 2 * jnp.pi * k * (z[..., self.axis : self.axis + 1] - self.lower) / self.period
        return jnp.concatenate([jnp.cos(phase), jnp.sin(phase)], axis=-1)


@dataclass(frozen=True)
class InputMap:
    """What the surrogate sees of a point: every coordinate scaled from the domain's bounding
    box to ``[-1, 1]`` (what networks train best on), except the coordinates with exact
    periodicity, each replaced in place by its :class:`PeriodicEmbedding`. Works on one point
    ``(d,)`` or a batch ``(n, d)``."""

    lower: np.ndarray
    upper: np.ndarray
    periodic: tuple[PeriodicEmbedding, ...] = ()

    @property
    def dimension(self) -> int:
        """Number of surrogate inputs."""
        return len(self.lower) + sum(2 * e.modes - 1 for e in self.periodic)

    def __call__(self, z: jax.Array) -> jax.Array:
        lo, hi = jnp.asarray(self.lower, z.dtype), jnp.asarray(self.upper, z.dtype)
        scaled = 2.0 * (z - lo) / (hi - lo) - 1.0
        if not self.periodic:
            return scaled
        embedded = {e.axis: e for e in self.periodic}
        columns = [embedded[a](z) if a in embedded else scaled[..., a : a + 1] for a in range(len(self.lower))]
        return jnp.concatenate(columns, axis=-1)


@dataclass
class CompiledProblem:
    """A problem turned into JAX functions; see the module docstring."""

    problem: Problem
    coordinate_names: tuple[str, ...]
    field_names: tuple[str, ...]
    lower: np.ndarray
    upper: np.ndarray
    terms: list[Term]
    known_parameters: dict[str, float]
    unknown_parameters: dict[str, Parameter]
    inputs: InputMap
    _residuals: list[PointExpression] = field(repr=False)
    _conditions: list[ConditionTerm] = field(repr=False)
    _symmetries: list = field(repr=False)
    _observations: dict = field(repr=False)
    _transform: Callable = field(repr=False)
    output_scales: np.ndarray | None = None  # per field: the surrogate's outputs are multiplied by it
    # points -> proximity to a singular point (dsl.problem.singular_point_proximity), or None
    corner_proximity: Callable | None = field(default=None, repr=False)
    # unknown terms (sciml.dsl.Unknown): name -> network, and its parameters before training
    unknown_networks: dict[str, UnknownNetwork] = field(default_factory=dict, repr=False)
    _unknown_initial: dict = field(default_factory=dict, repr=False)

    # ------------------------------------------------------------------ parameters
    def initial_parameters(self) -> dict[str, Any]:
        """The problem's trainable parameters before training: the unconstrained values of the
        learned parameters, and the network parameters of each unknown term (by its name)."""
        values = {
            n: jnp.asarray(np.log(p.value) if p.positive else p.value) for n, p in self.unknown_parameters.items()
        }
        return {**values, **self._unknown_initial}

    def physical_parameters(self, raw: dict[str, Any]) -> Params:
        """All parameter values, known and identified, in physical units (with the unknown
        terms' network parameters, as they are)."""
        out = {n: jnp.asarray(v) for n, v in self.known_parameters.items()}
        for n, p in self.unknown_parameters.items():
            out[n] = jnp.exp(raw[n]) if p.positive else raw[n]
        for n in self.unknown_networks:
            out[n] = raw[n]
        return out

    @property
    def observations(self) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """The data, ``{field: (points (n, d), values (n,))}``."""
        return dict(self._observations)

    def unknown_values(self, name: str, raw: dict[str, Any], inputs: jax.Array) -> jax.Array:
        """The unknown term ``name`` at its inputs ``(n, n_inputs)`` (in the order it was declared
        with, unscaled), given the trainable parameters ``raw``."""
        if name not in self.unknown_networks:
            raise ProblemError(f"{name!r} is not an unknown term with a network; the problem has "
                               f"{sorted(self.unknown_networks) or 'none'}")
        return self.unknown_networks[name](raw[name], jnp.asarray(inputs))

    # ------------------------------------------------------------------ the surrogate
    @property
    def input_dimension(self) -> int:
        """Number of inputs a surrogate must take (periodic embeddings widen the coordinates)."""
        return self.inputs.dimension

    @property
    def gauge_fixed_fields(self) -> tuple[str, ...]:
        """Fields the equations define only up to a constant, fixed by Pin or MeanValue."""
        return self.problem.gauge_fixed_fields

    def scale(self, z: jax.Array) -> jax.Array:
        """The surrogate's inputs at points ``z`` (see :class:`InputMap`)."""
        return self.inputs(z)

    def with_output_scales(self, scales: Mapping[str, float] | None) -> CompiledProblem:
        """The same compiled problem with the surrogate's outputs multiplied by ``scales``
        (``{field: scale}``; see :func:`compile_problem`), without compiling again."""
        return dataclasses.replace(self, output_scales=_output_scales(self.field_names, scales))

    def field_function(self, model: Callable[[jax.Array], jax.Array], params: Params | None = None) -> FieldFunction:
        """Per-point field function of a surrogate, with hard conditions and symmetries.

        ``params`` are the physical parameter values the hard conditions read, the same the
        residuals get (:meth:`physical_parameters`); by default the known values and the
        initial guesses of the learned ones.
        """
        if params is None:
            params = self.physical_parameters(self.initial_parameters())
        if self.output_scales is None:
            net = lambda z: model(self.inputs(z))
        else:
            scales = jnp.asarray(self.output_scales)
            net = lambda z: model(self.inputs(z)) * scales.astype(z.dtype)
        return lambda z: self._transform(net, z, params)

    def predict(self, model, points: jax.Array, params: Params | None = None) -> jax.Array:
        """Fields at many points: ``(n, d) -> (n, n_fields)`` (``params`` as in :meth:`field_function`)."""
        return jax.vmap(self.field_function(model, params))(points)

    # ------------------------------------------------------------------ sampling
    def sample(self, rng: np.random.Generator, counts: dict[str, int], method: str = "uniform", dtype=np.float32) -> dict:
        """A batch: ``{point set: arrays}`` for every term (host side)."""
        batch = {"interior": {"z": self.problem.space_time.sample(counts.get("interior", 1000), rng, method)}}
        for key, sampler in self._conditions_samplers():
            batch[key] = sampler(counts.get("boundary", 200), rng, method)
        for _, _, sampler, key in self._symmetries:
            if sampler is not None:
                batch[key] = sampler(counts.get("times", 32), rng)
        for name, (pts, vals) in self._observations.items():
            batch[f"data:{name}"] = {"z": pts, "u": vals}
        return jax.tree.map(lambda a: np.asarray(a, dtype=dtype), batch)

    def _conditions_samplers(self):
        for k, term in enumerate(self._conditions):
            yield f"condition{k}", term.sample

    # ------------------------------------------------------------------ losses
    def residual_values(self, field_fn: FieldFunction, params: Params, z: jax.Array) -> jax.Array:
        """All equation residuals at points ``z (n, d)`` -> ``(n, n_equations)``."""
        per_point = lambda p: jnp.stack([r(field_fn, params, p) for r in self._residuals])
        return jax.vmap(per_point)(z)

    def loss_terms(self, model, raw_params: dict, batch: dict, reduce_residual=None) -> dict[str, jax.Array]:
        """Mean squared residual of every term, by name (unweighted; residuals and boundary
        misfits fade out near singular points, see :meth:`fade`).

        ``reduce_residual(squared (n,), points (n, d)) -> scalar`` replaces the plain mean for
        the equation residuals (e.g. :func:`sciml.losses.causal.causal_reduction`).
        """
        params = self.physical_parameters(raw_params)
        field_fn = self.field_function(model, params)
        out: dict[str, jax.Array] = {}
        z = batch["interior"]["z"]
        res = self.residual_values(field_fn, params, z) * self.fade(z)[:, None]
        for j in range(res.shape[1]):
            squared = res[:, j] ** 2
            out[self.terms[j].name] = reduce_residual(squared, z) if reduce_residual else jnp.mean(squared)
        for k, term in enumerate(self._conditions):
            misfit = term.evaluate(field_fn, params, batch[f"condition{k}"])
            points = batch[f"condition{k}"].get("z") if isinstance(batch[f"condition{k}"], dict) else None
            if points is not None and misfit.shape[:1] == points.shape[:1]:
                misfit = misfit * self.fade(points)
            out[term.name] = jnp.mean(misfit**2)
        for name, evaluate, _, key in self._symmetries:
            out[name] = evaluate(field_fn, params, batch[key])
        for name in self._observations:
            data = batch[f"data:{name}"]
            pred = jax.vmap(field_fn)(data["z"])[:, self.field_names.index(name)]
            out[f"data:{name}"] = jnp.mean((pred - data["u"]) ** 2)
        return out

    def fade(self, z: jax.Array) -> jax.Array:
        """``(n,)`` weights of the points ``z``: ``min(1, r/ρ)²`` within ``ρ`` of a singular point
        (:func:`~sciml.dsl.problem.singular_point_proximity`), 1 elsewhere.

        There the exact solution is singular (a re-entrant corner, data that jump) and no smooth
        surrogate balances the equation, or meets both pieces' data, pointwise; the square keeps
        the faded squared residual bounded even where it grows like ``1/r⁴`` (the second
        derivatives of data that jump)."""
        if self.corner_proximity is None:
            return jnp.ones(z.shape[:1], z.dtype)
        return jnp.minimum(self.corner_proximity(z), 1.0) ** 2

    @property
    def term_names(self) -> list[str]:
        return [t.name for t in self.terms]

    @property
    def weights(self) -> dict[str, float]:
        return {t.name: t.weight for t in self.terms}


def _condition_name(i: int, cond) -> str:
    return f"{cond.kind}:{cond.field_name}#{i}"


def _symmetry_name(i: int, sym) -> str:
    return f"{sym.kind}#{i}"


# ============================================================================================
# Compilation
# ============================================================================================


def compile_problem(problem: Problem, output_scales: Mapping[str, float] | None = None,
                    unknown_networks: Mapping[str, Any] | None = None) -> CompiledProblem:
    """Turn a validated problem into JAX functions (see :class:`CompiledProblem`).

    ``output_scales`` (``{field: scale}``, 1 for a field not named) multiply the surrogate's
    outputs before hard conditions apply: a network whose outputs are of order one then
    represents fields (or corrections under a hard condition's distance factor) of that
    order (see :mod:`sciml.scales`).

    ``unknown_networks`` (``{name: flax nnx module (..., n_inputs) -> (..., 1)}``) are the
    networks of the problem's unknown terms (:func:`sciml.dsl.Unknown`); their parameters join
    :meth:`CompiledProblem.initial_parameters`. Without them the problem compiles, but its
    residuals cannot be evaluated.
    """
    coords = problem.coordinates
    fields = problem.field_names
    params_all = problem.parameters
    pnames = tuple(p.name for p in params_all)
    observations = observation_points(problem, problem.data) if problem.data is not None else {}
    networks, unknown_initial = _unknown_networks(problem, unknown_networks or {}, observations)
    expr = lambda e: PointExpression(e, coords, fields, pnames, networks)
    lower, upper = problem.space_time.bounds()

    residuals = [expr(r) for r in problem.residuals]
    single = len(residuals) == 1
    terms = [Term("residual" if single else f"residual:{i}", "residual", 1.0, "interior") for i in range(len(residuals))]

    conditions: list[ConditionTerm] = []
    hard = {f: [] for f in fields}
    for i, cond in enumerate(problem.conditions):
        if cond.hard:
            if not isinstance(cond, Periodic):  # periodicity is built into the inputs instead
                hard[cond.field_name].append(cond)
            continue
        sampler, evaluate = _compile_condition(problem, cond, expr)
        name = _condition_name(i, cond)
        conditions.append(ConditionTerm(name, sampler, evaluate))
        terms.append(Term(name, "condition", cond.weight, f"condition{len(conditions) - 1}"))

    symmetries = []
    hard_symmetries = []
    for i, sym in enumerate(problem.symmetries):
        if isinstance(sym, Reflection) and sym.hard:
            # Built into the surrogate: the loss term would be identically zero.
            hard_symmetries.append(sym)
            continue
        _, evaluate, sampler = _compile_symmetry(problem, sym, expr)
        name = _symmetry_name(i, sym)
        key = f"symmetry{len(symmetries)}" if sampler is not None else "interior"
        symmetries.append((name, evaluate, sampler, key))
        terms.append(Term(name, "symmetry", sym.weight, key))

    for name in observations:
        terms.append(Term(f"data:{name}", "data", 1.0, f"data:{name}"))

    transform = _output_transform(problem, hard, hard_symmetries)
    compiled = CompiledProblem(
        problem=problem,
        coordinate_names=problem.coordinate_names,
        field_names=fields,
        lower=lower,
        upper=upper,
        terms=terms,
        known_parameters={p.name: p.value for p in params_all if not p.learn},
        unknown_parameters={p.name: p for p in params_all if p.learn},
        inputs=_input_map(problem),
        _residuals=residuals,
        _conditions=conditions,
        _symmetries=symmetries,
        _observations=observations,
        _transform=transform,
        output_scales=_output_scales(fields, output_scales),
        corner_proximity=singular_point_proximity(problem),
        unknown_networks=networks,
        _unknown_initial=unknown_initial,
    )
    return compiled


def _unknown_networks(problem: Problem, modules: Mapping[str, Any], observations: dict):
    """``({name: UnknownNetwork}, {name: initial parameters})`` of the unknown terms given a module."""
    terms = {u.name: u for u in problem.unknowns}
    extra = sorted(set(modules) - set(terms))
    if extra:
        raise ProblemError(f"networks given for {extra}, which are not unknown terms of the problem "
                           f"({sorted(terms) or 'it has none'})")
    networks, initial = {}, {}
    for name, module in modules.items():
        inputs = unknown_inputs(problem, terms[name], observations)
        if getattr(module, "in_features", len(inputs.sources)) != len(inputs.sources):
            raise ProblemError(f"the network of {name!r} takes {module.in_features} inputs, but {name} has "
                               f"{len(inputs.sources)} ({', '.join(inputs.input_names)})")
        networks[name], initial[name] = UnknownNetwork.split(inputs, module)
    return networks, initial


def _output_scales(fields: tuple[str, ...], scales: Mapping[str, float] | None) -> np.ndarray | None:
    if scales is None:
        return None
    # Also read back from a saved run's record: data, so checked for shape before use.
    if not isinstance(scales, Mapping) or not all(
            isinstance(k, str) and isinstance(v, (int, float)) and not isinstance(v, bool) for k, v in scales.items()):
        raise ProblemError(f"output scales must be a dict such as {{'u': 100.0}}, got {scales!r}")
    if not scales:
        return None
    unknown = sorted(set(scales) - set(fields))
    if unknown:
        raise ProblemError(f"output scales given for unknown fields {unknown}; the fields are {list(fields)}")
    values = np.array([float(scales.get(f, 1.0)) for f in fields])
    if not np.all(np.isfinite(values)) or np.any(values <= 0):
        raise ProblemError(f"output scales must be positive finite numbers, got {dict(scales)}")
    return values


def _input_map(problem: Problem) -> InputMap:
    """Scaling of every coordinate, and the embedding of each exactly periodic one."""
    lower, upper = problem.space_time.bounds()
    axes = {}
    for cond in problem.conditions:
        if isinstance(cond, Periodic) and cond.hard:
            axis = problem.coordinates.index(cond.coordinate)
            modes = max(cond.modes, axes[axis].modes) if axis in axes else cond.modes
            axes[axis] = PeriodicEmbedding(axis, float(lower[axis]), float(upper[axis] - lower[axis]), modes)
    return InputMap(lower, upper, tuple(axes[a] for a in sorted(axes)))


def _compile_condition(problem: Problem, cond, expr):
    """-> (sampler(n, rng, method) -> batch dict, evaluate(field_fn, params, batch) -> residuals)."""
    fi = problem.field_names.index(cond.field_name)
    value = expr(cond.value)
    coords = problem.coordinates

    if isinstance(cond, Pin):
        return _compile_pin(problem, cond, fi, value)
    if isinstance(cond, MeanValue):
        return _compile_mean_value(problem, cond, fi, value)

    if isinstance(cond, Periodic):
        axis = coords.index(cond.coordinate)
        factor = next(d for d in problem.space_time.factors if cond.coordinate in d.coordinates)
        a, b = factor.a, factor.b
        e = np.eye(len(coords))[axis]

        def sampler(n, rng, method):
            z = problem.space_time.sample(n, rng, method)
            left, right = z.copy(), z.copy()
            left[:, axis], right[:, axis] = a, b
            return {"left": left, "right": right}

        def evaluate(field_fn, params, batch):
            out = []
            for k in range(cond.derivatives + 1):
                g = nested_derivative(field_fn, (e,) * k)
                out.append(jax.vmap(g)(batch["left"])[:, fi] - jax.vmap(g)(batch["right"])[:, fi])
            return jnp.concatenate(out)

        return sampler, evaluate

    if isinstance(cond, Initial):
        time = problem.space_time.time
        piece = problem.space_time.lift(time.start)
        t_axis = coords.index(time.coordinates[0])
        directions = (np.eye(len(coords))[t_axis],) * cond.order
    else:
        piece = resolve_piece(problem, cond.on)
        directions = ()

    def sampler(n, rng, method):
        z = piece.sample(n, rng, method)
        return {"z": z, "n": piece.normal(z)}

    def evaluate(field_fn, params, batch):
        z, nrm = batch["z"], batch["n"]
        g = jax.vmap(lambda p: value(field_fn, params, p))(z)
        if isinstance(cond, (Dirichlet, Initial)):
            u = jax.vmap(nested_derivative(field_fn, directions))(z)[:, fi]
            return u - g
        du = jax.vmap(lambda p, v: jax.jvp(field_fn, (p,), (v.astype(p.dtype),))[1])(z, nrm)[:, fi]
        if isinstance(cond, Neumann):
            return du - g
        if isinstance(cond, Robin):
            u = jax.vmap(field_fn)(z)[:, fi]
            return cond.a * u + cond.b * du - g
        raise ProblemError(f"unsupported condition {cond!r}")

    return sampler, evaluate


def _compile_pin(problem: Problem, cond: Pin, fi: int, value: PointExpression):
    """``u(at) = value``: the pinned coordinates fixed, the others (if any) sampled."""
    coords = problem.coordinates
    fixed = {coords.index(c): float(v) for c, v in cond.at.items()}
    free = len(fixed) < len(coords)

    def sampler(n, rng, method):
        # A point pinned in every coordinate needs one sample; a pinned line needs several.
        z = problem.space_time.sample(min(n, 64) if free else 1, rng, method)
        for axis, v in fixed.items():
            z[:, axis] = v
        return {"z": z}

    def evaluate(field_fn, params, batch):
        z = batch["z"]
        return jax.vmap(field_fn)(z)[:, fi] - jax.vmap(lambda p: value(field_fn, params, p))(z)

    return sampler, evaluate


MEAN_VALUE_POINTS = 1024
"""Size of the fixed spatial point set a :class:`MeanValue` condition averages over."""


def _compile_mean_value(problem: Problem, cond: MeanValue, fi: int, value: PointExpression):
    """``mean over space of u = value``, at each of a few sampled times.

    The spatial points are one scrambled Sobol set drawn at compile time and kept: a fixed
    quadrature rule pins one and the same constant at every step, where fresh random points
    would move the gauge by their sampling error each time the batch is redrawn.
    """
    domain = problem.space_time
    time = domain.time
    spatial = [f for f in domain.factors if not f.is_time]
    t_axis = problem.coordinates.index(time.coordinates[0]) if time is not None else None
    n_space = MEAN_VALUE_POINTS if time is None else MEAN_VALUE_POINTS // 4
    rng0 = np.random.default_rng(0)
    space_points = ProductDomain(tuple(spatial)).sample(n_space, rng0, "sobol")
    space_axes = [a for a in range(len(problem.coordinates)) if a != t_axis]

    def sampler(n, rng, method):
        groups = 1 if time is None else 8
        z = np.empty((groups, n_space, len(problem.coordinates)))
        z[:, :, space_axes] = space_points[None]
        if time is not None:
            z[:, :, t_axis] = time.sample(groups, rng, method)[:, :1]
        return {"z": z}

    def evaluate(field_fn, params, batch):
        z = batch["z"]
        u = jax.vmap(jax.vmap(field_fn))(z)[..., fi]
        target = jax.vmap(lambda p: value(field_fn, params, p))(z[:, 0])
        return jnp.mean(u, axis=1) - target

    return sampler, evaluate


def _reflection_map(problem: Problem, mapping: dict) -> Callable[[jax.Array], jax.Array]:
    coords = problem.coordinates
    zs = [sp.Symbol(f"_z{i}") for i in range(len(coords))]
    exprs = [sp.sympify(mapping.get(c, c)).xreplace(dict(zip(coords, zs))) for c in coords]
    fn = sp.lambdify(zs, exprs, modules="jax")
    return lambda z: jnp.stack([jnp.asarray(v, z.dtype) * jnp.ones((), z.dtype) for v in fn(*z)])


def _compile_symmetry(problem: Problem, sym, expr):
    """-> (symmetry, evaluate(field_fn, params, points) -> scalar loss, sampler or None)."""
    coords = problem.coordinates
    if isinstance(sym, Reflection):
        fi = problem.field_names.index(field_name(sym.field))
        reflect = _reflection_map(problem, sym.mapping)

        def evaluate(field_fn, params, batch):
            z = batch["z"]
            u = jax.vmap(field_fn)(z)[:, fi]
            ur = jax.vmap(lambda p: field_fn(reflect(p)))(z)[:, fi]
            return jnp.mean((ur - sym.sign * u) ** 2)

        return sym, evaluate, None

    if isinstance(sym, Translation):
        fi = problem.field_names.index(field_name(sym.field))
        shift = np.zeros(len(coords))
        shift[coords.index(sym.coordinate)] = sym.shift

        def evaluate(field_fn, params, batch):
            z = batch["z"]
            u = jax.vmap(field_fn)(z)[:, fi]
            us = jax.vmap(field_fn)(z + jnp.asarray(shift, z.dtype))[:, fi]
            return jnp.mean((us - u) ** 2)

        return sym, evaluate, None

    if isinstance(sym, Conserved):
        quantity = expr(sym.quantity)
        over_axes = [coords.index(c) for c in sym.over]
        # Tensor Gauss–Legendre rule over the integrated coordinates.
        lower, upper = problem.space_time.bounds()
        nodes, weights = np.polynomial.legendre.leggauss(sym.nodes)
        grids = [lower[a] + (upper[a] - lower[a]) * (nodes + 1) / 2 for a in over_axes]
        wts = [(upper[a] - lower[a]) / 2 * weights for a in over_axes]
        mesh = np.stack([g.ravel() for g in np.meshgrid(*grids, indexing="ij")], axis=1)
        w = np.prod(np.stack([g.ravel() for g in np.meshgrid(*wts, indexing="ij")], axis=1), axis=1)
        def sampler(n_times, rng):
            base = problem.space_time.sample(n_times, rng, "uniform")  # time and other coordinates
            z = np.repeat(base[:, None, :], len(mesh), axis=1)
            z[:, :, over_axes] = mesh[None]
            return {"z": z, "w": np.broadcast_to(w, z.shape[:2]).copy()}

        def evaluate(field_fn, params, batch):
            z, w_ = batch["z"], batch["w"]
            q = jax.vmap(jax.vmap(lambda p: quantity(field_fn, params, p)))(z)
            integrals = jnp.sum(q * w_, axis=1)
            return jnp.var(integrals)

        return sym, evaluate, sampler

    raise ProblemError(f"unsupported symmetry {sym!r}")


@dataclass(frozen=True)
class ExactField:
    r"""The output transform of one field with exact conditions, as functions of the point.

    .. math::

        u = G + (u_0 - G_0) + (t - t_0)\,(u_1 - \partial_t G_0) + \tau^{m} D\, N,

    where ``G`` blends the hard Dirichlet data and vanishes nowhere it is not needed, ``D`` is
    the product of the pieces' distances (zero on them), ``N`` the surrogate's output,
    ``τ = (t - t₀)/(t₁ - t₀)``, ``G₀ = G(·, t₀)``, ``∂ₜG₀ = ∂ₜG(·, t₀)``, and ``m`` one more
    than the highest hard initial order (0 without one). Each term is absent when its
    condition is: at ``t₀`` the value is ``u₀`` and, since ``τ^m`` with ``m = 2`` has a double
    root, the time derivative is ``u₁``; on a Dirichlet piece ``D = 0`` leaves ``G``.

    Known parameters are constants of ``base``; the learned ones it reads (``parameters``,
    in argument order) are passed at evaluation, so training moves them here as in the
    residuals.
    """

    field: int
    base: Callable  # (*z, *learned parameters) -> G + (u0 - G0) + (t - t0)(u1 - dG0/dt)
    factor: Callable  # (*z) -> tau^m D
    parameters: tuple[str, ...] = ()

    def __call__(self, z: jax.Array, free: jax.Array, params: Params) -> jax.Array:
        base = self.base(*z, *(params[p] for p in self.parameters))
        return jnp.asarray(base, z.dtype) + jnp.asarray(self.factor(*z), z.dtype) * free


def _exact_field(problem: Problem, fi: int, conds: list, lam) -> ExactField:
    """``lam(expr, parameters)``: a JAX function of the point and those learned parameters."""
    name = problem.field_names[fi]
    known = {p: p.value for p in problem.parameters if not p.learn}
    initial = {c.order: c for c in conds if isinstance(c, Initial)}
    dirichlet = [c for c in conds if isinstance(c, Dirichlet)]
    if sum(isinstance(c, Initial) for c in conds) > len(initial):
        raise ProblemError(f"{name} has two hard initial conditions of the same order; keep one")
    g_exprs, d_exprs = [], []
    for c in dirichlet:
        g_exprs.append(sp.sympify(c.value).xreplace(known))
        d_exprs.append(resolve_piece(problem, c.on).distance)
    if len(d_exprs) == 1:
        G = g_exprs[0]
    elif d_exprs:
        # Blend: on piece i every other product vanishes, so G = g_i there.
        prods = [sp.Mul(*[d for j, d in enumerate(d_exprs) if j != i]) for i in range(len(d_exprs))]
        G = sum(g * p for g, p in zip(g_exprs, prods)) / (sum(prods) + sp.Float(1e-12))
    else:
        G = sp.Integer(0)
    base, factor = G, sp.Mul(*d_exprs) if d_exprs else sp.Integer(1)
    if initial:
        time = problem.space_time.time
        t, t0 = time.coordinates[0], time.a
        u0 = sp.sympify(initial[0].value).xreplace(known)
        base = base + u0 - G.xreplace({t: t0})
        if 1 in initial:
            u1 = sp.sympify(initial[1].value).xreplace(known)
            base = base + (t - t0) * (u1 - sp.diff(G, t).xreplace({t: t0}))
        factor = factor * ((t - t0) / (time.b - time.a)) ** (max(initial) + 1)
        if d_exprs:
            _check_compatible(problem, name, dirichlet, u0, G, time)
            if 1 in initial:
                _check_compatible(problem, name, dirichlet, u1, sp.diff(G, t), time, what="initial velocity")
    learned = tuple(p.name for p in problem.parameters if p.learn and p in base.free_symbols)
    return ExactField(fi, lam(base, learned), lam(factor, ()), learned)


def _output_transform(problem: Problem, hard: dict, hard_symmetries: list):
    """The map ``(net, z, params) -> fields`` that builds exact conditions and symmetries in."""
    coords = problem.coordinates
    fields = problem.field_names
    zs = [sp.Symbol(f"_z{i}") for i in range(len(coords))]
    to_z = dict(zip(coords, zs))

    def lam(e, parameters: tuple[str, ...]):
        # Parameters renamed like the residuals' (PointExpression), clear of lambdify's names.
        e = sp.sympify(e).xreplace(to_z)
        e = e.xreplace({s: sp.Symbol(f"_p_{s.name}") for s in e.free_symbols if isinstance(s, Parameter)})
        return sp.lambdify(zs + [sp.Symbol(f"_p_{p}") for p in parameters], e, modules="jax")

    symmetric = []
    for sym in hard_symmetries:
        symmetric.append((fields.index(field_name(sym.field)), _reflection_map(problem, sym.mapping), sym.sign))
    exact = [_exact_field(problem, fi, hard[name], lam) for fi, name in enumerate(fields) if hard[name]]

    def transform(net, z, params):
        out = net(z)
        for fi, reflect, sign in symmetric:
            out = out.at[fi].set(0.5 * (out[fi] + sign * net(reflect(z))[fi]))
        for e in exact:
            out = out.at[e.field].set(e(z, out[e.field], params))
        return out

    return transform


def _check_compatible(problem, name, dirichlet, u0, G, time, what="initial condition"):
    """Exact initial and boundary conditions must agree where they meet, for any value of
    the learned parameters: checked at their initial guesses and at other positive values."""
    rng = np.random.default_rng(0)
    coords = problem.coordinates
    t = time.coordinates[0]
    learned = [p for p in problem.parameters if p.learn]
    trials = [{p: p.value for p in learned}, {p: 1.5 * abs(p.value) + 0.5 for p in learned}] if learned else [{}]
    for c in dirichlet:
        z = resolve_piece(problem, c.on).sample(64, rng, "uniform")
        z[:, coords.index(t)] = time.a
        gap = 0.0
        for values in trials:
            f = sp.lambdify(coords, (u0 - G).xreplace(values), "numpy")
            gap = max(gap, np.max(np.abs(np.asarray(f(*z.T), float) * np.ones(len(z)))))
        if gap > 1e-6:
            raise ProblemError(
                f"the hard {what} of {name} and its hard condition {c.describe()} disagree "
                f"by {gap:.2e} where they meet; make them compatible or use hard=False for one of them"
            )
