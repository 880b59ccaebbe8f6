"""The shape of the code, checked from the source files: imports go downward only, and modules
and functions stay small enough to read.

Imports are read with `ast`, not by importing: every `import` anywhere in a file counts (at the
top, inside functions and methods, under `if TYPE_CHECKING:`), because a lazy import is still a
dependency and an import circle held together by lazy imports is still a circle (issue 11's
`cli` ↔ `launch` was one).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator, Mapping
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PACKAGES = {"vae_tui": REPO / "vae_tui", "vae_tui.core": REPO / "core", "vae_tui.tui": REPO / "tui"}
"""Where each package's files are (pyproject's package-dir maps `core/` and `tui/` into vae_tui)."""

UI_LIBRARIES = ("textual", "rich", "rich_pixels", "textual_image", "textual_plot", "textual_hires_canvas")
MAX_MODULE_LINES = 300
MAX_FUNCTION_LINES = 60


# -- reading the source ----------------------------------------------------------------------------
def module_files(packages: Mapping[str, Path]) -> dict[str, Path]:
    """Dotted module name → file, for every .py file of each package (sub-packages included)."""
    modules: dict[str, Path] = {}
    for package, root in packages.items():
        for path in sorted(root.rglob("*.py")):
            parts = path.relative_to(root).with_suffix("").parts
            if parts[-1] == "__init__":
                parts = parts[:-1]
            folders = path.relative_to(root).parents
            if all((root / folder / "__init__.py").is_file() for folder in folders):  # no stray scripts
                modules[".".join((package, *parts))] = path
    return modules


def imported_names(name: str, path: Path) -> Iterator[str]:
    """Every name `path` imports, wherever in the file, relative imports resolved.

    `from package import x` yields `package.x`, whether `x` is a submodule or a name in the
    package: the caller, who knows which modules exist, takes the longest prefix that is one."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    is_package = path.name == "__init__.py"
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                # The package a relative import starts from: the module's own if it is a
                # package's __init__, else its parent; each further dot goes one level up.
                base = name.split(".")
                base = base[: len(base) - (node.level - 1) - (0 if is_package else 1)]
                source = ".".join([*base, *([node.module] if node.module else [])])
            else:
                source = node.module or ""
            yield from (source if alias.name == "*" else f"{source}.{alias.name}" for alias in node.names)


def import_graph(packages: Mapping[str, Path]) -> dict[str, set[str]]:
    """Module → the modules of `packages` it imports (anything else, e.g. torch, is left out).

    Only what a file names counts: importing `a.b.c` runs `a/__init__` and `a/b/__init__` too,
    but counting that would make every package whose __init__ imports a submodule look circular."""
    files = module_files(packages)
    graph: dict[str, set[str]] = {}
    for name, path in files.items():
        targets = set()
        for imported in imported_names(name, path):
            # `import a.b.c` or `from a.b import c`: the longest prefix that is one of our modules.
            parts = imported.split(".")
            for end in range(len(parts), 0, -1):
                if (candidate := ".".join(parts[:end])) in files:
                    targets.add(candidate)
                    break
        graph[name] = targets - {name}
    return graph


def external_imports(packages: Mapping[str, Path]) -> dict[str, set[str]]:
    """Module → every name it imports, resolved but unfiltered (for checks on third-party imports)."""
    return {name: set(imported_names(name, path)) for name, path in module_files(packages).items()}


def reachable(graph: Mapping[str, set[str]], start: str) -> set[str]:
    """Every module `start` imports, directly or through others."""
    seen: set[str] = set()
    todo = [start]
    while todo:
        for nxt in graph[todo.pop()] - seen:
            seen.add(nxt)
            todo.append(nxt)
    return seen


