"""Closed forms for the unknown terms of a solved problem (``sciml solve ... --symbolify``).

Each unknown term (:func:`sciml.dsl.Unknown`) — a network inside the equations of a PDE, or of
an ODE solved by a trajectory model (``--model node``, ``kan-ode``) — is distilled by the machinery of
:func:`~sciml.symbolic.discover.discover`. What differs between the two is only how a term is
sampled and how a formula is judged in its equation; an :class:`Equation` supplies both.

1. **Sampling.** The network is sampled where it was trained: a PDE's unknown uniformly on the
   range of its inputs seen in training (the fields' values at the training points, the
   coordinates' extent), so the law holds across that range and is not weighted by where the
   domain happens to sit (most of a travelling front's domain is at rest, ``u ≈ 0`` or
   ``u ≈ 1``); an ODE's the same for one input, and along the fitted trajectories for several
   (off them the network was never constrained).
2. **Candidates.** ``discover`` on those samples: its searches (additive laws under output
   transforms, SINDy-style sparse regression over a dictionary of terms, rational fits,
   separability structure), constant refits and rounding, and its Pareto front of complexity
   against held-out error.
3. **Selection in the equation.** The samples carry no noise, only the network's own error,
   which longer formulas imitate; what a law is *for* is the equation. Every candidate of the
   front is put into the equation in place of the network and its residual measured (a PDE
   with data: the misfit to the data once the formula's constants and the field are refitted
   together, :class:`_DataEquation`; a PDE without: the residual on collocation points held
   out from training, with the trained fields; an ODE: the misfit to the data once the
   formula's constants are refitted through the ODE). A PDE's law is the simplest candidate
   within two standard errors of the best residual or within :data:`DOUBT_RATIO` of the
   network's (the rule of :data:`~sciml.symbolic.law.SELECTION_RULE`, with the equation's
   residual as the error); an ODE's, fitted to the very data it is judged on, the one of least
   BIC.
4. **Doubt.** A law whose residual exceeds the network's by more than :data:`DOUBT_RATIO`, by
   an amount that is not negligible (over :data:`DOUBT_FLOOR` of the equation's scale: the
   term's mean square for a PDE without data, the data's with data and for an ODE; a law 1% off the term shows there,
   while two residuals at the fields' own error floor may differ by any ratio), is reported as
   doubtful, with both figures.
"""

from __future__ import annotations

import dataclasses
from functools import partial
import math
from pathlib import Path
from typing import Any, Protocol

import jax
import jax.numpy as jnp
import numpy as np
import sympy as sp
from flax import nnx

from sciml.functions import lambdify

from .alternatives import COMPLEXITY_SLACK, alternatives, ambiguity_note, wider_inputs
from .discover import discover
from .law import Candidate, Law, complexity, law_json
from .names import display
from .refit import evaluate

__all__ = ["DOUBT_FLOOR", "DOUBT_RATIO", "Equation", "distil_unknowns", "law_is_doubtful", "law_record",
           "restate", "symbolify_unknowns"]

DOUBT_RATIO = 2.0
"""A law is doubtful when its residual (mean square) exceeds the network's by more than this factor."""

DOUBT_FLOOR = 1e-4
"""...and when the excess is above this fraction of the equation's scale (a mean square)."""


class Equation(Protocol):
    """How the unknown terms of one solved problem are sampled and judged (module docstring).

    Attributes:
        names: the unknown terms, by name.
        n_points: how many values a residual averages (the ``n`` of the selection rule).
        network_residual: the residual with every unknown its trained network.
        rule: the selection and doubt rule in words, for the record.
        residual_name: what the residual is, in words (``"held-out equation residual"``).

    An equation may also define ``choose(scored, n_points)``, picking one ``(candidate, formula,
    residual)`` of ``scored`` (default: the simplest within two standard errors of the best,
    for residuals on held-out points), and ``ties(scored, chosen, n_points)``, the judged
    candidates it cannot tell from the chosen one, whose structurally different members are the
    law's alternatives (default: a residual within two standard errors of the chosen law's).
    """

    names: tuple[str, ...]
    n_points: int
    network_residual: float
    rule: str
    residual_name: str

    def samples(self, name: str, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, list[str], tuple]:
        """``(X (n, k), network values (n,), input names, (low, high) of the seen range)``."""

    def scale(self, name: str, values: np.ndarray) -> float:
        """The mean square the doubt floor is a fraction of (``values``: the samples' network values)."""

    def residual(self, name: str, expr: sp.Expr, symbols: list[sp.Symbol]) -> tuple[float, sp.Expr]:
        """The residual with ``expr`` (in ``symbols``, one per input) as ``name``, the other
        unknowns their networks; and the formula as judged (its constants possibly refitted)."""


