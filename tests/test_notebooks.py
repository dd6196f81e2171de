"""The notebooks run top to bottom (nbclient) on a tiny model, so they never rot."""

import json
import os
import sys

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")
pytest.importorskip("soundfile")

NOTEBOOKS = os.path.join(os.path.dirname(__file__), "..", "notebooks")


@pytest.mark.parametrize("name", ["sample_motion.ipynb", "explore_data.ipynb"])
def test_notebook_executes(name, tiny_random_export, tmp_path, monkeypatch):
    monkeypatch.setenv("GENMO_PARAMS", tiny_random_export)
    monkeypatch.setenv("GENMO_NB_SECONDS", "2")
    monkeypatch.setenv("GENMO_NB_STEPS", "2")
    monkeypatch.setenv("JAX_PLATFORMS", "cpu")
    monkeypatch.delenv("XLA_FLAGS", raising=False)  # one device in the kernel, like Colab
    # The kernel must be this interpreter (the project's venv), not whatever "python3" is first.
    spec_dir = tmp_path / "jupyter" / "kernels" / "genmo-test"
    spec_dir.mkdir(parents=True)
    (spec_dir / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "genmo-test", "language": "python"}))
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter"))
    with open(os.path.join(NOTEBOOKS, name), encoding="utf-8") as f:
        nb = nbformat.read(f, as_version=4)
    for cell in nb.cells:
        assert not cell.get("outputs"), f"{name}: outputs must be stripped in git"
    client = nbclient.NotebookClient(nb, timeout=900, kernel_name="genmo-test",
                                     resources={"metadata": {"path": str(tmp_path)}})
    client.execute()
    text = "\n".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []))
    if name == "sample_motion.ipynb":
        assert "keyframe body-pose error" in text and "estimated" in text
    else:
        assert "records in" in text
