"""Atomistic reference data: xTB molecular dynamics (rMD17-style) and EMT/xTB crystals.

The small files under ``datasets/atomistic/`` are produced by this script and regenerate
from their seeds (bit-for-bit with ``OMP_NUM_THREADS=1``, as shipped: xTB's threaded sums
differ in the last bits across thread counts and MD amplifies that) (``python datasets/atomistic.py ethanol``); the recipes live in
:mod:`sciml.atomistic.generate`. Files are extended XYZ (energies in eV, forces in eV/A,
stress in eV/A^3, Voigt order as ASE) plus a JSON sidecar with the recipe and the split.

    python datasets/atomistic.py ethanol         # 1300 GFN2-xTB frames at 500 K (~1 min)
    python datasets/atomistic.py malonaldehyde
    python datasets/atomistic.py alloys          # 300 EMT fcc alloys, formation energies
    python datasets/atomistic.py silicon         # 60 GFN1-xTB diamond Si cells
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

DATA_DIR = Path(__file__).resolve().parent / "atomistic"


def path_for(name: str) -> Path:
    """The extended-XYZ file of dataset ``name`` (may not exist yet)."""
    return DATA_DIR / f"{name}.xyz"


def write(name: str, frames, info: dict) -> Path:
    from ase.io import write as ase_write

    DATA_DIR.mkdir(parents=True, exist_ok=True)
    path = path_for(name)
    ase_write(path, frames, format="extxyz")
    path.with_suffix(".json").write_text(json.dumps(info, indent=2, default=float) + "\n")
    return path


def build(name: str) -> Path:
    """Generate dataset ``name`` with its default recipe and write it."""
    from sciml.atomistic import generate as g

    t0 = time.perf_counter()
    frames, info = g.dataset_frames(name)
    info["generation_wall_s"] = round(time.perf_counter() - t0, 1)
    return write(name, frames, info)


if __name__ == "__main__":
    for arg in sys.argv[1:] or ["ethanol"]:
        p = build(arg)
        print(p, json.loads(p.with_suffix(".json").read_text()).get("mean_temperature_K", ""))
