"""environment.yml (Binder) and pyproject.toml list the same runtime packages and pins."""

import tomllib

import yaml
from packaging.requirements import Requirement

from conftest import ROOT


def _requirements(lines):
    return {Requirement(r).name.lower(): str(Requirement(r).specifier) for r in lines}


def test_binder_environment_agrees_with_pyproject():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip_lines = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    binder = _requirements(line for line in pip_lines if not line.startswith("-e"))
    assert binder == _requirements(project["dependencies"])
    assert "-e ." in pip_lines  # Binder installs mlnotes itself
    python = next(d for d in env["dependencies"] if isinstance(d, str) and d.startswith("python="))
    assert python == "python=3.11" and project["requires-python"].startswith(">=3.11")


def test_torch_is_pinned_to_the_local_cpu_build():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert "torch==2.13.0" in project["dependencies"]
