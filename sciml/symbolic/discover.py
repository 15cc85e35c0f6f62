"""``discover`` (data -> law) and ``symbolify`` (trained KAN -> law).

Both end the same way: candidate formulas are simplified, every constant is refitted jointly
and rounded where that is free (:mod:`sciml.symbolic.refit`), each candidate is measured on
held-out data, and the law is chosen from the Pareto front by the rule in
:mod:`sciml.symbolic.law`.
"""

from __future__ import annotations

import dataclasses
import hashlib
import math
import time
from collections.abc import Sequence

import numpy as np
import sympy as sp

from .backends import Backend, get_backend
from .compose import distil_kan
from .dimensionless import reduce_dimensions
from .alternatives import alternatives, ambiguity_note, wider_inputs
from .law import SELECTION_RULE, Candidate, Law, choose, complexity, pareto, selection_bound, surrogate_comparison
from . import names
from .names import safe_identifiers
from .noise import NOISE_FORM_RULE, NOISE_FORMS, noise_form
from .primitives import Library
from .refit import clean, evaluate, prune_terms
from .structure import STRUCTURE_RULE
from .table import load_table, select_samples, source_name
from .units import constant_units, is_consistent, parse_units, unit_text

__all__ = ["discover", "symbolify", "load_table"]


# ----------------------------------------------------------------------------- data


def _symbols(names, X):
    """One symbol per column, named by its safe identifier (:mod:`sciml.symbolic.names`)."""
    # positivity lets sympy merge exp(log(x)) and powers; never assert positive=False
    idents = safe_identifiers(names)
    return [sp.Symbol(idents[n], positive=True) if np.all(X[:, i] > 0) else sp.Symbol(idents[n], real=True)
            for i, n in enumerate(names)]


def _data_hash(X, Y) -> str:
    h = hashlib.sha256()
    h.update(np.ascontiguousarray(X, np.float64).tobytes())
    h.update(np.ascontiguousarray(Y, np.float64).tobytes())
    return h.hexdigest()[:16]


from sciml.provenance import versions as _versions  # noqa: E402


def _metrics(pred, y) -> dict:
    with np.errstate(all="ignore"):
        r = pred - y
        mse = float(np.mean(r**2))
        sst = float(np.mean((y - y.mean()) ** 2))
    if not math.isfinite(mse):
        return {"r2": None, "rmse": None}
    return {"r2": 1.0 - mse / max(sst, 1e-300), "rmse": math.sqrt(mse)}


def _side(pred_tr, ytr, pred_te, yte) -> dict:
    a, b = _metrics(pred_tr, ytr), _metrics(pred_te, yte)
    return {"r2_train": a["r2"], "rmse_train": a["rmse"], "r2_test": b["r2"], "rmse_test": b["rmse"]}


# ------------------------------------------------------------------------ candidates


def _score(expr, source, symbols, Xtr, ytr, Xte, yte, units, target_units, do_clean=True,
           judge="paired"):
    try:
        e = clean(expr, symbols, Xtr, ytr, judge=judge).expr if do_clean else expr
    except Exception:  # a candidate that cannot be compiled/refitted is simply dropped
        return None
    with np.errstate(all="ignore"):
        ptr, pte = evaluate(e, symbols, Xtr), evaluate(e, symbols, Xte)
        mtr, mte = float(np.mean((ptr - ytr) ** 2)), float(np.mean((pte - yte) ** 2))
    if not math.isfinite(mte):
        return None
    r2 = 1.0 - mte / max(float(np.var(yte)), 1e-300)
    ok = True if units is None else is_consistent(e, units, target_units)
    return Candidate(e, source, complexity(e), mtr, mte, r2, ok)


def _exact_enough(c: Candidate | None, y, tol: float = 1e-12) -> bool:
    return c is not None and c.mse_test <= tol * float(np.var(y))


def _raw_mse(expr, symbols, X, y) -> float:
    try:
        with np.errstate(all="ignore"):
            v = float(np.mean((evaluate(expr, symbols, X) - y) ** 2))
    except Exception:  # noqa: BLE001 - a formula that cannot be evaluated ranks last
        return math.inf
    return v if math.isfinite(v) else math.inf


def _worth_cleaning(found, symbols, X, y, n: int, tie: float = 0.0) -> list:
    """The ``n`` proposals ``(source, expr)`` most worth cleaning.

    Proposals whose training error as proposed is within ``tie`` (the error the values are
    known to carry) come first, simplest first: the data cannot rank them by error. The rest
    follow in successive Pareto layers of (complexity, error), each layer by error. Ranking by
    error alone keeps only the longest formulas, which fit the noise (or a surrogate's error)
    best, and drops the short law that a leaf needs exact."""
    scored = [(complexity(e), _raw_mse(e, symbols, X, y), k) for k, (_, e) in enumerate(found)]
    keep = [k for _, _, k in sorted(s for s in scored if s[1] <= tie)][:n]
    scored = [s for s in scored if s[1] > tie]
    while scored and len(keep) < n:
        layer, best = [], math.inf
        for _, err, k in sorted(scored):
            if err < best or not layer:  # an unevaluable formula still forms a layer
                layer.append((err, k))
                best = err
        keep += [k for _, k in sorted(layer)][: n - len(keep)]
        taken = {k for _, k in layer}
        scored = [s for s in scored if s[2] not in taken]
    return [found[k] for k in keep]


