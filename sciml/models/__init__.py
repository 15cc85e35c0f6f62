"""Surrogates: every model maps coordinates to fields through one protocol.

Build one by name with :func:`build_model`; the classes and the KAN tools are importable from
here too (loaded on first use, so ``import sciml.models`` stays light).
"""

import importlib

from sciml.models.registry import Surrogate, available_models, build_model, register_model

_LAZY = {
    "MLP": "mlp", "KAN": "kan", "save_kan": "kan", "load_kan": "kan", "sample_edges": "kan_inspect",
    "plot_kan": "kan_inspect", "attribution": "kan_prune", "prune": "kan_prune",
    "extend_grid": "kan_grid", "update_grid": "kan_grid", "GridExtension": "kan_grid", "fit_data": "kan_train",
    "fix_edge": "kan_fix", "unfix_edge": "kan_fix", "network_formula": "kan_fix",
}

__all__ = ["Surrogate", "available_models", "build_model", "register_model", *_LAZY]


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(importlib.import_module(f"sciml.models.{_LAZY[name]}"), name)
    raise AttributeError(f"module 'sciml.models' has no attribute {name!r}")
