"""Offline-first data: the bundled files, installing into a cache, and clear errors."""

from __future__ import annotations

import gzip
import shutil
from pathlib import Path

import pytest
import torch

from vae_tui.core import data
from vae_tui.core.errors import DataError


def test_bundled_mnist_matches_published_checksums() -> None:
    assert data.verify_checksums(data.BUNDLED_MNIST, data.MNIST_MD5) == []
    sizes = {p.name: p.stat().st_size for p in data.BUNDLED_MNIST.glob("*.gz")}
    assert sizes == {
        "t10k-images-idx3-ubyte.gz": 1616508,
        "t10k-labels-idx1-ubyte.gz": 4517,
        "train-images-idx3-ubyte.gz": 9719438,
        "train-labels-idx1-ubyte.gz": 28857,
    }


def test_resolution_installs_the_bundled_copy_into_an_empty_cache(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    calls = []
    folder = data.resolve_dataset_dir("mnist", cache=cache, download=lambda *a: calls.append(a))
    assert folder == cache / "datasets" / "mnist"
    assert calls == []  # the bundled copy was enough: no download attempted
    assert data.verify_checksums(folder, data.MNIST_MD5) == []
    assert not list(folder.parent.glob(".mnist*"))  # no staging folder left behind
    # Decompressed: every start reads them, and a plain file reads ~8× faster than a gzip.
    assert sorted(p.name for p in folder.iterdir()) == sorted(data.FILE_NAMES)
    # A second resolution finds the cache as it is.
    stamp = (folder / "train-images-idx3-ubyte").stat().st_mtime_ns
    assert data.resolve_dataset_dir("mnist", cache=cache) == folder
    assert (folder / "train-images-idx3-ubyte").stat().st_mtime_ns == stamp


def test_a_compressed_cache_is_decompressed_once(tmp_path: Path) -> None:
    """A cache installed by an earlier vae-tui holds the .gz files: they are decompressed beside
    them on the next start, and the data read is the same."""
    folder = tmp_path / "cache" / "datasets" / "mnist"
    folder.mkdir(parents=True)
    for gz in data.BUNDLED_MNIST.glob("*.gz"):
        shutil.copy(gz, folder)
    before = data.load_split(folder, "test", limit=50)
    assert data.find_file(folder, "t10k-images-idx3-ubyte").suffix == ".gz"
    assert data.resolve_dataset_dir("mnist", cache=tmp_path / "cache") == folder
    for name in data.FILE_NAMES:
        assert data.find_file(folder, name) == folder / name
        assert (folder / name).read_bytes() == gzip.decompress((folder / f"{name}.gz").read_bytes())
    after = data.load_split(folder, "test", limit=50)
    assert torch.equal(before.images, after.images) and torch.equal(before.labels, after.labels)


def test_loaded_splits_are_the_real_mnist(mnist_dir: Path) -> None:
    train = data.load_split(mnist_dir, "train")
    test = data.load_split(mnist_dir, "test", limit=100)
    assert train.images.shape == (60000, 1, 28, 28) and train.images.dtype == torch.float32
    assert train.images.min() == 0.0 and train.images.max() == 1.0
    counts = torch.bincount(train.labels).tolist()
    assert counts == [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
    assert train.labels[:10].tolist() == [5, 0, 4, 1, 9, 2, 1, 3, 1, 4]
    assert len(test) == 100 and test.labels[:10].tolist() == [7, 2, 1, 0, 4, 1, 4, 9, 5, 9]


def test_data_dir_accepts_uncompressed_and_torchvision_layouts(tmp_path: Path) -> None:
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for gz in data.BUNDLED_MNIST.glob("*.gz"):
        (raw / gz.name[:-3]).write_bytes(gzip.decompress(gz.read_bytes()))
    assert data.resolve_dataset_dir("mnist", tmp_path) == tmp_path
    assert data.load_split(tmp_path, "test", limit=5).labels.tolist() == [7, 2, 1, 0, 4]


def test_missing_dataset_error_names_what_was_tried(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(
        data.DATASETS, "mnist", data.DatasetSpec("mnist", "MNIST", tmp_path / "nope", None, "MNIST")
    )

    def offline(spec: data.DatasetSpec, target: Path) -> None:
        raise DataError("torchvision download failed (URLError: no network)")

    monkeypatch.delenv("VAE_TUI_NO_DOWNLOAD")
    with pytest.raises(DataError) as err:
        data.resolve_dataset_dir("mnist", cache=tmp_path / "cache", download=offline)
    message = str(err.value)
    assert "\n" not in message
    assert "cache" in message and "local copy" in message and "download failed" in message
    assert "--data-dir" in message  # says how to fix it


@pytest.mark.parametrize(
    ("damage", "expected"),
    [
        (lambda b: b[: len(b) // 2], "truncated"),
        (lambda b: b"\x00\x00\x08\x01" + b[4:], "magic"),
        (lambda b: b[:10], "not an IDX file"),
        (lambda b: b"", "not an IDX file"),
    ],
)
def test_corrupt_idx_files_are_reported(tmp_path: Path, damage, expected: str) -> None:
    for gz in data.BUNDLED_MNIST.glob("*.gz"):
        shutil.copy(gz, tmp_path / gz.name)
    images = tmp_path / "t10k-images-idx3-ubyte.gz"
    images.write_bytes(gzip.compress(damage(gzip.decompress(images.read_bytes()))))
    with pytest.raises(DataError, match=expected):
        data.load_split(tmp_path, "test")


def test_broken_gzip_and_bad_data_dirs(tmp_path: Path) -> None:
    for gz in data.BUNDLED_MNIST.glob("*.gz"):
        shutil.copy(gz, tmp_path / gz.name)
    (tmp_path / "t10k-labels-idx1-ubyte.gz").write_bytes(b"this is not gzip")
    with pytest.raises(DataError, match="cannot read"):
        data.load_split(tmp_path, "test")
    a_file = tmp_path / "file"
    a_file.write_text("x")
    with pytest.raises(DataError, match="is not a folder"):
        data.resolve_dataset_dir("mnist", a_file)
    with pytest.raises(DataError, match="lacks"):
        data.resolve_dataset_dir("mnist", tmp_path / "..")


def test_a_cache_that_cannot_be_written_falls_back_to_the_bundled_copy(tmp_path: Path) -> None:
    blocker = tmp_path / "cache"
    blocker.write_text("a file where the cache folder should be")
    assert data.resolve_dataset_dir("mnist", cache=blocker) == data.BUNDLED_MNIST


@pytest.mark.skipif(
    not data.SYSTEM_FASHION.is_dir(), reason="Debian's dataset-fashion-mnist is not installed"
)
def test_fashion_mnist_installs_from_the_system_copy(tmp_path: Path) -> None:
    folder = data.resolve_dataset_dir("fashion-mnist", cache=tmp_path)
    split = data.load_split(folder, "test", limit=10)
    assert split.images.shape == (10, 1, 28, 28)
    assert len(data.load_split(folder, "train")) == 60000


def test_evaluation_and_browsing_need_only_the_test_split(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`--eval` and browsing read only t10k-*: a folder (or a local copy) with just those is
    enough, and when they are missing, the error names those two files and no training file."""
    test_only = tmp_path / "test-only"
    test_only.mkdir()
    for name in data.SPLIT_FILES["test"]:
        shutil.copy(data.BUNDLED_MNIST / f"{name}.gz", test_only)
    assert data.resolve_dataset_dir("mnist", test_only, splits=("test",)) == test_only
    with pytest.raises(DataError, match="lacks train-images-idx3-ubyte, train-labels-idx1-ubyte"):
        data.resolve_dataset_dir("mnist", test_only)  # training needs both splits

    # A local copy with only the test split installs into the cache for evaluation.
    monkeypatch.setitem(
        data.DATASETS, "mnist", data.DatasetSpec("mnist", "MNIST", test_only, data.MNIST_MD5, "MNIST")
    )
    cache = tmp_path / "cache"
    folder = data.resolve_dataset_dir("mnist", cache=cache, download=None, splits=("test",))
    assert folder == cache / "datasets" / "mnist"
    assert sorted(p.name for p in folder.iterdir()) == sorted(data.SPLIT_FILES["test"])

    # Nothing anywhere: the two test files are named, with where they were looked for.
    monkeypatch.setitem(
        data.DATASETS,
        "fashion-mnist",
        data.DatasetSpec("fashion-mnist", "Fashion-MNIST", tmp_path / "nope", None, "FashionMNIST"),
    )
    with pytest.raises(DataError) as err:
        data.resolve_dataset_dir("fashion-mnist", cache=cache, download=None, splits=("test",))
    message = str(err.value)
    assert "train-" not in message
    assert "t10k-images-idx3-ubyte and t10k-labels-idx1-ubyte" in message
    assert f"local copy: {tmp_path / 'nope'} does not exist" in message


def test_eval_reads_a_folder_holding_only_the_test_split(tmp_path: Path) -> None:
    from ..helpers import run_cli

    for name in data.SPLIT_FILES["test"]:
        shutil.copy(data.BUNDLED_MNIST / f"{name}.gz", tmp_path)
    model = Path(__file__).parents[1] / "data" / "tiny-vae-state_dict.pt"
    args = ("--eval", "--checkpoint", str(model), "--test-limit", "20", "--iwae-k", "0")
    result = run_cli(*args, "--data-dir", str(tmp_path), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "Test set: mnist, 20 images" in result.stdout
    if not data.SYSTEM_FASHION.is_dir():  # the case: Fashion-MNIST nowhere on this machine
        missing = run_cli(*args, "--dataset", "fashion-mnist", cwd=tmp_path)
        assert missing.returncode == 2 and "train-" not in missing.stderr
        assert "t10k-images-idx3-ubyte and t10k-labels-idx1-ubyte" in missing.stderr
