"""Symbolification of a physics-informed solution (``sciml solve ... --symbolify``)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import sympy as sp

from .law import law_json
from .names import safe_identifiers


def symbolify_solution(solution, out: str | Path, n_samples: int = 1000, seed: int = 0,
                       time_budget: float = 60.0):
    """Distil the fields of a solved problem into closed forms in the problem's coordinates.

    What a scientist asks of ``--symbolify`` on a field is the field: ``u(x) = sin(pi x)``.
    The solved field — exact conditions and output scales included — is sampled uniformly over
    the domain and its values go through :func:`~sciml.symbolic.discover.discover` (its quick
    searches, structure tests, genetic search, rounding and held-out selection; one law per
    field). A KAN's edges, fitted by primitives and composed (:func:`symbolify`), join as one
    more candidate when the network is the field itself (no exact conditions, no output scale);
    composed through two hidden layers they are seldom the simplest law. The law is compared
    with the network on held-out samples (``metrics``), with a flexible surrogate (``doubtful``
    when one predicts the samples clearly better), and, when the problem has an exact solution
    or a reference, with it (``reference_rel_l2``). Writes ``law.json`` to ``out`` and returns
    the :class:`~sciml.symbolic.Law` (the command line adds its report).
    """
    from sciml.models.kan import KAN
    from sciml.result import evaluation_set
    from sciml.symbolic.discover import discover, symbolify

    compiled, problem = solution.compiled, solution.problem
    coords, fields = list(compiled.coordinate_names), list(compiled.field_names)
    rng = np.random.default_rng(seed)
    z = problem.space_time.sample(n_samples, rng, "uniform")
    values = np.asarray(solution.predict(z), np.float64)
    proposals, kan_note = [], "the surrogate is not a KAN"
    if isinstance(solution.model, KAN):
        inner = [c.describe() for c in problem.conditions if c.hard] + [
            s.describe() for s in problem.symmetries if getattr(s, "hard", False)]
        if inner or compiled.output_scales is not None:
            kan_note = ("the KAN is the network N inside the exact-condition transform or an output scale ("
                        + "; ".join(inner or ["output scales"]) + "): its edges describe N, not the field")
        else:
            scaled = 2 * (z - compiled.lower) / (compiled.upper - compiled.lower) - 1
            try:
                edges = symbolify(solution.model, X=scaled, inputs=[f"{c}_scaled" for c in coords],
                                  target=fields[0], seed=seed)
                expr = _physical(edges.expr, edges.symbols, coords, compiled.lower, compiled.upper)
            except (ValueError, ArithmeticError) as e:  # the field's own search goes on without them
                expr, kan_note = None, f"the KAN's edges could not be composed ({e})"
            if expr is not None and not expr.atoms(sp.core.function.AppliedUndef):
                proposals.append(("kan edges", expr))
                kan_note = "the KAN's composed edges were one candidate"
            elif expr is not None:
                kan_note = "the KAN's composed edges keep edges no primitive fits: not a candidate"
    data = {**{c: z[:, k] for k, c in enumerate(coords)}, **{f: values[:, k] for k, f in enumerate(fields)}}
    law = discover(data, target=fields if len(fields) > 1 else fields[0], inputs=coords, seed=seed,
                   time_budget=time_budget, proposals=proposals)
    record = law.to_dict()
    record["applies_to"] = (f"the solved field{'s' if len(fields) > 1 else ''} {', '.join(fields)}, sampled at "
                            f"{n_samples} uniform points of the domain; {kan_note}")
    reference = evaluation_set(problem)
    compared = _against_reference(law, reference, coords, fields)
    if compared:
        record["reference_rel_l2"] = compared
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "law.json").write_text(law_json(record) + "\n", encoding="utf-8")
    return law


def _against_reference(law, reference, coords: list[str], fields: list[str]) -> dict[str, float]:
    """Relative L2 distance of each field's law from the reference (or exact solution) where it
    is defined; empty without one."""
    from sciml.symbolic.refit import evaluate

    if reference is None or not all(c in reference.dims for c in coords):  # a grid over the coordinates
        return {}
    grid = reference[[f for f in fields if f in reference]] if any(f in reference for f in fields) else None
    if grid is None:
        return {}
    mesh = np.meshgrid(*(reference[c].values for c in coords), indexing="ij")
    points = np.stack([m.ravel() for m in mesh], axis=1)
    exprs = law.expressions or {fields[0]: law.expr}
    out = {}
    for name, expr in exprs.items():
        if name not in grid:
            continue
        truth = grid[name].transpose(*coords).values.ravel()
        with np.errstate(all="ignore"):
            pred = evaluate(expr, law.symbols, points)
        ok = np.isfinite(truth) & np.isfinite(pred)
        if ok.any():
            out[name] = float(np.linalg.norm(pred[ok] - truth[ok]) / max(np.linalg.norm(truth[ok]), 1e-300))
    return out


def _physical(expr, symbols, coordinates: list[str], lower, upper) -> sp.Expr:
    """``expr`` in ``symbols`` (inputs scaled to ``[-1, 1]``) rewritten in the coordinates on
    ``[lower, upper]``, one symbol per coordinate named by its safe identifier."""
    idents = safe_identifiers(coordinates)
    coords = [sp.Symbol(idents[c], real=True) for c in coordinates]
    to_physical = {s: 2 * (x - lo) / (hi - lo) - 1
                   for s, x, lo, hi in zip(symbols, coords, map(float, lower), map(float, upper))}
    return sp.nsimplify(expr.xreplace(to_physical), rational=False)
