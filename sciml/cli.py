"""The ``sciml`` command: ``list``, ``solve``, ``discover``.

User mistakes (a bad problem file, an unknown model, mismatched data) end with one readable
``error:`` line and exit status 2; ``--debug`` shows the traceback instead.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

EXIT_USER_ERROR = 2


def _parse_value(text: str):
    """A JSON value; ``0,2`` or ``2,5,1`` is the list of those numbers; anything else the text."""
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        pass
    try:
        return json.loads(f"[{text}]") if "," in text else text
    except json.JSONDecodeError:
        return text


def _key_values(items: list[str] | None, flag: str) -> dict:
    out = {}
    for item in items or []:
        if "=" not in item:
            raise ValueError(f"{flag} expects KEY=VALUE, got {item!r}")
        k, v = item.split("=", 1)
        out[k.strip()] = _parse_value(v)
    return out


def cmd_list(args) -> int:
    from sciml.models import available_models

    from sciml.solver import catalogue

    entries = catalogue()
    width = max((len(n) for n in entries), default=10)
    print("problems (sciml solve problems/NAME.py):")
    for name, (_, doc) in entries.items():
        print(f"  {name:<{width}}  {doc}")
    print("\nmodels (--model):")
    for name, doc in available_models().items():
        print(f"  {name:<{width}}  {doc}")
    return 0


def _widths(text: str, flag: str) -> list[int]:
    try:
        widths = [int(v) for v in text.split(",")]
    except ValueError:
        widths = []
    if not widths or any(w < 1 for w in widths):
        raise ValueError(f"{flag} expects comma-separated positive integers such as 32,32,32, got {text!r}")
    return widths


def cmd_solve(args) -> int:
    if args.distributed:  # before anything looks at the devices
        from sciml.training.distributed import initialize

        initialize()
    from sciml.solver import load_problem, problem_path, solve

    from sciml.discover_command import register_library

    register_library(args.library)
    problem = load_problem(problem_path(args.problem))
    model_options = _key_values(args.option, "--option")
    for key in ("hidden", "width"):
        value = getattr(args, key, None)
        if value:
            model_options[key] = _widths(value, f"--{key}")
    for key in ("grid", "order", "basis"):
        value = getattr(args, key, None)
        if value is not None:
            model_options[key] = value
    train = _key_values(args.train, "--train")
    for key, attr in (("lbfgs_steps", "lbfgs_steps"), ("learning_rate", "lr"), ("precision", "precision"),
                      ("devices", "devices")):
        value = getattr(args, attr)
        if value is not None:
            train[key] = value
    if args.no_progress or args.quiet:  # --quiet: warnings and errors only, no bar either
        train["progress"] = False
    from sciml.dsl.problem import Problem
    from sciml.solver import check_model, default_model

    # Trajectory models (and problems with their own solver) write law.json themselves.
    own_solver = (not isinstance(problem, Problem)
                  or check_model(problem, args.model or default_model(problem)) == "trajectory")
    if own_solver and args.symbolify:
        train["symbolify"] = True
    name = getattr(problem, "name", Path(args.problem).stem)
    out = Path(args.out) if args.out else Path("runs") / f"{name}-{args.model or 'default'}-seed{args.seed}"
    args.run_folder = out
    solution = solve(problem, model=args.model, steps=args.steps, seed=args.seed, out=out,
                     resume=args.resume, overwrite=args.overwrite, model_options=model_options, **train)
    metrics = solution.metrics
    from sciml.training.distributed import is_primary

    if args.symbolify and is_primary():
        from sciml.report import write_report

        laws = getattr(solution, "laws", None)  # ODE problems distil their unknown terms in their solve
        if not own_solver and solution.compiled.unknown_networks:  # a universal PDE
            from sciml.symbolic.unknowns import symbolify_unknowns

            laws = symbolify_unknowns(solution, out, seed=args.seed)
        if laws:
            for name, law in laws.items():
                equation = law.record["equation"]
                print(f"{name}({', '.join(law.inputs)}) = {law.display_expression()}  [{equation['verdict']}; "
                      f"{equation['residual']} {equation['law_residual_mse']:.3e}, network "
                      f"{equation['network_residual_mse']:.3e}]")
                if equation.get("ambiguity"):
                    print(f"  {equation['ambiguity']}: " + "; ".join(
                        f"{a['expression']} ({a['residual_mse']:.3e})" for a in equation["alternatives"]))
            write_report(next(iter(laws.values())), out / "report.html")
        elif not own_solver:
            from sciml.symbolic.solution import symbolify_solution

            laws = symbolify_solution(solution, out)
            fields = json.loads((out / "law.json").read_text(encoding="utf-8"))["fields"]
            for name, law in laws.items():
                compared = fields[name].get("reference_rel_l2")
                against = "" if compared is None else f"; rel L2 {compared:.3e} from the reference"
                print(f"{name}({', '.join(law.inputs)}) = {law.display_expression()}  [{law.verdict}{against}]")
            write_report(next(iter(laws.values())), out / "report.html")
    summary = {k: metrics[k] for k in ("rel_l2", "parameters", "wall_s", "n_params", "steps") if k in metrics}
    print(json.dumps(summary, default=str))
    print(f"results in {out}/ (solution.nc, metrics.json, plot.png)")
    return 0


def cmd_discover(args) -> int:
    from sciml import discover_command

    return discover_command.run(args)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="sciml", description="Physics-informed scientific modelling on JAX.")
    parser.add_argument("--debug", action="store_true", help="show tracebacks of errors")
    loudness = parser.add_mutually_exclusive_group()
    loudness.add_argument("-q", "--quiet", action="store_true", help="only warnings and errors")
    loudness.add_argument("-v", "--verbose", action="store_true", help="also checkpoints and other details")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("list", help="the problem catalogue and the available models")
    p.set_defaults(func=cmd_list)

    p = sub.add_parser("solve", help="train a surrogate for a problem file")
    p.add_argument("problem", help="a problem file (problems/NAME.py) or a catalogue name")
    p.add_argument("--model", help="surrogate: mlp, kan, mlp-lib; on ODE problems also node, kan-ode, ltc, cfc, cfc-lib "
                   "(default: the problem file's, else node on ODE and mlp on PDE problems)")
    p.add_argument("--steps", type=int, help="Adam steps (default: the problem file's)")
    p.add_argument("--lbfgs-steps", dest="lbfgs_steps", type=int, help="L-BFGS iterations after Adam")
    p.add_argument("--lr", type=float, help="initial Adam learning rate")
    p.add_argument("--precision", choices=["float32", "float64"])
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--devices", type=int, metavar="N",
                   help="split the work over N of this machine's devices (default: all): the collocation "
                        "batch (PDE), the structure batch (atomistic) or an ensemble's members "
                        "(ODE, --train members=M)")
    p.add_argument("--distributed", action="store_true",
                   help="one process of a multi-host run: join the others (jax.distributed, from "
                        "SLURM / Open MPI or JAX_COORDINATOR_ADDRESS, JAX_NUM_PROCESSES, JAX_PROCESS_ID); "
                        "process 0 writes OUT")
    p.add_argument("--out", help="output folder (default runs/PROBLEM-MODEL-seedS)")
    p.add_argument("--resume", action="store_true", help="continue from OUT/checkpoint.msgpack")
    p.add_argument("--overwrite", action="store_true",
                   help="replace a finished or unfinished run in OUT (refused otherwise)")
    p.add_argument("--hidden", help="MLP hidden widths, e.g. 32,32,32")
    p.add_argument("--width", help="KAN widths, e.g. 2,5,1")
    p.add_argument("--grid", type=int, help="KAN grid size G")
    p.add_argument("--order", type=int, help="KAN spline order k")
    p.add_argument("--basis", help="KAN edge basis: bspline, chebyshev, rbf")
    p.add_argument("--option", action="append", metavar="KEY=VALUE", help="model option (JSON value)")
    p.add_argument("--train", action="append", metavar="KEY=VALUE", help="training option (JSON value)")
    p.add_argument("--symbolify", action="store_true", help="distil the learned surrogate into a law")
    from sciml.discover_command import add_library_argument

    add_library_argument(p)
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_solve)

    p = sub.add_parser("discover", help="find a closed-form law in a CSV or NetCDF dataset")
    from sciml import discover_command

    discover_command.add_arguments(p)
    p.set_defaults(func=cmd_discover)

    from sciml import edges_command

    p = sub.add_parser("edges", help="suggest, fix and retrain the KAN edges of a finished run")
    edges_command.add_arguments(p)
    p.set_defaults(func=edges_command.run)
    return parser


class _CurrentStderr(logging.StreamHandler):
    """A handler that writes to ``sys.stderr`` as it is at each message: a caller that runs the
    command line in-process more than once may have replaced (and closed) the stream the first
    run saw, and a message must not end in logging's own traceback."""

    @property
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, value):  # StreamHandler.__init__ assigns one; the current one is always used
        pass


