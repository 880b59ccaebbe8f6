"""`evaluate.iwae_nll` against its previous implementation, and `--eval` against its matmul floor.

Run by hand: `.venv/bin/python benchmarks/iwae_speed.py [--images 10000 --k 1000 --rounds 2]`.
The model is trained for `--epochs` epochs with `train()` first (or loaded with
`--checkpoint`), then both implementations estimate −log p(x) on the first `--images` test
images, alternating order every round; the table gives seconds, the speed-up and the
difference between the two estimates (float rounding only: they draw the same noise).

`--eval-floor` instead times `vae-tui --eval` itself (K = 1000, all 10,000 test images, a fresh
process) against the matrix products it does, timed alone at their own shapes on every core
(`measure_eval`, which `make bench` calls for issue 12's goal 5).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import torch
from flop_floor import Shape, epoch_batches, flops, matmul_seconds
from mnist_files import prepare_mnist

from vae_tui.core.checkpoint import load_model
from vae_tui.core.config import TrainConfig
from vae_tui.core.data import load_split, resolve_dataset_dir
from vae_tui.core.evaluate import CHUNK_IMAGES, EVAL_SEED, iwae_chunks, iwae_nll
from vae_tui.core.events import ModelSnapshot
from vae_tui.core.model import VAE
from vae_tui.core.threads import busy_cores
from vae_tui.core.train import train

LOG_2PI = math.log(2 * math.pi)


def previous_softplus_sum(logits: torch.Tensor) -> torch.Tensor:
    """Σ softplus(ℓ) as it was: max(ℓ, 0) + log Π (1 + e^−|ℓ|) over blocks of 112, fresh tensors."""
    *lead, pixels = logits.shape
    factors = logits.abs().neg_().exp_().add_(1)
    if pad := -pixels % 112:
        factors = torch.nn.functional.pad(factors, (0, pad), value=1.0)
    products = factors.reshape(*lead, -1, 112).prod(-1)
    return logits.clamp(min=0).sum(-1) + products.log_().sum(-1)


@torch.inference_mode()
def previous_iwae_nll(
    model: VAE, images: torch.Tensor, k: int, *, seed: int = EVAL_SEED, budget: int = 2_000_000
) -> dict[str, float]:
    """The implementation before issue 12: new tensors for every chunk's logits and each step on them."""
    g = torch.Generator(device=images.device).manual_seed(seed)
    n, pixels = images.shape[0], images[0].numel()
    images_per_chunk, samples_per_chunk = iwae_chunks(n, pixels, k, budget)
    nll = torch.empty(n, dtype=torch.float64)
    for start in range(0, n, images_per_chunk):
        x = images[start : start + images_per_chunk].reshape(-1, pixels)
        b = x.shape[0]
        mu, logvar = model.encode(x)
        std = torch.exp(0.5 * logvar)
        log_q_const = -0.5 * (logvar + LOG_2PI).sum(-1, keepdim=True)
        x_row = x.unsqueeze(1)
        log_w = torch.empty(b, k, dtype=torch.float64, device=x.device)
        for s in range(0, k, samples_per_chunk):
            m = min(samples_per_chunk, k - s)
            eps = torch.randn((b, m, mu.shape[1]), generator=g, device=x.device, dtype=mu.dtype)
            z = mu.unsqueeze(1) + std.unsqueeze(1) * eps
            logits = model.decode_logits(z.reshape(b * m, -1)).reshape(b, m, pixels)
            log_px_z = (logits * x_row).sum(-1) - previous_softplus_sum(logits)
            log_pz = -0.5 * (z.pow(2) + LOG_2PI).sum(-1)
            log_qz = log_q_const - 0.5 * eps.pow(2).sum(-1)
            log_w[:, s : s + m] = (log_px_z + log_pz - log_qz).double()
        nll[start : start + b] = -(torch.logsumexp(log_w, dim=1) - math.log(k)).cpu()
    return {"nll": float(nll.mean()), "stderr": float(nll.std() / math.sqrt(n)) if n > 1 else 0.0}


EVAL_K = 1000
EVAL_IMAGES = 10000  # MNIST's whole test split


