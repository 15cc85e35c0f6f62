"""``sciml.solve``: from a problem to a trained, evaluated surrogate."""

from __future__ import annotations

import copy
import importlib.util
import sys
from pathlib import Path
from typing import Any

import jax

from sciml.dsl.errors import ProblemError


def load_problem(path: str | Path):
    """Load the module-level ``problem`` of a problem file (a plain Python file).

    Raises:
        ProblemError: the file does not exist, fails to import, or defines no valid problem.
    """
    path = Path(path)
    if not path.exists():
        raise ProblemError(f"no problem file at {path}; `sciml list` shows the catalogue")
    name = f"sciml_problem_{path.stem}"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except ProblemError as err:
        raise ProblemError(f"{path}: {err}") from None
    except Exception as err:  # a user's file: report the error in their terms
        raise ProblemError(f"{path} failed to run: {type(err).__name__}: {err}") from err
    problem = getattr(module, "problem", None)
    if problem is None:
        raise ProblemError(f"{path} defines no module-level `problem`; assign one, e.g. problem = Problem(...)")
    from sciml.dsl.problem import Problem

    if not isinstance(problem, Problem) and not callable(getattr(problem, "solve", None)):
        raise ProblemError(
            f"{path}: `problem` is a {type(problem).__name__}, not a sciml Problem; build it with "
            "sciml.dsl.Problem(...)"
        )
    return problem


def resolve_settings(problem, model: str | None, steps: int | None, model_options: dict | None, train_options: dict | None):
    """Merge the problem file's defaults with explicit arguments (explicit wins)."""
    defaults = dict(getattr(problem, "defaults", {}) or {})
    model = model or defaults.get("model", "mlp")
    per_model = copy.deepcopy(defaults.get(model, {}))
    options = {**per_model.get("model", {}), **(model_options or {})}
    train = {**defaults.get("train", {}), **per_model.get("train", {}), **(train_options or {})}
    if steps is not None:
        train["steps"] = int(steps)
    return model, options, train


def solve(
    problem,
    *,
    model: str | None = None,
    steps: int | None = None,
    seed: int = 0,
    out: str | Path | None = None,
    resume: bool = False,
    model_options: dict[str, Any] | None = None,
    **train_options: Any,
):
    """Train a surrogate for ``problem`` under its data + physics loss.

    Args:
        problem: a :class:`sciml.dsl.Problem` (or any object with its own ``solve`` method).
        model: registered surrogate name (``sciml.models.available_models()``); defaults to
            the problem file's choice.
        steps: Adam steps (the problem file's default otherwise).
        seed: seeds initialisation and sampling; the same seed gives the same numbers on CPU.
        out: if given, write results there and checkpoint to ``out/checkpoint.msgpack``.
        resume: continue from ``out/checkpoint.msgpack`` when it exists.
        model_options: options for the model constructor (e.g. ``hidden=(64, 64)``).
        **train_options: :class:`sciml.training.TrainConfig` fields (``lbfgs_steps``,
            ``learning_rate``, ``points``, ``weighting``, ``rar_every``, ...).

    Returns:
        A :class:`sciml.result.Solution` (``.metrics``, ``.to_xarray()``, ``.write(dir)``).
    """
    if not hasattr(problem, "equations") and callable(getattr(problem, "solve", None)):
        return problem.solve(model=model, steps=steps, seed=seed, out=Path(out) if out else None,
                             options={**(model_options or {}), **train_options, "resume": resume})

    from sciml.dsl.compile import compile_problem
    from sciml.dsl.problem import Problem
    from sciml.models import build_model
    from sciml.result import Solution
    from sciml.training.config import TrainConfig
    from sciml.training.trainer import Trainer

    if not isinstance(problem, Problem):
        raise ProblemError(f"solve() needs a sciml Problem, got {type(problem).__name__}")
    model_name, options, train = resolve_settings(problem, model, steps, model_options, train_options)
    train["seed"] = seed
    config = TrainConfig.from_options(train)
    if config.precision == "float64":
        jax.config.update("jax_enable_x64", True)
    compiled = compile_problem(problem)
    net = build_model(model_name, len(compiled.coordinate_names), len(compiled.field_names), seed=seed, **options)
    checkpoint = Path(out) / "checkpoint.msgpack" if out else None
    outcome = Trainer(compiled, net, config, checkpoint=checkpoint).run(resume=resume)
    solution = Solution(
        problem=problem,
        compiled=compiled,
        model=outcome.model,
        raw_parameters=outcome.raw_parameters,
        history=outcome.history,
        model_name=model_name,
        model_options=options,
        train_config=config.to_dict(),
        seed=seed,
        wall_s=outcome.wall_s,
        steps=outcome.steps,
        lbfgs_steps=outcome.lbfgs_steps,
    )
    if out:
        solution.write(out)
    return solution
