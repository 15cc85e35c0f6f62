"""Locating the shipped atomistic datasets (and regenerating them when absent)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from .structures import Structures, read_xyz


def _candidates(name: str) -> list[Path]:
    here = Path(__file__).resolve()
    out = []
    if os.environ.get("SCIML_ATOMISTIC_DATA"):
        out.append(Path(os.environ["SCIML_ATOMISTIC_DATA"]) / f"{name}.xyz")
    out.append(here.parents[2] / "datasets" / "atomistic" / f"{name}.xyz")  # source checkout
    out.append(here.parents[1] / "datasets" / "atomistic" / f"{name}.xyz")  # installed package
    out.append(Path.home() / ".cache" / "sciml" / "atomistic" / f"{name}.xyz")
    return out


def dataset_path(name: str, *, generate: bool = True) -> Path:
    """Path of the extended-XYZ file of dataset ``name`` (``ethanol``, ``malonaldehyde``,
    ``alloys``, ``silicon``); generated into ``~/.cache/sciml/atomistic`` if not found."""
    for p in _candidates(name):
        if p.exists():
            return p
    if not generate:
        raise ValueError(f"dataset {name!r} not found in {[str(p.parent) for p in _candidates(name)]}")
    from ase.io import write

    from . import generate as g

    frames, info = g.dataset_frames(name)
    path = _candidates(name)[-1]
    path.parent.mkdir(parents=True, exist_ok=True)
    write(path, frames, format="extxyz")
    path.with_suffix(".json").write_text(json.dumps(info, default=float))
    return path


def load(name: str, **kwargs) -> tuple[Structures, dict]:
    """``(structures, info)`` of a shipped dataset; ``info`` holds the recipe and the split
    (as integer arrays) when there is one."""
    path = dataset_path(name)
    info = json.loads(path.with_suffix(".json").read_text()) if path.with_suffix(".json").exists() else {}
    if "split" in info:
        info["split"] = {k: np.asarray(v, dtype=np.int64) for k, v in info["split"].items()}
    return read_xyz(path, **kwargs), info
