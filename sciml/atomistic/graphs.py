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

from .neighbors import neighbor_lists
from .structures import LABELS, Structures, ragged_arange, structure_rows

GraphsTuple = jraph.GraphsTuple


class PadSizes(NamedTuple):
    n_node: int
    n_edge: int
    n_graph: int


class GraphBlock(NamedTuple):
    """Many structures' graphs end to end: arrays per atom, per edge and per structure.

    Built from the rows of a set of structures in one neighbour search
    (:func:`~sciml.atomistic.neighbors.neighbor_lists`); :meth:`take` gathers any of them,
    in any order, into a new block and :meth:`graph` turns a block into one
    :class:`jraph.GraphsTuple`, so a batch costs a few array gathers however many
    structures it holds. ``receivers``/``senders`` index the block's atoms; ``shifts`` are
    Cartesian.
    """

    n_atoms: np.ndarray  # (S,)
    n_edges: np.ndarray  # (S,)
    positions: np.ndarray  # (A, 3)
    species: np.ndarray  # (A,) embedding indices
    forces: np.ndarray  # (A, 3)
    receivers: np.ndarray  # (E,)
    senders: np.ndarray  # (E,)
    shifts: np.ndarray  # (E, 3)
    labels: dict  # per structure: cell, volume, energy, stress, property, w_<label>

    @classmethod
    def build(cls, rows: dict, species_index, cutoff: float) -> GraphBlock:
        """The block of ``rows`` (:func:`~sciml.atomistic.structures.structure_rows`), with
        ``species_index`` mapping atomic numbers to embedding indices."""
        n_atoms = np.asarray(rows["n_atoms"], dtype=np.int64)
        cell, pbc = rows["cell"], rows["pbc"]
        nl, n_edges = neighbor_lists(rows["positions"], n_atoms, cutoff, cell, pbc)
        owner = np.repeat(np.arange(len(n_atoms)), n_atoms)
        labels = {"cell": cell, "volume": np.where(pbc.all(axis=1), np.abs(np.linalg.det(cell)), 0.0),
                  "energy": rows["energy"], "stress": rows["stress"], "property": rows["property"]}
        labels |= {f"w_{name}": rows["has"][:, k].astype(np.float64) for k, name in enumerate(LABELS)}
        return cls(n_atoms, n_edges, rows["positions"], species_index(rows["numbers"]), rows["forces"],
                   nl.receivers, nl.senders, np.einsum("ei,eij->ej", nl.shifts, cell[owner[nl.receivers]]), labels)

    def take(self, ids) -> GraphBlock:
        """The structures ``ids`` (in that order, repeats allowed) as a block of their own."""
        ids = np.asarray(ids, dtype=np.int64).ravel()
        first_atom = np.concatenate([[0], np.cumsum(self.n_atoms)])
        first_edge = np.concatenate([[0], np.cumsum(self.n_edges)])
        n_atoms, n_edges = self.n_atoms[ids], self.n_edges[ids]
        atoms = ragged_arange(first_atom[ids], n_atoms)
        edges = ragged_arange(first_edge[ids], n_edges)
        # An edge's atoms move from their structure's old first atom to its new one.
        move = np.repeat(np.concatenate([[0], np.cumsum(n_atoms)[:-1]]) - first_atom[ids], n_edges)
        return GraphBlock(n_atoms, n_edges, self.positions[atoms], self.species[atoms], self.forces[atoms],
                          self.receivers[edges] + move, self.senders[edges] + move, self.shifts[edges],
                          {k: v[ids] for k, v in self.labels.items()})

    @staticmethod
    def join(blocks: list[GraphBlock]) -> GraphBlock:
        """Several blocks as one, in order."""
        if len(blocks) == 1:
            return blocks[0]
        start = np.cumsum([0] + [int(b.n_atoms.sum()) for b in blocks[:-1]])
        cat = lambda name: np.concatenate([getattr(b, name) for b in blocks])
        return GraphBlock(cat("n_atoms"), cat("n_edges"), cat("positions"), cat("species"), cat("forces"),
                          np.concatenate([b.receivers + a for a, b in zip(start, blocks)]),
                          np.concatenate([b.senders + a for a, b in zip(start, blocks)]), cat("shifts"),
                          {k: np.concatenate([b.labels[k] for b in blocks]) for k in blocks[0].labels})

    def __len__(self) -> int:
        return len(self.n_atoms)

    def graph(self) -> GraphsTuple:
        """The block as one unpadded graph of ``len(self)`` structures."""
        return GraphsTuple(
            nodes={"positions": self.positions, "species": self.species, "forces": self.forces},
            edges={"shifts": self.shifts}, senders=self.senders, receivers=self.receivers,
            n_node=self.n_atoms, n_edge=self.n_edges, globals=dict(self.labels))


