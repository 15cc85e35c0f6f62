"""The data -> law -> report notebook runs top to bottom."""

import pathlib

import pytest

NOTEBOOK = pathlib.Path(__file__).parent.parent / "notebooks" / "symbolic_discover.ipynb"


@pytest.mark.slow  # 59 s; executed by .ci/run after the default suite
def test_notebook_executes(tmp_path):
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    nb = nbformat.read(NOTEBOOK, as_version=4)
    nbclient.NotebookClient(nb, timeout=600, kernel_name="python3",
                            resources={"metadata": {"path": str(tmp_path)}}).execute()
    outputs = "".join(str(o.get("text", "")) + str(o.get("data", {}).get("text/plain", ""))
                      for c in nb.cells if c.cell_type == "code" for o in c.outputs)
    assert "Law(F = " in outputs and "epsilon" in outputs
