"""What each dataset's labels mean, for captions and legends (torch-free: the UI reads it)."""

from __future__ import annotations

CLASS_NAMES: dict[str, tuple[str, ...]] = {
    "mnist": tuple(str(digit) for digit in range(10)),
    # The order of Fashion-MNIST's labels 0–9 (Xiao et al. 2017, the dataset's README).
    "fashion-mnist": (
        "T-shirt/top",
        "Trouser",
        "Pullover",
        "Dress",
        "Coat",
        "Sandal",
        "Shirt",
        "Sneaker",
        "Bag",
        "Ankle boot",
    ),
}


def class_names(dataset: str) -> tuple[str, ...]:
    """The names of `dataset`'s labels 0, 1, …; digits for a dataset not listed here."""
    return CLASS_NAMES.get(dataset, CLASS_NAMES["mnist"])
