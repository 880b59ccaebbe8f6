"""The package as users install it: the built wheel holds everything the code imports and reads,
and a fresh venv outside the checkout runs the installed `vae-tui` from an empty folder.

An editable install hides a missing package or data file (it reads the checkout), so these
tests build the wheel offline (`--no-build-isolation`) from a copy of the source tree and use
only that wheel.
"""

from __future__ import annotations

import ast
import os
import re
import shutil
import signal
import subprocess
import sys
import sysconfig
import time
import urllib.request
import zipfile
from importlib.metadata import version
from pathlib import Path

import pytest

from vae_tui.core.data import FILE_NAMES

from ..terminal import run_in_terminal

ROOT = Path(__file__).resolve().parents[2]
SOURCE = {"vae_tui": ROOT / "vae_tui", "vae_tui.core": ROOT / "core", "vae_tui.tui": ROOT / "tui"}
"""Where each top package of the wheel lives in the checkout (pyproject's package-dir)."""
SKIP = shutil.ignore_patterns(
    ".venv", ".git", "runs", "build", "dist", "*.egg-info", "__pycache__", ".*cache"
)


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel built from a copy of the checkout (so the build leaves nothing in it)."""
    tmp = tmp_path_factory.mktemp("wheel")
    shutil.copytree(ROOT, tmp / "src", ignore=SKIP)
    command = [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation"]
    subprocess.run([*command, "-w", str(tmp / "dist"), str(tmp / "src")], check=True, timeout=300)
    (built,) = (tmp / "dist").glob("vae_tui-*.whl")
    return built


def wheel_path(source: Path) -> str:
    """The path inside the wheel of a file of the checkout."""
    for package, folder in sorted(SOURCE.items(), key=lambda kv: -len(str(kv[1]))):
        if source.is_relative_to(folder):
            return "/".join([*package.split("."), *source.relative_to(folder).parts])
    raise AssertionError(f"{source} is outside the package")


def imported_modules(path: Path, module: str) -> set[str]:
    """Every `vae_tui.*` name a module imports (also inside functions), relative ones resolved."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names if a.name.startswith("vae_tui"))
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{base}.{node.module}" if node.module else base
            else:
                base = node.module or ""
            if base.startswith("vae_tui"):
                names.add(base)
                names.update(f"{base}.{a.name}" for a in node.names)  # maybe submodules
    return names


def source_modules() -> dict[str, Path]:
    modules = {}
    for package, folder in SOURCE.items():
        for path in folder.rglob("*.py"):
            if package == "vae_tui" and path.parent != folder:
                continue
            parts = path.relative_to(folder).with_suffix("").parts
            name = ".".join([package, *parts]).removesuffix(".__init__")
            modules[name] = path
    return modules


def test_the_wheel_holds_every_module_and_data_file_the_code_uses(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    modules = source_modules()
    assert {"vae_tui", "vae_tui.tui.widgets.views", "vae_tui.core.train"} <= modules.keys()  # scan works

    missing = sorted(wheel_path(p) for p in modules.values() if wheel_path(p) not in names)
    assert not missing, f"modules not in the wheel: {missing}"
    imported = set().union(*(imported_modules(p, m) for m, p in modules.items()))
    unresolved = sorted(
        name
        for name in imported
        if name in modules and wheel_path(modules[name]) not in names  # (names that are attributes skip)
    )
    assert not unresolved and {"vae_tui.tui.widgets.views", "vae_tui.core.data"} <= imported

    # Files the code reads: stylesheets named in the source, and the bundled MNIST.
    read = {
        wheel_path(path.parent / match)
        for path in modules.values()
        for match in re.findall(r"[\"']([\w/]+\.tcss)[\"']", path.read_text())
    }
    read |= {f"vae_tui/core/mnist/{name}.gz" for name in FILE_NAMES}
    assert "vae_tui/tui/app.tcss" in read
    assert not read - names, f"data files not in the wheel: {sorted(read - names)}"
    assert not [n for n in names if n.startswith(("tests/", "benchmarks/", "assets/"))]

    entry_points = next(n for n in names if n.endswith(".dist-info/entry_points.txt"))
    assert "vae-tui = vae_tui.tui.cli:main" in zipfile.ZipFile(wheel).read(entry_points).decode()


def fresh_venv(wheel: Path, where: Path) -> Path:
    """A new venv outside the checkout with only the wheel installed in it; the heavy
    dependencies (torch, textual, …) come from this test venv through a .pth line, which
    (unlike a site dir) does not run this venv's editable-install hook."""
    venv = where / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True, capture_output=True, text=True,
    ).stdout.strip()  # fmt: skip
    ours = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
    Path(site, "deps-from-test-venv.pth").write_text("\n".join(sorted(ours)) + "\n")
    subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "--quiet", "--no-deps",
         "--no-index", str(wheel)],
        check=True, timeout=300,
    )  # fmt: skip
    return venv


