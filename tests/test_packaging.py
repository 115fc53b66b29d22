"""``requires-python`` says what installs: every dependency supports its lowest Python, and the
interpreter running the tests (CI's) satisfies it."""

from __future__ import annotations

import platform
import re
from importlib.metadata import PackageNotFoundError, metadata
from pathlib import Path

import tomllib
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet

ROOT = Path(__file__).resolve().parents[1]
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def _lowest() -> str:
    match = re.fullmatch(r">=\s*(\d+\.\d+)", PROJECT["requires-python"].strip())
    assert match, "requires-python must be a lower bound '>=X.Y'"
    return match.group(1)


def test_the_running_python_satisfies_requires_python() -> None:
    assert SpecifierSet(PROJECT["requires-python"]).contains(platform.python_version())


def test_every_dependency_installs_on_the_lowest_python() -> None:
    # e.g. zarr 3 needs Python 3.11, so ">=3.10" would promise an install that fails
    lowest = _lowest()
    checked = []
    for spec in PROJECT["dependencies"] + PROJECT["optional-dependencies"]["test"]:
        name = Requirement(spec).name
        try:
            needs = metadata(name).get("Requires-Python")
        except PackageNotFoundError:
            continue
        if needs:
            assert SpecifierSet(needs).contains(f"{lowest}.0"), \
                f"{name} needs Python {needs}; requires-python says >={lowest}"
            checked.append(name)
    assert "zarr" in checked and "numpy" in checked
