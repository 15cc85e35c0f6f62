"""Running an atomistic problem end to end and the self-describing result it returns.

:func:`train_and_evaluate` fits the species shifts, builds the network, trains it and
evaluates on the validation and test splits. :class:`AtomisticResult` carries the metrics
(energies in meV, forces in meV/A, stress in meV/A^3, property in meV per atom), the
test-set predictions as an ``xarray.Dataset`` with named coordinates, and writes
``solution.nc``, ``metrics.json``, ``plot.png`` and the trained potential
(``potential.npz`` + ``potential.json``, reloadable with
:func:`sciml.atomistic.calculator.load_potential`).
"""

from __future__ import annotations

import dataclasses
import json
import platform
import time
from pathlib import Path

import jax
import numpy as np
from flax import nnx

from sciml.provenance import versions
from sciml.verdict import Verdict

from . import graphs as G
from .models import build_network
from .potential import Potential, fit_species_shifts
from .train import LossWeights, fit, make_evaluator, potential_config


@dataclasses.dataclass
class AtomisticResult:
    """Metrics, predictions and the trained potential of one ``solve``."""

    problem_name: str
    metrics: dict
    predictions: dict  # test split: energy, forces (lists), stress
    structures: object  # the test Structures
    history: dict
    potential: Potential
    config: dict
    verdict: Verdict | None = None  # the network against the per-species shifts alone (validation split)

    def to_xarray(self):
        """Test-set predictions and references on named coordinates, plus the history."""
        import xarray as xr

        s = self.structures
        n_atoms = np.array([len(x) for x in s])
        atom_structure = np.repeat(np.arange(len(s)), n_atoms)
        data = {
            "energy_pred": (("structure",), np.array(self.predictions["energy"]),
                            {"units": "eV"}),
            "n_atoms": (("structure",), n_atoms),
            "atom_structure": (("atom",), atom_structure),
            "atomic_number": (("atom",), np.concatenate([x.numbers for x in s])),
            "positions": (("atom", "component"), np.concatenate([x.positions for x in s]),
                          {"units": "Angstrom"}),
            "forces_pred": (("atom", "component"), np.concatenate(self.predictions["forces"]),
                            {"units": "eV/Angstrom"}),
        }
        if s.has("energy"):
            data["energy_ref"] = (("structure",), s.energies(), {"units": "eV"})
        if s.has("forces"):
            data["forces_ref"] = (("atom", "component"),
                                  np.concatenate([x.forces for x in s]), {"units": "eV/Angstrom"})
        if s.has("stress"):
            data["stress_pred"] = (("structure", "component", "component2"),
                                   np.stack(self.predictions["stress"]), {"units": "eV/Angstrom^3"})
            data["stress_ref"] = (("structure", "component", "component2"),
                                  np.stack([x.stress for x in s]), {"units": "eV/Angstrom^3"})
        if s.has("property"):
            data["property_pred"] = (("structure",),
                                     np.array(self.predictions["energy"]) / n_atoms)
            data["property_ref"] = (("structure",), np.array([x.property for x in s]))
        for k, v in self.history.items():
            if k != "step":
                data[f"history_{k}"] = (("step",), np.asarray(v, dtype=float))
        coords = {"structure": np.asarray(self.config["test_indices"]),
                  "atom": np.arange(int(n_atoms.sum())), "component": ["x", "y", "z"],
                  "step": np.asarray(self.history["step"])}
        if s.has("stress"):
            coords["component2"] = ["x", "y", "z"]
        attrs = {"problem": self.problem_name, "model": self.config["model"],
                 "metrics": json.dumps(self.metrics)}
        return xr.Dataset(data, coords=coords, attrs=attrs)

    def write(self, out_dir: Path) -> Path:
        from .calculator import save_potential

        out_dir = Path(out_dir)
        out_dir.mkdir(parents=True, exist_ok=True)
        self.to_xarray().to_netcdf(out_dir / "solution.nc", engine="h5netcdf")
        (out_dir / "metrics.json").write_text(json.dumps(self.metrics, indent=2) + "\n")
        save_potential(out_dir / "potential", self.potential,
                       {"model": self.config["model"], "options": self.config["network"]})
        self.plot(out_dir / "plot.png")
        return out_dir

    def plot(self, path: Path) -> None:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        s = self.structures
        fig, axes = plt.subplots(1, 3, figsize=(13, 4))
        ax = axes[0]
        if s.has("energy"):
            ref, pred = s.energies(), np.array(self.predictions["energy"])
            ax.scatter(ref - ref.mean(), pred - ref.mean(), s=6)
            ax.set(xlabel="reference energy - mean (eV)", ylabel="predicted (eV)",
                   title=f"energy MAE {self.metrics.get('energy_mae', np.nan):.2f} meV")
        elif s.has("property"):
            n = np.array([len(x) for x in s])
            ax.scatter([x.property for x in s], np.array(self.predictions["energy"]) / n, s=6)
            ax.set(xlabel="reference property", ylabel="predicted",
                   title=f"MAE {self.metrics.get('property_mae', np.nan):.2f} meV/atom")
        ax = axes[1]
        if s.has("forces"):
            ref = np.concatenate([x.forces for x in s]).ravel()
            ax.scatter(ref, np.concatenate(self.predictions["forces"]).ravel(), s=2)
            ax.set(xlabel="reference force (eV/A)", ylabel="predicted (eV/A)",
                   title=f"force MAE {self.metrics.get('force_mae', np.nan):.1f} meV/A")
        ax = axes[2]
        h = self.history
        ax.semilogy(h["step"], h["train_loss"], label="train loss")
        if np.isfinite(h["val_force_mae"]).any():
            ax.semilogy(h["step"], h["val_force_mae"], label="val force MAE (meV/A)")
        ax.set(xlabel="step", title="training")
        ax.legend()
        fig.tight_layout()
        fig.savefig(path, dpi=110)
        plt.close(fig)


