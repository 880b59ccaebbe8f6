"""Which screen the app draws on: the terminal (sized by stderr) or a browser page.

Textual draws on stderr but asks `shutil.get_terminal_size()` for the size, which reads
COLUMNS/LINES and then stdout: with stdout piped (`vae-tui | tee log`) the app drew at 80×24 in
a corner of a bigger terminal. This driver measures stderr first. Under `vae-tui --serve` the
app has pipes, not a terminal, and textual-serve's web driver (named in the environment) draws.
"""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the CLI asks `has_terminal` before anything imports Textual
    from textual.driver import Driver


WEB_DRIVER_VAR = "TEXTUAL_DRIVER"
"""How textual-serve (`vae-tui --serve`) tells the app it runs in a browser: it names Textual's
web driver here and connects the app by pipes, not a terminal."""


def in_browser() -> bool:
    """Whether this process draws into a browser page (textual-serve's web driver)."""
    return os.environ.get(WEB_DRIVER_VAR, "").endswith(":WebDriver")


def has_terminal() -> bool:
    """A screen to draw on: a terminal on stdin and stderr, or a browser page (`--serve`)."""
    return (sys.stdin.isatty() and sys.stderr.isatty()) or in_browser()


def terminal_driver() -> type[Driver] | None:
    """Textual's own driver, sized from stderr; None (Textual's default, or the web driver that
    textual-serve names in the environment) off POSIX or in a browser."""
    if sys.platform == "win32" or in_browser():
        return None
    from textual.drivers.linux_driver import LinuxDriver  # noqa: PLC0415 - POSIX only

    class StderrSizedDriver(LinuxDriver):
        def _get_terminal_size(self) -> tuple[int, int]:
            try:
                columns, lines = os.get_terminal_size(sys.__stderr__.fileno())
            except (AttributeError, ValueError, OSError):
                return super()._get_terminal_size()
            return (columns, lines) if columns and lines else super()._get_terminal_size()

    return StderrSizedDriver