def law_is_doubtful(law_residual: float, network_residual: float, scale: float) -> bool:
    """Whether a law fits its equation clearly worse than the network it came from: its mean
    squared residual exceeds the network's by more than :data:`DOUBT_RATIO` and by more than
    :data:`DOUBT_FLOOR` of ``scale``."""
    return (law_residual > DOUBT_RATIO * network_residual
            and law_residual - network_residual > DOUBT_FLOOR * scale)


def distil_unknowns(equation: Equation, *, seed: int = 0, n_samples: int = 1000, backend: str = "builtin",
                    time_budget: float = 60.0, rng: np.random.Generator | None = None,
                    single_terms: int = 0) -> dict[str, Law]:
    """Every unknown of ``equation`` as a :class:`Law` (module docstring, steps 1-4); each law's
    ``record["equation"]`` holds the residuals of the network and of the law and the verdict
    (``"law found"`` or ``"doubtful"``). ``rng`` draws the samples (default: from ``seed``).

    ``single_terms``: the equation also judges that many one-term laws, ``c phi`` of the sparse
    regression's dictionary (:func:`~sciml.symbolic.sparse.dictionary`) and saturating ratios
    ``c phi / (1 + b psi)``, and as many two-term laws ``a phi + b psi``, those closest to the
    samples: where the network learned its term only roughly (few noisy data), the right term
    may be off the samples' front while the equation can still tell it (a spring force
    ``x + x^3`` learned from positions alone came out on the front as ``a x + b sin x``).
    """
    rng = np.random.default_rng([seed, 7]) if rng is None else rng
    laws = {}
    for name in equation.names:
        X, y, columns, seen = equation.samples(name, n_samples, rng)
        data = {**{c: X[:, k] for k, c in enumerate(columns)}, name: y}
        found = discover(data, target=name, inputs=columns, backend=backend, seed=seed, time_budget=time_budget,
                         structure=len(columns) > 1, surrogate_check=False,  # the equation judges instead
                         noise="additive")  # a trained network's values, not a measurement's
        candidates = found.pareto + _single_terms(found, single_terms)
        laws[name] = _choose_in_equation(equation, name, found, candidates, seen,
                                         equation.scale(name, found.details["y"]))
    return laws


def _single_terms(found: Law, n: int) -> list[Candidate]:
    """The ``n`` one-term laws closest to the samples, but those already on the front: ``c phi``
    over the sparse dictionary (least squares ``c``), and the saturating ratios
    ``c phi / (1 + b psi)`` of low monomials (Michaelis–Menten, Holling type II), fitted
    linearly as ``y = c phi - b y psi`` (Levy 1959) and kept where the denominator stays
    positive on the samples."""
    from .sparse import dictionary, monomials

    X, y = found.details["X"], found.details["y"]
    fits = []

    def keep(expr, pred, source):
        mse = float(np.mean((pred - y) ** 2))
        fits.append(Candidate(expr, source, complexity(expr), mse, mse, 1.0 - mse / max(np.var(y), 1e-300)))

    for term in dictionary(X, found.symbols) if n else []:
        c = float(term.values @ y / (term.values @ term.values))
        keep(sp.Float(float(f"{c:.6g}")) * term.expr, c * term.values, "sparse: one term")
    low = monomials(X, found.symbols, powers=(1, 2)) if n else []
    for num in low:
        for den in low:
            (c, b), *_ = np.linalg.lstsq(np.stack([num.values, -y * den.values], axis=1), y, rcond=None)
            denominator = 1.0 + b * den.values
            if not np.all(denominator > 1e-3) or not (np.isfinite(c) and np.isfinite(b)) or abs(b) < 1e-8:
                continue
            expr = sp.Float(float(f"{c:.6g}")) * num.expr / (1 + sp.Float(float(f"{b:.6g}")) * den.expr)
            keep(expr, c * num.values / denominator, "rational: one term")
    on_front = {c.expr.as_coeff_Mul()[1] for c in found.pareto}
    one = [c for c in sorted(fits, key=lambda c: c.mse_test) if c.expr.as_coeff_Mul()[1] not in on_front][:n]
    return one + _two_terms(found, n)


