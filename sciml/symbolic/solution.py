"""Symbolification of a physics-informed solution (``sciml solve ... --symbolify``)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import sympy as sp


def symbolify_solution(solution, out: str | Path, n_samples: int = 1000, seed: int = 0):
    """Distil the KAN surrogate of a solved problem into a law in the problem's coordinates.

    The KAN sees inputs scaled to ``[-1, 1]``; the law is fitted in those variables and then
    rewritten in the physical coordinates. Where the problem imposes conditions or symmetries
    exactly, the law describes the network ``N`` inside the output transform (``law.json``
    says so under ``applies_to``). Writes ``law.json`` and ``report.html`` to ``out``.
    """
    from sciml.models.kan import KAN
    from sciml.report import write_report
    from sciml.symbolic.discover import symbolify

    if not isinstance(solution.model, KAN):
        raise ValueError("--symbolify reads the edges of a KAN surrogate; solve with --model kan")
    compiled, problem = solution.compiled, solution.problem
    rng = np.random.default_rng(seed)
    z = problem.space_time.sample(n_samples, rng, "uniform")
    scaled = 2 * (z - compiled.lower) / (compiled.upper - compiled.lower) - 1
    names = [f"{c}_scaled" for c in compiled.coordinate_names]
    law = symbolify(solution.model, X=scaled, inputs=names, target=compiled.field_names[0], seed=seed)
    physical = {sp.Symbol(n): 2 * (c - lo) / (hi - lo) - 1
                for n, c, lo, hi in zip(names, problem.coordinates, compiled.lower, compiled.upper)}
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    record = law.to_dict()
    by_symbol = {sp.Symbol(str(s)): physical.get(sp.Symbol(str(s)), s) for s in law.expr.free_symbols}
    record["expression_scaled"] = record.get("expression")
    record["expression"] = str(sp.nsimplify(law.expr.xreplace(by_symbol), rational=False))
    exact = [c.describe() for c in problem.conditions if c.hard] + [
        s.describe() for s in problem.symmetries if getattr(s, "hard", False)]
    record["applies_to"] = ("the network N inside the exact-condition transform (" + "; ".join(exact) + ")"
                            if exact else f"the field {compiled.field_names[0]}")
    (out / "law.json").write_text(json.dumps(record, indent=2, default=str) + "\n")
    write_report(law, out / "report.html")
    return law