def clean_env(venv: Path, home: Path) -> dict[str, str]:
    """As a new user's shell: an empty home and cache, downloads disabled, no checkout on the path."""
    env = {k: v for k, v in os.environ.items() if k not in {"PYTHONPATH", "COLUMNS", "LINES", "VIRTUAL_ENV"}}
    env.update(
        PATH=f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}",
        HOME=str(home),
        XDG_CACHE_HOME=str(home / ".cache"),
        VAE_TUI_CACHE=str(home / ".cache" / "vae-tui"),
        VAE_TUI_NO_DOWNLOAD="1",
        TERM="xterm-256color",
    )
    return env


@pytest.mark.slow
def test_the_wheel_installs_and_runs_outside_the_checkout(wheel: Path, tmp_path: Path) -> None:
    venv = fresh_venv(wheel, tmp_path)
    home, work = tmp_path / "home", tmp_path / "work"
    home.mkdir()
    work.mkdir()
    env = clean_env(venv, home)
    vae_tui = str(venv / "bin" / "vae-tui")

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            [vae_tui, *args], check=False, cwd=work, env=env, capture_output=True, text=True, timeout=600
        )
        assert done.returncode == 0, f"vae-tui {' '.join(args)}: {done.stderr}"
        assert "Traceback" not in done.stderr
        return done

    where = subprocess.run(
        [str(venv / "bin" / "python"), "-c",
         "import vae_tui, vae_tui.core.data as d; print(vae_tui.__file__); print(d.BUNDLED_MNIST)"],
        cwd=work, env=env, capture_output=True, text=True, check=True,
    ).stdout.split("\n")  # fmt: skip
    assert Path(where[0]).is_relative_to(venv) and Path(where[1]).is_relative_to(venv), where

    assert "--train-only" in run("--help").stdout
    assert run("--version").stdout.strip() == f"vae-tui {version('vae-tui')}"
    trained = run("--train-only", "--epochs", "1", "--train-limit", "2000", "--test-limit", "500",
                  "--swanlab", "disabled").stdout  # fmt: skip
    assert "--- Epoch [1/1] Summary ---" in trained
    (checkpoint,) = work.glob("runs/*/checkpoint.pt")
    # The data came from the wheel's package data, installed (decompressed) into the empty cache.
    assert sorted(p.name for p in (home / ".cache/vae-tui/datasets/mnist").iterdir()) == sorted(FILE_NAMES)

    drawn = run_in_terminal([vae_tui, "--checkpoint", str(checkpoint.relative_to(work))], work, env,
                            keys=b"q", until="Reconstructions")  # fmt: skip
    assert "Browsing" in drawn

    # --serve from the installed tool: textual-serve's page and its static files come from the
    # venv, and Ctrl-C ends it cleanly. (A real browser on it: tests/browser/test_serve.py.)
    log = tmp_path / "serve.log"
    server = subprocess.Popen([vae_tui, "--serve", "--port", "0", "--checkpoint", str(checkpoint)],
                              cwd=work, env=env, stdin=subprocess.DEVNULL, stdout=log.open("wb"),
                              stderr=subprocess.STDOUT)  # fmt: skip
    try:
        deadline = time.monotonic() + 120
        while not (found := re.search(r"serving (http://\S+/)", log.read_text())):
            assert server.poll() is None and time.monotonic() < deadline, log.read_text()
            time.sleep(0.2)
        url = found.group(1)
        page = urllib.request.urlopen(url, timeout=60).read().decode()
        assert f"ws://{url.removeprefix('http://')}ws" in page and "js/textual.js" in page
        script = urllib.request.urlopen(f"{url}static/js/textual.js", timeout=60).read()
        assert len(script) > 100_000  # xterm.js and textual-serve's client
    finally:
        server.send_signal(signal.SIGINT)
        assert server.wait(60) == 0, log.read_text()
    assert "Traceback" not in log.read_text()
