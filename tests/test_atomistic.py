"""Atomistic models: symmetry, exact derivatives, neighbour lists, padding, validation."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from ase import Atoms
from ase.neighborlist import neighbor_list as ase_neighbor_list
from flax import nnx

from sciml.atomistic import (
    GraphBatcher,
    Potential,
    Structure,
    Structures,
    build_network,
    from_ase,
    neighbor_list,
    predict,
)
from sciml.atomistic import graphs as G

TINY = {
    "nequip": {"channels": 4, "lmax": 2, "n_layers": 2, "n_basis": 4, "radial_hidden": 8},
    "mace": {"channels": 4, "lmax": 1, "hidden_lmax": 1, "correlation": 3, "n_layers": 2,
             "n_basis": 4, "radial_hidden": 8},
}
CUTOFF = 3.0
SPECIES = (1, 6, 8)
# One pad size for every single-structure prediction: one compilation per model and dtype.
PAD = G.PadSizes(n_node=9, n_edge=160, n_graph=2)
_jit_predict = nnx.jit(predict)


def _random_cell(rng):
    while True:
        cell = rng.normal(size=(3, 3)) * rng.uniform(0.5, 2.0) + np.eye(3) * rng.uniform(1.5, 5)
        if abs(np.linalg.det(cell)) > 1.0:
            return cell


def _molecule(rng, n=6, numbers=(1, 6, 8)):
    z = rng.choice(numbers, size=n)
    while True:
        pos = rng.normal(size=(n, 3)) * 1.2
        d = np.linalg.norm(pos[:, None] - pos[None], axis=-1) + 10 * np.eye(n)
        if d.min() > 0.7:
            return Structure(numbers=z, positions=pos)


def _crystal(rng, n=4):
    cell = np.eye(3) * 3.2 + rng.normal(size=(3, 3)) * 0.2
    frac = rng.uniform(size=(n, 3))
    return Structure(numbers=rng.choice([6, 8], size=n), positions=frac @ cell, cell=cell,
                     pbc=True)


_POTENTIALS: dict = {}


def _potential(name, species=SPECIES, x64=False, seed=0):
    key = (name, tuple(species), x64, seed)
    if key not in _POTENTIALS:
        _POTENTIALS[key] = _make_potential(name, species, x64, seed)
    return _POTENTIALS[key]


def _make_potential(name, species, x64, seed):
    net = build_network(name, len(species), seed=seed, cutoff=CUTOFF, avg_neighbors=4.0,
                        **TINY[name])
    pot = Potential(net, tuple(species), np.linspace(-1.0, 1.0, len(species)), 1.0)
    if x64:
        state = jax.tree.map(lambda x: x.astype(jnp.float64)
                             if jnp.issubdtype(x.dtype, jnp.floating) else x, nnx.state(pot))
        nnx.update(pot, state)
    return pot


def _predict_one(pot, structure, species, dtype):
    s = Structures([structure], species=species)
    g = G.structure_graph(structure, s.species_index(structure.numbers), CUTOFF)
    assert g.n_edge[0] < PAD.n_edge and g.n_node[0] < PAD.n_node
    p = _jit_predict(pot, G.pad_graph(g, PAD, dtype))
    n = len(structure)
    return float(p.energy[0]), np.asarray(p.forces[:n]), np.asarray(p.stress[0])


def _rel(a, b):
    return np.linalg.norm(np.asarray(a) - np.asarray(b)) / max(np.linalg.norm(b), 1e-30)


# -- neighbour lists ----------------------------------------------------------------------

@pytest.mark.parametrize("seed", range(12))
def test_neighbor_list_matches_ase(seed):
    rng = np.random.default_rng(seed)
    cell = _random_cell(rng)
    # Small cells: the cutoff exceeds the cell, so atoms see their own periodic images.
    cell *= 0.5 if seed % 3 == 0 else 1.0
    n = int(rng.integers(1, 9))
    pbc = [True, True, True] if seed % 2 == 0 else list(rng.random(3) < 0.6)
    pos = rng.normal(size=(n, 3)) * 3.0
    atoms = Atoms(f"H{n}", positions=pos, cell=cell, pbc=pbc)
    cutoff = float(rng.uniform(1.5, 4.0))
    i, j, S = ase_neighbor_list("ijS", atoms, cutoff)
    nl = neighbor_list(pos, cutoff, cell, pbc)
    ref = set(zip(i.tolist(), j.tolist(), map(tuple, S.tolist())))
    got = set(zip(nl.receivers.tolist(), nl.senders.tolist(), map(tuple, nl.shifts.tolist())))
    assert got == ref
    assert len(nl.senders) == len(i)  # no duplicates


def test_many_structures_in_one_search_match_ase_one_by_one():
    """Molecules, slabs and small periodic cells side by side in one k-d tree search: each
    keeps exactly ASE's pairs, and no pair joins two structures."""
    from sciml.atomistic.neighbors import neighbor_lists

    rng = np.random.default_rng(7)
    cutoff, items = 3.5, []
    for k in range(40):
        cell = _random_cell(rng) * (0.5 if k % 4 == 0 else 1.0)
        n = int(rng.integers(1, 7))
        pbc = np.zeros(3, bool) if k % 3 == 0 else rng.random(3) < 0.7
        items.append((rng.normal(size=(n, 3)) * 2.0, cell, pbc))
    nl, counts = neighbor_lists(np.concatenate([p for p, _, _ in items]), [len(p) for p, _, _ in items], cutoff,
                                np.stack([c for _, c, _ in items]), np.stack([b for _, _, b in items]))
    first, edge = 0, 0
    for (pos, cell, pbc), count in zip(items, counts):
        i, j, S = ase_neighbor_list("ijS", Atoms(f"H{len(pos)}", positions=pos, cell=cell, pbc=pbc), cutoff)
        assert count == len(i)
        mine = slice(edge, edge + count)
        got = set(zip((nl.receivers[mine] - first).tolist(), (nl.senders[mine] - first).tolist(),
                      map(tuple, nl.shifts[mine].tolist())))
        assert got == set(zip(i.tolist(), j.tolist(), map(tuple, S.tolist())))
        first, edge = first + len(pos), edge + len(i)
    assert counts.sum() == edge == len(nl.senders)


