"""``sciml discover DATA --target y [--inputs a,b,c] [--units U] [--out DIR [--overwrite]] [--seed S] [--backend B]``.

Writes ``DIR/law.json`` and ``DIR/report.html`` (self-contained, offline). In ``law.json``:

- ``expression``: the formula with every column written as its safe identifier (ASCII letters,
  digits, ``_``; a column called ``x`` stays ``x``, ``a b`` becomes ``a_b``, ``E`` becomes
  ``E_``), so it parses with ``sympy.sympify`` and runs nothing; read it back with
  :func:`sciml.symbolic.load_law`, which also refuses anything but arithmetic.
- ``symbols``: ``[{column, identifier, positive}]`` in input order, the mapping between the
  data's column names (``inputs``) and the identifiers.
- ``display_expression``: the formula with the column names, in backticks where they are not
  identifiers (``2*`a b` + x``); ``latex`` likewise.
- ``verdict``: ``"law found"``, ``"doubtful"`` (a small MLP fitted to the same rows predicts
  the held-out rows clearly better: ``metrics.surrogate``) or ``"no law found"`` (nothing beats
  the mean on held-out data); the command exits with status 1 unless a law was found. With
  ``verdict_rule``.
- ``r2_test``, ``r2_train``, ``rmse_test``, ``complexity``, ``pareto`` (each entry with
  ``expression`` and ``display_expression``), ``alternatives`` (structurally different formulas
  as well supported by held-out data as the chosen one, each with ``expression``,
  ``display_expression``, ``complexity``, ``mse_test``, ``r2_test``, ``source``; empty when the
  law is not ambiguous, else also an ``ambiguity`` sentence), ``expressions``/``display_expressions`` for
  several targets, ``metrics`` and ``record``; ``record.data`` says which text columns were
  skipped and how many rows with NaN/inf were dropped; without units, ``record.structure``
  holds the decomposition tree found on a fitted surrogate, each step and the tests behind it.

Exit status: 0 a law was found, 1 no law found or a doubtful one, 2 an error (one line naming
the culprit).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import pathlib
import sys
import warnings

from sciml.symbolic.law import doubt, law_json
from sciml.symbolic.names import quoted
from sciml.symbolic.noise import NOISE_FORMS
from sciml.report.law_report import proportional_note

__all__ = ["add_arguments", "read_units", "run"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("data", help="CSV (header row of column names) or NetCDF file")
    parser.add_argument("--target", required=True,
                        help="column to explain (comma-separated for several)")
    parser.add_argument("--inputs", default=None,
                        help="comma-separated input columns (default: all other numeric columns)")
    parser.add_argument("--out", default="discover-out", help="output folder (default: %(default)s)")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace the law.json and report.html an earlier run left in --out")
    parser.add_argument("--seed", type=int, default=0, help="train/test split and search seed")
    parser.add_argument("--backend", default="auto",
                        choices=["auto", "builtin", "operon", "pysr"],
                        help="auto: built-in search, then pyoperon if that is not exact")
    parser.add_argument("--time-budget", type=float, default=120.0,
                        help="seconds for the genetic search backends (default: %(default)s)")
    parser.add_argument("--units", default=None,
                        help="units of every input and the target: 'v=m/s,c=m/s,m=kg', a JSON file "
                             "{column: unit}, or 'attrs' for the NetCDF variables' units "
                             "attributes; the search then starts in the dimensionless groups")
    parser.add_argument("--no-structure", action="store_true",
                        help="without units, skip the structure tests on a fitted surrogate "
                             "(separability, symmetries, homogeneity; record.structure in law.json)")
    parser.add_argument("--noise", choices=NOISE_FORMS, default="auto",
                        help="the target's noise: additive, proportional to the target (a relative error: laws "
                             "are then chosen by their error in log|target|), or auto (the data decide; "
                             "record.noise_form in law.json) (default: %(default)s)")
    parser.add_argument("--no-report", action="store_true", help="write law.json only")
    add_library_argument(parser)


def add_library_argument(parser: argparse.ArgumentParser) -> None:
    """``--library``: a primitive library whose discovered members the symbolic stage may use."""
    parser.add_argument("--library", default=None, metavar="NAME",
                        help="a primitive library (a name saved under ~/.sciml/library, or a .json path) "
                             "whose discovered members laws may be written with")


def register_library(name: str | None) -> None:
    """Register the discovered members of library ``name`` with the symbolic stage (if given)."""
    if name:
        from sciml.library import load_library

        added = load_library(name).register()
        print(f"library {name}: {len(added)} discovered primitive(s) for the symbolic stage"
              + (f" ({', '.join(added)})" if added else ""))


def run(args: argparse.Namespace) -> int:
    from sciml.symbolic.backends import BackendUnavailable

    try:
        out = _writable_folder(pathlib.Path(args.out), overwrite=args.overwrite)
        register_library(args.library)
        law = _discover(args)
    except (ValueError, TypeError, FileNotFoundError, BackendUnavailable) as e:
        return _error(e)
    except OSError as e:
        return _error(f"cannot read {e.filename or args.data}: {e.strerror or e}")
    _write_outputs(law, out, report=not args.no_report)
    if law.verdict == "doubtful":
        print(f"sciml discover: doubtful: {law.display_expression()}: {doubt(law.metrics)}: the data hold "
              "structure the formula misses; law.json says verdict \"doubtful\". Give more inputs, more data, "
              "more time (--time-budget) or a --library with the missing shape", file=sys.stderr)
        return 1
    if law.verdict != "law found":
        r2 = law.metrics["formula"]["r2_test"]
        print(f"sciml discover: no law found: no formula beats the mean of {law.target!r} on "
              f"held-out data (R² test {_number(r2)}); law.json says verdict \"no law found\". "
              "Add the missing inputs or more data, or try another --backend", file=sys.stderr)
        return 1
    return 0


def _discover(args: argparse.Namespace):
    from sciml.symbolic.discover import discover

    targets = [t.strip() for t in args.target.split(",") if t.strip()]
    if not targets:
        raise ValueError(f"--target {args.target!r} names no column: give the column to explain")
    inputs = None if args.inputs is None else [s.strip() for s in args.inputs.split(",") if s.strip()]
    units = None if args.units is None else read_units(args.units, args.data)
    with _data_messages():
        return discover(args.data, target=targets if len(targets) > 1 else targets[0], inputs=inputs,
                        backend=args.backend, seed=args.seed, time_budget=args.time_budget, units=units,
                        structure=not args.no_structure, noise=args.noise)


def _write_outputs(law, out: pathlib.Path, report: bool) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / "law.json").write_text(law_json(law.to_dict()), encoding="utf-8")
    print(f"{quoted(law.target)} = {law.display_expression()}")
    print(f"r2_test={_number(law.metrics['formula']['r2_test'])} complexity={law.complexity} "
          f"-> {out / 'law.json'}")
    units = law.record.get("units") or {}
    if units.get("note") or units.get("constant_units"):
        print("units: " + "; ".join(filter(None, [units.get("note"), units.get("constant_units") and
                                                  f"the fitted constant carries {units['constant_units']}"])))
    noise_note = proportional_note(law)
    if noise_note:
        print("noise: " + noise_note)
    if law.alternatives:
        simplest = law.alternatives[0]
        print(f"ambiguous: {law.ambiguity}. Simplest other: {law.display_expression(simplest.expr)} "
              f"(complexity {simplest.complexity}); all in law.json 'alternatives'")
    if report:
        from sciml.report import write_report

        print(f"report: {write_report(law, out / 'report.html')}")


def _number(v) -> str:
    return "none" if v is None else format(v, ".10g")


def _error(e) -> int:
    print(f"sciml discover: error: {' '.join(str(e).splitlines())}", file=sys.stderr)
    return 2


def _writable_folder(out: pathlib.Path, overwrite: bool = False) -> pathlib.Path:
    """``--out``, checked before any search: a folder, or one that can be made, writable, that
    holds no earlier law unless ``overwrite``."""
    if out.exists() and not out.is_dir():
        raise ValueError(f"--out {out} is a file: give a folder for law.json and report.html")
    if (out / "law.json").exists() and not overwrite:
        raise ValueError(f"--out {out} already holds a law (law.json) from an earlier run; pass --overwrite to "
                         "replace it, or give another --out")
    existing = next(p for p in (out, *out.absolute().parents) if p.exists())
    if not existing.is_dir():
        raise ValueError(f"--out {out} cannot be made: {existing} is a file; give another folder")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise ValueError(f"--out {out} is not writable ({existing} does not allow it): give a "
                         "writable folder")
    return out


@contextlib.contextmanager
def _data_messages():
    """Print the data's notes and warnings (skipped columns, dropped rows) as they come."""
    from sciml.symbolic.table import DataNote, DataWarning

    show = warnings.showwarning

    def print_or_show(message, category, *rest, **kwargs):
        if issubclass(category, (DataNote, DataWarning)):
            kind = "note" if issubclass(category, DataNote) else "warning"
            print(f"sciml discover: {kind}: {message}", file=sys.stderr)
        else:
            show(message, category, *rest, **kwargs)

    with warnings.catch_warnings():
        warnings.simplefilter("always", DataNote)
        warnings.simplefilter("always", DataWarning)
        warnings.showwarning = print_or_show
        yield


