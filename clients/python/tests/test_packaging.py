"""The install commands of the README install what the examples import."""

from __future__ import annotations

import ast
import sys
from importlib.metadata import packages_distributions
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _imports(path: Path) -> set:
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


def test_the_examples_extra_installs_what_the_examples_import() -> None:
    tomllib = pytest.importorskip("tomllib")
    meta = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    declared = {d.split("[")[0].split(">")[0].split("=")[0].strip().lower()
                for d in meta["dependencies"] + meta["optional-dependencies"]["examples"]}
    local = {p.stem for p in (ROOT / "examples").glob("*.py")} | {"gradwatch"}
    dists = packages_distributions()
    imported = set().union(*(_imports(p) for p in (ROOT / "examples").glob("*.py")))
    third_party = imported - local - set(sys.stdlib_module_names) - {"__future__"}
    assert third_party, "the examples import nothing beyond the standard library?"
    for name in sorted(third_party):
        owners = {d.lower() for d in dists.get(name, [name])}
        assert owners & declared, f"examples import {name} ({owners}); the extra lacks it"
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "pip install 'gradwatch[examples]'" in readme