def _held_out_count(n: int, test_fraction: float) -> int:
    """Rows held out of ``n``: ``test_fraction`` of them, at least two."""
    return max(2, int(round(test_fraction * n)))


def _split(n: int, rng, test_fraction: float) -> tuple[np.ndarray, np.ndarray]:
    """``(train, test)`` row indices: a random :func:`_held_out_count` of ``n`` rows held out."""
    perm = rng.permutation(n)
    n_test = _held_out_count(n, test_fraction)
    return perm[n_test:], perm[:n_test]


def _search(X, y, symbols, backends, *, seed, test_fraction, time_budget, units, target_units,
            rng, proposals=(), scored=(), exact_tol=1e-12, judge="paired", prune=True,
            max_clean=None):
    """Candidates from ``proposals`` and the ``backends`` (each only while nothing so far is
    exact to ``exact_tol`` relative MSE), pruned on noisy data, and the law chosen from their
    Pareto front: ``(law, front, (train, test), candidates)``, ``candidates`` every formula
    scored (the front's and the dominated ones, which may still be as well supported).
    ``scored`` are candidates already measured on the same split (the same ``rng`` state);
    ``judge`` is the rounding test (:func:`~sciml.symbolic.refit.round_constants`).
    ``max_clean`` keeps only that many of each backend's candidates for the costly
    simplify-refit-round step (:func:`_worth_cleaning`; errors within ``exact_tol`` count as
    tied).
    """
    tr, te = _split(len(y), rng, test_fraction)
    n_test = len(te)
    Xtr, ytr, Xte, yte = X[tr], y[tr], X[te], y[te]
    cands = [_score(sp.Float(float(ytr.mean())), "constant", symbols, Xtr, ytr, Xte, yte,
                    units, target_units, do_clean=False)]
    cands += list(scored)
    cands += [_score(e, source, symbols, Xtr, ytr, Xte, yte, units, target_units, judge=judge)
              for source, e in proposals]
    t0 = time.time()
    for k, be in enumerate(backends):
        best = min((c for c in cands if c), key=lambda c: c.mse_test, default=None)
        if (k > 0 or proposals or scored) and _exact_enough(best, y, exact_tol):
            break  # a backend only runs when the candidates so far are not exact
        budget = None if time_budget is None else max(5.0, time_budget - (time.time() - t0))
        found = be.search(Xtr, ytr, symbols, seed=seed, time_budget=budget)
        if max_clean is not None and len(found) > max_clean:
            found = _worth_cleaning(found, symbols, Xtr, ytr, max_clean,
                                    tie=exact_tol * float(np.var(ytr)))
        for source, expr in found:
            cands.append(_score(expr, source, symbols, Xtr, ytr, Xte, yte, units, target_units,
                                judge=judge))
    cands = [c for c in cands if c is not None]
    front = pareto(cands)
    if prune and front and not _exact_enough(min(front, key=lambda c: c.mse_test), y):
        # noisy data: the front's formulas may carry spurious terms fitted to the noise
        for c in front:
            pruned = prune_terms(c.expr, symbols, Xtr, ytr, judge=judge)
            if pruned != c.expr:
                cands.append(_score(pruned, f"{c.source} (pruned)", symbols, Xtr, ytr, Xte, yte,
                                    units, target_units, do_clean=False))
        cands = [c for c in cands if c is not None]
        front = pareto(cands)
    law = choose(front, n_test, float(np.var(ytr)))
    return law, front, (tr, te), cands


@dataclasses.dataclass
class _Found:
    """One target's search: the chosen candidate, the front, the ``(train, test)`` split, every
    candidate scored, the structure record and surrogate (``None`` without structure tests),
    the noise form (:func:`~sciml.symbolic.noise.noise_form`); ``sign`` is 0 when the
    candidates are formulas of the target, else +-1 and they are formulas of ``log(sign y)``."""

    chosen: Candidate
    front: list
    split: tuple
    candidates: list
    structure: dict | None
    surrogate: object
    noise_form: dict
    sign: int = 0

    def transform(self, values):
        """Target values (or predictions) in the space the candidates were measured in."""
        return values if not self.sign else np.log(self.sign * np.asarray(values, np.float64))

    def law(self, expr: sp.Expr) -> sp.Expr:
        """A candidate's formula as a formula of the target; a constant term of ``log|y|``
        becomes a factor written as a number (``exp(59/10)``, a rounding in ``log|y|``, is
        365.037)."""
        if not self.sign:
            return expr
        law = self.sign * sp.expand_power_exp(sp.exp(expr))
        return law.xreplace({e: sp.Float(e.evalf(15), 15) for e in law.atoms(sp.exp) if e.args[0].is_number})

    def in_target(self, cands: list) -> list:
        """Candidates as formulas of the target, one per formula (two formulas of ``log|y|``
        can be one of ``y``)."""
        if not self.sign:
            return cands
        out = {}
        for c in cands:
            expr = self.law(c.expr)
            out.setdefault(str(expr), dataclasses.replace(c, expr=expr, complexity=complexity(expr)))
        return list(out.values())


