r"""Per-edge suggestions: for each edge of a trained KAN, the primitives that fit it best.

Every live spline edge of the network is sampled on its inputs and every primitive of the
library is fitted to it as :math:`c\,f(a x + b) + d` — all edges and all primitives in one
batched program, :func:`sciml.symbolic.fit.fit_edges`. Each edge then gets a ranked list of
:class:`Suggestion` (primitive, :math:`R^2`, complexity, fitted constants).

**Ranking** trades fit against simplicity as pykan's ``suggest_symbolic`` does: each
primitive scores

.. math::

    s = w\,C + (1 - w)\,\log_2\!\big(1 + \epsilon - R^2\big),\qquad w = 0.8,\ \epsilon = 10^{-5},

with :math:`C` its complexity, lowest first. The floor :math:`\epsilon` makes fits better
than :math:`R^2 = 1 - 10^{-5}` equal, so an edge learned to that accuracy goes to the simpler
form (``x^2`` before a Gaussian imitating a parabola); equal scores keep the library's order
(``sin`` before the equally exact shifted ``cos``). Pass the chosen name, and its constants,
to :func:`sciml.models.kan_fix.fix_edge`.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import sympy as sp

from .fit import fit_edges
from .primitives import DEFAULT_LIBRARY, Library, edge_formula

__all__ = ["EdgeSuggestions", "Suggestion", "format_suggestions", "rank", "suggest"]


@dataclasses.dataclass(frozen=True)
class Suggestion:
    """One candidate for an edge: ``c * f(a * x + b) + d`` with ``f`` the primitive ``name``."""

    name: str
    r2: float
    complexity: int
    params: tuple[float, float, float, float]  # (a, b, c, d)

    def formula(self, z: sp.Expr | None = None, library: Library | None = None) -> sp.Expr:
        """The fitted edge as a sympy expression in ``z`` (default the symbol ``x``)."""
        z = sp.Symbol("x", real=True) if z is None else z
        return edge_formula((library or DEFAULT_LIBRARY)[self.name], self.params, z)


@dataclasses.dataclass(frozen=True)
class EdgeSuggestions:
    """The ranked suggestions of edge ``(layer, i, j)``, fitted on inputs in ``x_range``."""

    layer: int
    i: int
    j: int
    x_range: tuple[float, float]
    ranked: tuple[Suggestion, ...]

    @property
    def edge(self) -> tuple[int, int, int]:
        return (self.layer, self.i, self.j)

    @property
    def best(self) -> Suggestion:
        return self.ranked[0]


def rank(names, complexity, r2, params, *, weight_simple: float = 0.8, r2_floor: float = 1e-5) -> list[Suggestion]:
    """All primitives of one edge, best score first (module docstring); undefined ones dropped."""
    r2 = np.asarray(r2, dtype=np.float64)
    ok = np.flatnonzero(np.isfinite(r2))
    with np.errstate(invalid="ignore"):
        fit_loss = np.log2(np.maximum(1.0 + r2_floor - r2, r2_floor))
    score = weight_simple * np.asarray(complexity, np.float64) + (1.0 - weight_simple) * fit_loss
    order = sorted(ok, key=lambda p: (score[p], p))
    return [Suggestion(names[p], float(r2[p]), int(complexity[p]), tuple(float(v) for v in params[p])) for p in order]


def suggest(model, samples=None, *, edges=None, top_k: int = 5, library: Library | None = None,
            weight_simple: float = 0.8, r2_floor: float = 1e-5, include_fixed: bool = False) -> list[EdgeSuggestions]:
    """Ranked primitives for the live edges of a trained KAN.

    Args:
        model: a :class:`~sciml.models.kan.KAN` (``layers``, ``activations``).
        samples: network inputs ``(N, in_features)`` (the data or collocation points); default
            512 uniform points over the first layer's grid range.
        edges: ``[(layer, i, j), ...]`` to consider; default every live edge.
        top_k: suggestions kept per edge.
        library: primitives to try (default :data:`~sciml.symbolic.primitives.DEFAULT_LIBRARY`).
        weight_simple, r2_floor: the ranking's weight of complexity and its ``R^2`` floor.
        include_fixed: also rank edges that are already fixed to a formula.
    """
    library = DEFAULT_LIBRARY if library is None else library
    if samples is None:
        first = model.layers[0]
        pts = np.asarray(first.basis.interior(first.grid[...]), dtype=np.float64)
        rng = np.random.default_rng(0)
        samples = rng.uniform(pts[:, 0], pts[:, -1], (512, model.in_features))
    samples = np.asarray(samples)
    dtype = model.layers[0].coef[...].dtype
    acts = model.activations(np.asarray(samples, dtype).reshape(-1, model.in_features))
    wanted = None if edges is None else {tuple(int(v) for v in e) for e in edges}
    index, xs, ys = [], [], []
    for l, (lay, (inp, phi)) in enumerate(zip(model.layers, acts)):
        mask, fixed = np.asarray(lay.mask[...]), lay.fixed
        inp, phi = np.asarray(inp, np.float64), np.asarray(phi, np.float64)
        for i in range(lay.in_features):
            for j in range(lay.out_features):
                if mask[i, j] == 0 or (fixed[i, j] and not include_fixed):
                    continue
                if wanted is not None and (l, i, j) not in wanted:
                    continue
                index.append((l, i, j))
                xs.append(inp[:, i])
                ys.append(phi[:, i, j])
    if not index:
        return []
    fits = fit_edges(np.stack(xs), np.stack(ys), library)
    out = []
    for e, (l, i, j) in enumerate(index):
        ranked = rank(fits.names, fits.complexity, fits.r2[e], fits.params[e], weight_simple=weight_simple,
                      r2_floor=r2_floor)
        out.append(EdgeSuggestions(l, i, j, (float(xs[e].min()), float(xs[e].max())), tuple(ranked[:top_k])))
    return out


def format_suggestions(suggestions: list[EdgeSuggestions], digits: int = 4) -> str:
    """A plain-text table: one block per edge, one line per suggestion."""
    lines = []
    for s in suggestions:
        lines.append(f"edge {s.layer},{s.i},{s.j}  (x in [{s.x_range[0]:.3g}, {s.x_range[1]:.3g}])")
        for rank_, g in enumerate(s.ranked, 1):
            a, b, c, d = g.params
            lines.append(
                f"  {rank_}. {g.name:<12} R^2={g.r2:.{digits + 2}f}  complexity={g.complexity}  "
                f"{c:+.{digits}g} * f({a:.{digits}g} x {b:+.{digits}g}) {d:+.{digits}g}"
            )
    return "\n".join(lines)
