"""From parsed flags to what a front end runs: the config and, for --resume, the checkpoint."""

from __future__ import annotations

import argparse
import logging
import sys
from typing import Any

from vae_tui.core.config import TrainConfig, default_run_dir

from .cli import config_overrides


def plan_run(args: argparse.Namespace) -> tuple[TrainConfig, dict[str, Any] | None]:
    """New run: the defaults with the flags applied. `--resume`: the saved run, checked."""
    overrides = config_overrides(args)
    if args.resume:
        from vae_tui.core.resume import load_resume  # noqa: PLC0415 - imports torch

        return load_resume(args.resume, overrides)
    config = TrainConfig(**overrides)
    return config.with_(run_dir=config.run_dir or default_run_dir()), None


class OneLineFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return f"vae-tui: {record.levelname.lower()}: {record.getMessage()}"


def log_warnings_to_stderr() -> None:
    """Core warnings (SwanLab trouble, fallbacks) as one line each on stderr."""
    logger = logging.getLogger("vae_tui")
    if not any(getattr(h, "vae_tui", False) for h in logger.handlers):
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(OneLineFormatter())
        handler.vae_tui = True  # type: ignore[attr-defined]
        logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