def read_units(spec: str, data) -> dict:
    """``--units``: ``'col=unit,...'``, a JSON file ``{column: unit}``, or ``attrs`` (the
    ``units`` attribute of every variable and coordinate of a NetCDF file)."""
    if spec == "attrs":
        import xarray as xr

        if not str(data).lower().endswith((".nc", ".netcdf", ".nc4", ".h5")):
            raise ValueError("--units attrs reads NetCDF attributes; for a CSV give "
                             "--units 'col=unit,...' or a JSON file")
        with xr.open_dataset(data) as ds:
            return {str(k): v.attrs["units"] for k, v in {**ds.coords, **ds.data_vars}.items()
                    if "units" in v.attrs}
    path = pathlib.Path(spec)
    if path.suffix.lower() == ".json":
        return _units_file(path)
    units = {}
    for item in spec.split(","):
        name, sep, unit = item.partition("=")
        if not sep or not name.strip():
            raise ValueError(f"--units entry {item!r} is not 'column=unit' (e.g. 'v=m/s,m=kg')")
        units[name.strip()] = unit.strip()
    return units


def _units_file(path: pathlib.Path) -> dict:
    if not path.is_file():
        raise FileNotFoundError(f"units file {path} does not exist")
    try:
        units = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise ValueError(f"units file {path} is not JSON ({e}): write {{\"column\": \"unit\"}}, "
                         "e.g. {\"v\": \"m/s\", \"m\": \"kg\"}") from None
    if not isinstance(units, dict):
        raise ValueError(f"units file {path} holds a {type(units).__name__}, not an object: write "
                         "{\"column\": \"unit\"}, e.g. {\"v\": \"m/s\", \"m\": \"kg\"}")
    return units


def main(argv=None) -> int:  # convenience: python -m sciml.discover_command
    p = argparse.ArgumentParser(prog="sciml discover", description=__doc__.splitlines()[0])
    add_arguments(p)
    return run(p.parse_args(argv))


if __name__ == "__main__":
    raise SystemExit(main())
