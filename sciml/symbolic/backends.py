"""Global search backends behind one interface.

A backend proposes candidate formulas for ``y ≈ f(X)``; it does not choose among them. The
caller (:func:`sciml.symbolic.discover`) refits and rounds every candidate, measures it on
held-out data and picks the law by the Pareto rule of :mod:`sciml.symbolic.law`.

- ``builtin``: the separable-under-a-transform search of :mod:`sciml.symbolic.additive`,
  plus sparse and rational regression over term dictionaries (:mod:`sciml.symbolic.sparse`),
  and for one input damped oscillations and exponentials (:mod:`sciml.symbolic.modes`)
  (fast, deterministic, exact on separable, few-term and rational laws, no dependencies).
- ``operon``: genetic programming with local constant optimisation, ``pyoperon`` (C++,
  offline). Burlacu et al., *Operon C++* (GECCO 2020).
- ``pysr``: PySR (Cranmer 2023), optional; needs a Julia runtime. Importing ``pysr`` without
  Julia tries to download it, which hangs or fails offline, so we check for Julia *before*
  importing and raise :class:`BackendUnavailable` with instructions instead.

Add a backend by subclassing :class:`Backend` and calling :func:`register_backend`.
"""

from __future__ import annotations

import abc
import os
import shutil

import numpy as np
import sympy as sp

from .additive import additive_candidates
from .parse import FUNCTIONS, FormulaError, parse_formula
from .modes import mode_candidates
from .primitives import Library
from .ratio import ratio_candidates
from .sparse import linear_candidates, rational_candidates

__all__ = ["Backend", "BackendUnavailable", "BuiltinBackend", "OperonBackend", "PySRBackend",
           "get_backend", "register_backend", "BACKENDS"]


class BackendUnavailable(RuntimeError):
    """The requested backend cannot run in this environment (message says how to fix it)."""


class Backend(abc.ABC):
    """Proposes candidate formulas; ``search`` returns a list of ``(source, sympy expr)``."""

    name: str = "abstract"

    @abc.abstractmethod
    def search(self, X: np.ndarray, y: np.ndarray, symbols: list[sp.Symbol], *, seed: int = 0,
               time_budget: float | None = None) -> list[tuple[str, sp.Expr]]:
        ...


class BuiltinBackend(Backend):
    """Additive model under output transforms distilled edge by edge, few-term linear and
    rational laws from term dictionaries, and ratios of two one-feature functions (no
    dependencies)."""

    name = "builtin"

    def __init__(self, library: Library | None = None, keep_factor: float = 100.0):
        self.library = library
        self.keep_factor = keep_factor

    def search(self, X, y, symbols, *, seed=0, time_budget=None):
        cands = [(label, e) for label, e, _ in
                 additive_candidates(X, y, symbols, self.library, keep_factor=self.keep_factor)]
        with np.errstate(all="ignore"):  # dictionary terms overflow on wide-ranging inputs
            cands += linear_candidates(X, y, symbols) + rational_candidates(X, y, symbols)
            cands += ratio_candidates(X, y, symbols, self.library)
            cands += mode_candidates(X, y, symbols)
        return [(f"builtin:{label}", e) for label, e in cands]


