"""Helpers shared by the test folders: running the real command."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

TINY_MODEL = Path(__file__).parent / "data" / "tiny-vae-state_dict.pt"
"""A reference-shaped state_dict of a small trained model (latent 8), for browsing and --eval."""


def run_cli(*args: str, cwd: Path | None = None, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "vae_tui.tui", *args],
        check=False, capture_output=True, text=True, cwd=cwd, timeout=timeout, stdin=subprocess.DEVNULL,
        env={**os.environ, "NO_COLOR": "1"},
    )  # fmt: skip
