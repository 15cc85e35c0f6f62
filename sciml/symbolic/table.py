"""Tables of samples for :func:`sciml.symbolic.discover`: read, check, and cut to numbers.

Real files are untidy: an ID column of text, a header with no rows, a few NaN or inf cells.
:func:`load_table` reads a CSV/NetCDF path (or takes an in-memory table) and names the file in
every error; :func:`select_samples` picks the numeric input and target columns, skips text
columns it was not asked for (a :class:`DataNote`), drops rows with NaN/inf (a
:class:`DataWarning` with the count) and says what it did in :attr:`Samples.notes`.
"""

from __future__ import annotations

import dataclasses
import pathlib
import warnings

import numpy as np

__all__ = ["DataNote", "DataWarning", "Samples", "load_table", "select_samples", "source_name",
           "MIN_ROWS"]

MIN_ROWS = 10  # fewer finite rows than this cannot be split into fitting and held-out data
MAX_MAGNITUDE = 1e150  # squared errors of larger values overflow float64


class DataNote(UserWarning):
    """Part of the data was left out by design (a text column nobody asked for)."""


class DataWarning(UserWarning):
    """The data were altered before the search (rows with NaN/inf dropped)."""


@dataclasses.dataclass(frozen=True)
class Samples:
    """Numeric inputs ``X (n, len(inputs))`` and targets ``Y (n, len(targets))``, finite rows only.

    ``notes`` records for ``law.json`` what was left out: ``skipped_columns`` (columns of text
    or without numbers, not named as inputs), ``dropped_rows`` (rows with NaN/inf) out of ``rows_read``.
    """

    inputs: list[str]
    targets: list[str]
    X: np.ndarray
    Y: np.ndarray
    notes: dict


def source_name(data) -> str:
    """How errors refer to ``data``: ``data file PATH`` or ``the data``."""
    return f"data file {data}" if isinstance(data, (str, pathlib.Path)) else "the data"


def load_table(data):
    """A ``pandas.DataFrame`` from a CSV/NetCDF path, xarray Dataset, DataFrame or dict of arrays.

    NetCDF/xarray fields on a grid are flattened: each coordinate becomes an input column.
    Column names become strings.
    """
    import pandas as pd
    import xarray as xr

    if isinstance(data, (str, pathlib.Path)):
        table = _read_file(pathlib.Path(data))
    elif isinstance(data, xr.DataArray):
        table = _flatten(data.to_dataset(name=data.name or "y"))
    elif isinstance(data, xr.Dataset):
        table = _flatten(data)
    elif isinstance(data, pd.DataFrame):
        table = data
    elif isinstance(data, dict):
        try:
            table = pd.DataFrame({k: np.asarray(v).ravel() for k, v in data.items()})
        except ValueError as e:
            raise ValueError(f"cannot make a table of the dict's arrays ({e}): give 1-D arrays "
                             "of one length") from None
    else:
        raise TypeError(f"cannot read data of type {type(data).__name__}: pass a CSV/NetCDF path, "
                        "an xarray.Dataset, a pandas.DataFrame or a dict of 1-D arrays")
    return table.set_axis([str(c) for c in table.columns], axis=1)


def _flatten(ds):
    """One row per point of the dataset's grid. A dimension without a coordinate variable only
    numbers the rows (``("row", values)`` of a table of measurements): it is not an input."""
    table = ds.to_dataframe().reset_index()
    return table.drop(columns=[str(d) for d in ds.dims if d not in ds.coords and str(d) in table.columns])


def _read_file(path: pathlib.Path):
    import pandas as pd
    import xarray as xr

    if not path.exists():
        raise FileNotFoundError(f"data file {path} does not exist")
    if not path.is_file():
        raise ValueError(f"data file {path} is a folder: give a .csv or .nc file")
    suffix = path.suffix.lower()
    if suffix in (".csv", ".txt"):
        try:
            return pd.read_csv(path)
        except pd.errors.EmptyDataError:
            raise ValueError(f"data file {path} is empty: it needs a header row of column names "
                             "and at least one row of numbers") from None
        except (pd.errors.ParserError, UnicodeDecodeError) as e:
            raise ValueError(f"data file {path} is not a readable CSV "
                             f"({_one_line(e)}): write comma-separated UTF-8 text") from None
    if suffix in (".nc", ".netcdf", ".nc4", ".h5"):
        try:
            with xr.open_dataset(path) as ds:
                return load_table(ds.load())
        except (OSError, ValueError) as e:
            raise ValueError(f"data file {path} is not a readable NetCDF file ({_one_line(e)})") from None
    raise ValueError(f"unsupported data file {path.name!r}: use a .csv (header row of column "
                     "names) or a .nc NetCDF file")


def _one_line(e: BaseException) -> str:
    return " ".join(str(e).split())[:200]


def _numbers(column) -> tuple[np.ndarray | None, object]:
    """``(float64 values, None)`` for a numeric column, else ``(None, an offending value)``."""
    import pandas as pd

    dtype = column.dtype
    if pd.api.types.is_bool_dtype(dtype) or pd.api.types.is_complex_dtype(dtype):
        return None, column.iloc[0] if len(column) else dtype
    if pd.api.types.is_numeric_dtype(dtype):
        return column.to_numpy(dtype=np.float64), None
    if not pd.api.types.is_object_dtype(dtype):  # dates, categories, ...
        return None, column.iloc[0] if len(column) else dtype
    converted = pd.to_numeric(column, errors="coerce")
    bad = converted.isna() & column.notna()
    if bad.any():
        return None, column[bad].iloc[0]
    return converted.to_numpy(dtype=np.float64), None


