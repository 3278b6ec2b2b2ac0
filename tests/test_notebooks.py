"""The notebooks in ``notebooks/`` are committed without outputs and run end to end here
(nbclient).  Their parameter cell is set to a 1 km grid without the uncertainty band so the
Guangzhou runs take seconds, not minutes; everything else runs as a reader would run it."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest

NOTEBOOKS = sorted((Path(__file__).resolve().parent.parent / "notebooks").glob("*.ipynb"))
FAST_PARAMETERS = "CELL_M = 1000\nUNCERTAINTY = False"


def test_the_three_notebooks_exist():
    assert [p.stem for p in NOTEBOOKS] == ["01_guangzhou_quickstart", "02_propagation_models", "03_what_if"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_is_committed_without_outputs(path):
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, path.name


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_uses_only_the_public_api(path):
    nb = nbformat.read(path, as_version=4)
    code = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
    assert "citycov._" not in code and "from citycov._" not in code


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs(path, tmp_path, monkeypatch):
    nbclient = pytest.importorskip("nbclient")
    # the kernel inherits this: the notebooks' tempfile folders go under tmp_path, not into the
    # machine's temporary folder for good
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code" and cell.source.startswith("# Parameters"):
            cell.source = FAST_PARAMETERS
    client = nbclient.NotebookClient(nb, timeout=600, kernel_name="python3",
                                     resources={"metadata": {"path": str(tmp_path)}})
    client.execute()
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
    assert errors == []
    if path.stem == "01_guangzhou_quickstart":
        html_out = [o for o in nb.cells[-1].outputs if "text/html" in o.get("data", {})]
        assert html_out and "iframe" in html_out[0]["data"]["text/html"]
    if path.stem == "03_what_if":
        printed = "".join(o.get("text", "") for o in nb.cells[-1].outputs if o.output_type == "stream")
        assert "more residents covered" in printed
