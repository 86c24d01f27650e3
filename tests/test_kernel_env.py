"""The book's kernels draw text progress bars that leave a record, and transient bars leave nothing."""

from __future__ import annotations

import os

import nbclient
import nbformat

from tools.kernel_env import STARTUP_FILE, book_kernel, make_ipython_dir


def test_the_startup_file_is_written_into_a_fresh_profile(tmp_path):
    root = make_ipython_dir(tmp_path)
    assert (root / "profile_default" / "startup" / "00-text-progress.py").read_text(encoding="utf-8") == STARTUP_FILE
    assert make_ipython_dir(tmp_path) != root


def test_book_kernel_sets_and_then_restores_the_environment(monkeypatch):
    monkeypatch.setenv("MPLBACKEND", "Agg")
    before = dict(os.environ)
    with book_kernel():
        assert os.environ["HF_HUB_DISABLE_PROGRESS_BARS"] == "1"
        assert "MPLBACKEND" not in os.environ
        assert os.path.isdir(os.environ["IPYTHONDIR"])
    assert dict(os.environ) == before


def test_a_book_kernel_prints_text_bars_and_drops_transient_ones():
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell("from tqdm.auto import tqdm\nfor _ in tqdm(range(3), desc='steps'):\n    pass"),
        nbformat.v4.new_code_cell("for _ in tqdm(range(3), desc='inner', leave=False):\n    pass"),
    ]
    with book_kernel():
        nbclient.NotebookClient(nb, timeout=120, kernel_name="python3").execute()
    first, second = (cell.outputs for cell in nb.cells)
    text = "".join(output.get("text", "") for output in first)
    assert all(output.output_type == "stream" and output.name == "stdout" for output in first)
    assert "steps: 100%" in text and "3/3" in text
    assert second == []
