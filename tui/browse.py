"""What the user has selected in the image views, and how the browsing keys change it.

`BrowseState` is shared by the views (which draw it) and the main screen's key actions (which
call the methods here, then redraw the views that draw what changed). Nothing here touches a
widget or names a view: each view declares the parts it draws and the keys it takes
(`widgets/views.py`), and the rules of each key read here, in one place.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from .wording import mid_epoch

if TYPE_CHECKING:
    from vae_tui.core.tiles import TileDecoder

SAMPLE_COUNT = 64
"""core.grids.PREVIEW_SAMPLES (that module imports torch): the samples each draw holds."""
BROWSE_ACTIONS = ("browse", "dimension", "toggle_base", "new_samples")
"""The actions that act on the selection (offered only once there is a model)."""
OPEN_THEIR_VIEW = ("dimension", "new_samples")
"""Keys offered on every tab: where the view shown does not take them, they open the first view
that does (↑↓ the traversal, n the samples). The others act only where they are taken."""

Part = Literal["image", "sample", "dimension", "draw", "base"]
"""A part of the selection: the test image, the sample, the latent dimension, the samples' z draw,
and what the traversal sweeps around. A view is redrawn when a part it draws changes."""
Changes = frozenset[Part]


@dataclass
class BrowseState:
    """What the user has selected; shared by the views and changed by the browsing keys."""

    decoder: TileDecoder | None = None
    image: int = 0
    """Selected test image: highlighted in the reconstructions, base code of the traversal."""
    sample: int = 0
    dim: int = 0
    """Selected latent dimension in the traversal."""
    zero_base: bool = False
    """Traverse around z = 0 instead of the selection's code."""
    base: Part = "image"
    """What the traversal sweeps around: the selected test image's μ (`image`) or the selected
    sample's z (`sample`), whichever was selected last."""
    seed: int = 0
    """The run's seed: the samples' z draws follow from it."""
    sample_seed: int = 0
    samples_z: Any = None
    epoch: int | None = None
    """Epochs complete in the weights shown (None: a bare state_dict, which does not say)."""
    batch: int = 0
    """Batches of the next epoch in them too (a copy taken mid-epoch)."""
    live: bool = False
    """The weights are the training model's (not a saved file's)."""
    training: bool = False
    """Training goes on, so the views change at every epoch end."""

    def label(self, index: int) -> str:
        e = self.decoder
        if e is None or e.labels is None:
            return ""
        return f" (label {int(e.labels[index])})"

    def weights(self) -> str:
        """Which weights the views (and their numbers) come from. After `r` they are the
        training model's as it is now, mid-epoch, not as of the last epoch end: say so."""
        if self.epoch is None:
            return ""
        if self.batch:
            where = mid_epoch(self.epoch, self.batch)
            return f"weights now ({where})" if self.live else f"weights at {where}"
        return f"weights after epoch {self.epoch}" if self.epoch else "weights before training"

    # -- the model shown ---------------------------------------------------------------------
    def show(self, decoder: TileDecoder, epoch: int | None, batch: int, live: bool) -> None:
        """Browse `decoder`'s weights, keeping the selection where it still exists."""
        if self.samples_z is None or self.samples_z.shape[1] != decoder.latent_dim:
            self.samples_z = self.draw(decoder.latent_dim)
        self.decoder = decoder
        self.epoch, self.batch, self.live = epoch, batch, live
        self.dim = min(self.dim, decoder.latent_dim - 1)
        self.image = min(self.image, decoder.count - 1)

    def draw(self, latent_dim: int) -> Any:
        """The samples' z ~ N(0, I) of draw `sample_seed`: the run's own sample grid's z first
        (the seed core draws it from), then the next reproducible draw at each `n`."""
        from vae_tui.core.grids import preview_latents  # noqa: PLC0415 - torch

        return preview_latents(latent_dim, self.seed, draw=self.sample_seed)

    # -- the keys: each returns the parts it changed -----------------------------------------
    def follow(self, selected: Part | None) -> Changes:
        """The traversal sweeps whichever was selected last: what the view a key is pressed on
        selects, if it is a test image or a sample."""
        if selected not in ("image", "sample") or selected == self.base:
            return frozenset()
        self.base = selected
        return frozenset({"base"})

    def select(self, delta: int, selected: Part) -> Changes:
        """←/→: the next test image, or sample (`selected`: what the view shown selects)."""
        assert self.decoder is not None
        if selected == "sample":
            self.sample = (self.sample + delta) % SAMPLE_COUNT
        else:
            self.image = (self.image + delta) % self.decoder.count
        return self.follow(selected) | {selected}

    def select_dimension(self, delta: int, selected: Part | None) -> Changes:
        """↑/↓: the next latent dimension, swept around what the view shown selects."""
        assert self.decoder is not None
        self.dim = (self.dim + delta) % self.decoder.latent_dim
        return self.follow(selected) | {"dimension"}

    def toggle_base(self) -> Changes:
        """z: sweep around z = 0, or back around the selection."""
        self.zero_base = not self.zero_base
        return frozenset({"base"})

    def new_draw(self) -> Changes:
        """n: the next reproducible z ~ N(0, I) for the samples."""
        assert self.decoder is not None
        self.sample_seed += 1
        self.samples_z = self.draw(self.decoder.latent_dim)
        return frozenset({"draw"})
