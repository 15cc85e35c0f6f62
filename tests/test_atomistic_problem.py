"""End to end: a tiny ethanol problem solved, written, reloaded and run as an ASE calculator."""

from __future__ import annotations

import json

import numpy as np
import pytest

import sciml
from sciml.atomistic import AtomisticProblem, PotentialCalculator, load_potential
from sciml.atomistic.data import load


@pytest.fixture(scope="module")
def solved(tmp_path_factory):
    structures, _ = load("ethanol")
    small = structures[np.arange(40)]
    split = {"train": np.arange(30), "val": np.arange(30, 34), "test": np.arange(34, 40)}
    problem = AtomisticProblem(
        name="ethanol_tiny", structures=small, split=split, cutoff=4.0,
        model_options={"nequip": {"channels": 4, "lmax": 1, "n_layers": 1, "n_basis": 4,
                                  "radial_hidden": 8}},
        steps=30, train_options={"batch_size": 5, "eval_every": 30},
    )
    out = tmp_path_factory.mktemp("ethanol")
    result = sciml.solve(problem, model="nequip", steps=30, seed=0, out=out)
    return problem, result, out


def test_solve_writes_outputs(solved):
    _, result, out = solved
    m = json.loads((out / "metrics.json").read_text())
    for key in ("energy_mae", "force_mae", "wall_s", "n_params", "steps", "seed", "versions"):
        assert key in m
    assert m["steps"] == 30 and m["n_test"] == 6
    assert np.isfinite(m["force_mae"]) and m["force_mae"] > 0
    for f in ("solution.nc", "plot.png", "potential.npz", "potential.json"):
        assert (out / f).exists()
    ds = result.to_xarray()
    assert set(ds.dims) >= {"structure", "atom", "component", "step"}
    assert ds["forces_pred"].shape == (6 * 9, 3)


def test_reloaded_potential_runs_md(solved):
    from ase import units
    from ase.md.verlet import VelocityVerlet

    problem, result, out = solved
    pot = load_potential(out / "potential")
    structures, _ = problem.data()
    atoms = structures[35].to_ase()
    atoms.calc = PotentialCalculator(pot)
    e_loaded = atoms.get_potential_energy()
    # Same energy as the in-memory potential's test prediction (structure 35 = test item 1).
    assert abs(e_loaded - result.predictions["energy"][1]) < 1e-3
    VelocityVerlet(atoms, 0.5 * units.fs).run(5)
    assert np.isfinite(atoms.get_forces()).all()


def test_problem_validation():
    structures, _ = load("ethanol")
    with pytest.raises(ValueError, match="symmetry"):
        AtomisticProblem(name="x", structures=structures, symmetry="SO(2)")
    with pytest.raises(ValueError, match="stress"):
        AtomisticProblem(name="x", structures=structures[np.arange(5)], targets=("stress",))
    with pytest.raises(ValueError, match="unknown option"):
        AtomisticProblem(name="x", structures=structures).settings("nequip", {"chanels": 3})
