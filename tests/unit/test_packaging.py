"""Packaging: what the code imports is what pyproject declares.

A local venv with an extra package installed by hand hides an undeclared dependency until a
fresh clone fails to import the app; this test catches that on any machine.
"""

from __future__ import annotations

import ast
import re
import sys
from importlib.metadata import packages_distributions
from pathlib import Path

import pytest

tomllib = pytest.importorskip("tomllib", reason="tomllib is Python >= 3.11")

ROOT = Path(__file__).resolve().parents[2]


def _imported_top_level(folder: Path) -> set[str]:
    names: set[str] = set()
    for path in folder.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.Import):
                names.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.add(node.module.split(".")[0])
    return names


def _normalise(dist: str) -> str:
    return re.sub(r"[-_.]+", "-", dist).lower()


def _declared(section: list[str]) -> set[str]:
    return {_normalise(re.split(r"[<>=!~\[; ]", req, maxsplit=1)[0]) for req in section}


def test_every_third_party_import_of_the_package_is_a_runtime_dependency() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    declared = _declared(project["dependencies"])
    dists = packages_distributions()
    imported = _imported_top_level(ROOT / "core") | _imported_top_level(ROOT / "tui")
    third_party = {m for m in imported if m not in sys.stdlib_module_names and m != "vae_tui"}
    assert {"torch", "textual", "swanlab"} <= third_party  # the scan itself works
    missing = {
        module: dists.get(module, [module])
        for module in third_party
        if not {_normalise(d) for d in dists.get(module, [module])} & declared
    }
    assert not missing, f"imported but not in [project].dependencies: {missing}"


def test_core_never_imports_the_ui_libraries() -> None:
    imported = _imported_top_level(ROOT / "core")
    assert not imported & {"textual", "textual_plot", "textual_hires_canvas", "rich_pixels"}