def _two_terms(found: Law, n: int) -> list[Candidate]:
    """The ``n`` laws ``a phi + b psi`` over the sparse dictionary closest to the samples (least
    squares for every pair at once, from the dictionary's Gram matrix), but those on the front."""
    from .sparse import dictionary

    X, y = found.details["X"], found.details["y"]
    terms = dictionary(X, found.symbols) if n else []
    if len(terms) < 2:
        return []
    A = np.stack([t.values for t in terms], axis=1)
    G, r = A.T @ A, A.T @ y
    i, j = np.triu_indices(len(terms), k=1)
    det = G[i, i] * G[j, j] - G[i, j] ** 2
    ok = det > 1e-10 * G[i, i] * G[j, j]  # nearly collinear pairs say nothing new
    i, j, det = i[ok], j[ok], det[ok]
    a = (G[j, j] * r[i] - G[i, j] * r[j]) / det
    b = (G[i, i] * r[j] - G[i, j] * r[i]) / det
    mse = (y @ y - a * r[i] - b * r[j]) / len(y)
    on_front = {frozenset(t.as_coeff_Mul()[1] for t in sp.Add.make_args(c.expr)) for c in found.pareto}
    out = []
    for k in np.argsort(mse):
        if frozenset((terms[i[k]].expr, terms[j[k]].expr)) in on_front:
            continue
        expr = (sp.Float(float(f"{a[k]:.6g}")) * terms[i[k]].expr + sp.Float(float(f"{b[k]:.6g}")) * terms[j[k]].expr)
        m = float(max(mse[k], 0.0))
        out.append(Candidate(expr, "sparse: two terms", complexity(expr), m, m, 1.0 - m / max(np.var(y), 1e-300)))
        if len(out) == n:
            break
    return out


def _choose_in_equation(equation: Equation, name: str, found: Law, candidates: list[Candidate], seen,
                        scale: float) -> Law:
    """The law among ``candidates`` that the equation prefers (module docstring, 3-4)."""
    scored: list[tuple[Candidate, sp.Expr, float]] = []
    # An equation whose judgement is costly (a refit per candidate) goes from the simplest up and
    # stops at the first law no worse than the network: nothing more complex can then be chosen.
    stop = getattr(equation, "stops_within_network", False)
    for cand in sorted(candidates, key=lambda c: c.complexity) if stop else candidates:
        residual, expr = equation.residual(name, cand.expr, found.symbols)
        if math.isfinite(residual):
            scored.append((cand, expr, residual))
            if stop and residual <= DOUBT_RATIO * equation.network_residual:
                break
    if not scored:
        raise ValueError(f"no candidate formula for {name!r} could be evaluated in the equation")
    choose = getattr(equation, "choose", None) or partial(_simplest_within_noise, network=equation.network_residual)
    chosen, expr, residual = choose(scored, equation.n_points)
    if stop:
        # Formulas a little more complex than the chosen one were not judged: those that could
        # be its alternatives are (one more fitted constant at most, :data:`COMPLEXITY_SLACK`).
        judged = {id(c) for c, *_ in scored}
        for cand in sorted(candidates, key=lambda c: c.complexity):
            if id(cand) not in judged and cand.complexity <= chosen.complexity + COMPLEXITY_SLACK:
                r, e = equation.residual(name, cand.expr, found.symbols)
                if math.isfinite(r):
                    scored.append((cand, e, r))
    ties = getattr(equation, "ties", None) or _within_noise_of
    others = _alternatives_in_equation((chosen, expr, residual), ties(scored, (chosen, expr, residual),
                                                                       equation.n_points), found)
    doubtful = law_is_doubtful(residual, equation.network_residual, scale)
    unique: dict[str, float] = {}  # one entry per formula: refits can bring candidates to the same one
    for _, e, r in scored:
        unique.setdefault(display(e, found.columns), r)
    record = {"network_residual_mse": equation.network_residual, "law_residual_mse": residual,
              "residual": equation.residual_name, "scale_mean_square": scale,
              "n_points": equation.n_points, "rule": equation.rule,
              "verdict": "doubtful" if doubtful else "law found",
              "candidates": [{"expression": k, "residual_mse": r} for k, r in unique.items()],
              "input_range": {c: [float(lo), float(hi)] for c, lo, hi in zip(found.inputs, *seen)}}
    if others:
        record["alternatives"] = [{"expression": display(c.expr, found.columns), "residual_mse": c.mse_test}
                                  for c in others]
        record["ambiguity"] = _ambiguity(expr, others, found)
    if doubtful:
        record["why"] = (f"the law's {equation.residual_name} {residual:.3e} exceeds the network's "
                         f"{equation.network_residual:.3e} by more than {DOUBT_RATIO:g}x, and by more than "
                         f"{DOUBT_FLOOR:g} of the scale ({scale:.3e}): it fits clearly worse than "
                         "the network it came from")
    # The law is chosen in its equation, and so are its alternatives: the samples' own (formulas
    # as close to the network's values) say nothing about what the data support.
    found = dataclasses.replace(found, record={**found.record, "chosen_from": chosen.source, "equation": record},
                                alternatives=others, ambiguity=record.get("ambiguity", ""))
    return restate(found, expr)


