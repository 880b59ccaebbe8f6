"""The machine's own limit for a workload: its matrix products timed alone, at their shapes.

A training epoch (or an evaluation) is compared with the time its matrix products alone take on
this machine, at the same shapes, on all cores: the "floor". Everything else a step does
(elementwise work, the optimizer, Python) shows up as the distance to it. FLOPs count a
multiply-add as 2.
"""

from __future__ import annotations

import statistics
import time

Shape = tuple[int, int, int]
"""(m, k, n): an (m × k) @ (k × n) product."""


def step_shapes(batch: int, input_dim: int = 784, hidden: int = 256, latent: int = 20) -> list[Shape]:
    """The 14 products of one training step of the reference VAE on `batch` images: 5 forward
    (fc1, fc_mu, fc_logvar, fc2, fc3), 5 weight gradients, 4 input gradients (fc1's input is
    the data, which needs none)."""
    b = batch
    forward = [
        (b, input_dim, hidden),
        (b, hidden, latent),
        (b, hidden, latent),
        (b, latent, hidden),
        (b, hidden, input_dim),
    ]
    weights = [
        (hidden, b, input_dim),
        (latent, b, hidden),
        (latent, b, hidden),
        (hidden, b, latent),
        (input_dim, b, hidden),
    ]
    inputs = [(b, latent, hidden), (b, latent, hidden), (b, hidden, latent), (b, input_dim, hidden)]
    return forward + weights + inputs


def flops(shapes: list[Shape]) -> int:
    return sum(2 * m * k * n for m, k, n in shapes)


def epoch_batches(images: int, batch: int) -> list[int]:
    """The batch sizes of one epoch (the last one may be short)."""
    full, rest = divmod(images, batch)
    return [batch] * full + ([rest] if rest else [])


def epoch_flops(images: int = 60000, batch: int = 128, **dims: int) -> int:
    """Matmul FLOPs of one training epoch: 125.95 GFLOP for the reference model on MNIST."""
    sizes = epoch_batches(images, batch)
    return sum(flops(step_shapes(b, **dims)) for b in set(sizes) for _ in range(sizes.count(b)))


def matmul_seconds(
    shapes: list[Shape], *, threads: int | None = None, rounds: int = 7, min_time: float = 0.2
) -> float:
    """Median seconds for one pass over `shapes` (each product once, into preallocated outputs,
    contiguous operands), after a warm-up; `threads` sets torch's intra-op threads meanwhile
    (None: as they are)."""
    import torch

    before = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(threads)
    try:
        operands = [(torch.randn(m, k), torch.randn(k, n), torch.empty(m, n)) for m, k, n in shapes]

        def one_pass() -> None:
            for a, b, out in operands:
                torch.mm(a, b, out=out)

        start = time.perf_counter()
        reps = 0
        while time.perf_counter() - start < min_time / 2 or reps < 3:  # warm-up, and the rep count
            one_pass()
            reps += 1
        times = []
        for _ in range(rounds):
            start = time.perf_counter()
            for _ in range(reps):
                one_pass()
            times.append((time.perf_counter() - start) / reps)
        return statistics.median(times)
    finally:
        torch.set_num_threads(before)


def epoch_floor(
    images: int = 60000, batch: int = 128, *, threads: int | None = None, **dims: int
) -> dict[str, float]:
    """The matmul floor of one training epoch: its FLOPs, the seconds its products take at their
    own shapes, and the rate that makes."""
    sizes = epoch_batches(images, batch)
    seconds = sum(
        matmul_seconds(step_shapes(b, **dims), threads=threads) * sizes.count(b) for b in set(sizes)
    )
    total = epoch_flops(images, batch, **dims)
    return {"gflop": total / 1e9, "seconds": seconds, "gflop_per_second": total / 1e9 / seconds}


if __name__ == "__main__":
    floor = epoch_floor()
    print(
        f"{floor['gflop']:.2f} GFLOP/epoch, floor {floor['seconds']:.3f} s, {floor['gflop_per_second']:.1f} GFLOP/s"
    )
