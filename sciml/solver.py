"""``sciml.solve``: from a problem to a trained, evaluated surrogate."""

from __future__ import annotations

import copy
import hashlib
import importlib.machinery
import importlib.util
import logging
import sys
from pathlib import Path
from typing import Any

import jax
import numpy as np

from sciml.dsl.errors import ProblemError
from sciml.run_folder import RunFolder, RunFolderError
from sciml.training.distributed import is_primary

log = logging.getLogger("sciml")


def catalogue() -> dict[str, tuple[Path, str]]:
    """Problem files shipped in ``problems/`` with the first line of their docstring."""
    import ast
    from importlib import resources

    folder = Path(str(resources.files("sciml.problems")))
    out = {}
    for path in sorted(folder.glob("*.py")):
        if path.name.startswith("_"):
            continue
        try:
            doc = ast.get_docstring(ast.parse(path.read_text())) or ""
        except SyntaxError:
            doc = "(does not parse)"
        out[path.stem] = (path, doc.strip().splitlines()[0] if doc.strip() else "")
    return out


def problem_path(spec: str) -> Path:
    """A catalogue name (``heat``) names the catalogue entry, even beside a local file of that
    name; anything with a suffix or a folder in it is a path (``./heat``, ``my/heat.py``)."""
    entries = catalogue()
    if spec in entries and Path(spec).name == spec and not Path(spec).suffix:
        return entries[spec][0]
    return Path(spec)


def load_problem(path: str | Path):
    """Load the module-level ``problem`` of a problem file (a plain Python file).

    Raises:
        ProblemError: the file does not exist, fails to import, or defines no valid problem.
    """
    path = Path(path)
    if not path.exists():
        raise ProblemError(f"no problem file at {path}; `sciml list` shows the catalogue")
    if not path.is_file():
        raise ProblemError(f"{path} is a {'folder' if path.is_dir() else 'special file'}, not a problem file; "
                           "give a Python file such as problems/heat.py, or a catalogue name (`sciml list`)")
    name = f"sciml_problem_{path.stem}"
    # An explicit source loader: a file need not end in .py to be read as Python.
    spec = importlib.util.spec_from_loader(name, importlib.machinery.SourceFileLoader(name, str(path)))
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except ProblemError as err:
        raise ProblemError(f"{path}: {err}") from None
    except Exception as err:  # a user's file: report the error in their terms
        raise ProblemError(f"{path} failed to run: {type(err).__name__}: {err}") from err
    from sciml.dsl.problem import Problem

    problem = getattr(module, "problem", None)
    if problem is None:
        # A file with one problem under another name (`beam = Problem(...)`) means that one.
        found = {key: value for key, value in vars(module).items()
                 if not key.startswith("_") and (isinstance(value, Problem) or _is_atomistic(value))}
        if len(found) != 1:
            among = f" (it defines {len(found)}: {', '.join(sorted(found))})" if found else ""
            raise ProblemError(f"{path} defines no module-level `problem`{among}; assign the one to solve, "
                               "e.g. problem = Problem(...)")
        problem = next(iter(found.values()))

    if not isinstance(problem, Problem) and not _is_atomistic(problem):
        raise ProblemError(
            f"{path}: `problem` is a {type(problem).__name__}, not a sciml Problem; build it with "
            "sciml.dsl.Problem(...)"
        )
    return problem


