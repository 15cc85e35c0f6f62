"""Writing a reference dataset with the evidence of its accuracy.

Every recipe ends the same way: the figures of its convergence study become ``verified_*``
attributes, the conservative error estimate and a sentence saying what each figure measures
are attached, and the file is written next to the recipe (``python -m sciml.datasets.<name>``).
"""

from __future__ import annotations

import pathlib

import numpy as np
import xarray as xr


def space_time_dataset(fields: dict[str, tuple[np.ndarray, str]], x: np.ndarray, t: np.ndarray,
                       attrs: dict) -> xr.Dataset:
    """Fields ``{name: (values (len(x), len(t)), long name)}`` of a dimensionless 1-D evolution
    problem on the grid ``x`` x ``t``, with ``attrs`` (title, equation, method, ...)."""
    return xr.Dataset(
        {name: (("x", "t"), values, {"long_name": long_name, "units": "1"}) for name, (values, long_name) in fields.items()},
        coords={"x": ("x", x, {"long_name": "position", "units": "1"}),
                "t": ("t", t, {"long_name": "time", "units": "1"})},
        attrs=attrs,
    )


def write_verified(ds: xr.Dataset, name: str, figures: dict[str, float], estimated_max_abs_error: float,
                   verification: str, digits: int = 3) -> pathlib.Path:
    """Attach ``figures`` (as ``verified_<key>``), the error estimate and the explanation to
    ``ds``; write ``<name>.nc`` beside this module and print what was recorded."""
    width = max((len(k) for k in figures), default=0)
    for key, value in figures.items():
        ds.attrs[f"verified_{key}"] = value
        print(f"{key:>{width}s}: {value:.{digits}e}")
    ds.attrs["estimated_max_abs_error"] = float(estimated_max_abs_error)
    ds.attrs["verification"] = verification
    path = pathlib.Path(__file__).with_name(f"{name}.nc")
    ds.to_netcdf(path, engine="h5netcdf")
    print(f"wrote {path} ({path.stat().st_size / 1024:.0f} KiB)")
    return path
