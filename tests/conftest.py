"""Shared fixtures: an isolated dataset cache, the real MNIST subset, tiny configs."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from vae_tui.core.config import TrainConfig

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session", autouse=True)
def isolated_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Every test uses a fresh per-session cache and never touches the network."""
    cache = tmp_path_factory.mktemp("cache")
    os.environ["VAE_TUI_CACHE"] = str(cache)
    os.environ["VAE_TUI_NO_DOWNLOAD"] = "1"
    return cache


@pytest.fixture(scope="session")
def mnist_dir(isolated_cache: Path) -> Path:
    from vae_tui.core.data import resolve_dataset_dir

    return resolve_dataset_dir("mnist")


@pytest.fixture
def tiny_config(tmp_path: Path, mnist_dir: Path) -> TrainConfig:
    """A config that trains in a fraction of a second on real MNIST images."""
    return TrainConfig(
        epochs=2,
        batch_size=64,
        hidden_dim=32,
        latent_dim=4,
        train_limit=512,
        test_limit=128,
        run_dir=str(tmp_path / "run"),
        swanlab="disabled",
        iwae_k=4,
        device="cpu",
    )


OLD_RUN = Path(__file__).parent / "data" / "run-issue13"
"""A finished 3-epoch run (hidden 16, latent 2, 512 training images) written before issue 14:
no traversal pictures, no request channel. What a user's older runs look like."""


@pytest.fixture
def old_run(tmp_path: Path) -> Path:
    """A copy of `OLD_RUN` to read or resume (the repository's copy stays untouched)."""
    import shutil

    return Path(shutil.copytree(OLD_RUN, tmp_path / "old-run"))
