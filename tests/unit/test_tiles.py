"""What `TileDecoder` draws and knows of the test set, checked on models whose answers can be read:
a decoder whose pixels spell out the code, an encoder whose codes lie in a known plane, and the
small trained model on real MNIST test images."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest
import torch

from vae_tui.core import tiles
from vae_tui.core.data import load_split
from vae_tui.core.evaluate import usage_of_codes
from vae_tui.core.grids import to_uint8
from vae_tui.core.loss import bce_per_image
from vae_tui.core.model import VAE
from vae_tui.core.tiles import TileDecoder

from ..helpers import TINY_MODEL

BLOCK = 100
"""Pixels per latent dimension in the readable decoder."""


def readable_state(latent: int = 3) -> dict[str, torch.Tensor]:
    """A VAE whose decoder draws z_k as the grey level sigmoid(z_k) of pixels [k·100, (k+1)·100):
    its hidden layer holds relu(z) and relu(−z), whose difference is z. The encoder is random."""
    torch.manual_seed(0)
    model = VAE(hidden_dim=2 * latent, latent_dim=latent)
    with torch.no_grad():
        eye = torch.eye(latent)
        model.fc2.weight.copy_(torch.cat([eye, -eye]))
        model.fc2.bias.zero_()
        model.fc3.weight.zero_()
        model.fc3.bias.zero_()
        for k in range(latent):
            model.fc3.weight[k * BLOCK : (k + 1) * BLOCK, k] = 1.0
            model.fc3.weight[k * BLOCK : (k + 1) * BLOCK, latent + k] = -1.0
    return model.state_dict()


def drawn_code(tile: np.ndarray, latent: int = 3) -> np.ndarray:
    """The grey level of each dimension's block in a readable decoder's tile (uint8)."""
    flat = tile.reshape(-1)
    return np.array([flat[k * BLOCK] for k in range(latent)])


def grey(values: torch.Tensor) -> np.ndarray:
    """sigmoid(values) as the uint8 grey levels a tile holds."""
    return to_uint8(torch.sigmoid(values).reshape(-1, 1).expand(-1, 784))[:, 0, 0]


@pytest.fixture(scope="module")
def mnist_test(mnist_dir: Path) -> tuple[torch.Tensor, torch.Tensor]:
    split = load_split(mnist_dir, "test", limit=300)
    return split.images, split.labels


def test_a_traversal_row_sweeps_its_dimension_around_the_base(mnist_test) -> None:
    decoder = TileDecoder(readable_state(), mnist_test[0][:4])
    base = torch.tensor([0.5, -1.0, 2.0])
    offsets = torch.tensor([-2.0, -0.5, 0.0, 1.0])
    tiles_ = decoder.traversal(base, [2, 0], offsets)
    assert tiles_.shape == (2, 4, 28, 28)
    for row, d in enumerate([2, 0]):
        for column, offset in enumerate(offsets):
            z = base.clone()
            z[d] += offset  # only dimension d moves, by the offset, from the base's value
            assert drawn_code(tiles_[row, column]).tolist() == grey(z).tolist()
        assert np.array_equal(tiles_[row, 2], decoder.decode(base.unsqueeze(0))[0])  # offset 0: the base
    # A count of steps (what the old traversal took) sweeps ±3 around the base in that many steps.
    assert np.array_equal(
        decoder.traversal(base, [1], 5), decoder.traversal(base, [1], torch.linspace(-3, 3, 5))
    )


def test_an_interpolation_decodes_the_path_from_a_to_b(mnist_test) -> None:
    decoder = TileDecoder(readable_state(), mnist_test[0][:4])
    a, b = torch.tensor([2.0, 0.0, 0.0]), torch.tensor([0.0, 2.0, 0.0])
    linear, spherical = decoder.interpolation(a, b, 5), decoder.interpolation(a, b, 5, "slerp")
    for path in (linear, spherical):
        assert np.array_equal(path[0], decoder.decode(a.unsqueeze(0))[0])
        assert np.array_equal(path[-1], decoder.decode(b.unsqueeze(0))[0])
    assert drawn_code(linear[2]).tolist() == grey(torch.tensor([1.0, 1.0, 0.0])).tolist()
    assert drawn_code(spherical[2]).tolist() == grey(torch.tensor([2**0.5, 2**0.5, 0.0])).tolist()
    with pytest.raises(ValueError, match="unknown interpolation"):
        decoder.interpolation(a, b, 5, "cubic")  # type: ignore[arg-type]


def test_the_map_of_codes_that_lie_in_a_known_plane_is_that_plane(mnist_test) -> None:
    """An encoder whose μ = Q·(B·h) + c, Q a known orthonormal (8, 2): every code lies in the plane
    through c spanned by Q, so the map's axes span Q's columns and lifting a map point is exact."""
    state = VAE(hidden_dim=32, latent_dim=8).state_dict()
    generator = torch.Generator().manual_seed(1)
    q, _ = torch.linalg.qr(torch.randn(8, 2, generator=generator))
    state["fc_mu.weight"] = q @ torch.randn(2, 32, generator=generator)
    state["fc_mu.bias"] = torch.randn(8, generator=generator)
    decoder = TileDecoder(state, mnist_test[0])
    projection, mu = decoder.projection(), decoder.codes()[0]
    overlap = projection.axes.T @ q  # an orthogonal 2×2 matrix when both span the same plane
    torch.testing.assert_close(overlap @ overlap.T, torch.eye(2), atol=1e-4, rtol=0)
    assert sum(projection.explained) == pytest.approx(1.0, abs=1e-5)
    points = torch.from_numpy(decoder.map_points())
    torch.testing.assert_close(projection.lift(points), mu, atol=1e-4, rtol=1e-4)


def test_the_test_set_numbers_match_the_model_computed_directly(mnist_test, monkeypatch) -> None:
    monkeypatch.setattr(tiles, "CHUNK_IMAGES", 128)  # several chunks, the last one short
    images, labels = mnist_test
    decoder = TileDecoder(torch.load(TINY_MODEL, weights_only=True), images, labels)
    with torch.inference_mode():
        mu, logvar = decoder.model.encode(images)
        bce = bce_per_image(decoder.model.decode_logits(mu), images)
    torch.testing.assert_close(decoder.codes()[0], mu, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(decoder.codes()[1], logvar, atol=1e-5, rtol=1e-5)
    np.testing.assert_allclose(decoder.errors(), bce.numpy(), rtol=1e-5)
    assert decoder.usage() == usage_of_codes(mu, logvar)
    np.testing.assert_allclose(decoder.map_points(), decoder.projection().project(mu).numpy(), atol=1e-5)


def test_the_order_by_error_is_worst_first_within_a_class(mnist_test) -> None:
    images, labels = mnist_test
    decoder = TileDecoder(torch.load(TINY_MODEL, weights_only=True), images, labels)
    errors = decoder.errors()
    order = decoder.order("error", 7)
    assert sorted(order.tolist()) == torch.nonzero(labels == 7).flatten().tolist()
    assert bool(np.all(np.diff(errors[order]) <= 0))
    assert decoder.order("index").tolist() == list(range(len(images)))
    assert np.argmax(errors) == decoder.order("error")[0]


def test_each_test_set_value_is_computed_once_per_decoder(mnist_test) -> None:
    images, labels = mnist_test
    decoder = TileDecoder(torch.load(TINY_MODEL, weights_only=True), images, labels)
    for get in (decoder.codes, decoder.errors, decoder.usage, decoder.projection, decoder.map_points):
        assert get() is get()
    assert decoder.order("error", 3) is decoder.order("error", 3)
    # Asked from several threads at once (a view's worker and the UI thread), still one value.
    fresh = TileDecoder(torch.load(TINY_MODEL, weights_only=True), images, labels)
    results: list[np.ndarray] = []
    threads = [threading.Thread(target=lambda: results.append(fresh.errors())) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == 4 and all(r is results[0] for r in results)


def test_known_usage_needs_no_pass_over_the_test_set(mnist_test) -> None:
    """The epoch end's held-out usage, handed over, is what `usage()` answers: no encoding."""
    images, labels = mnist_test
    decoder = TileDecoder(torch.load(TINY_MODEL, weights_only=True), images, labels)
    measured = usage_of_codes(*decoder.model.encode(images.reshape(len(images), -1)))
    decoder.know_usage(measured)
    assert decoder.usage() is measured and "codes" not in decoder._cache


def test_the_warmer_warms_the_newest_decoder_and_a_superseded_one_stops(mnist_test) -> None:
    images, labels = mnist_test
    state = torch.load(TINY_MODEL, weights_only=True)
    superseded = TileDecoder(state, images, labels)
    superseded.warm(superseded=lambda: True)
    assert superseded._cache == {}  # newer weights were waiting: nothing computed
    warmer = tiles.Warmer()
    decoders = [TileDecoder(state, images, labels) for _ in range(3)]
    for decoder in decoders:
        warmer.warm(decoder)
    newest = decoders[-1]
    for _ in range(600):
        if "usage" in newest._cache:
            break
        threading.Event().wait(0.05)
    assert {"codes", "usage"} <= newest._cache.keys()
    # What the map and the order by error need is left to their views' workers.
    assert not {"map_points", "errors"} & newest._cache.keys()
