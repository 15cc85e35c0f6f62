"""sciml — physics-informed scientific modelling on JAX.

Write a problem with :mod:`sciml.dsl`, fit a surrogate with :func:`solve`, distil laws with
:func:`symbolify` / :func:`discover`. Heavy sub-packages load on first use.
"""

from __future__ import annotations

__version__ = "0.1.0"

from sciml.solver import load_problem, load_solution, solve

__all__ = ["discover", "load_problem", "load_solution", "solve", "symbolify", "__version__"]


def __getattr__(name: str):
    # Symbolification pulls in optional backends; import it only when asked for.
    if name in ("symbolify", "discover"):
        from sciml import symbolic

        return getattr(symbolic, name)
    raise AttributeError(f"module 'sciml' has no attribute {name!r}")
