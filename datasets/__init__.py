"""Reference solutions for the catalogue problems, computed with classical methods.

Each recipe computes an ``xarray.Dataset`` (variable ``u`` on named coordinates ``x``, ``t``
or ``x``, ``y``; attributes name the method and its verified accuracy) and ships a small
NetCDF file of it next to this module:

=============  ========================================  ==================================
name           problem                                   recipe
=============  ========================================  ==================================
``burgers``    viscous Burgers 1D, nu = 0.01/pi          :func:`burgers_reference` (Cole–Hopf)
``poisson2d``  Poisson 2D of the KAN paper               :func:`poisson_reference` (exact)
``heat``       heat 1D, two sine modes                   :func:`heat_reference` (exact)
=============  ========================================  ==================================

``load(name)`` reads a shipped file; ``python -m sciml.datasets.<module>`` regenerates it.
"""

from __future__ import annotations

from importlib import resources

import xarray as xr

from .burgers import NU as BURGERS_NU
from .burgers import burgers_reference, cole_hopf
from .heat import KAPPA as HEAT_KAPPA
from .heat import heat_exact, heat_reference
from .poisson import poisson_exact, poisson_forcing, poisson_reference

__all__ = [
    "BURGERS_NU",
    "HEAT_KAPPA",
    "available",
    "burgers_reference",
    "cole_hopf",
    "heat_exact",
    "heat_reference",
    "load",
    "poisson_exact",
    "poisson_forcing",
    "poisson_reference",
]

_FILES = {"burgers": "burgers.nc", "poisson2d": "poisson2d.nc", "heat": "heat.nc"}
_ALIASES = {"poisson": "poisson2d", "burgers1d": "burgers", "heat1d": "heat"}


def available() -> tuple[str, ...]:
    """Names accepted by :func:`load`."""
    return tuple(_FILES)


def load(name: str) -> xr.Dataset:
    """Read a shipped reference solution into memory.

    Args:
        name: one of :func:`available` (``"poisson"`` is accepted for ``"poisson2d"``).

    Returns:
        The dataset, fully loaded (the file is closed).
    """
    if not isinstance(name, str):
        raise TypeError(f"dataset name must be a str, got {type(name).__name__}")
    key = _ALIASES.get(name.lower(), name.lower())
    if key not in _FILES:
        raise ValueError(f"unknown reference dataset {name!r}; available: {', '.join(available())}")
    resource = resources.files(__name__).joinpath(_FILES[key])
    if not resource.is_file():
        raise FileNotFoundError(
            f"the shipped file {_FILES[key]} is missing from {__name__}; regenerate it with "
            f"`python -m {__name__}.{'poisson' if key == 'poisson2d' else key}`"
        )
    # Any NetCDF4/HDF5 reader will do (h5netcdf with h5py, or netCDF4): let xarray pick.
    with resources.as_file(resource) as path, xr.open_dataset(path) as ds:
        return ds.load()
