"""The bundled MNIST, unpacked where torchvision's `MNIST(download=False)` and our loader read it."""

from __future__ import annotations

import gzip
import shutil
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
TRAIN_SIZE = 60000
"""Images in MNIST's training split (a full epoch)."""


def prepare_mnist(root: Path) -> Path:
    """Decompress the bundled MNIST into root/MNIST/raw, where torchvision reads it offline."""
    raw = root / "MNIST" / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    for gz in sorted((REPO / "core" / "mnist").glob("*.gz")):
        target = raw / gz.name[: -len(".gz")]
        if not target.exists():
            with gzip.open(gz, "rb") as src, open(target, "wb") as dst:
                shutil.copyfileobj(src, dst)
    return root
