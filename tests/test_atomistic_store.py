"""Structures on disk (an HDF5 store read in chunks): round trip, batches and training identical
to the in-memory path, and clear errors for files that are not stores."""

from __future__ import annotations

import numpy as np
import pytest

from sciml.atomistic import GraphBatcher, Structures, from_ase
from sciml.atomistic.data import load
from sciml.atomistic.store import StructureStore, write_store


@pytest.fixture(scope="module")
def mixed():
    """Ethanol molecules and strained periodic copper cells (with stress), as one set."""
    from ase.build import bulk
    from ase.calculators.emt import EMT

    rng = np.random.default_rng(0)
    crystals = []
    for k in range(6):
        atoms = bulk("Cu", "fcc", a=3.6, cubic=True) * (1, 1, 1 + k % 2)
        atoms.set_cell(atoms.cell * (1 + 0.02 * rng.standard_normal()), scale_atoms=True)
        atoms.rattle(0.05, seed=k)
        atoms.calc = EMT()
        atoms.get_potential_energy(), atoms.get_forces(), atoms.get_stress()
        crystals.append(atoms)
    ethanol, _ = load("ethanol")
    species = sorted(set(ethanol.species) | {29})
    molecules = list(ethanol[np.arange(14)])
    return Structures(molecules + list(from_ase(crystals, species=species)), species=species)


@pytest.fixture(scope="module")
def store(mixed, tmp_path_factory):
    path = tmp_path_factory.mktemp("store") / "mixed.h5"
    write_store(path, iter(mixed), mixed.species, chunk=7)  # several appends
    return StructureStore(path)


def test_round_trip_keeps_every_array_and_label(mixed, store):
    assert len(store) == len(mixed) and store.species == mixed.species
    for k in (0, 13, 14, len(mixed) - 1):
        a, b = mixed[k], store[k]
        for name in ("numbers", "positions", "forces", "pbc"):
            np.testing.assert_array_equal(getattr(a, name), getattr(b, name))
        assert a.energy == b.energy
        assert (a.cell is None) == (b.cell is None) and (a.stress is None) == (b.stress is None)
        if a.stress is not None:
            np.testing.assert_array_equal(a.stress, b.stress)
            np.testing.assert_array_equal(a.cell, b.cell)
    np.testing.assert_array_equal(store.composition(), mixed.composition())
    idx = np.array([15, 2, 9, 2])
    np.testing.assert_array_equal(store.composition(idx), mixed.composition()[idx])
    np.testing.assert_array_equal(store.energies(idx), mixed.energies()[idx])
    assert store.has("forces") and not store.has("stress") and store.has("stress", np.arange(14, len(store)))


def test_batches_from_the_store_match_the_in_memory_ones(mixed, store):
    memory, disk = GraphBatcher(mixed, 4.0, 5), GraphBatcher(store, 4.0, 5, chunk=6)
    assert memory.pad == disk.pad and memory.mean_neighbors() == pytest.approx(disk.mean_neighbors())
    idx = np.array([3, 14, 19, 0, 16])
    for a, b in ((memory.batch(idx), disk.batch(idx)), (memory.sharded_batch(idx, 2), disk.sharded_batch(idx, 2))):
        for x, y in zip(np.asarray(a.senders), np.asarray(b.senders)):
            np.testing.assert_array_equal(x, y)
        np.testing.assert_allclose(a.nodes["positions"], b.nodes["positions"])
        np.testing.assert_allclose(a.globals["energy"], b.globals["energy"])


def test_rows_in_any_order_match_the_in_memory_rows(mixed, store):
    store.span = 4  # several reads, each a span of rows
    idx = np.array([17, 2, 2, 9, 0, 19, 5])
    a, b = mixed.rows(idx), store.rows(idx)
    assert a.keys() == b.keys()
    for name in a:
        np.testing.assert_array_equal(a[name], b[name], err_msg=name)
    with pytest.raises(IndexError):
        store.rows([len(store)])


def test_a_shuffled_epoch_over_a_store_draws_every_structure_once(mixed, store):
    """Chunks in random order, structures in random order inside each; every batch but the
    last is full, also where a batch spans two chunks."""
    disk = GraphBatcher(store, 4.0, 5, chunk=6)
    wanted = np.array([0, 1, 3, 4, 5, 7, 8, 10, 12, 13, 14, 15, 16, 18, 19])
    drawn, sizes = [], []
    for graph in disk.batches(wanted, shuffle=True, rng=np.random.default_rng(1)):
        real = np.asarray(graph.globals["w_forces"]) > 0  # the padding graph has no labels
        sizes.append(int(real.sum()))
        drawn += np.asarray(graph.globals["energy"])[real].tolist()
    assert sizes == [5, 5, 5]
    expected = mixed.energies()[wanted].astype(np.float32)
    assert sorted(drawn) == sorted(expected.tolist())
    assert drawn != expected.tolist()  # shuffled