def _within_noise_of(scored, chosen, n_points: int):
    """The judged candidates whose residual is within two standard errors of the chosen law's
    (or below it): those the equation supports as well (the default of ``Equation.ties``)."""
    bound = chosen[2] * (1.0 + 2.0 * math.sqrt(2.0 / n_points))
    return [s for s in scored if s[2] <= bound]


def _alternatives_in_equation(chosen, tied, found: Law) -> list[Candidate]:
    """Structurally different formulas among ``tied`` (``(candidate, formula as judged,
    residual)``), as :func:`~sciml.symbolic.alternatives.alternatives` keeps them for
    ``discover``: a skeleton other than the chosen law's, not the law plus terms, at most one
    more fitted constant; each with its residual in the equation as its error."""
    def judged(cand, expr, residual):
        return Candidate(expr, f"{cand.source}, judged in the equation", complexity(expr), residual, residual,
                         math.nan)

    return alternatives(judged(*chosen), [judged(*s) for s in tied if s[1] != chosen[1]], math.inf)


def _ambiguity(expr: sp.Expr, others: list[Candidate], found: Law) -> str:
    """:func:`~sciml.symbolic.alternatives.ambiguity_note`, naming the inputs over whose wider
    range the formulas part by more than the chosen law's distance from the network."""
    X = found.details["X"]
    noise = float(np.mean((evaluate(expr, found.symbols, X) - found.details["y"]) ** 2))
    wider = wider_inputs(expr, [c.expr for c in others], found.symbols, X, noise)
    return ambiguity_note(len(others), [found.inputs[i] for i in wider], "within the noise, judged in the equation")


def _simplest_within_noise(scored, n_points: int, network: float = math.nan):
    """The simplest candidate whose residual is within two standard errors of the best's (the
    residuals are measured on points held out from whatever was fitted) or within
    :data:`DOUBT_RATIO` of the ``network``'s own residual.

    The second bound matters on many points: the field was trained with the network's term,
    errors and all, so a formula with constants to spare can follow those errors more closely
    than the true law does (Fisher-KPP: a six-constant rational 4.3e-7 against u(1 - u)'s
    6.3e-7, the network's 3.8e-7); a law no worse than the network it replaces is as
    consistent with the field as that network."""
    bound = min(r for *_, r in scored) * (1.0 + 2.0 * math.sqrt(2.0 / n_points))
    if math.isfinite(network) and network > 0:
        bound = max(bound, DOUBT_RATIO * network)
    return min((s for s in scored if s[2] <= bound), key=lambda s: (s[0].complexity, s[2]))


def restate(law: Law, expr: sp.Expr, **equation) -> Law:
    """``law`` with the formula ``expr`` (its fit to the network's samples measured again) and
    ``equation`` merged into ``record["equation"]``."""
    details = law.details
    pred = evaluate(expr, law.symbols, details["X"])
    tr, te = details["train_index"], details["test_index"]
    metrics = {**law.metrics, "formula": _fit(pred[tr], details["y"][tr], pred[te], details["y"][te])}
    record = {**law.record, "equation": {**law.record["equation"], **equation}}
    return dataclasses.replace(law, expr=expr, metrics=metrics, record=record, details={**details, "pred": pred})


