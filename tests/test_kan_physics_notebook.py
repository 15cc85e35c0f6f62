"""Execute notebooks/kan_physics.ipynb end to end (about a minute and a half: marked slow).

The notebook asserts its own results (a grid-extended KAN on the Poisson problem, rel L2 < 5e-2).
"""

import pathlib

import pytest

NB = pathlib.Path(__file__).resolve().parents[1] / "notebooks" / "kan_physics.ipynb"


@pytest.mark.slow
def test_kan_physics_notebook_executes():
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    nb = nbformat.read(NB, as_version=4)
    nbclient.NotebookClient(nb, timeout=900, kernel_name="python3", resources={"metadata": {"path": str(NB.parent)}}).execute()
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert not errors
