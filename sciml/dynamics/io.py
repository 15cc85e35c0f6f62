"""Save and load trained dynamics models (ncps cannot serialise its models: ncps #7, #36, #54).

A saved model is a directory with ``config.json`` (how to rebuild the module: a constructor
path and its keyword arguments, taken from the module's ``config_json``) and ``params.npz``
(every :class:`flax.nnx.Variable` of the module, keyed by its path). Loading rebuilds the
module from the config and writes the arrays back, so nothing is pickled.
"""

from __future__ import annotations

import json
import pathlib

import jax
import numpy as np
from flax import nnx

__all__ = ["save", "load"]

_CONSTRUCTORS = {"LiquidRNN": "sciml.dynamics.liquid:LiquidRNN"}


def _flat(state) -> dict[str, np.ndarray]:
    out = {}
    for path, leaf in jax.tree_util.tree_flatten_with_path(state.to_pure_dict())[0]:
        key = "/".join(str(getattr(k, "key", getattr(k, "idx", k))) for k in path)
        out[key] = np.asarray(leaf)
    return out


def save(model: nnx.Module, path) -> pathlib.Path:
    """Write ``model`` to the directory ``path`` (created if needed).

    Raises:
        TypeError: the module does not record how to rebuild itself (no ``config_json``).
    """
    config = getattr(model, "config_json", None)
    if config is None:
        raise TypeError(
            f"{type(model).__name__} does not record its constructor arguments (config_json); "
            "only models built with a config (e.g. LiquidRNN) can be saved"
        )
    path = pathlib.Path(path)
    path.mkdir(parents=True, exist_ok=True)
    name = type(model).__name__
    (path / "config.json").write_text(json.dumps({"class": _CONSTRUCTORS.get(name, f"{type(model).__module__}:{name}"), "kwargs": json.loads(config)}, indent=2))
    np.savez(path / "params.npz", **_flat(nnx.state(model)))
    return path


def load(path) -> nnx.Module:
    """Rebuild a model saved with :func:`save`."""
    import importlib

    path = pathlib.Path(path)
    if not (path / "config.json").exists():
        raise FileNotFoundError(f"{path} is not a saved model directory (no config.json)")
    cfg = json.loads((path / "config.json").read_text())
    mod, _, cls = cfg["class"].partition(":")
    model = getattr(importlib.import_module(mod), cls)(**cfg["kwargs"])
    arrays = dict(np.load(path / "params.npz"))
    state = nnx.state(model)
    pure = state.to_pure_dict()
    leaves, treedef = jax.tree_util.tree_flatten_with_path(pure)
    new = []
    for p, leaf in leaves:
        key = "/".join(str(getattr(k, "key", getattr(k, "idx", k))) for k in p)
        if key not in arrays:
            raise ValueError(f"saved parameters miss {key!r}; the model code changed since it was saved")
        if arrays[key].shape != np.shape(leaf):
            raise ValueError(f"saved parameter {key!r} has shape {arrays[key].shape}, model expects {np.shape(leaf)}")
        new.append(jax.numpy.asarray(arrays[key], dtype=np.asarray(leaf).dtype))
    state.replace_by_pure_dict(jax.tree_util.tree_unflatten(treedef, new))
    nnx.update(model, state)
    return model