def eval_shapes(
    images: int, k: int, input_dim: int = 784, hidden: int = 256, latent: int = 20
) -> list[tuple[list[Shape], int]]:
    """The matrix products `evaluate` does on `images` test images with `k` samples, as
    (the products of one chunk, how many chunks do them), chunked as the code chunks them:
    the held-out −ELBO (encode and decode 2,000 images at a time; the latent usage comes from
    the same codes) and the IWAE bound (encode each chunk's images, decode its (image, sample)
    pairs, per `iwae_chunks`). Encoding is 3 products (fc1, fc_mu, fc_logvar), decoding 2."""

    def encode(b: int) -> list[Shape]:
        return [(b, input_dim, hidden), (b, hidden, latent), (b, hidden, latent)]

    def decode(pairs: int) -> list[Shape]:
        return [(pairs, latent, hidden), (pairs, hidden, input_dim)]

    chunks: Counter[tuple[Shape, ...]] = Counter()
    for b in epoch_batches(images, CHUNK_IMAGES):
        chunks[tuple(encode(b) + decode(b))] += 1  # heldout_elbo (and the latent usage)
    if k > 0:
        images_per_chunk, samples_per_chunk = iwae_chunks(images, input_dim, k)
        for b in epoch_batches(images, images_per_chunk):
            pairs = [b * m for m in epoch_batches(k, samples_per_chunk)]
            chunks[tuple(encode(b) + [s for p in pairs for s in decode(p)])] += 1
    return [(list(shapes), count) for shapes, count in chunks.items()]


def eval_floor(images: int = EVAL_IMAGES, k: int = EVAL_K, threads: int | None = None) -> dict[str, Any]:
    """`--eval`'s matmul floor: its products' FLOPs, and the seconds they take alone at their own
    shapes on `threads` threads (default: one per core, as torch runs `--eval`)."""
    threads = threads or os.cpu_count() or 1
    groups = eval_shapes(images, k)
    seconds = sum(matmul_seconds(shapes, threads=threads) * count for shapes, count in groups)
    gflop = sum(flops(shapes) * count for shapes, count in groups) / 1e9
    return {
        "gflop": gflop,
        "floor_seconds": seconds,
        "floor_gflop_per_second": gflop / seconds,
        "threads": threads,
    }


def run_eval_cli(checkpoint: Path, data_root: Path, work: Path, images: int, k: int) -> dict[str, Any]:
    """`vae-tui --eval --json` in a fresh process: its wall time, and its own CPU time and peak
    RSS from `wait4` (the child's rusage alone, not that of every child this process reaped)."""
    flags = f"--eval --json --iwae-k {k} --test-limit {images} --device cpu".split()
    command = [str(Path(sys.executable).with_name("vae-tui")), *flags]
    command += ["--checkpoint", str(checkpoint), "--data-dir", str(data_root)]
    out, err = work / "eval.stdout", work / "eval.stderr"
    with out.open("w") as stdout, err.open("w") as stderr:
        start = time.perf_counter()
        proc = subprocess.Popen(command, stdout=stdout, stderr=stderr)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode:
        raise RuntimeError(f"{' '.join(command)} exited {proc.returncode}: {err.read_text()[-2000:]}")
    cpu = usage.ru_utime + usage.ru_stime
    rss = usage.ru_maxrss if sys.platform == "darwin" else usage.ru_maxrss * 1024
    return {
        "seconds": wall,
        "cpu_seconds": cpu,
        "system_seconds": usage.ru_stime,
        "cores_busy": cpu / wall,
        "peak_rss_mb": rss / 2**20,
        "result": json.loads(out.read_text()),
        "command": " ".join(command),
    }


def measure_eval(
    data_root: Path, work: Path, *, images: int = EVAL_IMAGES, k: int = EVAL_K
) -> dict[str, Any]:
    """Goal 5 of issue 12: `vae-tui --eval` with K = 1000 on the 10,000 test images (wall time of
    the whole command, start-up included) as a multiple of its matmul floor, and its peak RSS.

    The model is the reference architecture with random weights (seed 0): the work `--eval` does
    does not depend on the weights' values (measured: trained and random, the same time). The
    floor is timed in this process on every core, before and after the run (the faster counts:
    another process's load only slows it); `--eval` takes off cores other processes keep busy
    (`cores_busy_elsewhere_before`: a busy machine shows there)."""
    work.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(0)
    checkpoint = work / "eval-model.pt"
    torch.save(VAE().state_dict(), checkpoint)
    before = eval_floor(images, k)
    busy = busy_cores()  # what `--eval` sees too: it leaves cores other processes keep busy alone
    run = run_eval_cli(checkpoint, data_root, work, images, k)
    after = eval_floor(images, k)
    floor = min(before, after, key=lambda f: f["floor_seconds"])  # others' load only ever slows it
    result = run.pop("result")
    return {
        **run,
        **floor,
        "floor_seconds_before_and_after": [before["floor_seconds"], after["floor_seconds"]],
        "ratio": run["seconds"] / floor["floor_seconds"],
        "images": images,
        "k": k,
        "cores": os.cpu_count(),
        "cores_busy_elsewhere_before": busy,
        "iwae_nll": result.get("iwae_nll"),
    }