LOG_PROPOSALS = 12  # formulas of the target carried into the search in log|target| (_worth_cleaning)


def _noise_form(noise: str, X, y, seed: int, test_fraction: float) -> dict:
    """The noise form ``discover(noise=...)`` asks for, or the one the training rows show
    (``"auto"``: the held-out rows then judge formulas in that space, unseen by the choice)."""
    one_sign = bool(np.all(y > 0) or np.all(y < 0))
    if noise == "auto":
        if not one_sign:  # a held-out row of the other sign rules out log|y|
            return noise_form(X, y, seed=seed)
        tr, _ = _split(len(y), np.random.default_rng(seed), test_fraction)
        return noise_form(X[tr], y[tr], seed=seed)
    if noise == "proportional" and not one_sign:
        raise ValueError("noise='proportional' needs a target of one sign and never zero (its error is a "
                         f"share of its value); this target ranges over [{np.min(y):.4g}, {np.max(y):.4g}]: "
                         "give noise='additive' or 'auto'")
    return {"form": noise, "why": "given", "rule": NOISE_FORM_RULE}


def _target_search(X, y, symbols, backends, form: dict, *, seed, test_fraction, time_budget, columns,
                   given, units, target_units, structure) -> _Found:
    """The law of one target. With additive noise the search of :func:`_space_search`; with noise
    proportional to the target, that search on half the budget, then one in ``log|y|`` (where
    such noise is additive and every row weighs alike) with the first one's formulas among its
    proposals, on the other half. The law is chosen in ``log|y|``: a least-squares fit of the
    target itself is decided by its largest rows and can prefer a wrong formula that follows
    them."""
    proportional = form["form"] == "proportional"
    budget = time_budget if time_budget is None or not proportional else 0.5 * time_budget
    kw = dict(seed=seed, test_fraction=test_fraction, columns=columns, form=form)
    found = _space_search(X, y, symbols, backends, time_budget=budget, given=given, units=units,
                          target_units=target_units, structure=structure, **kw)
    if not proportional:
        return found
    sign = 1 if y[0] > 0 else -1
    z = np.log(sign * y)
    tr, te = found.split
    logs = [(f"{c.source} (in log)", sp.expand_log(sp.log(sign * c.expr)))
            for c in found.candidates if c.source != "constant"]
    logs = _worth_cleaning(logs, symbols, X[tr], z[tr], LOG_PROPOSALS)
    in_log = _space_search(X, z, symbols, backends, time_budget=budget, given=logs, units=None,
                           target_units=None, structure=structure and units is None, **kw)
    in_log.sign = sign
    if units is not None:  # consistency is a property of the target's formula
        for c in in_log.candidates:  # the front (by error and complexity) stays; the choice may not
            c.consistent = is_consistent(in_log.law(c.expr), units, target_units)
        in_log.chosen = choose(in_log.front, len(te), float(np.var(z[tr])))
    return in_log


def _space_search(X, y, symbols, backends, *, seed, test_fraction, time_budget, columns, given, units,
                  target_units, structure, form) -> _Found:
    """Without units (and with ``structure``), :func:`_structure_search`; with units, the search
    in the dimensionless groups first, then :func:`_search` with their formulas proposed."""
    if units is None and structure:
        chosen, front, split, cands, record, surrogate = _structure_search(
            X, y, symbols, backends, seed=seed, test_fraction=test_fraction, time_budget=time_budget,
            columns=columns, given=given)
        return _Found(chosen, front, split, cands, record, surrogate, form)
    start = time.time()
    pi_proposals = _dimensionless_proposals(X, y, [s.name for s in symbols], symbols, backends, units,
                                            target_units, seed=seed, test_fraction=test_fraction,
                                            time_budget=time_budget)
    budget = time_budget if time_budget is None else max(5.0, time_budget - (time.time() - start))
    chosen, front, split, cands = _search(X, y, symbols, backends, seed=seed, test_fraction=test_fraction,
                                          time_budget=budget, units=units, target_units=target_units,
                                          rng=np.random.default_rng(seed), proposals=[*given, *pi_proposals])
    return _Found(chosen, front, split, cands, None, None, form)


