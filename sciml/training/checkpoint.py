"""Atomic checkpoints with flax's msgpack serialisation (never pickle).

A checkpoint is a nested dict of arrays and numbers. It is written to a temporary file in the
same directory and moved into place with ``os.replace``, so a crash mid-write never leaves a
truncated checkpoint behind.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
from flax import serialization


def save_checkpoint(path: str | Path, tree: dict[str, Any]) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    state = serialization.to_state_dict(tree)
    payload = serialization.msgpack_serialize(_to_numpy(state))
    tmp = path.with_suffix(path.suffix + ".tmp")
    with open(tmp, "wb") as fh:
        fh.write(payload)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    return path


def load_checkpoint(path: str | Path) -> dict[str, Any]:
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no checkpoint at {path}; run without --resume to start afresh")
    return serialization.msgpack_restore(path.read_bytes())


def restore_into(template: Any, state: dict) -> Any:
    """Fill a pytree of the right structure (e.g. a fresh optimiser state) with saved values."""
    return serialization.from_state_dict(template, state)


def _to_numpy(tree):
    if isinstance(tree, dict):
        return {k: _to_numpy(v) for k, v in tree.items()}
    if isinstance(tree, (list, tuple)):
        return {str(i): _to_numpy(v) for i, v in enumerate(tree)}
    if hasattr(tree, "shape"):
        return np.asarray(tree)
    return tree
