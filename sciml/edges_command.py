"""``sciml edges RUN``: look at the edges of a finished KAN run, fix some to formulas, train on.

    sciml edges runs/poisson-kan --suggest                      # ranked primitives per edge
    sciml edges runs/poisson-kan --fix 0,1,0=sin --fix 1,0,0=x^2 --train 500
    sciml edges runs/poisson-kan --from-model runs/poisson-kan/edges/kan.msgpack --unfix 1,0,0

``RUN`` is the folder of a finished ``sciml solve ... --model kan`` (``metrics.json`` and
``checkpoint.msgpack``); the problem is the catalogue entry of the name the run records, or
``--problem FILE`` (a problem file is code and is never read from a run folder). Edges are
``LAYER,IN,OUT`` as in :func:`sciml.models.kan_fix.fix_edge`; a function is a primitive's name
or an expression in ``x``. The KAN sees the problem's scaled inputs, so formulas are written in
``<coordinate>_s`` (each coordinate mapped to ``[-1, 1]``).

``--train N`` continues training under the run's own loss (its trainer and settings, ``N``
Adam steps, no L-BFGS) with the fixed edges in place: they are evaluated exactly and only their
constants, and the remaining splines, train. Everything is written to ``--out`` (default
``RUN/edges``): ``kan.msgpack`` (the model, for ``--from-model``), ``edges.json`` (fixed edges,
the network's formula, suggestions) and, after training, the solution files of ``sciml solve``.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
from pathlib import Path

import numpy as np

__all__ = ["add_arguments", "parse_edge", "parse_fix", "run"]


def parse_edge(text: str) -> tuple[int, int, int]:
    """``"0,1,0"`` -> ``(0, 1, 0)``."""
    try:
        layer, i, j = (int(v) for v in text.split(","))
    except ValueError:
        raise ValueError(f"an edge is LAYER,IN,OUT such as 0,1,0; got {text!r}") from None
    return layer, i, j


def parse_fix(text: str) -> tuple[tuple[int, int, int], str]:
    """``"0,1,0=sin"`` -> ``((0, 1, 0), "sin")``."""
    edge, sep, function = text.partition("=")
    if not sep or not function.strip():
        raise ValueError(f"--fix expects LAYER,IN,OUT=FUNCTION such as 0,1,0=sin; got {text!r}")
    return parse_edge(edge.strip()), function.strip()


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``sciml edges``."""
    parser.add_argument("run", help="folder of a finished `sciml solve ... --model kan` run")
    parser.add_argument("--problem", help="the problem file (default: the catalogue entry the run names)")
    parser.add_argument("--from-model", dest="from_model", help="start from a KAN saved by an earlier `sciml edges`")
    parser.add_argument("--suggest", action="store_true", help="rank primitives for every spline edge")
    parser.add_argument("--top", type=int, default=3, help="suggestions per edge (default 3)")
    parser.add_argument("--fix", action="append", default=[], metavar="L,I,J=FUNCTION",
                        help="fix an edge to a primitive (sin, x^2, exp, ...) or an expression in x")
    parser.add_argument("--unfix", action="append", default=[], metavar="L,I,J",
                        help="turn a fixed edge back into a spline fitted to its formula")
    parser.add_argument("--train", type=int, default=0, metavar="STEPS",
                        help="Adam steps under the run's loss with the edges as they are")
    parser.add_argument("--samples", type=int, default=2000, help="domain points for suggestions and fits")
    parser.add_argument("--out", help="output folder (default RUN/edges)")


def _load(args):
    from sciml.dsl.errors import ProblemError
    from sciml.models.kan import KAN, load_kan
    from sciml.solver import load_solution

    folder = Path(args.run)
    problem = args.problem
    if problem is None:
        try:
            problem = json.loads((folder / "metrics.json").read_text())["problem"]
        except (OSError, ValueError, KeyError) as err:
            raise ValueError(f"{folder} holds no sciml run record (metrics.json: {err})") from None
        # The name comes from a saved file (data): only a catalogue entry is ever loaded from it.
        from sciml.solver import catalogue

        if not isinstance(problem, str) or problem not in catalogue():
            raise ValueError(f"the run solved {problem!r}, which is not in the catalogue; pass --problem FILE")
    try:
        solution = load_solution(folder, problem)
    except ProblemError as err:
        if args.problem is None:
            raise ValueError(f"the run solved {problem!r}, which is not in the catalogue; pass --problem FILE "
                             f"({err})") from None
        raise
    model = load_kan(args.from_model) if args.from_model else solution.model
    if not isinstance(model, KAN):
        raise ValueError(f"{folder} holds a {solution.model_name} run; `sciml edges` reads KAN edges "
                         "(solve with --model kan)")
    return solution, model


