"""Where core warnings (SwanLab trouble, fallbacks, a β change on resume) go: one line each on
stderr for the front ends that own no screen, a toast each in the app, which draws on it."""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable

LOGGER = "vae_tui"


class OneLineFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return f"vae-tui: {record.levelname.lower()}: {record.getMessage()}"


def log_warnings_to_stderr() -> None:
    """For the front ends that own no screen (`--train-only`, `--eval`); the app shows toasts."""
    logger = logging.getLogger(LOGGER)
    if not any(getattr(h, "vae_tui", False) for h in logger.handlers):
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(OneLineFormatter())
        handler.vae_tui = True  # type: ignore[attr-defined]
        logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False


class Notice(logging.Handler):
    """Hands each core warning's text to `say` (the app posts it as a toast): a line written to
    the terminal the app draws on would land in the middle of its screen."""

    def __init__(self, say: Callable[[str], object]) -> None:
        super().__init__(logging.INFO)
        self.say = say

    def emit(self, record: logging.LogRecord) -> None:
        self.say(record.getMessage())


def warnings_to(say: Callable[[str], object]) -> Callable[[], None]:
    """Send core warnings to `say` instead of any terminal, until the function returned is called."""
    logger = logging.getLogger(LOGGER)
    handler = Notice(say)
    logger.addHandler(handler)
    propagate, logger.propagate = logger.propagate, False

    def stop() -> None:
        logger.removeHandler(handler)
        logger.propagate = propagate

    return stop
