"""Training settings of an atomistic problem, chosen from its structures, with the reasons.

A problem file says what is true (structures, labels, cutoff, symmetry); how to train on it is
chosen here, from what the training split shows:

* **atoms per structure** set the batch: about :data:`ATOMS_PER_BATCH` atoms a step (a batch
  of molecules holds many, of large cells few), yet at least :data:`MIN_STEPS_PER_EPOCH` steps
  an epoch so that a small set is still seen in many small steps;
* **atoms per batch** set Adam's rate: :data:`LEARNING_RATE` at a full batch, scaled with the
  square root of the atoms a step below it (the square-root rule of adaptive methods: the
  gradient's noise grows as the batch shrinks; Malladi et al. 2022);
* **labels in the training split** (an energy, three force components per atom, six stress
  components, a property, per structure) set the network: below :data:`LABELS_FOR_WIDE`, a
  narrow network (16 channels, vectors at most), at or above it a wider one (32 channels,
  rank-2 features for NequIP, correlation order 3 for MACE);
* **the targets** set the loss weights: forces :data:`FORCE_WEIGHT` times the energy per atom
  (the convention of MACE and NequIP in eV and eV/A), and stress -- where it is a target --
  weighted as the energy per atom it amounts to: stress times the volume per atom is an energy
  per atom per unit strain, so its weight is the energy's times (volume per atom)^2;
* **energies with forces** add a last stage (MACE's second): over the last
  :data:`FINAL_STAGE` of the run the energy per atom weighs :data:`FINAL_ENERGY_FACTOR` times
  the forces. Forces fix the energy surface only up to what no force sees -- a homogeneous
  strain of a periodic cell, a change of composition beyond the per-species shifts -- and at a
  hundredth of the forces' weight the energies would not set it within the run;
* **epochs** set the steps (:data:`EPOCHS` passes over the training split), capped by the time
  budget of every sciml run (:data:`sciml.recipe.TIME_BUDGET`), over which the cosine decay of
  the rate is stretched, so a run ended by the clock still finishes its decay.

Every choice is recorded with its reason (``metrics.json["recipe"]``) and stays overridable: a
problem's ``model_options``/``train_options``/``steps`` and the options of :func:`sciml.solve`
(``sciml solve --option/--train/--steps``) take precedence.
"""

from __future__ import annotations

import math

import numpy as np

from sciml.recipe import TIME_BUDGET, Recipe

__all__ = ["choose"]

ATOMS_PER_BATCH = 96  # atoms in one training step, about
MIN_STEPS_PER_EPOCH = 10  # a small training split is still cut into this many batches
LEARNING_RATE = 1e-2  # Adam's rate at a full batch; it decays a hundredfold over the run
FINAL_LEARNING_RATE_FRACTION = 1e-2
LABELS_FOR_WIDE = 10_000  # training labels from which the wider network is chosen
EPOCHS = 300  # passes over the training split, unless the time budget ends the run first
EVALUATIONS = 20  # validation errors recorded over a run
FORCE_WEIGHT = 100.0  # force (eV/A)^2 against energy per atom (eV)^2
FINAL_STAGE = 0.25  # share of the run (steps or time budget) in which the energies weigh most
FINAL_ENERGY_FACTOR = 10.0  # the energy per atom's weight there, in force weights
VOLUME_SAMPLE = 256  # periodic training cells read for the volume per atom

NETWORKS = {  # (narrow, wide)
    "nequip": ({"channels": 16, "lmax": 1, "n_layers": 2}, {"channels": 32, "lmax": 2, "n_layers": 2}),
    "mace": ({"channels": 16, "lmax": 1, "hidden_lmax": 1, "correlation": 2, "n_layers": 2},
             {"channels": 32, "lmax": 1, "hidden_lmax": 1, "correlation": 3, "n_layers": 2}),
}


def _labels(structures, indices, targets) -> int:
    """Scalar labels the training split gives for the ``targets``."""
    n_struct, n_atoms = len(indices), int(np.sum(structures.n_atoms(indices)))
    per = {"energy": n_struct, "forces": 3 * n_atoms, "stress": 6 * n_struct, "property": n_struct}
    return sum(per[t] for t in targets)