def _structure_search(X, y, symbols, backends, *, seed, test_fraction, time_budget, columns, given=()):
    """The search without units: quick searches first; when they are not exact, structure.

    A surrogate is fitted to the training rows and tested for separability, symmetries and
    homogeneity (:mod:`sciml.symbolic.structure`); each leaf of the decomposition is searched
    on its own variables (half the time budget shared among the leaves), the leaf formulas
    recombined into proposals, and the global searches (genetic programming: pyoperon, PySR)
    run with those proposals and the quick searches' candidates, for at least half the budget.
    Constants are rounded by the noise-aware test (:mod:`sciml.symbolic.rounding`). Returns
    ``(law, front, split, candidates, record, surrogate)``, ``record`` saying what was found
    and why, ``surrogate`` the one fitted to the training rows (``None`` without structure tests).
    """
    from .backends import OperonBackend, PySRBackend
    from .structure import decompose

    t0 = time.time()
    rest = [b for b in backends if isinstance(b, (OperonBackend, PySRBackend))]
    cheap = [b for b in backends if b not in rest]

    def search(backs, **kw):
        return _search(X, y, symbols, backs, seed=seed, test_fraction=test_fraction,
                       units=None, target_units=None, rng=np.random.default_rng(seed),
                       judge="noise", **kw)

    law, front, (tr, te), cands = search(cheap, time_budget=time_budget, prune=False, proposals=given)
    best = min(front, key=lambda c: c.mse_test, default=None)
    if _exact_enough(best, y):
        return law, front, (tr, te), cands, {"used": False, "why": "the quick searches are exact "
                                             "on held-out rows; no structure needed"}, None
    record = {"used": True}
    proposals = []
    try:
        dec = decompose(X[tr], y[tr], symbols, seed=seed,
                        time_limit=15.0 if time_budget is None else max(5.0, 0.25 * time_budget))
    except Exception as e:  # noqa: BLE001 - the search goes on without structure, and says why
        dec = None
        record.update(used=False, why=f"structure tests failed: {type(e).__name__}: {e}")
    if dec is not None:
        record.update(_structure_record(dec, columns))
        if dec.has_structure:
            n_leaves = len(dec.root.leaves())
            leaf_budget = None if time_budget is None else 0.5 * time_budget / n_leaves

            def leaf_search(Xl, yl, zs, noise_var):
                return _leaf_formulas(Xl, yl, zs, noise_var, backends, seed=seed,
                                      test_fraction=test_fraction, time_budget=leaf_budget)

            try:
                proposals = dec.solve(leaf_search)
            except Exception as e:  # noqa: BLE001 - the search goes on without proposals
                record["why"] = f"leaf searches failed: {type(e).__name__}: {e}"
            record["tree"] = dec.root.as_dict(lambda e: names.display(e, columns))
            record["n_proposals"] = len(proposals)
    remaining = None if time_budget is None else max(0.5 * time_budget, time_budget - (time.time() - t0))
    # all the quick candidates, not only their front: the front (and so the law) is the same,
    # and the dominated ones stay available as alternatives
    law, front, split, cands = search(rest, time_budget=remaining, proposals=proposals, scored=cands)
    record["seconds"] = time.time() - t0
    return law, front, split, cands, record, None if dec is None else dec.surrogate


def _leaf_formulas(X, y, symbols, noise_var, backends, *, seed, test_fraction, time_budget,
                   keep: int = 3, max_clean: int = 12) -> tuple[list[sp.Expr], bool]:
    """Formulas for one leaf of a decomposition, best first, and whether the first is within
    the noise of the leaf's values.

    A leaf's values carry an error of variance ``noise_var`` (the data's noise, or the
    surrogate's error, which is smooth and which extra terms could imitate). Formulas whose
    held-out error is within it — up to two standard errors of a held-out MSE, as in the
    selection rule — are as exact as the values can show: the slower backends run only when
    no formula is, and among them the simplest come first, then the rest by error. Of each
    backend's candidates the ``max_clean`` closest as proposed are cleaned (the cost of a
    leaf search is mostly simplification, and a leaf's formulas are only proposals).
    """
    n_test = _held_out_count(len(y), test_fraction)
    slack = 1.0 + 2.0 * math.sqrt(2.0 / n_test)
    var_y = max(float(np.var(y)), 1e-300)
    _, front, _, _ = _search(X, y, symbols, backends, seed=seed, test_fraction=test_fraction,
                             time_budget=time_budget, units=None, target_units=None,
                             rng=np.random.default_rng(seed), judge="noise", prune=False,
                             exact_tol=max(1e-12, noise_var * slack / var_y), max_clean=max_clean)
    best = min(c.mse_test for c in front)
    noise_bound = max(noise_var * slack, 1e-12 * var_y)
    bound = max(best * slack, noise_bound)
    within = sorted((c for c in front if c.mse_test <= bound), key=lambda c: (c.complexity, c.mse_test))
    rest = sorted((c for c in front if c.mse_test > bound), key=lambda c: c.mse_test)
    ordered = within + rest
    return list(dict.fromkeys(c.expr for c in ordered))[:keep], ordered[0].mse_test <= noise_bound