def train_and_evaluate(problem, *, model: str, steps: int | None, seed: int, options: dict,
                       log=print, optimizer=None, checkpoint=None, resume: bool = False) -> AtomisticResult:
    """Fit shifts, build and train ``model`` on ``problem``; evaluate on val and test. Settings
    not given (``steps`` None, ``options``, the problem's own) are chosen from the training
    split (:mod:`sciml.atomistic.recipe`). With a ``checkpoint`` path training is saved as it
    goes and ``resume`` continues it."""
    from .recipe import choose

    t_start = time.perf_counter()
    _, given = problem.settings(model, options)  # validates the options before the data load
    structures, split = problem.data()
    train_idx = split["train"]
    if given["n_train"] is not None:
        if not 0 < int(given["n_train"]) <= len(train_idx):
            raise ValueError(f"n_train must be in 1..{len(train_idx)}; got {given['n_train']}")
        train_idx = np.random.default_rng(seed).permutation(train_idx)[: int(given["n_train"])]
    recipe, recipe_steps = choose(problem, model, structures, train_idx)
    net_opts, tr = problem.settings(model, options, recipe)
    steps = int(steps or problem.steps or recipe_steps)
    batcher = G.GraphBatcher(structures, problem.cutoff, int(tr["batch_size"]))

    # Per-species shifts and the energy scale from the training split only (per-structure
    # arrays: a store on disk answers them without loading its structures).
    composition = structures.composition(train_idx)
    if "property" in problem.targets:
        n = structures.n_atoms(train_idx)
        target_totals = structures.properties(train_idx) * n
        shifts = fit_species_shifts(composition, target_totals)
        resid = target_totals - composition @ shifts
        scale = float(np.std(resid / n)) or 1.0
    else:
        energies = structures.energies(train_idx)
        shifts = fit_species_shifts(composition, energies)
        if structures.has("forces", train_idx):
            scale = _force_rms(structures, train_idx)
        else:
            scale = float(np.std(energies - composition @ shifts)) or 1.0
    net_opts = {"cutoff": problem.cutoff, "avg_neighbors": batcher.mean_neighbors(), **net_opts}
    network = build_network(model, len(structures.species), seed=seed, **net_opts)
    potential = Potential(network, structures.species, shifts, scale)
    n_params = int(sum(x.size for x in jax.tree.leaves(nnx.state(potential, nnx.Param))))

    weights = LossWeights(
        energy=tr["energy_weight"] if "energy" in problem.targets else 0.0,
        forces=tr["force_weight"] if "forces" in problem.targets else 0.0,
        stress=tr["stress_weight"] if "stress" in problem.targets else 0.0,
        property=(tr["property_weight"] or 1.0) if "property" in problem.targets else 0.0,
        final_energy=tr["final_energy_weight"], final_stage=float(tr["final_stage"]),
    )
    train_config = potential_config(steps, tr["learning_rate"], tr["final_learning_rate"], ema_decay=tr["ema_decay"],
                                    time_budget=tr["time_budget"], seed=seed, devices=int(tr["devices"]))
    settings = {"problem": problem.name, "model": model, "model_options": net_opts, "seed": seed,
                "precision": "float32", "n_train": len(train_idx)}
    fitted = fit(potential, batcher, train_idx, split["val"], train_config, weights=weights, eval_every=tr["eval_every"],
                 optimizer=optimizer, log=log, checkpoint=checkpoint, settings=settings, resume=resume)
    evaluate = make_evaluator(batcher, problem.targets)
    val = evaluate(fitted.potential, split["val"]) if len(split["val"]) else {}
    test, pred = evaluate(fitted.potential, split["test"], return_predictions=True)
    metrics = dict(test)
    metrics.update({f"val_{k}": v for k, v in val.items()})
    metrics["verdict"] = _verdict(val, structures, split["val"], shifts, problem.targets)
    if "property" in problem.targets:
        # The per-species shifts alone (a composition-linear fit): what the network adds to.
        test_idx = split["test"]
        shifts_only = structures.composition(test_idx) @ shifts / structures.n_atoms(test_idx)
        metrics["property_mae_shifts_only"] = 1e3 * float(
            np.mean(np.abs(shifts_only - structures.properties(test_idx))))
    metrics.update(
        model=model, steps=fitted.steps, seed=seed, n_params=n_params,
        n_train=len(train_idx), n_val=len(split["val"]),
        n_test=len(split["test"]), train_wall_s=round(fitted.wall_s, 2),
        wall_s=round(time.perf_counter() - t_start, 2),
        structures_per_s=round(fitted.structures_per_s, 1),
        batch_size=int(tr["batch_size"]), cutoff=problem.cutoff,
        recipe={**recipe.record(net_opts, tr), "steps": recipe_steps},
        units={"energy_mae": "meV", "energy_mae_per_atom": "meV/atom", "force_mae": "meV/A",
               "stress_mae": "meV/A^3", "property_mae": "meV/atom"},
        versions=versions(), machine={"platform": platform.platform(),
                                      "cpu_count": __import__("os").cpu_count()},
    )
    config = {"model": model, "network": net_opts, "training": tr,
              "test_indices": split["test"].tolist()}
    return AtomisticResult(problem.name, metrics, pred, structures[split["test"]],
                           fitted.history, fitted.potential, config, Verdict(**metrics["verdict"]))


