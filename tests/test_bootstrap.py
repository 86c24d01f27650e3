"""The Colab set-up cell, run as a fresh kernel would: first run, restart, foreign folder.

Each run is a new Python process, which is what a kernel restart gives: the working folder is
the one the notebook started in, and only files on disk survive. The repository is served from
a local bare clone (no network), and pip runs as a dry run whose JSON report says what it
would install, so the test environment is left alone.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import nbclient
import nbformat
import pytest

from tools.bookconfig import ROOT
from tools.bootstrap import bootstrap_source

pytestmark = pytest.mark.timeout(300)

BRANCH = "book"


def git(*args: str, cwd: Path = ROOT) -> str:
    return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=True).stdout.strip()


@pytest.fixture(scope="module")
def remote(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A bare repository holding the committed state of this checkout on the branch ``book``."""
    bare = tmp_path_factory.mktemp("remote") / "xmr.git"
    git("init", "--quiet", "--bare", str(bare))
    git("push", "--quiet", str(bare), f"HEAD:refs/heads/{BRANCH}")
    return bare


def run_cell(cwd: Path, remote: Path, report: Path, extra_env: dict[str, str] | None = None):
    """Run the set-up cell in a new process (a fresh or restarted kernel) started in ``cwd``."""
    env = {
        **os.environ,
        "XMR_REPO_URL": str(remote),
        "XMR_REF": BRANCH,
        "PIP_DRY_RUN": "1",
        "PIP_NO_BUILD_ISOLATION": "0",
        "PIP_NO_INDEX": "1",
        "PIP_REPORT": str(report),
        **(extra_env or {}),
    }
    program = bootstrap_source() + "\nimport xmr_lite\nprint('CWD', os.getcwd())\nprint('LIB', xmr_lite.__file__)\n"
    return subprocess.run([sys.executable, "-c", program], cwd=cwd, env=env, capture_output=True, text=True)


def would_install(report: Path) -> list[str]:
    return [item["metadata"]["name"] for item in json.loads(report.read_text(encoding="utf-8"))["install"]]


def test_first_run_clones_installs_and_a_restart_keeps_the_clone(tmp_path, remote):
    work = tmp_path / "content"
    work.mkdir()
    result = run_cell(work, remote, tmp_path / "first.json")
    assert result.returncode == 0, result.stderr
    clone = work / "xmr"
    assert git("rev-parse", "--abbrev-ref", "HEAD", cwd=clone) == BRANCH
    assert f"CWD {clone / 'chapters'}" in result.stdout
    assert f"LIB {clone / 'xmr_lite' / '__init__.py'}" in result.stdout
    assert would_install(tmp_path / "first.json") == ["xmr-lite"]  # Colab's torch and the rest stay

    survivor = clone / "chapters" / "written-before-the-restart.txt"
    survivor.write_text("kept", encoding="utf-8")
    result = run_cell(work, remote, tmp_path / "second.json")  # Restart, then Run all
    assert result.returncode == 0, result.stderr
    assert "Using the clone already in" in result.stdout
    assert survivor.read_text(encoding="utf-8") == "kept"  # not cloned again
    assert f"CWD {clone / 'chapters'}" in result.stdout
    assert would_install(tmp_path / "second.json") == ["xmr-lite"]  # the dry run installed nothing: ask again


def clone_into(work: Path, remote: Path) -> Path:
    """What a first run leaves behind: ``work/xmr``, a clone of ``remote``."""
    work.mkdir()
    git("clone", "--quiet", "--branch", BRANCH, str(remote), str(work / "xmr"), cwd=work)
    return work / "xmr"


def fake_installation(site: Path, clone: Path) -> dict[str, str]:
    """Metadata of an editable ``xmr-lite`` installed from ``clone``, as pip leaves it; the env that finds it."""
    info = site / "xmr_lite-0.1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: xmr-lite\nVersion: 0.1.0\n", encoding="utf-8")
    direct_url = {"url": clone.resolve().as_uri(), "dir_info": {"editable": True}}
    (info / "direct_url.json").write_text(json.dumps(direct_url), encoding="utf-8")
    return {"PYTHONPATH": str(site)}


def test_restart_skips_pip_when_this_clone_is_installed(tmp_path, remote):
    clone = clone_into(tmp_path / "content", remote)
    env = fake_installation(tmp_path / "site", clone)
    result = run_cell(clone.parent, remote, tmp_path / "report.json", env)
    assert result.returncode == 0, result.stderr
    assert not (tmp_path / "report.json").exists()  # pip was not run
    assert f"CWD {clone / 'chapters'}" in result.stdout


def test_an_installation_from_another_folder_is_replaced(tmp_path, remote):
    clone = clone_into(tmp_path / "content", remote)
    env = fake_installation(tmp_path / "site", tmp_path / "elsewhere")
    result = run_cell(clone.parent, remote, tmp_path / "report.json", env)
    assert result.returncode == 0, result.stderr
    assert would_install(tmp_path / "report.json") == ["xmr-lite"]


def test_inside_a_checkout_without_installation_the_library_becomes_importable(tmp_path):
    """Binder and conda install the lock but not xmr_lite itself; python -S hides the installed one."""
    program = bootstrap_source() + "\nprint('ORIGIN', importlib.util.find_spec('xmr_lite').origin)\n"
    env = {**os.environ, "XMR_REPO_URL": str(tmp_path / "must-not-be-cloned")}
    result = subprocess.run(
        [sys.executable, "-S", "-c", program], cwd=ROOT / "chapters", env=env, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    assert f"ORIGIN {ROOT / 'xmr_lite' / '__init__.py'}" in result.stdout
    assert not any(tmp_path.iterdir())


@pytest.mark.parametrize("kind", ["plain folder", "other repository"])
def test_a_foreign_xmr_folder_stops_the_cell_untouched(tmp_path, remote, kind):
    work = tmp_path / "content"
    foreign = work / "xmr"
    foreign.mkdir(parents=True)
    (foreign / "notes.txt").write_text("mine", encoding="utf-8")
    if kind == "other repository":
        git("init", "--quiet", cwd=foreign)
        git("remote", "add", "origin", "https://example.org/someone/else.git", cwd=foreign)
    result = run_cell(work, remote, tmp_path / "report.json")
    assert result.returncode != 0
    assert "is not a clone of" in result.stderr and str(remote) in result.stderr
    assert sorted(p.name for p in foreign.iterdir() if p.name != ".git") == ["notes.txt"]
    assert not (tmp_path / "report.json").exists()


def test_restart_then_run_all_of_a_notebook_outside_the_repository(tmp_path, remote, monkeypatch):
    """Two fresh kernels run the same notebook one after the other in one folder: clone, then keep."""
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell(bootstrap_source()),
        nbformat.v4.new_code_cell("import xmr_lite\nprint(os.getcwd(), xmr_lite.__file__)"),
    ]
    work = tmp_path / "content"
    work.mkdir()
    clone = work / "xmr"
    monkeypatch.setenv("XMR_REPO_URL", str(remote))  # the kernel inherits the environment
    monkeypatch.setenv("XMR_REF", BRANCH)
    # xmr-lite shows as installed from the clone to come, so that the kernels skip pip (tested above)
    monkeypatch.setenv("PYTHONPATH", fake_installation(tmp_path / "site", clone)["PYTHONPATH"])
    for _ in range(2):  # Run all, then Restart and Run all
        executed = nbclient.execute(nbformat.from_dict(nb), cwd=str(work), timeout=240)
        printed = executed.cells[1].outputs[0]["text"]
        assert printed.split() == [str(clone / "chapters"), str(clone / "xmr_lite" / "__init__.py")]
