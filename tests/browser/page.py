"""A real browser on `vae-tui --serve`: Debian's chromium, headless, driven by Playwright over the
DevTools protocol; and the served process tree, read from /proc.

textual-serve draws the app with xterm.js on a canvas, so the page's text is read from xterm's
own buffer through the page's JavaScript. The bundle keeps its Terminal private; an init script
catches it as textual-serve's client stores it (`this.terminal = new Terminal(...)`).
Pages are opened with `wait_until="commit"`: the page links web fonts that are unreachable
offline, so "load" may come late and "network idle" never.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / ".artifacts" / "browser"
"""Screenshots the tests save (gitignored): what the page showed, to look at after a run."""
VAE_TUI = Path(sys.executable).parent / "vae-tui"
CHROMIUM = next((p for p in map(shutil.which, ("chromium", "chromium-browser")) if p), None)

CATCH_TERMINAL = """
Object.defineProperty(Object.prototype, 'terminal', {
  configurable: true,
  set(value) {
    Object.defineProperty(this, 'terminal', {value, writable: true, configurable: true, enumerable: true});
    window.__vaeTerminal = value;
  },
});
"""
SCREEN_TEXT = """() => {
  const t = window.__vaeTerminal; if (!t) return '';
  const b = t.buffer.active, rows = [];
  for (let y = 0; y < t.rows; y++) { const l = b.getLine(y); rows.push(l ? l.translateToString(true) : ''); }
  return rows.join('\\n');
}"""
IMAGE_CELLS = """() => {
  const t = window.__vaeTerminal; if (!t) return [0, 0];
  const b = t.buffer.active, cell = b.getNullCell(), colours = new Set(); let n = 0;
  for (let y = 0; y < t.rows; y++) {
    const l = b.getLine(y); if (!l) continue;
    for (let x = 0; x < t.cols; x++) {
      l.getCell(x, cell);
      if (cell.getChars() === '\u2580' && cell.isFgRGB() && cell.isBgRGB()) {
        n++; colours.add(cell.getFgColor()); colours.add(cell.getBgColor());
      }
    }
  }
  return [n, colours.size];
}"""


def need_browser() -> Any:
    """Playwright's sync API, or a skip that says what is missing."""
    if CHROMIUM is None:
        pytest.skip("chromium is not installed (apt install chromium; .ci/run does when it can)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("playwright is not installed (pip install -e '.[test]')")
    return sync_playwright


VIEWPORT = {"width": 1400, "height": 900}
"""A laptop's browser window: about 150×45 cells at the page's 16 px font."""


class Page:
    """One browser tab on the served app (in a context made with `VIEWPORT`)."""

    def __init__(self, context: Any, url: str) -> None:
        self.page = context.new_page()
        self.page.add_init_script(CATCH_TERMINAL)
        self.url = url
        self.page.goto(url, wait_until="commit")

    def text(self) -> str:
        return self.page.evaluate(SCREEN_TEXT) or ""

    def wait_text(self, pattern: str, timeout: float = 120.0) -> re.Match[str]:
        """The first match of `pattern` on the screen, waiting for it (the app starts in seconds)."""
        deadline = time.monotonic() + timeout
        while True:
            if found := re.search(pattern, self.text()):
                return found
            if time.monotonic() > deadline:
                raise AssertionError(f"{pattern!r} not on the page after {timeout:.0f} s:\n{self.text()}")
            self.page.wait_for_timeout(250)

    def image_cells(self) -> tuple[int, int]:
        """(half-block image cells drawn in true colour, distinct colours among them)."""
        n, colours = self.page.evaluate(IMAGE_CELLS)
        return int(n), int(colours)

    def press(self, *keys: str) -> None:
        self.page.locator(".xterm-helper-textarea").focus()
        for key in keys:
            self.page.keyboard.press(key)

    def reload(self) -> None:
        self.page.reload(wait_until="commit")

    def screenshot(self, name: str) -> Path:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        path = ARTIFACTS / f"{name}.png"
        self.page.screenshot(path=str(path))
        return path


class Served:
    """`vae-tui --serve --port 0 ...` in a subprocess; its console kept in a log file."""

    def __init__(self, log: Path, *args: str, cwd: Path | None = None) -> None:
        self.log = log
        self.proc = subprocess.Popen(
            [str(VAE_TUI), "--serve", "--port", "0", *args],
            stdin=subprocess.DEVNULL, stdout=log.open("ab"), stderr=subprocess.STDOUT, cwd=cwd,
        )  # fmt: skip
        self.url = self.wait_output(r"serving (http://\S+/)", timeout=180).group(1)

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def wait_output(self, pattern: str, timeout: float = 120.0) -> re.Match[str]:
        deadline = time.monotonic() + timeout
        while not (found := re.search(pattern, self.output())):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"{pattern!r} not in the server's output:\n{self.output()}")
            time.sleep(0.2)
        return found

    def end(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(120)
            except subprocess.TimeoutExpired:
                self.proc.kill()


def processes() -> Iterator[tuple[int, int, str]]:
    """(pid, session id, command line) of every process now."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        if fields[0] != "Z":  # a zombie has ended; only its parent has yet to read its status
            yield int(entry.name), int(fields[3]), cmdline


def mentioning(text: str) -> list[tuple[int, int, str]]:
    return [p for p in processes() if text in p[2]]


def wait_until(condition: Callable[[], Any], timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while not (value := condition()):
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout:.0f} s: {what}")
        time.sleep(0.2)
    return value
