"""Pictures enlarged for people: whole-number upscaling, and GIFs of a run's epochs, each frame
labelled with its epoch.

A 28-px tile is a few millimetres on a screen, and a blurred one lies about what the model drew:
pictures are enlarged by a whole number, each pixel a square block (nearest neighbour). Every
file is written atomically (core/atomic.py): a reader, or the trainer's own upload of the GIFs to
SwanLab, never sees half of one.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from .atomic import write_atomic

if TYPE_CHECKING:
    from PIL import Image

PICTURE_SIDE = 512
"""An exported picture is enlarged until its short side reaches this many pixels…"""
PICTURE_MAX = 4096
"""…but never past this on its long side (a 20-row traversal is tall already)."""
FRAME_SIDE = 480
"""A GIF frame is enlarged until its long side reaches this: fifty frames stay a small file."""
FRAME_MS = 250
LAST_FRAME_MS = 2000  # the last epoch stays up a while before the loop starts again
LABEL_PX = 16  # the epoch label's font size
STRIP_PX = 24  # the label strip's height, above the grid


def picture_scale(shape: tuple[int, ...]) -> int:
    """The whole-number factor for an exported picture of `shape` (see PICTURE_SIDE)."""
    h, w = shape[:2]
    scale = max(1, math.ceil(PICTURE_SIDE / max(1, min(h, w))))
    return max(1, min(scale, PICTURE_MAX // max(1, h, w)))


def frame_scale(shape: tuple[int, ...]) -> int:
    """The whole-number factor for a GIF frame of `shape` (see FRAME_SIDE)."""
    return max(1, math.ceil(FRAME_SIDE / max(1, *shape[:2])))


def enlarge(pixels: np.ndarray, scale: int) -> np.ndarray:
    """Each pixel as a `scale`×`scale` block (uint8 (H, W) or (H, W, 3))."""
    return np.repeat(np.repeat(pixels, scale, axis=0), scale, axis=1)


def save_png(path: Path, pixels: np.ndarray, scale: int) -> Path:
    """`pixels` enlarged by `scale` as a PNG at `path`, atomically."""
    from PIL import Image  # noqa: PLC0415 - only when a picture is written

    image = Image.fromarray(np.ascontiguousarray(enlarge(pixels, scale)))
    write_atomic(path, lambda f: image.save(f, format="PNG"), durable=False)
    return path


def labelled_frame(grid: np.ndarray, label: str, scale: int, size: tuple[int, int]) -> Image.Image:
    """`grid` enlarged by `scale` on a black canvas of `size` (w, h), under a strip with `label`."""
    from PIL import Image, ImageDraw, ImageFont  # noqa: PLC0415

    frame = Image.new("L", (size[0], size[1] + STRIP_PX), 0)
    frame.paste(Image.fromarray(enlarge(grid, scale)), (0, STRIP_PX))
    draw = ImageDraw.Draw(frame)
    draw.text((4, STRIP_PX // 2), label, fill=255, font=ImageFont.load_default(size=LABEL_PX), anchor="lm")
    return frame


def gif_bytes(grids: Sequence[np.ndarray], labels: Sequence[str]) -> bytes:
    """A looping GIF, one frame per grid under its label. Grids of different sizes (none
    expected) are drawn on a canvas of the largest."""
    import io  # noqa: PLC0415

    scale = frame_scale(grids[0].shape)
    size = (max(g.shape[1] for g in grids) * scale, max(g.shape[0] for g in grids) * scale)
    frames = [labelled_frame(g, label, scale, size) for g, label in zip(grids, labels, strict=True)]
    durations = [FRAME_MS] * (len(frames) - 1) + [LAST_FRAME_MS]
    out = io.BytesIO()
    frames[0].save(out, format="GIF", save_all=True, append_images=frames[1:], duration=durations, loop=0)
    return out.getvalue()


def write_bytes(path: Path, data: bytes) -> Path:
    """`data` as the file `path`, atomically."""
    write_atomic(path, lambda f: f.write(data), durable=False)
    return path
