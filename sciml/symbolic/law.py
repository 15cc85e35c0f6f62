"""The :class:`Law` object and the rule that picks it from a Pareto front.

**Selection rule.** Candidates are scored by complexity (number of nodes of the sympy tree,
each unrounded fitted constant charged as three more and each exact rational by its digits,
see :func:`complexity`) and held-out
mean squared error. Among the Pareto-optimal candidates the law is the
*simplest* one whose held-out error is within the noise level of the best:

.. math::
    \\mathrm{MSE}_\\text{test} \\le \\mathrm{MSE}^*_\\text{test}\\,\\big(1 + 2\\sqrt{2/n_\\text{test}}\\big)
    + 10^{-12}\\,\\mathrm{Var}(y)

The best held-out error estimates the noise variance; ``sigma^2 sqrt(2/n)`` is the standard
error of a mean of ``n`` squared Gaussian residuals, so the rule accepts simpler formulas that
are statistically indistinguishable from the best at two standard errors (and, on noiseless
data, anything within 1e-6 relative RMS error). Dimensionally inconsistent candidates (when
units are given) are kept on the front for inspection but never chosen.

Structurally different formulas within the same bound are the law's *alternatives*
(:mod:`sciml.symbolic.alternatives`): the chosen law stays, and ``law.json`` says the data
cannot choose between them.
"""

from __future__ import annotations

import dataclasses
import json
import math
import pathlib
from collections.abc import Mapping
from typing import Any

import numpy as np
import sympy as sp
from sympy.core.function import AppliedUndef

from . import names
from .parse import FUNCTIONS, parse_formula

__all__ = ["Law", "Candidate", "complexity", "choose", "selection_bound", "law_json", "load_law",
           "verdict", "doubt", "surrogate_comparison", "SELECTION_RULE", "VERDICT_RULE"]

SELECTION_RULE = ("simplest formula on the Pareto front (complexity = tree nodes + 3 per unrounded "
                  "fitted constant + 1 per further 4 bits of an exact rational's numerator and "
                  "denominator, vs held-out MSE) whose "
                  "held-out MSE <= best * (1 + 2*sqrt(2/n_test)) + 1e-12 * Var(y), i.e. within "
                  "two standard errors of the noise level estimated by the best formula")


VERDICT_RULE = ("'no law found' when the chosen formula does not beat the mean of the training data "
                "on held-out data (R² test <= 0 or not finite); 'doubtful' when a flexible surrogate (an "
                "MLP or a Gaussian process fitted to the same training rows) predicts the held-out rows clearly "
                "better: its mean squared error below half the formula's, the difference beyond two standard "
                "errors of the paired squared residuals (the data hold structure the formula misses), or when "
                "the formula's held-out mean squared error, less two standard errors, exceeds 1.5 times the "
                "noise variance the Gaussian process finds (a law leaves the noise and nothing else); otherwise "
                "'law found'")


def verdict(r2_test: float | None, surrogate: dict | None = None, noise: dict | None = None,
            equation: dict | None = None) -> str:
    """``"law found"``, ``"doubtful"`` or ``"no law found"`` by :data:`VERDICT_RULE`;
    ``surrogate`` is the comparison :func:`surrogate_comparison` records, ``noise`` that of
    :func:`sciml.symbolic.noise.noise_comparison`, ``equation`` (a solved field's law) whether
    the law leaves its equations unbalanced."""
    if r2_test is None or not math.isfinite(r2_test) or r2_test <= 0:
        return "no law found"
    if ((surrogate and surrogate.get("formula_clearly_worse")) or (noise and noise.get("formula_above_noise"))
            or (equation and equation.get("formula_unbalanced"))):
        return "doubtful"
    return "law found"