def _network_inputs(solution, n: int) -> np.ndarray:
    import jax.numpy as jnp

    points = solution.problem.space_time.sample(n, np.random.default_rng(0), "uniform")
    return np.asarray(solution.compiled.scale(jnp.asarray(points, jnp.float32)))


def _continue_training(solution, model, steps: int):
    from sciml.training.trainer import Trainer

    # identified values carry on
    trainer = Trainer.continuing(solution.compiled, model, solution.train_config, solution.raw_parameters,
                                 steps=int(steps), lbfgs_steps=0, grid_schedule=[], progress=False, time_budget=0.0)
    outcome = trainer.run()
    return dataclasses.replace(
        solution, model=outcome.model, raw_parameters=outcome.raw_parameters, history=outcome.history,
        wall_s=outcome.wall_s, steps=outcome.steps, lbfgs_steps=outcome.lbfgs_steps,
        train_config=trainer.config.to_dict(),
    )


def run(args: argparse.Namespace) -> int:
    """Carry out ``sciml edges`` (see the module docstring); returns the exit status."""
    import sympy as sp

    from sciml.models.kan import save_kan
    from sciml.models.kan_fix import fix_edge, network_formula, unfix_edge
    from sciml.symbolic.suggest import format_suggestions, suggest

    fixes = [parse_fix(t) for t in args.fix]
    unfixes = [parse_edge(t) for t in args.unfix]
    if args.train < 0:
        raise ValueError(f"--train takes a number of steps >= 0, got {args.train}")
    solution, model = _load(args)
    inputs = _network_inputs(solution, args.samples)
    record: dict = {"run": str(args.run)}
    for edge in unfixes:
        model = unfix_edge(model, *edge)
    for edge, function in fixes:
        model = fix_edge(model, *edge, function, samples=inputs)
    if args.suggest:
        found = suggest(model, inputs, top_k=args.top)
        print(format_suggestions(found))
        record["suggestions"] = [
            {"edge": list(s.edge), "x_range": list(s.x_range),
             "ranked": [{"function": g.name, "r2": g.r2, "complexity": g.complexity, "constants": list(g.params)}
                        for g in s.ranked]}
            for s in found
        ]
    if args.train:
        before = solution.metrics.get("rel_l2")
        solution = _continue_training(solution, model, args.train)
        model = solution.model
        record["rel_l2_before"], record["rel_l2_after"] = before, solution.metrics.get("rel_l2")
        print(f"trained {args.train} steps with the edges in place: rel_l2 {before} -> {record['rel_l2_after']}")
    names = [f"{c}_s" for c in solution.compiled.coordinate_names]
    symbols = names if len(names) == model.in_features else None
    formulas = network_formula(model, symbols)
    for field, expr in zip(solution.compiled.field_names, formulas):
        print(f"{field} network = {sp.sstr(expr)}")
    record["fixed_edges"] = [[l, i, j, key] for l, layer in enumerate(model.layers)
                             for i, j, key in (layer.symbolic.edges if layer.symbolic is not None else ())]
    record["formula"] = [str(e) for e in formulas]
    out = Path(args.out) if args.out else Path(args.run) / "edges"
    out.mkdir(parents=True, exist_ok=True)
    save_kan(model, out / "kan.msgpack")
    if args.train:
        solution.write(out)
    (out / "edges.json").write_text(json.dumps(record, indent=2, default=str) + "\n")
    print(f"results in {out}/ (edges.json, kan.msgpack{', solution files' if args.train else ''})")
    return 0