def resolve_settings(problem, model: str | None, steps: int | None, model_options: dict | None,
                     train_options: dict | None):
    """Settings of a run: explicit arguments, over the problem file's ``defaults`` for the model,
    or, where the file has none, over the generic recipe (:mod:`sciml.recipe`).

    Returns:
        ``(model, model options, training options, problem to train, recipe record or None)``;
        the problem differs from the given one only where the recipe made a periodic
        condition exact.
    """
    defaults = dict(getattr(problem, "defaults", {}) or {})
    model = model or default_model(problem)
    per_model = copy.deepcopy(defaults.get(model, {}))
    base_options, base_train, record = per_model.get("model", {}), per_model.get("train", {}), None
    train_options = dict(train_options or {})
    # A choice of the recipe's problem rewrite, not a training option (True unless said otherwise).
    exact_conditions = train_options.pop("exact_conditions", None)
    corner_flows = train_options.pop("corner_flows", None)
    from sciml.models.registry import available_models

    # Every field surrogate gets the recipe (exact conditions, points, optimiser); mlp and kan
    # also get its architecture.
    recipe_applies = not per_model and model in available_models("field")
    if recipe_applies:
        from sciml.recipe import choose, rewrite_record

        recipe = choose(problem, model, exact_conditions=exact_conditions is not False,
                        corner_flows=corner_flows is not False, model_options=model_options)
        problem, base_options, base_train = recipe.problem, recipe.model_options, recipe.train
    options = {**base_options, **(model_options or {})}
    train = {**defaults.get("train", {}), **base_train, **(train_options or {})}
    if steps is not None:
        train["steps"] = int(steps)
    if recipe_applies:
        record = recipe.record(options, train)
        record["exact_conditions"] = exact_conditions is not False
        record["corner_flows"] = corner_flows is not False
        record["rewrite"] = rewrite_record(problem)
        if "output_scales" in train:  # given explicitly: the recipe does not estimate them
            record["output_scales"] = train["output_scales"]
    return model, options, train, problem, record


def default_model(problem) -> str:
    """The problem file's model, else ``node`` for an ODE problem with data (it keeps no
    collocation settings of its own) and ``mlp`` for a PDE problem or an ODE problem without
    data (nothing for a trajectory model to learn from: collocation solves it from its equations)."""
    from sciml.dynamics.problem import is_ode

    ode_with_data = is_ode(problem) and problem.data is not None
    return (getattr(problem, "defaults", None) or {}).get("model") or ("node" if ode_with_data else "mlp")


def check_model(problem, model: str) -> str:
    """``"trajectory"`` when ``model`` is a trajectory model of an ODE problem, ``"field"`` when it
    is a surrogate of the coordinates (collocation in time for an ODE problem).

    Raises:
        ValueError: the model does not fit the problem (the message lists the ones that do).
    """
    from sciml.dynamics.problem import is_ode
    from sciml.models import available_models

    ode = is_ode(problem)
    kinds = ("field", "trajectory") if ode else ("field",)
    fits = {name: kind for kind in kinds for name in available_models(kind)}
    if model not in fits:
        what = f"--model {model!r} does not fit" if model in available_models() else f"unknown model {model!r} for"
        raise ValueError(f"{what} {problem.name!r}, {'an ODE' if ode else 'a PDE'} problem; choose one of: "
                         f"{', '.join(fits)}")
    if fits[model] == "field" and ode and problem.data is not None and problem.data.sizes.get("trajectory", 1) > 1:
        raise ValueError(f"--model {model} fits one trajectory by collocation in time, but {problem.name!r} has "
                         f"{problem.data.sizes['trajectory']} trajectories in its data; choose a trajectory model: "
                         f"{', '.join(available_models('trajectory'))}")
    return fits[model]


def problem_signature(problem) -> dict[str, str]:
    """What identifies a problem across processes: its name and a hash of its mathematics."""
    parts = [str(problem.equations), str(problem.coordinate_names), str(problem.space_time.bounds()),
             str(sorted((p.name, p.value, p.learn) for p in problem.parameters)),
             str([(type(c).__name__, str(getattr(c, "field", "")), str(getattr(c, "value", "")))
                  for c in problem.conditions])]
    return {"name": problem.name, "hash": hashlib.sha256("\n".join(parts).encode()).hexdigest()[:16]}


