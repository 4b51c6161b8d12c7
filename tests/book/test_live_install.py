"""The live path outside the site: Colab's install cell and Binder's environment (issue 13).

- Every chapter's first code cell installs the package in Colab only, from ``repository.url``
  in ``_config.yml``, and does nothing elsewhere (run through IPython's own transformer).
- The install command works against a local clone (``git+file://``) in a fresh venv that
  already has torch, numpy and the other runtime packages (as Colab has): pip installs only
  the book's package and keeps them.
- Binder's pip part (the pip section of binder/environment.yml, then binder/postBuild) builds into a fresh venv
  from a clean clone, and a chapter runs there with live explorers. It prints the
  environment's installed size (quoted in the README).

The last two need git and the package index; they are marked ``book`` (run by ``make test``).
"""

import json
import os
import re
import shutil
import subprocess
import sys
import time
import types
from pathlib import Path

import pytest
import yaml

from conftest import ROOT
from bookkit.execute import toc_notebooks

CHAPTERS = toc_notebooks()
IDS = [p.relative_to(ROOT).with_suffix("").as_posix() for p in CHAPTERS]
GUARD = 'if "google.colab" in sys.modules and importlib.util.find_spec("mlnotes") is None:'
PIP_LINE = re.compile(r'^\s+%pip install -q "runnable-ml-notes @ git\+(?P<url>[^"\s]+)"\s*$', re.M)
SITE = f"lib/python{sys.version_info.major}.{sys.version_info.minor}/site-packages"


def repository_url() -> str:
    return yaml.safe_load((ROOT / "_config.yml").read_text())["repository"]["url"]


def first_code_cell(path: Path) -> dict:
    nb = json.loads(path.read_text())
    return next(c for c in nb["cells"] if c["cell_type"] == "code")


def run_install_cell(source: str, in_colab: bool, installed: bool) -> list[tuple[str, str]]:
    """Execute the cell as IPython would (magics transformed), with a recording shell."""
    from IPython.core.inputtransformer2 import TransformerManager

    calls = []
    shell = types.SimpleNamespace(run_line_magic=lambda name, line: calls.append((name, line)))
    fake_modules = dict(sys.modules)
    if in_colab:
        fake_modules["google.colab"] = types.ModuleType("google.colab")
    else:
        fake_modules.pop("google.colab", None)
    fake_sys = types.SimpleNamespace(modules=fake_modules)
    fake_util = types.SimpleNamespace(find_spec=lambda name: object() if installed else None)
    code = TransformerManager().transform_cell(source)
    namespace = {"get_ipython": lambda: shell}
    # the cell imports importlib.util and sys; give it the patched ones
    code = code.replace("import importlib.util, sys", "pass")
    exec(compile(code, "colab-install", "exec"),
         {**namespace, "sys": fake_sys, "importlib": types.SimpleNamespace(util=fake_util)})
    return calls


@pytest.mark.parametrize("path", CHAPTERS, ids=IDS)
def test_every_chapter_installs_the_package_in_colab_only(path):
    cell = first_code_cell(path)
    source = "".join(cell["source"])
    assert {"colab-install", "remove-cell"} <= set(cell["metadata"].get("tags", [])), path.name
    assert GUARD in source, f"{path.name}: the install cell lacks the Colab-only guard"
    match = PIP_LINE.search(source)
    assert match, f"{path.name}: no quiet `%pip install -q \"runnable-ml-notes @ git+...\"` line"
    assert match["url"] == repository_url(), f"{path.name}: installs from {match['url']}, not _config.yml's"
    assert run_install_cell(source, in_colab=False, installed=False) == []
    assert run_install_cell(source, in_colab=True, installed=True) == []
    (call,) = run_install_cell(source, in_colab=True, installed=False)
    assert call == ("pip", f'install -q "runnable-ml-notes @ git+{repository_url()}"')


def clean_clone(tmp_path: Path) -> Path:
    clone = tmp_path / "repo"
    subprocess.run(["git", "clone", "-q", str(ROOT), str(clone)], check=True)
    return clone


def fresh_venv(where: Path) -> Path:
    """A new venv with a current pip (as Colab and Binder have; the pip that ships with
    Python 3.11 cannot parse a ``name @ git+file:///...`` requirement)."""
    subprocess.run([sys.executable, "-m", "venv", str(where)], check=True)
    result = pip(where, "install", "-q", "--upgrade", "pip")
    assert result.returncode == 0, result.stderr[-2000:]
    return where


