"""Harvest: every active edge of a trained KAN as a portable primitive.

The edges are read with :func:`sciml.models.kan_inspect.sample_edges` (the same samples the
symbolic stage fits), each live edge's input range is mapped to ``[-1, 1]`` and its output to
zero mean and unit scale, and a Chebyshev series of bounded degree is fitted
(:func:`sciml.library.primitive.from_samples`). An edge is *active* when it is not pruned, its
attribution score reaches ``min_score`` (when ``samples`` give scores) and it is not constant.
Each primitive keeps its provenance (problem, layer, input, output, range, scale, ``R^2``).

The harvest is raw material: :func:`sciml.library.dedup.deduplicate` merges the edges that are
affine images of each other and names those the symbolic stage knows.
"""

from __future__ import annotations

import numpy as np

from sciml.library.primitive import PortablePrimitive, Provenance, from_samples

__all__ = ["harvest"]


def harvest(model, *, problem: str, samples=None, n_points: int = 101, min_score: float = 1e-2,
            max_degree: int = 16) -> list[PortablePrimitive]:
    """The active edges of the KAN ``model`` as primitives, each with its edge in its provenance
    (their names, ``e0``, ``e1``, ..., are placeholders until deduplication names them).

    Args:
        model: a trained :class:`sciml.models.kan.KAN`.
        problem: the problem's name, recorded in each primitive's provenance.
        samples: network inputs ``(N, in_features)``: edges are sampled on the ranges their
            inputs cover and scored; without them, on their grid ranges, all scored alike.
        n_points: samples per edge.
        min_score: edges whose attribution score is below this are left out (needs ``samples``).
        max_degree: the largest Chebyshev degree.
    """
    from sciml.models.kan_inspect import sample_edges

    edges = sample_edges(model, n_points=n_points, samples=samples)
    x, phi, mask = edges["x"].values, edges["phi"].values, edges["mask"].values
    score = edges["score"].values if "score" in edges else np.ones_like(mask)
    found = []
    for layer, i, j in zip(*np.nonzero(np.nan_to_num(mask) > 0)):
        if not score[layer, i, j] >= min_score:
            continue
        origin = Provenance(str(problem), int(layer), int(i), int(j), 0.0, (0.0, 0.0), 0.0, 1.0)
        try:
            found.append(from_samples(f"e{len(found)}", x[layer, i], phi[layer, i, j], provenance=origin,
                                      max_degree=max_degree))
        except ValueError:  # a constant edge: nothing to harvest
            continue
    return found