def solve(
    problem,
    *,
    model: str | None = None,
    steps: int | None = None,
    seed: int = 0,
    out: str | Path | None = None,
    resume: bool = False,
    overwrite: bool = False,
    model_options: dict[str, Any] | None = None,
    **train_options: Any,
):
    """Train a surrogate for ``problem`` under its data + physics loss.

    Args:
        problem: a :class:`sciml.dsl.Problem` (or any object with its own ``solve`` method).
        model: registered surrogate name (``sciml.models.available_models()``): on a PDE
            problem a surrogate of the coordinates (``mlp``, ``kan``); on an ODE problem also a
            trajectory model (``node``, ``kan-ode``, ``ltc``, ``cfc``). Defaults to the problem
            file's choice, else :func:`default_model`.
        steps: Adam steps (the problem file's default otherwise).
        seed: seeds initialisation and sampling; the same seed gives the same numbers on CPU.
        out: if given, write results there and checkpoint to ``out/checkpoint.msgpack``
            (every ``checkpoint_seconds``, when Adam ends, at the end and on SIGINT/SIGTERM).
        resume: continue from ``out/checkpoint.msgpack``, which must exist and belong to the
            same problem, model, options and seed. A run that is already complete is not
            trained again; its outputs are kept unless ``overwrite``.
        overwrite: replace a finished or unfinished run in ``out`` (refused otherwise).
        model_options: options for the model constructor (e.g. ``hidden=(64, 64)``).
        **train_options: :class:`sciml.training.TrainConfig` fields (``lbfgs_steps``,
            ``learning_rate``, ``points``, ``weighting``, ``rar_every``, ...), and
            ``optimizer``: an optax ``GradientTransformation`` for the first-order phase in
            place of the default Adam (every problem kind; not recorded in the run's settings,
            so pass the same one to resume).

    Returns:
        A :class:`sciml.result.Solution` (``.metrics``, ``.to_xarray()``, ``.write(dir)``); for a
        trajectory model a :class:`sciml.dynamics.result.DynamicsResult` (the same three).

    Raises:
        sciml.run_folder.RunFolderError: ``out`` cannot be written, holds a run that would be
            overwritten, or has nothing to resume — checked before any training.
    """
    from sciml.dsl.problem import Problem, check_determined, underdetermined_boundary

    folder = RunFolder(out) if out else None
    primary = is_primary()  # in a multi-process run, process 0 alone writes the folder
    if not isinstance(problem, Problem):
        if not _is_atomistic(problem):
            raise ProblemError(f"solve() needs a sciml Problem or AtomisticProblem, got {type(problem).__name__}")
        from sciml.atomistic.result import solve_atomistic_problem

        if resume and folder is None:
            raise ValueError("resume=True needs out=... (the folder of the run to continue)")
        if folder and primary:
            folder.prepare(resume=resume, overwrite=overwrite)
        result = solve_atomistic_problem(problem, model=model, steps=steps, seed=seed,
                                         out=folder.path if folder and primary else None,
                                         options={**(model_options or {}), **train_options},
                                         checkpoint=folder.checkpoint if folder else None, resume=resume)
        _warn_if_doubtful(result.verdict)
        return result
    model = model or default_model(problem)
    kind = check_model(problem, model)
    check_determined(problem)
    for sentence in underdetermined_boundary(problem):  # a warning: the equation may degenerate there
        log.warning("%s: %s", problem.name, sentence)
    learned = [p.name for p in problem.parameters if p.learn] + [u.name for u in problem.unknowns]
    if learned and problem.data is None:
        # Legitimate where the conditions fix them (an eigenvalue with a normalisation); usually
        # not, and then what comes back is one of many values that solve the equations alike.
        log.warning("%s: %s learned without data: only the equations and conditions can determine them, "
                    "and where they do not, the values returned are arbitrary; give observations (data=...)",
                    problem.name, ", ".join(learned))
    if kind == "trajectory":
        from sciml.dynamics.problem import ode_system
        from sciml.dynamics.solve import solve_ode_problem

        if resume and folder is None:
            raise ValueError("resume=True needs out=... (the folder of the run to continue)")
        system = ode_system(problem)
        if folder and primary:
            folder.prepare(resume=resume, overwrite=overwrite)
        result = solve_ode_problem(system, model=model, steps=steps, seed=seed,
                                   options={**(model_options or {}), **train_options},
                                   checkpoint=folder.checkpoint if folder else None, resume=resume)
        _warn_if_doubtful(result.verdict)
        if folder and primary:
            result.write(folder.path)
        return result
    optimizer = train_options.pop("optimizer", None)  # an object, not a recorded setting
    from sciml.verdict import exact_mismatches

    mismatches = exact_mismatches(problem)  # the problem as written, before the recipe rewrites it
    for sentence in mismatches:
        log.warning("%s: %s", problem.name, sentence)
    model_name, options, train, problem, recipe = resolve_settings(problem, model, steps, model_options,
                                                                   train_options)
    train["seed"] = seed
    if resume and folder is None:
        raise ValueError("resume=True needs out=... (the folder of the run to continue)")
    run = _Run(problem, model_name, options, train, folder, recipe, optimizer,  # validates every setting first
               exact_mismatches=mismatches)
    if folder and primary:
        folder.prepare(resume=resume, overwrite=overwrite)
    log.info("%s: %s", problem.name, run.plan())
    solution, new_steps = run.train(resume)
    _warn_if_doubtful(solution.verdict)
    if folder and primary:
        if resume and new_steps == 0 and folder.finished and not overwrite:
            log.warning("the run in %s is already complete (step %d); its outputs are kept "
                        "(add --overwrite to rewrite them)", folder.path, solution.steps + solution.lbfgs_steps)
        else:
            solution.write(folder.path)
    return solution