def _structure_record(dec, columns) -> dict:
    """What ``law.json`` and the report say about the decomposition (names as in the data)."""
    return {"surrogate": {"model": "MLP, tanh, hidden [32, 32], float64, L-BFGS",
                          "heldout_rows": dec.n_heldout,
                          "noise_variance": dec.noise_var,
                          "relative_noise_variance": dec.noise_var / max(dec.var_y, 1e-300)},
            "structure_found": dec.has_structure,
            "rule": STRUCTURE_RULE,
            "tree": dec.root.as_dict(lambda e: names.display(e, columns)),
            "test_seconds": dec.seconds}


def _dimensionless_proposals(X, y, inputs, symbols, backends, units, target_units, *, seed,
                             test_fraction, time_budget) -> list[tuple[str, sp.Expr]]:
    """Laws found in the Buckingham-pi variables, written back in the inputs.

    With units on every input and on the target, the search first runs on ``y / scale``
    against the dimensionless groups (:mod:`sciml.symbolic.dimensionless`), a problem in
    fewer variables; its Pareto front becomes candidates of the full problem.
    """
    if units is None or target_units is None:
        return []
    red = reduce_dimensions(inputs, units, target_units)
    if red is None or len(red.groups) >= len(inputs) or not red.groups:
        return []
    red = red.oriented(X)
    scale = red.scale_values(X)
    Xr = red.group_values(X)
    with np.errstate(all="ignore"):
        yr = y / scale
    if not (np.all(np.isfinite(Xr)) and np.all(np.isfinite(yr))):
        return []
    pis = _symbols([f"pi{j + 1}" for j in range(Xr.shape[1])], Xr)
    _, front, _, _ = _search(Xr, yr, pis, backends, seed=seed, test_fraction=test_fraction,
                             time_budget=time_budget, units=None, target_units=None,
                             rng=np.random.default_rng(seed))
    back = dict(zip(pis, red.group_exprs(symbols)))
    s = red.scale_expr(symbols)
    return [(f"pi-groups:{c.source}", s * c.expr.xreplace(back)) for c in front]


def _units_record(X, symbols, units, target_units, expr, columns) -> dict:
    """What the dimensional analysis did, for ``law.json``: the scale and dimensionless groups
    the search started in, or why there are none; and the units a law's one fitted constant
    carries when it is not dimensionless (a physical constant the data did not name)."""
    name = lambda e: names.display(e, columns)  # noqa: E731
    red = reduce_dimensions([s.name for s in symbols], units, target_units)
    if red is None:
        dims = sorted({d for s in symbols for d, e in units[s.name].items() if e})
        out = {"groups": None,
               "note": (f"the target's units ({unit_text(target_units)}) are not a product of powers of the inputs' "
                        f"({', '.join(dims) or 'all dimensionless'}): no dimensionless groups without a dimensional "
                        "constant, so the search ran on the inputs as given and a fitted constant carries the missing "
                        "dimension")}
    else:
        red = red.oriented(X)
        out = {"scale": name(red.scale_expr(symbols)), "groups": [name(g) for g in red.group_exprs(symbols)]}
        if not red.groups:
            out["note"] = "no dimensionless group: a consistent law is a number times the scale"
    carried = constant_units(expr, units, target_units)
    if carried is not None:
        out["constant_units"] = unit_text(carried)
    return out


def _check_units(units, inputs, targets, columns):
    """Units as ``{column: {dimension: exponent}}`` for the inputs and targets, checked.

    Every input and target needs units (partial units are an error); units for a column that
    is not in the data are a typo and refused; each value is a unit string (parsed by
    :func:`~sciml.symbolic.units.parse_units`) or a ``{dimension: exponent}`` dict.
    """
    if units is None:
        return None
    if not isinstance(units, dict):
        raise ValueError(f"units must map column names to units, e.g. {{'v': 'm/s'}}; got "
                         f"{type(units).__name__}")
    unknown = [c for c in units if c not in columns]
    if unknown:
        raise ValueError(f"units given for {unknown}, which are not columns of the data "
                         f"({columns}): correct the names or leave them out")
    missing = [c for c in inputs + targets if c not in units]
    if missing:
        raise ValueError(f"units are given, but not for {missing}: give units for every input and "
                         "the target (\"1\" for a dimensionless column), or none at all")
    return {c: _dimensions(c, units[c]) for c in inputs + targets}


def _dimensions(column: str, unit) -> dict:
    if isinstance(unit, str):
        try:
            return parse_units(unit)
        except ValueError as e:
            raise ValueError(f"units of column {column!r}: {e}") from None
    if isinstance(unit, dict) and all(isinstance(d, str) and isinstance(p, (int, float))
                                      and not isinstance(p, bool) and math.isfinite(p)
                                      for d, p in unit.items()):
        return dict(unit)
    raise ValueError(f"units of column {column!r} must be a unit string such as 'm/s' or "
                     f"'kg m2 s-2' (\"1\" if dimensionless), got {unit!r}")


