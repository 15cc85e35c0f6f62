"""Atomistic learning problems: structures + targets + E(3) symmetry -> a trained potential.

An :class:`AtomisticProblem` is a frozen description -- the structures (or a loader for
them), which labels to learn (``energy``, ``forces``, ``stress`` or a per-structure
``property``), the neighbour cutoff, the train/validation/test split and the declared
symmetry -- validated on construction. ``sciml.solve(problem, model="nequip" | "mace", ...)``
(and ``sciml solve problems/<file>.py``) trains a graph network on the training split and
reports errors on the test split (:func:`sciml.atomistic.result.solve_atomistic_problem`).

The symmetry is not a loss term here: E(3) invariance of energies (rotation, reflection,
translation, permutation of identical atoms) and equivariance of forces hold exactly by
construction of the networks (relative vectors, spherical harmonics, Clebsch--Gordan
products, sums over neighbours), and forces are exact gradients of the energy.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import numpy as np

from .store import StructureStore
from .structures import Structures

SETS = (Structures, StructureStore)  # in memory, or on disk and read in chunks

TARGETS = ("energy", "forces", "stress", "property")
SYMMETRIES = ("E(3)",)

# Options renamed when atomistic training moved onto the one engine (and its TrainConfig names).
RENAMED = {"final_lr_fraction": "final_learning_rate (absolute now: learning_rate x the old fraction)",
           "time_budget_s": "time_budget (seconds)"}



def _check_renamed(options) -> None:
    for k in options:
        if k in RENAMED:
            raise ValueError(f"training option {k!r} was renamed: use {RENAMED[k]}")


# Training options and their values where neither the recipe (:mod:`sciml.atomistic.recipe`,
# which chooses the batch, rates, weights and budget from the structures) nor the user sets them.
TRAIN_OPTIONS = {
    "batch_size": 10,
    "learning_rate": 1e-2,
    "final_learning_rate": 1e-4,
    "ema_decay": 0.99,
    "eval_every": 1000,
    "time_budget": None,
    "n_train": None,
    "energy_weight": 1.0,
    "final_energy_weight": None,  # the energy's weight over the last final_stage of the run (None: unchanged)
    "final_stage": 0.0,
    "force_weight": 100.0,
    "stress_weight": 0.0,
    "property_weight": 0.0,
    "devices": 0,  # devices each batch is split over (0: all of this process's)
}


@dataclasses.dataclass(frozen=True)
class AtomisticProblem:
    """A potential- or property-learning task on atomic structures.

    Args:
        name: short identifier (used in outputs).
        structures: a :class:`Structures`, a :class:`~sciml.atomistic.store.StructureStore`
            (a set larger than memory, read from disk in chunks), or a zero-argument callable
            returning ``(structures, split)`` -- lazily loaded, so listing problems stays fast.
        targets: labels to learn, a subset of ``energy, forces, stress, property``.
        split: ``{"train", "val", "test"}`` index arrays; random 80/10/10 if omitted.
        cutoff: neighbour radius (A).
        symmetry: the declared symmetry group; only ``"E(3)"`` is supported (and built in).
        model: default network name.
        model_options, steps, train_options: fixed settings (``model_options`` maps a network
            name to its options; ``train_options`` names :data:`TRAIN_OPTIONS`) that take the
            place of the recipe's choices (:mod:`sciml.atomistic.recipe`); leave them out and
            the settings are chosen from the structures.
        description: one line for catalogues.
    """

    name: str
    structures: Structures | StructureStore | Callable[[], tuple[Structures | StructureStore, dict | None]]
    targets: tuple[str, ...] = ("energy", "forces")
    split: dict | None = None
    cutoff: float = 5.0
    symmetry: str = "E(3)"
    model: str = "nequip"
    model_options: dict = dataclasses.field(default_factory=dict)
    steps: int | None = None
    train_options: dict = dataclasses.field(default_factory=dict)
    description: str = ""

    def __post_init__(self):
        targets = tuple(self.targets)
        bad = [t for t in targets if t not in TARGETS]
        if bad or not targets:
            raise ValueError(f"unknown target(s) {bad or targets}; choose from {TARGETS}")
        object.__setattr__(self, "targets", targets)
        if self.symmetry not in SYMMETRIES:
            raise ValueError(f"symmetry {self.symmetry!r} is not supported; atomistic models "
                             f"are built E(3)-equivariant, declare one of {SYMMETRIES}")
        if not self.cutoff > 0:
            raise ValueError(f"cutoff must be positive; got {self.cutoff}")
        _check_renamed(self.train_options)
        bad = sorted(set(self.train_options) - set(TRAIN_OPTIONS))
        if bad:
            raise ValueError(f"unknown training option(s) {bad}; valid: {sorted(TRAIN_OPTIONS)}")
        if isinstance(self.structures, SETS):
            self._check(self.structures, self.split)

    # -- data ----------------------------------------------------------------------------
    def data(self) -> tuple[Structures, dict]:
        """The validated structures and the split (loading them on first use)."""
        cache = self.__dict__.get("_data")
        if cache is None:
            if isinstance(self.structures, SETS):
                structures, split = self.structures, self.split
            else:
                structures, split = self.structures()
                split = self.split or split
            split = self._check(structures, split)
            cache = (structures, split)
            object.__setattr__(self, "_data", cache)
        return cache

    def _check(self, structures: Structures | StructureStore, split) -> dict:
        if not isinstance(structures, SETS):
            raise TypeError("structures must be a sciml.atomistic.Structures (see from_ase / "
                            "read_xyz) or a StructureStore (see sciml.atomistic.store.write_store)")
        for t in self.targets:
            unlabelled = np.flatnonzero(~structures.labelled(t))
            if len(unlabelled):
                raise ValueError(f"target {t!r} requested but structure {unlabelled[0]} has no {t} "
                                 "label; drop the target or label every structure")
        if "stress" in self.targets and not structures.fully_periodic().all():
            raise ValueError("stress is a target but some structures are not fully periodic")
        n = len(structures)
        if split is None:
            perm = np.random.default_rng(0).permutation(n)
            a, b = int(0.8 * n), int(0.9 * n)
            split = {"train": perm[:a], "val": perm[a:b], "test": perm[b:]}
        split = {k: np.asarray(split[k], dtype=np.int64) for k in ("train", "val", "test")}
        for k, v in split.items():
            if v.size and (v.min() < 0 or v.max() >= n):
                raise ValueError(f"split {k!r} has indices outside 0..{n - 1}")
        if len(np.intersect1d(split["train"], split["test"])):
            raise ValueError("train and test splits overlap")
        if not len(split["train"]):
            raise ValueError("the training split is empty")
        return split

    def settings(self, model: str, options: dict, recipe=None) -> tuple[dict, dict]:
        """``(network options, training options)``: user ``options`` over the problem's fixed
        settings, over the ``recipe``'s choices (a :class:`~sciml.recipe.Recipe`, when given),
        over :data:`TRAIN_OPTIONS`."""
        from .models import network_options

        valid_net = set(network_options(model))
        net = {**(recipe.model_options if recipe else {}), **self.model_options.get(model, {})}
        train = {**TRAIN_OPTIONS, **(recipe.train if recipe else {}), **self.train_options}
        _check_renamed(options)
        for k, v in options.items():
            if k in valid_net:
                net[k] = v
            elif k in TRAIN_OPTIONS:
                train[k] = v
            else:
                raise ValueError(f"unknown option {k!r} for model {model!r}; network options: "
                                 f"{sorted(valid_net)}, training options: {sorted(TRAIN_OPTIONS)}")
        return net, train