def trained_model(args: argparse.Namespace) -> VAE:
    if args.checkpoint:
        return load_model(args.checkpoint).model
    with tempfile.TemporaryDirectory() as tmp:
        config = TrainConfig(
            epochs=args.epochs, swanlab="disabled", iwae_k=0, device="cpu", run_dir=f"{tmp}/run"
        )
        state = None
        for event in train(config):
            if isinstance(event, ModelSnapshot):
                state = event.state
    model = VAE()
    model.load_state_dict(state)
    return model


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--images", type=int, default=10000, help="first N test images (default all 10000)")
    p.add_argument("--k", type=int, default=1000, help="importance samples (default 1000)")
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--threads", default="", help="torch thread counts to try, e.g. 2,1 (default: torch's)")
    p.add_argument("--epochs", type=int, default=1, help="train this many epochs first (default 1)")
    p.add_argument("--checkpoint", help="evaluate this model instead of training one")
    p.add_argument("--out", type=Path, help="also write the results as JSON here")
    p.add_argument(
        "--eval-floor",
        action="store_true",
        help="time `vae-tui --eval` (--images, --k) against its matmul floor",
    )
    args = p.parse_args(argv)
    if args.eval_floor:
        with tempfile.TemporaryDirectory() as tmp:
            result = measure_eval(prepare_mnist(Path(tmp) / "data"), Path(tmp), images=args.images, k=args.k)
        print(
            f"vae-tui --eval, {args.images} images, K = {args.k}: {result['seconds']:.2f} s wall "
            f"({result['cores_busy']:.2f} cores busy), floor {result['floor_seconds']:.2f} s "
            f"({result['gflop']:.1f} GFLOP at {result['floor_gflop_per_second']:.1f} GFLOP/s, "
            f"{result['threads']} threads): {result['ratio']:.2f}×; peak RSS {result['peak_rss_mb']:.0f} MiB"
        )
        if args.out:
            args.out.parent.mkdir(parents=True, exist_ok=True)
            args.out.write_text(json.dumps(result, indent=2) + "\n")
        return 0

    model = trained_model(args).eval()
    images = load_split(resolve_dataset_dir("mnist"), "test", args.images).images
    threads = [int(t) for t in args.threads.split(",") if t.strip()] or [torch.get_num_threads()]
    variants = {"previous": previous_iwae_nll, "current": iwae_nll}
    rows: list[dict[str, float | int | str]] = []
    for r in range(args.rounds):
        for t in threads:
            torch.set_num_threads(t)
            order = list(variants.items())
            if r % 2:
                order.reverse()
            for name, fn in order:
                start = time.perf_counter()
                result = fn(model, images, args.k)
                seconds = time.perf_counter() - start
                rows.append({"round": r, "threads": t, "variant": name, "seconds": seconds, **result})
                print(
                    f"round {r + 1} threads {t} {name:<9} {seconds:7.2f} s  nll {result['nll']:.6f}",
                    flush=True,
                )
    print(f"\n{args.images} images, K = {args.k}")
    summary = {}
    for t in threads:
        prev = [row for row in rows if row["threads"] == t and row["variant"] == "previous"]
        cur = [row for row in rows if row["threads"] == t and row["variant"] == "current"]
        speedups = [a["seconds"] / b["seconds"] for a, b in zip(prev, cur, strict=True)]
        diff = max(abs(a["nll"] - b["nll"]) for a, b in zip(prev, cur, strict=True))
        summary[t] = {
            "previous_median_s": statistics.median(r["seconds"] for r in prev),
            "current_median_s": statistics.median(r["seconds"] for r in cur),
            "speedup_paired_median": statistics.median(speedups),
            "speedup_paired_min": min(speedups),
            "max_abs_nll_difference": diff,
        }
        s = summary[t]
        print(
            f"threads {t}: previous {s['previous_median_s']:.2f} s, current {s['current_median_s']:.2f} s "
            f"(median), speed-up paired by round: median {s['speedup_paired_median']:.2f}×, "
            f"min {s['speedup_paired_min']:.2f}×; |Δ nll| ≤ {diff:.2e} nats"
        )
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(
            json.dumps({"images": args.images, "k": args.k, "rows": rows, "summary": summary}, indent=2)
            + "\n"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
