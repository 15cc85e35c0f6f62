r"""Deduplication up to affine maps, and names from the symbolic stage.

Two primitives are *affine-equivalent* when each is an affine image of the other,
``f(t) = c g(a t + b) + d`` on ``[-1, 1]``. Harvested edges are normalised (input range to
``[-1, 1]``, output to zero mean and unit scale), which removes most of the freedom, but not
all: an edge may cover another's range mirrored or in part. The distance

.. math::  D(f, g) = 1 - \min\big(R^2(f \mid g),\; R^2(g \mid f)\big),

with :math:`R^2(f \mid g)` the best fit of ``c g(a t + b) + d`` to ``f`` over ``(a, b, c, d)``,
is symmetric and zero exactly for affine-equivalent pairs. Both directions matter: ``x^2`` is
the limit of ``cos(a t)`` as ``a -> 0`` (so ``R^2(x^2 | sin) ~ 1``), while no affine image of
``x^2`` is a full period of ``sin``.

The fits are the symbolic stage's own (:func:`sciml.symbolic.fit.fit_edges`: a grid over
``(a, b)`` with ``(c, d)`` in closed form, then Levenberg–Marquardt), with the candidates
themselves as the "primitives": one batched program gives the whole matrix of
:math:`R^2(f_i \mid g_j)`. Clustering is greedy (best-fitted candidates first, each joining the
first cluster within ``tolerance`` of its leader). A cluster whose leader is matched by a
primitive of the symbolic stage within ``name_tolerance`` (the simplest such, by
:func:`sciml.symbolic.fit.select`) takes that primitive's name and exact form; the others
become new primitives.
"""

from __future__ import annotations

import numpy as np

from sciml.library.collection import PrimitiveLibrary
from sciml.library.primitive import ExactForm, PortablePrimitive

__all__ = ["affine_distance", "affine_r2", "deduplicate", "name_primitive"]

_N_POINTS = 64


def _grid() -> np.ndarray:
    return np.linspace(-1.0, 1.0, _N_POINTS)


def _as_symbolic(members, prefix: str = "m"):
    """Members as a symbolic :class:`~sciml.symbolic.primitives.Library` with distinct names."""
    import sympy as sp

    from sciml.symbolic.primitives import Library, Primitive

    return Library(Primitive(f"{prefix}{k}", m, sp.Function(f"{prefix}{k}"), 1) for k, m in enumerate(members))


def affine_r2(targets, candidates) -> np.ndarray:
    """``R^2`` of the best ``c g(a t + b) + d`` for every target ``f`` and candidate ``g``.

    Targets are sampled on ``[-1, 1]`` (their Chebyshev forms, where they were fitted);
    candidates are evaluated as networks evaluate them (the exact form when there is one,
    else the Chebyshev form continued linearly). Returns a ``(len(targets), len(candidates))``
    array.
    """
    from sciml.symbolic.fit import fit_edges

    targets, candidates = list(targets), list(candidates)
    t = _grid()
    ys = np.stack([np.asarray(f.series(t), np.float64) for f in targets])
    fits = fit_edges(np.broadcast_to(t, ys.shape), ys, _as_symbolic(candidates))
    return np.where(np.isfinite(fits.r2), fits.r2, 0.0)


def affine_distance(f: PortablePrimitive, g: PortablePrimitive) -> float:
    """:math:`D(f, g)` of the module docstring: 0 for affine-equivalent primitives, at most 1."""
    r2 = affine_r2([f, g], [f, g])
    return float(1.0 - min(r2[0, 1], r2[1, 0]))


def name_primitive(member: PortablePrimitive, *, known=None, name_tolerance: float = 1e-4):
    """The symbolic primitive that ``member`` is an affine image of, as an :class:`ExactForm`,
    or ``None`` when none fits within ``1 - R^2 <= name_tolerance``.

    Args:
        known: a :class:`sciml.symbolic.primitives.Library` (default: the symbolic stage's
            primitives but the constant ``"0"``).
    """
    return _name_all([member], known, name_tolerance)[0]


def _name_all(members, known, name_tolerance: float):
    from sciml.symbolic.fit import fit_edges
    from sciml.symbolic.primitives import DEFAULT_LIBRARY

    if not members:
        return []
    if known is None:
        known = DEFAULT_LIBRARY.subset([n for n in DEFAULT_LIBRARY.names if n != "0"])
    t = _grid()
    ys = np.stack([np.asarray(m.series(t), np.float64) for m in members])
    choices = fit_edges(np.broadcast_to(t, ys.shape), ys, known).select(r2_threshold=1.0 - name_tolerance)
    return [None if c.numeric else ExactForm(c.name, tuple(float(v) for v in c.params)) for c in choices]


def deduplicate(candidates, *, into: PrimitiveLibrary | None = None, name: str = "discovered",
                prefix: str = "p", tolerance: float = 1e-3, name_tolerance: float = 1e-4,
                known=None) -> PrimitiveLibrary:
    """Cluster ``candidates`` up to affine maps and name the clusters.

    Args:
        candidates: :class:`PortablePrimitive` objects (e.g. from :func:`sciml.library.harvest`).
        into: an existing library: its members lead clusters first, so a candidate equivalent
            to one of them only adds its provenance to it.
        name: the new library's name (``into``'s name when given).
        prefix: new primitives are named ``prefix0``, ``prefix1``, ... (first free ones).
        tolerance: the largest :math:`D` between a candidate and its cluster's leader.
        name_tolerance: the largest ``1 - R^2`` of a symbolic primitive naming a cluster.
        known: the symbolic primitives that may name clusters (see :func:`name_primitive`).

    Returns:
        A library: ``into``'s members (with the provenance of the candidates they absorbed),
        then one member per new cluster, led by its best-fitted candidate.
    """
    existing = list(into) if into is not None else []
    candidates = sorted(candidates, key=lambda m: -m.fit_r2)
    if not candidates:
        return PrimitiveLibrary(into.name if into is not None else name, existing)
    pool = existing + candidates
    r2 = affine_r2(pool, pool)
    close = np.minimum(r2, r2.T) >= 1.0 - tolerance
    leaders = list(range(len(existing)))
    absorbed: dict[int, list] = {i: list(pool[i].provenance) for i in leaders}
    for i in range(len(existing), len(pool)):
        home = next((j for j in leaders if close[i, j]), None)
        if home is None:
            leaders.append(i)
            absorbed[i] = list(pool[i].provenance)
        else:
            absorbed[home] += pool[i].provenance
    new = [i for i in leaders if i >= len(existing)]
    forms = _name_all([pool[i] for i in new], known, name_tolerance)
    library = PrimitiveLibrary(into.name if into is not None else name)
    for i in leaders[: len(existing)]:
        library.add(_with_provenance(pool[i], absorbed[i]))
    counter = 0
    for i, exact in zip(new, forms):
        if exact is not None:
            label = _free(exact.primitive, library)
        else:
            while f"{prefix}{counter}" in library:
                counter += 1
            label = f"{prefix}{counter}"
        library.add(_with_provenance(pool[i].with_name(label, exact), absorbed[i]))
    return library


def _free(base: str, library: PrimitiveLibrary) -> str:
    label, k = base, 2
    while label in library:
        label, k = f"{base}_{k}", k + 1
    return label


def _with_provenance(member: PortablePrimitive, provenance) -> PortablePrimitive:
    import dataclasses

    return dataclasses.replace(member, provenance=tuple(provenance))