def _fit(pred_train, y_train, pred_test, y_test) -> dict:
    """R² and RMS error of a formula against the network's samples, on train and test rows."""
    out = {}
    for side, p, y in (("train", pred_train, y_train), ("test", pred_test, y_test)):
        mse = float(np.mean((p - y) ** 2))
        out[f"r2_{side}"] = 1.0 - mse / max(float(np.var(y)), 1e-300)
        out[f"rmse_{side}"] = math.sqrt(mse)
    return out


def law_record(laws: dict[str, Law]) -> dict:
    """``law.json``: the first law in full, every unknown's formula and verdict by name."""
    first = next(iter(laws.values()))
    record = first.to_dict()
    record["expressions"] = {name: str(law.expr) for name, law in laws.items()}
    record["display_expressions"] = {name: law.display_expression() for name, law in laws.items()}
    record["unknowns"] = {name: {"inputs": list(law.inputs), **law.record["equation"]} for name, law in laws.items()}
    record["applies_to"] = "the unknown terms of the equations: " + ", ".join(
        f"{name}({', '.join(law.inputs)})" for name, law in laws.items())
    return record


# ----------------------------------------------------------------------------- PDE unknowns
def symbolify_unknowns(solution, out: str | Path | None = None, *, seed: int = 0, n_samples: int = 1000,
                       n_points: int = 4000, backend: str = "builtin", time_budget: float = 60.0) -> dict[str, Law]:
    """Distil every unknown term of ``solution`` (a :class:`sciml.result.Solution`) into a law
    (:func:`distil_unknowns`); writes ``law.json`` (:func:`law_record`) to ``out`` when given."""
    compiled = solution.compiled
    if not compiled.unknown_networks:
        raise ValueError("the problem has no unknown terms (Unknown) to symbolify")
    rng = np.random.default_rng([seed, 7])
    held_out = compiled.problem.space_time.sample(n_points, rng, "uniform")
    equation = _DataEquation(solution, held_out) if compiled.observations else _FieldEquation(solution, held_out)
    laws = distil_unknowns(equation, seed=seed, n_samples=n_samples, backend=backend,
                           time_budget=time_budget, rng=rng)
    if out is not None:
        out = Path(out)
        out.mkdir(parents=True, exist_ok=True)
        (out / "law.json").write_text(law_json(law_record(laws)) + "\n", encoding="utf-8")
    return laws


@dataclasses.dataclass(frozen=True)
class _Formula:
    """A closed form standing in for an unknown term's network (the same call signature)."""

    inputs: Any  # sciml.dsl.networks.UnknownInputs
    fn: Any

    def __call__(self, _params, values):
        out = self.fn(*(values[..., k] for k in range(values.shape[-1])))
        return jnp.broadcast_to(jnp.asarray(out, values.dtype), values.shape[:-1])


class _FieldEquation:
    """The :class:`Equation` of a solved PDE problem: held-out collocation residuals."""

    residual_name = "held-out equation residual"

    def __init__(self, solution, held_out: np.ndarray):
        self.solution, self.held_out = solution, held_out
        self.names = tuple(solution.compiled.unknown_networks)
        self.n_points = len(held_out)
        self.network_residual = self._residual({})
        self.rule = ("candidates of the Pareto front put into the equation in place of the network; the simplest "
                     "whose held-out mean squared residual <= best * (1 + 2*sqrt(2/n_points)), or is within "
                     f"{DOUBT_RATIO:g}x the network's own (no worse than the network it replaces); doubtful when "
                     f"that residual exceeds the network's by more than {DOUBT_RATIO:g}x and by more than "
                     f"{DOUBT_FLOOR:g} of the term's mean square over its seen range")

    def samples(self, name, n, rng):
        network = self.solution.compiled.unknown_networks[name]
        low, high = self._seen_range(network.inputs)
        X = rng.uniform(low, high, (n, len(low)))
        y = np.asarray(self.solution.compiled.unknown_values(name, self.solution.raw_parameters, jnp.asarray(X)),
                       dtype=np.float64)
        return X, y, list(network.inputs.input_names), (low, high)

    def scale(self, name, values):
        return float(np.mean(values**2))  # the term's mean square

    def residual(self, name, expr, symbols):
        fn = lambdify(symbols, expr, "jax")
        network = self.solution.compiled.unknown_networks[name]
        return self._residual({name: _Formula(network.inputs, fn)}), expr

    def _seen_range(self, inputs) -> tuple[np.ndarray, np.ndarray]:
        """The range of an unknown's inputs at the points it was trained on (collocation and data)."""
        solution = self.solution
        compiled = solution.compiled
        points = [np.asarray(solution.collocation, dtype=np.float64)] if solution.collocation is not None else []
        points += [np.asarray(p, dtype=np.float64) for p, _ in compiled.observations.values()]
        z = np.concatenate(points) if points else compiled.problem.space_time.sample(4000, np.random.default_rng(0))
        fields = solution.predict(z)
        values = np.asarray(inputs.values(jnp.asarray(z), jnp.asarray(fields)), dtype=np.float64)
        return values.min(axis=0), values.max(axis=0)

    def _residual(self, terms: dict) -> float:
        """Mean squared residual of the equations on the held-out points, ``terms`` in place of
        those unknowns' networks."""
        from sciml.dsl.compile import PointExpression

        compiled = self.solution.compiled
        problem = compiled.problem
        unknowns = {**compiled.unknown_networks, **terms}
        pnames = tuple(p.name for p in problem.parameters)
        params = compiled.physical_parameters(self.solution.raw_parameters)
        field_fn = compiled.field_function(self.solution.model, params)
        residuals = [PointExpression(r, problem.coordinates, compiled.field_names, pnames, unknowns)
                     for r in problem.residuals]
        dtype = jnp.float64 if jax.config.jax_enable_x64 else jnp.float32
        per_point = jax.jit(jax.vmap(lambda p: jnp.stack([r(field_fn, params, p) for r in residuals])))
        values = np.asarray(per_point(jnp.asarray(self.held_out, dtype)), dtype=np.float64)
        return float(np.mean(values**2))


