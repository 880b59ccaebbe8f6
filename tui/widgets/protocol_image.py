"""Images through a terminal graphics protocol (sixel or kitty's), via textual-image.

The grid is laid out at full resolution and enlarged here by a whole number with
nearest-neighbour, onto a canvas of exactly the widget's size in pixels: textual-image then has
nothing to resample (its resize would blur the digits), and every new image covers the previous
one entirely, so nothing stale is left on screen when a smaller grid follows a larger one.

Sixel pictures are cut to whole bands of 6 pixel rows: a terminal puts the cursor on the first
line below a sixel picture's last band, and a band reaching into the footer's line scrolled the
whole screen up one line. And their colours are all defined up front, as libsixel and
ImageMagick do: textual-image defines each one where it is first used, and xterm 379 then drew
the bands before the first multi-colour one white and strewed amber pixels (seen under Xvfb).
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np
from PIL import Image as PILImage
from textual.app import ComposeResult
from textual.strip import Strip
from textual.widget import Widget

from .halfblock import Budget
from .text_lines import TextLines

SIXEL_BAND = 6
COLOUR = re.compile(r"#(\d+);2;\d+;\d+;\d+")
RASTER = re.compile(r'q"\d+;\d+;\d+;\d+')


def band_cut(width: int, height: int) -> tuple[int, int]:
    """A sixel picture's size for `width`×`height` screen pixels: whole bands only."""
    return width, height - height % SIXEL_BAND


def colours_first(sixels: str) -> str:
    """The same sixel picture with every colour register defined before the first band."""
    definitions: dict[str, str] = {}
    for match in COLOUR.finditer(sixels):
        if definitions.setdefault(match.group(1), match.group(0)) != match.group(0):
            return sixels  # a register redefined midway: hoisting would change the picture
    raster = RASTER.search(sixels)
    if raster is None:
        return sixels
    body = COLOUR.sub(lambda m: "#" + m.group(1), sixels[raster.end() :])
    return sixels[: raster.end()] + "".join(definitions.values()) + body


def sixel_picture() -> type[Widget]:
    """textual-image's sixel widget, drawing our picture as given: no resampling (it would blur),
    no crop past its edges (it would pad with black rows and overflow the band cut)."""
    from textual_image._terminal import get_cell_size  # noqa: PLC0415 - cached: no query
    from textual_image.widget import SixelImage  # noqa: PLC0415 - see ProtocolImageView.compose
    from textual_image.widget.sixel import _ImageSixelImpl, _NoopRenderable  # noqa: PLC0415 - pinned minor

    class ExactSixels(_ImageSixelImpl):
        def render_lines(self, crop: Any) -> list[Strip]:
            # Between a resize and the view's new picture, the old one no longer fits: drawn
            # anyway it ran past the screen's bottom and scrolled it (xterm). Blank cells instead.
            width, height = get_cell_size()
            fits = band_cut(self.content_size.width * width, self.content_size.height * height)
            if self.image is not None and self.image.size != fits:
                return [Strip.blank(crop.width)] * crop.height
            return super().render_lines(crop)

        def _image_to_sixels(self, image: Any, sixel_options: Any = None, background: Any = None) -> str:
            return colours_first(super()._image_to_sixels(image, sixel_options, background))

        def _scale_image(self, image_data: Any, terminal_sizes: Any) -> Any:
            return image_data

        def _crop_image(self, image: Any, crop: Any, terminal_sizes: Any) -> Any:
            width, height = terminal_sizes
            left, top = crop.x * width, crop.y * height
            right, bottom = min(crop.right * width, image.width), min(crop.bottom * height, image.height)
            bottom -= (bottom - top) % SIXEL_BAND  # e.g. the old picture in a smaller window
            if (left, top, right, bottom) == (0, 0, image.width, image.height):
                return image
            return image.cropped(left, top, right, bottom)

    class ExactSixelImage(SixelImage, Renderable=_NoopRenderable):
        def compose(self) -> ComposeResult:
            yield ExactSixels(self.image, self._sixel_options)

    return ExactSixelImage


def enlarge(
    grid: np.ndarray, scale: int, size: tuple[int, int], background: tuple[int, int, int]
) -> np.ndarray:
    """`grid` (H, W, 3) repeated `scale`× each way, centred on a `size` = (width, height) canvas."""
    big = np.repeat(np.repeat(grid, scale, axis=0), scale, axis=1)[: size[1], : size[0]]
    canvas = np.empty((size[1], size[0], 3), dtype=np.uint8)
    canvas[:] = background
    top, left = (size[1] - big.shape[0]) // 2, (size[0] - big.shape[1]) // 2
    canvas[top : top + big.shape[0], left : left + big.shape[1]] = big
    return canvas


class ProtocolImageView(Widget):
    """Same interface as HalfBlockView (`budgets`, `set_image`, `pixel_size`), real pixels behind it."""

    DEFAULT_CSS = """
    ProtocolImageView { width: 1fr; height: 1fr; }
    ProtocolImageView > .picture { width: 100%; height: 100%; }
    ProtocolImageView > .note { display: none; }
    ProtocolImageView.empty > .picture { display: none; }
    ProtocolImageView.empty > .note { display: block; }
    """

    def __init__(self, kind: str, cell: tuple[int, int], *, classes: str | None = None) -> None:
        super().__init__(classes=classes)
        self.kind = kind
        self.cell = cell
        self.grid: np.ndarray | None = None
        """The last full-resolution grid, before enlarging (what the tests check)."""
        self.scale = 1
        self.canvas_size = (0, 0)

    def compose(self) -> ComposeResult:
        # Imported only once a protocol was chosen, i.e. after graphics.probe() imported it
        # before the App started (importing it queries the terminal).
        if self.kind == "kitty":
            from textual_image.widget import TGPImage as Picture  # noqa: PLC0415
        else:
            Picture = sixel_picture()
        yield TextLines(classes="note")
        yield Picture(classes="picture")
        self.add_class("empty")

    @property
    def pixel_size(self) -> tuple[int, int]:
        """The picture's size in screen pixels: the widget's, sixel cut to whole bands."""
        width, height = self.size.width * self.cell[0], self.size.height * self.cell[1]
        return band_cut(width, height) if self.kind == "sixel" else (width, height)

    def budgets(self) -> list[Budget]:
        """Full-resolution tiles, as large as whole-number scaling allows and the layout likes.

        The first choice draws a grid pixel about as large as a half-block pixel (so the same
        tiles fit); where half-block would shrink the tiles 2×, this shrinks the scale instead
        and keeps every pixel of the digits."""
        width, height = self.pixel_size
        top = max(1, min(self.cell[0], self.cell[1] // 2))
        return [Budget(width // s, height // s, 1, s) for s in range(top, 0, -1)] + [
            Budget(width, height, 2, 1)
        ]

    def set_image(self, image: np.ndarray | None, note: str = "", scale: int = 1) -> None:
        picture: Any = self.query_one(".picture")
        self.grid, self.scale = image, scale
        if image is None:
            self.canvas_size = (0, 0)
            picture.image = None
            self.query_one(".note", TextLines).set(note)
            self.add_class("empty")
            return
        self.canvas_size = self.pixel_size
        background = self.background_colors[1].rgb
        picture.image = PILImage.fromarray(enlarge(image, scale, self.canvas_size, background))
        self.remove_class("empty")

    def on_resize(self) -> None:
        # textual-image would stretch the old canvas to the new size (blurred) until the view
        # rebuilds the grid for it, right after this; show nothing in between instead.
        if self.canvas_size != self.pixel_size and self.grid is not None:
            self.set_image(None)