def pip(venv: Path, *args: str, **kwargs) -> subprocess.CompletedProcess:
    env = {**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    env.pop("PYTHONPATH", None)
    return subprocess.run([str(venv / "bin" / "python"), "-m", "pip", *args], capture_output=True, text=True,
                          env=env, **kwargs)


@pytest.mark.book
def test_git_install_keeps_the_torch_and_numpy_already_there(tmp_path):
    import numpy
    import torch

    clone = clean_clone(tmp_path)
    # "Colab": a venv that already has torch, numpy and the other runtime packages (those of
    # this project's .venv, without the book's own package), visible through a .pth file.
    preinstalled = tmp_path / "preinstalled"
    preinstalled.mkdir()
    source_site = Path(torch.__file__).parents[1]
    for entry in source_site.iterdir():
        if not re.match(r"(runnable_ml_notes|mlnotes|__editable__)", entry.name):
            (preinstalled / entry.name).symlink_to(entry)
    venv = fresh_venv(tmp_path / "venv")
    (venv / SITE / "preinstalled.pth").write_text(f"{preinstalled}\n")
    result = pip(venv, "install", "-q", f"runnable-ml-notes @ git+file://{clone}")
    assert result.returncode == 0, result.stderr[-3000:]
    own = {p.name.split("-")[0].lower() for p in (venv / SITE).glob("*.dist-info")}
    assert "runnable_ml_notes" in own
    replaced = own & {"torch", "numpy", "scipy", "matplotlib", "ipywidgets", "scikit_learn", "xgboost"}
    assert not replaced, f"pip replaced the environment's own {sorted(replaced)}"
    probe = ("import mlnotes, mlnotes.widgets, torch, numpy; "
             "print(mlnotes.__file__, torch.__version__, numpy.__version__, torch.__file__)")
    out = subprocess.run([str(venv / "bin" / "python"), "-c", probe], capture_output=True, text=True,
                         env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"}, check=True).stdout.split()
    assert out[0].startswith(str(venv)), f"mlnotes imported from {out[0]}, not the fresh install"
    assert (out[1], out[2]) == (torch.__version__, numpy.__version__)
    assert out[3].startswith(str(preinstalled)), "torch must be the one that was already there"


def _requirements_here(clone: Path) -> Path:
    """The pip section of binder/environment.yml as a requirements file, minus its torch CPU
    index line: this machine installs the same torch==2.13.0+cpu wheel from its local wheel
    folder (the CPU index is not reachable here). Python 3.11 is the venv's own."""
    env = yaml.safe_load((clone / "binder" / "environment.yml").read_text())
    assert "python=3.11" in env["dependencies"] and sys.version_info[:2] == (3, 11)
    lines = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    assert "--extra-index-url https://download.pytorch.org/whl/cpu" in lines
    here = clone / "binder-requirements-here.txt"
    here.write_text("\n".join(line for line in lines if not line.startswith("--extra-index-url")) + "\n")
    return here


def _size_mb(path: Path) -> float:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file() and not f.is_symlink()) / 1e6


@pytest.mark.book
def test_binder_environment_builds_and_runs_a_chapter(tmp_path):
    clone = clean_clone(tmp_path)
    venv = fresh_venv(tmp_path / "binder-venv")
    start = time.perf_counter()
    result = pip(venv, "install", "-q", "-r", str(_requirements_here(clone)))
    assert result.returncode == 0, result.stderr[-3000:]
    env = {**os.environ, "PATH": f"{venv / 'bin'}:{os.environ['PATH']}"}
    for name in ("PYTHONPATH", "MLNOTES_STATIC_EXPLORERS", "IPYTHONDIR", "VIRTUAL_ENV"):
        env.pop(name, None)
    subprocess.run(["bash", "binder/postBuild"], cwd=clone, env=env, check=True, capture_output=True)
    size = _size_mb(venv)
    print(f"Binder environment (CPU torch): {size:.0f} MB installed, built in {time.perf_counter() - start:.0f} s")
    freeze = pip(venv, "freeze").stdout.lower()
    assert "nvidia" not in freeze and "torch==2.13.0+cpu" in freeze and "xgboost-cpu==" in freeze
    assert size < 2000, f"Binder environment is {size:.0f} MB"
    chapter = "chapters/classical/ensembles.ipynb"
    runner = (
        "import nbformat, nbclient, sys\n"
        f"nb = nbformat.read('{chapter}', as_version=4)\n"
        "nbclient.NotebookClient(nb, timeout=600, kernel_name='python3',\n"
        "    resources={'metadata': {'path': 'chapters/classical'}}).execute()\n"
        "errors = [o for c in nb.cells for o in c.get('outputs', []) if o.output_type == 'error']\n"
        "widgets = [o for c in nb.cells for o in c.get('outputs', [])\n"
        "           if 'application/vnd.jupyter.widget-view+json' in o.get('data', {})]\n"
        "print(len(errors), len(widgets))\n")
    out = subprocess.run([str(venv / "bin" / "python"), "-c", runner], cwd=clone, env=env, capture_output=True,
                         text=True, timeout=900)
    assert out.returncode == 0, out.stderr[-3000:]
    n_errors, n_widgets = map(int, out.stdout.split()[-2:])
    assert n_errors == 0 and n_widgets >= 1, out.stdout  # the explorer is a live widget there
    shutil.rmtree(venv, ignore_errors=True)
