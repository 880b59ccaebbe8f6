"""Each epoch's pictures, kept in the run folder: `images/epoch-NNN-<kind>.png`.

The trainer writes them at every epoch end (`grids.GridWriter`, atomically); the app's epoch
history (`[`/`]`), `--export`'s GIFs and `--compare` read them back here. With the epoch rows of
`metrics.jsonl` (per-dimension KL, losses) they are all a past epoch keeps: small (~50 kB an
epoch) and readable without torch. A run from before the traversal was kept simply has none.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np

IMAGES_DIR = "images"
KINDS = ("reconstructions", "samples", "traversal")
"""reconstructions: the fixed test images over their reconstructions; samples: the fixed z's
decodings; traversal: the fixed test image's μ swept along each dimension (rows in index order)."""
_NAME = re.compile(r"epoch-(\d{3,})-(" + "|".join(KINDS) + r")\.png")


def image_path(run_dir: str | os.PathLike[str], epoch: int, kind: str) -> Path:
    """Where epoch `epoch`'s `kind` picture is (or would be)."""
    return Path(run_dir) / IMAGES_DIR / f"epoch-{epoch:03d}-{kind}.png"


def epochs_on_disk(run_dir: str | os.PathLike[str], kind: str = "samples") -> list[int]:
    """The epochs whose `kind` picture exists, in order (none for a folder without images/)."""
    try:
        names = os.listdir(Path(run_dir) / IMAGES_DIR)
    except OSError:
        return []
    found = {int(m[1]) for name in names if (m := _NAME.fullmatch(name)) and m[2] == kind}
    return sorted(found)


def read_image(run_dir: str | os.PathLike[str], epoch: int, kind: str) -> np.ndarray | None:
    """Epoch `epoch`'s `kind` picture as a uint8 (H, W) array; None when it is not there or does
    not decode (the writer replaces files atomically, but a reader must survive anything)."""
    from PIL import Image, UnidentifiedImageError  # noqa: PLC0415 - only when a picture is read

    try:
        with Image.open(image_path(run_dir, epoch, kind)) as image:
            return np.asarray(image.convert("L"), dtype=np.uint8).copy()
    except (OSError, UnidentifiedImageError, ValueError):
        return None
