"""Batches of atomic graphs padded to fixed shapes (the only module that imports jraph).

A batch is a :class:`jraph.GraphsTuple` of several structures side by side:

* ``nodes``: ``positions (N, 3)``, ``species (N,)`` embedding indices, ``forces (N, 3)``;
* ``edges``: ``shifts (E, 3)``, the Cartesian periodic shift :math:`S \\cdot A` of each edge
  so that the edge vector is ``positions[senders] - positions[receivers] + shifts``;
* ``globals``: ``cell (G, 3, 3)``, ``volume``, ``energy``, ``stress (G, 3, 3)``, ``property``
  and 0/1 weights saying which labels exist.

:class:`GraphBatcher` pads every batch to the same ``(n_node, n_edge, n_graph)`` with
``jraph.pad_with_graphs``, so a single jit-compiled step serves every batch; the padding
graph's nodes and edges are masked out of every sum (see :func:`masks`).
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import jraph
import numpy as np

from .neighbors import neighbor_list
from .structures import Structures

GraphsTuple = jraph.GraphsTuple


class PadSizes(NamedTuple):
    n_node: int
    n_edge: int
    n_graph: int


class GraphBatcher:
    """Neighbour lists computed once per structure; batches assembled and padded on demand.

    Over an in-memory :class:`Structures` every structure's graph is kept. Over a
    :class:`~sciml.atomistic.store.StructureStore` (larger than memory) one pass in chunks
    counts each structure's atoms and edges (for the pad sizes), and each batch's graphs are
    built from the file when it is drawn: memory holds a chunk, never the set.

    Args:
        structures: the data.
        cutoff: neighbour radius (A).
        batch_size: structures per batch; the pad sizes fit the largest possible batch.
        chunk: structures read at a time from a store.
    """

    def __init__(self, structures, cutoff: float, batch_size: int, *, chunk: int = 4096):
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1; got {batch_size}")
        self.structures = structures
        self.cutoff = float(cutoff)
        self.batch_size = int(batch_size)
        if isinstance(structures, Structures):
            self._graphs = [self._single(s) for s in structures]
            n_nodes = np.array([g.n_node[0] for g in self._graphs])
            n_edges = np.array([g.n_edge[0] for g in self._graphs])
        else:  # a store: count, keep nothing
            self._graphs = None
            n_nodes, n_edges = np.asarray(structures.n_atoms()), np.zeros(len(structures), dtype=np.int64)
            for start in range(0, len(structures), chunk):
                part = structures[np.arange(start, min(start + chunk, len(structures)))]
                n_edges[start:start + len(part)] = [len(neighbor_list(s.positions, self.cutoff, s.cell, s.pbc).senders)
                                                    for s in part]
        self._mean_neighbors = float(n_edges.sum() / max(1, n_nodes.sum()))
        # Largest first: the pad of any b structures is the sum of the b largest.
        self._n_nodes, self._n_edges = np.sort(n_nodes)[::-1], np.sort(n_edges)[::-1]
        self.pad = self._pad_for(batch_size)

    def _graphs_of(self, indices) -> list[GraphsTuple]:
        if self._graphs is not None:
            return [self._graphs[i] for i in indices]
        return [self._single(s) for s in self.structures[np.asarray(indices)]]

    def _pad_for(self, b: int) -> PadSizes:
        """Pad sizes that hold any ``b`` structures, plus one spare node, edge and graph for
        jraph's padding graph."""
        b = min(b, len(self._n_nodes))
        return PadSizes(int(self._n_nodes[:b].sum()) + 1, int(self._n_edges[:b].sum()) + 1, b + 1)

    def _single(self, s) -> GraphsTuple:
        return structure_graph(s, self.structures.species_index(s.numbers), self.cutoff)

    def batch(self, indices, dtype=np.float32) -> GraphsTuple:
        """The structures ``indices`` (at most ``batch_size``) as one padded graph."""
        indices = np.asarray(indices).ravel()
        if len(indices) > self.batch_size:
            raise ValueError(f"{len(indices)} structures > batch_size={self.batch_size}")
        return pad_graph(jraph.batch_np(self._graphs_of(indices)), self.pad, dtype)

    def sharded_batch(self, indices, shards: int, dtype=np.float32) -> GraphsTuple:
        """The structures ``indices`` split into ``shards`` graphs stacked along a new first
        axis, one per device of a data-parallel step. Each shard is padded for
        ``ceil(batch_size / shards)`` structures, so every device holds the same shapes; a
        shard left without structures (a short last batch) repeats one with every label
        weight 0, so that it adds nothing to a loss of weighted sums."""
        indices = np.asarray(indices).ravel()
        if len(indices) > self.batch_size:
            raise ValueError(f"{len(indices)} structures > batch_size={self.batch_size}")
        pad = self._pad_for(-(-self.batch_size // shards))
        parts = []
        for part in np.array_split(indices, shards):
            graph = pad_graph(jraph.batch_np(self._graphs_of(part if len(part) else indices[:1])), pad, dtype)
            if not len(part):
                graph = graph._replace(globals={k: (np.zeros_like(v) if k.startswith("w_") else v)
                                                for k, v in graph.globals.items()})
            parts.append(graph)
        return jax.tree.map(lambda *leaves: np.stack(leaves), *parts)

    def batches(self, indices, *, shuffle: bool = False, rng: np.random.Generator | None = None,
                dtype=np.float32, shards: int = 0):
        """Iterate over padded batches covering ``indices`` (the last one may be smaller); with
        ``shards``, each split for that many devices (:meth:`sharded_batch`)."""
        indices = np.asarray(indices)
        if shuffle:
            indices = (rng or np.random.default_rng()).permutation(indices)
        for k in range(0, len(indices), self.batch_size):
            part = indices[k:k + self.batch_size]
            yield self.sharded_batch(part, shards, dtype) if shards else self.batch(part, dtype=dtype)

    def mean_neighbors(self) -> float:
        """Average number of neighbours per atom (normalises message sums)."""
        return self._mean_neighbors


def structure_graph(s, species_index: np.ndarray, cutoff: float) -> GraphsTuple:
    """One structure as an unpadded graph (neighbour list within ``cutoff``)."""
    nl = neighbor_list(s.positions, cutoff, s.cell, s.pbc)
    cell = s.cell if s.cell is not None else np.zeros((3, 3))
    n = len(s)
    return GraphsTuple(
        nodes={
            "positions": s.positions,
            "species": species_index,
            "forces": s.forces if s.forces is not None else np.zeros((n, 3)),
        },
        edges={"shifts": nl.shifts @ cell},
        senders=nl.senders,
        receivers=nl.receivers,
        n_node=np.array([n]),
        n_edge=np.array([len(nl.senders)]),
        globals={
            "cell": cell[None],
            "volume": np.array([s.volume if s.pbc.all() else 0.0]),
            "energy": np.array([s.energy if s.energy is not None else 0.0]),
            "stress": (s.stress if s.stress is not None else np.zeros((3, 3)))[None],
            "property": np.array([s.property if s.property is not None else 0.0]),
            "w_energy": np.array([float(s.energy is not None)]),
            "w_forces": np.array([float(s.forces is not None)]),
            "w_stress": np.array([float(s.stress is not None)]),
            "w_property": np.array([float(s.property is not None)]),
        },
    )


def pad_graph(graph: GraphsTuple, pad: PadSizes, dtype=np.float32) -> GraphsTuple:
    """Pad to ``pad`` with one extra padding graph and cast floats to ``dtype``."""
    g = jraph.pad_with_graphs(graph, *pad)
    cast = lambda x: x.astype(dtype) if np.issubdtype(x.dtype, np.floating) else x
    return g._replace(
        nodes={k: cast(v) for k, v in g.nodes.items()},
        edges={k: cast(v) for k, v in g.edges.items()},
        globals={k: cast(v) for k, v in g.globals.items()},
    )


def bucket(n: int, multiple: int = 64) -> int:
    """Round ``n`` up to a multiple of ``multiple`` -- pad sizes that change rarely, so
    molecular dynamics with a varying edge count recompiles only a few times."""
    return int(-(-n // multiple) * multiple)


def masks(graph: GraphsTuple):
    """Boolean ``(node_mask, edge_mask, graph_mask)``: True for real entries, False for the
    padding graph."""
    return (jraph.get_node_padding_mask(graph), jraph.get_edge_padding_mask(graph),
            jraph.get_graph_padding_mask(graph))


def node_graph_index(graph: GraphsTuple) -> jnp.ndarray:
    """For each node, the index of the graph it belongs to (static total size)."""
    n_graph = graph.n_node.shape[0]
    return jnp.repeat(jnp.arange(n_graph), graph.n_node, total_repeat_length=graph.nodes["species"].shape[0])


def edge_graph_index(graph: GraphsTuple) -> jnp.ndarray:
    n_graph = graph.n_edge.shape[0]
    return jnp.repeat(jnp.arange(n_graph), graph.n_edge, total_repeat_length=graph.senders.shape[0])
