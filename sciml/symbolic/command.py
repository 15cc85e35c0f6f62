"""``sciml discover DATA --target y [--inputs a,b,c] [--units U] [--out DIR] [--seed S] [--backend B]``.

Writes ``DIR/law.json`` (``expression`` parses with ``sympy.sympify`` using the column names
as symbols; ``r2_test``, ``complexity``, ``pareto``; ``expressions`` for several targets) and
``DIR/report.html`` (self-contained, offline).
"""

from __future__ import annotations

import argparse
import json
import pathlib
import sys

__all__ = ["add_arguments", "run", "read_units"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("data", help="CSV (header row of column names) or NetCDF file")
    parser.add_argument("--target", required=True,
                        help="column to explain (comma-separated for several)")
    parser.add_argument("--inputs", default=None,
                        help="comma-separated input columns (default: all other numeric columns)")
    parser.add_argument("--out", default="discover-out", help="output folder (default: %(default)s)")
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
    parser.add_argument("--no-report", action="store_true", help="write law.json only")


def run(args: argparse.Namespace) -> int:
    from .backends import BackendUnavailable
    from .discover import discover

    targets = [t.strip() for t in args.target.split(",") if t.strip()]
    try:
        units = None if args.units is None else read_units(args.units, args.data)
        law = discover(args.data, target=targets if len(targets) > 1 else targets[0],
                       inputs=args.inputs, backend=args.backend, seed=args.seed,
                       time_budget=args.time_budget, units=units)
    except (ValueError, TypeError, FileNotFoundError, BackendUnavailable) as e:
        print(f"sciml discover: error: {e}", file=sys.stderr)
        return 2
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "law.json").write_text(json.dumps(law.to_dict(), indent=2, default=_json_default))
    print(f"{law.target} = {law.expr}")
    f = law.metrics["formula"]
    print(f"r2_test={f['r2_test']:.10g} complexity={law.complexity} -> {out / 'law.json'}")
    if not args.no_report:
        from sciml.report import write_report
        path = write_report(law, out / "report.html")
        print(f"report: {path}")
    return 0


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
        if not path.exists():
            raise FileNotFoundError(f"units file {path} does not exist")
        return json.loads(path.read_text())
    units = {}
    for item in spec.split(","):
        name, sep, unit = item.partition("=")
        if not sep or not name.strip():
            raise ValueError(f"--units entry {item!r} is not 'column=unit' (e.g. 'v=m/s,m=kg')")
        units[name.strip()] = unit.strip()
    return units


from sciml.provenance import json_default as _json_default  # noqa: E402


def main(argv=None) -> int:  # convenience: python -m sciml.symbolic.command
    p = argparse.ArgumentParser(prog="sciml discover", description=__doc__.splitlines()[0])
    add_arguments(p)
    return run(p.parse_args(argv))


if __name__ == "__main__":
    raise SystemExit(main())