def test_neighbor_list_sees_own_images_in_small_cell():
    nl = neighbor_list(np.zeros((1, 3)), 2.5, np.eye(3) * 2.0, True)
    assert len(nl.senders) == 6 and (nl.senders == 0).all()


def test_neighbor_list_needs_cell_for_pbc():
    with pytest.raises(ValueError, match="need a cell"):
        neighbor_list(np.zeros((2, 3)), 2.0, None, True)


# -- symmetry -----------------------------------------------------------------------------

def _check_symmetry(name, x64, tol):
    rng = np.random.default_rng(1)
    with jax.enable_x64(x64):
        dtype = np.float64 if x64 else np.float32
        for structure in (_molecule(rng), _crystal(rng)):
            species = SPECIES
            pot = _potential(name, species, x64)
            e, f, st = _predict_one(pot, structure, species, dtype)
            q, _ = np.linalg.qr(rng.normal(size=(3, 3)))
            for rot in (q * np.sign(np.linalg.det(q)), -q * np.sign(np.linalg.det(q))):
                # proper rotation, then an improper one (rotation x reflection)
                shift = rng.normal(size=3)
                perm = rng.permutation(len(structure))
                moved = Structure(
                    numbers=structure.numbers[perm],
                    positions=structure.positions[perm] @ rot.T + shift,
                    cell=None if structure.cell is None else structure.cell @ rot.T,
                    pbc=structure.pbc,
                )
                e2, f2, st2 = _predict_one(pot, moved, species, dtype)
                assert abs(e2 - e) <= tol * abs(e)
                assert _rel(f2, f[perm] @ rot.T) <= tol
                if structure.cell is not None:
                    assert _rel(st2, rot @ st @ rot.T) <= tol


@pytest.mark.parametrize("name", ["nequip", "mace"])
def test_equivariance_float32(name):
    _check_symmetry(name, False, 1e-5)


@pytest.mark.parametrize("name", ["nequip", "mace"])
def test_equivariance_float64(name):
    _check_symmetry(name, True, 1e-10)


# -- exact derivatives --------------------------------------------------------------------

