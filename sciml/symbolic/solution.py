"""Symbolification of a physics-informed solution (``sciml solve ... --symbolify``)."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import numpy as np
import sympy as sp

from sciml.functions import lambdify

from .law import law_json
from .names import safe_identifiers


# The finest relative resolution granted to a float32 network's field (its outputs' precision).
FLOAT32_RESOLUTION = 1e-7
BALANCE_POINTS = 2000  # fresh points on which a law's equations are balanced


def symbolify_solution(solution, out: str | Path, n_samples: int = 1000, seed: int = 0,
                       time_budget: float = 60.0) -> dict:
    """Distil each field of a solved problem into a closed form in the problem's coordinates.

    What a scientist asks of ``--symbolify`` on a field is the field: ``u(x) = sin(pi x)``.
    The solved field — exact conditions and output scales included — is sampled uniformly over
    the domain and its values go through :func:`~sciml.symbolic.discover.discover` (quick
    searches, structure tests, genetic search, rounding and held-out selection), one field at a
    time. A KAN's edges, fitted by primitives and composed (:func:`symbolify`), join as one
    more candidate when the network is the field itself (no exact conditions, no output scale).

    **The network's resolution.** The samples carry the network's own error, smooth and
    systematic, which a longer formula can imitate to float precision (a heat solution
    ``exp(-0.1 pi^2 t) sin(pi x)`` came back as ``607041 sin(3.14159 x)/(607041 exp(0.986962 t)
    + 1)``), and which no noise test sees. The network knows its field only as well as it
    balances its equations: the samples are dithered with Gaussian noise of that size (the
    verdict's fresh-point residual ratio times the field's RMS, at least
    :data:`FLOAT32_RESOLUTION`), so the search's noise-aware rules (rounding, the simplest
    formula within the noise) work at the network's resolution (that heat solution:
    ``exp(-pi^2 t/10) sin(pi x)``). A law whose held-out error exceeds the dither (by the rule of
    ``discover``'s noise test, with the dither's known variance) is doubtful, and so is one that,
    put into the equations in place of the fields, leaves them unbalanced beyond the verdict's
    bound (:func:`_equation_balance`): within a coarse resolution a fit can follow a field whose
    solution has no closed form. The law is also compared with the exact solution or reference
    when there is one (``reference_rel_l2``).

    Writes ``law.json`` to ``out`` (the first field's law in full, every field's under
    ``fields``) and returns ``{field: Law}``.
    """
    from sciml.result import evaluation_set
    from sciml.symbolic.discover import discover
    from sciml.symbolic.noise import NoiseReference, noise_comparison
    from sciml.verdict import THRESHOLDS

    compiled, problem = solution.compiled, solution.problem
    coords, fields = list(compiled.coordinate_names), list(compiled.field_names)
    rng = np.random.default_rng(seed)
    z = problem.space_time.sample(n_samples, rng, "uniform")
    values = np.asarray(solution.predict(z), np.float64)
    ratios = [r for r in solution.verdict.indicators.get("residual", []) if np.isfinite(r)]
    resolution = max([FLOAT32_RESOLUTION, *ratios])
    kan_note, proposals = _kan_candidates(solution, z, coords, fields[0], seed)
    reference = evaluation_set(problem)
    laws, summaries = {}, {}
    for k, name in enumerate(fields):
        sigma = resolution * float(np.sqrt(np.mean(values[:, k] ** 2)))
        dithered = values[:, k] + sigma * rng.standard_normal(len(z))
        data = {**{c: z[:, j] for j, c in enumerate(coords)}, name: dithered}
        law = discover(data, target=name, inputs=coords, seed=seed, time_budget=time_budget,
                       proposals=proposals if k == 0 else (), surrogate_check=False,
                       noise="additive")  # the dither is additive
        held_out = law.details["test_index"]
        dither = NoiseReference(sigma**2, None, "the dither added to the samples (the network's resolution)", len(z))
        noise = noise_comparison((law.details["pred"][held_out] - dithered[held_out]) ** 2, dither)
        law = dataclasses.replace(law, metrics={**law.metrics, "noise": noise})
        laws[name] = law
        summaries[name] = {"expression": str(law.expr), "display_expression": law.display_expression(),
                           "verdict": law.verdict, "dither_rms": sigma}
        compared = _against_reference(law, reference, coords, name, name in problem.gauge_fixed_fields)
        if compared is not None:
            summaries[name]["reference_rel_l2"] = compared
    # A formula within the samples' resolution is a fit; a law also balances the equations: on
    # fresh points, by the verdict's measure and within its bound, as a trusted network must (a
    # law from a doubtful network is held to the same bound, not to the network's imbalance).
    balance = _equation_balance(solution, laws, problem.space_time.sample(BALANCE_POINTS, rng, "uniform"))
    network = max(ratios, default=0.0)
    bound = THRESHOLDS["residual"]
    for name, law in laws.items():
        summaries[name]["equation_balance"] = {"law": balance, "network": network, "bound": bound}
        if not balance <= bound:
            laws[name] = law = dataclasses.replace(law, metrics={**law.metrics, "equation": {
                "law_balance": balance, "network_balance": network, "formula_unbalanced": True}})
            summaries[name]["verdict"] = law.verdict
            summaries[name]["why"] = (f"with the laws in place the equations are left unbalanced by {balance:.3g} of "
                                      f"their largest term on fresh points (the network: {network:.3g}; bound "
                                      f"{bound:.3g}): a fit to the field's samples, not a solution of its equations")
    record = next(iter(laws.values())).to_dict()
    record["fields"] = summaries
    record["applies_to"] = (f"the solved field{'s' if len(fields) > 1 else ''} {', '.join(fields)}, sampled at "
                            f"{n_samples} uniform points of the domain and dithered at the network's resolution "
                            f"({resolution:.2g} of each field's RMS: its equations' fresh-point imbalance); {kan_note}")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "law.json").write_text(law_json(record) + "\n", encoding="utf-8")
    return laws


def _equation_balance(solution, laws: dict, points: np.ndarray) -> float:
    """The largest share of its largest term an equation leaves unbalanced (the verdict's
    measure: RMS of the residual over the RMS of its largest additive term) with every field
    replaced by its law, on ``points``; ``inf`` where a law cannot be differentiated or
    evaluated there."""
    from sciml.dsl.metrics import rms

    problem = solution.problem
    coords = list(problem.coordinates)
    values = {p: p.value for p in problem.parameters} | {
        p: solution.parameters[str(p)] for p in problem.parameters if str(p) in solution.parameters}
    by_name = {str(c): c for c in coords}
    worst = 0.0
    for residual in problem.residuals:
        terms = []
        for term in sp.Add.make_args(residual):
            for applied in term.atoms(sp.core.function.AppliedUndef):
                law = laws.get(applied.func.__name__)
                if law is None:
                    return math.inf
                formula = law.expr.xreplace({s: by_name[s.name] for s in law.symbols if s.name in by_name})
                term = term.replace(applied.func, sp.Lambda(tuple(applied.args), formula.xreplace(
                    dict(zip(coords, applied.args)))))
            try:
                fn = lambdify(coords, term.doit().xreplace(values), "numpy")
                with np.errstate(all="ignore"):
                    terms.append(np.broadcast_to(np.asarray(fn(*points.T), np.float64), (len(points),)))
            except (TypeError, ValueError, NameError, ZeroDivisionError):
                return math.inf
        largest = max(rms(t) for t in terms)
        ratio = rms(np.sum(terms, axis=0)) / largest if largest > 0 else 0.0
        if not math.isfinite(ratio):
            return math.inf
        worst = max(worst, ratio)
    return worst


def _kan_candidates(solution, z, coords, field, seed) -> tuple[str, list]:
    """``(what became of the KAN's edges, [("kan edges", formula in the coordinates)])``."""
    from sciml.models.kan import KAN
    from sciml.symbolic.discover import symbolify

    compiled, problem = solution.compiled, solution.problem
    if not isinstance(solution.model, KAN):
        return "the surrogate is not a KAN", []
    inner = [c.describe() for c in problem.conditions if c.hard] + [
        s.describe() for s in problem.symmetries if getattr(s, "hard", False)]
    if inner or compiled.output_scales is not None:
        return ("the KAN is the network N inside the exact-condition transform or an output scale ("
                + "; ".join(inner or ["output scales"]) + "): its edges describe N, not the field"), []
    scaled = 2 * (z - compiled.lower) / (compiled.upper - compiled.lower) - 1
    try:
        edges = symbolify(solution.model, X=scaled, inputs=[f"{c}_scaled" for c in coords], target=field, seed=seed)
        expr = _physical(edges.expr, edges.symbols, coords, compiled.lower, compiled.upper)
    except (ValueError, ArithmeticError) as e:  # the field's own search goes on without them
        return f"the KAN's edges could not be composed ({e})", []
    if expr.atoms(sp.core.function.AppliedUndef):
        return "the KAN's composed edges keep edges no primitive fits: not a candidate", []
    return "the KAN's composed edges were one candidate", [("kan edges", expr)]


def _against_reference(law, reference, coords: list[str], field: str, up_to_constant: bool) -> float | None:
    """Relative L2 distance of a field's law from the reference (or exact solution) on its grid
    where both are defined (up to a constant for a field the equations fix only up to one, as
    the solve's own error is); ``None`` without one."""
    from sciml.dsl.metrics import relative_l2_up_to_constant
    from sciml.symbolic.refit import evaluate

    if reference is None or field not in reference or not all(c in reference[field].dims for c in coords):
        return None
    mesh = np.meshgrid(*(reference[c].values for c in coords), indexing="ij")
    points = np.stack([m.ravel() for m in mesh], axis=1)
    truth = reference[field].transpose(*coords).values.ravel()
    with np.errstate(all="ignore"):
        pred = evaluate(law.expr, law.symbols, points)
    ok = np.isfinite(truth) & np.isfinite(pred)
    if not ok.any():
        return None
    if up_to_constant:
        return relative_l2_up_to_constant(pred[ok], truth[ok])
    return float(np.linalg.norm(pred[ok] - truth[ok]) / max(np.linalg.norm(truth[ok]), 1e-300))


def _physical(expr, symbols, coordinates: list[str], lower, upper) -> sp.Expr:
    """``expr`` in ``symbols`` (inputs scaled to ``[-1, 1]``) rewritten in the coordinates on
    ``[lower, upper]``, one symbol per coordinate named by its safe identifier."""
    idents = safe_identifiers(coordinates)
    coords = [sp.Symbol(idents[c], real=True) for c in coordinates]
    to_physical = {s: 2 * (x - lo) / (hi - lo) - 1
                   for s, x, lo, hi in zip(symbols, coords, map(float, lower), map(float, upper))}
    return sp.nsimplify(expr.xreplace(to_physical), rational=False)