def _backends(backend, library, operon_options):
    if backend == "auto":
        from .backends import BuiltinBackend, OperonBackend
        return [BuiltinBackend(library), OperonBackend(**(operon_options or {}))]
    if isinstance(backend, (list, tuple)):
        return [get_backend(b) for b in backend]
    if backend == "builtin":
        from .backends import BuiltinBackend
        return [BuiltinBackend(library)]
    if backend == "operon":
        from .backends import OperonBackend
        return [OperonBackend(**(operon_options or {}))]
    return [get_backend(backend)]


def discover(data, target, inputs=None, *, backend: str | Backend = "auto", seed: int = 0,
             test_fraction: float = 0.25, time_budget: float | None = 120.0,
             library: Library | None = None, units: dict | None = None,
             operon_options: dict | None = None, structure: bool = True, surrogate_check: bool = True,
             proposals: Sequence[tuple[str, sp.Expr]] = (), noise: str = "auto") -> Law:
    """Discover a closed-form law ``target = f(inputs)`` from a table of samples.

    Args:
        data: CSV/NetCDF path, ``xarray.Dataset``, ``pandas.DataFrame`` or dict of arrays.
        target: column name (or list of names: one law per output, see ``Law.expressions``).
        inputs: column names (a list, or one name); default all other numeric columns (text
            columns are then skipped with a :class:`~sciml.symbolic.table.DataNote`; rows with
            NaN/inf are dropped with a :class:`~sciml.symbolic.table.DataWarning`, both
            recorded under ``record["data"]``).
        backend: ``"auto"`` (built-in search, then pyoperon only if the built-in result is not
            exact on held-out data), ``"builtin"``, ``"operon"``, ``"pysr"`` or a
            :class:`~sciml.symbolic.backends.Backend`.
        seed: seeds the train/test split and the stochastic backends.
        test_fraction: share of rows held out for choosing and reporting the law.
        time_budget: seconds for the global (genetic) search backends.
        library: primitives for the built-in search.
        proposals: ``(source, formula)`` candidates of the (first) target to score beside the
            searches' (e.g. a KAN's composed edges), written in symbols named like the input
            columns.
        units: optional ``{column: units}`` for every input and the target, each a
            ``{dimension: exponent}`` dict or a string such as ``"kg m2 s-2"`` or ``"m/s"``
            (:func:`sciml.symbolic.units.parse_units`; ``"1"`` for dimensionless);
            inconsistent formulas are not chosen, and the search first runs in the
            Buckingham-pi groups (fewer variables) and writes what it finds back.
        structure: without units, when the built-in search is not exact, test a fitted
            surrogate for separability and symmetries and search the sub-problems
            (:mod:`sciml.symbolic.structure`; the tree and the reason for each step are in
            ``record["structure"]``); constants are then rounded only when the noise cannot
            tell them from the fitted ones (:mod:`sciml.symbolic.rounding`).
        surrogate_check: fit a small MLP to the training rows and compare it with the law on
            the held-out rows (``metrics["surrogate"]``): a law it beats clearly is
            ``"doubtful"`` (:data:`~sciml.symbolic.law.VERDICT_RULE`). Off where the rows are a
            network's own noiseless samples, which any smooth surrogate follows closer than the
            true law does.
        noise: ``"auto"`` (the data decide between the two below:
            :func:`~sciml.symbolic.noise.noise_form`, recorded as ``record["noise_form"]``),
            ``"additive"`` (every row's error alike: least squares on the target) or
            ``"proportional"`` (an error that is a share of the value, for a target of one sign:
            laws are searched, chosen and judged by their error in ``log|target|``, where the
            Pareto front's errors then are).

    Returns:
        the :class:`Law`; ``law.verdict`` is ``"no law found"`` when nothing beats the mean on
        held-out data.

    Raises:
        ValueError: unusable data, columns or units (the message names the culprit and the fix).
    """
    t0 = time.time()
    if not 0.0 < test_fraction < 0.9:
        raise ValueError(f"test_fraction must be in (0, 0.9), got {test_fraction}")
    if noise not in NOISE_FORMS:
        raise ValueError(f"noise must be one of {list(NOISE_FORMS)}, got {noise!r}")
    table = load_table(data)
    samples = select_samples(table, target, inputs, source_name(data))
    inputs, targets, X, Y = samples.inputs, samples.targets, samples.X, samples.Y
    column_units = _check_units(units, inputs, targets, list(table.columns))
    symbols = _symbols(inputs, X)
    # consistency checks and the pi-group reduction read units by symbol name
    units = None if column_units is None else {s.name: column_units[c] for s, c in zip(symbols, inputs)}
    backends = _backends(backend, library, operon_options)
    laws = {}
    columns = {s.name: c for s, c in zip(symbols, inputs)}
    by_name = {s.name: s for s in symbols}
    given = [(source, e.xreplace({v: by_name[v.name] for v in e.free_symbols if v.name in by_name}))
             for source, e in proposals]
    for k, t in enumerate(targets):
        form = _noise_form(noise, X, Y[:, k], seed, test_fraction)
        laws[t] = _target_search(X, Y[:, k], symbols, backends, form, seed=seed, test_fraction=test_fraction,
                                 time_budget=time_budget, columns=columns, given=given if k == 0 else [],
                                 units=units, target_units=None if column_units is None else column_units[t],
                                 structure=structure)
    t = targets[0]
    found = laws[t]
    chosen, tr, te = found.chosen, found.split[0], found.split[1]
    y = Y[:, 0]
    # the alternatives and the checks in the space the law was chosen in (log|y| for a relative error)
    z = found.transform(y)
    others, ambiguity = _alternatives(chosen, found.front, found.candidates, X, z, tr, te, symbols, inputs)
    law_expr = found.law(chosen.expr)
    pred = evaluate(law_expr, symbols, X)
    metrics = {"formula": _side(pred[tr], y[tr], pred[te], y[te]), "network": None}
    if surrogate_check and len(tr) >= 20 and len(te) >= 10:
        if _exact_enough(min(found.front, key=lambda c: c.mse_test, default=None), z):
            metrics["surrogate"] = {"skipped": "the formula is exact on held-out rows", "formula_clearly_worse": False}
        else:
            with np.errstate(all="ignore"):
                pred_z = found.transform(pred)
            metrics["surrogate"], noise_check = _surrogate_check(X, z, pred_z, tr, te, seed, found.surrogate)
            if noise_check is not None:
                metrics["noise"] = noise_check
    record = {"data_hash": _data_hash(X, Y), "n_samples": int(len(X)), "seed": int(seed),
              "backend": backend if isinstance(backend, str) else type(backend).__name__,
              "chosen_from": chosen.source, "selection_rule": SELECTION_RULE,
              "test_fraction": test_fraction, "data": samples.notes,
              "wall_s": time.time() - t0, "versions": _versions()}
    record["noise_form"] = found.noise_form
    if found.structure is not None:
        record["structure"] = found.structure
    if units is not None:
        record["units"] = _units_record(X, symbols, units, column_units[t], law_expr, columns)
    details = {"X": X, "y": y, "pred": pred, "train_index": tr, "test_index": te}
    return Law(expr=law_expr, symbols=symbols, inputs=inputs, target=t, pareto=found.in_target(found.front),
               metrics=metrics,
               expressions={k: v.law(v.chosen.expr) for k, v in laws.items()} if len(targets) > 1 else {},
               record=record, details=details, alternatives=found.in_target(others), ambiguity=ambiguity)


