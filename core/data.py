"""Datasets, offline first: find the IDX files, install them into a cache, load them as tensors.

Resolution order for a dataset: `--data-dir` when given (no fallback: the user asked for that
folder); else the per-user cache, which holds the files decompressed; if the cache lacks it,
install it there from the copy the package bundles (MNIST, package data in `vae_tui/core/mnist/`, found through importlib.resources
however the package is installed) or the system's (Debian's `dataset-fashion-mnist`); only then
try torchvision's downloader. Each split is read once into one float tensor in [0, 1], so the
training loop never touches PIL or a per-sample transform.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import shutil
import socket
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np
import torch

from .atomic import staged_folder, write_atomic
from .errors import DataError

SYSTEM_FASHION = Path("/usr/share/datasets/fashion-mnist")

SPLIT_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
FILE_NAMES = tuple(name for pair in SPLIT_FILES.values() for name in pair)
SPLIT_SIZES = {"train": 60000, "test": 10000}

# md5 of the decompressed originals (shared/datasets/mnist/README.md): our .gz files are
# recompressed, so only the decompressed bytes can be checked against the published files.
MNIST_MD5 = {
    "t10k-images-idx3-ubyte": "2646ac647ad5339dbf082846283269ea",
    "t10k-labels-idx1-ubyte": "27ae3e4e09519cfbb04c329615203637",
    "train-images-idx3-ubyte": "6bbc9ace898e44ae57da46a324031adb",
    "train-labels-idx1-ubyte": "a25bea736e30d166cdddb491f175f624",
}

IDX_IMAGES_MAGIC = 0x00000803  # unsigned bytes, 3 dimensions
IDX_LABELS_MAGIC = 0x00000801  # unsigned bytes, 1 dimension


# The MNIST files shipped as package data, located through importlib.resources so they are found
# however the package is installed (wheel, pipx, editable). A regular install has them as files on
# disk; a zip import is not supported (torch itself cannot be imported from one).
BUNDLED_MNIST = Path(str(resources.files(__package__).joinpath("mnist")))


@dataclass(frozen=True)
class DatasetSpec:
    name: str
    title: str
    seed_dir: Path | None
    """A local copy to install into the cache from (bundled or from the system)."""
    md5: dict[str, str] | None
    torchvision_class: str


DATASETS = {
    "mnist": DatasetSpec("mnist", "MNIST", BUNDLED_MNIST, MNIST_MD5, "MNIST"),
    "fashion-mnist": DatasetSpec("fashion-mnist", "Fashion-MNIST", SYSTEM_FASHION, None, "FashionMNIST"),
}


@dataclass(frozen=True)
class Split:
    """One split held in memory: images (N, 1, 28, 28) float32 in [0, 1], labels (N,) int64."""

    images: torch.Tensor
    labels: torch.Tensor

    def __len__(self) -> int:
        return self.images.shape[0]


def cache_dir() -> Path:
    """Per-user cache: $VAE_TUI_CACHE, else $XDG_CACHE_HOME/vae-tui, else ~/.cache/vae-tui."""
    if env := os.environ.get("VAE_TUI_CACHE"):
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "vae-tui"


def find_file(folder: Path, name: str) -> Path | None:
    """`name` or `name.gz` in `folder`, or in torchvision's layout below it (the plain file
    first: it reads ~8× faster)."""
    for sub in (folder, *folder.glob("*/raw")):
        for candidate in (sub / name, sub / f"{name}.gz"):
            if candidate.is_file():
                return candidate
    return None


SPLITS = tuple(SPLIT_FILES)
"""Training reads both splits; evaluation and browsing read only `("test",)`."""


def split_files(splits: Sequence[str]) -> list[str]:
    return [name for split in splits for name in SPLIT_FILES[split]]


def missing_files(folder: Path, splits: Sequence[str] = SPLITS) -> list[str]:
    return [name for name in split_files(splits) if find_file(folder, name) is None]


def needed_files(spec: DatasetSpec, splits: Sequence[str], named: bool = True) -> str:
    """What a fix must provide: `the four MNIST IDX files`, or the test split and (`named`) its files."""
    if tuple(splits) == SPLITS:
        return f"the four {spec.title} IDX files"
    files = f" ({' and '.join(split_files(splits))}, .gz or uncompressed)" if named else ""
    return f"the {spec.title} {' and '.join(splits)} split{files}"


def read_raw(path: Path) -> bytes:
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as f:
            return f.read()
    except (OSError, EOFError, gzip.BadGzipFile) as e:
        raise DataError(f"cannot read {path}: {e}") from None


def parse_idx(data: bytes, path: Path, magic: int) -> np.ndarray:
    """An IDX array from its bytes, with every header field checked against the payload."""
    ndim = magic & 0xFF
    header = 4 + 4 * ndim
    if len(data) < header:
        raise DataError(f"{path} is not an IDX file (only {len(data)} bytes)")
    found = int.from_bytes(data[:4], "big")
    if found != magic:
        raise DataError(f"{path} is not the expected IDX file (magic {found:#010x}, want {magic:#010x})")
    dims = [int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim)]
    expected = header + int(np.prod(dims))
    if len(data) != expected:
        raise DataError(f"{path} is truncated or padded: {len(data)} bytes, header {dims} says {expected}")
    return np.frombuffer(data, dtype=np.uint8, offset=header).reshape(dims)


def load_split(folder: Path, split: str, limit: int | None = None) -> Split:
    """Read one split of a dataset folder into memory (the first `limit` images if given)."""
    image_name, label_name = SPLIT_FILES[split]
    paths = [find_file(folder, image_name), find_file(folder, label_name)]
    if None in paths:
        raise DataError(f"{folder} lacks {image_name} or {label_name} (.gz or uncompressed)")
    image_path, label_path = paths
    assert image_path is not None and label_path is not None
    images = parse_idx(read_raw(image_path), image_path, IDX_IMAGES_MAGIC)
    labels = parse_idx(read_raw(label_path), label_path, IDX_LABELS_MAGIC)
    if images.shape[1:] != (28, 28):
        raise DataError(f"{image_path} holds {images.shape[1:]} images, not 28×28")
    if len(images) != len(labels):
        raise DataError(f"{image_path} has {len(images)} images but {label_path} {len(labels)} labels")
    if limit is not None:
        images, labels = images[:limit], labels[:limit]
    tensor = torch.from_numpy(images.copy()).to(torch.float32).div_(255.0).unsqueeze(1)
    return Split(tensor, torch.from_numpy(labels.astype(np.int64)))


def md5_of(path: Path) -> str:
    return hashlib.md5(read_raw(path)).hexdigest()


def verify_checksums(folder: Path, md5: dict[str, str]) -> list[str]:
    """Names whose decompressed bytes do not match the published md5 (empty when all do)."""
    bad = []
    for name, digest in md5.items():
        path = find_file(folder, name)
        try:
            ok = path is not None and md5_of(path) == digest
        except DataError:
            ok = False
        if not ok:
            bad.append(name)
    return bad


def install_from(source: Path, target: Path, spec: DatasetSpec, splits: Sequence[str] = SPLITS) -> None:
    """Copy the files of `splits` (and any other of the four that `source` has) into `target`,
    decompressed (`expand_cache` says why), via a temp folder, so a half-copied cache never exists."""
    if not source.is_dir():
        raise DataError(f"{source} does not exist")
    if missing := missing_files(source, splits):
        raise DataError(f"{source} lacks {', '.join(missing)}")
    names = [name for name in FILE_NAMES if find_file(source, name) is not None]
    if spec.md5 and (bad := verify_checksums(source, {n: spec.md5[n] for n in names})):
        raise DataError(f"{source}: checksum mismatch for {', '.join(bad)}")
    target.parent.mkdir(parents=True, exist_ok=True)
    with staged_folder(target) as staging:
        for name in names:
            src = find_file(source, name)
            assert src is not None
            if src.suffix == ".gz":
                (staging / name).write_bytes(read_raw(src))
            else:
                shutil.copyfile(src, staging / name)


def expand_cache(folder: Path) -> None:
    """Decompress, once, the .gz files a cache installed by an earlier vae-tui holds (beside
    them, atomically; `find_file` then reads the plain ones). Every start reads the training
    images before its first batch: ~20 ms from a plain file, ~170 ms to gunzip (2 cores).
    A cache that cannot be written, or a broken file, is left as it is (loading reports the latter)."""
    for name in FILE_NAMES:
        packed, plain = folder / f"{name}.gz", folder / name
        if packed.is_file() and not plain.exists():
            try:
                content = read_raw(packed)
                # Durable: a torn plain file would shadow the intact .gz on every later start.
                write_atomic(plain, lambda f, content=content: f.write(content), durable=True)
            except (DataError, OSError):
                return


def download_with_torchvision(spec: DatasetSpec, target: Path) -> None:
    """Last resort: torchvision's downloader (needs the network), then install into `target`."""
    import torchvision.datasets  # noqa: PLC0415 - heavy, and only needed on this path

    root = target.parent / f".{spec.name}-download"
    previous = socket.getdefaulttimeout()
    socket.setdefaulttimeout(30)  # never hang forever on a network that drops packets
    try:
        getattr(torchvision.datasets, spec.torchvision_class)(root=str(root), download=True)
        getattr(torchvision.datasets, spec.torchvision_class)(root=str(root), train=False, download=True)
    except Exception as e:  # noqa: BLE001 - any failure here is reported as one line below
        shutil.rmtree(root, ignore_errors=True)
        detail = " ".join(str(e).split())  # torchvision's messages span lines; ours must not
        raise DataError(f"torchvision download failed ({type(e).__name__}: {detail[-160:]})") from None
    finally:
        socket.setdefaulttimeout(previous)
    install_from(root / spec.torchvision_class / "raw", target, spec)
    shutil.rmtree(root, ignore_errors=True)