def _volume_per_atom(structures, indices) -> float:
    """Mean volume per atom (A^3) of up to :data:`VOLUME_SAMPLE` training cells, read in file order."""
    rows = structures.rows(np.sort(np.asarray(indices))[:VOLUME_SAMPLE])
    volumes = np.abs(np.linalg.det(rows["cell"]))
    return float(np.mean(volumes / rows["n_atoms"]))


def choose(problem, model: str, structures, train_idx) -> tuple[Recipe, int]:
    """The settings for training ``model`` on ``problem``'s training split ``train_idx`` of
    ``structures``: a :class:`~sciml.recipe.Recipe` (network options, training options and the
    reasons) and the number of steps."""
    n_train = len(train_idx)
    mean_atoms = float(np.mean(structures.n_atoms(train_idx)))
    reasons: dict[str, str] = {}

    batch = max(1, min(round(ATOMS_PER_BATCH / mean_atoms), n_train // MIN_STEPS_PER_EPOCH))
    reasons["batch_size"] = (f"{batch} structure(s) of {mean_atoms:.3g} atoms on average: about "
                             f"{ATOMS_PER_BATCH} atoms a step, at least {MIN_STEPS_PER_EPOCH} steps an epoch "
                             f"over {n_train} training structures")
    atoms_per_step = batch * mean_atoms
    rate = LEARNING_RATE * min(1.0, math.sqrt(atoms_per_step / ATOMS_PER_BATCH))
    reasons["learning_rate"] = (f"{rate:.3g}, decaying to {rate * FINAL_LEARNING_RATE_FRACTION:.3g}: "
                                f"{LEARNING_RATE:g} at {ATOMS_PER_BATCH} atoms a step, scaled with the square "
                                f"root of the {atoms_per_step:.3g} atoms a step here")

    labels = _labels(structures, train_idx, problem.targets)
    wide = labels >= LABELS_FOR_WIDE
    options = dict(NETWORKS[model][wide]) if model in NETWORKS else {}
    reasons["network"] = (f"{labels} training labels ({'at least' if wide else 'fewer than'} "
                          f"{LABELS_FOR_WIDE}): the {'wider' if wide else 'narrow'} network"
                          + (f" {options}" if options else f"; {model!r} keeps its own defaults"))

    train = {"batch_size": batch, "learning_rate": rate,
             "final_learning_rate": rate * FINAL_LEARNING_RATE_FRACTION, "time_budget": TIME_BUDGET}
    if "forces" in problem.targets:
        train["force_weight"] = FORCE_WEIGHT
        reasons["force_weight"] = f"{FORCE_WEIGHT:g} x the energy per atom's (eV/A against eV per atom)"
        if "energy" in problem.targets:
            train["final_energy_weight"], train["final_stage"] = FINAL_ENERGY_FACTOR * FORCE_WEIGHT, FINAL_STAGE
            reasons["final_energy_weight"] = (
                f"{FINAL_ENERGY_FACTOR * FORCE_WEIGHT:g} over the last {FINAL_STAGE:.0%} of the run: forces fix "
                "the energy only up to what no force sees (a homogeneous strain, a change of composition)")
    if "stress" in problem.targets:
        volume = _volume_per_atom(structures, train_idx)
        train["stress_weight"] = volume**2
        reasons["stress_weight"] = (f"{volume**2:.3g} = (volume per atom {volume:.3g} A^3)^2: stress weighted "
                                    "as the energy per atom per unit strain it amounts to")

    per_epoch = -(-n_train // batch)
    steps = EPOCHS * per_epoch
    train["eval_every"] = max(1, steps // EVALUATIONS)
    reasons["steps"] = (f"{steps} = {EPOCHS} epochs of {per_epoch} steps, ended earlier by a time budget of "
                        f"{TIME_BUDGET:g} s over which the rate's cosine decay is stretched")
    return Recipe(model=model, model_options=options, train=train, problem=problem, reasons=reasons), steps
