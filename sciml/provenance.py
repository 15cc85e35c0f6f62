"""The run record shared by every result: software versions and JSON encoding of numbers."""

from __future__ import annotations

import importlib.metadata as md
import pathlib
import platform
import subprocess

import numpy as np

PACKAGES = ("sciml", "jax", "jaxlib", "flax", "optax", "diffrax", "equinox", "e3nn-jax", "jraph",
            "numpy", "sympy", "xarray", "pyoperon")


def versions() -> dict[str, str]:
    """Versions of Python, the numerical stack (those installed) and the compute device."""
    out = {"python": platform.python_version(), "platform": platform.platform()}
    for pkg in PACKAGES:
        try:
            out[pkg] = md.version(pkg)
        except md.PackageNotFoundError:
            pass
    try:
        import jax

        out["device"] = str(jax.devices()[0].device_kind)
    except Exception:  # the record must never fail a run
        pass
    return out


CODE_PATHS = ("sciml", "problems", "datasets", "operators")


def git_revision(root: str | pathlib.Path, paths=CODE_PATHS) -> str:
    """The commit of the checkout at ``root`` a study measured, ``+dirty`` when ``paths`` (the
    code it measures) differ from it; notes and results written meanwhile do not count.
    ``"unknown"`` outside a git checkout."""
    def git(*args) -> str:
        return subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, check=True).stdout.strip()

    try:
        rev = git("rev-parse", "--short", "HEAD")
        dirty = git("status", "--porcelain", "--untracked-files=no", "--", *paths)
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return rev + ("+dirty" if dirty else "")


def json_default(o):
    """``json.dumps(default=...)`` for NumPy scalars and arrays (anything else as text)."""
    if isinstance(o, (np.floating, np.integer, np.bool_)):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    return str(o)