def resolve_dataset_dir(
    dataset: str,
    data_dir: str | os.PathLike[str] | None = None,
    *,
    cache: Path | None = None,
    download: Callable[[DatasetSpec, Path], None] | None = download_with_torchvision,
    splits: Sequence[str] = SPLITS,
) -> Path:
    """The folder holding the dataset's IDX files for `splits` (training needs both, evaluation
    and browsing only the test split), installing or downloading them if needed."""
    if dataset not in DATASETS:
        raise DataError(f"unknown dataset {dataset!r} (choose from {', '.join(DATASETS)})")
    spec = DATASETS[dataset]
    if data_dir is not None:
        folder = Path(data_dir)
        if not folder.is_dir():
            what = "is not a folder" if folder.exists() else "does not exist"
            raise DataError(
                f"--data-dir {folder} {what}; point it at a folder holding the {spec.title} IDX files"
            )
        if missing := missing_files(folder, splits):
            raise DataError(
                f"--data-dir {folder} lacks {', '.join(missing)} (.gz or uncompressed); "
                f"point it at a folder holding {needed_files(spec, splits, named=False)}"
            )
        return folder

    target = (cache or cache_dir()) / "datasets" / spec.name
    tried: list[str] = []
    if not (missing := missing_files(target, splits)):
        expand_cache(target)
        return target
    tried.append(f"cache {target}: " + (f"lacks {', '.join(missing)}" if target.is_dir() else "missing"))
    if spec.seed_dir is not None:
        try:
            install_from(spec.seed_dir, target, spec, splits)
            return target
        except DataError as e:
            tried.append(f"local copy: {e}")
        except OSError as e:
            if not missing_files(spec.seed_dir, splits):
                return spec.seed_dir  # the cache is not writable: read the local copy in place
            tried.append(f"local copy: {e}")
    if os.environ.get("VAE_TUI_NO_DOWNLOAD"):
        tried.append("download disabled by VAE_TUI_NO_DOWNLOAD")
    elif download is not None:
        try:
            download(spec, target)
            return target
        except (DataError, OSError) as e:
            tried.append(str(e))
    what = spec.title if tuple(splits) == SPLITS else f"{spec.title} ({' and '.join(splits)} split)"
    raise DataError(
        f"{what} not available ({'; '.join(tried)}); fix: put {needed_files(spec, splits)} in "
        f"{target} or pass --data-dir"
    )