@pytest.mark.slow
def test_training_on_the_store_equals_training_in_memory(mixed, store):
    from flax import nnx

    from sciml.atomistic import Potential, fit, fit_species_shifts, potential_config
    from sciml.atomistic.models import build_network

    def train(structures):
        batcher = GraphBatcher(structures, 4.0, 4)
        net = build_network("nequip", len(structures.species), seed=0, cutoff=4.0, channels=4, lmax=1,
                             n_layers=1, n_basis=4, radial_hidden=8, avg_neighbors=batcher.mean_neighbors())
        shifts = fit_species_shifts(structures.composition(), structures.energies())
        potential = Potential(net, structures.species, shifts, 1.0)
        out = fit(potential, batcher, np.arange(len(structures)), np.arange(2), potential_config(4, seed=0),
                  eval_every=100, log=None)
        return out.history["train_loss"][-1], nnx.state(out.potential, nnx.Param)

    (loss_a, _), (loss_b, _) = train(mixed), train(store)
    assert np.isfinite(loss_a) and loss_a == pytest.approx(loss_b, rel=1e-6)


@pytest.mark.slow
def test_a_problem_on_a_store_solves_like_one_in_memory(mixed, store, tmp_path):
    """``sciml.solve`` on a problem whose structures stay on disk: same shifts, scale,
    training and test errors as on the same structures in memory."""
    import json

    import sciml
    from sciml.atomistic import AtomisticProblem

    split = {"train": np.arange(2, 18), "val": np.arange(2), "test": np.array([18, 19, 0])}
    metrics = []
    for data, name in ((mixed, "memory"), (store, "disk")):
        problem = AtomisticProblem(
            name=f"mixed_{name}", structures=data, split=split, cutoff=4.0,
            model_options={"nequip": {"channels": 4, "lmax": 1, "n_layers": 1, "n_basis": 4, "radial_hidden": 8}},
            train_options={"batch_size": 4, "eval_every": 100})
        sciml.solve(problem, model="nequip", steps=3, seed=0, out=tmp_path / name, progress=False)
        metrics.append(json.loads((tmp_path / name / "metrics.json").read_text()))
    assert np.isfinite(metrics[0]["force_mae"])
    for key in ("energy_mae", "force_mae", "n_params"):
        assert metrics[0][key] == pytest.approx(metrics[1][key], rel=1e-6), key
    with pytest.raises(ValueError, match="structure 0 has no stress"):
        AtomisticProblem(name="x", structures=store, targets=("energy", "stress"))


def test_a_file_that_is_not_a_store_is_refused(tmp_path):
    path = tmp_path / "x.h5"
    path.write_bytes(b"not hdf5")
    with pytest.raises(ValueError, match="not an HDF5 structure store"):
        StructureStore(path)
    import h5py

    with h5py.File(tmp_path / "other.h5", "w") as f:
        f["numbers"] = np.arange(3)
    with pytest.raises(ValueError, match="not a sciml structure store"):
        StructureStore(tmp_path / "other.h5")
    with pytest.raises(FileNotFoundError):
        StructureStore(tmp_path / "missing.h5")


def test_an_interrupted_potential_training_resumes_where_it_stopped(mixed, tmp_path):
    """SIGINT after four of eight steps: the checkpoint, resumed, ends where a straight run
    does (batches follow from the step, the optimiser state is saved)."""
    import os
    import signal

    from flax import nnx

    from sciml.atomistic import Potential, fit, fit_species_shifts, potential_config
    from sciml.atomistic.models import build_network
    from sciml.training.engine import TrainingInterrupted

    batcher = GraphBatcher(mixed, 4.0, 4)
    shifts = fit_species_shifts(mixed.composition(), mixed.energies())

    def run(checkpoint=None, resume=False, log=None):
        net = build_network("nequip", len(mixed.species), seed=0, cutoff=4.0, channels=4, lmax=1, n_layers=1,
                            n_basis=4, radial_hidden=8, avg_neighbors=batcher.mean_neighbors())
        out = fit(Potential(net, mixed.species, shifts, 1.0), batcher, np.arange(2, len(mixed)), np.arange(2),
                  potential_config(8, seed=0), eval_every=4, log=log, checkpoint=checkpoint, resume=resume)
        return out.history["train_loss"][-1], jax_leaves(nnx.state(out.potential, nnx.Param))

    def interrupt(line):
        if line.startswith("step      4"):
            os.kill(os.getpid(), signal.SIGINT)

    straight = run()
    path = tmp_path / "checkpoint.msgpack"
    with pytest.raises(TrainingInterrupted):
        run(path, log=interrupt)
    assert path.is_file()
    resumed = run(path, resume=True)
    assert resumed[0] == pytest.approx(straight[0], rel=1e-6)
    for a, b in zip(straight[1], resumed[1]):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7)


def jax_leaves(tree):
    import jax

    return [np.asarray(x) for x in jax.tree.leaves(tree)]
