"""Closed forms for the unknown terms of a solved problem (``sciml solve ... --symbolify``).

Each unknown term (:func:`sciml.dsl.Unknown`) was trained as a network inside its equation.
It is distilled by the machinery of :func:`~sciml.symbolic.discover.discover`:

1. **Sampling.** The network is sampled uniformly on the range of its inputs seen in training
   (the fields' values at the training points, the coordinates' extent): the law should hold
   across that range, not be weighted by where the domain happens to sit (most of a travelling
   front's domain is at rest, ``u ≈ 0`` or ``u ≈ 1``). Beyond that range the network was
   never constrained.
2. **Candidates.** ``discover`` on those samples: its searches, constant refits and rounding,
   and its Pareto front of complexity against held-out error.
3. **Selection in the equation.** The samples carry no noise, only the network's own error,
   which longer formulas imitate; what a law is *for* is the equation. Every candidate of the
   front is put into the equation in place of the network, with the trained fields, and its
   residual measured on collocation points held out from training; the law is the simplest
   candidate within two standard errors of the best residual (the rule of
   :data:`~sciml.symbolic.law.SELECTION_RULE`, with the equation's residual as the error).
4. **Doubt.** A law whose held-out residual exceeds the network's by more than
   :data:`DOUBT_RATIO`, by an amount that is not negligible next to the term itself (over
   :data:`DOUBT_FLOOR` of its mean square: a law 1% off the term shows there, while two
   residuals at the fields' own error floor may differ by any ratio), is reported as
   doubtful, with both figures.
"""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import sympy as sp

from .discover import discover
from .law import Candidate, Law, law_json
from .names import display
from .refit import evaluate

__all__ = ["DOUBT_FLOOR", "DOUBT_RATIO", "EQUATION_RULE", "law_is_doubtful", "symbolify_unknowns"]

DOUBT_RATIO = 2.0
"""A law is doubtful when its held-out equation residual (mean square) exceeds the network's by
more than this factor."""

DOUBT_FLOOR = 1e-4
"""...and when the excess is above this fraction of the term's mean square over its seen range."""

EQUATION_RULE = ("candidates of the Pareto front put into the equation in place of the network; the "
                 "simplest whose held-out mean squared residual <= best * (1 + 2*sqrt(2/n_points)); "
                 f"doubtful when that residual exceeds the network's by more than {DOUBT_RATIO:g}x and by more "
                 f"than {DOUBT_FLOOR:g} of the term's mean square")


@dataclasses.dataclass(frozen=True)
class _Formula:
    """A closed form standing in for an unknown term's network (the same call signature)."""

    inputs: Any  # sciml.dsl.networks.UnknownInputs
    fn: Any

    def __call__(self, _params, values):
        out = self.fn(*(values[..., k] for k in range(values.shape[-1])))
        return jnp.broadcast_to(jnp.asarray(out, values.dtype), values.shape[:-1])


def symbolify_unknowns(solution, out: str | Path | None = None, *, seed: int = 0, n_samples: int = 1000,
                       n_points: int = 4000, backend: str = "builtin", time_budget: float = 60.0) -> dict[str, Law]:
    """Distil every unknown term of ``solution`` (a :class:`sciml.result.Solution`) into a law.

    Writes ``law.json`` to ``out`` (when given): the first unknown's law in full, and
    ``expressions = {name: formula}`` / ``unknowns = {name: record}`` for all of them.

    Returns:
        ``{name: Law}``; each law's ``record["equation"]`` holds the held-out residuals of the
        network and of the law and the verdict (``"law found"`` or ``"doubtful"``).
    """
    compiled = solution.compiled
    if not compiled.unknown_networks:
        raise ValueError("the problem has no unknown terms (Unknown) to symbolify")
    rng = np.random.default_rng([seed, 7])
    held_out = compiled.problem.space_time.sample(n_points, rng, "uniform")
    laws = {}
    for name, network in compiled.unknown_networks.items():
        low, high = _seen_range(solution, network.inputs)
        X = rng.uniform(low, high, (n_samples, len(low)))
        y = np.asarray(compiled.unknown_values(name, solution.raw_parameters, jnp.asarray(X)), dtype=np.float64)
        columns = list(network.inputs.input_names)
        data = {**{c: X[:, k] for k, c in enumerate(columns)}, name: y}
        found = discover(data, target=name, inputs=columns, backend=backend, seed=seed, time_budget=time_budget,
                         structure=len(columns) > 1)
        laws[name] = _choose_in_equation(solution, name, found, held_out, (low, high))
    if out is not None:
        out = Path(out)
        out.mkdir(parents=True, exist_ok=True)
        (out / "law.json").write_text(law_json(_record(laws)) + "\n", encoding="utf-8")
    return laws


def _seen_range(solution, inputs) -> tuple[np.ndarray, np.ndarray]:
    """The range of an unknown's inputs at the points it was trained on (collocation and data)."""
    compiled = solution.compiled
    points = [np.asarray(solution.collocation, dtype=np.float64)] if solution.collocation is not None else []
    points += [np.asarray(p, dtype=np.float64) for p, _ in compiled.observations.values()]
    z = np.concatenate(points) if points else compiled.problem.space_time.sample(4000, np.random.default_rng(0))
    fields = solution.predict(z)
    values = np.asarray(inputs.values(jnp.asarray(z), jnp.asarray(fields)), dtype=np.float64)
    return values.min(axis=0), values.max(axis=0)


