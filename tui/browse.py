"""What the user has selected in the image views, and how the browsing keys change it.

`BrowseState` is shared by the views (which draw it) and the main screen's key actions (which
call the methods here, then redraw the views that draw what changed). Nothing here touches a
widget or names a view: each view declares the parts it draws and the keys it takes
(`widgets/views.py`), and the rules of each key read here, in one place.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from .wording import mid_epoch

if TYPE_CHECKING:
    from vae_tui.core.tiles import TileDecoder

SAMPLE_COUNT = 64
"""core.grids.PREVIEW_SAMPLES (that module imports torch): the samples each draw holds."""
BROWSE_ACTIONS = ("browse", "dimension", "toggle_base", "new_samples")
"""The actions that act on the selection (offered only once there is a model)."""
OPEN_THEIR_VIEW = ("dimension", "new_samples")
"""Keys that act on every tab: where the view shown does not take them, they open the first view
that does (↑↓ the traversal, n the samples), through hidden bindings (`keymap.py`), so the Footer
offers them only on the views that take them. The others act only where they are taken."""

Part = Literal["image", "sample", "dimension", "draw", "base", "order", "marks"]
"""A part of the selection: the test image, the sample, the latent dimension, the samples' z draw,
what the traversal sweeps around, the order (and class) the test images are browsed in, and the
images marked A and B. A view is redrawn when a part it draws changes."""
"""The test images' orders (`TileDecoder.order`): as stored, or worst reconstruction first."""
Changes = frozenset[Part]