class OperonBackend(Backend):
    """``pyoperon.sklearn.SymbolicRegressor``; returns its whole Pareto front."""

    name = "operon"
    SYMBOLS = "add,sub,mul,div,constant,variable,sin,cos,exp,log,sqrt,square"

    def __init__(self, generations: int = 1000, population_size: int = 1000,
                 max_length: int = 40, max_front: int = 4, n_threads: int = 1):
        self.generations = generations
        self.population_size = population_size
        self.max_length = max_length
        self.max_front = max_front
        self.n_threads = n_threads

    def search(self, X, y, symbols, *, seed=0, time_budget=None):
        try:
            from pyoperon.sklearn import SymbolicRegressor
        except ImportError as e:  # pragma: no cover - pyoperon is a core dependency
            raise BackendUnavailable("pyoperon is not installed: `pip install pyoperon`") from e
        X = np.ascontiguousarray(X, dtype=np.float64)
        y = np.ascontiguousarray(y, dtype=np.float64)
        reg = SymbolicRegressor(
            allowed_symbols=self.SYMBOLS, generations=self.generations,
            population_size=self.population_size, max_length=self.max_length,
            objectives=["r2", "length"], n_threads=self.n_threads, random_state=int(seed),
            max_time=int(time_budget) if time_budget else None)
        reg.fit(X, y)
        names = [f"X{i + 1}" for i in range(X.shape[1])]
        local = dict(zip(names, symbols))
        front = sorted(reg.pareto_front_, key=lambda m: m["mean_squared_error"])[: self.max_front]
        return _parsed("operon", [reg.get_model_string(m["tree"], 16, names) for m in front], local,
                       {**FUNCTIONS, "square": lambda z: z**2})


def _parsed(source: str, texts, local: dict, functions=None) -> list[tuple[str, sp.Expr]]:
    """Formulas printed by a backend, read by the safe parser; unreadable ones are dropped."""
    out = []
    for text in texts:
        try:
            out.append((source, parse_formula(text, local, functions=functions)))
        except FormulaError:
            continue
    return out


def _julia_available() -> bool:
    if shutil.which("julia"):
        return True
    # juliacall keeps its own Julia under its project directory once installed
    for var in ("PYTHON_JULIACALL_EXE", "JULIA_BINDIR"):
        if os.environ.get(var):
            return True
    return False


class PySRBackend(Backend):
    """PySR, imported lazily; needs Julia (``pip install sciml[sr]`` and a ``julia`` on PATH)."""

    name = "pysr"

    def __init__(self, niterations: int = 40, **options):
        self.niterations = niterations
        self.options = options

    @staticmethod
    def check() -> None:
        if not _julia_available():
            raise BackendUnavailable(
                "the 'pysr' backend needs a Julia runtime, and none was found (no `julia` on "
                "PATH, PYTHON_JULIACALL_EXE unset). Install Julia (https://julialang.org/downloads) "
                "and `pip install pysr`, or use --backend builtin / --backend operon, which run "
                "offline.")
        import importlib.util
        if importlib.util.find_spec("pysr") is None:
            raise BackendUnavailable("the 'pysr' backend needs `pip install pysr` (extra: sciml[sr]).")

    def search(self, X, y, symbols, *, seed=0, time_budget=None):
        self.check()
        import pysr  # noqa: PLC0415 - lazy on purpose: importing pysr may start Julia

        reg = pysr.PySRRegressor(
            niterations=self.niterations, random_state=seed, deterministic=True, parallelism="serial",
            binary_operators=["+", "-", "*", "/"],
            unary_operators=["sin", "cos", "exp", "log", "sqrt"],
            timeout_in_seconds=time_budget, **self.options)
        # PySR sees neutral names (x0, x1, ...), never column names: its own parser and
        # sympy printing then meet nothing but identifiers, and the formulas come back through
        # the safe parser with our symbols
        names = [f"x{i}" for i in range(len(symbols))]
        reg.fit(np.asarray(X, float), np.asarray(y, float), variable_names=names)
        return _parsed("pysr", [str(e) for e in reg.equations_["sympy_format"]],
                       dict(zip(names, symbols)))


BACKENDS: dict[str, type[Backend]] = {
    "builtin": BuiltinBackend, "operon": OperonBackend, "pysr": PySRBackend}


def register_backend(cls: type[Backend]) -> type[Backend]:
    BACKENDS[cls.name] = cls
    return cls


def get_backend(name: str | Backend, **options) -> Backend:
    if isinstance(name, Backend):
        return name
    try:
        cls = BACKENDS[name]
    except KeyError:
        raise ValueError(f"unknown backend {name!r}; choose one of {sorted(BACKENDS)} "
                         "(or 'auto': builtin, then operon when builtin is not exact)") from None
    backend = cls(**options)
    if isinstance(backend, PySRBackend):
        backend.check()
    return backend
