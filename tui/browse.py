"""What the user has selected in the image views, and how the browsing keys change it.

`BrowseState` is shared by the views (which draw it) and the main screen's key actions (which
call the methods here, then redraw what changed). Nothing here touches a widget, so the rules
of each key (what it selects on which tab, and where it is offered) read in one place.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from vae_tui.core.tiles import TileDecoder

SAMPLE_COUNT = 64
BROWSE_ACTIONS = ("browse", "dimension", "toggle_base", "new_samples")
"""The actions that act on the selection (offered only once there is a model)."""


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
    base: str = "image"
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
    extra: dict[str, Any] = field(default_factory=dict)

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
            where = f"epoch {self.epoch + 1}, batch {self.batch}"
            return f"weights now ({where})" if self.live else f"weights at {where}"
        return f"weights after epoch {self.epoch}" if self.epoch else "weights before training"

    # -- the model shown ---------------------------------------------------------------------
    def show(self, decoder: TileDecoder, epoch: int | None, batch: int, live: bool) -> None:
        """Browse `decoder`'s weights, keeping the selection where it still exists."""
        from vae_tui.core.tiles import random_latents  # noqa: PLC0415 - torch

        if self.samples_z is None or self.samples_z.shape[1] != decoder.latent_dim:
            self.samples_z = random_latents(SAMPLE_COUNT, decoder.latent_dim, self.seed + 2)
        self.decoder = decoder
        self.epoch, self.batch, self.live = epoch, batch, live
        self.dim = min(self.dim, decoder.latent_dim - 1)
        self.image = min(self.image, decoder.count - 1)

    # -- the keys ----------------------------------------------------------------------------
    def offers(self, action: str, tab: str) -> bool:
        """Whether a browsing key acts on `tab` (the Footer shows only those that do)."""
        if self.decoder is None:
            return False  # nothing to browse before the model is there
        if action == "browse":  # the losses tab shows no image; nor does a traversal around z = 0
            return tab in ("recon", "samples") or (tab == "traversal" and not self.zero_base)
        if action == "toggle_base":  # it changes only the traversal
            return tab == "traversal"
        return True  # ↑↓ and n open their tab

    def follow(self, tab: str) -> None:
        """On the reconstructions or samples, the traversal opens around what is selected there."""
        if tab in ("recon", "samples"):
            self.base = "sample" if tab == "samples" else "image"

    def select(self, delta: int, tab: str) -> str:
        """Select the next test image, or sample: on the traversal, whichever it is around.
        Returns the tab whose picture changed (the traversal's changes too)."""
        assert self.decoder is not None
        self.follow(tab)
        if self.base == "sample":
            self.sample = (self.sample + delta) % SAMPLE_COUNT
            return "samples"
        self.image = (self.image + delta) % self.decoder.count
        return "recon"

    def select_dimension(self, delta: int, tab: str) -> None:
        assert self.decoder is not None
        self.follow(tab)
        self.dim = (self.dim + delta) % self.decoder.latent_dim

    def new_draw(self) -> None:
        """The next reproducible z ~ N(0, I) for the samples."""
        from vae_tui.core.tiles import random_latents  # noqa: PLC0415 - torch

        assert self.decoder is not None
        self.sample_seed += 1
        seed = self.seed + 2 + 1000 * self.sample_seed
        self.samples_z = random_latents(SAMPLE_COUNT, self.decoder.latent_dim, seed)
