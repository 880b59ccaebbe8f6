"""`--graphics`: how images reach the terminal, decided once, before the App starts.

textual-image asks the terminal what it supports (escape sequences on stdout, replies read from
stdin) when it is imported. Once Textual reads stdin those replies would arrive as key presses,
so the probe runs here, before the App exists, and only when a protocol was asked for: the
default (half-block), `--help`, `--train-only` and headless runs never import it.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass

GRAPHICS_CHOICES = ("auto", "halfblock", "kitty", "sixel")
DEFAULT_CELL = (10, 20)  # textual-image's own guess (a VT340 cell) when the terminal won't say


@dataclass(frozen=True)
class Support:
    """What the terminal answered: which protocols work, and a cell's size in pixels."""

    sixel: bool = False
    kitty: bool = False
    cell: tuple[int, int] = DEFAULT_CELL
    reason: str = "the terminal does not support it"
    """Why no protocol is available, for the notice."""


@dataclass(frozen=True)
class Graphics:
    """The renderer in use: `halfblock` (our HalfBlockView) or a protocol through textual-image."""

    kind: str = "halfblock"
    cell: tuple[int, int] = (1, 2)
    """Pixels per terminal cell: half-block cells hold 1×2; a protocol gets the real cell size."""
    notice: str = ""
    """Said once in the app when an explicit protocol had to fall back to half-block."""

    @property
    def protocol(self) -> bool:
        return self.kind != "halfblock"


HALFBLOCK = Graphics()


def choose(requested: str, support: Support) -> Graphics:
    """`auto` takes a protocol only where it works; an explicit one that doesn't falls back to
    half-block with a notice (never a crash, never escape codes drawn as text)."""
    if requested == "halfblock":
        return HALFBLOCK
    if requested == "auto":
        kind = "sixel" if support.sixel else "kitty" if support.kitty else ""
        return Graphics(kind, support.cell) if kind else HALFBLOCK
    if getattr(support, requested):
        return Graphics(requested, support.cell)
    return Graphics(notice=f"--graphics {requested}: {support.reason}; images are drawn in half-block cells")


def same_terminal() -> str:
    """Why a protocol cannot be used on these streams ('' if it can).

    textual-image queries through stdin/stdout and sends kitty images to stdout, while Textual
    draws on stderr: all three must be the one terminal (not `vae-tui | tee log`)."""
    try:
        streams = [sys.__stdin__, sys.__stdout__, sys.__stderr__]
        if not all(s is not None and s.isatty() for s in streams):
            return "stdin, stdout and stderr are not all the terminal"
        devices = {os.fstat(s.fileno()).st_rdev for s in streams if s is not None}
    except (AttributeError, ValueError, OSError):
        return "the terminal could not be queried"
    return "" if len(devices) == 1 else "stdout is not the terminal the app draws on"


def kitty_placeholders() -> bool:
    """Whether the terminal takes kitty images placed by Unicode placeholders, the only way
    textual-image places them in Textual (kitty ≥ 0.28). Debian 12's kitty 0.26 answers yes to
    the protocol, rejects the placement and shows a box per cell; it does not answer this."""
    from textual_image._terminal import TerminalError, capture_terminal_response  # noqa: PLC0415
    from textual_image.renderable.tgp import _send_tgp_message  # noqa: PLC0415

    try:
        with capture_terminal_response("\x1b_G", "\x1b\\", timeout=0.1) as response:
            _send_tgp_message(i=31, s=1, v=1, a="q", t="d", f=24, U=1, payload="AAAA")
    except (TerminalError, TimeoutError):
        return False
    return response.sequence.endswith(";OK\x1b\\")


def probe(requested: str) -> Support:
    """Import textual-image, which queries the terminal (~0.1–0.3 s), and read its answers."""
    if reason := same_terminal():
        return Support(reason=reason)
    try:
        import textual_image.widget  # noqa: F401, PLC0415 - this import *is* the terminal query
        from textual_image._terminal import get_cell_size  # noqa: PLC0415 - cached by the import
        from textual_image.renderable import Image, SixelImage, TGPImage, tgp  # noqa: PLC0415

        sixel = Image is SixelImage
        # It asks for kitty's protocol only when sixel is missing; a terminal with both may be
        # asked again (still before the App starts) when kitty is what the user wants.
        kitty = Image is TGPImage or (requested == "kitty" and sixel and tgp.query_terminal_support())
        placeholders = kitty and kitty_placeholders()
        width, height = get_cell_size()
    except Exception as e:  # noqa: BLE001 - a failed probe (termios, odd replies) means half-block
        return Support(reason=f"the terminal could not be queried ({type(e).__name__})")
    if width <= 0 or height <= 0:
        return Support(reason="the terminal did not report its cell size")
    reason = "the terminal lacks kitty's Unicode placeholders (kitty 0.28+)" if kitty else Support.reason
    return Support(sixel=sixel, kitty=placeholders, cell=(width, height), reason=reason)


def resolve(requested: str) -> Graphics:
    """The renderer for `--graphics requested` on this terminal."""
    return HALFBLOCK if requested == "halfblock" else choose(requested, probe(requested))
