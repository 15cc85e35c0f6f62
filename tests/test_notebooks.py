"""Every notebook in notebooks/ executes from top to bottom (so none can rot).

Notebooks with a test of their own (one that also checks their results) are left to it.
"""

import pathlib

import nbformat
import pytest
from nbclient import NotebookClient

HERE = pathlib.Path(__file__).resolve().parent
OWN_TESTS = "".join(p.read_text() for p in HERE.glob("test_*.py") if p.name != pathlib.Path(__file__).name)
NOTEBOOKS = [p for p in sorted((HERE.parent / "notebooks").glob("*.ipynb")) if p.name not in OWN_TESTS]


# Executed in CI after the default suite (`-m slow`), which it would otherwise push past 15 min.
SLOW = {"kan_physics", "bring_your_own_pde", "primitives", "pinn_from_scratch"}
CASES = [pytest.param(p, marks=pytest.mark.slow) if p.stem in SLOW else p for p in NOTEBOOKS]


@pytest.mark.parametrize("path", CASES, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_executes(path):
    nb = nbformat.read(path, as_version=4)
    NotebookClient(nb, timeout=900, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}).execute()
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert not errors