@dataclass
class BrowseState:
    """What the user has selected; shared by the views and changed by the browsing keys."""

    decoder: TileDecoder | None = None
    image: int = 0
    """Selected test image: highlighted in the reconstructions, base code of the traversal."""
    sample: int = 0
    picked_dim: int | None = None
    """The latent dimension the user selected (↑/↓); None until they do: then `dim` is the most
    informative one, of whichever weights are shown (the top may change as training goes on)."""
    by_kl: bool = True
    """Dimensions in order of KL, most informative first (False: by index; the traversal's `k`)."""
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
    classes: tuple[str, ...] = tuple(str(digit) for digit in range(10))
    """What the labels mean (`core.classes.class_names` of the run's dataset)."""
    mark_a: int | None = None
    """Test image marked A in the reconstructions (`a`): one end of the interpolation."""
    mark_b: int | None = None
    """Test image marked B (`b`): the interpolation's other end."""
    order: str = "index"
    """The order ←/→ and the page keys move the test images in (`core.latent_space.ORDERS`; `o` toggles)."""
    image_class: int | None = None
    """Only this class's test images are browsed (`c` cycles; None: all)."""
    history_epoch: int | None = None
    """The past epoch the views show (`[`/`]`), from what the run kept of it; None: the head
    (the weights shown: live while training)."""
    kept: Any = None
    """The run's kept epochs (`past_epochs.PastEpochs`, the app's): what a past epoch draws."""

    def label(self, index: int) -> str:
        e = self.decoder
        if e is None or e.labels is None:
            return ""
        return f" ({self.class_name(int(e.labels[index]))})"

    def class_name(self, label: int) -> str:
        """A digit's name is itself ("label 7"); a Fashion-MNIST class's, its name ("Sneaker")."""
        name = self.classes[label] if 0 <= label < len(self.classes) else str(label)
        return f"label {name}" if name.isdigit() else name

    def class_filter_name(self) -> str:
        """The class browsed (`image_class`) as captions say it: "class 7", "class Sneaker"."""
        label = self.image_class if self.image_class is not None else -1
        return f"class {self.classes[label] if 0 <= label < len(self.classes) else label}"

    def weights(self) -> str:
        """Which weights the views (and their numbers) come from. After `r` they are the
        training model's as it is now, mid-epoch, not as of the last epoch end: say so."""
        if self.epoch is None:
            return ""
        if self.batch:
            where = mid_epoch(self.epoch, self.batch)
            return f"weights now ({where})" if self.live else f"weights at {where}"
        head = f"weights after epoch {self.epoch}" if self.epoch else "weights before training"
        return f"live · {head}" if self.training and self.live else head

    # -- the model shown ---------------------------------------------------------------------
    def show(self, decoder: TileDecoder, epoch: int | None, batch: int, live: bool) -> None:
        """Browse `decoder`'s weights, keeping the selection where it still exists."""
        if self.samples_z is None or self.samples_z.shape[1] != decoder.latent_dim:
            self.samples_z = self.draw(decoder.latent_dim)
        self.decoder = decoder
        self.epoch, self.batch, self.live = epoch, batch, live
        if self.picked_dim is not None:
            self.picked_dim = min(self.picked_dim, decoder.latent_dim - 1)
        self.image = min(self.image, decoder.count - 1)

    @property
    def dim(self) -> int:
        """The selected latent dimension: the user's, else the first in KL order."""
        if self.picked_dim is not None or self.decoder is None:
            return self.picked_dim or 0
        return self.dimensions(by_kl=True)[0]

    @dim.setter
    def dim(self, value: int) -> None:
        self.picked_dim = value

    def dimensions(self, by_kl: bool | None = None) -> list[int]:
        """The latent dimensions in the order shown (`by_kl`: this order, not the state's): by
        KL over the test images, most first, ties by index; or by index."""
        e = self.decoder
        assert e is not None
        if not (self.by_kl if by_kl is None else by_kl):
            return list(range(e.latent_dim))

        def by_kl_order() -> list[int]:
            kl = e.usage()["kl_per_dim"]
            return sorted(range(e.latent_dim), key=lambda d: (-kl[d], d))

        return e.cached("dimensions by KL", by_kl_order)  # (asked at every draw: once per decoder)

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
            images = self.images()
            self.image = int(images[(self.rank() + delta) % len(images)])
        return self.follow(selected) | {selected}

    def select_dimension(self, delta: int, selected: Part | None, by_kl: bool | None = None) -> Changes:
        """↑/↓: the next latent dimension in the order shown (`dimensions`), swept around what
        the view shown selects. From then on the selected dimension is the user's."""
        order = self.dimensions(by_kl)
        self.dim = order[(order.index(self.dim) + delta) % len(order)]
        return self.follow(selected) | {"dimension"}

    def toggle_dimension_order(self) -> Changes:
        """k: the dimensions by index, or back by KL (the selected one stays selected)."""
        self.by_kl = not self.by_kl
        return frozenset({"dimension"})

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

    # -- the test images' order and class (the reconstructions' keys) -------------------------
    def images(self) -> np.ndarray:
        """The test images ←/→ move along: in `order`, only `image_class`'s if one is chosen."""
        assert self.decoder is not None
        return self.decoder.order(self.order, self.image_class)

    def rank(self) -> int:
        """Where the selected image is in `images()` (0: first; 0 too if it is not there)."""
        found = np.flatnonzero(self.images() == self.image)
        return int(found[0]) if found.size else 0

    def select_rank(self, rank: int) -> Changes:
        """PageUp/PageDown/Home/End: the image at `rank` of `images()` (clamped to its ends)."""
        images = self.images()
        self.image = int(images[min(max(rank, 0), len(images) - 1)])
        return self.follow("image") | {"image"}

    def toggle_order(self) -> Changes:
        """o: by error (the worst first: where the model fails), or back to the stored order.
        The selected image stays (the reconstructions then select the worst, once they have
        the order: computing it takes a pass over the test set)."""
        from vae_tui.core.latent_space import ORDERS  # noqa: PLC0415 - torch (loaded: there is a model)

        self.order = ORDERS[(ORDERS.index(self.order) + 1) % len(ORDERS)]
        return frozenset({"order"})

    def classes_present(self) -> list[int]:
        """The labels the test images have (a `--test-limit` subset may lack some)."""
        e = self.decoder
        if e is None or e.labels is None:
            return []
        labels = e.labels  # (the Footer asks at every key: once per decoder)
        return e.cached("classes present", lambda: [int(x) for x in np.unique(labels.numpy())])

    def next_class(self) -> Changes:
        """c: all the test images → each class's in turn → all again. A class opens on its
        first image (in the order shown); back to all, the selected image stays."""
        present = self.classes_present()
        if self.image_class is None:
            self.image_class = present[0] if present else None
        else:
            later = [label for label in present if label > self.image_class]
            self.image_class = later[0] if later else None
        changes = frozenset({"order"})
        return changes if self.image_class is None else changes | self.select_rank(0)

    def go_to(self, index: int) -> Changes:
        """g: test image `index` (0-based), dropping the class filter if it is another class's."""
        assert self.decoder is not None
        self.image = index
        changes: Changes = frozenset({"image"})
        if self.image_class is not None and not np.any(self.images() == index):
            self.image_class = None
            changes |= {"order"}
        return changes | self.follow("image")

    def mark(self, end: Literal["a", "b"]) -> Changes:
        """a / b: the selected image becomes the interpolation's A (or B); again, unmarks it."""
        attribute = f"mark_{end}"
        setattr(self, attribute, None if getattr(self, attribute) == self.image else self.image)
        return frozenset({"marks"})