def doubt(metrics: Mapping[str, Any]) -> str:
    """Why a law is doubtful, in one sentence of numbers (empty when it is not)."""
    surrogate, noise = metrics.get("surrogate") or {}, metrics.get("noise") or {}
    out = []
    if surrogate.get("formula_clearly_worse"):
        worse = [c for c in surrogate.get("references", [surrogate]) if c.get("formula_clearly_worse")] or [surrogate]
        nan = float("nan")
        out.append(f"a flexible surrogate ({worse[0].get('model', '')}) fitted to the same training rows predicts the "
                   f"held-out rows {worse[0].get('ratio', nan):.3g} times better (mean squared error "
                   f"{worse[0].get('mse_test', nan):.3g} against {surrogate.get('formula_mse_test', nan):.3g})")
    if noise.get("formula_above_noise"):
        out.append(f"the formula's held-out mean squared error is {noise.get('ratio', float('nan')):.3g} times the "
                   f"noise variance of the data ({noise.get('noise_variance', float('nan')):.3g}, from a Gaussian "
                   "process)")
    equation = metrics.get("equation") or {}
    if equation.get("formula_unbalanced"):
        out.append(f"with the law in place its equations are left unbalanced by {equation.get('law_balance'):.3g} of "
                   f"their largest term (the network: {equation.get('network_balance'):.3g})")
    return "; ".join(out)


def surrogate_comparison(law_sq, surrogate_sq, model: str) -> dict:
    """The formula's and a surrogate's squared residuals on the same held-out rows, compared
    as :data:`VERDICT_RULE` says (``formula_clearly_worse``)."""
    law_sq, surrogate_sq = np.asarray(law_sq, np.float64), np.asarray(surrogate_sq, np.float64)
    ok = np.isfinite(law_sq) & np.isfinite(surrogate_sq)
    d = law_sq[ok] - surrogate_sq[ok]
    law_mse, surrogate_mse = float(np.mean(law_sq[ok])), float(np.mean(surrogate_sq[ok]))
    standard_error = float(np.std(d)) / math.sqrt(max(len(d), 1))
    worse = bool(len(d) >= 10 and surrogate_mse < 0.5 * law_mse and float(np.mean(d)) > 2.0 * standard_error)
    return {"model": model, "mse_test": surrogate_mse, "formula_mse_test": law_mse,
            "ratio": law_mse / max(surrogate_mse, 1e-300), "formula_clearly_worse": worse}


FLOAT_COST = 3  # extra nodes charged for each fitted real constant that could not be rounded
NODE_BITS = 4  # a tree node picks one of ~20 symbols


def number_cost(r: sp.Rational) -> int:
    """Extra nodes for an exact number beyond its own node: one per further ``NODE_BITS``
    bits of ``log2 |p| + log2 q``. Small numbers (``2``, ``1/2``, ``3/4``, ``-1/2``) cost
    nothing extra; ``6/11`` costs one more node — the price of a rational approximation such
    as ``1/(1 - 6 z^2/11)`` against the law ``1/sqrt(1 - z^2)`` it imitates."""
    bits = math.log2(max(abs(int(r.p)), 1)) + math.log2(int(r.q))
    return max(0, math.ceil(bits / NODE_BITS) - 1)


def complexity(expr: sp.Expr) -> int:
    """Number of nodes in the expression tree, plus ``FLOAT_COST`` per unrounded real constant
    and :func:`number_cost` per exact rational.

    Symbols, small integers and rationals, and ``pi`` count 1. A fitted real number
    (``0.1787``) carries more information than an exact one: at the precision data pin it down
    (~1e-4) it takes about as many bits as three tree nodes (a node picks one of ~20 symbols,
    ~4 bits) — the minimum-description-length view. Without this charge, a few-term fit with
    free constants that happens to match noisy data looks simpler than the exact law it
    imitates; the same view charges an exact rational by its digits.
    """
    nodes = 0
    for node in sp.preorder_traversal(expr):
        nodes += 1
        if node.is_Rational:
            nodes += number_cost(node)
    return nodes + FLOAT_COST * len(expr.atoms(sp.Float))


