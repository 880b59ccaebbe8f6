"""What the app shows of a model: reconstructions, samples, latent traversals and paths as uint8
tiles, and what it knows of the test set's codes (their map, usage and reconstruction errors).

It works on a CPU copy of the weights (a `ModelSnapshot`, or a checkpoint), so the UI can decode
on its own thread while training goes on elsewhere. Decoding a few codes is a few small matrix
products, well under the app's 100 ms budget for a key press; what covers the whole test set
(`codes`, `errors` and what follows from them) is computed once per decoder and kept, since new
weights come as a new decoder.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Any, Literal, TypeVar

import numpy as np
import torch
from torch import Tensor

from .evaluate import CHUNK_IMAGES, decode_logits_into, softplus_sum_, usage_of_codes
from .grids import TRAVERSAL_RANGE, sweep_codes, to_uint8
from .latent_space import Projection, fit_projection, image_order, lerp, slerp
from .loss import bce_per_image, kl_divergence
from .model import VAE
from .weights import architecture

T = TypeVar("T")


class TileDecoder:
    """A frozen model plus the test images it is browsed with."""

    def __init__(
        self, state: dict[str, torch.Tensor], test_images: torch.Tensor, labels: torch.Tensor | None = None
    ):
        dims = architecture(state)
        self.model = VAE(**dims)
        self.model.load_state_dict(state)
        self.model.eval()
        self.latent_dim = dims["latent_dim"]
        self.images = test_images
        self.labels = labels
        self._cache: dict[Any, Any] = {}
        # Views may fill the caches from a worker while the UI thread asks for them too: each
        # value is computed once, under its own lock (so asking for one never waits for another
        # being computed unless it needs it), and a cached value is read without any lock.
        self._locks: dict[Any, threading.Lock] = {}
        self._locks_lock = threading.Lock()

    def cached(self, key: Any, compute: Callable[[], T]) -> T:
        """`compute()` the first time `key` is asked for, the same object after that."""
        if (value := self._cache.get(key)) is None:
            with self._locks_lock:
                lock = self._locks.setdefault(key, threading.Lock())
            with lock:
                if (value := self._cache.get(key)) is None:
                    value = self._cache[key] = compute()
        return value

    @property
    def count(self) -> int:
        return int(self.images.shape[0])

    @torch.inference_mode()
    def originals(self, indices: list[int]) -> np.ndarray:
        return to_uint8(self.images[indices])

    @torch.inference_mode()
    def reconstructions(self, indices: list[int]) -> np.ndarray:
        """Decodings of the posterior means (the steady picture, without sampling noise)."""
        mu, _ = self.model.encode(self.images[indices])
        return to_uint8(self.model.decode(mu))

    @torch.inference_mode()
    def image_loss(self, index: int) -> tuple[float, float]:
        """(BCE of the mean reconstruction, KLD) of one test image, in nats."""
        x = self.images[index : index + 1]
        mu, logvar = self.model.encode(x)
        return float(bce_per_image(self.model.decode_logits(mu), x)), float(kl_divergence(mu, logvar))

    @torch.inference_mode()
    def code(self, index: int | None) -> torch.Tensor:
        """μ of a test image, or the prior's mean (zeros) for None."""
        if index is None:
            return torch.zeros(self.latent_dim)
        return self.model.encode(self.images[index : index + 1])[0][0]

    @torch.inference_mode()
    def decode(self, z: torch.Tensor) -> np.ndarray:
        return to_uint8(self.model.decode(z))

    @torch.inference_mode()
    def traversal(self, base: Tensor, dims: list[int], offsets: Tensor | Sequence[float] | int) -> np.ndarray:
        """(len(dims), len(offsets), 28, 28): row i sets z[dims[i]] to base[dims[i]] + each offset
        (in prior standard deviations), the other dimensions at base; so a 0 offset decodes the
        base itself. An int is a count of offsets evenly spaced over ±TRAVERSAL_RANGE."""
        if isinstance(offsets, int):
            offsets = torch.linspace(-TRAVERSAL_RANGE, TRAVERSAL_RANGE, offsets)
        offsets = torch.as_tensor(offsets, dtype=base.dtype)
        z = sweep_codes(base, dims, offsets)
        return self.decode(z).reshape(len(dims), offsets.shape[0], 28, 28)

    @torch.inference_mode()
    def interpolation(
        self, a: Tensor, b: Tensor, steps: int, mode: Literal["linear", "slerp"] = "linear"
    ) -> np.ndarray:
        """(steps, 28, 28): the decodings along the path from code a to code b, a and b at the ends."""
        if mode not in ("linear", "slerp"):
            raise ValueError(f"unknown interpolation {mode!r} (choose linear or slerp)")
        return self.decode((slerp if mode == "slerp" else lerp)(a, b, steps))

    # -- the whole test set, computed once per decoder ------------------------------------------
    def codes(self) -> tuple[Tensor, Tensor]:
        """(μ, log σ²) of every test image, (N, D) each."""
        return self.cached("codes", self._encode_all)

    @torch.inference_mode()
    def _encode_all(self) -> tuple[Tensor, Tensor]:
        parts = [
            self.model.encode(self.images[s : s + CHUNK_IMAGES]) for s in range(0, self.count, CHUNK_IMAGES)
        ]
        return torch.cat([mu for mu, _ in parts]), torch.cat([logvar for _, logvar in parts])

    def usage(self) -> dict[str, Any]:
        """Per-dimension KL, activity and active units of the test codes (`usage_of_codes`)."""
        return self.cached("usage", lambda: usage_of_codes(*self.codes()))

    def errors(self) -> np.ndarray:
        """(N,) BCE in nats of each test image's mean reconstruction (decoded μ, no sampling)."""
        return self.cached("errors", self._reconstruction_errors)

    @torch.inference_mode()
    def _reconstruction_errors(self) -> np.ndarray:
        """BCE = Σ softplus(ℓ) − x·ℓ per image, summed with evaluate's one-log-per-112-values
        `softplus_sum_` in two buffers reused by every chunk: the value of `bce_per_image` to
        float32 rounding at ~⅓ of its cost (~55 ms instead of ~150 ms for 10,000 images)."""
        mu = self.codes()[0]
        flat = self.images.reshape(self.count, -1)
        chunk = max(1, min(CHUNK_IMAGES, self.count))
        logits_buffer, scratch_buffer = (
            flat.new_empty(chunk, flat.shape[1]),
            flat.new_empty(chunk, flat.shape[1]),
        )
        errors = torch.empty(self.count)
        for s in range(0, self.count, chunk):
            x = flat[s : s + chunk]
            logits = decode_logits_into(self.model, mu[s : s + chunk], logits_buffer[: x.shape[0]])
            scratch = scratch_buffer[: x.shape[0]]
            x_dot_logits = torch.mul(logits, x, out=scratch).sum(-1)
            errors[s : s + chunk] = softplus_sum_(logits, scratch) - x_dot_logits
        return errors.numpy()

    def projection(self) -> Projection:
        """The 2-D map of the test codes μ (PCA, or the plane itself for 2-D codes)."""
        return self.cached("projection", lambda: fit_projection(self.codes()[0]))

    def map_points(self) -> np.ndarray:
        """(N, 2) each test code's place on the map."""
        return self.cached("map_points", lambda: self.projection().project(self.codes()[0]).numpy())

    def order(self, order: str, label: int | None = None) -> np.ndarray:
        """Test-image indices: by index or by reconstruction error (worst first), optionally only
        class `label`'s (`latent_space.image_order`)."""
        labels = None if self.labels is None else self.labels.numpy()

        def compute() -> np.ndarray:
            # By index the errors are not needed (only the count): no pass over the test set.
            errors = self.errors() if order == "error" else np.zeros(self.count)
            return image_order(errors, labels, order, label)

        return self.cached(("order", order, label), compute)

    def know_usage(self, usage: dict[str, Any]) -> None:
        """The usage of these weights' test codes as the held-out pass at their epoch's end
        measured it (the same images and weights): `usage()` then needs no encoding pass."""
        self._cache.setdefault("usage", usage)

    def warm(self, superseded: Callable[[], bool] = lambda: False) -> None:
        """The usage of the test codes (the traversal and the latents view wait for it), off the
        UI thread, unless known already or `superseded` (newer weights are shown). Only that:
        the map and the order by error are computed by their views' workers when shown — warming
        them at every epoch end too cost the app ~15% of its training speed on 2 cores."""
        if not superseded():
            self.usage()


class Warmer:
    """One thread that warms the newest decoder: weights arriving faster than they warm (every
    `r`) replace the one waiting rather than queue behind it."""

    def __init__(self) -> None:
        self._next: TileDecoder | None = None
        self._ready = threading.Condition()
        self._thread: threading.Thread | None = None

    def warm(self, decoder: TileDecoder) -> None:
        with self._ready:
            self._next = decoder
            self._ready.notify()
            if self._thread is None:
                self._thread = threading.Thread(target=self._serve, name="warm-codes", daemon=True)
                self._thread.start()

    def _serve(self) -> None:
        from .threads import serial_on_this_thread  # noqa: PLC0415

        serial_on_this_thread()  # beside training: no OpenMP team of its own (see there)
        while True:
            with self._ready:
                while self._next is None:
                    self._ready.wait()
                decoder, self._next = self._next, None
            decoder.warm(superseded=lambda: self._next is not None)
