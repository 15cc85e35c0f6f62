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

from sciml.dsl.errors import ProblemError
from sciml.dsl.exact import ExactConditions, InputMap
from sciml.dsl.interfaces import interface_terms, material_interfaces
from sciml.dsl.networks import UnknownNetwork, missing_network, unknown_inputs
from sciml.dsl.problem import Problem, observation_points, singular_point_proximity
from sciml.dsl.symbols import Parameter, field_name
from sciml.dsl.symmetries import DivergenceFree, Reflection
from sciml.dsl.terms import (
    DEFAULT_COUNTS, INTERIOR, CompileContext, DataTerm, FieldFunction, Params, ResidualTerm, SampledTerm, Term,
)
from sciml.dsl.unknowns import UnknownTerm
from sciml.functions import lambdify

BLOCK = 65536
"""Points of a sampled set drawn from the batch's one stream; a larger set continues in blocks
of this many, each from its own stream (:meth:`CompiledProblem.sample`), so that the processes
of a multi-host run draw only the blocks of their own devices."""


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
    with the network's parameters read from ``params[name]``. ``extra`` symbols (a boundary's
    normal, :class:`~sciml.dsl.symbols.Normal`) take the values passed after ``z``.
    """

    def __init__(self, expr: sp.Expr, coordinates: tuple[sp.Symbol, ...], field_names: tuple[str, ...], parameters: tuple[str, ...],
                 unknowns: Mapping[str, UnknownNetwork] | None = None, extra: tuple[sp.Symbol, ...] = ()):
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
        args = symbols + [replace[k] for k in replace] + param_syms + list(extra)
        self._fn = lambdify(args, body, "jax")
        self.parameters = parameters
        self.expr = expr

    def __call__(self, field_fn: FieldFunction, params: Params, z: jax.Array, *extra: jax.Array) -> jax.Array:
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
        result = self._fn(*z, *values, *(params[p] for p in self.parameters), *extra)
        return jnp.asarray(result, dtype=z.dtype)


@dataclass
class CompiledProblem:
    """A problem turned into JAX functions; see the module docstring."""

    problem: Problem
    coordinate_names: tuple[str, ...]
    field_names: tuple[str, ...]
    lower: np.ndarray
    upper: np.ndarray
    terms: list[Term]  # residuals, then conditions, symmetries and data, in the problem's order
    known_parameters: dict[str, float]
    unknown_parameters: dict[str, Parameter]
    inputs: InputMap
    _residuals: list[PointExpression] = field(repr=False)
    _transform: Callable = field(repr=False)
    output_scales: np.ndarray | None = None  # per field: the surrogate's outputs are multiplied by it
    # points -> proximity to a singular point (dsl.problem.singular_point_proximity), or None
    singular_proximity: Callable | None = field(default=None, repr=False)
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
        return {t.field_name: (t.z, t.values) for t in self.terms if isinstance(t, DataTerm)}

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

    def field_function(self, model: Callable[[jax.Array], jax.Array], params: Params | None = None, *,
                       rectify: bool = True) -> FieldFunction:
        """Per-point field function of a surrogate, with hard conditions and symmetries.

        ``params`` are the physical parameter values the hard conditions read, the same the
        residuals get (:meth:`physical_parameters`); by default the known values and the
        initial guesses of the learned ones. ``rectify=False`` passes the surrogate's outputs
        of nonnegative fields as they are (a surrogate of zeros is then no change at all).
        """
        if params is None:
            params = self.physical_parameters(self.initial_parameters())
        return lambda z: self._transform(lambda z: self.surrogate_outputs(model, z, rectify=rectify), z, params)

    def surrogate_outputs(self, model: Callable[[jax.Array], jax.Array], z: jax.Array, *,
                          rectify: bool = True) -> jax.Array:
        """The surrogate's outputs at the point ``z`` as the output transform takes them: those of
        nonnegative fields made positive (softplus), then each multiplied by its output scale.
        The softplus comes first: a scale of 1e-4 inside it would leave ``softplus(0) = log 2``."""
        out = model(self.inputs(z))
        nonnegative = [k for k, name in enumerate(self.field_names) if name in self.problem.nonnegative_fields]
        if nonnegative and rectify:
            out = out.at[..., jnp.asarray(nonnegative)].set(jax.nn.softplus(out[..., jnp.asarray(nonnegative)]))
        if self.output_scales is not None:
            out = out * jnp.asarray(self.output_scales).astype(z.dtype)
        return out

    def predict(self, model, points: jax.Array, params: Params | None = None) -> jax.Array:
        """Fields at many points: ``(n, d) -> (n, n_fields)`` (``params`` as in :meth:`field_function`)."""
        return jax.vmap(self.field_function(model, params))(points)

    # ------------------------------------------------------------------ sampling
    def sample(self, rng: np.random.Generator, counts: dict[str, int], method: str = "uniform", dtype=np.float32,
               refined: np.ndarray | None = None, needed: Callable[[int], list[tuple[int, int]]] | None = None) -> dict:
        """A batch (host side): the interior points, then those of each term that draws its own,
        under the term's name (see :mod:`sciml.dsl.terms`). ``refined`` points (residual-adaptive
        refinement) join the interior points drawn.

        Each set's first :data:`BLOCK` points come from ``rng``; a larger set continues in
        blocks of :data:`BLOCK` points, each from its own stream (keyed by ``rng``'s seed, the
        set and the block), so that ``needed(n) -> [(start, stop), ...]``, the rows of an
        ``n``-row set one process keeps (its devices' shards), draws only those blocks; the
        rows of the others are left zero. The batch is the same whoever draws it.
        """
        count = lambda key: counts.get(key, DEFAULT_COUNTS.get(key))  # noqa: E731
        key = list(np.atleast_1d(rng.bit_generator.seed_seq.entropy))

        def draw(number: int, sampler, n):
            first = sampler(min(n, BLOCK) if n is not None else n, rng, method)
            rows = len(jax.tree.leaves(first)[0])
            if n is None or n <= BLOCK or rows != BLOCK:  # small, or data that ignore the count
                return first
            keep = needed(n) if needed is not None else [(0, n)]
            blocks = [first]
            for start in range(BLOCK, n, BLOCK):
                stop = min(start + BLOCK, n)
                if any(a < stop and start < b for a, b in keep):
                    blocks.append(sampler(stop - start, np.random.default_rng([*key, number, start]), method))
                else:
                    blocks.append(jax.tree.map(lambda a, size=stop - start: np.zeros((size, *a.shape[1:]), a.dtype),
                                               first))
            return jax.tree.map(lambda *parts: np.concatenate(parts), *blocks)

        batch = {INTERIOR: {"z": draw(0, self.problem.space_time.sample, count(INTERIOR))}}
        for number, term in enumerate(self.terms, start=1):
            if isinstance(term, SampledTerm) and term.count is not None:
                batch[term.name] = draw(number, term.sample, count(term.count))
        batch = jax.tree.map(lambda a: np.asarray(a, dtype=dtype), batch)
        if refined is not None and len(refined):
            batch[INTERIOR]["z"] = np.concatenate([batch[INTERIOR]["z"], refined.astype(dtype)])
        return batch

    @staticmethod
    def interior_points(batch: dict):
        """The collocation points ``(n, d)`` of a batch, where the equations' residuals are taken."""
        return batch[INTERIOR]["z"]

    # ------------------------------------------------------------------ losses
    def residual_values(self, field_fn: FieldFunction, params: Params, z: jax.Array) -> jax.Array:
        """All equation residuals at points ``z (n, d)`` -> ``(n, n_equations)``."""
        per_point = lambda p: jnp.stack([r(field_fn, params, p) for r in self._residuals])
        return jax.vmap(per_point)(z)

    def loss_terms(self, model, raw_params: dict, batch: dict, reduce_residual=None) -> dict[str, jax.Array]:
        """Mean squared residual of every term, by name (unweighted; residuals fade out near
        singular points, see :meth:`fade`).

        ``reduce_residual(squared (n,), points (n, d)) -> scalar`` replaces the plain mean for
        the equation residuals (e.g. :func:`sciml.losses.causal.causal_reduction`).
        """
        params = self.physical_parameters(raw_params)
        field_fn = self.field_function(model, params)
        out: dict[str, jax.Array] = {}
        z = self.interior_points(batch)
        res = self.residual_values(field_fn, params, z) * self.fade(z)[:, None]
        for term in self.terms:
            if isinstance(term, ResidualTerm):
                squared = res[:, term.equation] ** 2
                out[term.name] = reduce_residual(squared, z) if reduce_residual else jnp.mean(squared)
            else:
                out[term.name] = term.evaluate(field_fn, params, term.points(batch))
        return out

    def fade(self, z: jax.Array) -> jax.Array:
        """``(n,)`` weights of the residuals at points ``z``: ``min(1, r/ρ)²`` within ``ρ`` of a
        singular point (:attr:`singular_proximity`), 1 elsewhere.

        There the exact solution is singular (a re-entrant corner, data that jump) and no
        smooth surrogate balances the equation pointwise; the square keeps the faded squared
        residual bounded even where it grows like ``1/r⁴`` (the second derivatives of data that
        jump). Condition misfits are not faded: bounded by the data's jump, they are least
        where the surrogate follows each piece's data as close to the point as it can
        (measured on the lid-driven cavity: faded too, rel L2 0.108; not, 0.071)."""
        if self.singular_proximity is None:
            return jnp.ones(z.shape[:1], z.dtype)
        return jnp.minimum(self.singular_proximity(z), 1.0) ** 2

    @property
    def term_names(self) -> list[str]:
        return [t.name for t in self.terms]

    @property
    def weights(self) -> dict[str, float]:
        return {t.name: t.weight for t in self.terms}


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
    expr = lambda e, extra=(): PointExpression(e, coords, fields, pnames, networks, extra)
    lower, upper = problem.space_time.bounds()

    residuals = [expr(r) for r in problem.balanced_residuals]
    single = len(residuals) == 1
    terms: list[Term] = [ResidualTerm("residual" if single else f"residual:{i}", 1.0, i) for i in range(len(residuals))]
    proximity = singular_point_proximity(problem)
    context = CompileContext(problem, expr)

    exact = ExactConditions(problem)
    for i, cond in enumerate(problem.conditions):
        if cond.hard:
            cond.impose(exact)
        else:
            terms.append(cond.compile(i, context))

    hard_symmetries = []
    for i, sym in enumerate(problem.symmetries):
        if isinstance(sym, (Reflection, DivergenceFree)) and sym.hard:
            # Built into the surrogate: the loss term would be identically zero.
            hard_symmetries.append(sym)
        elif sym.weight:  # weight 0 declares without training, and 0 * NaN (log of a negative) is NaN
            terms.append(sym.compile(i, context))

    # A coefficient that jumps across a surface (a layered wall): the fields may bend there, and
    # each second-order equation's normal flux is the same on both sides (dsl.interfaces).
    interfaces = material_interfaces(problem)
    terms += interface_terms(problem, context, interfaces)

    terms += [DataTerm.of(name, fields.index(name), pts, vals) for name, (pts, vals) in observations.items()]

    transform = _output_transform(problem, exact, hard_symmetries, upper - lower)
    compiled = CompiledProblem(
        problem=problem,
        coordinate_names=problem.coordinate_names,
        field_names=fields,
        lower=lower,
        upper=upper,
        terms=terms,
        known_parameters={p.name: p.value for p in params_all if not p.learn},
        unknown_parameters={p.name: p for p in params_all if p.learn},
        inputs=exact.input_map(tuple(i.kink() for i in interfaces)),
        _residuals=residuals,
        _transform=transform,
        output_scales=_output_scales(fields, output_scales),
        singular_proximity=proximity,
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


def _output_transform(problem: Problem, exact_conditions: ExactConditions, hard_symmetries: list, extent):
    """The map ``(net, z, params) -> fields`` that builds exact conditions and symmetries in."""
    coords = problem.coordinates
    fields = problem.field_names
    zs = [sp.Symbol(f"_z{i}") for i in range(len(coords))]
    to_z = dict(zip(coords, zs))

    def lam(e, parameters: tuple[str, ...]):
        # Parameters renamed like the residuals' (PointExpression), clear of lambdify's names.
        e = sp.sympify(e).xreplace(to_z)
        e = e.xreplace({s: sp.Symbol(f"_p_{s.name}") for s in e.free_symbols if isinstance(s, Parameter)})
        return lambdify(zs + [sp.Symbol(f"_p_{p}") for p in parameters], e, "jax")

    symmetric, streams = [], []
    for sym in hard_symmetries:
        if isinstance(sym, DivergenceFree):
            f1, f2, c1, c2 = sym.stream(problem)
            # The network's output for f1 is the stream function in units of f1 times half the
            # extents' mean: its derivatives are then of f1's scale (the inputs span [-1, 1]).
            streams.append((f1, f2, c1, c2, 0.25 * float(extent[c1] + extent[c2])))
        else:
            symmetric.append((fields.index(field_name(sym.field)), sym.reflect(coords), sym.sign))
    exact = exact_conditions.fields(lam)
    # Known singular parts (a viscous corner's local flow) join last, on top of exact conditions:
    # the recipe keeps the pieces near them soft, and elsewhere they have decayed.
    enrichments = [(e, [fields.index(f) for f in e.field_names], [problem.coordinate_names.index(c) for c in e.coordinates])
                   for e in problem.enrichments]

    def with_streams(net):
        if not streams:
            return net

        def fields_of(z):
            jacobian, out = jax.jacfwd(lambda z: (lambda o: (o, o))(net(z)), has_aux=True)(z)
            for f1, f2, c1, c2, length in streams:
                out = out.at[f1].set(length * jacobian[f1, c2]).at[f2].set(-length * jacobian[f1, c1])
            return out

        return fields_of

    def transform(net, z, params):
        net = with_streams(net)
        out = net(z)
        for fi, reflect, sign in symmetric:
            out = out.at[fi].set(0.5 * (out[fi] + sign * net(reflect(z))[fi]))
        for e in exact:
            out = out.at[e.field].set(e(z, out[e.field], params))
        for e, columns, axes in enrichments:
            for column, value in zip(columns, e(z[jnp.asarray(axes)])):
                out = out.at[column].add(value.astype(out.dtype))
        return out

    return transform