@dataclasses.dataclass
class Candidate:
    expr: sp.Expr
    source: str
    complexity: int
    mse_train: float
    mse_test: float
    r2_test: float
    consistent: bool = True  # dimensional consistency (True when no units given)

    def as_dict(self, columns: Mapping[str, str] | None = None) -> dict:
        return {"expression": str(self.expr),
                "display_expression": names.display(self.expr, columns or {}),
                "complexity": self.complexity,
                "error": _finite(self.mse_test), "r2_test": _finite(self.r2_test),
                "source": self.source, "dimensionally_consistent": self.consistent}

    def alternative_dict(self, columns: Mapping[str, str] | None = None) -> dict:
        """The entry of ``law.json``'s ``alternatives`` for this candidate."""
        return {"expression": str(self.expr),
                "display_expression": names.display(self.expr, columns or {}),
                "complexity": self.complexity, "mse_test": _finite(self.mse_test),
                "r2_test": _finite(self.r2_test), "source": self.source}


def _finite(v):
    return float(v) if v is not None and math.isfinite(v) else None


def pareto(cands: list[Candidate]) -> list[Candidate]:
    """Pareto-optimal candidates (complexity, held-out MSE), simplest first."""
    best, front = math.inf, []
    for c in sorted(cands, key=lambda c: (c.complexity, c.mse_test)):
        if math.isfinite(c.mse_test) and c.mse_test < best:
            front.append(c)
            best = c.mse_test
    return front


def _eligible(front: list[Candidate]) -> list[Candidate]:
    """The candidates the rule may choose: the consistent ones, or all when none is."""
    ok = [c for c in front if c.consistent] or front
    if not ok:
        raise ValueError("no candidate formula could be evaluated on the data")
    return ok


def selection_bound(front: list[Candidate], n_test: int, var_y: float) -> float:
    """The held-out MSE :data:`SELECTION_RULE` accepts: the best eligible error plus two
    standard errors of a mean of ``n_test`` squared residuals, plus ``1e-12 Var(y)``."""
    best = min(c.mse_test for c in _eligible(front))
    return best * (1.0 + 2.0 * math.sqrt(2.0 / max(n_test, 1))) + 1e-12 * var_y


def choose(front: list[Candidate], n_test: int, var_y: float) -> Candidate:
    """Apply :data:`SELECTION_RULE` to a Pareto front."""
    bound = selection_bound(front, n_test, var_y)
    return min((c for c in _eligible(front) if c.mse_test <= bound),
               key=lambda c: (c.complexity, c.mse_test))


