"""Reference solutions for the catalogue problems (and the benchmarks' problems outside the
suite), computed with classical methods.

Each recipe computes an ``xarray.Dataset`` (variable ``u`` on named coordinates ``x``, ``t``
or ``x``, ``y``; attributes name the method and its verified accuracy) and ships a small
NetCDF file of it next to this module:

=============  ========================================  ==================================
name           problem                                   recipe
=============  ========================================  ==================================
``burgers``    viscous Burgers 1D, nu = 0.01/pi          :func:`burgers_reference` (Cole–Hopf)
``poisson2d``  Poisson 2D of the KAN paper               :func:`poisson_reference` (exact)
``heat``       heat 1D, two sine modes                   :func:`heat_reference` (exact)
``kdv``        Korteweg–de Vries, cos(pi x) initial      :func:`kdv_reference` (spectral ETDRK4)
``schrodinger`` nonlinear Schrödinger, 2 sech x initial  :func:`nls_reference` (spectral ETDRK4)
``cavity``     lid-driven cavity, Re = 100               :func:`cavity_reference` (FD Newton)
``lshape``     Poisson on the L-shaped domain            :func:`lshape_reference` (P2 FEM)
``fisher_kpp`` Fisher–KPP travelling front, D = 0.01     :func:`fisher_kpp_reference` (MOL Radau)
``allen_cahn`` Allen–Cahn, eps = 1e-4, x^2 cos(pi x)     :func:`allen_cahn_reference` (spectral ETDRK4)
=============  ========================================  ==================================

``load(name)`` reads a shipped file; ``python -m sciml.datasets.<module>`` regenerates it.
"""

from __future__ import annotations

import importlib
from importlib import resources

import xarray as xr

# Recipes are imported on first use, so that reading a shipped file stays cheap and
# `python -m sciml.datasets.<module>` runs its module only once.
_LAZY = {
    "BURGERS_NU": ("burgers", "NU"),
    "burgers_reference": ("burgers", "burgers_reference"),
    "cole_hopf": ("burgers", "cole_hopf"),
    "HEAT_KAPPA": ("heat", "KAPPA"),
    "heat_exact": ("heat", "heat_exact"),
    "heat_reference": ("heat", "heat_reference"),
    "poisson_exact": ("poisson", "poisson_exact"),
    "poisson_forcing": ("poisson", "poisson_forcing"),
    "poisson_reference": ("poisson", "poisson_reference"),
    "kdv_reference": ("kdv", "kdv_reference"),
    "allen_cahn_reference": ("allen_cahn", "allen_cahn_reference"),
    "nls_reference": ("schrodinger", "nls_reference"),
    "cavity_reference": ("cavity", "cavity_reference"),
    "lshape_reference": ("lshape", "lshape_reference"),
    "fisher_kpp_reference": ("fisher_kpp", "fisher_kpp_reference"),
}

__all__ = [  # noqa: RUF022 - the loader first, then the recipes
    "available",
    "load",
    "BURGERS_NU",
    "HEAT_KAPPA",
    "burgers_reference",
    "cole_hopf",
    "heat_exact",
    "heat_reference",
    "poisson_exact",
    "poisson_forcing",
    "poisson_reference",
    "kdv_reference",
    "allen_cahn_reference",
    "nls_reference",
    "cavity_reference",
    "lshape_reference",
    "fisher_kpp_reference",
]


def __getattr__(name: str):
    if name in _LAZY:
        module, attr = _LAZY[name]
        return getattr(importlib.import_module(f"{__name__}.{module}"), attr)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_LAZY))


_FILES = {
    "burgers": "burgers.nc", "poisson2d": "poisson2d.nc", "heat": "heat.nc", "kdv": "kdv.nc",
    "schrodinger": "schrodinger.nc", "cavity": "cavity.nc", "lshape": "lshape.nc",
    "fisher_kpp": "fisher_kpp.nc", "allen_cahn": "allen_cahn.nc",
}
_ALIASES = {"poisson": "poisson2d", "burgers1d": "burgers", "heat1d": "heat", "nls": "schrodinger",
            "poisson_lshape": "lshape"}


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
