"""Symbolification of a physics-informed solution (``sciml solve ... --symbolify``)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import sympy as sp

from .law import law_json
from .names import display, latex, safe_identifiers


def symbolify_solution(solution, out: str | Path, n_samples: int = 1000, seed: int = 0):
    """Distil the KAN surrogate of a solved problem into a law in the problem's coordinates.

    The KAN sees inputs scaled to ``[-1, 1]``; the law is fitted in those variables and then
    rewritten in the physical coordinates. Where the problem imposes conditions or symmetries
    exactly, the law describes the network ``N`` inside the output transform (``law.json``
    says so under ``applies_to``). Writes ``law.json`` to ``out`` and returns the
    :class:`~sciml.symbolic.Law` (the command line adds its report).
    """
    from sciml.models.kan import KAN
    from sciml.symbolic.discover import symbolify

    if not isinstance(solution.model, KAN):
        raise ValueError("--symbolify reads the edges of a KAN surrogate; solve with --model kan")
    compiled, problem = solution.compiled, solution.problem
    rng = np.random.default_rng(seed)
    z = problem.space_time.sample(n_samples, rng, "uniform")
    scaled = 2 * (z - compiled.lower) / (compiled.upper - compiled.lower) - 1
    names = [f"{c}_scaled" for c in compiled.coordinate_names]
    law = symbolify(solution.model, X=scaled, inputs=names, target=compiled.field_names[0], seed=seed)
    record = physical_record(law, [str(c) for c in problem.coordinates], compiled.lower, compiled.upper)
    exact = [c.describe() for c in problem.conditions if c.hard] + [
        s.describe() for s in problem.symmetries if getattr(s, "hard", False)]
    record["applies_to"] = ("the network N inside the exact-condition transform (" + "; ".join(exact) + ")"
                            if exact else f"the field {compiled.field_names[0]}")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "law.json").write_text(law_json(record) + "\n", encoding="utf-8")
    return law


def physical_record(law, coordinates: list[str], lower, upper) -> dict:
    """``law.to_dict()`` with every formula rewritten from the scaled inputs of ``law`` (in
    ``[-1, 1]``, one per coordinate, in order) to the coordinates on ``[lower, upper]``.

    ``expression``, ``display_expression``, ``latex``, ``symbols``, ``inputs`` and the Pareto
    formulas then speak of the coordinates, so :func:`sciml.symbolic.load_law` reads the file;
    the scaled forms stay under ``expression_scaled`` and ``symbols_scaled``.
    """
    idents = safe_identifiers(coordinates)
    coords = [sp.Symbol(idents[c], real=True) for c in coordinates]
    to_physical = {s: 2 * (x - lo) / (hi - lo) - 1
                   for s, x, lo, hi in zip(law.symbols, coords, map(float, lower), map(float, upper))}
    columns = {idents[c]: c for c in coordinates}

    def physical(expr):
        return sp.nsimplify(expr.xreplace(to_physical), rational=False)

    record = law.to_dict()
    expr = physical(law.expr)
    record.update(expression_scaled=record["expression"], symbols_scaled=record["symbols"],
                  expression=str(expr), display_expression=display(expr, columns),
                  latex=latex(expr, columns), inputs=list(coordinates),
                  symbols=[{"column": c, "identifier": idents[c], "positive": False} for c in coordinates])
    for item, cand in zip(record["pareto"], law.pareto):
        e = physical(cand.expr)
        item.update(expression_scaled=item["expression"], expression=str(e),
                    display_expression=display(e, columns))
    if law.expressions:
        record["expressions"] = {k: str(physical(v)) for k, v in law.expressions.items()}
        record["display_expressions"] = {k: display(physical(v), columns) for k, v in law.expressions.items()}
    return record