@dataclasses.dataclass
class Law:
    """A discovered law: a sympy formula with its metrics, Pareto front and provenance.

    Attributes:
        expr: the chosen formula for the (first) target.
        symbols: input symbols, in the order of ``inputs``; each is named by the column's safe
            identifier (:mod:`sciml.symbolic.names`), so ``str(expr)`` parses back safely.
        inputs, target: column names, as in the data.
        pareto: the Pareto front (list of :class:`Candidate`), simplest first.
        metrics: ``{"formula": {...}, "network": {...} | None}`` with ``r2``/``rmse`` on train
            and test, so the formula and the network it came from are read side by side.
        expressions: target name -> formula, when there are several outputs.
        record: run record (data hash, seed, versions, backend, rule, wall time, data notes).
        details: extra material for the report (edge fits, residuals).
        alternatives: structurally different formulas the data support as well as ``expr``
            (:mod:`sciml.symbolic.alternatives`), simplest first; empty when the law is not
            ambiguous.
        ambiguity: a plain sentence saying so when there are alternatives, else ``""``.
    """

    expr: sp.Expr
    symbols: list
    inputs: list[str]
    target: str
    pareto: list[Candidate]
    metrics: dict
    expressions: dict = dataclasses.field(default_factory=dict)
    record: dict = dataclasses.field(default_factory=dict)
    details: dict = dataclasses.field(default_factory=dict)
    alternatives: list[Candidate] = dataclasses.field(default_factory=list)
    ambiguity: str = ""

    @property
    def columns(self) -> dict[str, str]:
        """``{identifier: column name}`` for every input symbol."""
        return {s.name: c for s, c in zip(self.symbols, self.inputs)}

    @property
    def verdict(self) -> str:
        """``"law found"``, ``"doubtful"`` or ``"no law found"`` (:data:`VERDICT_RULE`)."""
        return verdict(self.metrics.get("formula", {}).get("r2_test"), self.metrics.get("surrogate"),
                       self.metrics.get("noise"), self.metrics.get("equation"))

    def numeric_functions(self) -> list[str]:
        """Names of the undefined functions (numeric KAN edges) in any formula of the law."""
        exprs = [self.expr, *self.expressions.values(),
                 *(c.expr for c in (*self.pareto, *self.alternatives))]
        return sorted({f.func.__name__ for e in exprs for f in e.atoms(AppliedUndef)})

    def display_expression(self, expr: sp.Expr | None = None) -> str:
        """The formula with the column names (backticks around those that are not identifiers)."""
        return names.display(self.expr if expr is None else expr, self.columns)

    def latex(self) -> str:
        return names.latex(self.expr, self.columns)

    def mathml(self, display: bool = True) -> str:
        """Presentation MathML (renders natively in current browsers); names escaped."""
        body = names.mathml(self.expr, self.columns)
        lhs = f"<mi>{_xml(self.target)}</mi><mo>=</mo>"
        mode = ' display="block"' if display else ""
        return f'<math xmlns="http://www.w3.org/1998/Math/MathML"{mode}><mrow>{lhs}{body}</mrow></math>'

    def to_jax(self):
        """A jit-able ``f(X) -> y`` on arrays of shape ``(..., len(inputs))``."""
        import jax.numpy as jnp

        from sciml.functions import lambdify

        g = lambdify(list(self.symbols), self.expr, "jax")

        def f(X):
            X = jnp.asarray(X)
            out = g(*[X[..., i] for i in range(len(self.symbols))])
            return jnp.broadcast_to(out, X.shape[:-1])

        return f

    def __call__(self, X) -> np.ndarray:
        from .refit import evaluate
        X = np.asarray(X, dtype=np.float64)
        return evaluate(self.expr, self.symbols, X.reshape(-1, X.shape[-1])).reshape(X.shape[:-1])

    @property
    def complexity(self) -> int:
        return complexity(self.expr)

    def to_dict(self) -> dict[str, Any]:
        """The ``law.json`` content; :func:`load_law` reads it back."""
        f = self.metrics.get("formula", {})
        columns = self.columns
        out = {
            "expression": str(self.expr),
            "display_expression": self.display_expression(),
            "latex": self.latex(),
            "target": self.target,
            "inputs": list(self.inputs),
            "symbols": [{"column": c, "identifier": s.name, "positive": bool(s.is_positive)}
                        for s, c in zip(self.symbols, self.inputs)],
            "verdict": self.verdict,
            "verdict_rule": VERDICT_RULE,
            "numeric_functions": self.numeric_functions(),
            "r2_test": f.get("r2_test"),
            "r2_train": f.get("r2_train"),
            "rmse_test": f.get("rmse_test"),
            "complexity": self.complexity,
            "pareto": [c.as_dict(columns) for c in self.pareto],
            "alternatives": [c.alternative_dict(columns) for c in self.alternatives],
            "selection_rule": SELECTION_RULE,
            "metrics": self.metrics,
            "record": self.record,
        }
        if self.ambiguity:
            out["ambiguity"] = self.ambiguity
        if self.expressions:
            out["expressions"] = {k: str(v) for k, v in self.expressions.items()}
            out["display_expressions"] = {k: names.display(v, columns) for k, v in self.expressions.items()}
        return out

    def __repr__(self) -> str:
        r2 = self.metrics.get("formula", {}).get("r2_test")
        return f"Law({names.quoted(self.target)} = {self.display_expression()}, r2_test={r2})"


