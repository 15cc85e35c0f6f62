"""Execute notebooks/ude_lotka_volterra.ipynb end to end (a couple of minutes: marked slow)."""

import pathlib

import pytest

NB = pathlib.Path(__file__).resolve().parents[1] / "notebooks" / "ude_lotka_volterra.ipynb"


@pytest.mark.slow
def test_ude_notebook_executes():
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    nb = nbformat.read(NB, as_version=4)
    nbclient.NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(NB.parent)}}).execute()
    outputs = "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []))
    assert "recovered:" in outputs