def find_cycles(graph: Mapping[str, set[str]]) -> list[list[str]]:
    """One circle per strongly connected group of modules, as a path `[a, b, …, a]`.

    Tarjan's algorithm finds the groups; a breadth-first search inside each gives a shortest
    circle through its first module, which is what a reader needs to break it."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)

    cycles = []
    for group in groups:
        members, start = set(group), group[0]
        came_from: dict[str, str] = {}
        frontier = [start]
        while frontier and start not in came_from:
            following = []
            for node in frontier:
                for nxt in sorted(graph[node] & members):
                    if nxt not in came_from:
                        came_from[nxt] = node
                        following.append(nxt)
            frontier = following
        path = [start]
        while (path[-1] != start or len(path) == 1) and len(path) <= len(group):
            path.append(came_from[path[-1]])
        cycles.append(path[::-1])
    return cycles


def oversized(packages: Mapping[str, Path]) -> list[str]:
    """Modules over MAX_MODULE_LINES lines and functions (methods, nested ones) over
    MAX_FUNCTION_LINES, from `def` to the last line, docstring included: what a reader must hold."""
    found = []
    for path in module_files(packages).values():
        text = path.read_text(encoding="utf-8")
        lines = len(text.splitlines())
        where = path.relative_to(REPO) if path.is_relative_to(REPO) else path
        if lines > MAX_MODULE_LINES:
            found.append(f"{where}: {lines} lines")
        for qualname, node in functions(ast.parse(text)):
            length = (node.end_lineno or node.lineno) - node.lineno + 1
            if length > MAX_FUNCTION_LINES:
                found.append(f"{where}:{node.lineno} {qualname}(): {length} lines")
    return found


def functions(
    node: ast.AST, prefix: str = ""
) -> Iterator[tuple[str, ast.FunctionDef | ast.AsyncFunctionDef]]:
    """Every function, method and nested function under `node`, with its dotted name."""
    for child in ast.iter_child_nodes(node):
        if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef):
            yield prefix + child.name, child
            yield from functions(child, f"{prefix}{child.name}.")
        elif isinstance(child, ast.ClassDef):
            yield from functions(child, f"{prefix}{child.name}.")
        else:
            yield from functions(child, prefix)


# -- the project -----------------------------------------------------------------------------------
def test_no_import_circle() -> None:
    graph = import_graph(PACKAGES)
    assert "vae_tui.core.train" in graph and "vae_tui.tui.widgets.views" in graph  # every file was read
    cycles = find_cycles(graph)
    assert not cycles, "import circles:\n" + "\n".join(" → ".join(c) for c in cycles)


def test_core_imports_nothing_of_the_ui() -> None:
    """core/ runs headless (SSH, CI, the benchmark): not even a lazy import of the UI."""
    offending = {
        module: sorted(
            name
            for name in names
            if name.split(".")[0] in UI_LIBRARIES or name == "vae_tui.tui" or name.startswith("vae_tui.tui.")
        )
        for module, names in external_imports(PACKAGES).items()
        if module.startswith("vae_tui.core")
    }
    offending = {module: names for module, names in offending.items() if names}
    assert not offending, f"core modules importing the UI: {offending}"


def test_cli_is_the_top() -> None:
    """cli dispatches into the front ends; nothing imports it back (only `python -m`'s __main__)."""
    graph = import_graph(PACKAGES)
    importers = sorted(m for m, targets in graph.items() if "vae_tui.tui.cli" in targets)
    assert importers == ["vae_tui.tui.__main__"]


def test_front_ends_stand_side_by_side() -> None:
    """The app, `--train-only` and `--eval` share core and the tui helpers, never each other,
    and no widget reaches up into a front end."""
    graph = import_graph(PACKAGES)
    front_ends = {f"vae_tui.tui.{name}" for name in ("app", "headless", "eval_report", "cli")}
    assert front_ends <= graph.keys()
    upward = {
        module: sorted(reachable(graph, module) & (front_ends - {module}))
        for module in graph
        if module in front_ends - {"vae_tui.tui.cli"} or module.startswith("vae_tui.tui.widgets")
    }
    upward = {module: names for module, names in upward.items() if names}
    assert not upward, f"imports of a front end from beside or below it: {upward}"


def test_modules_and_functions_are_small() -> None:
    """The issue's aim: no module over ~300 lines, no function over ~60, in core/ and tui/."""
    found = oversized(PACKAGES)
    assert not found, "over the size limits:\n" + "\n".join(found)


# -- the checker itself ----------------------------------------------------------------------------
def write(root: Path, files: Mapping[str, str]) -> None:
    for relative, text in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")


def test_a_circle_through_a_function_level_import_is_found(tmp_path: Path) -> None:
    write(
        tmp_path / "pkg",
        {
            "__init__.py": "",
            "a.py": "from . import b\n",
            "b.py": "from .sub.c import thing\n",
            "sub/__init__.py": "",
            # The way back up is a lazy import inside a method: still a circle.
            "sub/c.py": "class C:\n    def go(self):\n        from ..a import x\n        return x\n",
            "d.py": "import pkg.a\nfrom pkg import b\n",  # imports into the circle, not part of it
        },
    )
    graph = import_graph({"pkg": tmp_path / "pkg"})
    assert graph["pkg.a"] == {"pkg.b"} and graph["pkg.sub.c"] == {"pkg.a"}
    assert graph["pkg.d"] == {"pkg.a", "pkg.b"}
    assert find_cycles(graph) == [["pkg.a", "pkg.b", "pkg.sub.c", "pkg.a"]]


def test_type_checking_imports_count_and_a_clean_tree_passes(tmp_path: Path) -> None:
    files = {
        "__init__.py": "",
        "low.py": "import os\n",
        "high.py": "from typing import TYPE_CHECKING\nfrom .low import x\nif TYPE_CHECKING:\n    from . import top\n",
        "top.py": "from pkg import high\n",
    }
    write(tmp_path / "pkg", files)
    assert find_cycles(import_graph({"pkg": tmp_path / "pkg"})) == [["pkg.high", "pkg.top", "pkg.high"]]
    files["high.py"] = "from .low import x\n"
    write(tmp_path / "pkg", files)
    assert find_cycles(import_graph({"pkg": tmp_path / "pkg"})) == []


def test_size_check_names_long_modules_and_functions(tmp_path: Path) -> None:
    def block(indent: str, lines: int) -> str:
        return "".join(f"{indent}x{i} = {i}\n" for i in range(lines))

    method = f"class Printer:\n    def handle(self):\n{block(' ' * 8, MAX_FUNCTION_LINES - 1)}"  # 60: fine
    nested = f"def outer():\n    def inner():\n{block(' ' * 8, MAX_FUNCTION_LINES)}"  # 61 and 62
    write(
        tmp_path / "pkg",
        {
            "__init__.py": "",
            "ok.py": method,
            "nested.py": nested,
            "long.py": block("", MAX_MODULE_LINES + 1),
            "scripts/tool.py": block("", MAX_MODULE_LINES + 1),  # no __init__.py: not in the package
        },
    )
    root = tmp_path / "pkg"
    assert oversized({"pkg": root}) == [
        f"{root / 'long.py'}: {MAX_MODULE_LINES + 1} lines",
        f"{root / 'nested.py'}:1 outer(): {MAX_FUNCTION_LINES + 2} lines",
        f"{root / 'nested.py'}:2 outer.inner(): {MAX_FUNCTION_LINES + 1} lines",
    ]
    longer = f"class Printer:\n    x = 1\n\n\nclass Other:\n    def handle(self):\n{block(' ' * 8, MAX_FUNCTION_LINES)}"
    write(root, {"ok.py": longer})  # one line more, in a method of the second class
    assert f"{root / 'ok.py'}:6 Other.handle(): {MAX_FUNCTION_LINES + 1} lines" in oversized({"pkg": root})
