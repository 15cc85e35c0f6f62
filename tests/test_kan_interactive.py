"""The KAN paper's interactive example, end to end, as the notebook kan_interactive.ipynb runs it.

exp(sin(pi x) + y^2) with a [2, 5, 1] KAN: sparse fit, prune to [2, 1, 1], suggestions (sin for
the x edge, x^2 for the y edge, exp on the output edge), fix them, retrain the constants; the
formula is exact to 1e-6 relative and rounds to the law. The notebook asserts each step; about a
minute and a half of CPU time, so it is marked slow.
"""

import pathlib

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOK = pathlib.Path(__file__).resolve().parents[1] / "notebooks" / "kan_interactive.ipynb"


@pytest.mark.slow
def test_interactive_notebook_reproduces_the_formula():
    nb = nbformat.read(NOTEBOOK, as_version=4)
    NotebookClient(nb, timeout=900, kernel_name="python3", resources={"metadata": {"path": str(NOTEBOOK.parent)}}).execute()
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert not errors, errors[0]["evalue"] if errors else ""