class _FormulaModule(nnx.Module):
    """A formula with trainable constants in the place of an unknown term's network: it takes
    the network's scaled inputs (``[-1, 1]`` over ``low .. high``) and returns ``(..., 1)``."""

    def __init__(self, fn, constants, low, high):
        self.fn = fn
        self.constants = nnx.Param(jnp.asarray(constants, jnp.float32))
        self.low, self.high = tuple(float(v) for v in low), tuple(float(v) for v in high)

    def __call__(self, z):
        lo, hi = jnp.asarray(self.low, z.dtype), jnp.asarray(self.high, z.dtype)
        x = lo + (z + 1.0) * (hi - lo) / 2.0
        c = self.constants[...].astype(z.dtype)
        out = self.fn(*(x[..., k] for k in range(x.shape[-1])), *(c[i] for i in range(c.shape[0])))
        return jnp.broadcast_to(jnp.asarray(out, z.dtype), x.shape[:-1])[..., None]


def free_constants(expr: sp.Expr) -> tuple[sp.Expr, list[sp.Symbol], list[float]]:
    """``expr`` with its constants made symbols: ``(template, symbols, values)``.

    Every number is freed but exponents and unit factors, and each additive term gets a
    coefficient of its own (``u - u**2`` becomes ``c0 u + c1 u**2``): the refit may then move
    a constant the search rounded (a frequency ``7 sqrt(pi)/4`` next to ``pi``) or a term's
    weight, while the structure — which functions, which powers — stays the candidate's."""
    symbols: list[sp.Symbol] = []
    values: list[float] = []

    def new(value) -> sp.Symbol:
        symbols.append(sp.Symbol(f"_c{len(symbols)}"))
        values.append(float(value))
        return symbols[-1]

    def walk(e):
        if e.is_Number:
            return e if e in (1, -1) else new(e)
        if e.is_Atom:
            return e
        if e.is_Pow:
            return sp.Pow(walk(e.base), e.exp)
        return e.func(*(walk(a) for a in e.args))

    terms = []
    for term in sp.Add.make_args(expr):
        coeff, rest = term.as_coeff_Mul()
        terms.append(new(coeff) if rest == 1 else new(coeff) * walk(rest))
    return sp.Add(*terms), symbols, values


