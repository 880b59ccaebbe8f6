"""Size the screen by the terminal Textual draws on.

Textual draws on stderr but asks `shutil.get_terminal_size()` for the size, which reads
COLUMNS/LINES and then stdout: with stdout piped (`vae-tui | tee log`) the app drew at 80×24 in
a corner of a bigger terminal. This driver measures stderr first.
"""

from __future__ import annotations

import os
import sys

from textual.driver import Driver


def terminal_driver() -> type[Driver] | None:
    """Textual's own driver, sized from stderr; None (Textual's default) off POSIX."""
    if sys.platform == "win32":
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