def _xml(s: str) -> str:
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _law_symbols(record: dict) -> tuple[list[str], list[sp.Symbol]]:
    """Column names and symbols of a ``law.json``; older files without ``symbols`` use the
    input names, which must then be safe identifiers."""
    entries = record.get("symbols")
    if entries is None:
        entries = [{"column": c, "identifier": c} for c in record.get("inputs", [])]
    if not isinstance(entries, list):
        raise ValueError("'symbols' must be a list of {column, identifier, positive} entries")
    columns, symbols = [], []
    for e in entries:
        ident = e.get("identifier") if isinstance(e, dict) else None
        if not isinstance(ident, str) or not names.is_safe_identifier(ident):
            raise ValueError(f"symbol entry {str(e)[:80]!r} has no safe identifier (letters, digits "
                             "and _, not a Python or sympy name); rewrite it with "
                             "sciml.symbolic.names.safe_identifiers")
        columns.append(str(e.get("column", ident)))
        symbols.append(sp.Symbol(ident, positive=True) if e.get("positive") else sp.Symbol(ident, real=True))
    return columns, symbols


def _candidate(item: dict, parsed, error_key: str = "error") -> Candidate:
    expr = parsed(item["expression"])
    err, r2 = item.get(error_key), item.get("r2_test")
    return Candidate(expr, str(item.get("source", "")), complexity(expr),
                     math.nan, math.inf if err is None else float(err),
                     math.nan if r2 is None else float(r2), bool(item.get("dimensionally_consistent", True)))


def law_from_dict(record: Mapping[str, Any]) -> Law:
    """A :class:`Law` from ``law.json`` content, parsed by :func:`~sciml.symbolic.parse.parse_formula`:
    only numbers, the recorded symbols, whitelisted functions and arithmetic; nothing evaluated."""
    if not isinstance(record, Mapping) or not isinstance(record.get("expression"), str):
        raise ValueError("not a law: expected a JSON object with an 'expression' string")
    inputs, symbols = _law_symbols(dict(record))
    by_name = {s.name: s for s in symbols}
    # Discovered primitives this process registered (a library the user loaded) are known too.
    from sciml.functions import NUMERIC_FUNCTIONS

    functions = {**FUNCTIONS, **{name: sp.Function(name) for name in NUMERIC_FUNCTIONS},
                 **_numeric_functions(record.get("numeric_functions") or [])}

    def parsed(text):
        return parse_formula(text, by_name, functions=functions)

    expressions = record.get("expressions") or {}
    return Law(expr=parsed(record["expression"]), symbols=symbols, inputs=inputs,
               target=str(record.get("target", "y")),
               pareto=[_candidate(c, parsed) for c in record.get("pareto") or []],
               metrics=dict(record.get("metrics") or {}),
               expressions={str(k): parsed(v) for k, v in expressions.items()},
               record=dict(record.get("record") or {}),
               alternatives=[_candidate(c, parsed, "mse_test") for c in record.get("alternatives") or []],
               ambiguity=str(record.get("ambiguity") or ""))


def _numeric_functions(function_names) -> dict:
    """Undefined sympy functions for the recorded numeric KAN edges (``phi_0_1_3``)."""
    bad = [n for n in function_names if not (isinstance(n, str) and names.is_safe_identifier(n))]
    if bad:
        raise ValueError(f"numeric function names {bad[:3]} are not safe identifiers")
    return {n: sp.Function(n) for n in function_names}


def law_json(record: Mapping[str, Any]) -> str:
    """``record`` (``Law.to_dict()``) as JSON, with ``<``, ``>`` and ``&`` written as
    ``\\u003c``, ``\\u003e``, ``\\u0026``.

    The same data for any JSON parser, but markup from column names never appears raw in the
    file, which may be served or pasted into a web page (Go's encoding/json does the same).
    """
    from sciml.provenance import json_default

    text = json.dumps(record, indent=2, default=json_default)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def load_law(path) -> Law:
    """Read a ``law.json`` written by ``sciml discover`` (or :meth:`Law.to_dict`) safely.

    The formula text is never evaluated: see :func:`law_from_dict`. ``load_law(p)(X)``
    evaluates the law on inputs ordered as ``law.inputs``; ``.to_jax()`` compiles it.
    """
    path = pathlib.Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"law file {path} does not exist (sciml discover writes OUT/law.json)")
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise ValueError(f"{path} is not JSON: {e}") from None
    try:
        return law_from_dict(record)
    except (ValueError, KeyError, TypeError) as e:
        raise ValueError(f"{path}: {e}") from None
