"""An ASE calculator backed by a trained potential, plus saving and loading potentials.

    calc = PotentialCalculator(potential)
    atoms.calc = calc
    VelocityVerlet(atoms, 0.5 * units.fs).run(1000)

Energies, forces and (for fully periodic cells) stresses come from one jit-compiled call;
pad sizes are rounded up to buckets so the edge count changing during dynamics triggers only
occasional recompilation.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import ClassVar

import jax
import numpy as np
from ase.calculators.calculator import Calculator, all_changes
from flax import nnx

from . import graphs as G
from .models import build_network
from .potential import Potential, predict
from .structures import Structure


class PotentialCalculator(Calculator):
    """ASE calculator for a :class:`~sciml.atomistic.potential.Potential`."""

    implemented_properties: ClassVar[list[str]] = ["energy", "free_energy", "forces", "stress"]

    def __init__(self, potential: Potential, *, dtype=np.float32, **kwargs):
        super().__init__(**kwargs)
        self.potential = potential
        self.dtype = dtype
        self._index = np.full(119, -1, dtype=np.int64)
        self._index[list(potential.species)] = np.arange(len(potential.species))
        self._predict = nnx.jit(predict)

    def calculate(self, atoms=None, properties=("energy",), system_changes=all_changes):
        super().calculate(atoms, properties, system_changes)
        a = self.atoms
        idx = self._index[a.numbers]
        if (idx < 0).any():
            raise ValueError(f"the potential knows species {self.potential.species}; this "
                             f"structure has {sorted(set(a.numbers.tolist()))}")
        s = Structure(numbers=a.numbers, positions=a.positions,
                      cell=a.cell.array if a.cell.rank == 3 else None, pbc=a.pbc)
        g = G.structure_graph(s, idx, self.potential.cutoff)
        pad = G.PadSizes(G.bucket(len(a) + 1, 16), G.bucket(int(g.n_edge[0]) + 1, 256), 2)
        pred = jax.device_get(self._predict(self.potential, G.pad_graph(g, pad, self.dtype)))
        e = float(pred.energy[0])
        self.results = {"energy": e, "free_energy": e,
                        "forces": np.asarray(pred.forces[: len(a)], dtype=np.float64)}
        if a.pbc.all():
            st = np.asarray(pred.stress[0], dtype=np.float64)
            self.results["stress"] = np.array([st[0, 0], st[1, 1], st[2, 2],
                                               st[1, 2], st[0, 2], st[0, 1]])


def save_potential(path: str | Path, potential: Potential, config: dict) -> Path:
    """Write ``<path>.npz`` (parameters) and ``<path>.json`` (``config``: the network name
    and options, so :func:`load_potential` can rebuild it)."""
    path = Path(path)
    state = nnx.state(potential)
    flat = {"/".join(map(str, k)): np.asarray(v) for k, v in nnx.to_flat_state(state)}
    np.savez(path.with_suffix(".npz"), **flat)
    meta = dict(config, species=list(potential.species))
    path.with_suffix(".json").write_text(json.dumps(meta, indent=2))
    return path.with_suffix(".npz")


def load_potential(path: str | Path) -> Potential:
    """Rebuild a potential written by :func:`save_potential`."""
    path = Path(path)
    meta = json.loads(path.with_suffix(".json").read_text())
    net = build_network(meta["model"], len(meta["species"]), **meta["options"])
    pot = Potential(net, tuple(meta["species"]), np.zeros(len(meta["species"])), 1.0)
    data = np.load(path.with_suffix(".npz"))
    state = nnx.state(pot)
    flat = [(k, v.replace(jax.numpy.asarray(data["/".join(map(str, k))])))
            for k, v in nnx.to_flat_state(state)]
    nnx.update(pot, nnx.from_flat_state(flat))
    return pot
