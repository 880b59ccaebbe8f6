"""Core warnings (SwanLab trouble, fallbacks, a β change on resume) as one line each on stderr."""

from __future__ import annotations

import logging
import sys


class OneLineFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return f"vae-tui: {record.levelname.lower()}: {record.getMessage()}"


def log_warnings_to_stderr() -> None:
    """For the front ends that own no screen (`--train-only`, `--eval`); the app shows toasts."""
    logger = logging.getLogger("vae_tui")
    if not any(getattr(h, "vae_tui", False) for h in logger.handlers):
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(OneLineFormatter())
        handler.vae_tui = True  # type: ignore[attr-defined]
        logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