def _short(value) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def select_samples(table, target, inputs=None, source: str = "the data") -> Samples:
    """Numeric inputs and targets of ``table`` (see :class:`Samples`).

    Args:
        table: a ``pandas.DataFrame`` with string column names (:func:`load_table`).
        target: a column name, or a list of them.
        inputs: column names (a list, or one name); default every other numeric column.
        source: how messages name the data (:func:`source_name`).

    Raises:
        ValueError: missing or non-numeric named columns, no rows, no numeric input, fewer
            than :data:`MIN_ROWS` finite rows; the message names the culprit and the fix.
    """
    cols = list(table.columns)
    if not cols:
        raise ValueError(f"{source} has no columns: give a header row of column names")
    repeated = sorted({c for c in cols if cols.count(c) > 1})
    if repeated:
        raise ValueError(f"{source} has repeated column names {repeated}: give every column "
                         "its own name")
    targets = list(dict.fromkeys([target] if isinstance(target, str) else target))
    if not targets:
        raise ValueError("no target column: name the column to explain (CLI: --target y)")
    for t in targets:
        if t not in cols:
            raise ValueError(f"target column {t!r} not in {source}; columns are {cols}")
    if len(table) == 0:
        raise ValueError(f"{source} has a header row ({', '.join(map(repr, cols))[:200]}) but "
                         "no rows of data")
    explicit = inputs is not None
    if isinstance(inputs, str):
        inputs = [inputs]
    if explicit:
        inputs = list(dict.fromkeys(inputs))
    named = targets + (list(inputs) if explicit else [])
    missing = [c for c in named if c not in cols]
    if missing:
        raise ValueError(f"input columns {missing} not in {source}; columns are {cols}")
    both = [c for c in targets if explicit and c in inputs]
    if both:
        raise ValueError(f"column {both[0]!r} is both the target and an input: leave it out of "
                         "the inputs")
    values, skipped = _numeric_columns(table, cols if not explicit else named, named, targets, source)
    if not explicit:
        inputs = [c for c in cols if c in values and c not in targets]
    if not inputs:
        raise ValueError(f"no numeric input columns in {source}"
                         + (f" (skipped: {_reasons(skipped)})" if skipped else "")
                         + f": it needs at least one numeric column besides the target {targets}")
    if skipped:
        warnings.warn(f"skipped column{'s' if len(skipped) > 1 else ''} {_reasons(skipped)} of "
                      f"{source}; the inputs are the other columns", DataNote, stacklevel=3)
    X = np.column_stack([values[c] for c in inputs])
    Y = np.column_stack([values[c] for c in targets])
    return _finite_rows(list(inputs), targets, X, Y, list(skipped), source)


def _numeric_columns(table, columns, named, targets, source) -> tuple[dict, dict]:
    """``({column: float64 values}, {skipped column: reason})``; a named column that is not
    numeric is an error, any other is skipped (text, or no numbers at all)."""
    values, skipped = {}, {}
    for c in dict.fromkeys(columns):
        numbers, example = _numbers(table[c])
        if numbers is None and c in named:
            role = "target" if c in targets else "input"
            raise ValueError(f"{role} column {c!r} of {source} is not numeric (it holds "
                             f"{_short(example)}): choose numeric columns, or convert this one")
        if numbers is None:
            skipped[c] = f"text such as {_short(example)}"
        elif c not in named and not np.isfinite(numbers).any():
            skipped[c] = "no numbers"
        else:
            values[c] = numbers
    return values, skipped


def _reasons(skipped: dict) -> str:
    return ", ".join(f"{c!r} ({why})" for c, why in skipped.items())


def _check_magnitude(columns, values, source) -> None:
    """Refuse values whose squares overflow float64: every error measure would be inf."""
    peak = np.max(np.abs(values), axis=0)
    big = [(c, p) for c, p in zip(columns, peak) if p > MAX_MAGNITUDE]
    if big:
        c, p = big[0]
        raise ValueError(f"column {c!r} of {source} holds values up to {p:.3g}; their squares "
                         f"overflow float64 (beyond {MAX_MAGNITUDE:.0e}): rescale it, e.g. divide "
                         "it by its typical size or change its unit")


def _finite_rows(inputs, targets, X, Y, skipped, source) -> Samples:
    good = np.all(np.isfinite(X), 1) & np.all(np.isfinite(Y), 1)
    n, kept = len(good), int(good.sum())
    if kept < MIN_ROWS:
        raise ValueError(f"only {kept} of {n} rows of {source} have finite numbers in every column "
                         f"used ({', '.join(map(repr, inputs + targets))[:200]}); need at least "
                         f"{MIN_ROWS}: add rows, or leave out the columns with NaN/inf")
    _check_magnitude(inputs + targets, np.hstack([X, Y])[good], source)
    if kept < n:
        bad = [c for c, v in zip(inputs + targets, np.hstack([X, Y]).T) if not np.all(np.isfinite(v))]
        warnings.warn(f"dropped {n - kept} of {n} rows of {source} with NaN or inf in "
                      f"{', '.join(map(repr, bad))[:200]}", DataWarning, stacklevel=3)
    notes = {"rows_read": n, "dropped_rows": n - kept, "skipped_columns": skipped}
    return Samples(inputs, targets, X[good], Y[good], notes)
