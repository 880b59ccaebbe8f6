"""The latent map: every test image's code μ as a point on a plane, a colour per class, and
beside it the image decoded under a cursor the arrow keys move.

Codes of more than two dimensions are projected on their first two principal components
(`TileDecoder.projection`, fitted on the test codes, so each epoch's weights get their own
fit); a 2-D latent space is drawn as itself. The fit encodes the whole test set (~60 ms for
10,000 images, more beside training), so it runs on a worker thread: the last map stays on
screen meanwhile, and the keys never wait for it. Drawing is a numpy raster
(`scatter.scatter`), cached per fit and size: an arrow key only adds the cross and decodes
one code.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, ClassVar

import numpy as np
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.worker import Worker, WorkerState

from ..browse import BrowseState, Changes
from ..graphics import HALFBLOCK, Graphics
from ..wording import signed
from .halfblock import Budget, HalfBlockView, downsample, tile_image
from .protocol_image import ProtocolImageView
from .scatter import Frame, fit_frame, legend, scatter, with_cursor
from .text_lines import TextLines
from .views import ImageView

if TYPE_CHECKING:
    from vae_tui.core.latent_space import Projection
    from vae_tui.core.tiles import TileDecoder

SIDE_WIDTH = 30  # columns beside the map: a full-size decoding (28 + frame) and the legend
SIDE_FROM = 64  # the view's width from which the side panel is shown (else the map alone)
CURSOR_STEPS = 40  # arrow presses from one side of the map to the other, about


@dataclass(frozen=True)
class MapFit:
    """One decoder's map: its projection and every test code's point on it."""

    decoder: TileDecoder
    projection: Projection
    points: np.ndarray
    labels: np.ndarray | None
    present: frozenset[int] | None
    """The classes among the labels (None: no labels)."""


def fit_map(decoder: TileDecoder) -> MapFit:
    """The map of `decoder`'s test codes (on the calling thread: the worker's)."""
    from vae_tui.core.threads import serial_on_this_thread  # noqa: PLC0415 - torch

    serial_on_this_thread()
    labels = None if decoder.labels is None else decoder.labels.numpy().astype(np.int64)
    present = None if labels is None else frozenset(np.unique(labels).tolist())
    return MapFit(decoder, decoder.projection(), decoder.map_points(), labels, present)


class LatentMapView(ImageView):
    """The test codes on a plane (PCA, or the latent plane itself) and the decoding at a cursor."""

    DEFAULT_CSS = """
    LatentMapView .map-body { height: 1fr; }
    LatentMapView .map-side { width: 30; height: 1fr; padding: 0 0 0 1; }
    LatentMapView .decoded-view { height: 1fr; max-height: 16; }
    LatentMapView .legend { height: auto; }
    """
    KEYS: ClassVar[frozenset[str]] = frozenset({"cursor", "arrows"})
    """The arrows move the cursor (`arrows`), offered as the cursor's keys (`keymap.py`), not
    as "Image" and "Dim" (it takes neither)."""

    class Fitted(Message):
        """A worker fitted a decoder's map."""

        def __init__(self, fitted: MapFit) -> None:
            super().__init__()
            self.fitted = fitted

    def __init__(self, state: BrowseState, *, id: str | None = None, graphics: Graphics = HALFBLOCK) -> None:
        super().__init__(state, id=id, graphics=graphics)
        self.cursor = np.zeros(2)
        """The cursor's point on the plane (0: the codes' mean; z = 0 on the latent plane)."""
        self.fitted: MapFit | None = None
        self._fitting: TileDecoder | None = None
        self._raster: tuple[MapFit, tuple[int, int], Frame, np.ndarray] | None = None
        """The map drawn for a fit and a size, without the cursor (what an arrow key reuses)."""
        self.frame: Frame | None = None
        """Where the plane lies on the picture last drawn (None before the first)."""
        self.map_image: np.ndarray | None = None
        self.cursor_image: np.ndarray | None = None
        """The last decoding of the cursor's point, (28, 28) uint8."""

    def compose(self) -> ComposeResult:
        yield TextLines(classes="caption")
        with Horizontal(classes="map-body"):
            yield self.new_picture("picture-view")
            with Vertical(classes="map-side"):
                yield TextLines(classes="cursor-caption")
                yield self.new_picture("decoded-view")
                yield TextLines(classes="legend")

    def title_text(self) -> str:
        return "Latent map: the test codes μ on a plane, decoded at the cursor"

    def full_picture(self) -> tuple[np.ndarray, str] | None:
        """The map as drawn (its points are screen pixels already), cursor included."""
        if self.history_picture is not None or self.map_image is None:
            return super().full_picture()
        return self.map_image, self.stem(self.state.epoch)

    def takes(self, action: str) -> bool:
        return action in self.KEYS

    def on_resize(self) -> None:  # (ImageView's runs too: Textual calls each class's handler)
        self.query_one(".map-side").display = self.size.width >= SIDE_FROM

    # -- the cursor ----------------------------------------------------------------------------
    def arrows(self, dx: int, dy: int) -> Changes | None:
        """Move the cursor (not the selection: nothing another view draws changes)."""
        if self.frame is not None:
            # Steps square on screen and in whole cells (2 pixels: 2 columns, 1 row), ~CURSOR_STEPS across.
            pixels = 2 * max(1, round(max(self.frame.width, self.frame.height) / (2 * CURSOR_STEPS)))
            step = pixels * self.frame.per_pixel
            self.cursor = self.frame.clamp(self.cursor + np.array([dx * step, -dy * step]))
            self.stale = True
        return frozenset()

    # -- the fit, on a worker ------------------------------------------------------------------
    def fitted_now(self) -> MapFit | None:
        """The shown decoder's map if fitted, else the last one while a worker fits it."""
        decoder = self.state.decoder
        if decoder is None or (self.fitted is not None and self.fitted.decoder is decoder):
            return self.fitted
        if self._fitting is not decoder:
            self._fitting = decoder
            job = partial(self._fit, decoder)
            self.run_worker(job, group="map-fit", thread=True, exclusive=True, exit_on_error=False)
        return self.fitted

    def _fit(self, decoder: TileDecoder) -> None:
        self.post_message(self.Fitted(fit_map(decoder)))

    def on_latent_map_view_fitted(self, message: LatentMapView.Fitted) -> None:
        if message.fitted.decoder is self.state.decoder:
            self.fitted = message.fitted
            self.update_view(force=True)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.state == WorkerState.ERROR:
            self._fitting = None
            error = event.worker.error
            self.notify(f"{type(error).__name__}: {error}", title="Latent map", severity="error")

    # -- drawing -------------------------------------------------------------------------------
    def update_view(self, force: bool = False) -> None:
        super().update_view(force)
        if self.fitted is None and self.state.decoder is not None and not self.stale:
            self.picture.set_image(None, "fitting the map…")  # (not "enlarge the terminal")

    def build(self, budgets: list[Budget]) -> tuple[np.ndarray | None, str, int]:
        fitted = self.fitted_now()
        if fitted is None:
            return None, self.title_text(), 1
        width, height, _, scale = budgets[0]
        if self._raster is None or self._raster[0] is not fitted or self._raster[1] != (width, height):
            frame = fit_frame(fitted.points, width, height)
            self._raster = fitted, (width, height), frame, scatter(fitted.points, fitted.labels, frame)
        _, _, self.frame, canvas = self._raster
        self.cursor = self.frame.clamp(self.cursor)
        (col,), (row,) = self.frame.pixels(self.cursor[None])
        self.map_image = with_cursor(canvas, int(col), int(row))
        self.draw_side(fitted)
        return self.map_image, self.caption(fitted), scale

    def draw_side(self, fitted: MapFit) -> None:
        """The decoding at the cursor (with the live decoder: its map may still be the last
        epoch's), its coordinates, and the legend."""
        import torch  # noqa: PLC0415

        decoder = self.state.decoder
        assert decoder is not None
        code = fitted.projection.lift(torch.tensor(self.cursor, dtype=torch.float32)[None])
        self.cursor_image = decoder.decode(code)[0]
        self.query_one(".cursor-caption", TextLines).set(self.cursor_text(fitted))
        key = self.query_one(".legend", TextLines)
        key.set(legend(self.state.classes, fitted.present, max(1, (key.size.width or SIDE_WIDTH) - 2)))
        view = self.query_one(
            ".decoded-view", HalfBlockView if not self.graphics.protocol else ProtocolImageView
        )
        tile = self.cursor_image[None, None]
        for budget in view.budgets():
            # Framed if it fits, else unframed (at 80×24 the full size fits only so), else smaller.
            small = downsample(tile, budget.factor)[0, 0]
            for image in (tile_image(tile, None, budget.factor), np.repeat(small[..., None], 3, axis=2)):
                if image.shape[1] <= budget.width and image.shape[0] <= budget.height:
                    view.set_image(image, "", budget.scale)
                    return
        view.set_image(None, "")

    def cursor_text(self, fitted: MapFit) -> str:
        x, y = (signed(float(v)) for v in self.cursor)
        if not fitted.projection.identity:
            return f"Cursor PC1 {x}, PC2 {y}"
        return f"Cursor z1 {x}" if fitted.decoder.latent_dim == 1 else f"Cursor z1 {x}, z2 {y}"

    def caption(self, fitted: MapFit) -> str:
        e, s = fitted.decoder, self.state
        assert self.frame is not None
        (x0, x1), (y0, y1) = self.frame.bounds
        count = f"{len(fitted.points):,} test codes μ"
        if fitted.projection.identity and fitted.decoder.latent_dim == 1:
            what = f"{count} on the latent line itself (no projection): x = z1, y = 0 (a 1-D model)"
            names = ("z1", "y")
        elif fitted.projection.identity:
            what = f"{count} on the latent plane itself (no projection): x = z1, y = z2"
            names = ("z1", "z2")
        else:
            a, b = (f"{100 * v:.0f}%" for v in fitted.projection.explained)
            what = f"PCA of {count}: x = PC1 ({a} of the variance), y = PC2 ({b})"
            names = ("PC1", "PC2")
        refit = " · refitting…" if e is not s.decoder else ""
        weights = f" · {s.weights()}" if s.weights() and not refit else ""
        ranges = f"{names[0]} {signed(x0)} to {signed(x1)}, {names[1]} {signed(y0)} to {signed(y1)}"
        if not self.query_one(".map-side").display:  # (narrow: no panel to say where it is)
            ranges = f"{self.cursor_text(fitted)} · {ranges}"
        return f"{what}\n{ranges} · ←→↑↓ move the cursor{weights}{refit}"
