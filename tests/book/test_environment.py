"""The three environment files agree: pyproject.toml (compatible ranges), constraints.txt
(the exact versions make and CI install) and binder/environment.yml (Binder: the same pins,
torch's CPU build from its CPU index, xgboost's CPU-only build, no local package)."""

import tomllib

import yaml

from packaging.requirements import Requirement
from packaging.version import Version

from conftest import ROOT

PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
CPU_INDEX = "https://download.pytorch.org/whl/cpu"
# Binder installs the CPU-only build of these (same import name, no CUDA/NCCL libraries).
BINDER_NAMES = {"xgboost": "xgboost-cpu"}


def _lines(path):
    return [line.strip() for line in path.read_text().splitlines() if line.strip() and not line.startswith("#")]


def binder_pip_lines():
    env = yaml.safe_load((ROOT / "binder" / "environment.yml").read_text())
    return next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))


def _pins(lines):
    pins = {}
    for line in lines:
        if line.startswith("-"):
            continue
        req = Requirement(line)
        (spec,) = req.specifier
        assert spec.operator == "==", f"{line}: pin an exact version"
        pins[req.name.lower()] = spec.version
    return pins


def test_runtime_dependencies_are_ranges_not_pins():
    for line in PROJECT["dependencies"]:
        req = Requirement(line)
        assert not any(s.operator in ("==", "===") for s in req.specifier), (
            f"{line}: an exact pin would replace Colab's own copy; pins go to constraints.txt")


def test_constraints_pin_every_runtime_dependency_inside_its_range():
    pins = _pins(_lines(ROOT / "constraints.txt"))
    for line in PROJECT["dependencies"]:
        req = Requirement(line)
        assert req.name.lower() in pins, f"constraints.txt does not pin {req.name}"
        assert req.specifier.contains(Version(pins[req.name.lower()])), (
            f"constraints.txt pins {req.name}=={pins[req.name.lower()]}, outside pyproject's {req.specifier}")


def test_binder_requirements_match_constraints_with_cpu_builds():
    lines = binder_pip_lines()
    binder = _pins(lines)
    pins = _pins(_lines(ROOT / "constraints.txt"))
    for name, version in pins.items():
        binder_name = BINDER_NAMES.get(name, name)
        assert binder_name in binder, f"binder/environment.yml lacks {binder_name}"
        expected = f"{version}+cpu" if name == "torch" else version
        assert binder[binder_name] == expected, f"binder pins {binder_name}=={binder[binder_name]}, want {expected}"
    assert f"--extra-index-url {CPU_INDEX}" in lines  # torch's CPU wheel index: no CUDA libraries
    assert not any(n.startswith("nvidia") for n in binder)
    assert binder["jupyterlab-myst"] and binder["jupyterlab"]  # MyST renders in Binder's JupyterLab


def test_binder_installs_the_package_after_the_cached_layer():
    lines = binder_pip_lines()
    assert not any(line.startswith("-e") or line in (".", "./") or "runnable-ml-notes" in line for line in lines)
    post_build = (ROOT / "binder" / "postBuild")
    assert post_build.stat().st_mode & 0o111, "binder/postBuild must be executable"
    assert "pip install --no-cache-dir --no-deps ." in post_build.read_text()
    env = yaml.safe_load((ROOT / "binder" / "environment.yml").read_text())
    assert "python=3.11" in env["dependencies"]
    assert not (ROOT / "environment.yml").exists(), "repo2docker reads binder/ only; a root environment.yml misleads"
    assert sorted(p.name for p in (ROOT / "binder").iterdir()) == ["environment.yml", "postBuild"]  # one home


def test_distribution_name_is_free_of_the_taken_one():
    assert PROJECT["name"] == "runnable-ml-notes"  # "mlnotes" on PyPI is an unrelated package
    assert PROJECT["requires-python"].startswith(">=3.11") and "<" not in PROJECT["requires-python"]


def test_dev_extras_pin_the_live_notebook_tools():
    dev = {Requirement(r).name.lower(): str(Requirement(r).specifier) for r in PROJECT["optional-dependencies"]["dev"]}
    assert dev["jupyterlab"].startswith("==") and dev["jupyterlab-myst"].startswith("==")