def configure_logging(quiet: bool = False, verbose: bool = False) -> None:
    """Messages of the ``sciml`` logger on stderr, one line each: INFO by default."""
    logger = logging.getLogger("sciml")
    logger.setLevel(logging.WARNING if quiet else logging.DEBUG if verbose else logging.INFO)
    if not any(getattr(h, "_sciml", False) for h in logger.handlers):
        handler = _CurrentStderr()
        handler.setFormatter(logging.Formatter("sciml: %(message)s"))
        handler._sciml = True
        logger.addHandler(handler)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    configure_logging(args.quiet, args.verbose)
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt as err:
        from sciml.training.engine import TrainingInterrupted

        if isinstance(err, TrainingInterrupted):
            print(f"interrupted: {err}", file=sys.stderr)
        else:
            out = getattr(args, "run_folder", None)
            saved = out is not None and (Path(out) / "checkpoint.msgpack").is_file()
            print(f"interrupted; the last checkpoint in {out} can be continued with --resume" if saved
                  else "interrupted; no checkpoint was written", file=sys.stderr)
        return 130
    except Exception as err:
        from sciml.dsl.errors import ProblemError
        from sciml.training.engine import TrainingDiverged

        if args.debug:
            raise
        if isinstance(err, (ProblemError, ValueError, TypeError, FileNotFoundError, TrainingDiverged, ImportError)):
            print(f"error: {err}", file=sys.stderr)
            return EXIT_USER_ERROR
        print(f"error: unexpected {type(err).__name__}: {err} (rerun with --debug for the traceback)", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