def _equation_residual(solution, name: str, term, points: np.ndarray) -> float:
    """Mean squared residual of the equations, with ``term`` as the unknown ``name``."""
    from sciml.dsl.compile import PointExpression

    compiled = solution.compiled
    problem = compiled.problem
    unknowns = {**compiled.unknown_networks, name: term}
    pnames = tuple(p.name for p in problem.parameters)
    params = compiled.physical_parameters(solution.raw_parameters)
    field_fn = compiled.field_function(solution.model, params)
    residuals = [PointExpression(r, problem.coordinates, compiled.field_names, pnames, unknowns)
                 for r in problem.residuals]
    dtype = jnp.float64 if jax.config.jax_enable_x64 else jnp.float32
    per_point = jax.jit(jax.vmap(lambda p: jnp.stack([r(field_fn, params, p) for r in residuals])))
    values = np.asarray(per_point(jnp.asarray(points, dtype)), dtype=np.float64)
    return float(np.mean(values**2))


def law_is_doubtful(law_residual: float, network_residual: float, term_mean_square: float) -> bool:
    """Whether a law fits its equation clearly worse than the network it came from: its mean
    squared residual exceeds the network's by more than :data:`DOUBT_RATIO` and by more than
    :data:`DOUBT_FLOOR` of the term's mean square."""
    return (law_residual > DOUBT_RATIO * network_residual
            and law_residual - network_residual > DOUBT_FLOOR * term_mean_square)


def _choose_in_equation(solution, name: str, found: Law, held_out: np.ndarray, seen) -> Law:
    """The law among ``found``'s Pareto front that the equation prefers (module docstring, 3-4)."""
    network = solution.compiled.unknown_networks[name]
    network_residual = _equation_residual(solution, name, network, held_out)
    scored: list[tuple[Candidate, float]] = []
    for cand in found.pareto:
        fn = sp.lambdify(found.symbols, cand.expr, modules="jax")
        residual = _equation_residual(solution, name, _Formula(network.inputs, fn), held_out)
        if math.isfinite(residual):
            scored.append((cand, residual))
    if not scored:
        raise ValueError(f"no candidate formula for {name!r} could be evaluated in the equation")
    best = min(r for _, r in scored)
    bound = best * (1.0 + 2.0 * math.sqrt(2.0 / len(held_out)))
    chosen, residual = min(((c, r) for c, r in scored if r <= bound), key=lambda cr: (cr[0].complexity, cr[1]))
    details = found.details
    term = float(np.mean(np.asarray(details["y"], np.float64) ** 2))
    doubtful = law_is_doubtful(residual, network_residual, term)
    pred = evaluate(chosen.expr, found.symbols, details["X"])
    tr, te = details["train_index"], details["test_index"]
    metrics = {**found.metrics, "formula": _fit(pred[tr], details["y"][tr], pred[te], details["y"][te])}
    equation = {"network_residual_mse": network_residual, "law_residual_mse": residual, "term_mean_square": term,
                "held_out_points": len(held_out), "rule": EQUATION_RULE,
                "verdict": "doubtful" if doubtful else "law found",
                "candidates": [{"expression": display(c.expr, found.columns), "residual_mse": r}
                               for c, r in scored],
                "input_range": {c: [float(lo), float(hi)] for c, lo, hi in zip(found.inputs, *seen)}}
    if doubtful:
        equation["why"] = (f"the law's held-out equation residual {residual:.3e} exceeds the network's "
                           f"{network_residual:.3e} by more than {DOUBT_RATIO:g}x, and by more than "
                           f"{DOUBT_FLOOR:g} of the term's mean square ({term:.3e}): it fits clearly worse than "
                           "the network it came from")
    record = {**found.record, "chosen_from": chosen.source, "equation": equation}
    return dataclasses.replace(found, expr=chosen.expr, metrics=metrics, record=record,
                               details={**details, "pred": pred})


def _fit(pred_train, y_train, pred_test, y_test) -> dict:
    """R² and RMS error of a formula against the network's samples, on train and test rows."""
    out = {}
    for side, p, y in (("train", pred_train, y_train), ("test", pred_test, y_test)):
        mse = float(np.mean((p - y) ** 2))
        out[f"r2_{side}"] = 1.0 - mse / max(float(np.var(y)), 1e-300)
        out[f"rmse_{side}"] = math.sqrt(mse)
    return out


def _record(laws: dict[str, Law]) -> dict:
    """``law.json``: the first law in full, every unknown's formula and verdict by name."""
    first = next(iter(laws.values()))
    record = first.to_dict()
    record["expressions"] = {name: str(law.expr) for name, law in laws.items()}
    record["display_expressions"] = {name: law.display_expression() for name, law in laws.items()}
    record["unknowns"] = {name: {"inputs": list(law.inputs), **law.record["equation"]} for name, law in laws.items()}
    record["applies_to"] = "the unknown terms of the equations: " + ", ".join(
        f"{name}({', '.join(law.inputs)})" for name, law in laws.items())
    return record
