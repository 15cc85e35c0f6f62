"""Symbolic distillation: from a trained KAN or from data to a closed-form :class:`Law`.

Pipeline: primitives (:mod:`.primitives`) -> batched per-edge fits (:mod:`.fit`) ->
composition (:mod:`.compose`) -> simplification, joint constant refit, rounding and pruning
(:mod:`.refit`) -> candidates from search backends (:mod:`.backends`: the built-in one combines
:mod:`.additive` and :mod:`.sparse`; with units, first in the Buckingham-pi groups of
:mod:`.dimensionless`; without units, separability and symmetries read from a fitted surrogate
split the problem into sub-problems first, :mod:`.structure`, and constants are rounded only
when the noise cannot tell, :mod:`.rounding`) -> Pareto choice (:mod:`.law`). Entry points: :func:`symbolify` (KAN -> law) and :func:`discover` (data -> law).

Data enter through :mod:`.table` (numeric columns, finite rows); column names become safe
identifiers (:mod:`.names`), so a law's text never carries the data's markup or code, and
:func:`load_law` reads ``law.json`` back through a parser that evaluates nothing (:mod:`.parse`).
:func:`suggest` ranks primitives for every live edge of a KAN (:mod:`.suggest`), for fixing
edges by hand (:mod:`sciml.models.kan_fix`).
"""

from .backends import Backend, BackendUnavailable, get_backend, register_backend
from .discover import discover, load_table, symbolify
from .fit import EdgeFits, fit_edges, pareto_front, select
from .law import SELECTION_RULE, Law, complexity, load_law
from .parse import FormulaError, parse_formula
from .primitives import DEFAULT_LIBRARY, Library, Primitive, default_library, register_primitive
from .refit import clean, prune_terms, refit, round_constants
from .suggest import suggest
from .table import DataNote, DataWarning

__all__ = [
    "Backend", "BackendUnavailable", "get_backend", "register_backend", "discover", "load_table",
    "suggest", "symbolify", "EdgeFits", "fit_edges", "pareto_front", "select", "SELECTION_RULE", "Law",
    "complexity", "DEFAULT_LIBRARY", "Library", "Primitive", "default_library",
    "register_primitive", "clean", "prune_terms", "refit", "round_constants", "load_law",
    "parse_formula", "FormulaError", "DataNote", "DataWarning",
]
