"""Symbolic distillation: from a trained KAN or from data to a closed-form :class:`Law`.

Pipeline: primitives (:mod:`.primitives`) -> batched per-edge fits (:mod:`.fit`) ->
composition (:mod:`.compose`) -> simplification, joint constant refit and rounding
(:mod:`.refit`) -> candidates from global search backends (:mod:`.backends`) -> Pareto choice
(:mod:`.law`). Entry points: :func:`symbolify` (KAN -> law) and :func:`discover` (data -> law).
"""

from .backends import Backend, BackendUnavailable, get_backend, register_backend
from .discover import discover, load_table, symbolify
from .fit import EdgeFits, fit_edges, pareto_front, select
from .law import SELECTION_RULE, Law, complexity
from .primitives import DEFAULT_LIBRARY, Library, Primitive, default_library, register_primitive
from .refit import clean, refit, round_constants

__all__ = [
    "Backend", "BackendUnavailable", "get_backend", "register_backend", "discover", "load_table",
    "symbolify", "EdgeFits", "fit_edges", "pareto_front", "select", "SELECTION_RULE", "Law",
    "complexity", "DEFAULT_LIBRARY", "Library", "Primitive", "default_library",
    "register_primitive", "clean", "refit", "round_constants",
]