class _DataEquation(_FieldEquation):
    """The :class:`Equation` of a solved PDE problem with data: each candidate stands in for the
    network, its constants and the field are refitted together under the run's own loss (a
    quasi-Newton phase from the trained field), and the law is judged by the data misfit then
    reached — what the ODE route does through its ODE.

    The held-out residual with the trained field cannot judge here: the field was fitted with
    the network's term, errors and all, so formulas that follow the network's errors fit that
    field best, while the data tell which law the measurements support (a source recovered
    from 60 samples of ``u`` with 0.5% noise: the network's term is 2-5% off ``sin(pi x) + 2``,
    and a five-constant blend of ``x^2``, ``sin x`` and ``exp(-x)`` matched the trained field to
    1e-7 while ``sin(pi x) + 2`` fits the data as well as the network does)."""

    residual_name = "data misfit after refitting the field with the law"
    refit_steps = 300
    stops_within_network = True

    def __init__(self, solution, held_out: np.ndarray):
        self.solution, self.held_out = solution, held_out
        self.names = tuple(solution.compiled.unknown_networks)
        self.n_points = int(sum(len(v) for _, v in solution.compiled.observations.values()))
        self.network_residual = self._data_misfit(solution.model, solution.raw_parameters)
        self.rule = ("candidates of the Pareto front put into the equation in place of the network, their constants "
                     f"and the field refitted together ({self.refit_steps} quasi-Newton steps of the run's loss from "
                     "the trained field); the simplest whose data misfit (mean square, relative to the data's mean "
                     "square per field) <= best * (1 + 2*sqrt(2/n_points)), or is within "
                     f"{DOUBT_RATIO:g}x the network's own (candidates judged from the simplest up, to the first "
                     f"within {DOUBT_RATIO:g}x the network's); doubtful when that misfit exceeds the network's by more "
                     f"than {DOUBT_RATIO:g}x and by more than {DOUBT_FLOOR:g}")

    def scale(self, name, values):
        return 1.0  # the misfits are relative to the data's mean square already

    def residual(self, name, expr, symbols):
        from sciml.dsl.compile import compile_problem
        from sciml.training.engine import TrainingDiverged
        from sciml.training.trainer import Trainer

        solution, compiled = self.solution, self.solution.compiled
        template, constants, values = free_constants(expr)
        fn = lambdify(list(symbols) + constants, template, "jax")
        network = compiled.unknown_networks[name]
        modules = {n: nnx.merge(net.graphdef, solution.raw_parameters[n], net.rest)
                   for n, net in compiled.unknown_networks.items() if n != name}
        modules[name] = _FormulaModule(fn, values, network.inputs.lower, network.inputs.upper)
        scales = (None if compiled.output_scales is None
                  else dict(zip(compiled.field_names, (float(v) for v in compiled.output_scales))))
        refit = compile_problem(compiled.problem, output_scales=scales, unknown_networks=modules)
        trained = {k: v for k, v in solution.raw_parameters.items() if k != name}  # the formula's constants: its own
        trainer = Trainer.continuing(refit, nnx.clone(solution.model), solution.train_config, trained, steps=0,
                                     lbfgs_steps=self.refit_steps, grid_schedule=[], gate_schedule=[], progress=False,
                                     time_budget=0.0, residual_target=0.0, checkpoint_seconds=0.0)
        try:
            outcome = trainer.run()
        except TrainingDiverged:
            return math.inf, expr  # a law the field cannot follow
        fitted = np.asarray(outcome.raw_parameters[name]["constants"][...], np.float64)
        if not np.all(np.isfinite(fitted)):
            return math.inf, expr
        law = template.xreplace({c: sp.Float(float(v)) for c, v in zip(constants, fitted)})
        # Every constant is fitted now: fold the numbers the search wrote exactly (sqrt(pi)) into them.
        law = law.xreplace({a: sp.Float(float(a)) for a in law.atoms(sp.NumberSymbol)})
        if law.is_polynomial(*symbols):  # c0 x (c1 - c2 x): the factor is redundant once fitted
            law = sp.expand(law)
        law = law.xreplace({f: sp.Float(float(f"{float(f):.6g}")) for f in law.atoms(sp.Float)})  # 6 digits, once
        return self._data_misfit(outcome.model, outcome.raw_parameters), law

    def _data_misfit(self, model, raw) -> float:
        """Mean over observed fields of the data's mean squared misfit relative to their mean square."""
        compiled = self.solution.compiled
        field_fn = jax.vmap(compiled.field_function(model, compiled.physical_parameters(raw)))
        dtype = jnp.float64 if jax.config.jax_enable_x64 else jnp.float32
        misfits = []
        for name, (points, values) in compiled.observations.items():
            predicted = np.asarray(field_fn(jnp.asarray(points, dtype))[:, compiled.field_names.index(name)], np.float64)
            values = np.asarray(values, np.float64)
            misfits.append(float(np.mean((predicted - values) ** 2) / max(np.mean(values**2), 1e-300)))
        return float(np.mean(misfits))
