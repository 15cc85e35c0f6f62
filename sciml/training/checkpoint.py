"""Atomic checkpoints with flax's msgpack serialisation (never pickle).

A checkpoint holds pytrees (parameters, optimiser states, ...) as flat lists of leaves and a
few plain values. Restoring needs a template of the same structure (a freshly built model and
optimiser), which is also what guards against loading a checkpoint into a different model.
Files are written to a temporary name in the same directory and moved into place with
``os.replace``, so a crash mid-write never leaves a truncated checkpoint behind.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import jax
import numpy as np
from flax import serialization


def save_checkpoint(path: str | Path, trees: dict[str, Any], values: dict[str, Any]) -> Path:
    """Write pytrees (as leaves) and plain values (numbers, arrays, dicts of them) atomically."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        "trees": {k: {str(i): np.asarray(v) for i, v in enumerate(jax.tree.leaves(t))} for k, t in trees.items()},
        "values": _plain(values),
    }
    data = serialization.msgpack_serialize(payload)
    tmp = path.with_suffix(path.suffix + ".tmp")
    with open(tmp, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    return path


class CheckpointError(ValueError):
    """A checkpoint is missing, unreadable or belongs to another run; the message says what to do."""


def load_checkpoint(path: str | Path) -> dict[str, Any]:
    """Read a checkpoint written by :func:`save_checkpoint`.

    Raises:
        CheckpointError: there is no file, or it cannot be decoded (truncated or corrupt).
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"no checkpoint at {path}; run without --resume to start afresh")
    try:
        data = path.read_bytes()
        try:
            saved = serialization.msgpack_restore(data)
        except TypeError:  # an array of strings, written as numpy names its dtype ('str5792'), not as it reads it
            saved = _restore_text_arrays(data)
        if not isinstance(saved, dict) or not {"trees", "values"} <= set(saved):
            raise ValueError("it holds no sciml training state")
    except Exception as err:  # msgpack raises several types for damaged input
        raise CheckpointError(
            f"checkpoint {path} is unreadable ({type(err).__name__}: {err}); it is truncated or not a "
            "sciml checkpoint. Remove it, or rerun with --overwrite to start afresh"
        ) from None
    return saved


def restore_tree(template: Any, saved_leaves: dict[str, np.ndarray], what: str = "state") -> Any:
    """Rebuild a pytree shaped like ``template`` from saved leaves."""
    leaves, treedef = jax.tree.flatten(template)
    if len(saved_leaves) != len(leaves):
        raise ValueError(
            f"the checkpoint's {what} has {len(saved_leaves)} arrays but this model has {len(leaves)}; "
            "it was written by a different model or configuration"
        )
    new = []
    for i, ref in enumerate(leaves):
        arr = np.asarray(saved_leaves[str(i)])
        if arr.shape != np.shape(ref):
            raise ValueError(f"the checkpoint's {what} array {i} has shape {arr.shape}, expected {np.shape(ref)}")
        new.append(jax.numpy.asarray(arr, dtype=getattr(ref, "dtype", arr.dtype)))
    return jax.tree.unflatten(treedef, new)


def _plain(tree):
    if isinstance(tree, dict):
        return {str(k): _plain(v) for k, v in tree.items()}
    if isinstance(tree, (list, tuple)) and tree and all(isinstance(v, str) for v in tree):
        return list(tree)  # msgpack's own strings: a numpy array of them would not read back
    if isinstance(tree, (list, tuple)) and tree and not isinstance(tree[0], (int, float, str)):
        return {str(i): _plain(v) for i, v in enumerate(tree)}
    if hasattr(tree, "shape") or isinstance(tree, (list, tuple)):
        return np.asarray(tree)
    return tree


def _restore_text_arrays(data: bytes) -> Any:
    """:func:`flax.serialization.msgpack_restore` of a checkpoint holding numpy arrays of text,
    whose dtypes were saved by name (``str5792``: 5792 bits of UCS-4, ``<U181``), which numpy does
    not read back; every other array and value as flax reads it."""
    import re

    import msgpack

    def text_array(code, payload):
        if code == serialization._MsgpackExtType.ndarray:
            shape, name, buffer = msgpack.unpackb(payload, raw=True)
            match = re.fullmatch(rb"(str|bytes)(\d+)", name)
            if match:
                width = int(match.group(2)) // (32 if match.group(1) == b"str" else 8)
                dtype = np.dtype(f"{'<U' if match.group(1) == b'str' else 'S'}{width}")
                return np.frombuffer(buffer, dtype=dtype).reshape(shape)
        return serialization._msgpack_ext_unpack(code, payload)

    tree = msgpack.unpackb(data, ext_hook=text_array, raw=False, strict_map_key=False)
    return serialization._unchunk_array_leaves_in_place(tree)
