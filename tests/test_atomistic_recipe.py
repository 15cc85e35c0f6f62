"""The atomistic recipe: training settings chosen from the structures, recorded, overridable."""

from __future__ import annotations

import json

import numpy as np
import pytest

import sciml
from sciml.atomistic import AtomisticProblem
from sciml.atomistic.data import load
from sciml.atomistic.recipe import ATOMS_PER_BATCH, EPOCHS, LEARNING_RATE, MIN_STEPS_PER_EPOCH, choose
from sciml.atomistic.structures import Structure, Structures
from sciml.solver import load_problem


def _cells(n: int, atoms: int, edge: float, stress: bool = True) -> Structures:
    """``n`` cubic cells of ``atoms`` atoms and side ``edge`` (A), labelled."""
    rng = np.random.default_rng(0)
    return Structures([
        Structure(numbers=np.full(atoms, 14), positions=rng.uniform(0, edge, (atoms, 3)), cell=np.eye(3) * edge,
                  pbc=np.ones(3, bool), energy=float(rng.normal()), forces=rng.normal(size=(atoms, 3)),
                  stress=np.eye(3) * 0.01 if stress else None)
        for _ in range(n)])


def test_batch_holds_about_a_fixed_number_of_atoms_and_an_epoch_several_steps():
    small = _cells(400, 8, 5.0)
    problem = AtomisticProblem(name="cells", structures=small, targets=("energy", "forces"))
    recipe, steps = choose(problem, "nequip", small, np.arange(400))
    assert recipe.train["batch_size"] == ATOMS_PER_BATCH // 8
    assert steps == EPOCHS * -(-400 // recipe.train["batch_size"])
    assert recipe.train["learning_rate"] == LEARNING_RATE
    # Few structures: the batch shrinks so an epoch keeps its steps, and the rate with it.
    recipe, _ = choose(problem, "nequip", small, np.arange(40))
    assert recipe.train["batch_size"] == 40 // MIN_STEPS_PER_EPOCH
    assert recipe.train["learning_rate"] == pytest.approx(LEARNING_RATE * np.sqrt(4 * 8 / ATOMS_PER_BATCH))
    big = _cells(50, 200, 12.0)
    recipe, _ = choose(problem, "nequip", big, np.arange(50))
    assert recipe.train["batch_size"] == 1


def test_stress_is_weighted_by_the_volume_per_atom_squared_and_only_when_learned():
    cells = _cells(20, 8, 4.0)  # 64 A^3 over 8 atoms: 8 A^3 per atom
    with_stress = AtomisticProblem(name="s", structures=cells, targets=("energy", "forces", "stress"))
    recipe, _ = choose(with_stress, "nequip", cells, np.arange(20))
    assert recipe.train["stress_weight"] == pytest.approx(64.0)
    assert "8 A^3" in recipe.reasons["stress_weight"]
    without = AtomisticProblem(name="e", structures=cells, targets=("energy",))
    recipe, _ = choose(without, "nequip", cells, np.arange(20))
    assert "stress_weight" not in recipe.train and "force_weight" not in recipe.train


def test_the_network_grows_with_the_labels():
    cells = _cells(400, 8, 5.0)
    problem = AtomisticProblem(name="c", structures=cells, targets=("energy", "forces"))
    few, _ = choose(problem, "nequip", cells, np.arange(40))  # 40 + 960 labels
    many, _ = choose(problem, "nequip", cells, np.arange(400))  # 400 + 9600 labels
    assert few.model_options["channels"] < many.model_options["channels"]
    assert "fewer than" in few.reasons["network"] and "at least" in many.reasons["network"]


@pytest.mark.parametrize("name", ["ethanol_md", "alloy_formation", "silicon_stress"])
def test_catalogue_problems_carry_no_training_settings(root, name):
    problem = load_problem(root / "problems" / f"{name}.py")
    assert problem.steps is None and not problem.train_options and not problem.model_options


def test_a_run_records_the_recipe_and_what_the_user_overrode(tmp_path):
    structures, _ = load("ethanol")
    split = {"train": np.arange(30), "val": np.arange(30, 34), "test": np.arange(34, 40)}
    problem = AtomisticProblem(name="ethanol_tiny", structures=structures[np.arange(40)], split=split, cutoff=4.0)
    sciml.solve(problem, model="nequip", steps=4, seed=0, out=tmp_path, progress=False, channels=4, lmax=1,
                n_layers=1, n_basis=4, radial_hidden=8, batch_size=5, time_budget=60.0)
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    recipe = metrics["recipe"]
    assert recipe["train"]["batch_size"] == 3 and metrics["batch_size"] == 5  # 30 // 10 chosen, 5 asked
    assert {"batch_size", "channels", "n_layers", "time_budget"} <= set(recipe["overridden"])
    assert "lmax" not in recipe["overridden"]  # asked for what the recipe chose
    assert metrics["steps"] == 4 and recipe["steps"] == EPOCHS * 10
    assert set(recipe["reasons"]) >= {"batch_size", "learning_rate", "network", "force_weight", "steps"}
    assert metrics["verdict"]["status"] in ("trusted", "doubtful") and "val_force_mae_over_shifts_only" in metrics["verdict"]["indicators"]


def test_a_network_no_better_than_the_species_shifts_is_doubtful():
    """The atomistic verdict: validation MAE over that of the per-species shifts alone."""
    from sciml.atomistic.potential import fit_species_shifts
    from sciml.atomistic.result import _verdict

    cells = _cells(20, 8, 5.0)
    idx = np.arange(20)
    shifts = fit_species_shifts(cells.composition(idx), cells.energies(idx))
    base_energy = 1e3 * np.mean(np.abs(cells.composition(idx) @ shifts - cells.energies(idx)))
    base_force = 1e3 * np.mean(np.abs(cells.rows(idx)["forces"]))
    good = _verdict({"energy_mae": 0.1 * base_energy, "force_mae": 0.1 * base_force}, cells, idx, shifts,
                    ("energy", "forces"))
    assert good["status"] == "trusted" and good["indicators"]["val_energy_mae_over_shifts_only"] == pytest.approx(0.1)
    bad = _verdict({"energy_mae": 2 * base_energy, "force_mae": 0.1 * base_force}, cells, idx, shifts,
                   ("energy", "forces"))
    assert bad["status"] == "doubtful" and len(bad["reasons"]) == 1 and "val_energy_mae is 2.00x" in bad["reasons"][0]


def test_energies_with_forces_weigh_most_in_a_last_stage():
    from sciml.atomistic.recipe import FINAL_ENERGY_FACTOR, FINAL_STAGE, FORCE_WEIGHT
    from sciml.atomistic.train import LossWeights

    cells = _cells(40, 8, 5.0)
    both = AtomisticProblem(name="b", structures=cells, targets=("energy", "forces"))
    recipe, _ = choose(both, "nequip", cells, np.arange(40))
    assert recipe.train["final_energy_weight"] == FINAL_ENERGY_FACTOR * FORCE_WEIGHT
    assert recipe.train["final_stage"] == FINAL_STAGE and "no force sees" in recipe.reasons["final_energy_weight"]
    for targets in (("energy",), ("forces",)):
        alone = AtomisticProblem(name="a", structures=cells, targets=targets)
        assert "final_energy_weight" not in choose(alone, "nequip", cells, np.arange(40))[0].train
    weights = LossWeights(energy=1.0, forces=100.0, final_energy=1000.0, final_stage=0.25)
    assert [weights.energy_at(f) for f in (0.0, 0.74, 0.75, 1.0)] == [1.0, 1.0, 1000.0, 1000.0]
    assert LossWeights(energy=1.0, final_energy=1000.0).energy_at(1.0) == 1.0  # no stage without its share
    assert LossWeights(energy=0.0, final_energy=1000.0, final_stage=0.5).energy_at(1.0) == 0.0  # not a target


def test_the_batches_carry_the_energy_weight_of_the_stage_the_run_is_in():
    from sciml.atomistic.graphs import GraphBatcher
    from sciml.atomistic.models import build_network
    from sciml.atomistic.potential import Potential
    from sciml.atomistic.train import LossWeights, _Shuffled, loss_terms

    structures, _ = load("ethanol")
    structures = structures[np.arange(10)]
    weights = LossWeights(energy=1.0, forces=100.0, final_energy=1000.0, final_stage=0.25)
    batches = _Shuffled(GraphBatcher(structures, 4.0, 5), np.arange(10), 0, weights)
    network = build_network("nequip", len(structures.species), seed=0, cutoff=4.0, avg_neighbors=4.0, channels=4,
                            lmax=1, n_layers=1, n_basis=4, radial_hidden=8)
    potential = Potential(network, structures.species, np.zeros(len(structures.species)), 1.0)
    terms = {}
    for fraction in (0.5, 0.8):
        batches.fraction = fraction
        graph, energy_weight = batches(0, None)
        terms[fraction] = {k: float(v) for k, v in loss_terms(potential, graph, weights, energy_weight).items()}
    assert terms[0.8]["energy"] == pytest.approx(1000 * terms[0.5]["energy"], rel=1e-5)
    assert terms[0.8]["forces"] == terms[0.5]["forces"]
