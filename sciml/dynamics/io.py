"""Save and load trained dynamics models (ncps cannot serialise its models: ncps #7, #36, #54).

A saved model is a directory with ``config.json`` (the model's registry name under ``model``
and its constructor's keyword arguments, taken from the module's ``config_json``) and
``params.npz`` (every :class:`flax.nnx.Variable` of the module, keyed by its path). Loading
looks the name up in :data:`SAVEABLE`, rebuilds the module and writes the arrays back: nothing
is pickled and nothing named in a file is imported, so opening a model folder runs no code
from it.
"""

from __future__ import annotations

import json
import pathlib

import jax
import numpy as np
from flax import nnx

from sciml.dynamics.liquid import LiquidRNN

__all__ = ["SAVEABLE", "save", "load"]

SAVEABLE: dict[str, type[nnx.Module]] = {"LiquidRNN": LiquidRNN}
"""The models :func:`load` can rebuild, by the name ``config.json`` records."""

# Folders written before the registry names recorded an import path for the same classes.
_LEGACY_NAMES = {"sciml.dynamics.liquid:LiquidRNN": "LiquidRNN"}


def _key(path) -> str:
    return "/".join(str(getattr(k, "key", getattr(k, "idx", k))) for k in path)


def save(model: nnx.Module, path) -> pathlib.Path:
    """Write ``model`` to the directory ``path`` (created if needed).

    Raises:
        TypeError: the model is not one :func:`load` can rebuild (not in :data:`SAVEABLE`, or
            it does not record its constructor arguments in ``config_json``).
    """
    name = type(model).__name__
    config = getattr(model, "config_json", None)
    if SAVEABLE.get(name) is not type(model) or config is None:
        raise TypeError(f"{name} cannot be saved: only models that record their constructor "
                        f"arguments and are listed in sciml.dynamics.io.SAVEABLE ({', '.join(SAVEABLE)}) can")
    path = pathlib.Path(path)
    path.mkdir(parents=True, exist_ok=True)
    (path / "config.json").write_text(json.dumps({"model": name, "kwargs": json.loads(config)}, indent=2))
    flat = jax.tree_util.tree_flatten_with_path(nnx.state(model).to_pure_dict())[0]
    np.savez(path / "params.npz", **{_key(p): np.asarray(leaf) for p, leaf in flat})
    return path


def load(path) -> nnx.Module:
    """Rebuild a model saved with :func:`save`.

    Raises:
        FileNotFoundError: ``path`` has no ``config.json``.
        ValueError: the config names a model outside :data:`SAVEABLE` (the folder is refused
            before anything is built), or the saved arrays do not fit the model.
    """
    path = pathlib.Path(path)
    if not (path / "config.json").exists():
        raise FileNotFoundError(f"{path} is not a saved model directory (no config.json)")
    cfg = json.loads((path / "config.json").read_text())
    name = cfg.get("model", _LEGACY_NAMES.get(cfg.get("class"), cfg.get("class")))
    if name not in SAVEABLE or not isinstance(cfg.get("kwargs"), dict):
        raise ValueError(f"{path}/config.json names model {name!r}, which sciml does not rebuild: a "
                         f"saved model folder may only name one of {', '.join(SAVEABLE)} (with its "
                         "keyword arguments under 'kwargs'); save the model again with sciml.dynamics.io.save")
    model = SAVEABLE[name](**cfg["kwargs"])
    arrays = dict(np.load(path / "params.npz", allow_pickle=False))
    state = nnx.state(model)
    leaves, treedef = jax.tree_util.tree_flatten_with_path(state.to_pure_dict())
    new = []
    for p, leaf in leaves:
        key = _key(p)
        if key not in arrays:
            raise ValueError(f"saved parameters miss {key!r}; the model code changed since it was saved")
        if arrays[key].shape != np.shape(leaf):
            raise ValueError(f"saved parameter {key!r} has shape {arrays[key].shape}, model expects {np.shape(leaf)}")
        new.append(jax.numpy.asarray(arrays[key], dtype=np.asarray(leaf).dtype))
    state.replace_by_pure_dict(jax.tree_util.tree_unflatten(treedef, new))
    nnx.update(model, state)
    return model