def load_solution(folder: str | Path, problem):
    """A finished run, rebuilt from its folder, to evaluate anywhere (``solution.predict(points)``).

    Args:
        folder: the ``out`` folder of a finished :func:`solve` (``metrics.json`` and
            ``checkpoint.msgpack``).
        problem: the problem it solved — a :class:`~sciml.dsl.Problem`, a problem file or a
            catalogue name. It is never taken from the folder: saved files are data, and a
            problem file is code.

    Raises:
        sciml.run_folder.RunFolderError: the folder holds no finished run.
        sciml.training.checkpoint.CheckpointError: the checkpoint belongs to another problem,
            model or seed.
    """
    import json

    folder = RunFolder(folder)
    if not folder.finished or not folder.checkpoint.is_file():
        raise RunFolderError(f"{folder.path} holds no finished run (metrics.json and {folder.checkpoint.name})")
    if not hasattr(problem, "equations"):
        problem = load_problem(problem_path(str(problem)))
    try:
        meta = json.loads((folder.path / "metrics.json").read_text())
        model_name, options, train, seed = meta["model"], dict(meta["model_options"]), dict(meta["train"]), meta["seed"]
    except (ValueError, KeyError, TypeError) as err:
        raise RunFolderError(f"{folder.path}/metrics.json is not a sciml run record ({err})") from None
    if meta.get("problem") != problem.name:
        raise RunFolderError(f"{folder.path} holds a run of {meta.get('problem')!r}, not of {problem.name!r}")
    if not isinstance(model_name, str) or not isinstance(seed, int) or train.get("seed") != seed:
        raise RunFolderError(f"{folder.path}/metrics.json has an inconsistent model or seed record")
    train["progress"] = False
    unknowns = meta.get("unknowns")
    if isinstance(unknowns, dict) and unknowns:  # every unknown term has the same kind of network
        network = dict(next(iter(unknowns.values())).get("network") or {})
        if network.pop("model", "mlp") != "mlp":
            raise RunFolderError(f"{folder.path}/metrics.json names an unknown-term network other than 'mlp'")
        train["unknown_network"] = network
    recipe = meta.get("recipe")
    if isinstance(recipe, dict):  # trained on the recipe's version of the problem
        from sciml.recipe import apply_rewrite, choose

        if "rewrite" in recipe:  # rebuilt as recorded, whatever the recipe would choose today
            try:
                problem = apply_rewrite(problem, recipe["rewrite"])
            except ValueError as err:
                raise RunFolderError(f"{folder.path}/metrics.json: {err}") from None
        else:  # recorded before the rewrite was: exact conditions (corner flows) were chosen, or not
            problem = choose(problem, model_name, exact_conditions=recipe.get("exact_conditions") is True,
                             corner_flows=recipe.get("corner_flows") is True).problem
    solution, _ = _Run(problem, model_name, options, train, folder, recipe).train(resume=True)
    return solution