def _surrogate_check(X, y, pred, tr, te, seed: int, surrogate=None) -> tuple[dict, dict | None]:
    """The law against flexible references fitted to the training rows, on the held-out rows:
    the structure stage's MLP (or one fitted here) and a Gaussian process
    (:func:`~sciml.symbolic.law.surrogate_comparison`, recorded for the one that predicts
    better; a formula clearly behind either misses structure the data hold), and the noise
    variance of the Gaussian process (:func:`~sciml.symbolic.noise.noise_comparison`: a law's
    error is the noise)."""
    from .noise import noise_comparison, noise_reference
    from .structure import fit_surrogate

    hidden = (32, 32)
    with np.errstate(all="ignore"):
        law_sq = (pred[te] - y[te]) ** 2
    comparisons = []
    try:
        if surrogate is None:  # a third of the structure stage's fit: enough to see a clear miss
            surrogate = fit_surrogate(X[tr], y[tr], hidden=hidden, steps=400, rounds=2, seed=seed)
        with np.errstate(all="ignore"):
            comparisons.append(surrogate_comparison(law_sq, (surrogate(X[te]) - y[te]) ** 2,
                                                    f"MLP, tanh, hidden {list(hidden)}, float64, L-BFGS"))
    except ValueError as e:  # too few rows, a diverged fit: no comparison, said so
        skipped = {"model": f"MLP, tanh, hidden {list(hidden)}", "skipped": str(e), "formula_clearly_worse": False}
    reference = noise_reference(X[tr], y[tr], seed=seed)
    if reference is not None:
        with np.errstate(all="ignore"):
            comparisons.append(surrogate_comparison(law_sq, (reference.predict(X[te]) - y[te]) ** 2, reference.model))
    if not comparisons:
        return skipped, None
    best = dict(min(comparisons, key=lambda c: c["mse_test"]))
    best["formula_clearly_worse"] = any(c["formula_clearly_worse"] for c in comparisons)
    best["references"] = [{"model": c["model"], "mse_test": c["mse_test"], "ratio": c["ratio"],
                           "formula_clearly_worse": c["formula_clearly_worse"]} for c in comparisons]
    return best, None if reference is None else noise_comparison(law_sq, reference)


