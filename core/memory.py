"""The memory a run or an evaluation will need, estimated from its sizes before anything exists.

Torch allocates as it goes. A size that cannot fit fails deep inside it with a traceback, or,
where the kernel overcommits and there is no swap (Linux's default), the process is killed
part-way with no message at all. So the sizes the flags imply are added up first and compared
with the memory free right now; what cannot fit is refused in one line naming the flag to change.

Counts are of float32 values. The activation coefficients below are peak RSS measured on the
CPU (torch 2.14, one thread) for each width on its own, rounded up; measured per image:
a training step 4.1 per pixel + 3.7 per hidden unit + 9.9 per latent dimension (autograd keeps
the activations for backward, and backward makes their gradients); a held-out chunk (no grad)
5.1 + 1.9 + 6.1; an IWAE (image, sample) pair 5.0 + 1.8 + 3.7.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import torch

from .config import TrainConfig
from .data import SPLIT_SIZES
from .errors import ConfigError
from .evaluate import CHUNK_IMAGES, iwae_chunks
from .grids import TRAVERSAL_CHUNK, TRAVERSAL_STEPS

FLOAT = 4  # bytes of a float32
DOUBLE = 8
# Values held per image (or IWAE pair) for each (pixel, hidden unit, latent dimension).
TRAIN_STEP = (5, 4, 10)
HELDOUT = (6, 2, 7)
IWAE_PAIR = (6, 2, 4)
IWAE_LOG_WEIGHTS = 3  # the (images, K) float64 log-weights, plus logsumexp's temporaries
CODES = 2  # the held-out pass keeps every image's μ and log σ² for `usage_of_codes` (float32);
# beside a chunk's activations only the earlier chunks' count: one chunk's added no measurable peak
# (test_memory's wide-latent run grew 128–184 MB before them, 132–187 MB with them)
ON_DEVICE = 4  # weights, gradients and AdamW's two moments
ON_HOST = 2  # the CPU snapshot the display gets each epoch, and the display's own model from it
SLACK = (1.1, 48 << 20)
"""Freed blocks the C allocator keeps for reuse, and fragmentation, as (factor, bytes): after
reading the images and a first step, a small run held ~35 MB more than its tensors."""


def parameter_count(input_dim: int, hidden_dim: int, latent_dim: int) -> int:
    """Weights and biases of `VAE(input_dim, hidden_dim, latent_dim)`: fc1, fc_mu, fc_logvar, fc2, fc3."""
    i, h, z = input_dim, hidden_dim, latent_dim
    return (i * h + h) + 2 * (h * z + z) + (z * h + h) + (h * i + i)


def per_image(widths: tuple[int, int, int], dims: tuple[int, int, int]) -> int:
    """Bytes per image for coefficients `widths` of a model with (pixels, hidden, latent) `dims`."""
    return FLOAT * sum(w * d for w, d in zip(widths, dims, strict=True))


@dataclass(frozen=True)
class Need:
    """Bytes one part of the work holds at its peak, and the settings it grows with."""

    what: str
    grows_with: tuple[str, ...]
    """TrainConfig fields, the most telling first: the flags a refusal names."""
    device: int
    """Bytes where the tensors compute (a CUDA GPU's own memory; else RAM)."""
    host: int = 0
    """Bytes in RAM besides; on the CPU and MPS (one memory) they add up with `device`."""

    def on(self, side: str) -> int:
        return {"device": self.device, "host": self.host}.get(side, self.device + self.host)


@dataclass(frozen=True)
class Estimate:
    held: tuple[Need, ...]
    """Parts held for the whole run (they add up)."""
    phases: tuple[Need, ...]
    """Parts that come one after another (the largest counts)."""

    def total(self, side: str) -> int:
        tensors = sum(n.on(side) for n in self.held) + max((n.on(side) for n in self.phases), default=0)
        return int(tensors * SLACK[0]) + SLACK[1]

    def largest(self, side: str) -> Need:
        return max((*self.held, *self.phases), key=lambda n: n.on(side))


def data_need(images: int, device_type: str, copies: int = 1) -> Need:
    """The split(s) as one float tensor each, on the device, and on the CPU too unless that is it."""
    size = images * 784 * FLOAT * copies
    return Need("the images", ("train_limit", "test_limit"), size, 0 if device_type == "cpu" else size)


def evaluation_phases(dims: tuple[int, int, int], images: int, k: int) -> tuple[Need, ...]:
    """`evaluate`'s passes over `images` test images, one after another (see core/evaluate.py)."""
    pixels, _, latent = dims
    chunk = min(images, CHUNK_IMAGES)
    phases = [
        Need(
            "the held-out pass",
            ("hidden_dim", "latent_dim", "test_limit"),
            chunk * per_image(HELDOUT, dims) + (images - chunk) * latent * FLOAT * CODES,
        ),
    ]
    if k > 0:
        b, m = iwae_chunks(images, pixels, k)
        phases.append(
            Need(
                f"the IWAE bound (K={k})",
                ("iwae_k", "hidden_dim", "latent_dim"),
                b * m * per_image(IWAE_PAIR, dims) + b * k * DOUBLE * IWAE_LOG_WEIGHTS,
                images * DOUBLE,
            )
        )
    return tuple(phases)


def traversal_need(dims: tuple[int, int, int]) -> Need:
    """Each epoch's kept traversal (core/grids.py): a chunk of codes decoded at a time, then all
    D·7 tiles as bytes, their grid, and its PNG's copy."""
    pixels, hidden, latent = dims
    chunk = min(latent, TRAVERSAL_CHUNK) * TRAVERSAL_STEPS * (latent + hidden + 2 * pixels) * FLOAT
    return Need("the epoch's traversal", ("latent_dim",), chunk + latent * TRAVERSAL_STEPS * pixels * 4)


def split_size(split: str, limit: int | None) -> int:
    full = SPLIT_SIZES[split]
    return full if limit is None else min(limit, full)


def training_estimate(config: TrainConfig, device_type: str = "cpu") -> Estimate:
    """What `train(config)` holds: model and optimizer and both splits throughout, then at one
    time: reading the images, a training step, the held-out pass, or the final evaluation."""
    dims = (config.input_dim, config.hidden_dim, config.latent_dim)
    params = parameter_count(*dims) * FLOAT
    n_train, n_test = split_size("train", config.train_limit), split_size("test", config.test_limit)
    model = Need(
        "the model and its optimizer", ("hidden_dim", "latent_dim"), ON_DEVICE * params, ON_HOST * params
    )
    # A split's file is read whole (decompressed, beside its compressed bytes), then copied from.
    reading = Need("reading the images", ("train_limit",), SPLIT_SIZES["train"] * 784 * 2 + n_train * 784)
    batch = min(config.batch_size, n_train)
    step = Need(
        f"a training step on {batch} images",
        ("batch_size", "hidden_dim", "latent_dim", "train_limit"),
        batch * per_image(TRAIN_STEP, dims),
    )
    heldout, *final = evaluation_phases(dims, n_test, config.iwae_k)
    phases = (reading, step, heldout, traversal_need(dims), *(final if config.iwae_k > 0 else ()))
    return Estimate((model, data_need(n_train + n_test, device_type)), phases)


def evaluation_estimate(
    dims: tuple[int, int, int], images: int, k: int, binarize: bool, device_type: str = "cpu"
) -> Estimate:
    """What `evaluate` needs beyond the model, which is loaded already: the test images (twice
    when binarized), then its passes one at a time."""
    return Estimate(
        (data_need(images, device_type, 2 if binarize else 1),), evaluation_phases(dims, images, k)
    )


def host_memory() -> tuple[int, str] | None:
    """(bytes, how they were counted): Linux's MemAvailable (free plus reclaimable cache), else
    the free pages, else the memory installed (macOS has only that), else None: no check."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024, "available"
    except (OSError, ValueError, IndexError):
        pass
    for name, word in (("SC_AVPHYS_PAGES", "free"), ("SC_PHYS_PAGES", "installed")):
        try:
            pages, size = os.sysconf(name), os.sysconf("SC_PAGE_SIZE")
        except (AttributeError, OSError, ValueError):  # no sysconf (Windows), or not this name
            continue
        if pages > 0 and size > 0:
            return pages * size, word
    return None


def device_memory(device: torch.device) -> tuple[int, str] | None:
    """Free memory on a CUDA GPU (its own); None elsewhere (the CPU and MPS use RAM)."""
    if device.type != "cuda":
        return None
    try:
        free, _total = torch.cuda.mem_get_info(device)
    except RuntimeError:  # a driver that cannot say: no check rather than no run
        return None
    return free, f"free on {device}"


def size_text(n: float) -> str:
    """Bytes for people: `2.3 TB`, `850 MB` (powers of 1000, like disk sizes)."""
    for unit in ("B", "kB", "MB", "GB", "TB", "PB"):
        if n < 999.95 or unit == "PB":
            break
        n /= 1000
    if n >= 1000:
        return f"{n:.3g} {unit}"
    return f"{n:.1f} {unit}" if unit != "B" else f"{n:.0f} B"


def flag_text(field: str, value: Any) -> str:
    return f"--{field.replace('_', '-')} {value}"


def check(
    estimate: Estimate, device: torch.device, settings: dict[str, Any], given: set[str], subject: str
) -> None:
    """Raise ConfigError when `estimate` exceeds the memory free where it would live.

    The message names the flags the largest part grows with: those in `given` (raised by the
    user), else those in `settings` (what the user could set here), else `subject`."""
    if device.type == "cuda":
        sides = [("device", device_memory(device)), ("host", host_memory())]
    else:
        sides = [("both", host_memory())]
    for side, memory in sides:
        need = estimate.total(side)
        if memory is None or need <= memory[0]:
            continue
        part = estimate.largest(side)
        named = [f for f in part.grows_with if f in given] or [
            f for f in part.grows_with if settings.get(f) is not None
        ]
        who = " and ".join(flag_text(f, settings[f]) for f in named) or subject
        verb = "need" if len(named) > 1 else "needs"
        where = f"memory on {device}" if side == "device" else "memory"
        share = part.on(side)
        why = f" for {part.what}" if share > 0.9 * need else f", {size_text(share)} of it for {part.what}"
        raise ConfigError(
            f"{who} {verb} about {size_text(need)} of {where}{why}; {size_text(memory[0])} is {memory[1]}"
        )


def check_training(config: TrainConfig, device: torch.device) -> None:
    """Refuse a training run whose sizes cannot fit, before its model or data exist."""
    defaults, settings = TrainConfig().to_dict(), config.to_dict()
    raised = {
        k
        for k, v in settings.items()
        if isinstance(defaults[k], int) and isinstance(v, int) and v > defaults[k]
    }
    check(training_estimate(config, device.type), device, settings, raised, "this run")


def check_evaluation(
    model: TrainConfig, k: int, test_limit: int | None, binarize: bool, device: torch.device, given: set[str]
) -> None:
    """Refuse an evaluation of the loaded `model` (its config) that cannot fit; `given` holds the
    flags the user set of the two it reads, `iwae_k` and `test_limit`."""
    dims = (model.input_dim, model.hidden_dim, model.latent_dim)
    images = split_size("test", test_limit)
    estimate = evaluation_estimate(dims, images, k, binarize, device.type)
    settings = {"iwae_k": k, "test_limit": test_limit}
    check(estimate, device, settings, given, f"evaluating this {model.hidden_dim}-{model.latent_dim} model")


def check_file(path: os.PathLike[str] | str, size: int) -> None:
    """Refuse to read a weights file of `size` bytes that would not fit in memory twice (the file's
    tensors, and the model built from them)."""
    memory = host_memory()
    if memory is not None and 2 * size > memory[0]:
        raise ConfigError(
            f"checkpoint {path} is {size_text(size)}; loading it needs about {size_text(2 * size)} "
            f"of memory; {size_text(memory[0])} is {memory[1]}"
        )


def out_of_memory(error: BaseException) -> bool:
    """Whether `error` is an allocation that failed all the same (no memory figure here, an
    address-space or cgroup limit): torch's CPU allocator raises a RuntimeError saying so, CUDA
    its OutOfMemoryError, MPS a RuntimeError saying "out of memory"."""
    if isinstance(error, (MemoryError, getattr(torch, "OutOfMemoryError", MemoryError))):
        return True
    text = str(error)
    return isinstance(error, RuntimeError) and ("can't allocate memory" in text or "out of memory" in text)
