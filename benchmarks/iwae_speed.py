"""`evaluate.iwae_nll` against its previous implementation, side by side in one process.

Run by hand: `.venv/bin/python benchmarks/iwae_speed.py [--images 10000 --k 1000 --rounds 2]`.
The model is trained for `--epochs` epochs with `train()` first (or loaded with
`--checkpoint`), then both implementations estimate −log p(x) on the first `--images` test
images, alternating order every round; the table gives seconds, the speed-up and the
difference between the two estimates (float rounding only: they draw the same noise).
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

from vae_tui.core.checkpoint import load_model
from vae_tui.core.config import TrainConfig
from vae_tui.core.data import load_split, resolve_dataset_dir
from vae_tui.core.evaluate import EVAL_SEED, iwae_nll
from vae_tui.core.events import ModelSnapshot
from vae_tui.core.loss import bce_per_image
from vae_tui.core.model import VAE
from vae_tui.core.train import train

LOG_2PI = math.log(2 * math.pi)


@torch.inference_mode()
def previous_iwae_nll(
    model: VAE, images: torch.Tensor, k: int, *, seed: int = EVAL_SEED, budget: int = 2_000_000
) -> dict[str, float]:
    """The implementation before this benchmark existed: x repeated per sample, BCE per pixel."""
    g = torch.Generator(device=images.device).manual_seed(seed)
    n, pixels = images.shape[0], images[0].numel()
    per_chunk = max(1, budget // pixels)
    images_per_chunk = max(1, min(n, per_chunk // k))
    samples_per_chunk = max(1, min(k, per_chunk // images_per_chunk))
    nll = torch.empty(n, dtype=torch.float64)
    for start in range(0, n, images_per_chunk):
        x = images[start : start + images_per_chunk].reshape(-1, pixels)
        b = x.shape[0]
        mu, logvar = model.encode(x)
        std = torch.exp(0.5 * logvar)
        log_w = torch.empty(b, k, dtype=torch.float64, device=x.device)
        for s in range(0, k, samples_per_chunk):
            m = min(samples_per_chunk, k - s)
            eps = torch.randn((b, m, mu.shape[1]), generator=g, device=x.device, dtype=mu.dtype)
            z = mu.unsqueeze(1) + std.unsqueeze(1) * eps
            logits = model.decode_logits(z.reshape(b * m, -1))
            log_px_z = -bce_per_image(logits, x.repeat_interleave(m, dim=0)).reshape(b, m)
            log_pz = -0.5 * (z.pow(2) + LOG_2PI).sum(-1)
            log_qz = -0.5 * (eps.pow(2) + LOG_2PI + logvar.unsqueeze(1)).sum(-1)
            log_w[:, s : s + m] = (log_px_z + log_pz - log_qz).double()
        nll[start : start + b] = -(torch.logsumexp(log_w, dim=1) - math.log(k)).cpu()
    return {"nll": float(nll.mean()), "stderr": float(nll.std() / math.sqrt(n)) if n > 1 else 0.0}


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
    args = p.parse_args(argv)

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