@pytest.mark.parametrize("name", ["nequip", "mace"])
def test_forces_and_stress_are_energy_derivatives(name):
    rng = np.random.default_rng(2)
    h = 1e-5
    with jax.enable_x64(True):
        for structure in (_molecule(rng, 4), _crystal(rng, 3)):
            species = SPECIES
            pot = _potential(name, species, x64=True)
            energy = lambda s: _predict_one(pot, s, species, np.float64)[0]
            _, f, st = _predict_one(pot, structure, species, np.float64)
            fd = np.zeros_like(f)
            for a in range(len(structure)):
                for c in range(3):
                    d = np.zeros_like(structure.positions)
                    d[a, c] = h
                    plus = dataclass_replace(structure, positions=structure.positions + d)
                    minus = dataclass_replace(structure, positions=structure.positions - d)
                    fd[a, c] = -(energy(plus) - energy(minus)) / (2 * h)
            assert _rel(f, fd) < 1e-6
            if structure.cell is not None:
                fd_st = np.zeros((3, 3))
                for a in range(3):
                    for b in range(3):
                        eps = np.zeros((3, 3))
                        eps[a, b] = eps[b, a] = h / 2 if a != b else h
                        def strained(e):
                            m = np.eye(3) + e
                            return dataclass_replace(structure, positions=structure.positions @ m,
                                                     cell=structure.cell @ m)
                        # d/dh of E(1 + eps) with the symmetric eps above is dE/d(eps_ab).
                        de = energy(strained(eps)) - energy(strained(-eps))
                        fd_st[a, b] = de / (2 * h) / structure.volume
                assert _rel(st, fd_st) < 1e-6


def dataclass_replace(s, **kw):
    import dataclasses

    return dataclasses.replace(s, **kw)


# -- padding ------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["nequip", "mace"])
def test_padding_does_not_change_results(name):
    rng = np.random.default_rng(3)
    structs = Structures([_molecule(rng, n) for n in (3, 5, 7)], species=(1, 6, 8))
    pot = _potential(name, structs.species)
    single = [_jit_predict(pot, G.pad_graph(G.structure_graph(
        s, structs.species_index(s.numbers), CUTOFF), PAD)) for s in structs]
    batched = _jit_predict(pot, GraphBatcher(structs, CUTOFF, 3).batch([0, 1, 2]))
    big = GraphBatcher(structs, CUTOFF, 3)
    big.pad = big.pad._replace(n_node=big.pad.n_node + 17, n_edge=big.pad.n_edge + 50,
                               n_graph=big.pad.n_graph + 2)
    padded = _jit_predict(pot, big.batch([0, 1, 2]))
    off = 0
    for k, p in enumerate(single):
        n = len(structs[k])
        for b in (batched, padded):
            np.testing.assert_allclose(b.energy[k], p.energy[0], rtol=1e-6)
            np.testing.assert_allclose(b.forces[off:off + n], p.forces[:n], rtol=1e-5, atol=1e-6)
        off += n
    assert np.isfinite(np.asarray(padded.forces)).all()


# -- validation ---------------------------------------------------------------------------

def test_validation_errors_are_clear():
    with pytest.raises(ValueError, match="no cell"):
        Structure(numbers=[1], positions=[[0, 0, 0]], pbc=True)
    with pytest.raises(ValueError, match="forces must have shape"):
        Structure(numbers=[1, 1], positions=np.zeros((2, 3)), forces=np.zeros((3, 3)))
    with pytest.raises(ValueError, match="NaN"):
        Structure(numbers=[1], positions=[[np.nan, 0, 0]])
    with pytest.raises(ValueError, match="NaN"):
        Structure(numbers=[1], positions=[[0, 0, 0]], energy=float("nan"))
    with pytest.raises(ValueError, match="unknown species"):
        Structures([Structure(numbers=[1, 8], positions=[[0, 0, 0], [1, 0, 0]])], species=(1, 6))
    with pytest.raises(ValueError, match="unknown atomistic model"):
        build_network("schnet", 2)
    with pytest.raises(ValueError, match="does not accept"):
        build_network("nequip", 2, chanels=8)


def test_from_ase_reads_labels():
    from ase.build import bulk
    from ase.calculators.emt import EMT

    atoms = bulk("Cu", "fcc", a=3.6, cubic=True)
    atoms.rattle(0.05, seed=0)
    atoms.calc = EMT()
    atoms.get_stress()
    atoms.get_forces()
    s = from_ase([atoms])
    assert s.has("energy") and s.has("forces") and s.has("stress")
    np.testing.assert_allclose(s[0].stress[0, 1], atoms.get_stress()[5])