def _verdict(val: dict, structures, val_idx, shifts, targets) -> dict:
    """Is the network better than the per-species shifts alone (a composition-linear energy,
    zero forces and stress) on the validation split? Per target, the indicator is the
    network's validation MAE over the shifts' MAE; at 1 or above it learnt nothing there that
    the shifts did not (an energy per atom can be fitted by the forces' network and still miss
    the volume dependence that no force sees), and the run is doubtful."""
    if not len(val_idx):
        return {"status": "doubtful", "reasons": ["no validation structures: nothing checks the network"],
                "indicators": {}}
    shifted = structures.composition(val_idx) @ shifts
    n = structures.n_atoms(val_idx)
    baseline = {}
    if "energy" in targets:
        baseline["energy_mae"] = 1e3 * float(np.mean(np.abs(shifted - structures.energies(val_idx))))
    if "property" in targets:
        baseline["property_mae"] = 1e3 * float(np.mean(np.abs(shifted / n - structures.properties(val_idx))))
    if "forces" in targets:
        baseline["force_mae"] = 1e3 * _force_moments(structures, val_idx)[0]
    ratios = {f"val_{k}_over_shifts_only": val[k] / max(v, 1e-12) for k, v in baseline.items() if k in val}
    reasons = [f"{k.removesuffix('_over_shifts_only')} is {r:.2f}x that of the per-species shifts alone (>= 1: the "
               "network adds nothing there)" for k, r in ratios.items() if not r < 1.0]
    return {"status": "doubtful" if reasons else "trusted", "reasons": reasons,
            "indicators": {**ratios, "shifts_only": baseline}}


def _force_rms(structures, indices) -> float:
    """Root mean square of the force components of ``indices``."""
    return _force_moments(structures, indices)[1]


def _force_moments(structures, indices, chunk: int = 4096) -> tuple[float, float]:
    """Mean absolute value and root mean square of the force components of ``indices``, read
    ``chunk`` structures at a time."""
    total_abs, total_sq, count = 0.0, 0.0, 0
    indices = np.sort(indices)  # in file order: each chunk is one span of a store
    for start in range(0, len(indices), chunk):
        forces = structures.rows(indices[start:start + chunk])["forces"]
        total_abs, total_sq = total_abs + float(np.sum(np.abs(forces))), total_sq + float(np.sum(forces ** 2))
        count += forces.size
    return total_abs / count, float(np.sqrt(total_sq / count))


def solve_atomistic_problem(problem, *, model: str | None = None, steps: int | None = None, seed: int = 0,
                            out: Path | None = None, options: dict | None = None, checkpoint: Path | None = None,
                            resume: bool = False):
    """Train ``model`` (default ``problem.model``) on ``problem`` (an
    :class:`~sciml.atomistic.problem.AtomisticProblem`) and evaluate it on the test split; what
    :func:`sciml.solve` does with one.

    ``options`` may hold network options (e.g. ``channels``, ``lmax``) and training options
    (:data:`~sciml.atomistic.problem.TRAIN_OPTIONS`). Returns an :class:`AtomisticResult`, also
    written to ``out`` when given. Training is saved to ``checkpoint`` (when given) as it goes;
    ``resume`` continues from it.
    """
    options = dict(options or {})
    # Of the options sciml.solve takes for every problem, progress is a log here; precision
    # is ignored (the networks train in JAX's default float32).
    log = print if options.pop("progress", True) else None
    options.pop("precision", None)
    optimizer = options.pop("optimizer", None)
    result = train_and_evaluate(problem, model=model or problem.model, steps=steps, seed=seed,
                                options=options, log=log, optimizer=optimizer, checkpoint=checkpoint, resume=resume)
    if out is not None:
        result.write(Path(out))
    return result
