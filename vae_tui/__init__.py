"""vae-tui: train a variational autoencoder on MNIST live in the terminal, and explore it.

The package's root. Its two halves live in the repository's top-level `core/` (the UI-free
model, data and training loop, with the bundled MNIST as package data) and `tui/` (the
front ends); pyproject maps them to `vae_tui.core` and `vae_tui.tui`.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("vae-tui")
except PackageNotFoundError:  # imported from a source tree that was never installed
    __version__ = "0+unknown"