def _alternatives(chosen, front, cands, X, y, tr, te, symbols, inputs) -> tuple[list, str]:
    """Structurally different formulas among all scored ``cands`` within the selection rule's
    noise bound (:func:`~sciml.symbolic.alternatives.alternatives`), and the sentence saying
    so, naming the inputs whose wider range would separate them."""
    bound = selection_bound(front, len(te), float(np.var(y[tr])))
    found = alternatives(chosen, cands, bound, data=(symbols, X[tr]))
    if not found:
        return [], ""
    noise = min(c.mse_test for c in front)
    wider = wider_inputs(chosen.expr, [c.expr for c in found], symbols, X[tr], noise)
    return found, ambiguity_note(len(found), [inputs[i] for i in wider])


def symbolify(model_or_result, X=None, y=None, *, inputs=None, target: str = "y",
              n_samples: int = 1000, bounds=None, seed: int = 0, test_fraction: float = 0.25,
              library: Library | None = None, r2_threshold: float = 0.99) -> Law:
    """Distil a trained KAN (or a result object with a ``.model``) into a :class:`Law`.

    Every edge is fitted by a primitive (:mod:`sciml.symbolic.fit`), edges are composed into a
    formula per output, and the formula's constants are refitted jointly against the network's
    predictions — or against ``y`` when data are given. The law's metrics put the formula and
    the network side by side on the same train/test rows.

    Args:
        model_or_result: a KAN (``widths``, ``activations(x)``) or an object with ``.model``.
        X: inputs to sample the edges on, ``(N, in_features)``; default ``n_samples`` uniform
            points in ``bounds`` (default ``[-1, 1]`` per input).
        y: observed outputs ``(N,)`` or ``(N, out)``; default the network's own predictions.
    """
    t0 = time.time()
    model = getattr(model_or_result, "model", model_or_result)
    for attr in ("widths", "activations"):
        if not hasattr(model, attr):
            raise TypeError(f"symbolify needs a KAN with `{attr}` (see sciml.models.kan); got "
                            f"{type(model).__name__}. For any other model use discover() on its "
                            "predictions.")
    n_in = int(model.widths[0])
    rng = np.random.default_rng(seed)
    if X is None:
        lo, hi = (np.full(n_in, -1.0), np.full(n_in, 1.0)) if bounds is None else map(np.asarray, zip(*bounds))
        X = rng.uniform(lo, hi, (n_samples, n_in))
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2 or X.shape[1] != n_in:
        raise ValueError(f"X must have shape (N, {n_in}) for this network, got {X.shape}")
    inputs = inputs or [f"x{i + 1}" for i in range(n_in)]
    symbols = _symbols(inputs, X)
    net = np.asarray(model(X), dtype=np.float64).reshape(len(X), -1)
    Y = net if y is None else np.asarray(y, dtype=np.float64).reshape(len(X), -1)
    raw, samples, fits, choices = distil_kan(model, X, symbols, library, r2_threshold=r2_threshold)
    tr, te = _split(len(X), rng, test_fraction)
    exprs, fronts = [], []
    for k, e in enumerate(raw):
        cands = []
        if not e.atoms(sp.core.function.AppliedUndef):
            for source, cand in (("kan", e),):
                c = _score(cand, source, symbols, X[tr], Y[tr, k], X[te], Y[te, k], None, None)
                raw_c = _score(cand, "kan (edge fits, no refit)", symbols, X[tr], Y[tr, k], X[te],
                               Y[te, k], None, None, do_clean=False)
                cands += [c for c in (c, raw_c) if c is not None]
        front = pareto(cands)
        exprs.append(choose(front, len(te), float(np.var(Y[tr, k]))).expr if front else e)
        fronts.append(front)
    pred = evaluate(exprs[0], symbols, X) if not exprs[0].atoms(sp.core.function.AppliedUndef) \
        else np.full(len(X), np.nan)
    y0 = Y[:, 0]
    metrics = {"formula": _side(pred[tr], y0[tr], pred[te], y0[te]),
               "network": _side(net[tr, 0], y0[tr], net[te, 0], y0[te]),
               "formula_vs_network": _side(pred[tr], net[tr, 0], pred[te], net[te, 0])}
    names = [target] if Y.shape[1] == 1 else [f"{target}{k + 1}" for k in range(Y.shape[1])]
    record = {"data_hash": _data_hash(X, Y), "n_samples": int(len(X)), "seed": int(seed),
              "backend": "kan", "selection_rule": SELECTION_RULE, "test_fraction": test_fraction,
              "n_numeric_edges": int(sum(c.numeric for c in choices)),
              "wall_s": time.time() - t0, "versions": _versions()}
    details = {"X": X, "y": y0, "pred": pred, "net": net[:, 0], "train_index": tr,
               "test_index": te, "edges": samples, "choices": choices}
    return Law(expr=exprs[0], symbols=symbols, inputs=inputs, target=names[0], pareto=fronts[0],
               metrics=metrics,
               expressions=dict(zip(names, exprs)) if len(names) > 1 else {}, record=record,
               details=details)