class GraphBatcher:
    """Neighbour lists of the whole set; batches gathered and padded on demand.

    Over an in-memory :class:`Structures` the graphs of every structure are kept as one
    :class:`GraphBlock`. Over a :class:`~sciml.atomistic.store.StructureStore` (larger than
    memory) one pass in chunks counts each structure's atoms and edges (for the pad sizes)
    and keeps nothing else; batches are built from the file when drawn. A shuffled epoch over
    a store visits its chunks in random order and each chunk's structures in random order (a
    shuffle buffer of one chunk, :meth:`plan`), so a batch reads one span of the file (two
    where it straddles chunks).

    Args:
        structures: the data.
        cutoff: neighbour radius (A).
        batch_size: structures per batch; the pad sizes fit the largest possible batch.
        chunk: structures read (and searched for neighbours) at a time.
    """

    def __init__(self, structures, cutoff: float, batch_size: int, *, chunk: int = 4096):
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1; got {batch_size}")
        self.structures = structures
        self.cutoff = float(cutoff)
        self.batch_size = int(batch_size)
        self.chunk = int(chunk)
        n = len(structures)
        blocks = [self._read(np.arange(start, min(start + chunk, n))) for start in range(0, n, chunk)] \
            if isinstance(structures, Structures) else None
        self._block = GraphBlock.join(blocks) if blocks else None
        if self._block is not None:
            n_nodes, n_edges = self._block.n_atoms, self._block.n_edges
        else:  # a store: count, keep nothing
            n_nodes, n_edges = np.asarray(structures.n_atoms()), np.zeros(n, dtype=np.int64)
            for start in range(0, n, chunk):
                rows = structures.rows(np.arange(start, min(start + chunk, n)))
                n_edges[start:start + chunk] = neighbor_lists(rows["positions"], rows["n_atoms"], self.cutoff,
                                                              rows["cell"], rows["pbc"])[1]
        self._mean_neighbors = float(n_edges.sum() / max(1, n_nodes.sum()))
        # Largest first: the pad of any b structures is the sum of the b largest.
        self._n_nodes, self._n_edges = np.sort(n_nodes)[::-1], np.sort(n_edges)[::-1]
        self.pad = self._pad_for(batch_size)

    def _read(self, indices) -> GraphBlock:
        return GraphBlock.build(self.structures.rows(indices), self.structures.species_index, self.cutoff)

    def _take(self, indices) -> GraphBlock:
        return self._block.take(indices) if self._block is not None else self._read(indices)

    def _pad_for(self, b: int) -> PadSizes:
        """Pad sizes that hold any ``b`` structures, plus one spare node, edge and graph for
        jraph's padding graph."""
        b = min(b, len(self._n_nodes))
        return PadSizes(int(self._n_nodes[:b].sum()) + 1, int(self._n_edges[:b].sum()) + 1, b + 1)

    def _check(self, indices) -> np.ndarray:
        indices = np.asarray(indices).ravel()
        if len(indices) > self.batch_size:
            raise ValueError(f"{len(indices)} structures > batch_size={self.batch_size}")
        return indices

    def batch(self, indices, dtype=np.float32) -> GraphsTuple:
        """The structures ``indices`` (at most ``batch_size``) as one padded graph."""
        return pad_graph(self._take(self._check(indices)).graph(), self.pad, dtype)

    def sharded_batch(self, indices, shards: int, dtype=np.float32) -> GraphsTuple:
        """The structures ``indices`` split into ``shards`` graphs stacked along a new first
        axis, one per device of a data-parallel step. Each shard is padded for
        ``ceil(batch_size / shards)`` structures, so every device holds the same shapes; a
        shard left without structures (a short last batch) repeats one with every label
        weight 0, so that it adds nothing to a loss of weighted sums."""
        return self._sharded(self._take(self._check(indices)), shards, dtype)

    def _sharded(self, block: GraphBlock, shards: int, dtype) -> GraphsTuple:
        pad = self._pad_for(-(-self.batch_size // shards))
        parts = []
        for part in np.array_split(np.arange(len(block)), shards):
            graph = pad_graph(block.take(part if len(part) else [0]).graph(), pad, dtype)
            if not len(part):
                graph = graph._replace(globals={k: (np.zeros_like(v) if k.startswith("w_") else v)
                                                for k, v in graph.globals.items()})
            parts.append(graph)
        return jax.tree.map(lambda *leaves: np.stack(leaves), *parts)

    def plan(self, indices, rng: np.random.Generator | None = None) -> list[np.ndarray]:
        """The structures of each batch of one pass over ``indices``: in order, or shuffled by
        ``rng``. Over a store the shuffle keeps each batch inside as few chunks as it can (the
        chunks in random order, the structures of each chunk in random order, a shuffle
        buffer of one chunk), so a batch costs one read of the file; in memory it is a plain
        permutation."""
        indices = np.asarray(indices).ravel()
        if rng is not None:
            if self._block is not None:
                indices = rng.permutation(indices)
            else:
                chunks = indices // self.chunk
                indices = np.concatenate([rng.permutation(indices[chunks == c])
                                          for c in rng.permutation(np.unique(chunks))])
        return [indices[k:k + self.batch_size] for k in range(0, len(indices), self.batch_size)]

    def batches(self, indices, *, shuffle: bool = False, rng: np.random.Generator | None = None,
                dtype=np.float32, shards: int = 0):
        """Iterate over padded batches covering ``indices`` (the last one may be smaller),
        shuffled when asked (:meth:`plan`); with ``shards``, each split for that many devices
        (:meth:`sharded_batch`)."""
        rng = (rng or np.random.default_rng()) if shuffle else None
        for part in self.plan(indices, rng):
            yield self.sharded_batch(part, shards, dtype) if shards else self.batch(part, dtype=dtype)

    def mean_neighbors(self) -> float:
        """Average number of neighbours per atom (normalises message sums)."""
        return self._mean_neighbors


def structure_graph(s, species_index: np.ndarray, cutoff: float) -> GraphsTuple:
    """One structure as an unpadded graph (neighbour list within ``cutoff``)."""
    return GraphBlock.build(structure_rows([s]), lambda numbers: np.asarray(species_index), cutoff).graph()


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