def _unknown_network_options(problem, options: dict | None) -> dict | None:
    """The MLP options of the unknown terms' networks (None for a problem without unknown
    terms): ``options`` as given (``unknown_network=...``), else the recipe's default."""
    if not getattr(problem, "unknowns", ()):
        if options is not None:
            raise ValueError("unknown_network is set, but the problem has no unknown terms (Unknown)")
        return None
    if options is None:
        from sciml.recipe import UNKNOWN_NETWORK

        options = UNKNOWN_NETWORK
    if not isinstance(options, dict):
        raise ValueError(f"unknown_network must be a dict of MLP options such as {{'hidden': [16, 16]}}, got {options!r}")
    return {k: list(v) if isinstance(v, tuple) else v for k, v in options.items()}


def unknown_networks(problem, options: dict | None, seed: int) -> dict:
    """``{name: MLP}``: a network of its inputs for every unknown term of ``problem``, built from
    the one model registry (``options``: the MLP's)."""
    from sciml.models import build_model

    return {u.name: build_model("mlp", len(u.args), 1, seed=seed + 1 + k, **(options or {}))
            for k, u in enumerate(getattr(problem, "unknowns", ()))}


class _Run:
    """A problem, a surrogate and settings, built and checked, ready to train or to restore."""

    def __init__(self, problem, model_name: str, options: dict, train: dict, folder: RunFolder | None,
                 recipe: dict | None = None, optimizer=None, exact_mismatches: list[str] = ()):
        from sciml.dsl.compile import compile_problem
        from sciml.models import build_model
        from sciml.training.config import TrainConfig
        from sciml.training.trainer import Trainer

        self.problem, self.model_name, self.options, self.folder = problem, model_name, options, folder
        self.recipe = recipe
        self.exact_mismatches = list(exact_mismatches)  # what the problem's exact solution does not satisfy
        train = dict(train)
        scales = train.pop("output_scales", None)
        self.unknown_network = _unknown_network_options(problem, train.pop("unknown_network", None))
        self.config = TrainConfig.from_options(train)
        if self.config.precision == "float64":
            jax.config.update("jax_enable_x64", True)
        seed = self.config.seed
        if scales is None and isinstance(recipe, dict):
            scales = recipe.get("output_scales")
        self.compiled = compile_problem(problem, output_scales=scales,
                                        unknown_networks=unknown_networks(problem, self.unknown_network, seed))
        self.net = build_model(model_name, self.compiled.input_dimension, len(self.compiled.field_names),
                               seed=seed, **options)
        if scales is None and isinstance(recipe, dict):
            # The recipe's non-dimensionalisation, measured on this untrained network.
            from sciml.scales import SIBLINGS, estimate_output_scales

            siblings = [build_model(model_name, self.compiled.input_dimension, len(self.compiled.field_names),
                                    seed=seed + 1 + k, **options) for k in range(SIBLINGS)]
            scales = estimate_output_scales(self.compiled, self.net, seed=seed, siblings=siblings)
            recipe["output_scales"] = scales
            recipe.setdefault("reasons", {})["output_scales"] = (
                "network outputs of order one balance the equations and conditions at initialisation"
                if not scales else
                f"network outputs multiplied by {scales}: the equations' terms and prescribed values (a forward "
                "ODE's: the sizes its classical integration reaches) exceed what the untrained network "
                "contributes by more than tenfold (a scale below one: a forward ODE's state, or the sources of "
                "a field no condition or datum gives a size, ask for outputs below a tenth of it)")
            if scales:
                self.compiled = self.compiled.with_output_scales(scales)
        settings = {"problem": problem_signature(problem), "model": model_name, "model_options": options,
                    "seed": seed, "precision": self.config.precision}
        if self.unknown_network is not None:
            settings["unknown_network"] = self.unknown_network
        self.trainer = Trainer(self.compiled, self.net, self.config,
                               checkpoint=folder.checkpoint if folder else None, settings=settings,
                               optimizer=optimizer)

    def train(self, resume: bool):
        """-> (Solution, steps taken by this call)."""
        from sciml.result import Solution

        outcome = self.trainer.run(resume=resume)
        solution = Solution(
            problem=self.problem,
            compiled=self.compiled,
            model=outcome.model,
            raw_parameters=outcome.raw_parameters,
            history=outcome.history,
            model_name=self.model_name,
            model_options=self.options,
            train_config=self.config.to_dict(),
            seed=self.config.seed,
            wall_s=outcome.wall_s,
            steps=outcome.steps,
            lbfgs_steps=outcome.lbfgs_steps,
            collocation=outcome.collocation,
            extra_metrics={"stopped": outcome.stopped,
                           **({"residual_weight_raised": list(outcome.raises)} if outcome.raises else {}),
                           **({"condition_weight_raised": list(outcome.condition_raises)}
                              if outcome.condition_raises else {}),
                           **({"loss_weights": outcome.weights}
                              if outcome.raises or outcome.condition_raises else {}),
                           **({"exact_solution_mismatch": list(self.exact_mismatches)}
                              if self.exact_mismatches else {}),
                           "recipe": self.recipe or "the problem file's settings for this model",
                           **({"unknowns": self._unknowns_record()} if self.unknown_network is not None else {}),
                           **({"time_marching": outcome.marching} if outcome.marching else {})},
        )
        return solution, outcome.new_steps

    def _unknowns_record(self) -> dict:
        """``metrics.json["unknowns"]``: each unknown term's inputs, network and size (what
        :func:`load_solution` rebuilds it from)."""
        sizes = {n: int(sum(np.size(a) for a in jax.tree.leaves(p)))
                 for n, p in self.compiled.initial_parameters().items() if n in self.compiled.unknown_networks}
        return {name: {"inputs": list(net.inputs.input_names), "network": {"model": "mlp", **self.unknown_network},
                       "n_params": sizes[name],
                       "input_scaling": {"lower": net.inputs.lower.tolist(), "upper": net.inputs.upper.tolist()}}
                for name, net in self.compiled.unknown_networks.items()}

    def plan(self) -> str:
        """The start-up line: what is about to run, where it is saved."""
        from sciml.result import count_parameters

        config, folder = self.config, self.folder
        phases = f"{config.steps} Adam" + (f" + {config.lbfgs_steps} L-BFGS" if config.lbfgs_steps else "")
        saving = (f"checkpoints in {folder.path} every {config.checkpoint_seconds:g} s"
                  if folder and config.checkpoint_seconds
                  else f"checkpoints in {folder.path}" if folder else "no output folder (nothing saved)")
        mesh = self.trainer.mesh  # the devices the batches are split over
        hosts = f" in {jax.process_count()} processes" if jax.process_count() > 1 else ""
        return (f"{self.model_name} with {count_parameters(self.net):,} parameters; {phases} steps; "
                f"{config.points.get('interior', 1000):,} interior points; {config.precision} on "
                f"{mesh.devices.size} {mesh.devices.flat[0].platform} device(s){hosts}; {saving}")


def _warn_if_doubtful(verdict) -> None:
    if not verdict.trusted:
        log.warning("the result is doubtful: %s", "; ".join(verdict.reasons))



def _is_atomistic(problem) -> bool:
    # The atomistic package (e3nn, jraph) is imported only for a problem that is not a Problem.
    from sciml.atomistic.problem import AtomisticProblem

    return isinstance(problem, AtomisticProblem)
